/*
 * meridian.c — the operator command: global options, usage and dispatch.
 *
 *   meridian [--config FILE] [--json] [--quiet] [--timeout SECONDS]
 *            COMMAND [ARGS...]
 *
 * Global options may also follow the command word, so
 * "meridian status --json" and "meridian --json status" are the same.
 * Each command lives in a cmd_*.c file and returns the exit code; see
 * cli.h for the codes and the modules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
"Usage: meridian [OPTIONS] COMMAND [ARGS...]\n"
"\n"
"Operates a Meridian cluster through its region nodes' HTTP APIs.\n"
"\n"
"Commands:\n"
"  status                        every region: reachability, tables,\n"
"                                replication links, lag and conflicts\n"
"  verify [TABLE...]             compare tables across regions (all tables\n"
"                                when none is named); name differing keys\n"
"  replica add TABLE REGION      add a replica of TABLE in REGION and wait\n"
"                                until it is ACTIVE\n"
"  replica drop TABLE REGION     drop REGION's replica of TABLE\n"
"  region list                   the cluster's regions (runtime membership)\n"
"  region join NAME --api URL --replication URL\n"
"                                add a region to the cluster\n"
"  region leave NAME             remove a region from the cluster\n"
"  link show                     link shaping in effect between regions\n"
"  link set FROM TO [SHAPING]    shape the replication link FROM -> TO\n"
"  fault pause|skew|fail|isolate|heal|show ...\n"
"                                inject or clear faults (fault --help)\n"
"  drill SCENARIO.json           run a disaster-recovery drill on a fresh\n"
"                                cluster (or --attach) and report RPO, RTO,\n"
"                                lag, conflicts and convergence\n"
"  help [COMMAND]                this text, or a command's\n"
"\n"
"Options (before or after the command):\n"
"  --config FILE      cluster config file (default $MERIDIAN_CONFIG, else\n"
"                     configs/local.json).  Regions and their API URLs\n"
"                     (http://HOST:PORT) come from its \"regions\" list,\n"
"                     replaced by the runtime membership from\n"
"                     GET /admin/cluster when nodes serve it (the highest\n"
"                     epoch wins).\n"
"  --json             print one JSON document on stdout instead of text\n"
"  --quiet            print no text and no progress, only errors: the exit\n"
"                     status tells the result (--json output is still\n"
"                     printed)\n"
"  --timeout SECONDS  bound on each request to a node (default 30) and on\n"
"                     the wait of replica add/drop (default 600)\n"
"  -h, --help         this text; 'meridian COMMAND --help' for a command\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  the operation failed, or a check found a problem (verify found\n"
"     differences, a replica failed to create, a node refused)\n"
"  2  usage error: bad arguments or a bad config file\n"
"  3  a node could not be reached (3 wins over 1 when both apply, as the\n"
"     result is incomplete)\n"
"\n"
"Errors are one line on stderr naming the region and its URL, e.g.\n"
"  meridian: eu-west-1 (http://127.0.0.1:8001) is unreachable: "
"connection refused\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

int cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "meridian: %s\n", msg);
	if (cmd != NULL)
		fprintf(stderr, "Try 'meridian %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try 'meridian --help'.\n");
	return CLI_EXIT_USAGE;
}

/* Parses a positive number of seconds (decimals allowed) into ms. */
static int parse_seconds(const char *s, unsigned *ms)
{
	char *end;
	double v;

	if (s == NULL || s[0] == '\0' || s[0] == '-')
		return -1;
	v = strtod(s, &end);
	if (*end == 's' && end[1] == '\0')
		end++;
	if (*end != '\0' || !(v > 0) || v > 86400.0)
		return -1;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

int cli_global_opt(cli_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const char *val = NULL;
	size_t nlen;
	const char *eq = strchr(a, '=');

	nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
	if (strcmp(a, "--json") == 0) {
		o->json = 1;
		(*i)++;
		return 1;
	}
	if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
		o->quiet = 1;
		(*i)++;
		return 1;
	}
	if ((nlen == 9 && strncmp(a, "--timeout", 9) == 0) ||
	    (nlen == 8 && strncmp(a, "--config", 8) == 0)) {
		if (eq != NULL) {
			val = eq + 1;
		} else if (*i + 1 < argc) {
			val = argv[*i + 1];
			(*i)++;
		} else {
			cli_usage_error(NULL, "%.*s needs a value", (int)nlen,
			    a);
			return -1;
		}
		(*i)++;
		if (a[2] == 'c') {
			if (val[0] == '\0') {
				cli_usage_error(NULL, "--config needs a file "
				    "name");
				return -1;
			}
			o->config_path = val;
			return 1;
		}
		if (parse_seconds(val, &o->request_timeout_ms) != 0) {
			cli_usage_error(NULL, "--timeout: '%s' is not a "
			    "number of seconds from 0.001 to 86400", val);
			return -1;
		}
		o->wait_timeout_ms = o->request_timeout_ms;
		o->timeout_given = 1;
		return 1;
	}
	return 0;
}

typedef struct command {
	const char *name;
	int (*fn)(cli_opts *o, int argc, char **argv);
} command;

static const command commands[] = {
	{"status", cli_cmd_status},
	{"verify", cli_cmd_verify},
	{"replica", cli_cmd_replica},
	{"region", cli_cmd_region},
	{"link", cli_cmd_link},
	{"drill", cli_cmd_drill},
	{"fault", cli_cmd_fault},
};

static const command *command_find(const char *name)
{
	for (size_t i = 0; i < GT_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	cli_opts o;
	const command *cmd;
	const char *env = getenv("MERIDIAN_CONFIG");
	int i = 1, rc;

	memset(&o, 0, sizeof(o));
	o.config_path = env != NULL && env[0] != '\0' ? env :
	    CLI_DEFAULT_CONFIG;
	o.request_timeout_ms = CLI_REQUEST_TIMEOUT_MS_DEFAULT;
	o.wait_timeout_ms = CLI_WAIT_TIMEOUT_MS_DEFAULT;
	o.stdout_tty = isatty(STDOUT_FILENO);
	gt_log_min = GT_LOG_OFF;
	while (i < argc && argv[i][0] == '-') {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		rc = cli_global_opt(&o, argc, argv, &i);
		if (rc < 0)
			return CLI_EXIT_USAGE;
		if (rc == 0)
			return cli_usage_error(NULL, "unknown option '%s'",
			    argv[i]);
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 >= argc) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		cmd = command_find(argv[i + 1]);
		if (cmd == NULL)
			return cli_usage_error(NULL, "unknown command '%s'",
			    argv[i + 1]);
		{
			static char help_arg[] = "--help";
			char *help_argv[] = {help_arg, NULL};
			return cmd->fn(&o, 1, help_argv);
		}
	}
	cmd = command_find(argv[i]);
	if (cmd == NULL)
		return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
	cli_http_global_init();
	rc = cmd->fn(&o, argc - i - 1, argv + i + 1);
	fflush(stdout);
	cli_http_global_cleanup();
	return rc;
}
