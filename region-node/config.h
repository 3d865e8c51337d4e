/*
 * config.h — the region node's options: one table of {name, type, bounds,
 * default, field, help} drives the JSON config file, the command-line flags
 * and --help alike, so the three never disagree.
 *
 * Precedence: defaults < config file < the file's entry for this region
 * (in "regions") < flags.  Unknown keys and flags are errors.  The result
 * is an immutable rn_config passed explicitly.
 *
 * A cluster config lists every region; a node picks its own entry by
 * region name and takes the others as its replication peers:
 *   {"cluster_key": "...", "durability": "nosync", "global_tables": true,
 *    "regions": [{"region": "us-east-1", "host": "127.0.0.1",
 *                 "port": 8000, "replication": "tcp://127.0.0.1:9000"},
 *                ...]}
 * Keys of a region entry: region, host, port, replication, data.
 * "links": [{"from": "us-east-1", "to": "eu-west-1", "delay_ms": 38,
 *   "jitter_ms": 4, "loss_pct": 0.5, "bandwidth_kbps": 0,
 *   "partition": false}] shapes replication links (each node applies the
 * links that end at it).
 */
#ifndef RN_CONFIG_H
#define RN_CONFIG_H

#include <stdio.h>

#include "gt.h"
#include "store.h"

#define RN_PATH_MAX 1024
#define RN_PEERS_MAX 16

#define RN_LINKS_MAX 64

/* A shaped link from the config's "links" list (see repl_node.h). */
typedef struct rn_link_cfg {
	char from[32], to[32];
	unsigned delay_ms, jitter_ms, loss_ppm, bandwidth_kbps;
	int partition;
} rn_link_cfg;

/* Another region of the cluster, from the config's "regions" list. */
typedef struct rn_peer {
	char region[32];
	char host[256];
	unsigned port;
	char replication[256]; /* its replication URL, e.g. tcp://h:9001 */
} rn_peer;

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
	char replication[256]; /* this node's replication listen URL */
	char cluster_key[256]; /* authenticates replication frames */
	unsigned global_tables; /* 1: CreateTable makes a global table */
	unsigned repl_wait_ms;  /* long-poll wait of a pull */
	unsigned repl_batch_kb; /* most data in one replication batch */
	unsigned log_keep_max;  /* own records kept past unacked peers */
	unsigned stream_retention_s;    /* streams keep records this long */
	unsigned stream_iterator_ttl_s; /* shard iterators expire after */
	unsigned ttl_sweep_interval_ms; /* pause between TTL sweeps (ttl.h) */
	unsigned ttl_takeover_s; /* delete others' expired items after this */
	char join[256];         /* a member's API URL to join the cluster */
	rn_peer peers[RN_PEERS_MAX];
	size_t npeers;
	rn_link_cfg links[RN_LINKS_MAX]; /* every link of the file */
	size_t nlinks;
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
