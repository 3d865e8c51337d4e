/*
 * api_write.h — the item-write engine the API's write operations share
 * (PutItem, UpdateItem, DeleteItem, BatchWriteItem in api_item.c and
 * TransactWriteItems / TransactGetItems in api_txn.c).  Not a public
 * interface of the region node.
 *
 * A write is one rn_item_op, prepared on the request's thread, and runs on
 * the writer thread in two phases inside the group's LMDB transaction:
 *
 *   plan   (rn_item_plan_make)   read the stored record, copy it out,
 *                                evaluate the condition, build the new item
 *                                and its body.  Writes nothing and takes no
 *                                sequence number, so a plan can be dropped.
 *   commit (rn_item_plan_commit) stamp, write the item record, append the
 *                                change record, adjust statistics.
 *
 * A transaction plans every action before it commits any, so a failed
 * condition anywhere leaves nothing written, logged or numbered.
 */
#ifndef RN_API_WRITE_H
#define RN_API_WRITE_H

#include "api_int.h"
#include "expr.h"

/* ReturnValues, as bit positions for the "allowed" masks. */
enum { RN_RV_NONE, RN_RV_ALL_OLD, RN_RV_UPDATED_OLD, RN_RV_ALL_NEW,
    RN_RV_UPDATED_NEW };

/* What an op does. */
typedef enum rn_item_kind {
	RN_ITEM_PUT,
	RN_ITEM_DELETE,
	RN_ITEM_UPDATE,
	RN_ITEM_CHECK, /* TransactWriteItems ConditionCheck: writes nothing */
	RN_ITEM_GET    /* TransactGetItems Get */
} rn_item_kind;

/* One item operation, prepared outside the writer.  Every pointer is owned
 * by the op and released by rn_item_op_clear. */
typedef struct rn_item_op {
	rn_item_kind kind;
	rn_table *t;          /* a reference */
	gt_buf key;           /* encoded LMDB key */
	cJSON *key_obj;       /* the key attributes */
	cJSON *item;          /* PUT: the new item */
	/* Serialised on the request's thread, so the single writer thread
	 * does not spend its time printing JSON: */
	char *item_json;      /* PUT: item as stored */
	size_t item_len, item_size; /* its length and DynamoDB size */
	char *key_json;       /* key_obj as logged */
	rn_expr_ctx *ex;      /* NULL when the op has no expressions */
	cJSON *names, *values; /* detached from the request: ex borrows them */
	const rn_expr_cond *cond;
	const rn_expr_update *upd;
	const rn_expr_proj *proj;
	int rv;               /* RN_RV_* */
	int rv_on_fail;       /* ReturnValuesOnConditionCheckFailure ALL_OLD */
	uint8_t log_flags;    /* OR-ed into the change record's flags
				 (RN_LOG_F_SERVICE for TTL deletes) */
} rn_item_op;

void rn_item_op_clear(rn_item_op *op);

/*
 * Parses one operation of the given kind from obj: TableName, Item (PUT) or
 * Key, ExpressionAttributeNames/Values, ConditionExpression with
 * ReturnValuesOnConditionCheckFailure, UpdateExpression (UPDATE),
 * ProjectionExpression (GET), and ReturnValues when rv_allowed (a mask of
 * 1 << RN_RV_*) is not 0.  in_txn makes UpdateExpression (UPDATE) and
 * ConditionExpression (CHECK) required, as in TransactWriteItems.  Checks
 * unused names and values and that an update leaves key attributes alone.
 * obj is modified: the item and the names/values objects are detached
 * from it and owned by op.  op must be zeroed by the caller; after a
 * failure it may hold parts and still needs rn_item_op_clear.  Returns 0,
 * or -1 with the call's error answer set.
 */
int rn_item_op_parse(rn_call *c, cJSON *obj, rn_item_kind kind,
    int rv_allowed, int in_txn, rn_item_op *op);

/* 1 when two of the n ops address the same item. */
int rn_item_ops_duplicate(const rn_item_op *ops, size_t n);

/* The outcome of planning an op. */
typedef enum rn_plan_status {
	RN_PLAN_OK = 0,       /* ready to commit (maybe nothing to write) */
	RN_PLAN_GONE,         /* the table was deleted or replaced */
	RN_PLAN_COND_FAILED,  /* the ConditionExpression is false */
	RN_PLAN_INVALID       /* the update cannot apply to this item: msg */
} rn_plan_status;

/*
 * A planned write.  It holds copies of everything it read, so it stays
 * valid while other plans of the same LMDB transaction commit.  All
 * pointers are owned by the plan (rn_item_plan_clear), except new_item for
 * a PUT, which is the op's item.
 */
typedef struct rn_item_plan {
	rn_plan_status status;
	char msg[RN_MSG_MAX];  /* RN_PLAN_INVALID: DynamoDB's message */
	int found;             /* a record exists (maybe a tombstone) */
	int live;              /* ... and it is not a tombstone */
	cf_version ver;        /* its version, when found */
	char *old_body;        /* live: the stored body (a copy) */
	size_t old_len;
	cJSON *old_item;       /* live: old_body parsed */
	cJSON *new_item;       /* PUT/UPDATE: the item to store */
	int new_borrowed;      /* new_item belongs to the op */
	char *new_body;        /* new_item as stored */
	int body_borrowed;     /* new_body is the op's item_json */
	size_t new_len;
	size_t old_size, new_size; /* DynamoDB item sizes */
	int write;             /* commit must write (else it is a no-op) */
} rn_item_plan;

/*
 * Plans op on the writer thread in txn.  Writes nothing.  Sets p->status;
 * returns GT_OK for every logical outcome.  Errors: GT_ECORRUPT (a stored
 * record does not decode), GT_ENOMEM, LMDB errors; p needs
 * rn_item_plan_clear in every case.  op is borrowed and must outlive p.
 */
gt_err rn_item_plan_make(rn_node *n, MDB_txn *txn, const rn_item_op *op,
    rn_item_plan *p);

/*
 * Commits a plan with status RN_PLAN_OK: takes the next sequence number,
 * stamps the version, writes the item record and the change record and
 * adjusts statistics (nothing at all when p->write is 0).  Any error may
 * come after a write, so the caller must return it to abort the group.
 */
gt_err rn_item_plan_commit(rn_node *n, MDB_txn *txn, const rn_item_op *op,
    const rn_item_plan *p);

void rn_item_plan_clear(rn_item_plan *p);

/*
 * Reads one live item as JSON (its stored body, or its projection when
 * proj is not NULL) and appends it to out; *found is 0 when there is none.
 * Errors: GT_ECORRUPT, GT_ENOMEM, LMDB errors.
 */
gt_err rn_item_read_json(MDB_txn *txn, const rn_dbs *dbs,
    const gt_buf *key, const rn_expr_proj *proj, gt_buf *out, int *found);

/* TransactWriteItems and TransactGetItems (api_txn.c). */
void rn_op_transact_write_items(rn_call *c, cJSON *req);
void rn_op_transact_get_items(rn_call *c, cJSON *req);

#endif /* RN_API_WRITE_H */
