/*
 * cli.h — the meridian operator command: shared types of its modules.
 *
 * The command is a thin client of the region nodes' HTTP APIs: the
 * DynamoDB JSON API (POST / with X-Amz-Target) and the admin API under
 * /admin/.  It keeps no state of its own.  Modules:
 *
 *   meridian.c     main: global options, usage, command dispatch
 *   cli_http.c     libcurl requests with timeouts, DynamoDB and admin calls,
 *                  the one-line error messages
 *   cli_cluster.c  the cluster config file and runtime membership
 *                  (GET /admin/cluster, the highest epoch wins)
 *   cli_table.c    aligned text tables and small formatting helpers
 *   cmd_*.c        one file per command family
 *
 * Exit codes (documented in the usage text; scripts rely on them):
 *   0 success; 1 the operation failed or a check found a problem;
 *   2 usage error (bad arguments, bad config file); 3 a node could not be
 *   reached.  When a node is unreachable and something else also failed,
 *   3 wins, because the result is incomplete.
 *
 * Prefix: cli_.  Every request carries a timeout, so the command never
 * hangs on a node that accepts connections and then says nothing.
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "gt.h"

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNREACHABLE = 3
};

#define CLI_REGIONS_MAX 16
#define CLI_NAME_MAX 64
#define CLI_URL_MAX 300
#define CLI_ERR_MAX 256
/* Largest answer body read from a node (a digest key listing of a big
 * range is the largest thing asked for). */
#define CLI_BODY_MAX (256u * 1024u * 1024u)
/* Largest config file read. */
#define CLI_CONFIG_MAX (1024u * 1024u)

#define CLI_DEFAULT_CONFIG "configs/local.json"
#define CLI_REQUEST_TIMEOUT_MS_DEFAULT 30000u
#define CLI_WAIT_TIMEOUT_MS_DEFAULT 600000u
#define CLI_CONNECT_TIMEOUT_MS_MAX 5000u

/* Global options, parsed once in main and passed down (borrowed). */
typedef struct cli_opts {
	const char *config_path;
	int json;                 /* --json: one JSON document on stdout */
	int quiet;                /* --quiet: no human-readable output */
	int timeout_given;        /* --timeout was on the command line */
	unsigned request_timeout_ms; /* bound on each request to a node */
	unsigned wait_timeout_ms; /* bound on replica add/drop waits */
	int stdout_tty;           /* stdout is a terminal */
} cli_opts;

/* A region as the command sees it. */
typedef struct cli_region {
	char name[CLI_NAME_MAX];
	char api[CLI_URL_MAX];   /* http://host:port; "" when unknown */
	char repl[CLI_URL_MAX];  /* replication URL, informational */
	int unreachable;         /* the last request failed in transport */
	int dead;                /* found unreachable by discovery: later
				  * requests fail at once instead of
				  * waiting for a timeout again */
	int reported;            /* its unreachable line was printed */
	char err[CLI_ERR_MAX];   /* why it was unreachable */
} cli_region;

/* The cluster: the config's regions, replaced by the runtime membership
 * when a node serves GET /admin/cluster. */
typedef struct cli_cluster {
	cli_region r[CLI_REGIONS_MAX];
	size_t n;
	int from_membership;          /* the list came from /admin/cluster */
	uint64_t epoch;               /* the membership's epoch */
	char changed_by[CLI_NAME_MAX];
	char served_by[CLI_NAME_MAX]; /* region whose answer was used */
	cJSON *membership;            /* that answer, owned; NULL if none */
} cli_cluster;

/* ------------------------------------------------------------- cli_http */

/* One HTTP answer.  status is 0 when no answer arrived (err says why). */
typedef struct cli_resp {
	long status;
	gt_buf body;
	char err[CLI_ERR_MAX];
} cli_resp;

#define CLI_RESP_INIT {0, GT_BUF_INIT, {0}}

/* Must be called once before any request (not thread-safe). */
void cli_http_global_init(void);
void cli_http_global_cleanup(void);

/*
 * Sends one request to base_url + path (method "GET" or "POST"; body may
 * be NULL) with extra headers (NULL-terminated array, may be NULL).
 * Returns 0 when an answer arrived (any status; out->status and out->body
 * set) or -1 when the node could not be reached (out->err: e.g.
 * "connection refused", "timed out after 30 s").  out is owned by the
 * caller (cli_resp_free).  Thread-safe.
 */
int cli_http(const cli_opts *o, const char *base_url, const char *method,
    const char *path, const char *body, const char *const *headers,
    cli_resp *out);
void cli_resp_free(cli_resp *r);

/* A DynamoDB or admin error answer. */
typedef struct cli_apierr {
	long status;          /* HTTP status */
	char type[96];        /* e.g. "ValidationException"; "" for admin */
	char msg[512];
} cli_apierr;

/*
 * Calls DynamoDB operation op (e.g. "DescribeTable") on region r with
 * request req (borrowed).  Returns CLI_EXIT_OK with *out set (owned by
 * the caller, cJSON_Delete), CLI_EXIT_FAIL with *e filled for an error
 * answer, or CLI_EXIT_UNREACHABLE (r->unreachable and r->err set).
 * Nothing is printed.
 */
int cli_ddb(const cli_opts *o, cli_region *r, const char *op,
    const cJSON *req, cJSON **out, cli_apierr *e);

/*
 * Calls an admin endpoint: GET when req is NULL and post is 0, else POST
 * with req (borrowed; NULL posts {}).  Same returns as cli_ddb; on a 2xx
 * answer *out is the parsed JSON (NULL when the body is not JSON).
 */
int cli_admin(const cli_opts *o, cli_region *r, const char *path, int post,
    const cJSON *req, cJSON **out, cli_apierr *e);

/* Prints "meridian: NAME (URL) is unreachable: WHY" once per region. */
void cli_report_unreachable(cli_region *r);
/* Prints "meridian: NAME (URL): " followed by the formatted message. */
void cli_report(const cli_region *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "meridian: " followed by the formatted message. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints an API error: "meridian: NAME (URL): Type: message". */
void cli_report_apierr(const cli_region *r, const cli_apierr *e);

/* ---------------------------------------------------------- cli_cluster */

/*
 * Loads the config file named by o->config_path into c (regions and their
 * API URLs).  On error prints one line and returns CLI_EXIT_USAGE.
 */
int cli_cluster_load(const cli_opts *o, cli_cluster *c);

/*
 * Asks every region with a known URL for GET /admin/cluster, in parallel,
 * and when some answer carries a membership, replaces the region list
 * with the one of the highest epoch (API URLs the membership lacks are
 * taken from the config).  Regions that do not answer are marked
 * unreachable (nothing printed).  Returns the number of regions that
 * answered anything.
 */
size_t cli_cluster_discover(const cli_opts *o, cli_cluster *c);

/*
 * Replaces c's region list with the membership in answer (a
 * GET /admin/cluster or join/leave answer; borrowed), served by region
 * served_by.  URLs the membership lacks come from c's current list, and
 * c's order is kept (new regions last).  Returns 0, or -1 (c untouched)
 * when answer holds no membership with regions.
 */
int cli_cluster_adopt(cli_cluster *c, const cJSON *answer,
    const char *served_by);

void cli_cluster_free(cli_cluster *c);

/* The region named name, or NULL. */
cli_region *cli_cluster_find(cli_cluster *c, const char *name);

/* Runs fn(arg_i) for i in [0, n) on up to n threads and waits for all.
 * args is an array of n elements of size elem_size. */
void cli_parallel(size_t n, void *args, size_t elem_size,
    void (*fn)(void *));

/* ------------------------------------------------------------ cli_table */

/* An aligned text table: columns separated by two spaces; columns whose
 * header starts with '>' are right-aligned (the '>' is not printed). */
typedef struct cli_tab {
	size_t ncols, nrows, cap;
	char **cells;           /* nrows * ncols, owned */
} cli_tab;

void cli_tab_init(cli_tab *t, size_t ncols, const char *const *headers);
/* Appends a row of ncols cells (copied). */
void cli_tab_row(cli_tab *t, const char *const *cells);
void cli_tab_print(const cli_tab *t, const char *indent);
void cli_tab_free(cli_tab *t);

/* Prints a cJSON document on stdout (formatted) followed by a newline. */
void cli_json_print(const cJSON *doc);

/* Reads a string or number member as text into buf ("" when absent). */
const char *cli_json_text(const cJSON *o, const char *name, char *buf,
    size_t len);
/* Reads a numeric member (a number, or a decimal string); def when
 * absent or malformed. */
double cli_json_num(const cJSON *o, const char *name, double def);
const char *cli_json_str(const cJSON *o, const char *name);

/* Monotonic milliseconds. */
uint64_t cli_now_ms(void);
void cli_sleep_ms(unsigned ms);

/* ------------------------------------------------------------- commands */

/*
 * All table names of region r (ListTables, every page) as a new cJSON
 * array of strings in *names (owned by the caller).  Returns as cli_ddb.
 */
int cli_list_tables(const cli_opts *o, cli_region *r, cJSON **names,
    cli_apierr *e);

/* Each command gets its arguments after the command word (argv[0] is the
 * first of them) and returns an exit code. */
int cli_cmd_status(cli_opts *o, int argc, char **argv);
int cli_cmd_verify(cli_opts *o, int argc, char **argv);
int cli_cmd_replica(cli_opts *o, int argc, char **argv);
int cli_cmd_region(cli_opts *o, int argc, char **argv);
int cli_cmd_link(cli_opts *o, int argc, char **argv);
int cli_cmd_drill(cli_opts *o, int argc, char **argv); /* cmd_drill.c */
int cli_cmd_fault(cli_opts *o, int argc, char **argv); /* cmd_fault.c */

/*
 * Shared argument handling for commands: when argv[*i] is a global option
 * (--json, --quiet, --timeout S, --config F) it is applied to o, *i is
 * advanced past it and 1 is returned; 0 when it is not one; -1 after
 * printing a usage error (a bad value).
 */
int cli_global_opt(cli_opts *o, int argc, char **argv, int *i);

/* Prints "meridian: MSG" and "Try 'meridian CMD --help'." and returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 when arg is -h or --help. */
int cli_is_help(const char *arg);

/* Loads the config and discovers the membership; prints and returns an
 * exit code on failure (0 on success). */
int cli_cluster_open(cli_opts *o, cli_cluster *c);

/* The worse of two exit codes (3 > 1 > 0; 2 never mixes). */
int cli_exit_worse(int a, int b);

#endif /* CLI_H */
