/*
 * config.h — the region node's options: one table of {name, type, bounds,
 * default, field, help} drives the JSON config file, the command-line flags
 * and --help alike, so the three never disagree.
 *
 * Precedence: defaults < config file < flags.  Unknown keys and flags are
 * errors.  The result is an immutable rn_config passed explicitly.
 */
#ifndef RN_CONFIG_H
#define RN_CONFIG_H

#include <stdio.h>

#include "gt.h"
#include "store.h"

#define RN_PATH_MAX 1024

typedef struct rn_config {
	char region[32];
	char host[256];
	unsigned port;
	char data[RN_PATH_MAX];
	char port_file[RN_PATH_MAX];
	char durability[8];  /* "sync" | "nosync" */
	char log_level[8];   /* "debug" | "info" | "warn" | "error" */
	unsigned map_size_mb;
	unsigned batch_max;
} rn_config;

/*
 * Parses argv (argv[0] skipped) and the --config file it names.  On error
 * writes a one-line reason into err (errlen bytes) and returns GT_EINVAL.
 * Sets *help when --help was given (nothing else is checked then).
 */
gt_err rn_config_parse(int argc, const char *const *argv, rn_config *out,
    int *help,
    char *err, size_t errlen);

/* Writes the usage text, every option with its default, to f. */
void rn_config_usage(FILE *f);

rn_durability rn_config_durability(const rn_config *c);

#endif /* RN_CONFIG_H */
