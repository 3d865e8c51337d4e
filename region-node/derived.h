/*
 * derived.h — what the region node derives from its items and tables:
 * secondary-index entries (index.h), the TTL expiry queue (ttl.h) and the
 * per-table streams (stream.h).
 *
 * Every change to an item's live content, whether a local write, a
 * replicated write or a backfilled one, calls rn_derived_item inside the
 * same LMDB write transaction, and every change to a table's descriptor
 * calls rn_derived_table; so what is derived always matches the items and
 * descriptors it was derived from, on every replica, at every commit.
 */
#ifndef RN_DERIVED_H
#define RN_DERIVED_H

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <stddef.h>

#include "api.h"

/* Does anything derive from t's items?  When not, callers may skip
 * parsing item bodies for rn_derived_item. */
int rn_derived_any(const rn_table *t);

/*
 * One item of t (LMDB item key key) changed: old is its content before
 * (NULL: it was absent or a tombstone) and new_ its content after (NULL:
 * deleted).  Runs on the writer thread inside txn.  Errors: GT_ENOMEM,
 * LMDB errors; the caller aborts the group.
 */
gt_err rn_derived_item(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const cJSON *old, const cJSON *new_);

/* As rn_derived_item, from item bodies (JSON text; NULL or length 0 when
 * not live); parses them only when rn_derived_any(t). */
gt_err rn_derived_item_text(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const char *old, size_t old_len,
    const char *new_, size_t new_len);

/*
 * Table descriptor change inside txn: old is the table's descriptor
 * before (NULL: created), new_ the descriptor after (NULL: the table and
 * its items are being dropped).  new_ may still be adjusted (local
 * members such as index ids) before it is stored.
 */
gt_err rn_derived_table(rn_node *n, MDB_txn *txn, const rn_table *old,
    rn_table *new_);

#endif /* RN_DERIVED_H */
