/*
 * store.c — LMDB environment and the single writer with group commit.
 *
 * Design.  LMDB allows one write transaction at a time, so every write goes
 * through one writer thread.  Requests wait in a FIFO; the writer takes up
 * to batch_max of them, runs each body inside one transaction, commits once
 * (one fsync in sync mode) and then calls every completion.  While a commit
 * is being flushed, new requests pile up and form the next group, so the
 * group size adapts to the load with no timer.
 *
 * Invariants:
 *  1. Only the writer thread opens write transactions.
 *  2. seq_next is only touched by the writer thread; seq_committed is
 *     published (atomically) only after a commit succeeds, so a reader that
 *     sees seq_committed = N finds log records 1..N (minus truncated ones).
 *  3. A group either commits whole or aborts whole; on abort seq_next rolls
 *     back to its value at the group's start.
 *  4. Completions run after the commit returns, so nothing is acknowledged
 *     before it is durable (in sync mode).
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct rn_store {
	MDB_env *env;
	rn_dbs dbs;
	rn_durability durability;
	unsigned batch_max;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	rn_write *head, *tail; /* FIFO of queued writes */
	int closing;
	int writer_idle;       /* the writer waits on cv for work */
	pthread_t writer;
	int writer_started;

	uint64_t seq_next;               /* writer thread only */
	_Atomic uint64_t seq_committed;

	_Atomic uint64_t commits, writes, aborts;
	rn_commit_hook_fn hook;
	void *hook_arg;
};

void rn_store_set_commit_hook(rn_store *s, rn_commit_hook_fn fn, void *arg)
{
	pthread_mutex_lock(&s->mu);
	s->hook = fn;
	s->hook_arg = arg;
	pthread_mutex_unlock(&s->mu);
}

gt_err rn_mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return GT_OK;
	case MDB_NOTFOUND:
		return GT_ENOTFOUND;
	case MDB_KEYEXIST:
		return GT_EEXIST;
	case ENOMEM:
		return GT_ENOMEM;
	case MDB_MAP_FULL:
	case MDB_DBS_FULL:
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
		return GT_ELIMIT;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return GT_ECORRUPT;
	default:
		return GT_EIO;
	}
}

const rn_dbs *rn_store_dbs(const rn_store *s) { return &s->dbs; }
MDB_env *rn_store_env(rn_store *s) { return s->env; }

gt_err rn_store_read_begin(rn_store *s, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	if (rc != MDB_SUCCESS) {
		GT_LOG(GT_LOG_ERROR, "store", "event=read_begin_failed err=\"%s\"",
		    mdb_strerror(rc));
		return rn_mdb_err(rc);
	}
	return GT_OK;
}

void rn_store_read_end(MDB_txn *txn)
{
	if (txn)
		mdb_txn_abort(txn);
}

uint64_t rn_store_seq_next(rn_store *s) { return ++s->seq_next; }

uint64_t rn_store_seq_last(const rn_store *s) { return s->seq_next; }

uint64_t rn_store_seq_committed(const rn_store *s)
{
	return atomic_load(&s->seq_committed);
}

void rn_store_stats_get(rn_store *s, rn_store_stats *out)
{
	out->commits = atomic_load(&s->commits);
	out->writes = atomic_load(&s->writes);
	out->aborts = atomic_load(&s->aborts);
	out->last_seq = atomic_load(&s->seq_committed);
}

/* ----------------------------------------------------------- the writer */

static void store_run_group(rn_store *s, rn_write *group)
{
	MDB_txn *txn = NULL;
	uint64_t seq_start = s->seq_next;
	gt_err err = GT_OK;
	unsigned n = 0;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		GT_LOG(GT_LOG_ERROR, "store", "event=txn_begin_failed err=\"%s\"",
		    mdb_strerror(rc));
		goto done;
	}
	for (rn_write *w = group; w != NULL; w = w->next) {
		w->result = GT_OK;
		err = w->fn(s, txn, w);
		if (err != GT_OK)
			break;
		n++;
	}
	if (err != GT_OK) {
		GT_LOG(GT_LOG_ERROR, "store", "event=group_abort err=\"%s\"",
		    gt_strerror(err));
		mdb_txn_abort(txn);
		goto done;
	}
	rc = mdb_txn_commit(txn);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		GT_LOG(GT_LOG_ERROR, "store", "event=commit_failed err=\"%s\"",
		    mdb_strerror(rc));
	}
done:
	if (err != GT_OK) {
		/* Invariant 3: nothing of the group exists, so neither do its
		 * sequence numbers. */
		s->seq_next = seq_start;
		atomic_fetch_add(&s->aborts, 1);
		if (err != GT_ELIMIT && err != GT_ENOMEM)
			err = GT_EIO;
	} else {
		rn_commit_hook_fn hook;
		void *hook_arg;

		atomic_store(&s->seq_committed, s->seq_next);
		atomic_fetch_add(&s->commits, 1);
		atomic_fetch_add(&s->writes, n);
		pthread_mutex_lock(&s->mu);
		hook = s->hook;
		hook_arg = s->hook_arg;
		pthread_mutex_unlock(&s->mu);
		if (hook != NULL && s->seq_next != seq_start)
			hook(hook_arg, s->seq_next);
	}
	for (rn_write *w = group, *next; w != NULL; w = next) {
		next = w->next;
		w->next = NULL;
		w->done(w, err);
	}
}

static void *store_writer_main(void *arg)
{
	rn_store *s = arg;

	for (;;) {
		rn_write *group, *last;
		unsigned n;

		pthread_mutex_lock(&s->mu);
		while (s->head == NULL && !s->closing) {
			s->writer_idle = 1;
			pthread_cond_wait(&s->cv, &s->mu);
			s->writer_idle = 0;
		}
		if (s->head == NULL) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		group = last = s->head;
		for (n = 1; n < s->batch_max && last->next != NULL; n++)
			last = last->next;
		s->head = last->next;
		if (s->head == NULL)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->mu);

		store_run_group(s, group);
	}
	return NULL;
}

gt_err rn_store_submit(rn_store *s, rn_write *w)
{
	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		pthread_mutex_unlock(&s->mu);
		return GT_ECLOSED;
	}
	w->next = NULL;
	if (s->tail)
		s->tail->next = w;
	else
		s->head = w;
	s->tail = w;
	/* A busy writer takes the queue when its commit is done; waking it
	 * for every request would only cost context switches. */
	if (s->writer_idle)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return GT_OK;
}

/* A synchronous write waits on its own condition variable. */
typedef struct sync_write {
	rn_write w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	gt_err err;
	rn_write_fn fn;
	void (*after)(void *arg, gt_err commit_err);
	void *arg;
} sync_write;

static gt_err sync_write_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	sync_write *sw = (sync_write *)w;
	void *arg = w->arg;
	gt_err err;

	w->arg = sw->arg;
	err = sw->fn(s, txn, w);
	w->arg = arg;
	return err;
}

static void sync_write_done(rn_write *w, gt_err commit_err)
{
	sync_write *sw = (sync_write *)w;

	if (sw->after != NULL)
		sw->after(sw->arg, commit_err);
	pthread_mutex_lock(&sw->mu);
	sw->err = commit_err != GT_OK ? commit_err : w->result;
	sw->done = 1;
	pthread_cond_signal(&sw->cv);
	pthread_mutex_unlock(&sw->mu);
}

gt_err rn_store_write_sync(rn_store *s, rn_write_fn fn, void *arg)
{
	return rn_store_write_sync_then(s, fn, arg, NULL);
}

gt_err rn_store_write_sync_then(rn_store *s, rn_write_fn fn, void *arg,
    void (*after)(void *arg, gt_err commit_err))
{
	sync_write sw;
	gt_err err;

	memset(&sw, 0, sizeof(sw));
	sw.w.fn = sync_write_fn;
	sw.w.done = sync_write_done;
	sw.w.arg = &sw;
	sw.fn = fn;
	sw.after = after;
	sw.arg = arg;
	pthread_mutex_init(&sw.mu, NULL);
	pthread_cond_init(&sw.cv, NULL);
	err = rn_store_submit(s, &sw.w);
	if (err == GT_OK) {
		pthread_mutex_lock(&sw.mu);
		while (!sw.done)
			pthread_cond_wait(&sw.cv, &sw.mu);
		pthread_mutex_unlock(&sw.mu);
		err = sw.err;
	}
	pthread_cond_destroy(&sw.cv);
	pthread_mutex_destroy(&sw.mu);
	return err;
}

/* ------------------------------------------------------------ open/close */

static gt_err store_open_dbs(rn_store *s)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned flags;
	} dbs[] = {
	    {"meta", offsetof(rn_dbs, meta), 0},
	    {"tables", offsetof(rn_dbs, tables), 0},
	    {"stats", offsetof(rn_dbs, stats), 0},
	    {"items", offsetof(rn_dbs, items), 0},
	    {"log", offsetof(rn_dbs, log), 0},
	    {"cursors", offsetof(rn_dbs, cursors), 0},
	    {"acks", offsetof(rn_dbs, acks), 0},
	    {"ledger", offsetof(rn_dbs, ledger), 0},
	    {"held", offsetof(rn_dbs, held), 0},
	    {"index", offsetof(rn_dbs, index), MDB_DUPSORT},
	    {"expiry", offsetof(rn_dbs, expiry), 0},
	    {"streams", offsetof(rn_dbs, streams), 0},
	};
	MDB_txn *txn = NULL;
	MDB_val k, v;
	uint8_t fmt[4];
	gt_err err = GT_OK;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	for (size_t i = 0; i < GT_ARRAY_LEN(dbs); i++) {
		MDB_dbi *dbi = (MDB_dbi *)((char *)&s->dbs + dbs[i].off);
		rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE | dbs[i].flags,
		    dbi);
		if (rc != MDB_SUCCESS)
			goto fail;
	}
	k.mv_data = (void *)(uintptr_t)"format";
	k.mv_size = 6;
	rc = mdb_get(txn, s->dbs.meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		gt_put_u32be(fmt, RN_STORE_FORMAT);
		v.mv_data = fmt;
		v.mv_size = 4;
		rc = mdb_put(txn, s->dbs.meta, &k, &v, 0);
		if (rc != MDB_SUCCESS)
			goto fail;
	} else if (rc != MDB_SUCCESS) {
		goto fail;
	} else if (v.mv_size != 4 ||
	    gt_get_u32be(v.mv_data) != RN_STORE_FORMAT) {
		GT_LOG(GT_LOG_ERROR, "store", "event=unknown_format");
		err = GT_ECORRUPT;
		mdb_txn_abort(txn);
		return err;
	}

	/* The log's last key is the last sequence number ever assigned. */
	{
		MDB_cursor *c;
		rc = mdb_cursor_open(txn, s->dbs.log, &c);
		if (rc != MDB_SUCCESS)
			goto fail;
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
		if (rc == MDB_SUCCESS && k.mv_size == 8)
			s->seq_next = gt_get_u64be(k.mv_data);
		mdb_cursor_close(c);
		if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
			goto fail;
	}
	/* A truncated log keeps its high-water mark in meta. */
	k.mv_data = (void *)(uintptr_t)"log_floor";
	k.mv_size = 9;
	rc = mdb_get(txn, s->dbs.meta, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == 8 &&
	    gt_get_u64be(v.mv_data) > s->seq_next)
		s->seq_next = gt_get_u64be(v.mv_data);
	atomic_store(&s->seq_committed, s->seq_next);

	rc = mdb_txn_commit(txn);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	return GT_OK;
fail:
	GT_LOG(GT_LOG_ERROR, "store", "event=open_dbs_failed err=\"%s\"",
	    mdb_strerror(rc));
	mdb_txn_abort(txn);
	return rn_mdb_err(rc);
}

gt_err rn_store_open(const rn_store_opts *opts, rn_store **out)
{
	rn_store *s;
	unsigned flags = MDB_NOTLS;
	gt_err err;
	int rc;

	if (mkdir(opts->path, 0755) != 0 && errno != EEXIST) {
		GT_LOG(GT_LOG_ERROR, "store", "event=mkdir_failed path=%s "
		    "err=\"%s\"", opts->path, strerror(errno));
		return GT_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return GT_ENOMEM;
	s->durability = opts->durability;
	s->batch_max = opts->batch_max ? opts->batch_max : 256;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);

	rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto fail;
	}
	(void)mdb_env_set_maxdbs(s->env, 16);
	(void)mdb_env_set_maxreaders(s->env, 512);
	rc = mdb_env_set_mapsize(s->env, opts->map_size_bytes);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto fail;
	}
	/* nosync writes through the memory map: dirty pages go to the page
	 * cache with no write() per page at commit, and survive a crash of
	 * this process (not of the machine), which is nosync's promise. */
	if (opts->durability == RN_DURABILITY_NOSYNC)
		flags |= MDB_NOSYNC | MDB_WRITEMAP | MDB_MAPASYNC;
	rc = mdb_env_open(s->env, opts->path, flags, 0644);
	if (rc != MDB_SUCCESS) {
		GT_LOG(GT_LOG_ERROR, "store", "event=open_failed path=%s "
		    "err=\"%s\"", opts->path, mdb_strerror(rc));
		err = rn_mdb_err(rc);
		goto fail;
	}
	/* Readers left behind by a killed process would pin old pages. */
	{
		int dead = 0;
		(void)mdb_reader_check(s->env, &dead);
	}
	err = store_open_dbs(s);
	if (err != GT_OK)
		goto fail;
	if (pthread_create(&s->writer, NULL, store_writer_main, s) != 0) {
		err = GT_ENOMEM;
		goto fail;
	}
	s->writer_started = 1;
	GT_LOG(GT_LOG_INFO, "store", "event=open path=%s durability=%s "
	    "last_seq=%llu", opts->path,
	    opts->durability == RN_DURABILITY_SYNC ? "sync" : "nosync",
	    (unsigned long long)s->seq_next);
	*out = s;
	return GT_OK;
fail:
	if (s->env)
		mdb_env_close(s->env);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return err;
}

void rn_store_close(rn_store *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	/* In nosync mode flush once at shutdown so a clean stop is durable
	 * even against a machine crash afterwards. */
	(void)mdb_env_sync(s->env, 1);
	mdb_env_close(s->env);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
