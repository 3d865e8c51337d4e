/*
 * drill_report.c — what a drill leaves behind: report.json, history.json,
 * lag.svg and the summary on stdout.
 *
 * report.json is the same document `meridian drill --json` prints; its
 * members are listed in configs/drills/README.md.  Times in it are
 * milliseconds since the start of the load ("t0") unless named
 * otherwise.
 *
 * history.json is every client operation as Jepsen's Elle reads it in
 * its rw-register model: an array of invocation and completion events in
 * time order,
 *   {"index": i, "time": ns since t0, "process": p, "type": "invoke" |
 *    "ok" | "fail" | "info", "f": "write" | "read",
 *    "value": [["w", key, value]] or [["r", key, value-or-null]],
 *    "region": r}
 * A read's invocation carries a null value; its completion the value
 * read (null: not found).
 *
 * lag.svg is drawn by hand: log-scale axes, one series per pair (p99 of
 * each sampling interval; a gap where nothing was applied), the steps as
 * dashed vertical lines, and a legend.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

#define LIST_MAX 100

static double ms_of(uint64_t ns)
{
	return (double)(ns / 1000u) / 1000.0;
}

/* Rounds to 0.1 ms for the report. */
static double r1(double v)
{
	return round(v * 10.0) / 10.0;
}

static void add_num_or_null(cJSON *o, const char *name, double v)
{
	if (v < 0 || !isfinite(v))
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, r1(v));
}

/* The regions a step faults (bitmask). */
static uint32_t step_faulted(const drill *d, const drill_step *st)
{
	uint32_t m = 0;
	int a = drill_region_index(d, st->region);
	int b = drill_region_index(d, st->peer);

	if (a >= 0)
		m |= 1u << a;
	if (st->action == DA_PARTITION && b >= 0)
		m |= 1u << b;
	return m;
}

/* First ok write invoked at or after at_ns in a region of mask: its
 * completion time (ns since t0) or UINT64_MAX. */
static uint64_t first_ok_write(const drill *d, uint64_t at_ns, uint32_t mask,
    int *region)
{
	size_t nops;
	drill_op *ops = drill_load_ops(d, &nops);
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < nops; i++) {
		const drill_op *op = &ops[i];
		if (atomic_load(&op->state) != DRILL_OP_DONE ||
		    !op->is_write || op->result != DRILL_RES_OK ||
		    op->invoke_ns < at_ns || !(mask & (1u << op->region)))
			continue;
		if (op->complete_ns < best) {
			best = op->complete_ns;
			*region = op->region;
		}
	}
	return best;
}

/* First monitor sample at or after at_ms where every known pending count
 * is at most thr: its time, or -1. */
static double catch_up_ms(const drill *d, uint64_t at_ms, int64_t thr)
{
	size_t ns = drill_monitor_nsamples(d);

	for (size_t s = 0; s < ns; s++) {
		uint64_t t = drill_monitor_sample_ms(d, s);
		int ok = 1, known = 0;
		if (t < at_ms)
			continue;
		for (size_t a = 0; a < d->nreg; a++)
			for (size_t b = 0; b < d->nreg; b++) {
				const drill_pairstat *p;
				if (a == b)
					continue;
				p = drill_monitor_pair(d, s, a, b);
				if (p->pending < 0)
					continue;
				known = 1;
				if (p->pending > thr)
					ok = 0;
			}
		if (ok && known)
			return (double)(t - at_ms);
	}
	return -1;
}

static void value_text(const drill *d, int32_t op, char *buf, size_t len)
{
	size_t nops;
	const drill_op *ops = drill_load_ops(d, &nops);

	if (op >= 0)
		snprintf(buf, len, "%s-%d", d->reg[ops[op].region].name, op);
	else
		snprintf(buf, len, "%s", op == DRILL_SEEN_NONE ? "" : "?");
}

static cJSON *write_json(const drill *d, int32_t i)
{
	size_t nops;
	const drill_op *ops = drill_load_ops(d, &nops);
	const drill_op *op = &ops[i];
	cJSON *o = cJSON_CreateObject();
	char key[16], val[CLI_NAME_MAX + 24];

	drill_key_name(op->key, key, sizeof(key));
	value_text(d, i, val, sizeof(val));
	cJSON_AddStringToObject(o, "Key", key);
	cJSON_AddStringToObject(o, "Value", val);
	cJSON_AddStringToObject(o, "Region", d->reg[op->region].name);
	cJSON_AddNumberToObject(o, "InvokeMs", r1(ms_of(op->invoke_ns)));
	cJSON_AddNumberToObject(o, "CompleteMs", r1(ms_of(op->complete_ns)));
	return o;
}

static cJSON *stamp_json(const char *origin, uint64_t wall_ms,
    unsigned logical)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "Origin", origin);
	cJSON_AddNumberToObject(o, "WallMs", (double)wall_ms);
	cJSON_AddNumberToObject(o, "Logical", logical);
	return o;
}

static cJSON *fates_json(const size_t *counts)
{
	cJSON *o = cJSON_CreateObject();

	for (int f = 0; f < DF_COUNT_; f++)
		cJSON_AddNumberToObject(o, drill_fate_name((drill_fate)f),
		    (double)counts[f]);
	return o;
}

static cJSON *steps_json(drill *d, const drill_check *c, double *rto_max,
    size_t *rpo_max, size_t *rpo_lost)
{
	cJSON *arr = cJSON_CreateArray();
	int64_t thr = (int64_t)GT_MAX(5u, d->sc->rate_per_s / 20u);
	uint32_t load_mask = 0;

	for (size_t i = 0; i < d->nreg; i++)
		if (d->reg[i].in_load)
			load_mask |= 1u << i;
	for (size_t k = 0; k < d->sc->nsteps; k++) {
		drill_step *st = &d->sc->steps[k];
		cJSON *o = cJSON_CreateObject();
		uint32_t fm = step_faulted(d, st);
		uint64_t at_ms = st->at_ns / 1000000u;

		cJSON_AddItemToArray(arr, o);
		cJSON_AddNumberToObject(o, "AtS", st->at_s);
		cJSON_AddStringToObject(o, "Action",
		    drill_action_name(st->action));
		if (st->region[0] != '\0')
			cJSON_AddStringToObject(o, st->action == DA_LINK ?
			    "From" : "Region", st->region);
		if (st->peer[0] != '\0')
			cJSON_AddStringToObject(o, st->action == DA_LINK ? "To"
			    : st->action == DA_PARTITION ? "Peer" : "Via",
			    st->peer);
		if (st->note[0] != '\0')
			cJSON_AddStringToObject(o, "Note", st->note);
		cJSON_AddBoolToObject(o, "Done", st->done);
		if (!st->done)
			continue;
		cJSON_AddBoolToObject(o, "Ok", st->ok);
		if (st->err[0] != '\0')
			cJSON_AddStringToObject(o, "Error", st->err);
		cJSON_AddNumberToObject(o, "ExecutedAtMs", r1(ms_of(
		    st->at_ns)));
		cJSON_AddNumberToObject(o, "TookMs", (double)st->took_ms);
		if (st->action == DA_RESTART || st->action == DA_ADD_REPLICA ||
		    st->action == DA_DROP_REPLICA) {
			if (st->waiting)
				cJSON_AddNullToObject(o, "ReadyAfterMs");
			else
				cJSON_AddNumberToObject(o, "ReadyAfterMs",
				    (double)st->ready_ms);
		}
		if (st->action == DA_RESTART) {
			int rg = -1;
			uint64_t t = first_ok_write(d, st->at_ns, fm, &rg);
			add_num_or_null(o, "FirstWriteAfterMs", t == UINT64_MAX
			    ? -1 : ms_of(t - st->at_ns));
		}
		if (st->action == DA_HEAL)
			add_num_or_null(o, "PendingReplicationBeforeHeal",
			    (double)st->rpo.pending_sum);
		if (st->action == DA_HEAL || st->action == DA_RESTART)
			add_num_or_null(o, "CatchUpMs", catch_up_ms(d, at_ms,
			    thr));
		if (drill_action_is_fault(st->action) && st->ok) {
			cJSON *rto = cJSON_AddObjectToObject(o, "Rto");
			uint32_t surv = load_mask & ~fm;
			int rg = -1, rf = -1;
			uint64_t t;

			if (surv == 0)
				surv = load_mask;
			t = first_ok_write(d, st->at_ns, surv, &rg);
			add_num_or_null(rto, "FirstWriteSurvivingMs",
			    t == UINT64_MAX ? -1 : ms_of(t - st->at_ns));
			if (rg >= 0)
				cJSON_AddStringToObject(rto, "SurvivingRegion",
				    d->reg[rg].name);
			if (t != UINT64_MAX && ms_of(t - st->at_ns) > *rto_max)
				*rto_max = ms_of(t - st->at_ns);
			t = first_ok_write(d, st->at_ns, fm & load_mask, &rf);
			add_num_or_null(rto, "FirstWriteFaultedMs",
			    t == UINT64_MAX ? -1 : ms_of(t - st->at_ns));
		}
		if (st->rpo.sampled) {
			cJSON *rpo = cJSON_AddObjectToObject(o, "Rpo");
			size_t fates[DF_COUNT_] = {0}, lost = 0;
			for (size_t a = 0; a < st->rpo.nat_risk; a++) {
				int32_t w = st->rpo.at_risk[a];
				uint8_t f = c->fate != NULL ? c->fate[w] : 0xff;
				if (f < DF_COUNT_)
					fates[f]++;
				if (f == DF_LOST)
					lost++;
			}
			if (st->rpo.pending_sum >= 0) {
				cJSON_AddNumberToObject(rpo,
				    "PendingReplicationAtFault",
				    (double)st->rpo.pending_sum);
				cJSON_AddNumberToObject(rpo,
				    "PendingReplicationMaxDestination",
				    (double)st->rpo.pending_max);
			} else {
				cJSON_AddNullToObject(rpo,
				    "PendingReplicationAtFault");
			}
			cJSON_AddNumberToObject(rpo, "WritesChecked",
			    (double)st->rpo.checked);
			cJSON_AddNumberToObject(rpo, "UnreplicatedAtFault",
			    (double)st->rpo.unreplicated_any);
			cJSON_AddNumberToObject(rpo, "UnreplicatedAnywhere",
			    (double)st->rpo.unreplicated_all);
			cJSON_AddNumberToObject(rpo, "LookupsFailed",
			    (double)st->rpo.lookups_failed);
			if (c->skipped) {
				cJSON_AddNullToObject(rpo,
				    "DeliveredAfterHeal");
				cJSON_AddNullToObject(rpo, "LostAfterHeal");
			} else {
				cJSON_AddNumberToObject(rpo,
				    "DeliveredAfterHeal",
				    (double)(st->rpo.nat_risk - lost));
				cJSON_AddNumberToObject(rpo, "LostAfterHeal",
				    (double)lost);
				cJSON_AddItemToObject(rpo, "FatesAfterHeal",
				    fates_json(fates));
			}
			if (st->rpo.unreplicated_any > *rpo_max)
				*rpo_max = st->rpo.unreplicated_any;
			*rpo_lost += lost;
		}
	}
	return arr;
}

static cJSON *load_json(drill *d)
{
	cJSON *o = cJSON_CreateObject(), *by, *w, *r;
	size_t nops, done = 0;
	drill_op *ops = drill_load_ops(d, &nops);
	uint64_t cnt[CLI_REGIONS_MAX][2][3];
	static const char *const res_names[] = {"Ok", "Failed", "Unknown"};

	memset(cnt, 0, sizeof(cnt));
	for (size_t i = 0; i < nops; i++) {
		const drill_op *op = &ops[i];
		if (atomic_load(&op->state) != DRILL_OP_DONE)
			continue;
		done++;
		cnt[op->region][op->is_write][op->result]++;
	}
	cJSON_AddNumberToObject(o, "RatePerS", d->sc->rate_per_s);
	cJSON_AddNumberToObject(o, "Keys", d->sc->keys);
	cJSON_AddNumberToObject(o, "HotKeys", d->sc->hot_keys);
	cJSON_AddNumberToObject(o, "HotFraction", d->sc->hot_fraction);
	cJSON_AddNumberToObject(o, "ReadFraction", d->sc->read_fraction);
	cJSON_AddNumberToObject(o, "Threads", d->sc->threads);
	cJSON_AddNumberToObject(o, "Operations", (double)done);
	cJSON_AddNumberToObject(o, "AchievedRatePerS", d->load_end_ns > 0 ?
	    round((double)done / ((double)d->load_end_ns / 1e9) * 10) / 10 :
	    0);
	w = cJSON_AddObjectToObject(o, "Writes");
	r = cJSON_AddObjectToObject(o, "Reads");
	for (int k = 0; k < 3; k++) {
		uint64_t sw = 0, sr = 0;
		for (size_t i = 0; i < d->nreg; i++) {
			sw += cnt[i][1][k];
			sr += cnt[i][0][k];
		}
		cJSON_AddNumberToObject(w, res_names[k], (double)sw);
		cJSON_AddNumberToObject(r, res_names[k], (double)sr);
	}
	by = cJSON_AddObjectToObject(o, "ByRegion");
	for (size_t i = 0; i < d->nreg; i++) {
		cJSON *x;
		if (!d->reg[i].in_load)
			continue;
		x = cJSON_AddObjectToObject(by, d->reg[i].name);
		cJSON_AddNumberToObject(x, "WritesAcknowledged",
		    (double)cnt[i][1][0]);
		cJSON_AddNumberToObject(x, "WritesFailed",
		    (double)cnt[i][1][1]);
		cJSON_AddNumberToObject(x, "WritesUnknown",
		    (double)cnt[i][1][2]);
		cJSON_AddNumberToObject(x, "ReadsOk", (double)cnt[i][0][0]);
		cJSON_AddNumberToObject(x, "ReadsFailed",
		    (double)(cnt[i][0][1] + cnt[i][0][2]));
	}
	cJSON_AddItemToObject(o, "Errors", drill_load_errors_json(d));
	return o;
}

static cJSON *latency_json(drill *d)
{
	cJSON *o = cJSON_CreateObject(), *pairs;
	size_t ns = drill_monitor_nsamples(d);

	cJSON_AddNumberToObject(o, "IntervalMs", d->sc->sample_ms);
	pairs = cJSON_AddArrayToObject(o, "Pairs");
	for (size_t a = 0; a < d->nreg; a++)
		for (size_t b = 0; b < d->nreg; b++) {
			cJSON *p, *series;
			double p50, p99;
			uint64_t n;
			if (a == b)
				continue;
			p = cJSON_CreateObject();
			cJSON_AddItemToArray(pairs, p);
			cJSON_AddStringToObject(p, "Source", d->reg[a].name);
			cJSON_AddStringToObject(p, "Destination",
			    d->reg[b].name);
			drill_monitor_pair_total(d, a, b, &p50, &p99, &n);
			add_num_or_null(p, "P50Ms", p50);
			add_num_or_null(p, "P99Ms", p99);
			cJSON_AddNumberToObject(p, "Records", (double)n);
			series = cJSON_AddArrayToObject(p, "Series");
			for (size_t s = 0; s < ns; s++) {
				const drill_pairstat *x = drill_monitor_pair(d,
				    s, a, b);
				cJSON *e = cJSON_CreateObject();
				cJSON_AddNumberToObject(e, "TMs", (double)
				    drill_monitor_sample_ms(d, s));
				add_num_or_null(e, "P50Ms", x->p50);
				add_num_or_null(e, "P99Ms", x->p99);
				cJSON_AddNumberToObject(e, "Records",
				    (double)x->n);
				if (x->pending >= 0)
					cJSON_AddNumberToObject(e, "Pending",
					    (double)x->pending);
				else
					cJSON_AddNullToObject(e, "Pending");
				cJSON_AddItemToArray(series, e);
			}
		}
	return o;
}

static cJSON *final_json(drill *d, const drill_check *c)
{
	cJSON *o = cJSON_CreateObject(), *lost, *cl, *fv;
	size_t nops, nl = 0, nc = 0;
	drill_op *ops = drill_load_ops(d, &nops);

	cJSON_AddNumberToObject(o, "KeysRead", (double)c->nkeys_read);
	cJSON_AddNumberToObject(o, "KeysDiverged", (double)c->nkeys_diverged);
	cJSON_AddNumberToObject(o, "LookupsFailed", (double)c->lookups_failed);
	cJSON_AddNumberToObject(o, "AcknowledgedWrites",
	    (double)c->acked_writes);
	cJSON_AddItemToObject(o, "Fates", fates_json(c->fate_count));
	cJSON_AddNumberToObject(o, "LostWrites",
	    (double)c->fate_count[DF_LOST]);
	cJSON_AddNumberToObject(o, "FailedWritesVisible",
	    (double)c->failed_visible);
	cJSON_AddNumberToObject(o, "ForeignValues", (double)c->foreign_values);
	lost = cJSON_AddArrayToObject(o, "Lost");
	for (size_t i = 0; i < nops && c->fate != NULL; i++)
		if (c->fate[i] == DF_LOST && nl++ < LIST_MAX)
			cJSON_AddItemToArray(lost, write_json(d, (int32_t)i));
	cl = cJSON_AddArrayToObject(o, "ConflictLosses");
	for (size_t i = 0; i < c->nledger; i++) {
		const drill_ledger_entry *x = &c->ledger[i];
		cJSON *e;
		char wv[CLI_NAME_MAX + 24];
		if (x->loser_op < 0 || c->fate == NULL ||
		    c->fate[x->loser_op] != DF_CONFLICT_LOSS)
			continue;
		/* One entry per losing write (every region records it). */
		{
			int dup = 0;
			for (size_t j = 0; j < i && !dup; j++)
				dup = c->ledger[j].loser_op == x->loser_op;
			if (dup)
				continue;
		}
		if (nc++ >= LIST_MAX)
			continue;
		e = write_json(d, x->loser_op);
		cJSON_AddStringToObject(e, "DetectedIn", x->region);
		cJSON_AddItemToObject(e, "LoserStamp", stamp_json(
		    x->loser_origin, x->loser_wall_ms, x->loser_logical));
		cJSON_AddItemToObject(e, "WinnerStamp", stamp_json(
		    x->winner_origin, x->winner_wall_ms, x->winner_logical));
		if (x->winner_op >= 0) {
			value_text(d, x->winner_op, wv, sizeof(wv));
			cJSON_AddStringToObject(e, "WinnerValue", wv);
		}
		cJSON_AddItemToArray(cl, e);
	}
	cJSON_AddNumberToObject(o, "ConflictLossesListed",
	    (double)GT_MIN(nc, (size_t)LIST_MAX));
	fv = cJSON_AddArrayToObject(o, "FailedWritesVisibleList");
	for (size_t k = 0, n = 0; k < d->sc->keys && c->final != NULL; k++) {
		int32_t op = c->final[k].op;
		if (c->final[k].found && op >= 0 &&
		    ops[op].result == DRILL_RES_FAIL && n++ < LIST_MAX)
			cJSON_AddItemToArray(fv, write_json(d, op));
	}
	return o;
}

cJSON *drill_report_build(drill *d, const drill_check *c)
{
	cJSON *doc = cJSON_CreateObject(), *x, *fails, *regs, *heal, *cf;
	double rto_max = -1;
	size_t rpo_max = 0, rpo_lost = 0;
	size_t lost = c->fate_count[DF_LOST];
	int64_t ledger_total = 0;
	char path[DRILL_PATH_MAX + 32];
	int ok;

	cJSON_AddStringToObject(doc, "Drill", d->sc->name);
	cJSON_AddStringToObject(doc, "Scenario", d->sc->path);
	if (d->sc->description[0] != '\0')
		cJSON_AddStringToObject(doc, "Description",
		    d->sc->description);
	x = cJSON_AddStringToObject(doc, "Result", "");
	fails = cJSON_AddArrayToObject(doc, "Failures");
	cJSON_AddBoolToObject(doc, "Converged", d->converged);
	cJSON_AddNumberToObject(doc, "LostWrites", (double)lost);
	cJSON_AddStringToObject(doc, "Mode", d->attach ? "attached" :
	    "spawned");
	cJSON_AddStringToObject(doc, "Config", d->config_path);
	if (!d->attach) {
		cJSON_AddStringToObject(doc, "SourceConfig", d->source_config);
		cJSON_AddStringToObject(doc, "DataDir", d->data_dir);
		cJSON_AddBoolToObject(doc, "DataKept", d->keep_data);
	}
	regs = cJSON_AddArrayToObject(doc, "Regions");
	for (size_t i = 0; i < d->nreg; i++)
		cJSON_AddItemToArray(regs, cJSON_CreateString(d->reg[i].name));
	cJSON_AddStringToObject(doc, "Table", d->table);
	cJSON_AddNumberToObject(doc, "Seed", (double)d->sc->seed);
	cJSON_AddNumberToObject(doc, "DurationS", d->sc->duration_s);
	cJSON_AddNumberToObject(doc, "StartedAtUnixMs", (double)d->t0_wall_ms);
	cJSON_AddItemToObject(doc, "Load", load_json(d));
	cJSON_AddItemToObject(doc, "Steps", steps_json(d, c, &rto_max,
	    &rpo_max, &rpo_lost));
	heal = cJSON_AddObjectToObject(doc, "Heal");
	cJSON_AddNumberToObject(heal, "LoadEndMs", r1(ms_of(d->load_end_ns)));
	cJSON_AddNumberToObject(heal, "AtMs", r1(ms_of(d->heal_ns)));
	cJSON_AddBoolToObject(heal, "Converged", d->converged);
	if (d->converged)
		cJSON_AddNumberToObject(heal, "ConvergedAfterMs",
		    (double)d->converge_ms);
	else
		cJSON_AddNullToObject(heal, "ConvergedAfterMs");
	cJSON_AddNumberToObject(heal, "Holders", (double)d->nholders);
	cJSON_AddNumberToObject(heal, "Items", (double)d->final_items);
	cJSON_AddStringToObject(heal, "Digest", d->final_digest);
	cJSON_AddNumberToObject(heal, "VerifyExit", d->verify_rc);
	x = cJSON_AddObjectToObject(doc, "Rpo");
	cJSON_AddNumberToObject(x, "MaxUnreplicatedAtFault", (double)rpo_max);
	cJSON_AddNumberToObject(x, "LostAfterHeal", (double)rpo_lost);
	x = cJSON_AddObjectToObject(doc, "Rto");
	add_num_or_null(x, "MaxFirstWriteSurvivingMs", rto_max);
	if (d->converged)
		cJSON_AddNumberToObject(x, "HealToConvergenceMs",
		    (double)d->converge_ms);
	else
		cJSON_AddNullToObject(x, "HealToConvergenceMs");
	if (c->skipped)
		cJSON_AddNullToObject(doc, "FinalState");
	else
		cJSON_AddItemToObject(doc, "FinalState", final_json(d, c));
	cf = cJSON_AddObjectToObject(doc, "Conflicts");
	x = cJSON_AddObjectToObject(cf, "Regions");
	for (size_t i = 0; i < d->nreg; i++) {
		cJSON *e = cJSON_AddObjectToObject(x, d->reg[i].name);
		int64_t m = drill_monitor_conflicts(d, i);
		if (m >= 0)
			cJSON_AddNumberToObject(e, "ConflictsTotal",
			    (double)m);
		else
			cJSON_AddNullToObject(e, "ConflictsTotal");
		if (c->ledger_by_region[i] >= 0) {
			cJSON_AddNumberToObject(e, "LedgerEntries",
			    (double)c->ledger_by_region[i]);
			ledger_total += c->ledger_by_region[i];
		} else {
			cJSON_AddNullToObject(e, "LedgerEntries");
		}
	}
	cJSON_AddNumberToObject(cf, "LedgerEntries", (double)ledger_total);
	cJSON_AddNumberToObject(cf, "AcknowledgedWritesLost",
	    (double)c->fate_count[DF_CONFLICT_LOSS]);
	cJSON_AddItemToObject(doc, "ReplicationLatency", latency_json(d));
	x = cJSON_AddObjectToObject(doc, "Files");
	cJSON_AddStringToObject(x, "Dir", d->out_dir);
	snprintf(path, sizeof(path), "%s/report.json", d->out_dir);
	cJSON_AddStringToObject(x, "Report", path);
	snprintf(path, sizeof(path), "%s/history.json", d->out_dir);
	cJSON_AddStringToObject(x, "History", path);
	snprintf(path, sizeof(path), "%s/lag.svg", d->out_dir);
	cJSON_AddStringToObject(x, "LagSvg", path);
	if (!d->attach) {
		snprintf(path, sizeof(path), "%s/logs", d->out_dir);
		cJSON_AddStringToObject(x, "Logs", path);
	}

	/* The verdict.  An interrupted drill has none but that. */
	if (atomic_load(&d->interrupted))
		cJSON_AddItemToArray(fails, cJSON_CreateString("interrupted"));
	else if (!d->converged)
		cJSON_AddItemToArray(fails, cJSON_CreateString("the regions "
		    "did not converge"));
	if (c->nkeys_diverged > 0)
		cJSON_AddItemToArray(fails, cJSON_CreateString("regions "
		    "disagree on some keys"));
	if (lost > 0)
		cJSON_AddItemToArray(fails, cJSON_CreateString("acknowledged "
		    "writes were lost"));
	if (c->failed_visible > 0)
		cJSON_AddItemToArray(fails, cJSON_CreateString("writes that "
		    "failed are visible"));
	if (!c->skipped && (c->lookups_failed > 0 || (c->nkeys_read > 0 &&
	    d->nholders == 0)))
		cJSON_AddItemToArray(fails, cJSON_CreateString("the final "
		    "state could not be read completely"));
	ok = cJSON_GetArraySize(fails) == 0;
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "Result",
	    cJSON_CreateString(ok ? "passed" : "failed"));
	return doc;
}

/* -------------------------------------------------------------- files */

static int write_doc(const char *path, const cJSON *doc)
{
	char *s = cJSON_Print(doc);
	FILE *f;
	int ok;

	if (s == NULL)
		return -1;
	f = fopen(path, "w");
	if (f == NULL) {
		cJSON_free(s);
		return -1;
	}
	ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF;
	ok = fclose(f) == 0 && ok;
	cJSON_free(s);
	return ok ? 0 : -1;
}

typedef struct hev {
	uint64_t t;
	uint32_t op;
	uint32_t kind;      /* 0 invoke, 1 completion */
} hev;

static int hev_cmp(const void *a, const void *b)
{
	const hev *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->op != y->op && x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

int drill_history_write(drill *d, const char *path)
{
	static const char *const types[] = {"ok", "fail", "info"};
	size_t nops, nev = 0;
	drill_op *ops = drill_load_ops(d, &nops);
	hev *ev = malloc((2 * nops + 1) * sizeof(*ev));
	FILE *f;
	int ok;

	if (ev == NULL)
		return -1;
	for (size_t i = 0; i < nops; i++) {
		if (atomic_load(&ops[i].state) != DRILL_OP_DONE)
			continue;
		ev[nev++] = (hev){ops[i].invoke_ns, (uint32_t)i, 0};
		ev[nev++] = (hev){ops[i].complete_ns, (uint32_t)i, 1};
	}
	qsort(ev, nev, sizeof(*ev), hev_cmp);
	f = fopen(path, "w");
	if (f == NULL) {
		free(ev);
		return -1;
	}
	fputs("[\n", f);
	for (size_t e = 0; e < nev; e++) {
		const drill_op *op = &ops[ev[e].op];
		char key[16], val[CLI_NAME_MAX + 40];
		const char *rn = d->reg[op->region].name;

		drill_key_name(op->key, key, sizeof(key));
		if (op->is_write) {
			snprintf(val, sizeof(val), "\"%s-%u\"", rn, ev[e].op);
		} else if (ev[e].kind == 0 || op->result != DRILL_RES_OK ||
		    op->seen == DRILL_SEEN_NONE) {
			snprintf(val, sizeof(val), "null");
		} else if (op->seen >= 0) {
			snprintf(val, sizeof(val), "\"%s-%d\"",
			    d->reg[ops[op->seen].region].name, op->seen);
		} else {
			snprintf(val, sizeof(val), "\"?\"");
		}
		fprintf(f, "{\"index\":%zu,\"time\":%llu,\"process\":%u,"
		    "\"type\":\"%s\",\"f\":\"%s\",\"value\":[[\"%s\",\"%s\","
		    "%s]],\"region\":\"%s\"}%s\n", e,
		    (unsigned long long)ev[e].t, op->process,
		    ev[e].kind == 0 ? "invoke" : types[op->result],
		    op->is_write ? "write" : "read", op->is_write ? "w" : "r",
		    key, val, rn, e + 1 < nev ? "," : "");
	}
	fputs("]\n", f);
	ok = !ferror(f);
	ok = fclose(f) == 0 && ok;
	free(ev);
	return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- SVG */

static const char *const palette[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
	"#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#ad494a",
};

static void xml_text(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
			break;
		}
	}
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for span/n. */
static double nice_step(double span, int n)
{
	double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;

	if (m <= 1)
		return p;
	if (m <= 2)
		return 2 * p;
	if (m <= 5)
		return 5 * p;
	return 10 * p;
}

int drill_svg_write(drill *d, const char *path)
{
	const double W = 960, H = 440, ml = 70, mr = 210, mt = 40, mb = 50;
	const double pw = W - ml - mr, ph = H - mt - mb;
	size_t ns = drill_monitor_nsamples(d);
	double tmax = 1, ymax = 10, ydec, xstep;
	size_t color = 0, nseries = 0;
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	for (size_t s = 0; s < ns; s++) {
		tmax = GT_MAX(tmax, (double)drill_monitor_sample_ms(d, s) /
		    1000.0);
		for (size_t a = 0; a < d->nreg; a++)
			for (size_t b = 0; b < d->nreg; b++)
				if (a != b)
					ymax = GT_MAX(ymax, drill_monitor_pair(
					    d, s, a, b)->p99);
	}
	ydec = ceil(log10(ymax));
	if (ydec < 1)
		ydec = 1;
	xstep = nice_step(tmax, 10);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	    "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
	    "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" "
	    "fill=\"white\"/>\n", W, H);
	fputs("<title>", f);
	xml_text(f, d->sc->name);
	fputs(": replication latency p99 per pair</title>\n", f);
	fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" "
	    "font-weight=\"bold\">", ml);
	xml_text(f, d->sc->name);
	fprintf(f, " — replication latency p99 per %u ms (ms, log "
	    "scale)</text>\n", d->sc->sample_ms);
	/* Axes and grid. */
	fprintf(f, "<g stroke=\"#ccc\" stroke-width=\"1\">\n");
	for (int k = 0; k <= (int)ydec; k++) {
		double y = mt + ph - ph * k / ydec;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\"/>\n", ml, y, ml + pw, y);
	}
	for (double t = 0; t <= tmax + 1e-9; t += xstep) {
		double x = ml + pw * t / tmax;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\"/>\n", x, mt, x, mt + ph);
	}
	fputs("</g>\n", f);
	fprintf(f, "<g stroke=\"black\" stroke-width=\"1\">\n"
	    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
	    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
	    "</g>\n", ml, mt, ml, mt + ph, ml, mt + ph, ml + pw, mt + ph);
	fputs("<g text-anchor=\"end\">\n", f);
	for (int k = 0; k <= (int)ydec; k++)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.0f</text>\n", ml - 6,
		    mt + ph - ph * k / ydec + 4, pow(10, k));
	fputs("</g>\n<g text-anchor=\"middle\">\n", f);
	for (double t = 0; t <= tmax + 1e-9; t += xstep)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%g</text>\n",
		    ml + pw * t / tmax, mt + ph + 16, t);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">seconds since the start of "
	    "the load</text>\n", ml + pw / 2, H - 10);
	fputs("</g>\n", f);
	fprintf(f, "<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 "
	    "%.1f)\" text-anchor=\"middle\">p99 latency (ms)</text>\n",
	    mt + ph / 2, mt + ph / 2);
	/* Steps and the heal. */
	fputs("<g stroke=\"#555\" stroke-dasharray=\"4 3\" "
	    "stroke-width=\"1\">\n", f);
	for (size_t k = 0; k < d->sc->nsteps; k++) {
		const drill_step *st = &d->sc->steps[k];
		double x;
		if (!st->done)
			continue;
		x = ml + pw * (double)st->at_ns / 1e9 / tmax;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\"/>\n", x, mt, x, mt + ph);
	}
	if (d->heal_ns > 0)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" stroke=\"#090\"/>\n", ml + pw *
		    (double)d->heal_ns / 1e9 / tmax, mt, ml + pw *
		    (double)d->heal_ns / 1e9 / tmax, mt + ph);
	fputs("</g>\n<g font-size=\"10\" fill=\"#333\">\n", f);
	for (size_t k = 0; k < d->sc->nsteps; k++) {
		const drill_step *st = &d->sc->steps[k];
		double x;
		if (!st->done)
			continue;
		x = ml + pw * (double)st->at_ns / 1e9 / tmax + 3;
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(90 "
		    "%.1f %.1f)\">", x, mt + 4, x, mt + 4);
		xml_text(f, drill_action_name(st->action));
		if (st->region[0] != '\0') {
			fputc(' ', f);
			xml_text(f, st->region);
		}
		fputs("</text>\n", f);
	}
	if (d->heal_ns > 0) {
		double x = ml + pw * (double)d->heal_ns / 1e9 / tmax + 3;
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(90 "
		    "%.1f %.1f)\" fill=\"#090\">heal</text>\n", x, mt + 4, x,
		    mt + 4);
	}
	fputs("</g>\n", f);
	/* One series per pair. */
	for (size_t a = 0; a < d->nreg; a++)
		for (size_t b = 0; b < d->nreg; b++) {
			const char *col;
			int open = 0;
			if (a == b)
				continue;
			col = palette[color++ % GT_ARRAY_LEN(palette)];
			fprintf(f, "<g class=\"pair\" data-source=\"%s\" "
			    "data-destination=\"%s\" fill=\"none\" "
			    "stroke=\"%s\" stroke-width=\"1.6\">\n",
			    d->reg[a].name, d->reg[b].name, col);
			for (size_t s = 0; s < ns; s++) {
				const drill_pairstat *x = drill_monitor_pair(d,
				    s, a, b);
				double t, v, px, py;
				if (x->p99 < 0) {
					if (open)
						fputs("\"/>\n", f);
					open = 0;
					continue;
				}
				t = (double)drill_monitor_sample_ms(d, s) /
				    1000.0;
				v = GT_MAX(x->p99, 1.0);
				px = ml + pw * t / tmax;
				py = mt + ph - ph * log10(v) / ydec;
				if (!open)
					fputs("<polyline points=\"", f);
				fprintf(f, "%s%.1f,%.1f", open ? " " : "", px,
				    py);
				open = 1;
			}
			if (open)
				fputs("\"/>\n", f);
			fputs("</g>\n", f);
			/* Legend entry. */
			{
				double ly = mt + 8 + 18 * (double)nseries++;
				double lx = ml + pw + 16;
				fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" "
				    "x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				    "stroke-width=\"3\"/>\n<text x=\"%.1f\" "
				    "y=\"%.1f\">", lx, ly, lx + 22, ly, col,
				    lx + 28, ly + 4);
				xml_text(f, d->reg[a].name);
				fputs(" → ", f);
				xml_text(f, d->reg[b].name);
				fputs("</text>\n", f);
			}
		}
	fputs("</svg>\n", f);
	ok = !ferror(f);
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : -1;
}

int drill_report_write(drill *d, const cJSON *report)
{
	char path[DRILL_PATH_MAX + 32];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/report.json", d->out_dir);
	if (write_doc(path, report) != 0) {
		cli_errorf("cannot write %s", path);
		rc = -1;
	}
	snprintf(path, sizeof(path), "%s/history.json", d->out_dir);
	if (drill_history_write(d, path) != 0) {
		cli_errorf("cannot write %s", path);
		rc = -1;
	}
	snprintf(path, sizeof(path), "%s/lag.svg", d->out_dir);
	if (drill_svg_write(d, path) != 0) {
		cli_errorf("cannot write %s", path);
		rc = -1;
	}
	return rc;
}

/* ------------------------------------------------------------ summary */

static double jnum(const cJSON *o, const char *path_a, const char *path_b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path_a);

	if (path_b != NULL)
		x = cJSON_GetObjectItemCaseSensitive(x, path_b);
	return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static void print_ms(const char *label, double v)
{
	if (v < 0)
		printf("%s -", label);
	else
		printf("%s %.0f ms", label, v);
}

void drill_report_print(drill *d, const cJSON *report)
{
	const cJSON *load = cJSON_GetObjectItemCaseSensitive(report, "Load");
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(load, "ByRegion");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(report, "Steps");
	const cJSON *fs = cJSON_GetObjectItemCaseSensitive(report,
	    "FinalState");
	const cJSON *fails = cJSON_GetObjectItemCaseSensitive(report,
	    "Failures");
	const cJSON *st, *e;
	const char *result = cli_json_str(report, "Result");
	cli_tab t;
	static const char *const hdr[] = {"region", ">writes ok",
	    ">failed", ">unknown", ">reads ok", ">failed"};

	printf("\nDrill %s: %s", d->sc->name, result);
	if (cJSON_GetArraySize(fails) > 0) {
		int first = 1;
		printf(" (");
		cJSON_ArrayForEach(e, fails) {
			printf("%s%s", first ? "" : "; ", e->valuestring);
			first = 0;
		}
		printf(")");
	}
	printf("\n  %s cluster of %zu regions, table %s, %.1f s at %u ops/s "
	    "(achieved %.1f), seed %llu\n", d->attach ? "attached" :
	    "spawned", d->nreg, d->table, d->sc->duration_s,
	    d->sc->rate_per_s, jnum(load, "AchievedRatePerS", NULL),
	    (unsigned long long)d->sc->seed);
	cli_tab_init(&t, 6, hdr);
	cJSON_ArrayForEach(e, by) {
		char c[5][24];
		const char *row[6];
		snprintf(c[0], 24, "%.0f", jnum(e, "WritesAcknowledged", NULL));
		snprintf(c[1], 24, "%.0f", jnum(e, "WritesFailed", NULL));
		snprintf(c[2], 24, "%.0f", jnum(e, "WritesUnknown", NULL));
		snprintf(c[3], 24, "%.0f", jnum(e, "ReadsOk", NULL));
		snprintf(c[4], 24, "%.0f", jnum(e, "ReadsFailed", NULL));
		row[0] = e->string;
		for (int k = 0; k < 5; k++)
			row[k + 1] = c[k];
		cli_tab_row(&t, row);
	}
	putchar('\n');
	cli_tab_print(&t, "  ");
	cli_tab_free(&t);
	if (cJSON_GetArraySize(steps) > 0)
		printf("\n  Steps:\n");
	cJSON_ArrayForEach(st, steps) {
		const cJSON *rpo = cJSON_GetObjectItemCaseSensitive(st, "Rpo");
		const cJSON *rto = cJSON_GetObjectItemCaseSensitive(st, "Rto");
		const char *err = cli_json_str(st, "Error");
		const char *a = cli_json_str(st, "Region");
		const char *b = cli_json_str(st, "Peer");
		char what[160];

		if (a == NULL)
			a = cli_json_str(st, "From");
		if (b == NULL)
			b = cli_json_str(st, "To");
		snprintf(what, sizeof(what), "%s%s%s%s%s",
		    cli_json_str(st, "Action"), a ? " " : "", a ? a : "",
		    b ? (cli_json_str(st, "To") ? " -> " : " / ") : "",
		    b ? b : "");
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st,
		    "Done"))) {
			printf("    %7.2fs  %-36s not run\n",
			    jnum(st, "AtS", NULL), what);
			continue;
		}
		printf("    %7.2fs  %-36s %s", jnum(st, "ExecutedAtMs", NULL) /
		    1000.0, what, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    st, "Ok")) ? "ok" : "FAILED");
		if (err != NULL)
			printf(": %s", err);
		if (jnum(st, "ReadyAfterMs", NULL) >= 0)
			printf(" (ready after %.0f ms)", jnum(st,
			    "ReadyAfterMs", NULL));
		putchar('\n');
		if (rpo != NULL) {
			printf("              RPO: %.0f of %.0f acknowledged "
			    "writes not yet replicated at the fault (%.0f "
			    "nowhere else)", jnum(rpo, "UnreplicatedAtFault",
			    NULL), jnum(rpo, "WritesChecked", NULL), jnum(rpo,
			    "UnreplicatedAnywhere", NULL));
			if (jnum(rpo, "PendingReplicationAtFault", NULL) >= 0)
				printf("; server pending %.0f", jnum(rpo,
				    "PendingReplicationAtFault", NULL));
			if (jnum(rpo, "DeliveredAfterHeal", NULL) >= 0)
				printf("; after heal: %.0f delivered, %.0f "
				    "lost", jnum(rpo, "DeliveredAfterHeal",
				    NULL), jnum(rpo, "LostAfterHeal", NULL));
			putchar('\n');
		}
		if (rto != NULL) {
			print_ms("              RTO: first write in a surviving "
			    "region after", jnum(rto, "FirstWriteSurvivingMs",
			    NULL));
			print_ms("; in the faulted region after", jnum(rto,
			    "FirstWriteFaultedMs", NULL));
			putchar('\n');
		}
		if (cJSON_GetObjectItemCaseSensitive(st,
		    "FirstWriteAfterMs") != NULL) {
			print_ms("              first write there after",
			    jnum(st, "FirstWriteAfterMs", NULL));
			putchar('\n');
		}
		if (jnum(st, "PendingReplicationBeforeHeal", NULL) >= 0)
			printf("              %.0f writes were waiting for "
			    "replication before the heal\n", jnum(st,
			    "PendingReplicationBeforeHeal", NULL));
		if (cJSON_GetObjectItemCaseSensitive(st, "CatchUpMs")) {
			print_ms("              replication caught up after",
			    jnum(st, "CatchUpMs", NULL));
			putchar('\n');
		}
	}
	printf("\n  Heal at %.2f s: ", (double)d->heal_ns / 1e9);
	if (atomic_load(&d->interrupted))
		printf("not waited for (interrupted)\n");
	else if (d->converged)
		printf("converged after %llu ms (%zu regions hold %zu items, "
		    "digest %.12s)\n", (unsigned long long)d->converge_ms,
		    d->nholders, d->final_items, d->final_digest);
	else
		printf("NOT converged within %u s\n",
		    d->sc->converge_timeout_s);
	if (!cJSON_IsObject(fs)) {
		printf("  Final state: not checked (interrupted)\n");
		goto files;
	}
	printf("  Final state: %.0f acknowledged writes: %.0f final, %.0f "
	    "overwritten, %.0f conflict losses, %.0f superseded, %.0f "
	    "dropped, %.0f LOST\n", jnum(fs, "AcknowledgedWrites", NULL),
	    jnum(fs, "Fates", "final"), jnum(fs, "Fates", "overwritten"),
	    jnum(fs, "Fates", "conflict_loss"), jnum(fs, "Fates",
	    "superseded"), jnum(fs, "Fates", "dropped_with_replica"),
	    jnum(fs, "LostWrites", NULL));
	if (jnum(fs, "KeysDiverged", NULL) > 0)
		printf("  %.0f keys differ between regions\n",
		    jnum(fs, "KeysDiverged", NULL));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(fs, "Lost")) {
		printf("    lost: %s = %s (written in %s at %.1f ms)\n",
		    cli_json_str(e, "Key"), cli_json_str(e, "Value"),
		    cli_json_str(e, "Region"), jnum(e, "CompleteMs", NULL));
	}
	printf("  Conflicts (ledger entries):");
	for (size_t i = 0; i < d->nreg; i++) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(report, "Conflicts"),
		    "Regions"), d->reg[i].name);
		double v = jnum(r, "LedgerEntries", NULL);
		if (v >= 0)
			printf(" %s %.0f", d->reg[i].name, v);
		else
			printf(" %s -", d->reg[i].name);
	}
	printf("\n  Replication latency p50/p99 (ms):\n");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(report, "ReplicationLatency"),
	    "Pairs")) {
		double n = jnum(e, "Records", NULL);
		char pair[2 * CLI_NAME_MAX + 8];
		if (n <= 0)
			continue;
		snprintf(pair, sizeof(pair), "%s -> %s", cli_json_str(e,
		    "Source"), cli_json_str(e, "Destination"));
		printf("    %-40s %8.1f %8.1f  (%.0f records)\n", pair,
		    jnum(e, "P50Ms", NULL), jnum(e, "P99Ms", NULL), n);
	}
files:
	printf("\n  Report:  %s/report.json\n  History: %s/history.json\n"
	    "  Chart:   %s/lag.svg\n", d->out_dir, d->out_dir, d->out_dir);
}
