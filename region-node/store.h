/*
 * store.h — the region node's LMDB store: tables, items, the change log, and
 * the single writer with group commit.
 *
 * LMDB layout (one environment per node; every integer big-endian so that
 * LMDB's bytewise key order is numeric order):
 *
 *   meta     "format"        -> u32 store format (RN_STORE_FORMAT)
 *            "log_floor"     -> u64: the log holds no record <= this
 *                               (retention); sequence numbers continue
 *                               above it even when the log is empty
 *            "own_head"      -> u64: newest own seq when last truncated
 *            "ledger_seq"    -> u64: last conflict-ledger entry
 *            "next_table_id" -> u32 next table id to allocate (ids never
 *                               reused, so items of a dropped table can
 *                               never be mistaken for a new table's)
 *            "stream_key"    -> 32 bytes: the HMAC-SHA256 key of shard
 *                               iterators, made once (stream.h)
 *   tables   table name      -> table descriptor, JSON text (see table.h)
 *   stats    u32 table_id    -> u64 item count | u64 item bytes
 *   items    item key        -> item record
 *   log      u64 seq         -> change record (see changelog.h)
 *   cursors  origin region   -> u64 last origin seq applied from it
 *   acks     peer region     -> u64 last own seq the peer acknowledged
 *   ledger   u32 table_id | u64 ledger seq -> conflict record, JSON
 *   held     u64 hold seq    -> a replicated change record kept back while
 *                               its table's replication is paused
 *   index    (duplicate keys, sorted) secondary-index entries: index key
 *            -> item key of the table item it points to (index.h)
 *   expiry   u32 table_id | u64 expiry seconds | item key -> empty: the
 *            items a TTL sweeper will delete, in expiry order (ttl.h)
 *   streams  u32 table_id | stream label (ASCII) -> stream record: one per
 *            DynamoDB stream this node serves, open or disabled but still
 *            readable (stream.h):
 *              0   1  format (1)
 *              1   1  view type: 1 KEYS_ONLY, 2 NEW_IMAGE, 3 OLD_IMAGE,
 *                     4 NEW_AND_OLD_IMAGES
 *              2   1  flags: bit 0 CLOSED (disabled, or its table dropped)
 *              3   8  start: the first log seq that can belong to it
 *              11  8  end (CLOSED): the last log seq that can belong to
 *                     it; may be start - 1 (an empty stream); 0 when open
 *              19  8  created: wall ms when this node opened it
 *              27  8  closed: wall ms when it was closed (0: open)
 *              35  2  T  table name length; T bytes: the table name
 *              .   2  K  key schema length; K bytes: KeySchema JSON
 *            A stream's records are the log's item records (PUT, DELETE)
 *            of its table_id with seq in [start, end].
 *
 * Item key: u32 table_id | u32 h | enc(pk) [| enc(sk)]
 *   h is a 32-bit hash of enc(pk).  Putting it before the key spreads
 *   partitions over the key space the way DynamoDB's hash partitioning does,
 *   which gives Scan its (unordered) order and lets a parallel Scan segment
 *   be one contiguous range of h: segment i of T covers
 *   [floor(i * 2^32 / T), floor((i + 1) * 2^32 / T)).  Within a partition,
 *   items sort by enc(sk), so Query is one cursor range.  enc() is the
 *   order-preserving encoding of value.h.
 *
 * Item record:
 *   u8  format (1)
 *   u8  flags: bit 0 tombstone (the item is deleted; kept for replication)
 *   u16 meta length M
 *   M   bytes: replication metadata (stamp and version vector, conflict.h)
 *   ... item body: the item's canonical DynamoDB JSON (empty for tombstones)
 *
 * Threads.  Reads run on any thread in their own read transaction.  Every
 * write runs on the one writer thread: callers submit an rn_write and get a
 * callback after the commit that made it durable, so many concurrent writes
 * share one commit (and one fsync in sync mode).
 */
#ifndef RN_STORE_H
#define RN_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "gt.h"

#define RN_STORE_FORMAT 1u

typedef struct rn_store rn_store;

typedef enum rn_durability {
	RN_DURABILITY_SYNC = 0,  /* fsync at every group commit */
	RN_DURABILITY_NOSYNC = 1 /* leave flushing to the OS: survives a
				    process crash, not a machine crash */
} rn_durability;

typedef struct rn_store_opts {
	const char *path;         /* directory; created if missing */
	rn_durability durability;
	size_t map_size_bytes;    /* LMDB map size (virtual; sparse file) */
	unsigned batch_max;       /* most writes in one group commit */
} rn_store_opts;

/* The LMDB handles a transaction body needs. */
typedef struct rn_dbs {
	MDB_dbi meta, tables, stats, items, log, cursors, acks, ledger, held,
	    index, expiry, streams;
} rn_dbs;

/*
 * Opens (creating if needed) the store at opts->path and starts the writer
 * thread.  Errors: GT_EIO (cannot create or open; logged), GT_ECORRUPT
 * (unknown format), GT_ENOMEM.  *out is owned by the caller: rn_store_close.
 */
gt_err rn_store_open(const rn_store_opts *opts, rn_store **out);

/* Drains and stops the writer (pending writes are committed first), then
 * closes the environment. */
void rn_store_close(rn_store *s);

const rn_dbs *rn_store_dbs(const rn_store *s);
MDB_env *rn_store_env(rn_store *s);

/*
 * A read transaction.  Values read through it stay valid until
 * rn_store_read_end; copy them out before that.
 */
gt_err rn_store_read_begin(rn_store *s, MDB_txn **txn);
void rn_store_read_end(MDB_txn *txn);

/* ---------------------------------------------------------------- writes */

typedef struct rn_write rn_write;

/*
 * The body of a write, run on the writer thread inside the group's write
 * transaction.  It must either make all of its changes or none: it checks
 * everything it can before its first put.  Returning GT_OK or a "logical"
 * failure that made no change (for example a failed condition, reported in
 * the write's own result) both keep the group going.  Any other error means
 * LMDB failed mid-way: the whole group is aborted and every write in it
 * completes with GT_EIO.
 */
typedef gt_err (*rn_write_fn)(rn_store *s, MDB_txn *txn, rn_write *w);
/* Called on the writer thread after the group commits or aborts. */
typedef void (*rn_write_done_fn)(rn_write *w, gt_err commit_err);

struct rn_write {
	rn_write_fn fn;
	rn_write_done_fn done;
	void *arg;        /* the caller's */
	gt_err result;    /* set by fn for logical failures */
	rn_write *next;   /* queue link, owned by the store */
};

/*
 * Queues w; w must stay alive until its done callback.  Errors: GT_ECLOSED
 * when the store is shutting down (done is not called).
 */
gt_err rn_store_submit(rn_store *s, rn_write *w);

/* Runs one write and waits for its commit: for start-up and admin paths. */
gt_err rn_store_write_sync(rn_store *s, rn_write_fn fn, void *arg);

/* As rn_store_write_sync, and then after(arg, commit_err) runs on the
 * writer thread right after the commit (or abort), before any later
 * write: the place to publish what the write made (a descriptor). */
gt_err rn_store_write_sync_then(rn_store *s, rn_write_fn fn, void *arg,
    void (*after)(void *arg, gt_err commit_err));

/* ------------------------------------------------------------ change log */

/* The next local log sequence number to assign; only on the writer thread. */
uint64_t rn_store_seq_next(rn_store *s);
/* The last sequence number assigned so far (writer thread only): every
 * record appended later in this or a later transaction has a larger one. */
uint64_t rn_store_seq_last(const rn_store *s);
/* The last committed sequence number (any thread). */
uint64_t rn_store_seq_committed(const rn_store *s);

/*
 * A function called on the writer thread after every successful commit,
 * with the last committed sequence number.  It must be quick (signal a
 * condition variable, no I/O).  Set before writes start; NULL removes it.
 */
typedef void (*rn_commit_hook_fn)(void *arg, uint64_t last_seq);
void rn_store_set_commit_hook(rn_store *s, rn_commit_hook_fn fn, void *arg);

/* Store-level counters for metrics. */
typedef struct rn_store_stats {
	uint64_t commits;       /* group commits */
	uint64_t writes;        /* writes committed */
	uint64_t aborts;        /* groups aborted by an LMDB error */
	uint64_t last_seq;
} rn_store_stats;
void rn_store_stats_get(rn_store *s, rn_store_stats *out);

/* Translates an LMDB return code. */
gt_err rn_mdb_err(int rc);

#endif /* RN_STORE_H */
