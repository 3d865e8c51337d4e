/*
 * changelog.h — the change-log record and the item record, byte by byte.
 *
 * The change log (LMDB database "log", key = u64 big-endian local sequence
 * number, from 1, never reused) holds one record per change the node's
 * tables saw, local or replicated, committed in the same transaction as the
 * change itself.  Replication, Streams, lag metrics and the conflict ledger
 * all read it.
 *
 * Change record, format 1:
 *   off  size  field
 *   0    1     format (1)
 *   1    1     op: 1 PUT (insert or replace), 2 DELETE, 3 TABLE_CREATE,
 *                   4 TABLE_DELETE, 5 TABLE_UPDATE (table records: key =
 *                   {"TableName": ...}, new image = the table descriptor
 *                   with its replica set), 6 CLUSTER (key =
 *                   {"Cluster": true}, new image = the membership)
 *   2    1     flags: bit 0 REPLICATED (originated in another region),
 *                     bit 1 SERVICE (a delete made by the TTL sweeper)
 *   3    8     hlc: the change's hybrid timestamp (conflict.h)
 *   11   8     origin_seq: the sequence number in the origin region's log
 *   19   4     table_id
 *   23   1     O  origin region name length (1..31)
 *   24   O     origin region name
 *   .    2     T  table name length
 *   .    T     table name
 *   .    4     K  key length; K bytes: the item key, DynamoDB JSON
 *   .    4     D  old image length; D bytes: old item JSON (0: none)
 *   .    4     N  new image length; N bytes: new item JSON (0: none)
 *   .    2     M  metadata length; M bytes: stamp + version vector
 * All integers big-endian.  A decoder rejects any record whose lengths do
 * not add up to the record's size exactly.
 */
#ifndef RN_CHANGELOG_H
#define RN_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "gt.h"

#define RN_LOG_FORMAT 1u

enum {
	RN_LOG_PUT = 1,
	RN_LOG_DELETE = 2,
	RN_LOG_TABLE_CREATE = 3,
	RN_LOG_TABLE_DELETE = 4,
	RN_LOG_TABLE_UPDATE = 5,
	RN_LOG_CLUSTER = 6
};
enum { RN_LOG_F_REPLICATED = 1, RN_LOG_F_SERVICE = 2 };

/* A decoded change record.  Byte fields point into the encoded record
 * (borrowed: valid while the record's bytes are). */
typedef struct rn_logrec {
	uint8_t op, flags;
	uint64_t hlc, origin_seq;
	uint32_t table_id;
	const char *origin; size_t origin_len;
	const char *table; size_t table_len;
	const char *key; size_t key_len;
	const char *old_img; size_t old_len;
	const char *new_img; size_t new_len;
	const uint8_t *meta; size_t meta_len;
} rn_logrec;

/* Appends the encoding of r to out (out's oom flag reports failure). */
void rn_logrec_encode(const rn_logrec *r, gt_buf *out);
/* Errors: GT_ECORRUPT. */
gt_err rn_logrec_decode(const uint8_t *p, size_t n, rn_logrec *out);

/*
 * Item record (LMDB database "items"), format 1:
 *   0  1  format (1)
 *   1  1  flags: bit 0 TOMBSTONE
 *   2  2  M  metadata length
 *   4  M  metadata (stamp + version vector)
 *   .  .  body: the item's canonical JSON; for a tombstone, the item
 *            key's JSON
 */
enum { RN_ITEM_F_TOMBSTONE = 1 };

typedef struct rn_itemrec {
	uint8_t flags;
	const uint8_t *meta; size_t meta_len;
	const char *body; size_t body_len;
} rn_itemrec;

void rn_itemrec_encode(const rn_itemrec *r, gt_buf *out);
gt_err rn_itemrec_decode(const uint8_t *p, size_t n, rn_itemrec *out);

#endif /* RN_CHANGELOG_H */
