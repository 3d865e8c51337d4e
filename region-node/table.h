/*
 * table.h — table descriptors and the node's catalog of tables.
 *
 * A descriptor is immutable once published: a change (UpdateTable) builds a
 * new descriptor and swaps it into the catalog.  Readers hold a reference
 * (rn_table_ref / rn_table_unref), so a descriptor lives as long as any
 * request that looked it up.
 *
 * The stored form (LMDB "tables" database, key = table name) is the JSON
 * object kept in rn_table.desc:
 *   {"Id": 7, "TableName": "...", "KeySchema": [...],
 *    "AttributeDefinitions": [...], "CreationDateTime": <ms>,
 *    "BillingMode": "PAY_PER_REQUEST"|"PROVISIONED",
 *    "ProvisionedThroughput": {"ReadCapacityUnits": n,
 *                              "WriteCapacityUnits": n},
 *    "StreamSpecification": {...}?, "StreamLabel": "..."?,
 *    "TableClass": "..."?, "DeletionProtectionEnabled": bool,
 *    "LastUpdateToPayPerRequestDateTime": <ms>?,
 *    "TimeToLiveSpecification": {"AttributeName": "...",
 *                                "Enabled": bool}?}
 */
#ifndef RN_TABLE_H
#define RN_TABLE_H

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gt.h"
#include "topo.h"
#include "value.h"

#define RN_TABLE_NAME_MAX 255
#define RN_ATTR_NAME_MAX 255
#define RN_PK_BYTES_MAX 2048
#define RN_SK_BYTES_MAX 1024
#define RN_ITEM_BYTES_MAX (400u * 1024u)

typedef struct rn_keyattr {
	char name[RN_ATTR_NAME_MAX + 1];
	rn_av_type type; /* RN_AV_S, RN_AV_N or RN_AV_B */
} rn_keyattr;

typedef struct rn_table {
	_Atomic int refs;
	uint32_t id;
	char name[RN_TABLE_NAME_MAX + 1];
	rn_keyattr hash;
	rn_keyattr range; /* range.type == RN_AV_NONE without a sort key */
	uint64_t created_ms;
	cJSON *desc; /* the stored descriptor; never mutated once published */
	int has_rset;    /* desc holds a "ReplicaSet" (a global table) */
	topo_rset rset;  /* ... parsed once, here */
	/* desc's "TimeToLiveSpecification", parsed once: */
	int ttl_enabled;
	char ttl_attr[RN_ATTR_NAME_MAX + 1];
	/* Its secondary indexes (index.h), parsed once: */
	struct rn_index *indexes;
	size_t nindexes;
} rn_table;

/* Parses desc's "ReplicaSet".  Errors: GT_ENOTFOUND (none: a regional
 * table), GT_ECORRUPT, GT_ENOMEM. */
gt_err rn_desc_rset(const cJSON *desc, topo_rset *out);

/* Builds a descriptor from its stored JSON (consumed on success).  Errors:
 * GT_ECORRUPT for a descriptor that does not decode. */
gt_err rn_table_from_json(cJSON *desc, rn_table **out);
void rn_table_ref(rn_table *t);
void rn_table_unref(rn_table *t);

/* Is name a valid table or index name: 3..255 of [a-zA-Z0-9_.-]. */
int rn_table_name_valid(const char *name, size_t len);

/*
 * Encodes the LMDB item key of an item or key object (only the key
 * attributes are read) into out (appended).  Checks presence, type and
 * size of the key attributes with DynamoDB's messages.  When exact is set
 * the object must hold nothing but the key attributes ("The provided key
 * element does not match the schema").  Long key parts are shortened to
 * fit LMDB's 511-byte keys (see table.c); identity stays exact, order too
 * except between sort keys sharing their first 341 encoded bytes.
 * Errors: GT_EINVAL (msg set), GT_ENOMEM; out unchanged on error.
 */
gt_err rn_table_key_encode(const rn_table *t, const cJSON *obj, int exact,
    gt_buf *out, char msg[RN_MSG_MAX]);

/*
 * Appends a Query bound for sort-key value av to out, which holds the
 * encoded partition prefix.  When the value is too long to be encoded
 * exactly, the bound is widened (upper: to the end of its inline part) and
 * *inexact is set: the caller must then check the condition on each item.
 */
gt_err rn_table_key_sk_bound(const rn_table *t, const cJSON *av, int upper,
    gt_buf *out, int *inexact, char msg[RN_MSG_MAX]);

/* A new object with only the table's key attributes of obj (owned by the
 * caller), or NULL when one is missing or memory runs out. */
cJSON *rn_table_key_extract(const rn_table *t, const cJSON *obj);

/* The 32-bit partition hash of an encoded partition key. */
uint32_t rn_key_hash(const uint8_t *p, size_t n);

/* ---------------------------------------------------------------- catalog */

typedef struct rn_catalog {
	pthread_rwlock_t lock;
	rn_table **tables; /* sorted by name */
	size_t n, cap;
} rn_catalog;

void rn_catalog_init(rn_catalog *c);
void rn_catalog_destroy(rn_catalog *c);
/* Loads every descriptor from the tables database. */
gt_err rn_catalog_load(rn_catalog *c, MDB_txn *txn, MDB_dbi tables);
/* Returns a new reference (rn_table_unref it), or NULL. */
rn_table *rn_catalog_get(rn_catalog *c, const char *name);
/* Inserts or replaces; the catalog takes a reference of its own. */
gt_err rn_catalog_put(rn_catalog *c, rn_table *t);
void rn_catalog_remove(rn_catalog *c, const char *name);
/*
 * Copies up to max names that sort after start (NULL: from the first) into
 * names[] as new references; returns how many, sets *more when names
 * remain.
 */
size_t rn_catalog_list(rn_catalog *c, const char *start, rn_table **out,
    size_t max, int *more);

#endif /* RN_TABLE_H */
