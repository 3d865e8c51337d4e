/*
 * drill_check.c — what happened to every acknowledged write.
 *
 * The rule: after heal and convergence, each key's value must be the
 * acknowledged write with the largest stamp.  The client does not see
 * stamps, so instead each acknowledged write that is not final must be
 * shown to have been superseded, by one of these pieces of evidence, in
 * this order:
 *   1. conflict loss: a region's conflict ledger (POST /admin/conflicts)
 *      records it as the loser of a last-writer-wins conflict, with both
 *      stamps;
 *   2. overwritten: a later acknowledged PutItem returned it as the old
 *      item (ReturnValues ALL_OLD).  That write was stamped after it in
 *      the same region, so by the clock rule its stamp is larger;
 *   3. superseded: the final version's stamp is later than this write's
 *      stamp can be.  A write acknowledged at wall time T in any region
 *      has a stamp of at most T plus the largest clock skew the drill
 *      set (the hybrid clock runs ahead of the wall clock only by what it
 *      receives), plus a small tolerance;
 *   4. dropped: it was made in a region whose replica a step dropped
 *      (a dropped replica's writes are no longer accepted elsewhere).
 * A write with none of these is lost: the drill fails.
 *
 * The final state is read with POST /admin/item in every holder, which
 * also proves that the holders agree key by key (value and stamp).
 *
 * RPO samples: right after a fault, the last acknowledged write of each
 * key made in a faulted region is looked up in the regions it is cut off
 * from.  It counts as replicated there when that region holds its value,
 * or a later write of the same source (the log ships in order), or a
 * version stamped later than it can be; otherwise it is unreplicated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

#define CHECK_THREADS 8u

static const char *const fate_names[DF_COUNT_] = {
	[DF_FINAL] = "final",
	[DF_OVERWRITTEN] = "overwritten",
	[DF_CONFLICT_LOSS] = "conflict_loss",
	[DF_SUPERSEDED] = "superseded",
	[DF_DROPPED] = "dropped_with_replica",
	[DF_LOST] = "lost",
};

const char *drill_fate_name(drill_fate f)
{
	return (unsigned)f < DF_COUNT_ ? fate_names[f] : "?";
}

/* The largest stamp (wall ms) a write completed at complete_ns can have. */
static uint64_t stamp_upper_ms(const drill *d, uint64_t complete_ns)
{
	uint64_t tol = d->attach ? 100 : 2;

	return d->t0_wall_ms + complete_ns / 1000000u + 1 +
	    (uint64_t)GT_MAX(d->skew_max_ms, 0L) + tol;
}

/* One /admin/item answer, reduced. */
typedef struct item_res {
	int rc;               /* 0 ok, -1 failed */
	int found;
	int32_t op;           /* DRILL_SEEN_* or op index */
	uint64_t wall_ms;
	unsigned logical;
	int8_t origin;        /* region index, -1 unknown */
	char value[CLI_NAME_MAX + 24];
} item_res;

static void item_get(const drill *d, const cli_opts *o, cli_region *r,
    uint32_t key, item_res *out)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	const cJSON *item, *stamp;
	const char *v, *origin;
	char kname[16];
	cli_apierr e;

	memset(out, 0, sizeof(*out));
	out->op = DRILL_SEEN_NONE;
	out->origin = -1;
	drill_key_name(key, kname, sizeof(kname));
	cJSON_AddStringToObject(req, "TableName", d->table);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(
	    cJSON_AddObjectToObject(req, "Key"), "pk"), "S", kname);
	if (cli_admin(o, r, "/admin/item", 1, req, &res, &e) != CLI_EXIT_OK ||
	    !cJSON_IsObject(res)) {
		out->rc = -1;
		goto out;
	}
	out->found = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res,
	    "Found")) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res,
	    "Tombstone"));
	stamp = cJSON_GetObjectItemCaseSensitive(res, "Stamp");
	/* The hlc itself is 64 bits, more than a double holds exactly: use
	 * its two parts. */
	out->wall_ms = (uint64_t)cli_json_num(stamp, "wall_ms", 0);
	out->logical = (unsigned)cli_json_num(stamp, "logical", 0);
	origin = cli_json_str(stamp, "origin");
	if (origin != NULL)
		out->origin = (int8_t)drill_region_index(d, origin);
	if (!out->found)
		goto out;
	item = cJSON_GetObjectItemCaseSensitive(res, "Item");
	v = cli_json_str(cJSON_GetObjectItemCaseSensitive(item, "v"), "S");
	if (v == NULL) {
		out->op = DRILL_SEEN_FOREIGN;
		goto out;
	}
	snprintf(out->value, sizeof(out->value), "%s", v);
	out->op = drill_value_op(d, v);
out:
	cJSON_Delete(res);
	cJSON_Delete(req);
}

/* A batch of lookups run by one thread. */
typedef struct lookup_task {
	uint32_t key;
	uint8_t region;
	item_res res;
} lookup_task;

typedef struct lookup_job {
	const drill *d;
	cli_opts o;
	cli_region regions[CLI_REGIONS_MAX];
	lookup_task *tasks;
	size_t ntasks;
} lookup_job;

static void lookup_run(void *arg)
{
	lookup_job *j = arg;

	for (size_t i = 0; i < j->ntasks; i++)
		item_get(j->d, &j->o, &j->regions[j->tasks[i].region],
		    j->tasks[i].key, &j->tasks[i].res);
}

/* Runs every task on up to CHECK_THREADS threads. */
static void lookups(const drill *d, lookup_task *tasks, size_t n)
{
	lookup_job jobs[CHECK_THREADS];
	size_t nj = GT_MIN((size_t)CHECK_THREADS, n), per, off = 0;

	if (n == 0)
		return;
	per = (n + nj - 1) / nj;
	for (size_t k = 0; k < nj; k++) {
		jobs[k].d = d;
		jobs[k].o = d->ctl_opts;
		jobs[k].o.request_timeout_ms = 5000;
		memcpy(jobs[k].regions, d->cluster.r, sizeof(jobs[k].regions));
		for (size_t i = 0; i < d->nreg; i++)
			jobs[k].regions[i].dead = 0;
		jobs[k].tasks = tasks + off;
		jobs[k].ntasks = GT_MIN(per, n - off);
		off += jobs[k].ntasks;
	}
	cli_parallel(nj, jobs, sizeof(jobs[0]), lookup_run);
}

/* ----------------------------------------------------------------- RPO */

void drill_rpo_sample(drill *d, drill_step *st, const int *src_mask,
    const uint32_t *dest_mask)
{
	drill_rpo *rp = &st->rpo;
	size_t nops, nkeys = d->sc->keys, ntasks = 0, nw = 0;
	drill_op *ops = drill_load_ops(d, &nops);
	int32_t *last = NULL;
	lookup_task *tasks = NULL;
	int32_t *task_op = NULL;

	rp->sampled = 1;
	if (ops == NULL)
		return;
	last = malloc(d->nreg * nkeys * sizeof(*last));
	if (last == NULL)
		return;
	for (size_t i = 0; i < d->nreg * nkeys; i++)
		last[i] = -1;
	for (size_t i = 0; i < nops; i++) {
		drill_op *op = &ops[i];
		int32_t *slot;
		if (atomic_load_explicit(&op->state, memory_order_acquire) !=
		    DRILL_OP_DONE || !op->is_write ||
		    op->result != DRILL_RES_OK || !src_mask[op->region] ||
		    op->complete_ns > st->at_ns)
			continue;
		slot = &last[op->region * nkeys + op->key];
		if (*slot < 0 || ops[*slot].complete_ns < op->complete_ns)
			*slot = (int32_t)i;
	}
	for (size_t i = 0; i < d->nreg * nkeys; i++)
		if (last[i] >= 0)
			nw++;
	tasks = calloc(nw * d->nreg + 1, sizeof(*tasks));
	task_op = calloc(nw * d->nreg + 1, sizeof(*task_op));
	rp->at_risk = calloc(nw + 1, sizeof(*rp->at_risk));
	if (tasks == NULL || task_op == NULL || rp->at_risk == NULL)
		goto out;
	for (size_t s = 0; s < d->nreg; s++)
		for (size_t k = 0; k < nkeys; k++) {
			int32_t w = last[s * nkeys + k];
			if (w < 0)
				continue;
			for (size_t t = 0; t < d->nreg; t++) {
				if (!(dest_mask[s] & (1u << t)) ||
				    !d->reg[t].alive || !d->reg[t].holds)
					continue;
				tasks[ntasks].key = (uint32_t)k;
				tasks[ntasks].region = (uint8_t)t;
				task_op[ntasks++] = w;
			}
		}
	lookups(d, tasks, ntasks);
	/* Tasks of one write are adjacent. */
	for (size_t a = 0; a < ntasks;) {
		int32_t w = task_op[a];
		const drill_op *wo = &ops[w];
		size_t b = a, missing = 0, dests = 0;
		for (; b < ntasks && task_op[b] == w; b++) {
			const item_res *r = &tasks[b].res;
			int visible;
			if (r->rc != 0) {
				rp->lookups_failed++;
				continue;
			}
			dests++;
			visible = r->found && r->op == w;
			if (!visible && r->found && r->op >= 0 &&
			    ops[r->op].region == wo->region &&
			    ops[r->op].invoke_ns > wo->complete_ns)
				visible = 1;
			if (!visible && r->found &&
			    r->wall_ms > stamp_upper_ms(d, wo->complete_ns))
				visible = 1;
			if (!visible)
				missing++;
		}
		if (dests > 0) {
			rp->checked++;
			if (missing > 0) {
				rp->unreplicated_any++;
				rp->at_risk[rp->nat_risk++] = w;
			}
			if (missing == dests)
				rp->unreplicated_all++;
		}
		a = b;
	}
out:
	free(tasks);
	free(task_op);
	free(last);
}

/* --------------------------------------------------------------- final */

static int ledger_read(drill *d, size_t i, drill_check *c, size_t *cap)
{
	cli_opts o = d->ctl_opts;
	double after = 0;
	const double limit = 100000;

	o.request_timeout_ms = 30000;
	c->ledger_by_region[i] = 0;
	for (;;) {
		cJSON *req = cJSON_CreateObject(), *res = NULL;
		const cJSON *e, *list;
		cli_apierr err;
		int n = 0, rc;

		cJSON_AddStringToObject(req, "TableName", d->table);
		cJSON_AddNumberToObject(req, "Limit", limit);
		cJSON_AddNumberToObject(req, "After", after);
		rc = cli_admin(&o, &d->cluster.r[i], "/admin/conflicts", 1, req,
		    &res, &err);
		cJSON_Delete(req);
		if (rc != CLI_EXIT_OK) {
			cJSON_Delete(res);
			c->ledger_by_region[i] = -1;
			return -1;
		}
		list = cJSON_GetObjectItemCaseSensitive(res, "Conflicts");
		cJSON_ArrayForEach(e, list) {
			drill_ledger_entry *x;
			const cJSON *w = cJSON_GetObjectItemCaseSensitive(e,
			    "winner");
			const cJSON *l = cJSON_GetObjectItemCaseSensitive(e,
			    "loser");
			const char *kv = cli_json_str(
			    cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(e, "key"), "pk"),
			    "S");
			const char *lv = cli_json_str(
			    cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(e, "loser_item"),
			    "v"), "S");
			n++;
			after = GT_MAX(after, cli_json_num(e, "seq", 0));
			c->ledger_by_region[i]++;
			if (c->nledger == *cap) {
				size_t nc = *cap ? *cap * 2 : 1024;
				drill_ledger_entry *p = realloc(c->ledger,
				    nc * sizeof(*p));
				if (p == NULL)
					continue;
				c->ledger = p;
				*cap = nc;
			}
			x = &c->ledger[c->nledger++];
			memset(x, 0, sizeof(*x));
			x->loser_op = lv != NULL ? drill_value_op(d, lv) :
			    DRILL_SEEN_NONE;
			x->winner_op = DRILL_SEEN_UNKNOWN;
			x->key = kv != NULL && kv[0] == 'k' ?
			    (uint32_t)strtoul(kv + 1, NULL, 10) : UINT32_MAX;
			snprintf(x->region, sizeof(x->region), "%s",
			    d->reg[i].name);
			snprintf(x->loser_origin, sizeof(x->loser_origin), "%s",
			    cli_json_str(l, "origin") ? cli_json_str(l,
			    "origin") : "");
			snprintf(x->winner_origin, sizeof(x->winner_origin),
			    "%s", cli_json_str(w, "origin") ? cli_json_str(w,
			    "origin") : "");
			x->loser_wall_ms = (uint64_t)cli_json_num(l, "wall_ms",
			    0);
			x->winner_wall_ms = (uint64_t)cli_json_num(w, "wall_ms",
			    0);
			x->loser_logical = (unsigned)cli_json_num(l, "logical",
			    0);
			x->winner_logical = (unsigned)cli_json_num(w,
			    "logical", 0);
		}
		cJSON_Delete(res);
		if ((double)n < limit)
			return 0;
	}
}

int drill_check_run(drill *d, drill_check *c)
{
	size_t nops, nkeys = d->sc->keys, nh = 0, ntasks = 0, cap = 0;
	drill_op *ops = drill_load_ops(d, &nops);
	uint8_t *written = NULL, *replaced = NULL, *lost_conflict = NULL;
	size_t holders[CLI_REGIONS_MAX];
	lookup_task *tasks = NULL;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	c->final = calloc(nkeys, sizeof(*c->final));
	written = calloc(nkeys, 1);
	c->fate = malloc(nops + 1);
	replaced = calloc(nops + 1, 1);
	lost_conflict = calloc(nops + 1, 1);
	if (c->final == NULL || written == NULL || c->fate == NULL ||
	    replaced == NULL || lost_conflict == NULL)
		goto out;
	memset(c->fate, 0xff, nops + 1);
	for (size_t k = 0; k < nkeys; k++)
		c->final[k].op = DRILL_SEEN_NONE;
	for (size_t i = 0; i < nops; i++) {
		const drill_op *op = &ops[i];
		if (atomic_load(&op->state) != DRILL_OP_DONE)
			continue;
		if (op->is_write)
			written[op->key] = 1;
		if (op->is_write && op->result == DRILL_RES_OK &&
		    op->seen >= 0)
			replaced[op->seen] = 1;
	}
	for (size_t i = 0; i < d->nreg; i++)
		if (d->reg[i].alive && d->reg[i].holds)
			holders[nh++] = i;
	for (size_t k = 0; k < nkeys; k++)
		if (written[k])
			c->nkeys_read++;
	tasks = calloc(c->nkeys_read * nh + 1, sizeof(*tasks));
	if (tasks == NULL)
		goto out;
	for (size_t k = 0; k < nkeys; k++) {
		if (!written[k])
			continue;
		for (size_t h = 0; h < nh; h++) {
			tasks[ntasks].key = (uint32_t)k;
			tasks[ntasks++].region = (uint8_t)holders[h];
		}
	}
	lookups(d, tasks, ntasks);
	for (size_t a = 0; a < ntasks; a += nh) {
		const item_res *r0 = NULL;
		drill_final *f = &c->final[tasks[a].key];
		for (size_t h = 0; h < nh; h++) {
			const item_res *r = &tasks[a + h].res;
			if (r->rc != 0) {
				c->lookups_failed++;
				continue;
			}
			if (r0 == NULL) {
				r0 = r;
				continue;
			}
			if (r->found != r0->found || (r->found &&
			    (strcmp(r->value, r0->value) != 0 ||
			    r->wall_ms != r0->wall_ms ||
			    r->logical != r0->logical ||
			    r->origin != r0->origin)))
				f->diverged = 1;
		}
		if (r0 != NULL) {
			f->found = r0->found;
			f->op = r0->found ? r0->op : DRILL_SEEN_NONE;
			f->wall_ms = r0->wall_ms;
			f->logical = r0->logical;
			if (r0->origin >= 0)
				snprintf(f->origin, sizeof(f->origin), "%s",
				    d->reg[r0->origin].name);
		} else {
			f->op = DRILL_SEEN_UNKNOWN;
		}
		if (f->diverged)
			c->nkeys_diverged++;
		if (f->found && f->op == DRILL_SEEN_FOREIGN)
			c->foreign_values++;
		if (f->found && f->op >= 0 &&
		    ops[f->op].result == DRILL_RES_FAIL)
			c->failed_visible++;
	}
	for (size_t i = 0; i < d->nreg; i++) {
		c->ledger_by_region[i] = -1;
		if (d->reg[i].alive && d->reg[i].holds)
			(void)ledger_read(d, i, c, &cap);
	}
	for (size_t i = 0; i < c->nledger; i++)
		if (c->ledger[i].loser_op >= 0)
			lost_conflict[c->ledger[i].loser_op] = 1;
	/* The winner of each ledger entry, when it is the final value. */
	for (size_t i = 0; i < c->nledger; i++) {
		drill_ledger_entry *x = &c->ledger[i];
		if (x->key < nkeys && c->final[x->key].found &&
		    c->final[x->key].wall_ms == x->winner_wall_ms &&
		    c->final[x->key].logical == x->winner_logical &&
		    strcmp(c->final[x->key].origin, x->winner_origin) == 0)
			x->winner_op = c->final[x->key].op;
	}
	for (size_t i = 0; i < nops; i++) {
		const drill_op *op = &ops[i];
		const drill_final *f;
		drill_fate fate;
		if (atomic_load(&op->state) != DRILL_OP_DONE ||
		    !op->is_write || op->result != DRILL_RES_OK)
			continue;
		c->acked_writes++;
		f = &c->final[op->key];
		if (f->found && f->op == (int32_t)i)
			fate = DF_FINAL;
		else if (lost_conflict[i])
			fate = DF_CONFLICT_LOSS;
		else if (replaced[i])
			fate = DF_OVERWRITTEN;
		else if (f->found && f->wall_ms > stamp_upper_ms(d,
		    op->complete_ns))
			fate = DF_SUPERSEDED;
		else if (d->reg[op->region].dropped)
			fate = DF_DROPPED;
		else
			fate = DF_LOST;
		c->fate[i] = (uint8_t)fate;
		c->fate_count[fate]++;
	}
	rc = c->lookups_failed == 0 && nh > 0 ? 0 : -1;
out:
	free(tasks);
	free(written);
	free(replaced);
	free(lost_conflict);
	return rc;
}

void drill_check_free(drill_check *c)
{
	free(c->final);
	free(c->ledger);
	free(c->fate);
	memset(c, 0, sizeof(*c));
}
