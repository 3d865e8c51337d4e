/*
 * index.h — global and local secondary indexes.
 *
 * An index is kept in the LMDB database "index" (duplicate keys, sorted),
 * one entry per indexed item:
 *
 *   key   u32 index_id | u32 h | enc(index pk) [| enc(index sk)]
 *   data  the item's key in the "items" database (at most 511 bytes)
 *
 * The key is laid out exactly as an item key (store.h), with the index's
 * local id in place of the table id, so Query and Scan walk an index the
 * way they walk a table: one partition is one cursor range ordered by the
 * index sort key, a parallel-Scan segment is one range of h.  Items with
 * equal index keys sort by item key.  Entries carry no attributes: a read
 * fetches the item and projects it (KEYS_ONLY, INCLUDE, ALL), so an index
 * can never hold a stale copy.
 *
 * Rules:
 *   1. An item is in an index exactly when it is live and holds the
 *      index's key attributes with the defined types (sparse indexes).
 *   2. Entries change only in rn_index_item, called (through
 *      rn_derived_item) in the same write transaction as the item change,
 *      for local, replicated and backfilled writes alike; so each
 *      replica's index always equals a rebuild from its items.
 *   3. Index ids are local, allocated from the table id space and never
 *      reused.  A descriptor names its indexes; their local state (id,
 *      backfilling) is kept in the local descriptor and never taken from
 *      another region's (rn_index_desc_strip at the replication boundary).
 *   4. An index added to a table that holds items is BACKFILLING until the
 *      index worker has passed every item (resumable: meta
 *      "ixfill/<index id>" holds the last item key done); reads of it are
 *      refused meanwhile, as DynamoDB refuses them.
 *
 * Descriptor members (table.h): "GlobalSecondaryIndexes" and
 * "LocalSecondaryIndexes", arrays of {"IndexName", "KeySchema",
 * "Projection", "ProvisionedThroughput"?, "Id": local id, "Backfilling":
 * bool}.
 */
#ifndef RN_INDEX_H
#define RN_INDEX_H

#include <cjson/cJSON.h>
#include <lmdb.h>

#include "gt.h"
#include "store.h"
#include "value.h"

struct rn_table;
struct rn_node;

#define RN_GSI_MAX 20
#define RN_LSI_MAX 5
#define RN_INDEX_NONKEY_MAX 100 /* projected non-key attributes, in all */

typedef enum rn_proj_type {
	RN_PROJ_ALL = 0,
	RN_PROJ_KEYS_ONLY,
	RN_PROJ_INCLUDE
} rn_proj_type;

typedef struct rn_index {
	struct rn_table *kt;  /* the key layout, as a descriptor without a
			       * desc: kt->id is the index id, kt->name the
			       * index name, kt->hash / kt->range its keys */
	int local;            /* a local secondary index */
	int backfilling;
	rn_proj_type proj;
	const cJSON *include; /* INCLUDE: NonKeyAttributes (borrowed from
			       * the table's desc) */
} rn_index;

/*
 * Parses desc's index members into *out / *n (owned: rn_indexes_free).
 * Errors: GT_ECORRUPT, GT_ENOMEM.
 */
gt_err rn_indexes_parse(const cJSON *desc, rn_index **out, size_t *n);
void rn_indexes_free(rn_index *ix, size_t n);

/* How many of t's indexes are backfilling. */
int rn_table_backfilling(const struct rn_table *t);

/* The index named name of t, or NULL. */
const rn_index *rn_index_find(const struct rn_table *t, const char *name);

/*
 * Appends the index key of item for ix to out.  Returns 1 when the item
 * belongs in the index, 0 when not (a missing key attribute, or one of
 * another type); out is unchanged then.  Errors (-1): out of memory.
 */
int rn_index_entry_key(const rn_index *ix, const cJSON *item, gt_buf *out);

/*
 * Checks a new item of t against its indexes as DynamoDB does on a write:
 * an index key attribute must have the defined type and not be empty.
 * Returns GT_OK or GT_EINVAL with DynamoDB's message in msg.
 */
gt_err rn_index_validate(const struct rn_table *t, const cJSON *item,
    char msg[RN_MSG_MAX]);

/*
 * The attributes of item that ix projects: a new object owned by the
 * caller (NULL: out of memory).  table_t gives the table's key attributes,
 * which every projection keeps.
 */
cJSON *rn_index_project(const struct rn_table *table_t, const rn_index *ix,
    const cJSON *item);

/* The index's key attributes and the table's, from item (LastEvaluatedKey
 * of an index read).  New object owned by the caller, or NULL. */
cJSON *rn_index_key_extract(const struct rn_table *table_t,
    const rn_index *ix, const cJSON *item);

/*
 * Moves t's index entries for the item under key from old to new_ (either
 * NULL when not live), with index statistics; writer thread, inside txn.
 * Errors: GT_ENOMEM, LMDB errors.
 */
gt_err rn_index_item(MDB_txn *txn, const rn_dbs *dbs,
    const struct rn_table *t, const void *key, size_t key_len,
    const cJSON *old, const cJSON *new_);

/*
 * Table descriptor change (see rn_derived_table): gives new_'s indexes
 * their local ids and state (kept from old by name and key schema,
 * allocated for new ones: backfilling when the table already existed),
 * and deletes the entries of indexes that are gone.  new_ NULL: the table
 * is dropped.  Errors: GT_ENOMEM, GT_ELIMIT (ids exhausted), LMDB errors.
 */
gt_err rn_index_table(MDB_txn *txn, const rn_dbs *dbs,
    const struct rn_table *old, struct rn_table *new_);

/* Removes every local member ("Id", "Backfilling") from desc's indexes:
 * for a descriptor that came from another region. */
void rn_index_desc_strip(cJSON *desc);

/*
 * The index worker: backfills indexes marked backfilling, in chunks of
 * items per writer transaction, publishing the descriptor when done.
 * rn_index_worker_kick wakes it (after a descriptor change).
 */
typedef struct rn_index_worker rn_index_worker;
gt_err rn_index_worker_start(struct rn_node *n, rn_index_worker **out);
void rn_index_worker_kick(rn_index_worker *w);
void rn_index_worker_stop(rn_index_worker *w);

/*
 * Rebuilds every index of t from its items in one read transaction and
 * compares with the stored entries.  *missing / *extra count entries a
 * rebuild would add / remove.  Errors: GT_ECORRUPT, GT_ENOMEM, LMDB.
 */
gt_err rn_index_check(MDB_txn *txn, const rn_dbs *dbs,
    const struct rn_table *t, uint64_t *entries, uint64_t *missing,
    uint64_t *extra);

#endif /* RN_INDEX_H */
