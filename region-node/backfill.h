/*
 * backfill.h — copying a table into a new replica.
 *
 * The source side answers two admin calls (http.c):
 *   POST /admin/backfill/start {"TableName"}
 *        -> {"Source", "Head", "Cursors": [{"Region","Seq"}], "Items"}
 *        the source's position in every origin's log, taken BEFORE the
 *        copy, so tailing from there afterwards misses no write;
 *   POST /admin/backfill/chunk {"TableName", "After"?, "MaxBytes"?}
 *        -> {"Records": [{"Item"|"Key", "Tombstone", "Meta"}], "Next",
 *            "Done"}
 *        the table's records (tombstones too) in key order, with their
 *        stamps and version vectors, in bounded chunks.
 *
 * The new replica runs one backfill worker thread.  A job (meta
 * "backfill/<table>") is recorded in the same transaction that creates the
 * table when a TABLE_UPDATE adds this region; the worker primes it (takes
 * the source's cursors and lowers this region's cursors to them, so every
 * origin re-delivers what the copy may miss — duplicates are dropped by
 * the apply rule), copies chunks, merging each record with cf_resolve, and
 * finally marks the replica ACTIVE with a TABLE_UPDATE of its own.  Every
 * step is committed with the job's position, so a restart of either side
 * resumes where it stopped.
 */
#ifndef RN_BACKFILL_H
#define RN_BACKFILL_H

#include "api.h"
#include "gt.h"

/* Source side: the JSON answers of the two calls, into out. */
gt_err rn_backfill_start_json(rn_node *n, const rn_table *t, gt_buf *out);
gt_err rn_backfill_chunk_json(rn_node *n, const rn_table *t,
    const char *after_hex, size_t max_bytes, gt_buf *out);

typedef struct rn_backfiller rn_backfiller;

/* Called after the worker lowered cursors: replication must re-read them
 * (repl_node_rewind). */
typedef void (*rn_rewind_fn)(void *arg);

gt_err rn_backfiller_start(rn_node *n, rn_rewind_fn rewind, void *arg,
    rn_backfiller **out);
/* Wakes the worker: a job may have been recorded. */
void rn_backfiller_kick(rn_backfiller *b);
void rn_backfiller_stop(rn_backfiller *b);

/* Appends Prometheus lines about backfills in progress. */
void rn_backfiller_metrics(rn_backfiller *b, gt_buf *out);

#endif /* RN_BACKFILL_H */
