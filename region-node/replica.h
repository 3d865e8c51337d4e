/*
 * replica.h — the region node's side of replication: applying a batch of
 * records pulled from a peer, reading and advancing per-origin cursors,
 * scanning the node's own log to answer a peer's pull, and the conflict
 * ledger.
 *
 * All functions run inside a transaction the caller owns; those that write
 * run on the store's writer thread (rn_store_submit).
 */
#ifndef RN_REPLICA_H
#define RN_REPLICA_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "changelog.h"
#include "topo.h"

/* The last origin sequence number applied from origin (0: none). */
gt_err rn_cursor_get(MDB_txn *txn, const rn_dbs *dbs, const char *origin,
    uint64_t *seq);
gt_err rn_cursor_put(MDB_txn *txn, const rn_dbs *dbs, const char *origin,
    uint64_t seq);

/* What applying a batch did. */
typedef struct rn_apply_result {
	uint64_t cursor;      /* the origin's cursor after the batch */
	size_t applied;       /* records that changed local state */
	size_t dropped;       /* stale or duplicate records */
	size_t conflicts;     /* concurrent writes; one side went to the ledger */
	size_t skipped;       /* records for tables this region does not hold */
	size_t held;          /* records kept back by a paused table */
	size_t control;       /* membership records (not table data) */
	/* Tables created or dropped by the batch, to publish after commit
	 * (references owned by the result; rn_apply_result_clear). */
	rn_table *created[8];
	size_t ncreated;
	char dropped_tables[8][RN_TABLE_NAME_MAX + 1];
	size_t ndropped;
	/* A newer membership adopted by the batch, to publish after commit
	 * (rn_cluster_publish). */
	int members_changed;
	topo_members members;
	int backfill_started;  /* a backfill job was recorded: wake it */
	/* Replication latency of each applied record, ms (apply wall time
	 * minus the write's HLC wall time), for the caller's histogram. */
	uint32_t *latency_ms;
	size_t nlatency, latency_cap;
} rn_apply_result;

void rn_apply_result_clear(rn_apply_result *r);

/*
 * Applies records originated in region origin, in order, inside txn, and
 * advances cursor[origin] to the last one's origin_seq.  Records at or
 * below the current cursor are skipped (a redelivered batch changes
 * nothing).  A batch pulled from above the current cursor (after_seq >
 * cursor: the cursor was lowered by a backfill meanwhile) is not applied
 * at all, so the cursor cannot jump over records it must re-read.  Item records go through cf_resolve: the winner is written,
 * a changed item is appended to the local log as a REPLICATED record, and
 * a concurrent loser is recorded in the conflict ledger.  A batch holds at
 * most 8 table records; a longer run is cut there and the cursor stops
 * before the rest (the next pull fetches it).
 * Errors: LMDB failures (abort the group), GT_ECORRUPT for a record that
 * does not decode.
 */
gt_err rn_repl_apply(rn_node *n, MDB_txn *txn, const char *origin,
    uint64_t after_seq, const rn_logrec *recs, size_t nrecs,
    uint64_t now_ms, rn_apply_result *res);

/*
 * Applies up to max held records (kept back by a pause) whose pause has
 * ended, in order, and deletes them; writer thread.  *left tells whether
 * records remain held.
 */
gt_err rn_held_release(rn_node *n, MDB_txn *txn, size_t max,
    uint64_t now_ms, rn_apply_result *res, int *left);

/* The newest sequence number this region originated (0: none), from the
 * log and the head kept when the log was truncated. */
gt_err rn_log_own_head(MDB_txn *txn, const rn_dbs *dbs, const char *self,
    uint64_t *head);

/*
 * Calls fn for each record this region originated with sequence number
 * above after_seq, in order, until fn returns non-zero or the log ends.
 * rec's fields point into the txn's pages (copy before the txn ends).
 * *truncated is set when after_seq + 1 is older than the oldest record
 * kept: the peer must resynchronise.
 */
typedef int (*rn_log_visit_fn)(void *arg, uint64_t seq, const rn_logrec *rec);
gt_err rn_repl_log_scan(MDB_txn *txn, const rn_dbs *dbs, const char *self,
    uint64_t after_seq, rn_log_visit_fn fn, void *arg, int *truncated);

/*
 * Appends the conflict ledger of table (all tables when table is NULL) to
 * out as a JSON array, newest last, at most max entries after start (a
 * ledger sequence number; 0 for the beginning).
 */
gt_err rn_ledger_json(MDB_txn *txn, const rn_dbs *dbs, const rn_table *table,
    uint64_t start, size_t max, gt_buf *out);
/* The number of ledger entries of all tables. */
gt_err rn_ledger_count(MDB_txn *txn, const rn_dbs *dbs, uint64_t *count);

/*
 * Digest of a table's live items, for comparing replicas: the partition
 * hash space is cut into nranges equal ranges (1..4096); each range's
 * digest is SHA-256 over its items in key order (key bytes after the
 * table id, then the item JSON, then the stamp), and the table digest is
 * SHA-256 over the range digests.  Writes JSON to out:
 *   {"TableName": ..., "Items": n, "Digest": hex, "Ranges": [{"Range": i,
 *    "HashLo": h, "HashHi": h, "Items": n, "Digest": hex}, ...]}
 * When list_range >= 0, that range also lists "Keys": [{"Key": {...},
 * "Digest": hex}] (one per item, for locating a difference).  Tables have
 * different ids in different regions; the digest does not depend on them.
 */
gt_err rn_table_digest_json(MDB_txn *txn, const rn_dbs *dbs,
    const rn_table *t, unsigned nranges, int list_range, gt_buf *out);

#endif /* RN_REPLICA_H */
