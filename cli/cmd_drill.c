/*
 * cmd_drill.c — "meridian drill": a disaster-recovery drill with proof.
 *
 *   meridian drill SCENARIO.json [--attach] [--json] [--quiet] [--out DIR]
 *                  [--duration SECONDS] [--seed N] [--cluster FILE]
 *                  [--keep-data] [--converge-timeout SECONDS]
 *
 * Timeline of a drill:
 *   1. Cluster.  By default a private cluster: the scenario's "cluster"
 *      config is copied with free loopback ports (OUT/cluster.json) and
 *      one region-node per region is started on fresh data in a
 *      temporary directory (drill_cluster.c).  With --attach, the running
 *      cluster of --config is used instead (crash and restart are then
 *      refused: the drill does not own those processes).
 *   2. Table.  The scenario's table (hash key "pk", type S) is created in
 *      its first replica and becomes a global table in the others.  With
 *      --attach its name gets a "-<unix seconds>" suffix so that every
 *      drill starts empty.  The links in effect plus the scenario's
 *      "links" become the baseline.
 *   3. Load and steps.  t0 is the start of the load; the load runs for
 *      duration_s (drill_load.c) while the main thread runs each step at
 *      its at_s, and the monitor samples /metrics (drill_monitor.c).
 *      Fault steps are measured: the faulted regions' pending
 *      replication just before, and an RPO sample right after
 *      (drill_check.c).
 *   4. Heal.  When the load stops: every link back to its baseline,
 *      clock skew and failure rate 0, pauses lifted, crashed regions
 *      restarted.  Then the drill waits until the table's digest is the
 *      same in every region that holds it (converge_timeout_s).
 *   5. Verify.  `meridian verify TABLE` is run on the cluster; the final
 *      item and stamp of every key written are read in every region, the
 *      conflict ledgers are read, and every acknowledged write is
 *      classified (final, overwritten, conflict loss, superseded, lost).
 *   6. Report.  OUT/report.json, OUT/history.json (Elle rw-register
 *      form), OUT/lag.svg and a summary (drill_report.c).
 * The exit status is 0 when the regions converged and no acknowledged
 * write was lost, 1 otherwise, 2 for a usage or scenario error, 3 when
 * an attached cluster cannot be reached.
 *
 * Scenario file (JSON; unknown keys are errors):
 *   {
 *    "name": "region-outage",            default: the file name
 *    "description": "...",
 *    "cluster": "configs/local.json",    a cluster config (default
 *                                        configs/local.json); relative
 *                                        paths are tried from the current
 *                                        directory, then from the
 *                                        scenario's directory and the
 *                                        directory two levels up
 *    "table": "drill",                   default "drill"
 *    "duration_s": 20,                   length of the load (default 20;
 *                                        --duration overrides it and
 *                                        scales every step's at_s)
 *    "seed": 42,                         default: random (printed);
 *                                        --seed or $MERIDIAN_SEED win
 *    "replicas": ["us-east-1", ...],     regions holding the table at
 *                                        the start (default: all)
 *    "links": [{"from", "to", "delay_ms", "jitter_ms", "loss_pct",
 *               "bandwidth_kbps", "partition"}],   baseline shaping
 *    "converge_timeout_s": 60,           bound on the wait after heal
 *    "sample_ms": 1000,                  metrics sampling interval
 *    "load": {
 *      "rate_per_s": 200,                operations per second (total)
 *      "keys": 1000,                     key space k00000..
 *      "hot_keys": 5,                    the first hot_keys keys are hot
 *      "hot_fraction": 0.2,              share of operations on them
 *      "read_fraction": 0.2,             share of GetItem (rest PutItem)
 *      "regions": ["us-east-1", ...],    where the load goes (default:
 *                                        the initial replicas)
 *      "threads": 8,                     concurrent requests at most
 *      "timeout_ms": 2000                per-operation timeout
 *    },
 *    "steps": [{"at_s": 5, "action": "crash", "region": "eu-west-1"},
 *              ...]
 *   }
 * Step actions (every step may also carry a "note"):
 *   link           {"from", "to", "delay_ms", "jitter_ms", "loss_pct",
 *                   "bandwidth_kbps", "partition"}: POST /admin/link on
 *                  the "to" node
 *   partition      {"region", "peer"}: both directions partitioned
 *   isolate        {"region"}: every link to and from it partitioned; its
 *                  API stays up
 *   heal           {}: every link back to its baseline
 *   pause          {"region", "duration_ms" (5000)}: POST /admin/pause,
 *                  the table's replication to and from the region stops
 *   crash          {"region"}: kill -9
 *   restart        {"region"}: start it again on the same data
 *   skew           {"region", "skew_ms"}: POST /admin/fault ClockSkewMs
 *   fail_requests  {"region", "fail_rate" (0.3)}: POST /admin/fault
 *                  FailRate, that share of API requests answer 500
 *   clear_faults   {"region"?}: skew 0 and fail rate 0 (all regions when
 *                  none is named)
 *   add_replica    {"region", "via"?}: UpdateTable ReplicaUpdates Create,
 *                  sent to "via" (default: a region holding the table)
 *   drop_replica   {"region", "via"?}: ReplicaUpdates Delete
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drill.h"

static const char drill_help[] =
"Usage: meridian drill SCENARIO.json [--attach] [--json] [--quiet]\n"
"                      [--out DIR] [--duration SECONDS] [--seed N]\n"
"                      [--cluster FILE] [--keep-data]\n"
"                      [--converge-timeout SECONDS]\n"
"\n"
"Runs a disaster-recovery drill: starts the scenario's cluster on fresh\n"
"data (or uses the running one with --attach), creates its table, runs\n"
"a load while the scenario's steps inject faults (crash, restart,\n"
"partition, isolate, link shaping, pause, clock skew, failing requests,\n"
"replica changes), heals everything, waits until every region holds\n"
"the same data and checks that no acknowledged write was lost.\n"
"\n"
"Writes into DIR (default: a new directory under /tmp, printed):\n"
"  report.json   RPO and RTO of every fault, convergence time, writes\n"
"                per region, replication latency per pair over time,\n"
"                conflicts, the fate of every acknowledged write\n"
"  history.json  every operation, in Elle's rw-register form\n"
"  lag.svg       replication latency (p99) per pair over time\n"
"  cluster.json, logs/  the generated config and the nodes' logs\n"
"\n"
"Options:\n"
"  --attach           use the running cluster of --config (crash and\n"
"                     restart steps are refused)\n"
"  --out DIR          where to write the results\n"
"  --duration S       run the load for S seconds instead of the\n"
"                     scenario's duration_s; step times scale with it\n"
"  --seed N           the load's seed (also $MERIDIAN_SEED); the same\n"
"                     seed replays the same operations\n"
"  --cluster FILE     the cluster config to copy (instead of the\n"
"                     scenario's \"cluster\")\n"
"  --keep-data        keep the nodes' data directory\n"
"  --converge-timeout S  how long to wait for convergence after the\n"
"                     heal (default: the scenario's converge_timeout_s,\n"
"                     else 60)\n"
"  --json             print the report as JSON on stdout\n"
"  --quiet            print nothing but errors\n"
"\n"
"The scenario format is described in configs/drills/README.md.\n"
"\n"
"Exit status: 0 the regions converged and no acknowledged write was\n"
"lost; 1 they did not, or a write was lost; 2 usage or scenario error;\n"
"3 the attached cluster could not be reached.\n";

static drill *g_drill;

static void on_signal(int sig)
{
	(void)sig;
	if (g_drill != NULL)
		atomic_store(&g_drill->interrupted, 1);
}

/* Where progress and events go: stdout, or stderr when stdout carries
 * the JSON report. */
typedef struct progress {
	FILE *f;
	int tty;
	int quiet;
	int line_open;        /* a refreshed line is on the terminal */
	uint64_t last_ms;
	uint64_t last_ops;
	uint64_t last_line_ms;
} progress;

static void progress_clear(progress *p)
{
	if (p->line_open) {
		fputs("\r\033[K", p->f);
		p->line_open = 0;
	}
}

static void event(drill *d, progress *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void event(drill *d, progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p->quiet)
		return;
	progress_clear(p);
	fprintf(p->f, "[%7.2fs] ", (double)drill_now_ns(d) / 1e9);
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
	fputc('\n', p->f);
	fflush(p->f);
}

static void progress_tick(drill *d, progress *p, int force)
{
	uint64_t now_ms = drill_now_ns(d) / 1000000u, ok, fail, info, ops;
	double lag, rate, el = (double)now_ms / 1000.0;
	int64_t pend;

	if (p->quiet || (!force && now_ms < p->last_ms + 1000))
		return;
	drill_load_counts(d, &ok, &fail, &info);
	ops = ok + fail + info;
	rate = now_ms > p->last_ms ? (double)(ops - p->last_ops) * 1000.0 /
	    (double)(now_ms - p->last_ms) : 0;
	p->last_ms = now_ms;
	p->last_ops = ops;
	if (!p->tty && !force && now_ms < p->last_line_ms + 5000)
		return;
	p->last_line_ms = now_ms;
	drill_monitor_latest(d, &lag, &pend);
	if (p->tty)
		fputs("\r\033[K", p->f);
	fprintf(p->f, "[%7.2fs] %.0f s left, %.0f ops/s, ok %llu failed %llu "
	    "unknown %llu, max lag p99 ", el, GT_MAX(0.0,
	    d->sc->duration_s - el), rate, (unsigned long long)ok,
	    (unsigned long long)fail, (unsigned long long)info);
	if (lag >= 0)
		fprintf(p->f, "%.0f ms", lag);
	else
		fputs("-", p->f);
	if (pend >= 0)
		fprintf(p->f, ", pending %lld", (long long)pend);
	if (p->tty) {
		p->line_open = 1;
	} else {
		fputc('\n', p->f);
	}
	fflush(p->f);
}

/* ---------------------------------------------------------------- steps */

static int idx(drill *d, const char *name)
{
	return drill_region_index(d, name);
}

/* Partitions (or restores) both directions between a and b, keeping the
 * links' other shaping. */
static int cut(drill *d, size_t a, size_t b, char *err, size_t errlen)
{
	drill_link l = d->link_now[a][b];
	int rc = 0;

	l.partition = 1;
	if (drill_link_apply(d, a, b, &l, err, errlen) != 0)
		rc = -1;
	l = d->link_now[b][a];
	l.partition = 1;
	if (drill_link_apply(d, b, a, &l, err, errlen) != 0)
		rc = -1;
	return rc;
}

/* A region holding the table, other than not (for replica changes). */
static int holder_other_than(drill *d, size_t not)
{
	for (size_t i = 0; i < d->nreg; i++)
		if (i != not && d->reg[i].holds && d->reg[i].alive)
			return (int)i;
	return -1;
}

static void run_step(drill *d, drill_step *st, progress *p)
{
	int src[CLI_REGIONS_MAX] = {0};
	uint32_t dst[CLI_REGIONS_MAX] = {0};
	int a = idx(d, st->region), b = idx(d, st->peer), sample = 0;
	uint64_t t_start;
	size_t i;

	st->done = 1;
	st->ok = 1;
	st->rpo.pending_sum = -1;
	st->rpo.pending_max = -1;
	/* Which writes the RPO sample follows: from the faulted regions to
	 * the regions they are cut off from. */
	switch (st->action) {
	case DA_LINK:
		src[a] = 1;
		dst[a] = 1u << b;
		sample = 1;
		break;
	case DA_PARTITION:
		src[a] = src[b] = 1;
		dst[a] = 1u << b;
		dst[b] = 1u << a;
		sample = 1;
		break;
	case DA_ISOLATE:
	case DA_PAUSE:
	case DA_CRASH:
		src[a] = 1;
		for (i = 0; i < d->nreg; i++)
			if (i != (size_t)a)
				dst[a] |= 1u << i;
		sample = 1;
		break;
	default:
		break;
	}
	if (st->action == DA_HEAL) {
		/* What the partitions held back, as the sources count it. */
		for (i = 0; i < d->nreg; i++) {
			int64_t s, m;
			if (d->reg[i].alive && drill_pending_now(d, i, &s,
			    &m) == 0)
				st->rpo.pending_sum = GT_MAX(
				    st->rpo.pending_sum, 0) + s;
		}
	}
	if (sample) {
		for (i = 0; i < d->nreg; i++) {
			int64_t s, m;
			if (!src[i] || !d->reg[i].alive ||
			    drill_pending_now(d, i, &s, &m) != 0)
				continue;
			st->rpo.pending_sum = GT_MAX(st->rpo.pending_sum, 0) +
			    s;
			st->rpo.pending_max = GT_MAX(st->rpo.pending_max, m);
		}
	}
	t_start = drill_now_ns(d);
	switch (st->action) {
	case DA_LINK:
		if (drill_link_apply(d, (size_t)a, (size_t)b, &st->link,
		    st->err, sizeof(st->err)) != 0)
			st->ok = 0;
		break;
	case DA_PARTITION:
		if (cut(d, (size_t)a, (size_t)b, st->err, sizeof(st->err)) != 0)
			st->ok = 0;
		break;
	case DA_ISOLATE:
		for (i = 0; i < d->nreg; i++)
			if (i != (size_t)a && cut(d, (size_t)a, i, st->err,
			    sizeof(st->err)) != 0)
				st->ok = 0;
		break;
	case DA_HEAL:
		if (drill_links_heal(d, st->err, sizeof(st->err)) != 0)
			st->ok = 0;
		break;
	case DA_PAUSE:
		if (drill_pause_apply(d, (size_t)a, st->duration_ms, st->err,
		    sizeof(st->err)) != 0)
			st->ok = 0;
		break;
	case DA_CRASH:
		if (drill_node_kill(d, (size_t)a) != 0) {
			st->ok = 0;
			snprintf(st->err, sizeof(st->err), "%s is not running",
			    st->region);
		}
		break;
	case DA_RESTART:
		if (d->reg[a].alive) {
			st->ok = 0;
			snprintf(st->err, sizeof(st->err), "%s is already "
			    "running", st->region);
			break;
		}
		if (drill_node_start(d, (size_t)a, st->err,
		    sizeof(st->err)) != 0) {
			st->ok = 0;
			break;
		}
		st->ready_ms = (drill_now_ns(d) - t_start) / 1000000u;
		drill_region_reapply(d, (size_t)a);
		break;
	case DA_SKEW:
		if (drill_fault_apply(d, (size_t)a, &st->skew_ms, NULL,
		    st->err, sizeof(st->err)) != 0)
			st->ok = 0;
		break;
	case DA_FAIL_REQUESTS:
		if (drill_fault_apply(d, (size_t)a, NULL, &st->fail_rate,
		    st->err, sizeof(st->err)) != 0)
			st->ok = 0;
		break;
	case DA_CLEAR_FAULTS:
		for (i = 0; i < d->nreg; i++) {
			long zs = 0;
			double zf = 0;
			if ((a >= 0 && i != (size_t)a) || !d->reg[i].alive)
				continue;
			if (drill_fault_apply(d, i, &zs, &zf, st->err,
			    sizeof(st->err)) != 0)
				st->ok = 0;
		}
		break;
	case DA_ADD_REPLICA:
	case DA_DROP_REPLICA: {
		int add = st->action == DA_ADD_REPLICA;
		if (b < 0) {
			b = holder_other_than(d, add ? d->nreg : (size_t)a);
			if (b < 0) {
				st->ok = 0;
				snprintf(st->err, sizeof(st->err), "no running "
				    "region holds the table");
				break;
			}
			snprintf(st->peer, sizeof(st->peer), "%s",
			    d->reg[b].name);
		}
		if (drill_replica_change(d, (size_t)b, (size_t)a, add, st->err,
		    sizeof(st->err)) != 0) {
			st->ok = 0;
			break;
		}
		st->waiting = 1;
		if (!add)
			d->reg[a].dropped = 1;
		break;
	}
	default:
		break;
	}
	st->at_ns = drill_now_ns(d);
	st->took_ms = (st->at_ns - t_start) / 1000000u;
	if (sample && st->ok)
		drill_rpo_sample(d, st, src, dst);
	if (!st->ok)
		event(d, p, "%s %s%s%s: FAILED: %s",
		    drill_action_name(st->action), st->region,
		    st->peer[0] ? " " : "", st->peer, st->err);
	else if (st->rpo.sampled)
		event(d, p, "%s %s%s%s: ok; %zu acknowledged writes not yet "
		    "replicated", drill_action_name(st->action), st->region,
		    st->peer[0] ? " " : "", st->peer,
		    st->rpo.unreplicated_any);
	else if (st->action == DA_RESTART)
		event(d, p, "restart %s: ok, healthy after %llu ms",
		    st->region, (unsigned long long)st->ready_ms);
	else if (st->action == DA_ADD_REPLICA ||
	    st->action == DA_DROP_REPLICA)
		event(d, p, "%s %s (via %s): ok", drill_action_name(st->action),
		    st->region, st->peer);
	else
		event(d, p, "%s%s%s%s%s: ok", drill_action_name(st->action),
		    st->region[0] ? " " : "", st->region,
		    st->peer[0] ? " " : "", st->peer);
}

/* Checks on replica changes in progress. */
static void poll_replicas(drill *d, progress *p)
{
	for (size_t k = 0; k < d->sc->nsteps; k++) {
		drill_step *st = &d->sc->steps[k];
		int add = st->action == DA_ADD_REPLICA, r;
		int a, b;
		if (!st->waiting)
			continue;
		a = idx(d, st->region);
		b = idx(d, st->peer);
		r = drill_replica_done(d, (size_t)b, (size_t)a, add);
		if (r == 0)
			continue;
		st->waiting = 0;
		st->ready_ms = (drill_now_ns(d) - st->at_ns) / 1000000u;
		if (r < 0) {
			char via[CLI_NAME_MAX];
			memcpy(via, st->peer, sizeof(via));
			st->ok = 0;
			(void)drill_pathf(st->err, sizeof(st->err),
			    "DescribeTable on %s failed while waiting", via);
		}
		if (add && r > 0)
			d->reg[a].holds = 1;
		if (!add && r > 0)
			d->reg[a].holds = 0;
		event(d, p, "%s %s: %s after %llu ms", drill_action_name(
		    st->action), st->region, add ? "ACTIVE" : "dropped",
		    (unsigned long long)st->ready_ms);
	}
}

/* ---------------------------------------------------------- validation */

static int check_names(drill *d)
{
	drill_scenario *sc = d->sc;
	const char *bad = NULL;

	for (size_t k = 0; k < sc->nload && bad == NULL; k++)
		if (idx(d, sc->load[k]) < 0)
			bad = sc->load[k];
	for (size_t k = 0; k < sc->nreplicas && bad == NULL; k++)
		if (idx(d, sc->replicas[k]) < 0)
			bad = sc->replicas[k];
	for (size_t k = 0; k < sc->nlinks && bad == NULL; k++) {
		if (idx(d, sc->links[k].from) < 0)
			bad = sc->links[k].from;
		else if (idx(d, sc->links[k].to) < 0)
			bad = sc->links[k].to;
	}
	for (size_t k = 0; k < sc->nsteps && bad == NULL; k++) {
		const drill_step *st = &sc->steps[k];
		if (st->region[0] != '\0' && idx(d, st->region) < 0)
			bad = st->region;
		else if (st->peer[0] != '\0' && idx(d, st->peer) < 0)
			bad = st->peer;
	}
	if (bad != NULL) {
		cli_errorf("%s: region %s is not in the cluster (%s)",
		    sc->path, bad, d->config_path);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

/* Resolves the scenario's cluster path (see the format above). */
static void resolve_cluster(drill *d, const char *given)
{
	const char *c = given != NULL ? given : d->sc->cluster;
	char dir[DRILL_PATH_MAX], cand[2 * DRILL_PATH_MAX + 16];
	const char *slash;

	(void)drill_pathf(d->source_config, sizeof(d->source_config), "%s",
	    c);
	if (given != NULL || c[0] == '/' || access(c, R_OK) == 0)
		return;
	slash = strrchr(d->sc->path, '/');
	if (slash == NULL)
		return;
	(void)drill_pathf(dir, sizeof(dir), "%.*s",
	    (int)(slash - d->sc->path), d->sc->path);
	(void)drill_pathf(cand, sizeof(cand), "%s/%s", dir, c);
	if (access(cand, R_OK) != 0)
		(void)drill_pathf(cand, sizeof(cand), "%s/../../%s", dir, c);
	if (access(cand, R_OK) == 0)
		(void)drill_pathf(d->source_config, sizeof(d->source_config),
		    "%s", cand);
}

static int mkdirs(const char *path)
{
	char buf[DRILL_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x > 9007199254740991ull)
		return -1;
	*v = x;
	return 0;
}

/* ----------------------------------------------------------------- run */

/* After the load: everything back to normal. */
static void heal_all(drill *d, progress *p)
{
	char err[CLI_ERR_MAX];

	for (size_t i = 0; i < d->nreg; i++) {
		if (d->reg[i].alive || d->attach)
			continue;
		if (drill_node_start(d, i, err, sizeof(err)) != 0)
			cli_errorf("heal: %s", err);
		else
			event(d, p, "heal: restarted %s", d->reg[i].name);
	}
	if (drill_links_heal(d, err, sizeof(err)) != 0)
		cli_errorf("heal: %s", err);
	for (size_t i = 0; i < d->nreg; i++) {
		long zs = 0;
		double zf = 0;
		if (!d->reg[i].alive)
			continue;
		if (d->reg[i].faults_touched &&
		    drill_fault_apply(d, i, &zs, &zf, err, sizeof(err)) != 0)
			cli_errorf("heal: %s", err);
		if (d->reg[i].paused &&
		    drill_pause_apply(d, i, 0, err, sizeof(err)) != 0)
			cli_errorf("heal: %s", err);
	}
}

static int run_verify(drill *d)
{
	cli_opts vo = *d->o;
	char *argv[2];

	vo.config_path = d->config_path;
	vo.json = 0;
	vo.quiet = d->o->quiet || d->o->json;
	vo.request_timeout_ms = 10000;
	argv[0] = d->table;
	argv[1] = NULL;
	if (!vo.quiet) {
		printf("\nmeridian verify %s:\n  ", d->table);
		fflush(stdout);
	}
	return cli_cmd_verify(&vo, 1, argv);
}

static int drill_run(drill *d, progress *p)
{
	drill_scenario *sc = d->sc;
	uint64_t end_ns = (uint64_t)(sc->duration_s * 1e9), last_poll = 0;
	size_t next = 0;
	int rc;

	rc = d->attach ? drill_cluster_attach(d) : drill_cluster_spawn(d);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = check_names(d);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = drill_table_create(d);
	if (rc != CLI_EXIT_OK)
		return rc;
	for (size_t i = 0; i < d->nreg; i++)
		d->reg[i].in_load = sc->nload == 0 && d->reg[i].holds;
	for (size_t k = 0; k < sc->nload; k++) {
		int i = idx(d, sc->load[k]);
		if (!d->reg[i].holds) {
			cli_errorf("%s: load region %s does not hold the "
			    "table at the start (see \"replicas\")", sc->path,
			    sc->load[k]);
			return CLI_EXIT_USAGE;
		}
		d->reg[i].in_load = 1;
	}
	(void)drill_links_init(d);
	if (!p->quiet)
		fprintf(p->f, "Drill %s: %zu regions (%s), table %s, %.1f s at "
		    "%u ops/s, seed %llu, results in %s\n", sc->name, d->nreg,
		    d->attach ? "attached" : "spawned", d->table,
		    sc->duration_s, sc->rate_per_s,
		    (unsigned long long)sc->seed, d->out_dir);
	d->t0_wall_ms = gt_wall_ms();
	d->t0_ns = gt_mono_ns();
	if (drill_monitor_start(d) != 0 || drill_load_start(d) != 0) {
		cli_errorf("cannot start the load: out of memory or threads");
		return CLI_EXIT_FAIL;
	}
	while (!atomic_load(&d->interrupted)) {
		uint64_t now = drill_now_ns(d);
		if (now >= end_ns)
			break;
		while (next < sc->nsteps &&
		    (uint64_t)(sc->steps[next].at_s * 1e9) <= now) {
			run_step(d, &sc->steps[next++], p);
			now = drill_now_ns(d);
		}
		if (now >= last_poll + 250000000u) {
			poll_replicas(d, p);
			last_poll = now;
		}
		progress_tick(d, p, 0);
		cli_sleep_ms(20);
	}
	drill_load_stop(d);
	d->load_end_ns = drill_now_ns(d);
	/* The last progress line stays on the terminal. */
	progress_tick(d, p, 1);
	if (p->line_open) {
		fputc('\n', p->f);
		p->line_open = 0;
	}
	event(d, p, "load stopped; healing");
	heal_all(d, p);
	d->heal_ns = drill_now_ns(d);
	if (atomic_load(&d->interrupted)) {
		/* Stopped by the operator: the state is whatever it was, so
		 * no verdict about convergence or lost writes is drawn. */
		event(d, p, "interrupted");
		drill_monitor_stop(d);
		d->verify_rc = -1;
		return CLI_EXIT_OK;
	}
	if (drill_wait_converged(d, sc->converge_timeout_s * 1000u))
		d->converge_ms = (drill_now_ns(d) - d->heal_ns) / 1000000u;
	poll_replicas(d, p);
	if (d->converged)
		event(d, p, "converged after %llu ms",
		    (unsigned long long)d->converge_ms);
	else
		event(d, p, "NOT converged after %u s",
		    sc->converge_timeout_s);
	drill_monitor_stop(d);
	d->verify_rc = run_verify(d);
	return CLI_EXIT_OK;
}

int cli_cmd_drill(cli_opts *o, int argc, char **argv)
{
	static drill_scenario sc;
	drill d;
	drill_check chk;
	progress p;
	const char *scenario = NULL, *out = NULL, *cluster = NULL;
	const char *env_seed = getenv("MERIDIAN_SEED");
	double duration = 0;
	unsigned converge_s = 0;
	uint64_t seed = 0;
	int seed_given = 0, i = 0, rc;
	char err[600];
	struct sigaction sa, old_int, old_term;
	cJSON *report = NULL;

	memset(&d, 0, sizeof(d));
	memset(&chk, 0, sizeof(chk));
	while (i < argc) {
		const char *a = argv[i];
		int g;
		if (cli_is_help(a)) {
			fputs(drill_help, stdout);
			return CLI_EXIT_OK;
		}
		g = cli_global_opt(o, argc, argv, &i);
		if (g < 0)
			return CLI_EXIT_USAGE;
		if (g > 0)
			continue;
		if (strcmp(a, "--attach") == 0) {
			d.attach = 1;
		} else if (strcmp(a, "--keep-data") == 0) {
			d.keep_data = 1;
		} else if (strcmp(a, "--out") == 0 || strcmp(a, "--duration")
		    == 0 || strcmp(a, "--seed") == 0 ||
		    strcmp(a, "--cluster") == 0 ||
		    strcmp(a, "--converge-timeout") == 0) {
			const char *v = i + 1 < argc ? argv[i + 1] : NULL;
			if (v == NULL || v[0] == '\0')
				return cli_usage_error("drill", "%s needs a "
				    "value", a);
			if (a[2] == 'o') {
				out = v;
			} else if (strcmp(a, "--converge-timeout") == 0) {
				uint64_t t;
				if (parse_u64(v, &t) != 0 || t < 1 || t > 3600)
					return cli_usage_error("drill",
					    "--converge-timeout: '%s' is not a "
					    "number of seconds from 1 to 3600",
					    v);
				converge_s = (unsigned)t;
			} else if (a[2] == 'c') {
				cluster = v;
			} else if (a[2] == 'd') {
				char *end;
				duration = strtod(v, &end);
				if (*end == 's' && end[1] == '\0')
					end++;
				if (*end != '\0' || !(duration >= 1) ||
				    duration > DRILL_DURATION_S_MAX)
					return cli_usage_error("drill",
					    "--duration: '%s' is not a number "
					    "of seconds from 1 to %.0f", v,
					    DRILL_DURATION_S_MAX);
			} else {
				if (parse_u64(v, &seed) != 0)
					return cli_usage_error("drill",
					    "--seed: '%s' is not a whole "
					    "number below 2^53", v);
				seed_given = 1;
			}
			i++;
		} else if (a[0] == '-') {
			return cli_usage_error("drill", "unknown option '%s'",
			    a);
		} else if (scenario == NULL) {
			scenario = a;
		} else {
			return cli_usage_error("drill", "one scenario at a "
			    "time ('%s' is extra)", a);
		}
		i++;
	}
	if (scenario == NULL)
		return cli_usage_error("drill", "a scenario file is required "
		    "(see configs/drills/)");
	if (drill_scenario_load(scenario, &sc, err, sizeof(err)) != 0) {
		cli_errorf("%s: %s", scenario, err);
		return CLI_EXIT_USAGE;
	}
	if (duration > 0)
		drill_scenario_set_duration(&sc, duration);
	if (converge_s > 0)
		sc.converge_timeout_s = converge_s;
	if (!seed_given && env_seed != NULL && env_seed[0] != '\0') {
		if (parse_u64(env_seed, &seed) != 0)
			return cli_usage_error("drill", "MERIDIAN_SEED: '%s' "
			    "is not a whole number below 2^53", env_seed);
		seed_given = 1;
	}
	if (seed_given)
		sc.seed = seed;
	else if (!sc.seed_given) {
		uint64_t w = gt_wall_ms(), pid = (uint64_t)getpid();
		sc.seed = (w * UINT64_C(2654435761) ^ pid) &
		    ((UINT64_C(1) << 53) - 1);
	}
	if (d.attach) {
		for (size_t k = 0; k < sc.nsteps; k++)
			if (sc.steps[k].action == DA_CRASH ||
			    sc.steps[k].action == DA_RESTART)
				return cli_usage_error("drill", "%s: step %s "
				    "needs a cluster the drill starts itself "
				    "(drop --attach)", scenario,
				    drill_action_name(sc.steps[k].action));
	}
	d.o = o;
	d.sc = &sc;
	d.ctl_opts = *o;
	if (!o->timeout_given)
		d.ctl_opts.request_timeout_ms = 10000;
	d.op_opts = *o;
	d.op_opts.request_timeout_ms = sc.op_timeout_ms;
	resolve_cluster(&d, cluster);
	if (out != NULL) {
		if (mkdirs(out) != 0) {
			cli_errorf("cannot create %s: %s", out,
			    strerror(errno));
			return CLI_EXIT_USAGE;
		}
		snprintf(d.out_dir, sizeof(d.out_dir), "%s", out);
	} else {
		snprintf(d.out_dir, sizeof(d.out_dir),
		    "/tmp/meridian-drill-XXXXXX");
		if (mkdtemp(d.out_dir) == NULL) {
			cli_errorf("cannot create a directory under /tmp: %s",
			    strerror(errno));
			return CLI_EXIT_FAIL;
		}
	}
	if (!d.attach) {
		snprintf(d.data_dir, sizeof(d.data_dir),
		    "/tmp/meridian-drill-data-XXXXXX");
		if (mkdtemp(d.data_dir) == NULL) {
			cli_errorf("cannot create a directory under /tmp: %s",
			    strerror(errno));
			return CLI_EXIT_FAIL;
		}
	}
	memset(&p, 0, sizeof(p));
	p.f = o->json ? stderr : stdout;
	p.tty = isatty(fileno(p.f));
	p.quiet = o->quiet;
	g_drill = &d;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);

	rc = drill_run(&d, &p);
	if (rc == CLI_EXIT_OK) {
		if (atomic_load(&d.interrupted)) {
			chk.skipped = 1;
			for (size_t k = 0; k < CLI_REGIONS_MAX; k++)
				chk.ledger_by_region[k] = -1;
		} else if (drill_check_run(&d, &chk) != 0) {
			cli_errorf("the final state could not be read in every "
			    "region (%zu lookups failed)", chk.lookups_failed);
		}
		report = drill_report_build(&d, &chk);
		if (drill_report_write(&d, report) != 0)
			rc = CLI_EXIT_FAIL;
		if (o->json)
			cli_json_print(report);
		else if (!o->quiet)
			drill_report_print(&d, report);
		if (strcmp(cli_json_str(report, "Result"), "passed") != 0) {
			rc = CLI_EXIT_FAIL;
			if (o->quiet)
				cli_errorf("drill %s failed (%s/report.json)",
				    sc.name, d.out_dir);
		}
	}
	drill_monitor_free(&d);
	drill_load_free(&d);
	if (!d.attach)
		drill_nodes_stop(&d);
	drill_cluster_cleanup(&d);
	cli_cluster_free(&d.cluster);
	drill_check_free(&chk);
	for (size_t k = 0; k < sc.nsteps; k++)
		free(sc.steps[k].rpo.at_risk);
	cJSON_Delete(report);
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	g_drill = NULL;
	if (atomic_load(&d.interrupted) && rc == CLI_EXIT_OK)
		rc = CLI_EXIT_FAIL;
	return rc;
}
