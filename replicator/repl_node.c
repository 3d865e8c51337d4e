/*
 * repl_node.c — NNG transport and threads around the replication core.
 *
 * Origin side (serving peers):
 *   worker loop: recv PULL -> authenticate -> repl_origin_decide ->
 *     NOW:    read own log records after after_seq into a BATCH
 *     PARK:   wait for a local commit (commit hook) or the deadline, decide
 *             again
 *     EMPTY / RESYNC: an empty BATCH (flagged for RESYNC)
 *   -> send.  A PULL's after_seq is the peer's acknowledgement.
 *
 * Follower side (one thread per peer):
 *   repl_puller_step turns events into actions; the thread sends PULLs,
 *   waits for answers (bounded by the puller's deadline), applies batches
 *   through the store's writer (rn_repl_apply: one transaction with the
 *   cursor), and sleeps out backoff timers.
 *
 * The origin's head (the newest record it originated) is found by walking
 * the log backwards over the records each commit added, under one mutex:
 * every committed record is looked at once.
 */
#include "repl_node.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "repl.h"
#include "items.h"
#include "replica.h"
#include "stream.h"
#include "table.h"

#define REPL_WORKERS_MAX 34
#define REPL_PENDING_SCAN_MAX 100000u

/* Replication latency histogram bounds, ms. */
static const uint32_t lat_bounds[] = {1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30,
    50, 75, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000};
#define LAT_NB (sizeof(lat_bounds) / sizeof(lat_bounds[0]))
#define LAT_RECENT 2048u

typedef struct peer {
	struct repl_node *r;
	repl_node_peer cfg;
	_Atomic int active;  /* a current member; slots are never freed */
	_Atomic int quit;    /* its thread must end */
	_Atomic int rewind;  /* re-read the durable cursor and restart */
	pthread_t th;
	int started;
	nng_socket sock;

	pthread_mutex_t mu;  /* guards everything below */
	pthread_cond_t cv;   /* timers, stop, delay queue */
	repl_puller p;
	/* Link shaping of source -> this region (repl_node.h). */
	repl_link shape;
	uint64_t tx_end_ms, release_last_ms;
	struct delayed *dq_head, *dq_tail; /* FIFO, release times ascending */
	size_t dq_len, dq_bytes;
	int dq_busy;          /* the delivery thread is applying one */
	pthread_t dq_th;
	int dq_started;
	uint64_t lost;        /* batches dropped by the loss rate */
	uint64_t durable;     /* the cursor committed to LMDB */
	uint64_t lat_bucket[LAT_NB + 1];
	uint64_t lat_sum_ms, lat_count;
	uint32_t lat_recent[LAT_RECENT]; /* ring of the latest samples, for
					    exact recent percentiles */
	uint32_t lat_recent_n, lat_recent_at;
	uint64_t applied, conflicts, dropped, batches, errors, control;
	int resync;
	/* Origin side: what this peer acknowledged of our log. */
	uint64_t acked;
	uint64_t last_pull_ms;
	int must_resync;     /* we truncated past its acknowledgement */
} peer;

typedef struct worker {
	struct repl_node *r;
	pthread_t th;
	int started;
	int ctx_open;
	nng_ctx ctx;
	nng_aio *aio;
} worker;

struct repl_node {
	rn_node *node;
	repl_key key;
	uint32_t wait_ms, max_bytes;
	nng_socket rep;
	int rep_open;
	worker workers[REPL_WORKERS_MAX];
	size_t nworkers;
	peer peers[REPL_PEERS_MAX];
	size_t npeers;

	pthread_mutex_t mu;   /* guards the fields below */
	pthread_cond_t cv;    /* commits and stop */
	_Atomic int stopping;
	uint64_t commit_gen;
	uint64_t last_seq;    /* newest committed local seq */
	uint64_t scanned_to;  /* own_head is exact up to here */
	uint64_t own_head;    /* newest seq this region originated */
	uint64_t trunc_seq;   /* the log holds no record <= this */
	uint64_t log_keep_max;
	uint32_t maint_ms;
	pthread_t maint;
	int maint_started;
	uint64_t truncated_total;
	repl_node_cfg cfg;     /* peers/key pointers not kept */
	int members_pending;   /* a membership for the maintenance thread */
	topo_members members;
};

static uint64_t now_ms(void) { return gt_mono_ns() / 1000000u; }

static uint32_t rnd32(void)
{
	uint32_t v = 0;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint32_t)gt_mono_ns();
	return v;
}

static gt_err nng_to_gt(int rv)
{
	switch (rv) {
	case 0:
		return GT_OK;
	case NNG_ETIMEDOUT:
		return GT_ETIMEOUT;
	case NNG_ECLOSED:
		return GT_ECLOSED;
	case NNG_ENOMEM:
		return GT_ENOMEM;
	default:
		return GT_EIO;
	}
}

/* Waits on cv until deadline (monotonic ms) or a wake-up; mu held. */
static void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
    uint64_t deadline_ms)
{
	struct timespec ts;
	uint64_t now = now_ms();
	uint64_t wait = deadline_ms > now ? deadline_ms - now : 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(wait / 1000u);
	ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cv, mu, &ts);
}

static peer *peer_find(repl_node *r, const char *region)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (atomic_load(&r->peers[i].active) &&
		    strcmp(r->peers[i].cfg.region, region) == 0)
			return &r->peers[i];
	return NULL;
}

/* ----------------------------------------------------------- origin side */

static void commit_hook(void *arg, uint64_t last_seq)
{
	repl_node *r = arg;

	pthread_mutex_lock(&r->mu);
	r->commit_gen++;
	if (last_seq > r->last_seq)
		r->last_seq = last_seq;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Brings own_head up to date with the log; r->mu held. */
static void own_head_refresh(repl_node *r)
{
	rn_store *s = r->node->store;
	const char *self = r->node->region;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t last = rn_store_seq_committed(s);
	uint8_t kb[8];
	int rc;

	if (last <= r->scanned_to)
		return;
	if (rn_store_read_begin(s, &txn) != GT_OK)
		return;
	if (mdb_cursor_open(txn, rn_store_dbs(s)->log, &cur) != MDB_SUCCESS)
		goto out;
	gt_put_u64be(kb, last);
	k.mv_size = 8;
	k.mv_data = kb;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		rn_logrec lr;
		uint64_t seq;
		if (k.mv_size != 8)
			break;
		seq = gt_get_u64be(k.mv_data);
		if (seq > last)
			continue;
		if (seq <= r->scanned_to)
			break;
		if (rn_logrec_decode(v.mv_data, v.mv_size, &lr) == GT_OK &&
		    !(lr.flags & RN_LOG_F_REPLICATED) &&
		    lr.origin_len == strlen(self) &&
		    memcmp(lr.origin, self, lr.origin_len) == 0) {
			if (seq > r->own_head)
				r->own_head = seq;
			break;
		}
	}
	r->scanned_to = last;
out:
	if (cur)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
}

typedef struct scan_ctx {
	repl_batch_enc *enc;
	uint64_t head;
	gt_err err;
} scan_ctx;

static int scan_visit(void *arg, uint64_t seq, const rn_logrec *lr)
{
	scan_ctx *sc = arg;
	repl_rec rec;
	gt_err err;

	if (seq > sc->head)
		return 1;
	memset(&rec, 0, sizeof(rec));
	rec.origin_seq = lr->origin_seq;
	rec.hlc = lr->hlc;
	rec.op = lr->op;
	rec.flags = (uint8_t)(lr->flags & REPL_REC_F_SERVICE);
	rec.table = lr->table;
	rec.table_len = lr->table_len;
	rec.key = lr->key;
	rec.key_len = lr->key_len;
	rec.image = lr->new_img;
	rec.image_len = lr->new_len;
	rec.meta = lr->meta;
	rec.meta_len = lr->meta_len;
	err = repl_batch_enc_add(sc->enc, &rec);
	if (err == GT_ELIMIT)
		return 1;
	if (err != GT_OK) {
		sc->err = err;
		GT_LOG(GT_LOG_ERROR, "repl", "event=encode_failed seq=%llu "
		    "err=\"%s\"", (unsigned long long)seq, gt_strerror(err));
		return 1;
	}
	return 0;
}

/* Builds the BATCH answering pull into out. */
static gt_err origin_batch(repl_node *r, const repl_pull *pull,
    const repl_answer *ans, uint64_t head, uint64_t trunc, gt_buf *out)
{
	repl_batch_info info;
	repl_batch_enc enc;
	MDB_txn *txn = NULL;
	scan_ctx sc = {&enc, head, GT_OK};
	int truncated = 0;
	gt_err err;

	memset(&info, 0, sizeof(info));
	info.pull_id = pull->pull_id;
	info.after_seq = pull->after_seq;
	info.head_seq = head;
	info.trunc_seq = trunc;
	info.origin_hlc = cf_hlc_make(gt_wall_ms(), 0);
	info.flags = ans->kind == REPL_ANSWER_RESYNC ? REPL_BATCH_F_RESYNC : 0;
	err = repl_batch_enc_begin(&enc, out, r->node->region, &info,
	    ans->kind == REPL_ANSWER_NOW ? ans->max_bytes : REPL_FRAME_MIN_BATCH);
	if (err != GT_OK)
		return err;
	if (ans->kind == REPL_ANSWER_NOW) {
		err = rn_store_read_begin(r->node->store, &txn);
		if (err == GT_OK)
			err = rn_repl_log_scan(txn, rn_store_dbs(r->node->store),
			    r->node->region, pull->after_seq, scan_visit, &sc,
			    &truncated);
		if (err == GT_OK)
			err = sc.err;
		rn_store_read_end(txn);
		if (err == GT_OK && truncated) {
			/* Retention ran between the decision and this read and
			 * removed records the peer still needs: sending what is
			 * left would skip them silently. */
			gt_buf_reset(out);
			info.flags = REPL_BATCH_F_RESYNC;
			info.trunc_seq = GT_MAX(trunc, pull->after_seq + 1);
			info.trunc_seq = GT_MIN(info.trunc_seq, head);
			err = repl_batch_enc_begin(&enc, out, r->node->region,
			    &info, REPL_FRAME_MIN_BATCH);
		}
		if (err != GT_OK)
			return err;
	}
	return repl_batch_enc_finish(&enc, &r->key);
}

/* Answers one received PULL frame: the reply frame goes into out. */
static void origin_serve(repl_node *r, const uint8_t *f, size_t n,
    gt_buf *out)
{
	repl_pull pull;
	repl_origin_view view;
	repl_answer ans;
	uint64_t received = now_ms(), head, trunc;
	peer *pe;
	gt_err err;

	err = repl_pull_decode(f, n, &r->key, &pull);
	if (err != GT_OK) {
		GT_LOG(GT_LOG_WARN, "repl", "event=bad_pull err=\"%s\"",
		    gt_strerror(err));
		(void)repl_error_encode(REPL_ERR_BAD_REQUEST, r->node->region, 0,
		    err == GT_EAUTH ? "authentication failed" : "malformed",
		    &r->key, out);
		return;
	}
	if (strcmp(pull.to, r->node->region) != 0) {
		(void)repl_error_encode(REPL_ERR_WRONG_ORIGIN, r->node->region,
		    pull.pull_id, "this is another region", &r->key, out);
		return;
	}
	pe = peer_find(r, pull.from);
	if (pe == NULL) {
		(void)repl_error_encode(REPL_ERR_NOT_MEMBER, r->node->region,
		    pull.pull_id, "not a member of this cluster", &r->key, out);
		return;
	}
	memset(&view, 0, sizeof(view));
	view.max_bytes = r->max_bytes;
	view.wait_max_ms = REPL_WAIT_MAX_MS;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		uint64_t gen = r->commit_gen;
		own_head_refresh(r);
		view.head_seq = r->own_head;
		view.trunc_seq = GT_MIN(r->trunc_seq, r->own_head);
		repl_origin_decide(&view, &pull, received, now_ms(), &ans);
		if (ans.ack_valid) {
			/* What the follower has durably applied, which on a
			 * shaped link trails what it received.  A delayed or
			 * duplicated PULL carries older numbers: an
			 * acknowledgement never goes back. */
			uint64_t ack = GT_MIN(ans.ack_seq, pull.ack_seq);
			pthread_mutex_lock(&pe->mu);
			if (ack > pe->acked)
				pe->acked = ack;
			pe->last_pull_ms = now_ms();
			pthread_mutex_unlock(&pe->mu);
		}
		if (ans.kind != REPL_ANSWER_PARK || r->stopping)
			break;
		while (gen == r->commit_gen && !r->stopping &&
		    now_ms() < ans.park_until_ms)
			cond_wait_until(&r->cv, &r->mu, ans.park_until_ms);
	}
	head = view.head_seq;
	trunc = view.trunc_seq;
	pthread_mutex_unlock(&r->mu);
	if (ans.kind == REPL_ANSWER_PARK)
		ans.kind = REPL_ANSWER_EMPTY; /* stopping */
	err = origin_batch(r, &pull, &ans, head, trunc, out);
	if (err != GT_OK) {
		gt_buf_reset(out);
		(void)repl_error_encode(REPL_ERR_INTERNAL, r->node->region,
		    pull.pull_id, gt_strerror(err), &r->key, out);
	}
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	repl_node *r = w->r;
	gt_buf out = GT_BUF_INIT;

	for (;;) {
		nng_msg *msg;
		int rv;

		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		rv = nng_aio_result(w->aio);
		if (rv == 0 && atomic_load(&r->stopping))
			nng_msg_free(nng_aio_get_msg(w->aio));
		if (rv == NNG_ECLOSED || atomic_load(&r->stopping))
			break;
		if (rv != 0)
			continue;
		msg = nng_aio_get_msg(w->aio);
		gt_buf_reset(&out);
		origin_serve(r, nng_msg_body(msg), nng_msg_len(msg), &out);
		nng_msg_clear(msg);
		if (!gt_buf_ok(&out) || out.len == 0 ||
		    nng_msg_append(msg, out.data, out.len) != 0) {
			nng_msg_free(msg);
			continue;
		}
		nng_aio_set_msg(w->aio, msg);
		nng_ctx_send(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		if (nng_aio_result(w->aio) != 0)
			nng_msg_free(msg);
		if (nng_aio_result(w->aio) == NNG_ECLOSED)
			break;
	}
	gt_buf_free(&out);
	return NULL;
}

/* --------------------------------------------------------- follower side */

typedef struct apply_job {
	rn_write w;
	peer *pe;
	repl_batch batch;     /* iterator over the frame (borrowed) */
	rn_apply_result res;
	pthread_mutex_t mu;   /* completion, per job: the follower and the
				 link's delivery thread may both apply */
	pthread_cond_t cv;
	int done;
	gt_err err;
	uint64_t cursor;
} apply_job;

static gt_err apply_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	apply_job *job = (apply_job *)w;
	peer *pe = job->pe;
	rn_logrec *recs = NULL;
	repl_batch it = job->batch;
	repl_rec rec;
	size_t n = 0;
	gt_err err;

	(void)s;
	if (job->batch.info.count > 0) {
		recs = calloc(job->batch.info.count, sizeof(*recs));
		if (recs == NULL)
			return GT_ENOMEM;
	}
	while (n < job->batch.info.count && repl_batch_next(&it, &rec)) {
		rn_logrec *lr = &recs[n++];
		lr->op = rec.op;
		lr->flags = rec.flags;
		lr->hlc = rec.hlc;
		lr->origin_seq = rec.origin_seq;
		lr->origin = pe->cfg.region;
		lr->origin_len = strlen(pe->cfg.region);
		lr->table = rec.table;
		lr->table_len = rec.table_len;
		lr->key = rec.key;
		lr->key_len = rec.key_len;
		lr->new_img = rec.image;
		lr->new_len = rec.image_len;
		lr->meta = rec.meta;
		lr->meta_len = rec.meta_len;
	}
	err = rn_repl_apply(pe->r->node, txn, pe->cfg.region,
	    job->batch.info.after_seq, recs, n, gt_wall_ms(), &job->res);
	free(recs);
	return err;
}

static void apply_done(rn_write *w, gt_err commit_err)
{
	apply_job *job = (apply_job *)w;
	peer *pe = job->pe;
	rn_node *node = pe->r->node;
	gt_err err = commit_err != GT_OK ? commit_err : w->result;

	/* On the writer thread, right after the commit: the catalog follows
	 * the committed state before any later write runs. */
	if (err == GT_OK) {
		for (size_t i = 0; i < job->res.ndropped; i++)
			rn_catalog_remove(&node->catalog,
			    job->res.dropped_tables[i]);
		if (job->res.members_changed)
			rn_cluster_publish(node, &job->res.members);
		for (size_t i = 0; i < job->res.ncreated; i++) {
			(void)rn_catalog_put(&node->catalog,
			    job->res.created[i]);
			GT_LOG(GT_LOG_INFO, "repl", "event=table_replicated "
			    "table=%s from=%s", job->res.created[i]->name,
			    pe->cfg.region);
		}
		/* After the catalog knows the new table: the worker looks it
		 * up there. */
		if (job->res.backfill_started && node->backfill_kick != NULL)
			node->backfill_kick(node->backfill_arg);
	}
	pthread_mutex_lock(&pe->mu);
	if (err == GT_OK) {
		for (size_t i = 0; i < job->res.nlatency; i++) {
			uint32_t ms = job->res.latency_ms[i];
			size_t b = 0;
			while (b < LAT_NB && ms > lat_bounds[b])
				b++;
			pe->lat_bucket[b]++;
			pe->lat_sum_ms += ms;
			pe->lat_count++;
			pe->lat_recent[pe->lat_recent_at] = ms;
			pe->lat_recent_at = (pe->lat_recent_at + 1) % LAT_RECENT;
			if (pe->lat_recent_n < LAT_RECENT)
				pe->lat_recent_n++;
		}
		pe->applied += job->res.applied;
		pe->conflicts += job->res.conflicts;
		pe->dropped += job->res.dropped;
		pe->control += job->res.control;
		pe->batches++;
		if (job->res.cursor > pe->durable)
			pe->durable = job->res.cursor;
	}
	pthread_mutex_unlock(&pe->mu);
	pthread_mutex_lock(&job->mu);
	job->err = err;
	job->cursor = job->res.cursor;
	job->done = 1;
	pthread_cond_signal(&job->cv);
	pthread_mutex_unlock(&job->mu);
}

/* Applies a decoded batch and waits for its commit. */
static gt_err follower_apply(peer *pe, const repl_batch *b, uint64_t *cursor)
{
	apply_job job;
	gt_err err;

	memset(&job, 0, sizeof(job));
	job.w.fn = apply_fn;
	job.w.done = apply_done;
	job.pe = pe;
	job.batch = *b;
	pthread_mutex_init(&job.mu, NULL);
	pthread_cond_init(&job.cv, NULL);
	err = rn_store_submit(pe->r->node->store, &job.w);
	if (err == GT_OK) {
		pthread_mutex_lock(&job.mu);
		while (!job.done)
			pthread_cond_wait(&job.cv, &job.mu);
		pthread_mutex_unlock(&job.mu);
		err = job.err;
		*cursor = job.cursor;
	}
	pthread_cond_destroy(&job.cv);
	pthread_mutex_destroy(&job.mu);
	rn_apply_result_clear(&job.res);
	return err;
}

/* --------------------------------------------------------- link shaping */

/*
 * A shaped link holds each received batch until its release time: the
 * time it would have taken to cross the link (bandwidth) plus the one-way
 * delay and jitter, never earlier than the batch before it (links keep
 * order, as TCP does).  The follower goes on pulling meanwhile, so a
 * write's latency is the configured delay, not a multiple of it; the
 * durable cursor advances only when the delivery thread applies.
 */
typedef struct delayed {
	struct delayed *next;
	nng_msg *msg;         /* owns the frame the batch points into */
	repl_batch batch;
	uint64_t release_ms;
	size_t bytes;
} delayed;

#define DQ_MAX_BATCHES 4096u
#define DQ_MAX_BYTES (256u << 20)

static int link_shaped(const repl_link *l)
{
	return l->delay_ms || l->jitter_ms || l->bandwidth_kbps;
}

/* Frees every held batch; pe->mu held. */
static void dq_flush(peer *pe)
{
	while (pe->dq_head != NULL) {
		delayed *d = pe->dq_head;
		pe->dq_head = d->next;
		nng_msg_free(d->msg);
		free(d);
	}
	pe->dq_tail = NULL;
	pe->dq_len = pe->dq_bytes = 0;
}

/* Queues a received batch (consumes msg); waits while the queue is full.
 * Returns 0, or -1 when the peer is stopping. */
static int dq_push(peer *pe, nng_msg *msg, const repl_batch *b)
{
	uint64_t now = now_ms(), delay, tx_ms = 0;
	delayed *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		nng_msg_free(msg);
		return -1;
	}
	d->msg = msg;
	d->batch = *b;
	d->bytes = nng_msg_len(msg);
	pthread_mutex_lock(&pe->mu);
	while ((pe->dq_len >= DQ_MAX_BATCHES || pe->dq_bytes >= DQ_MAX_BYTES)
	    && !atomic_load(&pe->quit) && !atomic_load(&pe->r->stopping))
		cond_wait_until(&pe->cv, &pe->mu, now_ms() + 100);
	if (atomic_load(&pe->quit) || atomic_load(&pe->r->stopping)) {
		pthread_mutex_unlock(&pe->mu);
		nng_msg_free(msg);
		free(d);
		return -1;
	}
	if (pe->shape.bandwidth_kbps > 0) {
		/* kbit/s = bits per ms */
		uint64_t start = GT_MAX(now, pe->tx_end_ms);
		tx_ms = (d->bytes * 8u + pe->shape.bandwidth_kbps - 1) /
		    pe->shape.bandwidth_kbps;
		pe->tx_end_ms = start + tx_ms;
		tx_ms = pe->tx_end_ms - now;
	}
	delay = pe->shape.delay_ms;
	if (pe->shape.jitter_ms > 0) {
		uint32_t span = 2 * pe->shape.jitter_ms + 1;
		int64_t j = (int64_t)(rnd32() % span) - pe->shape.jitter_ms;
		delay = (int64_t)delay + j < 0 ? 0 : (uint64_t)((int64_t)delay +
		    j);
	}
	d->release_ms = GT_MAX(now + tx_ms + delay, pe->release_last_ms);
	pe->release_last_ms = d->release_ms;
	if (pe->dq_tail)
		pe->dq_tail->next = d;
	else
		pe->dq_head = d;
	pe->dq_tail = d;
	pe->dq_len++;
	pe->dq_bytes += d->bytes;
	pthread_cond_broadcast(&pe->cv);
	pthread_mutex_unlock(&pe->mu);
	return 0;
}

static void *delivery_main(void *arg)
{
	peer *pe = arg;
	repl_node *r = pe->r;

	pthread_mutex_lock(&pe->mu);
	while (!atomic_load(&pe->quit) && !atomic_load(&r->stopping)) {
		delayed *d = pe->dq_head;
		uint64_t cur = 0, want;
		gt_err err;

		if (d == NULL || d->release_ms > now_ms()) {
			cond_wait_until(&pe->cv, &pe->mu, d ? d->release_ms :
			    now_ms() + 1000);
			continue;
		}
		pe->dq_head = d->next;
		if (pe->dq_head == NULL)
			pe->dq_tail = NULL;
		pe->dq_len--;
		pe->dq_bytes -= d->bytes;
		pe->dq_busy = 1;
		pthread_cond_broadcast(&pe->cv);
		pthread_mutex_unlock(&pe->mu);
		want = d->batch.info.last_seq;
		err = follower_apply(pe, &d->batch, &cur);
		nng_msg_free(d->msg);
		free(d);
		pthread_mutex_lock(&pe->mu);
		pe->dq_busy = 0;
		if (err != GT_OK || cur < want) {
			/* Failed, or refused as out of order: start over from
			 * the durable cursor. */
			GT_LOG(GT_LOG_WARN, "repl", "event=delayed_apply_failed "
			    "peer=%s err=\"%s\"", pe->cfg.region,
			    gt_strerror(err));
			dq_flush(pe);
			atomic_store(&pe->rewind, 1);
		}
		pthread_cond_broadcast(&pe->cv);
	}
	dq_flush(pe);
	pthread_mutex_unlock(&pe->mu);
	return NULL;
}

/* Sends a PULL and waits for its answer; fills ev.  *held keeps a BATCH
 * message alive for the apply that follows. */
static void follower_pull(peer *pe, const repl_action *act, repl_event *ev,
    nng_msg **held, repl_batch *batch)
{
	repl_node *r = pe->r;
	repl_pull pull;
	gt_buf f = GT_BUF_INIT;
	nng_msg *msg = NULL;
	uint64_t now = now_ms();
	nng_duration to;
	uint8_t type = 0;
	repl_link shape;
	gt_err err;
	int rv;

	memset(ev, 0, sizeof(*ev));
	ev->kind = REPL_EV_ERROR;
	ev->pull_id = act->pull_id;
	memset(&pull, 0, sizeof(pull));
	snprintf(pull.from, sizeof(pull.from), "%s", r->node->region);
	snprintf(pull.to, sizeof(pull.to), "%s", pe->cfg.region);
	pull.pull_id = act->pull_id;
	pull.after_seq = act->after_seq;
	pthread_mutex_lock(&pe->mu);
	pull.ack_seq = GT_MIN(pe->durable, act->after_seq);
	pthread_mutex_unlock(&pe->mu);
	pull.max_bytes = act->max_bytes;
	pull.wait_ms = act->wait_ms;
	pthread_mutex_lock(&pe->mu);
	shape = pe->shape;
	pthread_mutex_unlock(&pe->mu);
	if (shape.partition) {
		/* Nothing crosses: the pull is lost and times out. */
		pthread_mutex_lock(&pe->mu);
		if (!atomic_load(&pe->quit) && !atomic_load(&r->stopping))
			cond_wait_until(&pe->cv, &pe->mu, GT_MIN(
			    act->timer_at_ms, now + 200));
		pthread_mutex_unlock(&pe->mu);
		err = GT_ETIMEOUT;
		goto out;
	}
	err = repl_pull_encode(&pull, &r->key, &f);
	if (err != GT_OK)
		goto out;
	to = (nng_duration)(act->timer_at_ms > now ? act->timer_at_ms - now :
	    1);
	(void)nng_socket_set_ms(pe->sock, NNG_OPT_RECVTIMEO, to);
	(void)nng_socket_set_ms(pe->sock, NNG_OPT_SENDTIMEO, to);
	rv = nng_send(pe->sock, f.data, f.len, 0);
	if (rv != 0) {
		err = nng_to_gt(rv);
		goto out;
	}
	rv = nng_recvmsg(pe->sock, &msg, 0);
	if (rv != 0) {
		err = nng_to_gt(rv);
		goto out;
	}
	err = repl_frame_peek(nng_msg_body(msg), nng_msg_len(msg), &type);
	if (err == GT_OK && type == REPL_FRAME_BATCH) {
		err = repl_batch_decode(nng_msg_body(msg), nng_msg_len(msg),
		    &r->key, batch);
		if (err == GT_OK && strcmp(batch->origin, pe->cfg.region) != 0)
			err = GT_ECORRUPT; /* answered by another region */
		if (err == GT_OK) {
			/* A partition set while the pull was parked at the
			 * origin: the answer does not cross either. */
			pthread_mutex_lock(&pe->mu);
			if (pe->shape.partition)
				err = GT_ETIMEOUT;
			pthread_mutex_unlock(&pe->mu);
		}
		if (err == GT_OK && shape.loss_ppm > 0 && batch->info.count > 0 &&
		    rnd32() % 1000000u < shape.loss_ppm) {
			/* Lost on the link: the puller times out and retries
			 * from the same cursor. */
			pthread_mutex_lock(&pe->mu);
			pe->lost++;
			pthread_mutex_unlock(&pe->mu);
			err = GT_ETIMEOUT;
		}
		if (err == GT_OK) {
			ev->kind = REPL_EV_BATCH;
			ev->batch = batch->info;
			*held = msg;
			msg = NULL;
		}
	} else if (err == GT_OK && type == REPL_FRAME_ERROR) {
		repl_error e;
		err = repl_error_decode(nng_msg_body(msg), nng_msg_len(msg),
		    &r->key, &e);
		if (err == GT_OK) {
			GT_LOG(GT_LOG_WARN, "repl", "event=peer_error peer=%s "
			    "code=%u msg=\"%s\"", pe->cfg.region, e.code, e.msg);
			err = GT_EIO;
		}
	} else if (err == GT_OK) {
		err = GT_ECORRUPT;
	}
out:
	if (msg != NULL)
		nng_msg_free(msg);
	gt_buf_free(&f);
	ev->err = err;
	ev->rnd = rnd32();
	ev->now_ms = now_ms();
}

static void *follower_main(void *arg)
{
	peer *pe = arg;
	repl_node *r = pe->r;
	repl_event ev;
	repl_action act;
	repl_batch batch;
	nng_msg *held = NULL;
	MDB_txn *txn = NULL;
	uint64_t cursor = 0;
	gt_err last_logged = GT_OK;

	if (rn_store_read_begin(r->node->store, &txn) == GT_OK) {
		(void)rn_cursor_get(txn, rn_store_dbs(r->node->store),
		    pe->cfg.region, &cursor);
		rn_store_read_end(txn);
	}
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_START;
	ev.now_ms = now_ms();
	ev.cursor = cursor;
	ev.pull_id = ((uint64_t)rnd32() << 32 | rnd32()) >> 8;
	pthread_mutex_lock(&pe->mu);
	pe->durable = cursor;
	repl_puller_step(&pe->p, &ev, &act);
	pthread_mutex_unlock(&pe->mu);
	GT_LOG(GT_LOG_INFO, "repl", "event=follow peer=%s url=%s cursor=%llu",
	    pe->cfg.region, pe->cfg.url, (unsigned long long)cursor);

	for (;;) {
		int stopping;

		stopping = atomic_load(&r->stopping) || atomic_load(&pe->quit);
		if (stopping)
			break;
		if (atomic_exchange(&pe->rewind, 0)) {
			/* A backfill lowered the durable cursor: start over
			 * from it.  An answer in flight is dropped (its apply
			 * would be refused anyway: it starts too high). */
			if (held != NULL) {
				nng_msg_free(held);
				held = NULL;
			}
			pthread_mutex_lock(&pe->mu);
			dq_flush(pe);
			while (pe->dq_busy)
				cond_wait_until(&pe->cv, &pe->mu,
				    now_ms() + 100);
			pthread_mutex_unlock(&pe->mu);
			cursor = 0;
			if (rn_store_read_begin(r->node->store, &txn) ==
			    GT_OK) {
				(void)rn_cursor_get(txn,
				    rn_store_dbs(r->node->store),
				    pe->cfg.region, &cursor);
				rn_store_read_end(txn);
			}
			memset(&ev, 0, sizeof(ev));
			ev.kind = REPL_EV_STOP;
			ev.now_ms = now_ms();
			pthread_mutex_lock(&pe->mu);
			repl_puller_step(&pe->p, &ev, &act);
			ev.kind = REPL_EV_START;
			ev.cursor = cursor;
			ev.pull_id = ((uint64_t)rnd32() << 32 | rnd32()) >> 8;
			pe->durable = cursor;
			repl_puller_step(&pe->p, &ev, &act);
			pthread_mutex_unlock(&pe->mu);
			GT_LOG(GT_LOG_INFO, "repl", "event=rewound peer=%s "
			    "cursor=%llu", pe->cfg.region,
			    (unsigned long long)cursor);
		}
		memset(&ev, 0, sizeof(ev));
		switch (act.kind) {
		case REPL_ACT_SEND_PULL:
			follower_pull(pe, &act, &ev, &held, &batch);
			if (ev.kind == REPL_EV_ERROR) {
				pthread_mutex_lock(&pe->mu);
				pe->errors++;
				pthread_mutex_unlock(&pe->mu);
				if (ev.err != last_logged && ev.err !=
				    GT_ECLOSED)
					GT_LOG(GT_LOG_WARN, "repl", "event="
					    "pull_failed peer=%s err=\"%s\"",
					    pe->cfg.region,
					    gt_strerror(ev.err));
				last_logged = ev.err;
			} else {
				if (last_logged != GT_OK)
					GT_LOG(GT_LOG_INFO, "repl", "event="
					    "peer_reachable peer=%s",
					    pe->cfg.region);
				last_logged = GT_OK;
			}
			break;
		case REPL_ACT_APPLY: {
			uint64_t cur = 0;
			gt_err err;
			int queue;

			pthread_mutex_lock(&pe->mu);
			queue = link_shaped(&pe->shape) || pe->dq_head != NULL ||
			    pe->dq_busy;
			pthread_mutex_unlock(&pe->mu);
			if (held != NULL && queue) {
				/* The link delays it; pull on meanwhile. */
				cur = batch.info.last_seq;
				err = dq_push(pe, held, &batch) == 0 ? GT_OK :
				    GT_ECLOSED;
				held = NULL;
			} else {
				err = held ? follower_apply(pe, &batch, &cur) :
				    GT_ESTATE;
			}
			if (held) {
				nng_msg_free(held);
				held = NULL;
			}
			ev.kind = err == GT_OK ? REPL_EV_APPLIED :
			    REPL_EV_APPLY_FAILED;
			ev.cursor = cur;
			ev.err = err;
			ev.rnd = rnd32();
			if (err != GT_OK)
				GT_LOG(GT_LOG_ERROR, "repl", "event=apply_failed "
				    "peer=%s err=\"%s\"", pe->cfg.region,
				    gt_strerror(err));
			break;
		}
		case REPL_ACT_RESYNC:
			pthread_mutex_lock(&pe->mu);
			if (!pe->resync)
				GT_LOG(GT_LOG_ERROR, "repl", "event="
				    "resync_required peer=%s cursor=%llu "
				    "reason=\"the peer truncated its log past "
				    "this region's cursor; add the replica "
				    "again to backfill\"", pe->cfg.region,
				    (unsigned long long)pe->p.cursor);
			pe->resync = 1;
			pthread_mutex_unlock(&pe->mu);
			/* Nothing to pull until a backfill: wait like NONE. */
			__attribute__((fallthrough));
		case REPL_ACT_NONE:
		default:
			pthread_mutex_lock(&pe->mu);
			if (!atomic_load(&r->stopping) &&
			    !atomic_load(&pe->quit))
				cond_wait_until(&pe->cv, &pe->mu,
				    act.timer_at_ms ? act.timer_at_ms :
				    now_ms() + 1000u);
			pthread_mutex_unlock(&pe->mu);
			if (act.timer_at_ms == 0 || now_ms() < act.timer_at_ms)
				continue; /* woken early: same action */
			ev.kind = REPL_EV_TIMER;
			break;
		}
		if (held != NULL && ev.kind != REPL_EV_BATCH) {
			nng_msg_free(held);
			held = NULL;
		}
		ev.now_ms = now_ms();
		pthread_mutex_lock(&pe->mu);
		repl_puller_step(&pe->p, &ev, &act);
		pthread_mutex_unlock(&pe->mu);
		if (act.kind != REPL_ACT_APPLY && held != NULL) {
			nng_msg_free(held);
			held = NULL;
		}
	}
	if (held != NULL)
		nng_msg_free(held);
	return NULL;
}

static void peers_follow(repl_node *r, const topo_members *m);

/* ---------------------------------------------------------- maintenance */

/* Deletes log records with seq <= upto, at most max of them, and records
 * the truncation point; runs on the writer. */
typedef struct trunc_job {
	uint64_t upto;
	uint64_t head;      /* own head at planning: kept in meta, since the
			     * record itself may be truncated */
	size_t max;
	uint64_t done_to;
	size_t deleted;
} trunc_job;

static gt_err trunc_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	trunc_job *job = w->arg;
	const rn_dbs *dbs = rn_store_dbs(s);
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t fb[8];
	MDB_val fk = {9, (void *)(uintptr_t)"log_floor"}, fv = {8, fb};
	int rc;

	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	job->done_to = 0;
	while (job->deleted < job->max) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		if (rc != MDB_SUCCESS || k.mv_size != 8 ||
		    gt_get_u64be(k.mv_data) > job->upto)
			break;
		job->done_to = gt_get_u64be(k.mv_data);
		rc = mdb_cursor_del(cur, 0);
		if (rc != MDB_SUCCESS)
			break;
		job->deleted++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	/* Everything up to upto is gone when the walk ended early. */
	if (job->deleted < job->max)
		job->done_to = job->upto;
	if (job->done_to == 0)
		return GT_OK;
	gt_put_u64be(fb, job->done_to);
	rc = mdb_put(txn, dbs->meta, &fk, &fv, 0);
	if (rc == MDB_SUCCESS) {
		MDB_val hk = {8, (void *)(uintptr_t)"own_head"};
		gt_put_u64be(fb, job->head);
		rc = mdb_put(txn, dbs->meta, &hk, &fv, 0);
	}
	return rn_mdb_err(rc);
}

/* One retention round: where every active peer's acknowledgement (and
 * the configured cap) allows and streams no longer need them, truncate
 * the log. */
static void maint_round(repl_node *r)
{
	repl_peer_ack acks[REPL_PEERS_MAX];
	repl_retention_in in;
	repl_retention_out plan;
	trunc_job job;
	uint64_t keep = 0;
	int streams = 0;

	/* Streams keep young records even when every peer has them; a
	 * failed look keeps everything this round. */
	if (rn_stream_retention(r->node, gt_wall_ms(), RN_STREAM_WALK_MAX,
	    &streams, &keep) != GT_OK) {
		streams = 1;
		keep = 0;
	}
	pthread_mutex_lock(&r->mu);
	own_head_refresh(r);
	memset(&in, 0, sizeof(in));
	in.head_seq = r->own_head;
	in.trunc_seq = GT_MIN(r->trunc_seq, r->own_head);
	in.keep_max = r->log_keep_max;
	in.keep_set = streams;
	in.keep_seq = keep;
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		pthread_mutex_lock(&pe->mu);
		acks[i].acked_seq = GT_MIN(pe->acked, in.head_seq);
		/* A region that left is no longer waited for. */
		acks[i].active = atomic_load(&pe->active);
		acks[i].must_resync = 0;
		pthread_mutex_unlock(&pe->mu);
	}
	if (repl_retention_plan(&in, acks, r->npeers, &plan) != GT_OK ||
	    plan.trunc_to <= in.trunc_seq)
		return;
	for (size_t i = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		pthread_mutex_lock(&pe->mu);
		if (acks[i].must_resync && !pe->must_resync)
			GT_LOG(GT_LOG_WARN, "repl", "event=peer_must_resync "
			    "peer=%s acked=%llu truncated_to=%llu reason=\"the "
			    "peer fell more than log_keep_max records behind; "
			    "it must be backfilled\"", pe->cfg.region,
			    (unsigned long long)acks[i].acked_seq,
			    (unsigned long long)plan.trunc_to);
		pe->must_resync = acks[i].must_resync;
		pthread_mutex_unlock(&pe->mu);
	}
	/* Small writes, so the writer (every local and replicated write
	 * waits on it) is never held long by retention; at most ~200 ms of
	 * them per round. */
	for (uint64_t until = now_ms() + 200; now_ms() < until &&
	    !atomic_load(&r->stopping);) {
		memset(&job, 0, sizeof(job));
		job.upto = plan.trunc_to;
		job.head = in.head_seq;
		job.max = 1000;
		if (rn_store_write_sync(r->node->store, trunc_fn, &job) !=
		    GT_OK || job.done_to == 0)
			break;
		pthread_mutex_lock(&r->mu);
		if (job.done_to > r->trunc_seq)
			r->trunc_seq = job.done_to;
		r->truncated_total += job.deleted;
		pthread_mutex_unlock(&r->mu);
		if (job.deleted < job.max)
			break;
	}
	GT_LOG(GT_LOG_DEBUG, "repl", "event=log_truncated upto=%llu "
	    "deleted=%zu", (unsigned long long)job.done_to, job.deleted);
}

/* Applies held records whose table's pause has ended. */
typedef struct release_arg {
	repl_node *r;
	int left;
} release_arg;

static gt_err release_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	release_arg *a = w->arg;
	rn_apply_result res;
	gt_err err;

	(void)s;
	memset(&res, 0, sizeof(res));
	err = rn_held_release(a->r->node, txn, 1000, gt_wall_ms(), &res,
	    &a->left);
	rn_apply_result_clear(&res);
	return err;
}

static void held_round(repl_node *r)
{
	release_arg arg = {r, 0};
	MDB_stat st;
	MDB_txn *txn = NULL;

	if (rn_store_read_begin(r->node->store, &txn) != GT_OK)
		return;
	memset(&st, 0, sizeof(st));
	(void)mdb_stat(txn, rn_store_dbs(r->node->store)->held, &st);
	rn_store_read_end(txn);
	if (st.ms_entries == 0)
		return;
	do {
		arg.left = 0;
		if (rn_store_write_sync(r->node->store, release_fn, &arg) !=
		    GT_OK)
			return;
	} while (arg.left && !rn_node_any_pause(r->node, gt_wall_ms()) &&
	    !atomic_load(&r->stopping));
}

/* Keeps this region's own membership entry true: a node started on an
 * ephemeral port (or moved) announces the URLs it really serves.  Other
 * regions may change the membership at the same time and win the epoch
 * race; the next round then tries again. */
static void self_url_round(repl_node *r)
{
	rn_node *n = r->node;
	topo_members m, out;
	const topo_region *me;
	topo_region want;

	if (n->api_url[0] == '\0')
		return;
	rn_cluster_get(n, &m);
	me = topo_members_find(&m, n->region);
	if (me == NULL || strcmp(me->api_url, n->api_url) == 0)
		return;
	want = *me;
	memset(want.api_url, 0, sizeof(want.api_url));
	memcpy(want.api_url, n->api_url, GT_MIN(strlen(n->api_url),
	    sizeof(want.api_url) - 1));
	if (rn_cluster_join(n, &want, &out) == GT_OK)
		GT_LOG(GT_LOG_INFO, "cluster", "event=own_url_announced "
		    "api=%s epoch=%llu", n->api_url,
		    (unsigned long long)out.epoch);
}

static void *maint_main(void *arg)
{
	repl_node *r = arg;

	uint64_t next = now_ms() + r->maint_ms;

	for (;;) {
		topo_members m;
		int pending;

		pthread_mutex_lock(&r->mu);
		if (!atomic_load(&r->stopping) && !r->members_pending)
			cond_wait_until(&r->cv, &r->mu, next);
		pending = r->members_pending;
		r->members_pending = 0;
		m = r->members;
		pthread_mutex_unlock(&r->mu);
		if (atomic_load(&r->stopping))
			break;
		if (pending)
			peers_follow(r, &m);
		if (now_ms() >= next) {
			maint_round(r);
			held_round(r);
			self_url_round(r);
			next = now_ms() + r->maint_ms;
		}
	}
	return NULL;
}

/* A u64 from the meta database (0 when absent). */
static uint64_t meta_u64(rn_node *node, const char *name)
{
	MDB_txn *txn = NULL;
	uint64_t val = 0;

	if (rn_store_read_begin(node->store, &txn) != GT_OK)
		return 0;
	if (rn_mdb_get_u64(txn, rn_store_dbs(node->store)->meta, name, &val) !=
	    GT_OK)
		val = 0;
	rn_store_read_end(txn);
	return val;
}

/* ------------------------------------------------------------ lifecycle */

static gt_err peer_start(peer *pe, const repl_node_cfg *cfg)
{
	repl_puller_cfg pc;
	int rv;

	repl_puller_cfg_default(&pc);
	pc.wait_ms = cfg->wait_ms ? cfg->wait_ms : pc.wait_ms;
	pc.max_bytes = cfg->max_bytes ? cfg->max_bytes : pc.max_bytes;
	if (repl_puller_init(&pe->p, &pc) != GT_OK)
		return GT_EINVAL;
	rv = nng_req0_open(&pe->sock);
	if (rv != 0)
		return GT_ENOMEM;
	/* A pull is answered or times out by the puller's own deadline;
	 * NNG must not resend it behind our back. */
	(void)nng_socket_set_ms(pe->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE);
	(void)nng_socket_set_ms(pe->sock, NNG_OPT_RECONNMINT, 20);
	(void)nng_socket_set_ms(pe->sock, NNG_OPT_RECONNMAXT, 1000);
	(void)nng_socket_set_size(pe->sock, NNG_OPT_RECVMAXSZ, REPL_FRAME_MAX);
	rv = nng_dial(pe->sock, pe->cfg.url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		GT_LOG(GT_LOG_ERROR, "repl", "event=dial_failed peer=%s url=%s "
		    "err=\"%s\"", pe->cfg.region, pe->cfg.url, nng_strerror(rv));
		nng_close(pe->sock);
		return GT_EINVAL;
	}
	atomic_store(&pe->quit, 0);
	if (pthread_create(&pe->dq_th, NULL, delivery_main, pe) != 0) {
		nng_close(pe->sock);
		return GT_ENOMEM;
	}
	pe->dq_started = 1;
	if (pthread_create(&pe->th, NULL, follower_main, pe) != 0) {
		atomic_store(&pe->quit, 1);
		pthread_mutex_lock(&pe->mu);
		pthread_cond_broadcast(&pe->cv);
		pthread_mutex_unlock(&pe->mu);
		pthread_join(pe->dq_th, NULL);
		pe->dq_started = 0;
		nng_close(pe->sock);
		return GT_ENOMEM;
	}
	pe->started = 1;
	atomic_store(&pe->active, 1);
	return GT_OK;
}

/* Stops following a peer and ends its thread (not on the writer thread:
 * the peer may be waiting for an apply there). */
static void peer_stop(peer *pe)
{
	atomic_store(&pe->active, 0);
	atomic_store(&pe->quit, 1);
	pthread_mutex_lock(&pe->mu);
	pthread_cond_broadcast(&pe->cv);
	pthread_mutex_unlock(&pe->mu);
	if (pe->started) {
		nng_close(pe->sock);
		pthread_join(pe->th, NULL);
		pe->started = 0;
	}
	if (pe->dq_started) {
		pthread_mutex_lock(&pe->mu);
		pthread_cond_broadcast(&pe->cv);
		pthread_mutex_unlock(&pe->mu);
		pthread_join(pe->dq_th, NULL);
		pe->dq_started = 0;
	}
}

/* Follows the members of m (but this region), starting and stopping peer
 * links; maintenance thread only. */
static void peers_follow(repl_node *r, const topo_members *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const topo_region *tr = &m->r[i];
		peer *pe = NULL;

		if (strcmp(tr->name, r->node->region) == 0)
			continue;
		for (size_t k = 0; k < r->npeers; k++)
			if (strcmp(r->peers[k].cfg.region, tr->name) == 0)
				pe = &r->peers[k];
		if (pe != NULL && atomic_load(&pe->active) &&
		    strcmp(pe->cfg.url, tr->repl_url) == 0)
			continue;
		if (pe != NULL && atomic_load(&pe->active))
			peer_stop(pe); /* its URL changed */
		if (pe == NULL) {
			if (r->npeers == REPL_PEERS_MAX) {
				GT_LOG(GT_LOG_ERROR, "repl", "event=too_many_peers "
				    "max=%d", REPL_PEERS_MAX);
				continue;
			}
			pe = &r->peers[r->npeers++];
			pe->r = r;
			pthread_mutex_init(&pe->mu, NULL);
			pthread_cond_init(&pe->cv, NULL);
		}
		snprintf(pe->cfg.region, sizeof(pe->cfg.region), "%s",
		    tr->name);
		snprintf(pe->cfg.url, sizeof(pe->cfg.url), "%s", tr->repl_url);
		if (peer_start(pe, &r->cfg) == GT_OK)
			GT_LOG(GT_LOG_INFO, "repl", "event=peer_added peer=%s "
			    "url=%s", pe->cfg.region, pe->cfg.url);
	}
	for (size_t k = 0; k < r->npeers; k++) {
		peer *pe = &r->peers[k];
		if (atomic_load(&pe->active) &&
		    topo_members_find(m, pe->cfg.region) == NULL) {
			peer_stop(pe);
			GT_LOG(GT_LOG_INFO, "repl", "event=peer_removed peer=%s",
			    pe->cfg.region);
		}
	}
}

gt_err repl_node_link_set(repl_node *r, const char *from,
    const repl_link *l)
{
	peer *pe = peer_find(r, from);

	if (pe == NULL)
		return GT_ENOTFOUND;
	pthread_mutex_lock(&pe->mu);
	pe->shape = *l;
	pe->lat_recent_n = pe->lat_recent_at = 0; /* measure the new setting */
	pthread_cond_broadcast(&pe->cv);
	pthread_mutex_unlock(&pe->mu);
	GT_LOG(GT_LOG_INFO, "repl", "event=link_set from=%s to=%s delay_ms=%u "
	    "jitter_ms=%u loss_ppm=%u bandwidth_kbps=%u partition=%d", from,
	    r->node->region, l->delay_ms, l->jitter_ms, l->loss_ppm,
	    l->bandwidth_kbps, l->partition);
	return GT_OK;
}

void repl_node_links_json(repl_node *r, gt_buf *b)
{
	gt_buf_puts(b, "{\"Links\":[");
	for (size_t i = 0, k = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		repl_link l;
		uint64_t lost;
		size_t held;
		if (!atomic_load(&pe->active))
			continue;
		pthread_mutex_lock(&pe->mu);
		l = pe->shape;
		lost = pe->lost;
		held = pe->dq_len;
		pthread_mutex_unlock(&pe->mu);
		gt_buf_puts(b, k++ ? ",{\"From\":" : "{\"From\":");
		gt_buf_json_str(b, pe->cfg.region, strlen(pe->cfg.region));
		gt_buf_puts(b, ",\"To\":");
		gt_buf_json_str(b, r->node->region, strlen(r->node->region));
		gt_buf_printf(b, ",\"DelayMs\":%u,\"JitterMs\":%u,\"LossPct\":"
		    "%.4f,\"BandwidthKbps\":%u,\"Partition\":%s,"
		    "\"LostBatches\":%llu,\"HeldBatches\":%zu}", l.delay_ms,
		    l.jitter_ms, (double)l.loss_ppm / 10000.0, l.bandwidth_kbps,
		    l.partition ? "true" : "false", (unsigned long long)lost,
		    held);
	}
	gt_buf_puts(b, "]}");
}

void repl_node_rewind(repl_node *r)
{
	for (size_t i = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		atomic_store(&pe->rewind, 1);
		pthread_mutex_lock(&pe->mu);
		pthread_cond_broadcast(&pe->cv);
		pthread_mutex_unlock(&pe->mu);
	}
}

void repl_node_set_members(repl_node *r, const topo_members *m)
{
	pthread_mutex_lock(&r->mu);
	r->members = *m;
	r->members_pending = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

gt_err repl_node_start(rn_node *node, const repl_node_cfg *cfg,
    repl_node **out)
{
	repl_node *r;
	gt_err err;
	int rv;

	if (cfg->npeers > REPL_PEERS_MAX)
		return GT_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return GT_ENOMEM;
	r->node = node;
	r->wait_ms = cfg->wait_ms;
	r->max_bytes = cfg->max_bytes ? cfg->max_bytes : (1u << 20);
	r->cfg = *cfg;
	r->cfg.peers = NULL;
	r->cfg.key = NULL;
	r->log_keep_max = cfg->log_keep_max;
	r->maint_ms = cfg->maint_interval_ms ? cfg->maint_interval_ms : 1000;
	/* What an earlier run truncated, and the head it had then (the
	 * newest own record may be among the truncated). */
	r->trunc_seq = meta_u64(node, "log_floor");
	r->own_head = meta_u64(node, "own_head");
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	err = repl_key_init(&r->key, cfg->key, cfg->key_len);
	if (err != GT_OK) {
		GT_LOG(GT_LOG_ERROR, "repl", "event=bad_cluster_key len=%zu "
		    "min=%u max=%u", cfg->key_len, REPL_KEY_LEN_MIN,
		    REPL_KEY_LEN_MAX);
		goto fail;
	}
	for (size_t i = 0; i < cfg->npeers; i++) {
		peer *pe = &r->peers[r->npeers++];
		pe->r = r;
		pe->cfg = cfg->peers[i];
		pthread_mutex_init(&pe->mu, NULL);
		pthread_cond_init(&pe->cv, NULL);
	}
	rv = nng_rep0_open(&r->rep);
	if (rv != 0) {
		err = GT_ENOMEM;
		goto fail;
	}
	r->rep_open = 1;
	(void)nng_socket_set_size(r->rep, NNG_OPT_RECVMAXSZ, 1u << 16);
	rv = nng_listen(r->rep, cfg->listen_url, NULL, 0);
	if (rv != 0) {
		GT_LOG(GT_LOG_ERROR, "repl", "event=listen_failed url=%s "
		    "err=\"%s\"", cfg->listen_url, nng_strerror(rv));
		err = rv == NNG_EADDRINVAL || rv == NNG_EINVAL ? GT_EINVAL :
		    GT_EIO;
		goto fail;
	}
	rn_store_set_commit_hook(node->store, commit_hook, r);
	/* Enough workers for every possible peer to park a pull, since
	 * regions may join at runtime. */
	r->nworkers = REPL_WORKERS_MAX;
	for (size_t i = 0; i < r->nworkers; i++) {
		worker *w = &r->workers[i];
		w->r = r;
		if (nng_ctx_open(&w->ctx, r->rep) != 0) {
			err = GT_ENOMEM;
			goto fail;
		}
		w->ctx_open = 1;
		if (nng_aio_alloc(&w->aio, NULL, NULL) != 0 ||
		    pthread_create(&w->th, NULL, worker_main, w) != 0) {
			err = GT_ENOMEM;
			goto fail;
		}
		w->started = 1;
	}
	for (size_t i = 0; i < r->npeers; i++) {
		err = peer_start(&r->peers[i], &r->cfg);
		if (err != GT_OK)
			goto fail;
	}
	if (pthread_create(&r->maint, NULL, maint_main, r) != 0) {
		err = GT_ENOMEM;
		goto fail;
	}
	r->maint_started = 1;
	GT_LOG(GT_LOG_INFO, "repl", "event=started url=%s peers=%zu",
	    cfg->listen_url, r->npeers);
	*out = r;
	return GT_OK;
fail:
	repl_node_stop(r);
	return err;
}

void repl_node_stop(repl_node *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->stopping, 1);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < r->npeers; i++) {
		pthread_mutex_lock(&r->peers[i].mu);
		pthread_cond_broadcast(&r->peers[i].cv);
		pthread_mutex_unlock(&r->peers[i].mu);
	}
	rn_store_set_commit_hook(r->node->store, NULL, NULL);
	if (r->maint_started)
		pthread_join(r->maint, NULL);
	for (size_t i = 0; i < r->npeers; i++)
		peer_stop(&r->peers[i]);
	/* Workers first: closing a context ends its pending receive or send
	 * (NNG_ECLOSED), and only when no worker uses a context any more may
	 * the socket under them close. */
	for (size_t i = 0; i < r->nworkers; i++) {
		worker *w = &r->workers[i];
		if (w->ctx_open)
			nng_ctx_close(w->ctx);
	}
	for (size_t i = 0; i < r->nworkers; i++) {
		worker *w = &r->workers[i];
		if (w->started)
			pthread_join(w->th, NULL);
		if (w->aio)
			nng_aio_free(w->aio);
	}
	if (r->rep_open)
		nng_close(r->rep);
	for (size_t i = 0; i < r->npeers; i++) {
		pthread_cond_destroy(&r->peers[i].cv);
		pthread_mutex_destroy(&r->peers[i].mu);
	}
	repl_key_free(&r->key);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* -------------------------------------------------------------- metrics */

typedef struct pend_ctx {
	uint64_t n;
} pend_ctx;

static int pend_visit(void *arg, uint64_t seq, const rn_logrec *lr)
{
	pend_ctx *pc = arg;
	(void)seq;
	(void)lr;
	return ++pc->n >= REPL_PENDING_SCAN_MAX;
}

/* Own records after acked: what the peer has yet to receive. */
static uint64_t pending_count(repl_node *r, uint64_t acked)
{
	MDB_txn *txn = NULL;
	pend_ctx pc = {0};
	int truncated = 0;

	if (rn_store_read_begin(r->node->store, &txn) != GT_OK)
		return 0;
	(void)rn_repl_log_scan(txn, rn_store_dbs(r->node->store),
	    r->node->region, acked, pend_visit, &pc, &truncated);
	rn_store_read_end(txn);
	return pc.n;
}

/* The per-link series of /metrics: one entry a series, printed for every
 * current peer (a region that left is not reported).  Entries sharing a
 * name share its HELP/TYPE header.  outgoing: this region is the
 * source (the peer the destination), else the reverse. */
static uint64_t m_acked(const peer *pe) { return pe->acked; }
static uint64_t m_cursor(const peer *pe) { return pe->p.cursor; }
static uint64_t m_applied(const peer *pe) { return pe->applied; }
static uint64_t m_dropped(const peer *pe) { return pe->dropped; }
static uint64_t m_conflicts(const peer *pe) { return pe->conflicts; }
static uint64_t m_control(const peer *pe) { return pe->control; }
static uint64_t m_errors(const peer *pe) { return pe->errors; }
static uint64_t m_must_resync(const peer *pe)
{
	return (uint64_t)pe->must_resync;
}
static uint64_t m_resync(const peer *pe) { return (uint64_t)pe->resync; }

static const struct peer_metric {
	const char *name, *help, *type, *outcome;
	int outgoing;
	uint64_t (*get)(const peer *pe);
} peer_metrics[] = {
    {"meridian_replication_shipped_seq", "Last own sequence number each "
     "peer acknowledged.", "gauge", NULL, 1, m_acked},
    {"meridian_replication_applied_seq", "Last origin sequence number "
     "applied from each source.", "gauge", NULL, 0, m_cursor},
    {"meridian_replication_records_total", "Replicated records by outcome "
     "(control: membership changes).", "counter", "applied", 0, m_applied},
    {"meridian_replication_records_total", NULL, NULL, "dropped", 0,
     m_dropped},
    {"meridian_replication_records_total", NULL, NULL, "conflict", 0,
     m_conflicts},
    {"meridian_replication_records_total", NULL, NULL, "control", 0,
     m_control},
    {"meridian_replication_pull_errors_total", "Failed pulls (peer down, "
     "timeout, bad frame).", "counter", NULL, 0, m_errors},
    {"meridian_replication_peer_must_resync", "1 when this region "
     "truncated its log past the peer's acknowledgement (log_keep_max): "
     "the peer must be backfilled.", "gauge", NULL, 1, m_must_resync},
    {"meridian_replication_resync_required", "1 when the source truncated "
     "its log past this region's cursor.", "gauge", NULL, 0, m_resync},
};

static void peer_series(repl_node *r, gt_buf *b)
{
	const char *self = r->node->region;

	for (size_t m = 0; m < GT_ARRAY_LEN(peer_metrics); m++) {
		const struct peer_metric *pm = &peer_metrics[m];
		if (pm->help != NULL)
			gt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
			    pm->name, pm->help, pm->name, pm->type);
		for (size_t i = 0; i < r->npeers; i++) {
			peer *pe = &r->peers[i];
			uint64_t v;
			if (!atomic_load(&pe->active))
				continue;
			pthread_mutex_lock(&pe->mu);
			v = pm->get(pe);
			pthread_mutex_unlock(&pe->mu);
			gt_buf_printf(b, "%s{source=\"%s\",destination=\"%s\"",
			    pm->name, pm->outgoing ? self : pe->cfg.region,
			    pm->outgoing ? pe->cfg.region : self);
			if (pm->outcome != NULL)
				gt_buf_printf(b, ",outcome=\"%s\"", pm->outcome);
			gt_buf_printf(b, "} %llu\n", (unsigned long long)v);
		}
	}
}

void repl_node_metrics(repl_node *r, gt_buf *b)
{
	const char *self = r->node->region;

	gt_buf_puts(b, "# HELP meridian_replication_latency_ms Time from a "
	    "write's timestamp at its source to its apply here (ms).\n"
	    "# TYPE meridian_replication_latency_ms histogram\n");
	for (size_t i = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		uint64_t cum = 0;
		if (!atomic_load(&pe->active))
			continue;
		pthread_mutex_lock(&pe->mu);
		for (size_t k = 0; k <= LAT_NB; k++) {
			cum += pe->lat_bucket[k];
			if (k < LAT_NB)
				gt_buf_printf(b, "meridian_replication_latency_"
				    "ms_bucket{source=\"%s\",destination=\"%s\","
				    "le=\"%u\"} %llu\n", pe->cfg.region, self,
				    lat_bounds[k], (unsigned long long)cum);
			else
				gt_buf_printf(b, "meridian_replication_latency_"
				    "ms_bucket{source=\"%s\",destination=\"%s\","
				    "le=\"+Inf\"} %llu\n", pe->cfg.region, self,
				    (unsigned long long)cum);
		}
		gt_buf_printf(b, "meridian_replication_latency_ms_sum{source="
		    "\"%s\",destination=\"%s\"} %llu\n"
		    "meridian_replication_latency_ms_count{source=\"%s\","
		    "destination=\"%s\"} %llu\n", pe->cfg.region, self,
		    (unsigned long long)pe->lat_sum_ms, pe->cfg.region, self,
		    (unsigned long long)pe->lat_count);
		pthread_mutex_unlock(&pe->mu);
	}
	gt_buf_puts(b, "# HELP meridian_pending_replication_count Writes "
	    "originated at source that destination has not acknowledged.\n"
	    "# TYPE meridian_pending_replication_count gauge\n");
	for (size_t i = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		uint64_t acked;
		if (!atomic_load(&pe->active))
			continue;
		pthread_mutex_lock(&pe->mu);
		acked = pe->acked;
		pthread_mutex_unlock(&pe->mu);
		gt_buf_printf(b, "meridian_pending_replication_count{source="
		    "\"%s\",destination=\"%s\"} %llu\n", self, pe->cfg.region,
		    (unsigned long long)pending_count(r, acked));
	}
	peer_series(r, b);
	pthread_mutex_lock(&r->mu);
	gt_buf_printf(b, "# HELP meridian_log_truncated_seq The log holds no "
	    "record at or below this sequence number.\n"
	    "# TYPE meridian_log_truncated_seq gauge\n"
	    "meridian_log_truncated_seq{region=\"%s\"} %llu\n"
	    "# HELP meridian_log_truncated_records_total Change records "
	    "deleted by retention.\n"
	    "# TYPE meridian_log_truncated_records_total counter\n"
	    "meridian_log_truncated_records_total{region=\"%s\"} %llu\n",
	    self, (unsigned long long)r->trunc_seq, self,
	    (unsigned long long)r->truncated_total);
	pthread_mutex_unlock(&r->mu);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* p50 and p99 of the latest samples; pe->mu held. */
static void recent_pcts(const peer *pe, uint32_t *p50, uint32_t *p99)
{
	uint32_t tmp[LAT_RECENT], n = pe->lat_recent_n;

	*p50 = *p99 = 0;
	if (n == 0)
		return;
	memcpy(tmp, pe->lat_recent, n * sizeof(tmp[0]));
	qsort(tmp, n, sizeof(tmp[0]), u32_cmp);
	*p50 = tmp[(n - 1) / 2];
	*p99 = tmp[(uint32_t)((uint64_t)(n - 1) * 99 / 100)];
}

void repl_node_status_json(repl_node *r, gt_buf *b)
{
	uint64_t now = now_ms();

	gt_buf_puts(b, "{\"region\":");
	gt_buf_json_str(b, r->node->region, strlen(r->node->region));
	pthread_mutex_lock(&r->mu);
	own_head_refresh(r);
	gt_buf_printf(b, ",\"head_seq\":%llu,\"peers\":[",
	    (unsigned long long)r->own_head);
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0, k = 0; i < r->npeers; i++) {
		peer *pe = &r->peers[i];
		if (!atomic_load(&pe->active))
			continue;
		uint32_t p50, p99;
		pthread_mutex_lock(&pe->mu);
		if (k++)
			gt_buf_putc(b, ',');
		recent_pcts(pe, &p50, &p99);
		gt_buf_printf(b, "{\"latency_recent_ms\":{\"samples\":%u,"
		    "\"p50\":%u,\"p99\":%u},\"region\":", pe->lat_recent_n, p50,
		    p99);
		gt_buf_json_str(b, pe->cfg.region, strlen(pe->cfg.region));
		gt_buf_printf(b, ",\"url\":");
		gt_buf_json_str(b, pe->cfg.url, strlen(pe->cfg.url));
		gt_buf_printf(b, ",\"state\":\"%s\",\"applied_seq\":%llu,"
		    "\"peer_head_seq\":%llu,\"acked_seq\":%llu,"
		    "\"last_answer_ms_ago\":%lld,\"pull_errors\":%llu,"
		    "\"applied\":%llu,\"conflicts\":%llu,\"resync_required\":"
		    "%s,\"last_error\":\"%s\"}",
		    repl_pstate_name(pe->p.state),
		    (unsigned long long)pe->p.cursor,
		    (unsigned long long)pe->p.head_seq,
		    (unsigned long long)pe->acked,
		    pe->p.last_ok_ms ? (long long)(now - pe->p.last_ok_ms) : -1,
		    (unsigned long long)pe->errors,
		    (unsigned long long)pe->applied,
		    (unsigned long long)pe->conflicts,
		    pe->resync ? "true" : "false",
		    gt_strerror(pe->p.last_err));
		pthread_mutex_unlock(&pe->mu);
	}
	gt_buf_puts(b, "]}");
}
