/*
 * items.h — reading and writing item records and change records inside a
 * transaction: the primitives both local writes and replicated writes use.
 */
#ifndef RN_ITEMS_H
#define RN_ITEMS_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "changelog.h"
#include "conflict.h"
#include "store.h"

/* The stored state of one item key. */
typedef struct rn_item_cur {
	int found;        /* a record exists (maybe a tombstone) */
	int live;         /* ... and it is not a tombstone */
	cf_version ver;   /* exists = found */
	const char *body; /* borrowed from the txn: valid until its next put */
	size_t body_len;
} rn_item_cur;

/* Reads the record under key.  Errors: GT_ECORRUPT, LMDB failures. */
gt_err rn_item_read(MDB_txn *txn, const rn_dbs *dbs, const void *key,
    size_t key_len, rn_item_cur *out);

/* Writes the record under key with ver's metadata.  body is the item's
 * JSON, or, when ver->tombstone is set, the key's JSON: a tombstone keeps
 * its key, which long (hashed) LMDB keys cannot give back, for backfill.
 * Errors: GT_ENOMEM, LMDB failures. */
gt_err rn_item_write(MDB_txn *txn, const rn_dbs *dbs, const void *key,
    size_t key_len, const cf_version *ver, const char *body, size_t len);

/*
 * Deletes every record of database dbi whose key starts with the 4-byte
 * big-endian id (a table's items, an index's entries, a table's expiry
 * entries), with all their duplicates.  Errors: LMDB failures.
 */
gt_err rn_mdb_del_id(MDB_txn *txn, MDB_dbi dbi, uint32_t id);

/* Reads the u64 (big-endian) stored under key name in dbi: 0 when there
 * is none.  Errors: GT_ECORRUPT (not 8 bytes), LMDB failures. */
gt_err rn_mdb_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name,
    uint64_t *out);

/* Appends change record r under sequence number seq (which must be larger
 * than every existing one). */
gt_err rn_log_put(MDB_txn *txn, const rn_dbs *dbs, uint64_t seq,
    const rn_logrec *r);

#endif /* RN_ITEMS_H */
