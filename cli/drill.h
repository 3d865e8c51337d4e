/*
 * drill.h — "meridian drill": the types its modules share.
 *
 * A drill runs a scenario (cmd_drill.c documents the file format) against
 * a cluster and proves afterwards that nothing acknowledged was lost.
 * Modules, all prefixed drill_:
 *
 *   cmd_drill.c       the command: options, the timeline (load, steps,
 *                     heal, convergence), exit status
 *   drill_scenario.c  the scenario file: parse and validate
 *   drill_cluster.c   the cluster: generated config, region-node
 *                     processes, links, faults, replica changes
 *   drill_load.c      the load generator and its operation history
 *   drill_monitor.c   /metrics every interval: replication latency
 *                     histograms, pending counts, conflicts, progress
 *   drill_check.c     RPO samples at faults, the final state, the conflict
 *                     ledgers and the classification of every write
 *   drill_report.c    report.json, history.json, lag.svg, the summary
 *
 * Threads: the main thread runs the timeline and owns struct drill; the
 * load threads and the monitor thread each work on their own copies of
 * the region list (cli_region records the last transport error, so it
 * must not be shared between threads).  What they produce is published
 * through atomics (the history) or a mutex (the monitor's samples).
 */
#ifndef DRILL_H
#define DRILL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"

#define DRILL_STEPS_MAX 64
#define DRILL_LINKS_MAX 64
#define DRILL_KEYS_MAX 100000u
#define DRILL_THREADS_MAX 64u
#define DRILL_RATE_MAX 20000u
#define DRILL_DURATION_S_MAX 3600.0
/* Bound on the history: rate x duration. */
#define DRILL_OPS_MAX 4000000u
#define DRILL_BUCKETS_MAX 40
#define DRILL_PATH_MAX 1024
#define DRILL_SCENARIO_MAX (1024u * 1024u)

/* ------------------------------------------------------------- scenario */

typedef enum drill_action {
	DA_LINK,            /* shape one link FROM -> TO */
	DA_PARTITION,       /* cut both directions between two regions */
	DA_ISOLATE,         /* cut a region off from every other */
	DA_HEAL,            /* every link back to its baseline */
	DA_PAUSE,           /* pause the table's replication to and from */
	DA_CRASH,           /* kill -9 */
	DA_RESTART,         /* start again on the same data */
	DA_SKEW,            /* clock skew */
	DA_FAIL_REQUESTS,   /* a fraction of API requests answer 500 */
	DA_CLEAR_FAULTS,    /* skew 0, fail rate 0 */
	DA_ADD_REPLICA,     /* UpdateTable ReplicaUpdates Create */
	DA_DROP_REPLICA,    /* UpdateTable ReplicaUpdates Delete */
	DA_COUNT_
} drill_action;

/* The shaping of one replication link (the admin API's fields). */
typedef struct drill_link {
	unsigned delay_ms, jitter_ms, bandwidth_kbps;
	double loss_pct;
	int partition;
} drill_link;

/* A link named by its regions, as the scenario's baseline lists them. */
typedef struct drill_named_link {
	char from[CLI_NAME_MAX], to[CLI_NAME_MAX];
	drill_link l;
} drill_named_link;

/* What a fault step measured (filled while the drill runs). */
typedef struct drill_rpo {
	int sampled;                     /* the sample was taken */
	/* Server view just before the fault: the faulted regions' own
	 * meridian_pending_replication_count, summed over destinations and
	 * the largest one destination; -1 when unreadable. */
	int64_t pending_sum, pending_max;
	/* Client view right after the fault: the last acknowledged write of
	 * each key made in a faulted region, looked up in the regions cut
	 * off from it. */
	size_t checked;                  /* writes looked up */
	size_t unreplicated_any;         /* missing in at least one */
	size_t unreplicated_all;         /* missing in all of them */
	size_t lookups_failed;
	int32_t *at_risk;                /* op indices missing somewhere
					  * (owned, malloc) */
	size_t nat_risk;
} drill_rpo;

typedef struct drill_step {
	double at_s;
	drill_action action;
	char region[CLI_NAME_MAX];   /* the region acted on; link: FROM */
	char peer[CLI_NAME_MAX];     /* partition: the other side; link: TO;
				      * replica changes: the region asked */
	drill_link link;             /* link */
	unsigned duration_ms;        /* pause */
	long skew_ms;                /* skew */
	double fail_rate;            /* fail_requests */
	char note[160];

	/* Results. */
	int done;                    /* executed (or tried) */
	int ok;
	char err[CLI_ERR_MAX];
	uint64_t at_ns;              /* when it took effect, since t0 */
	uint64_t took_ms;            /* how long the action itself took */
	uint64_t ready_ms;           /* restart: healthy after; replica
				      * change: ACTIVE / gone after */
	int waiting;                 /* replica change not finished yet */
	drill_rpo rpo;
} drill_step;

typedef struct drill_scenario {
	char path[DRILL_PATH_MAX];
	char name[128];
	char description[512];
	char cluster[DRILL_PATH_MAX];   /* as written in the file */
	char table[256];
	double duration_s;
	double duration_s_file;         /* before --duration */
	uint64_t seed;
	int seed_given;
	unsigned converge_timeout_s;
	unsigned sample_ms;
	/* load */
	unsigned rate_per_s, keys, hot_keys, threads, op_timeout_ms;
	double hot_fraction, read_fraction;
	char load[CLI_REGIONS_MAX][CLI_NAME_MAX];
	size_t nload;                   /* 0: every region */
	/* the table's replicas at the start; 0: every region */
	char replicas[CLI_REGIONS_MAX][CLI_NAME_MAX];
	size_t nreplicas;
	drill_named_link links[DRILL_LINKS_MAX];
	size_t nlinks;
	drill_step steps[DRILL_STEPS_MAX];
	size_t nsteps;
} drill_scenario;

/*
 * Reads and validates the scenario file at path into *sc.  Region names
 * are checked later, against the cluster.  Returns 0, or -1 after writing
 * one line into err (errlen bytes).
 */
int drill_scenario_load(const char *path, drill_scenario *sc, char *err,
    size_t errlen);

/* Scales every step time (and pause durations) by the ratio of a new
 * duration to the file's (--duration), so that a shorter run keeps the
 * scenario's shape. */
void drill_scenario_set_duration(drill_scenario *sc, double duration_s);

const char *drill_action_name(drill_action a);

/* 1 when the action is a fault whose RPO and RTO are measured. */
int drill_action_is_fault(drill_action a);

/* -------------------------------------------------------------- history */

enum {
	DRILL_OP_FREE = 0,  /* slot not taken yet */
	DRILL_OP_RUNNING,   /* invoked, no completion yet */
	DRILL_OP_DONE,      /* completed: fields final */
	DRILL_OP_SKIPPED    /* taken after the load stopped: never ran */
};

enum {
	DRILL_RES_OK = 0,
	DRILL_RES_FAIL,     /* definitely not applied: refused, 4xx */
	DRILL_RES_INFO      /* unknown: timeout, reset, 5xx */
};

#define DRILL_SEEN_NONE (-1)     /* read: not found; write: no old item */
#define DRILL_SEEN_FOREIGN (-2)  /* a value this drill did not write */
#define DRILL_SEEN_UNKNOWN (-3)  /* no answer to tell */

/*
 * One client operation.  Op i is the i-th scheduled operation; a write's
 * value is "<region>-<i>", so every value names its op.  The fields are
 * written by the load thread that owns the slot and published by storing
 * state DONE (release); readers load state (acquire) first.
 */
typedef struct drill_op {
	_Atomic uint8_t state;
	uint8_t is_write;
	uint8_t result;
	uint8_t region;          /* index into drill.reg */
	uint32_t key;
	uint32_t process;        /* Elle's process: a new one after info */
	int32_t seen;            /* read: the op whose value was read;
				  * write: the op whose value it replaced
				  * (ReturnValues ALL_OLD); DRILL_SEEN_* */
	uint64_t invoke_ns;      /* since t0 */
	uint64_t complete_ns;
} drill_op;

/* ----------------------------------------------------------------- drill */

typedef struct drill_region {
	char name[CLI_NAME_MAX];
	int in_load;             /* the load writes here */
	int holds;               /* holds the table (at the start / now) */
	int dropped;             /* a step dropped its replica */
	/* Processes (not with --attach). */
	pid_t pid;
	int alive;
	uint16_t api_port, repl_port;
	char data_dir[DRILL_PATH_MAX];
	char log_path[DRILL_PATH_MAX];
	/* Faults in effect, re-applied after a restart. */
	long skew_ms;
	double fail_rate;
	int faults_touched;
	int paused;              /* a pause was sent (cleared at heal) */
	uint64_t first_ok_after_restart_ns;
} drill_region;

typedef struct drill_monitor drill_monitor;
typedef struct drill_load drill_load;

typedef struct drill {
	cli_opts *o;
	cli_opts op_opts;             /* load requests: short timeout */
	cli_opts ctl_opts;            /* control requests */
	drill_scenario *sc;
	int attach;
	int keep_data;
	char out_dir[DRILL_PATH_MAX];
	char data_dir[DRILL_PATH_MAX];  /* temporary (not with --attach) */
	char config_path[DRILL_PATH_MAX];
	char source_config[DRILL_PATH_MAX];
	char node_bin[DRILL_PATH_MAX];
	char table[300];

	cli_cluster cluster;          /* main thread's region records */
	drill_region reg[CLI_REGIONS_MAX];
	size_t nreg;
	/* Links as they are now, and the baseline heal restores. */
	drill_link link_now[CLI_REGIONS_MAX][CLI_REGIONS_MAX];
	drill_link link_base[CLI_REGIONS_MAX][CLI_REGIONS_MAX];
	int link_touched[CLI_REGIONS_MAX][CLI_REGIONS_MAX];

	/* The clock: t0 is the start of the load. */
	uint64_t t0_ns;
	uint64_t t0_wall_ms;
	long skew_max_ms;             /* largest positive skew ever set */
	long skew_min_ms;             /* smallest negative skew ever set */

	drill_load *load;
	drill_monitor *mon;

	/* The end. */
	uint64_t load_end_ns;
	uint64_t heal_ns;
	int converged;
	uint64_t converge_ms;
	int verify_rc;
	size_t final_items;
	char final_digest[80];
	size_t nholders;
	_Atomic int interrupted;
} drill;

/* The command (registered in meridian.c). */
int cli_cmd_drill(cli_opts *o, int argc, char **argv);

/* The region index of name, or -1. */
int drill_region_index(const drill *d, const char *name);

/* snprintf into dst that reports truncation: 0, or -1 when the text did
 * not fit (dst then holds a truncated copy). */
int drill_pathf(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Nanoseconds since t0 (the start of the load). */
uint64_t drill_now_ns(const drill *d);

/* ------------------------------------------------------------- cluster */

/*
 * Spawned mode: picks free ports, writes the generated config into
 * d->out_dir, starts one region-node per region on fresh data under
 * d->data_dir and waits until each answers /health.  Fills d->reg and
 * d->cluster.  Returns a CLI exit code (0 on success) after printing.
 */
int drill_cluster_spawn(drill *d);

/* Attach mode: loads --config, discovers the membership and checks that
 * every region answers.  Returns a CLI exit code. */
int drill_cluster_attach(drill *d);

/* Starts region i's process again on its data; waits for /health.
 * Returns 0 or -1 (err filled). */
int drill_node_start(drill *d, size_t i, char *err, size_t errlen);

/* kill -9 and reap.  Returns 0, or -1 when the region was not running. */
int drill_node_kill(drill *d, size_t i);

/* SIGTERM every node, then SIGKILL after a grace period (with a warning
 * on stderr unless --quiet: a node should stop cleanly); reaps all. */
void drill_nodes_stop(drill *d);

/* Removes the temporary data directory (unless --keep-data). */
void drill_cluster_cleanup(drill *d);

/* Creates the drill's table in its initial replicas and waits until it is
 * ACTIVE in each.  Returns a CLI exit code after printing. */
int drill_table_create(drill *d);

/* Reads the links in effect (GET /admin/links everywhere), applies the
 * scenario's baseline links, and records the result as the baseline. */
int drill_links_init(drill *d);

/* Sets link from -> to (indices) to l on the destination's node.
 * Returns 0, or -1 with err filled. */
int drill_link_apply(drill *d, size_t from, size_t to, const drill_link *l,
    char *err, size_t errlen);

/* Every link back to its baseline; links into dead regions are skipped
 * (a restart re-applies them).  Returns the number of failures. */
int drill_links_heal(drill *d, char *err, size_t errlen);

/* POST /admin/fault on region i with the fields given (a NULL pointer
 * leaves that setting alone). */
int drill_fault_apply(drill *d, size_t i, const long *skew_ms,
    const double *fail_rate, char *err, size_t errlen);

/* POST /admin/pause {"TableName", "DurationMs"} on region i. */
int drill_pause_apply(drill *d, size_t i, unsigned duration_ms, char *err,
    size_t errlen);

/* Re-applies the links into region i and its faults (after a restart). */
void drill_region_reapply(drill *d, size_t i);

/* UpdateTable ReplicaUpdates on region via: create (add = 1) or delete
 * region target's replica.  Returns 0 or -1 (err filled). */
int drill_replica_change(drill *d, size_t via, size_t target, int add,
    char *err, size_t errlen);

/* For a replica change in progress: 1 when it finished (the replica is
 * ACTIVE, or gone after a drop), 0 while not, -1 on an error. */
int drill_replica_done(drill *d, size_t via, size_t target, int add);

/*
 * Polls the table's digest in every live region until the holders agree
 * (and no replica is still being created), or timeout_ms passes.  Sets
 * d->converged, d->final_items, d->final_digest, d->nholders and the
 * holds flags.  Returns 1 when converged.
 */
int drill_wait_converged(drill *d, unsigned timeout_ms);

/* --------------------------------------------------------------- load */

/*
 * Starts the load threads.  The history array is allocated for the whole
 * run (rate x duration).  Returns 0 or -1 (out of memory).
 */
int drill_load_start(drill *d);

/* Stops taking new operations, waits for those in flight (each bounded
 * by the operation timeout), joins the threads. */
void drill_load_stop(drill *d);

/* The history, valid after drill_load_start (borrowed from the load).
 * *n is the number of slots taken; check each op's state. */
drill_op *drill_load_ops(const drill *d, size_t *n);

/* Completed operations so far, by result. */
void drill_load_counts(const drill *d, uint64_t *ok, uint64_t *fail,
    uint64_t *info);

/* Error messages seen, as a JSON object {"region": {"message": count}}
 * (owned by the caller). */
cJSON *drill_load_errors_json(const drill *d);

void drill_load_free(drill *d);

/* The key string of key number k ("k00042"). */
void drill_key_name(uint32_t k, char *buf, size_t len);

/* Parses a value "<region>-<i>" back to op index i when it is a write of
 * this drill by that region; DRILL_SEEN_FOREIGN otherwise. */
int32_t drill_value_op(const drill *d, const char *value);

/* ------------------------------------------------------------- monitor */

/* One pair's numbers over one interval. */
typedef struct drill_pairstat {
	double p50, p99;      /* -1 when nothing was applied */
	uint64_t n;           /* records applied in the interval */
	int64_t pending;      /* source's pending count, -1 unknown */
} drill_pairstat;

int drill_monitor_start(drill *d);
void drill_monitor_stop(drill *d);
void drill_monitor_free(drill *d);

/* Latest max p99 (ms, -1 none) and max pending (-1 unknown), for the
 * progress line. */
void drill_monitor_latest(const drill *d, double *max_p99,
    int64_t *max_pending);

/* Scrapes region i's /metrics once now and returns the sum and max of its
 * meridian_pending_replication_count (as source).  -1 on failure. */
int drill_pending_now(drill *d, size_t i, int64_t *sum, int64_t *max);

/*
 * Monitor results, valid after drill_monitor_stop: the number of samples;
 * sample s's time (ms since t0) and pair (src, dst) numbers.
 */
size_t drill_monitor_nsamples(const drill *d);
uint64_t drill_monitor_sample_ms(const drill *d, size_t s);
const drill_pairstat *drill_monitor_pair(const drill *d, size_t s,
    size_t src, size_t dst);
/* The whole run's percentiles of a pair (-1 when nothing was applied). */
void drill_monitor_pair_total(const drill *d, size_t src, size_t dst,
    double *p50, double *p99, uint64_t *n);
/* meridian_conflicts_total of region i at the last successful scrape
 * (-1 never read). */
int64_t drill_monitor_conflicts(const drill *d, size_t i);

/* Percentile q (0..1) of a histogram given as per-bucket counts with
 * upper bounds (the last may be +Inf).  -1 when empty. */
double drill_hist_quantile(const double *bounds, const uint64_t *counts,
    size_t nb, double q);

/* --------------------------------------------------------------- check */

/*
 * The RPO sample of fault step st, taken right after its action (fills
 * st->rpo; st->rpo.at_risk is malloc'ed, freed by the caller).
 * src_mask[i]: region i is faulted and its writes are checked;
 * dest_mask[i]: the regions source i is cut off from (bit j: region j).
 * Lookups that fail are counted, not retried.
 */
void drill_rpo_sample(drill *d, drill_step *st, const int *src_mask,
    const uint32_t *dest_mask);

/* What became of one acknowledged write. */
typedef enum drill_fate {
	DF_FINAL = 0,        /* it is the key's final value */
	DF_OVERWRITTEN,      /* a later write replaced it (ALL_OLD) */
	DF_CONFLICT_LOSS,    /* lost a last-writer-wins conflict (ledger) */
	DF_SUPERSEDED,       /* the final stamp is later than it can be */
	DF_DROPPED,          /* made in a region whose replica was dropped */
	DF_LOST,             /* none of the above: a lost write */
	DF_COUNT_
} drill_fate;

typedef struct drill_final {
	int32_t op;          /* the op whose value is final; DRILL_SEEN_* */
	int found;
	uint64_t wall_ms;
	unsigned logical;
	char origin[CLI_NAME_MAX];
	int diverged;        /* regions disagree on this key */
} drill_final;

typedef struct drill_ledger_entry {
	int32_t loser_op;
	int32_t winner_op;   /* the winner's value when the region holds it
			      * (-1 unknown) */
	uint32_t key;
	char region[CLI_NAME_MAX];
	char loser_origin[CLI_NAME_MAX], winner_origin[CLI_NAME_MAX];
	uint64_t loser_wall_ms, winner_wall_ms;
	unsigned loser_logical, winner_logical;
} drill_ledger_entry;

typedef struct drill_check {
	int skipped;                 /* not run (the drill was interrupted) */
	drill_final *final;          /* per key (scenario keys) */
	size_t nkeys_read;
	size_t nkeys_diverged;
	size_t lookups_failed;
	drill_ledger_entry *ledger;
	size_t nledger;
	int64_t ledger_by_region[CLI_REGIONS_MAX];
	uint8_t *fate;               /* per op (writes that were ok) */
	size_t fate_count[DF_COUNT_];
	size_t acked_writes;
	size_t failed_visible;       /* final values of failed writes */
	size_t foreign_values;       /* final values not written by us */
} drill_check;

/*
 * After convergence: reads every written key in every holder, the conflict
 * ledgers, and classifies every acknowledged write.  Returns 0, or -1
 * when the final state could not be read (c->lookups_failed says how
 * much).
 */
int drill_check_run(drill *d, drill_check *c);
void drill_check_free(drill_check *c);

const char *drill_fate_name(drill_fate f);

/* -------------------------------------------------------------- report */

/*
 * Builds the report document (owned by the caller) from everything the
 * drill measured.
 */
cJSON *drill_report_build(drill *d, const drill_check *c);

/* Writes report.json, history.json and lag.svg into d->out_dir.  Returns
 * 0, or -1 after printing which file failed. */
int drill_report_write(drill *d, const cJSON *report);

/* The readable summary on stdout. */
void drill_report_print(drill *d, const cJSON *report);

/* The SVG chart of replication latency (p99 per interval) per pair. */
int drill_svg_write(drill *d, const char *path);

/* history.json in Elle's rw-register form. */
int drill_history_write(drill *d, const char *path);

#endif /* DRILL_H */
