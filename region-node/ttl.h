/*
 * ttl.h — DynamoDB Time to Live: the expiry queue and the sweeper.
 *
 * A table's TTL setting lives in its descriptor ("TimeToLiveSpecification",
 * table.h).  While it is enabled on attribute A, every live item whose A is
 * a non-negative Number has one entry in the LMDB database "expiry":
 *
 *   key   u32 table_id | u64 expiry seconds | item key      (plain form)
 *         u32 table_id | u64 expiry seconds | the first
 *             RN_TTL_KEY_INLINE bytes of the item key |
 *             SHA-256(item key)                           (hashed form)
 *   value empty (plain form) or the whole item key (hashed form)
 *
 * All integers big-endian, so one table's entries sort by expiry and a
 * sweep is one cursor range.  The plain form is used when it fits in
 * fewer than 511 bytes; longer item keys (long sort keys) take the hashed
 * form, which is exactly 511 bytes long, so the two forms never collide.
 *
 * Expiry seconds are the whole seconds of the attribute's exact decimal
 * value: fractions are dropped, values past 2^64 - 1 are clamped to it,
 * negative values and non-Numbers are not tracked (DynamoDB ignores them).
 * An item is expired at wall time now_s (whole seconds) when expiry <
 * now_s, so it never expires before its TTL; an expiry more than
 * RN_TTL_MAX_AGE_S seconds in the past is ignored, as DynamoDB ignores TTL
 * values older than five years.
 *
 * Invariants:
 *  1. Entries change in the same write transaction as the item or the
 *     descriptor they derive from (derived.h): rn_ttl_track for items,
 *     rn_ttl_table for descriptors.
 *  2. Enabling TTL (or changing its attribute) clears the table's entries
 *     and records a tracking job, meta "ttl_scan/<table id>" -> u16 L |
 *     L bytes attribute name | item key of the last item tracked (empty:
 *     none yet).  The sweeper works through the table in chunks of at most
 *     RN_TTL_SCAN_CHUNK items per write transaction, so enabling TTL on a
 *     big table never holds the writer long.  Tracking is idempotent, so an
 *     item written while the job runs is simply tracked twice to the same
 *     entry.
 *  3. Disabling TTL or dropping the table deletes its entries and job.
 *  4. A writer that used a descriptor older than the transaction's (a
 *     settings change earlier in the same group commit) may leave a stale
 *     entry.  The sweeper therefore re-checks every entry against the item
 *     and the descriptor stored in its own write transaction, deletes only
 *     what is live and expired under the current setting, and removes
 *     entries that no longer match.
 *
 * Which region deletes.  Every region tracks every item, but to keep
 * regions from writing concurrent tombstones for the same item (a
 * replication conflict per expired item), a region deletes an expired
 * item only when the item's current version was written in this region
 * (its stamp's origin), when this region is the table's only replica, or
 * when the item has been expired for more than takeover_s seconds — so
 * items still expire while the region that last wrote them is down.  The
 * delete is an ordinary write (api_write.h): it takes a sequence number,
 * stamps a version, writes a tombstone and logs a DELETE change record
 * with the SERVICE flag (changelog.h), which replicates like any other.
 */
#ifndef RN_TTL_H
#define RN_TTL_H

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "gt.h"

/* DynamoDB ignores TTL values more than five years in the past. */
#define RN_TTL_MAX_AGE_S (5ull * 365ull * 86400ull)
/* The longest expiry key (LMDB's key limit). */
#define RN_TTL_KEY_MAX 511u
/* The item-key bytes a hashed-form key keeps before the digest. */
#define RN_TTL_KEY_INLINE (RN_TTL_KEY_MAX - 12u - 32u)
/* Items one tracking-job chunk reads in one write transaction. */
#define RN_TTL_SCAN_CHUNK 2000u
/* Deletes in one write transaction of the sweeper. */
#define RN_TTL_DELETE_BATCH 100u

/* ---------------------------------------------------------- pure parts */

/*
 * The expiry seconds of a TTL attribute value av (wire form).  Errors:
 * GT_EINVAL when av is not a Number, is negative or does not parse (the
 * item is not tracked).  Fractions are dropped; magnitudes past
 * UINT64_MAX clamp to it.
 */
gt_err rn_ttl_seconds(const cJSON *av, uint64_t *out);

/* The expiry of item under attribute attr.  Errors: GT_ENOTFOUND (no such
 * attribute, or item is NULL), GT_EINVAL (as rn_ttl_seconds). */
gt_err rn_ttl_item_expiry(const cJSON *item, const char *attr,
    uint64_t *out);

/*
 * Encodes the expiry entry of an item: key into key_out (its length in
 * *key_len), and in *hashed whether the hashed form was used (the value
 * must then hold the item key).  item_key is the item's LMDB key (1..511
 * bytes).  Errors: GT_EINVAL for an empty or over-long item key.
 */
gt_err rn_ttl_key_encode(uint32_t table_id, uint64_t expiry_s,
    const void *item_key, size_t item_key_len,
    uint8_t key_out[RN_TTL_KEY_MAX], size_t *key_len, int *hashed);

/*
 * Decodes an entry (key k and value v, borrowed): the table id, expiry and
 * item key (*item_key points into k or v).  Errors: GT_ECORRUPT.
 */
gt_err rn_ttl_key_decode(const void *k, size_t k_len, const void *v,
    size_t v_len, uint32_t *table_id, uint64_t *expiry_s,
    const uint8_t **item_key, size_t *item_key_len);

/* 1 when an item with expiry expiry_s is expired at now_s and not so old
 * that TTL ignores it (see the head of this file). */
int rn_ttl_expired(uint64_t expiry_s, uint64_t now_s);

/*
 * Whether region self deletes an expired item now: the item's current
 * version has origin `origin` (borrowed region names); sole is 1 when self
 * holds the table's only replica.  1 when rn_ttl_expired and (origin is
 * self, or sole, or the item has been expired for more than takeover_s).
 */
int rn_ttl_should_delete(const char *self, const char *origin, int sole,
    uint64_t expiry_s, uint64_t now_s, uint32_t takeover_s);

/* ------------------------------------------- writer-thread hooks (derived) */

/*
 * An item of t (LMDB item key key) changed from old to new_ (NULL: not
 * live): moves its expiry entry when TTL is enabled on t.  Writer thread,
 * inside txn.  Errors: GT_ENOMEM, LMDB errors (the caller aborts).
 */
gt_err rn_ttl_track(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const cJSON *old, const cJSON *new_);

/*
 * A descriptor change (old NULL: created; new_ NULL: dropped): clears
 * entries and records or removes the tracking job (invariants 2 and 3).
 * Writer thread, inside txn.  Errors: LMDB errors.
 */
gt_err rn_ttl_table(rn_node *n, MDB_txn *txn, const rn_table *old,
    const rn_table *new_);

/* --------------------------------------------------- API (api_ttl.c) */

/* UpdateTimeToLive and DescribeTimeToLive (see api.h for calls). */
void rn_op_update_time_to_live(rn_call *c, cJSON *req);
void rn_op_describe_time_to_live(rn_call *c, cJSON *req);

/* -------------------------------------------------------------- sweeper */

typedef struct rn_ttl_opts {
	unsigned sweep_interval_ms; /* pause between rounds with no backlog */
	unsigned takeover_s;        /* see "Which region deletes" */
} rn_ttl_opts;

typedef struct rn_ttl rn_ttl;

/*
 * Starts the sweeper thread of node n (borrowed; must outlive it).  Each
 * round works through tracking jobs, then deletes expired items of every
 * table with TTL enabled, in write transactions of at most
 * RN_TTL_DELETE_BATCH deletes.  Counts into n->ttl_deleted and
 * n->ttl_pending.  Errors: GT_ENOMEM (no memory or thread).  *out is owned
 * by the caller: rn_ttl_stop.
 */
gt_err rn_ttl_start(rn_node *n, const rn_ttl_opts *o, rn_ttl **out);

/* Stops the thread (finishing the write in progress) and frees s. */
void rn_ttl_stop(rn_ttl *s);

/*
 * One sweep round at wall time now_ms, on the calling thread (the sweeper
 * thread's body; also for tests).  Returns 1 when work remains that a
 * bound of the round left for the next one.  Errors are logged and
 * retried next round.
 */
int rn_ttl_round(rn_node *n, const rn_ttl_opts *o, uint64_t now_ms);

#endif /* RN_TTL_H */
