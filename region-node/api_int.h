/*
 * api_int.h — helpers shared by the API's source files (not a public
 * interface of the region node).
 */
#ifndef RN_API_INT_H
#define RN_API_INT_H

#include <cjson/cJSON.h>

#include "api.h"
#include "changelog.h"
#include "value.h"

/* Request limits (DynamoDB's). */
#define RN_BATCH_GET_MAX 100
#define RN_BATCH_WRITE_MAX 25
#define RN_PAGE_BYTES_MAX (1024u * 1024u)
#define RN_LIST_TABLES_MAX 100
#define RN_SEGMENTS_MAX 1000000

/* Parses the request body; on failure sets a SerializationException and
 * returns NULL.  The result is owned by the caller. */
cJSON *rn_req_parse(rn_call *c);

/*
 * Field getters.  Each returns 0 when the field is absent or valid (and
 * stores it), -1 after setting the call's error answer: a missing required
 * field is a coral ValidationException naming the member, a field of the
 * wrong JSON type is a SerializationException.  Strings are borrowed from
 * the request object.
 */
int rn_req_str(rn_call *c, const cJSON *req, const char *field,
    const char *member, int required, const char **out);
int rn_req_obj(rn_call *c, const cJSON *req, const char *field,
    const char *member, int required, cJSON **out);
int rn_req_arr(rn_call *c, const cJSON *req, const char *field,
    const char *member, int required, cJSON **out);
int rn_req_bool(rn_call *c, const cJSON *req, const char *field, int *out);
int rn_req_int(rn_call *c, const cJSON *req, const char *field,
    const char *member, long long min, long long max, long long *out);

/*
 * Reads TableName, checks it, and looks the table up: a new reference in
 * *out, or -1 with ResourceNotFoundException / ValidationException set.
 */
int rn_req_table(rn_call *c, const cJSON *req, rn_table **out);
/* Validates a table name, setting the coral validation error for member. */
int rn_check_table_name(rn_call *c, const char *name, const char *member);

/* Is t still the catalog's table of its name?  Exact on the writer thread,
 * where the catalog changes only after commits. */
int rn_table_is_current(rn_node *n, const rn_table *t);
/* Is t the catalog's descriptor of its table, not an older one of the
 * same table?  A change built from t must not undo a newer one. */
int rn_table_is_latest(rn_node *n, const rn_table *t);

/* Maps a gt_err from a lower layer with message msg onto the answer. */
void rn_call_fail_err(rn_call *c, gt_err err, const char *msg);

/* The table's DescribeTable object (new, owned by the caller). */
cJSON *rn_table_describe(rn_node *n, const rn_table *t, const char *status);

/* Appends a cJSON value as unformatted JSON to out. */
void rn_buf_json(gt_buf *out, const cJSON *v);

/* Table statistics (LMDB "stats"). */
gt_err rn_stats_read(MDB_txn *txn, const rn_dbs *dbs, uint32_t table_id,
    uint64_t *count, uint64_t *bytes);
gt_err rn_stats_add(MDB_txn *txn, const rn_dbs *dbs, uint32_t table_id,
    int64_t dcount, int64_t dbytes);

/* Allocates a local table or index id (meta "next_table_id"; never
 * reused).  Errors: GT_ELIMIT, LMDB errors. */
gt_err rn_table_id_next(MDB_txn *txn, const rn_dbs *dbs, uint32_t *out);

/*
 * Creates a table inside a write transaction (writer thread): allocates its
 * local id and stores desc (copied; an "Id" member is replaced).  When
 * log_op is not 0 a table record with that op is appended: a local one
 * when from is NULL, else a replicated copy of from.  *out is a new
 * descriptor for the caller to publish after commit.
 * Errors: GT_EEXIST (the name is taken), GT_ECORRUPT, GT_ENOMEM, LMDB.
 */
gt_err rn_table_create_txn(rn_node *n, MDB_txn *txn, const cJSON *desc,
    uint8_t log_op, const rn_logrec *from, rn_table **out);

/* Deletes table t and all its items inside a write transaction, logging
 * like rn_table_create_txn.  The caller removes it from the catalog after
 * commit. */
gt_err rn_table_drop_txn(rn_node *n, MDB_txn *txn, const rn_table *t,
    uint8_t log_op, const rn_logrec *from);

/* Replaces t's descriptor by desc (copied, keeping t's local id), logging
 * like rn_table_create_txn; *out as there. */
gt_err rn_table_replace_txn(rn_node *n, MDB_txn *txn, const rn_table *t,
    const cJSON *desc, uint8_t log_op, const rn_logrec *from,
    rn_table **out);

/*
 * Replaces t's descriptor by desc after a change of its settings made in
 * this region (UpdateTable, UpdateTimeToLive): stamps desc's
 * "SettingsStamp" with a new hybrid timestamp and, for a global table,
 * logs a TABLE_UPDATE so every replica takes the change (the newest stamp
 * wins; replica.c).  *out as for rn_table_create_txn.
 */
gt_err rn_table_settings_txn(rn_node *n, MDB_txn *txn, const rn_table *t,
    cJSON *desc, rn_table **out);

/* A replica change made through the admin API (KeepDetached): like
 * UpdateTable ReplicaUpdates; completes the call. */
void rn_table_replica_change(rn_call *c, const char *table,
    const char *region, int add, int keep_detached);

/*
 * Secondary indexes in the control plane (api_index.c).  Each returns 0,
 * or -1 with the call's error answer set.
 *   rn_index_req_create: CreateTable's GlobalSecondaryIndexes and
 *     LocalSecondaryIndexes (either may be NULL) into desc, which holds
 *     the table's KeySchema, AttributeDefinitions and BillingMode; also
 *     checks that every attribute definition is used by some key.
 *   rn_index_req_update: UpdateTable's GlobalSecondaryIndexUpdates into
 *     desc (a copy of t's), with the request's AttributeDefinitions.
 * rn_index_describe adds t's index descriptions to a DescribeTable
 * object o.
 */
int rn_index_req_create(rn_call *c, const cJSON *gsi, const cJSON *lsi,
    cJSON *desc);
/* Checks a KeySchema (HASH, then an optional RANGE, each defined in ad);
 * member is the coral path of its owner (an index's), NULL for the
 * table's. */
int rn_keyschema_parse(rn_call *c, const cJSON *ks, const cJSON *ad,
    const char *member);
int rn_index_req_update(rn_call *c, const cJSON *req, const cJSON *updates,
    const rn_table *t, cJSON *desc);
void rn_index_describe(rn_node *n, const rn_table *t, const char *table_arn,
    cJSON *o);

/* Control-plane and data-plane handlers. */
void rn_op_create_table(rn_call *c, cJSON *req);
void rn_op_describe_table(rn_call *c, cJSON *req);
void rn_op_list_tables(rn_call *c, cJSON *req);
void rn_op_delete_table(rn_call *c, cJSON *req);
void rn_op_update_table(rn_call *c, cJSON *req);
void rn_op_describe_limits(rn_call *c, cJSON *req);
void rn_op_describe_endpoints(rn_call *c, cJSON *req);
void rn_op_put_item(rn_call *c, cJSON *req);
void rn_op_get_item(rn_call *c, cJSON *req);
void rn_op_delete_item(rn_call *c, cJSON *req);
void rn_op_update_item(rn_call *c, cJSON *req);
void rn_op_query(rn_call *c, cJSON *req);
void rn_op_scan(rn_call *c, cJSON *req);
void rn_op_batch_get_item(rn_call *c, cJSON *req);
void rn_op_batch_write_item(rn_call *c, cJSON *req);

/* Completes a call (metrics, then call->done). */
void rn_call_finish(rn_call *c);

/*
 * Submits a write for the call: fn runs on the writer thread; after the
 * commit, done runs (NULL: the call completes, a commit failure turning
 * into an InternalServerError).  state is attached to the call and freed with
 * state_free at cleanup.  The request object is consumed only by the
 * caller; the write must not refer to it unless state owns it.
 */
void rn_call_submit(rn_call *c, rn_write_fn fn, rn_write_done_fn done,
    void *state, void (*state_free)(void *));

#endif /* RN_API_INT_H */
