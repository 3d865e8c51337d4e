/*
 * api_item.c — the data plane: PutItem, GetItem, DeleteItem, UpdateItem,
 * BatchWriteItem, BatchGetItem.  Query and Scan are in api_query.c.
 *
 * A write is prepared on the request's thread (parse, validate, encode the
 * key, parse expressions) and executed on the writer thread by item_apply,
 * which does, in the group's one LMDB transaction:
 *
 *   read old record -> evaluate condition -> build new item -> stamp it
 *   (HLC, origin = this region, vv[this region] = seq) -> write the item
 *   record -> append the change record -> adjust table statistics
 *
 * so an acknowledged write and its change record are durable together.
 */
#include "api_int.h"
#include "expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RV_NONE, RV_ALL_OLD, RV_UPDATED_OLD, RV_ALL_NEW, RV_UPDATED_NEW };
enum { KIND_PUT, KIND_DELETE, KIND_UPDATE };

/* One item write, prepared outside the writer. */
typedef struct item_op {
	int kind;
	rn_table *t;
	gt_buf key;       /* encoded LMDB key */
	cJSON *key_obj;   /* the key attributes (owned) */
	cJSON *item;      /* PutItem: the new item (owned) */
	const rn_expr_cond *cond;
	const rn_expr_update *upd;
	int rv;
	int rv_on_fail;   /* ReturnValuesOnConditionCheckFailure ALL_OLD */
} item_op;

/* The state of a PutItem/DeleteItem/UpdateItem or BatchWriteItem call. */
typedef struct write_state {
	rn_expr_ctx *ex;
	cJSON *names, *values; /* detached from the request: ex borrows them */
	size_t nops;
	item_op *ops;
	int batch;
} write_state;

static void item_op_clear(item_op *op)
{
	rn_table_unref(op->t);
	gt_buf_free(&op->key);
	cJSON_Delete(op->key_obj);
	cJSON_Delete(op->item);
}

static void write_state_free(void *p)
{
	write_state *st = p;
	for (size_t i = 0; i < st->nops; i++)
		item_op_clear(&st->ops[i]);
	free(st->ops);
	rn_expr_ctx_free(st->ex);
	cJSON_Delete(st->names);
	cJSON_Delete(st->values);
	free(st);
}

/* ------------------------------------------------------- shared pieces */

int rn_table_is_current(rn_node *n, const rn_table *t)
{
	rn_table *cur = rn_catalog_get(&n->catalog, t->name);
	int same = cur != NULL && cur->id == t->id;
	rn_table_unref(cur);
	return same;
}

/* Creates the request's expression context, taking the names and values
 * objects out of the request so they outlive it. */
static int expr_ctx_make(rn_call *c, cJSON *req, rn_expr_ctx **ex,
    cJSON **names_out, cJSON **values_out)
{
	cJSON *names = NULL, *values = NULL;
	char msg[RN_MSG_MAX];
	gt_err err;

	if (rn_req_obj(c, req, "ExpressionAttributeNames",
	    "expressionAttributeNames", 0, &names) != 0 ||
	    rn_req_obj(c, req, "ExpressionAttributeValues",
	    "expressionAttributeValues", 0, &values) != 0)
		return -1;
	if (names != NULL)
		cJSON_DetachItemViaPointer(req, names);
	if (values != NULL)
		cJSON_DetachItemViaPointer(req, values);
	*names_out = names;
	*values_out = values;
	err = rn_expr_ctx_new(names, values, ex, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	return 0;
}

/* Rejects the legacy parameters, which this version does not evaluate. */
static int legacy_reject(rn_call *c, const cJSON *req)
{
	static const char *const legacy[] = {"Expected", "AttributeUpdates",
	    "KeyConditions", "QueryFilter", "ScanFilter", "AttributesToGet",
	    "ConditionalOperator"};
	for (size_t i = 0; i < GT_ARRAY_LEN(legacy); i++) {
		if (cJSON_GetObjectItemCaseSensitive(req, legacy[i])) {
			rn_call_error(c, 400, RN_E_VALIDATION, "The legacy "
			    "parameter %s is not supported; use expressions",
			    legacy[i]);
			return -1;
		}
	}
	return 0;
}

static int return_values_parse(rn_call *c, const cJSON *req, int allowed,
    int *rv)
{
	static const char *const names[] = {"NONE", "ALL_OLD", "UPDATED_OLD",
	    "ALL_NEW", "UPDATED_NEW"};
	const char *s = NULL;

	*rv = RV_NONE;
	if (rn_req_str(c, req, "ReturnValues", "returnValues", 0, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	for (int i = 0; i < 5; i++) {
		if (strcmp(s, names[i]) == 0) {
			if (!(allowed & (1 << i)))
				break;
			*rv = i;
			return 0;
		}
	}
	for (int i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Return values "
			    "set to invalid value");
			return -1;
		}
	rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation error "
	    "detected: Value '%s' at 'returnValues' failed to satisfy "
	    "constraint: Member must satisfy enum value set: [ALL_NEW, "
	    "UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]", s);
	return -1;
}

/* ------------------------------------------------------------ executing */

/* Decoded state of the item currently stored under a key. */
typedef struct old_rec {
	int found;        /* a record exists (maybe a tombstone) */
	int live;         /* ... and it is not a tombstone */
	cf_version ver;
	const char *body; /* borrowed from the txn */
	size_t body_len;
} old_rec;

static gt_err old_read(rn_store *s, MDB_txn *txn, const gt_buf *key,
    old_rec *out)
{
	MDB_val k = {key->len, key->data}, v;
	rn_itemrec ir;
	size_t used;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mdb_get(txn, rn_store_dbs(s)->items, &k, &v);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) != GT_OK)
		return GT_ECORRUPT;
	out->found = 1;
	out->live = !(ir.flags & RN_ITEM_F_TOMBSTONE);
	if (ir.meta_len > 0 && cf_meta_decode(ir.meta, ir.meta_len, &out->ver,
	    &used) != GT_OK)
		return GT_ECORRUPT;
	out->body = ir.body;
	out->body_len = ir.body_len;
	return GT_OK;
}

/*
 * Writes the new state of one item and its change record.  new_body NULL
 * means delete (a tombstone).  old describes the previous record.
 */
static gt_err item_commit(rn_node *n, MDB_txn *txn, const rn_table *t,
    const gt_buf *key, const cJSON *key_obj, const old_rec *old,
    const char *new_body, size_t new_len, int64_t dcount, int64_t dbytes)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	cf_version ver;
	gt_buf meta = GT_BUF_INIT, rec = GT_BUF_INIT, lrec = GT_BUF_INIT;
	char *key_json = NULL;
	uint64_t seq, hlc;
	uint8_t seqb[8];
	MDB_val k, v;
	gt_err err;
	int rc;

	/* Stamp: a new HLC, this region as origin, and the old version
	 * vector advanced at this region to the change's sequence number. */
	seq = rn_store_seq_next(n->store);
	{
		cf_version none;
		memset(&none, 0, sizeof(none));
		err = cf_version_write(&n->clock, gt_wall_ms(),
		    old->found ? &old->ver : &none, n->region, seq,
		    new_body == NULL, &ver);
	}
	if (err == GT_OK)
		err = cf_meta_encode(&ver, &meta);
	if (err != GT_OK)
		goto out;
	hlc = ver.stamp.hlc;

	{
		rn_itemrec ir = {(uint8_t)(new_body ? 0 : RN_ITEM_F_TOMBSTONE),
		    (const uint8_t *)meta.data, meta.len, new_body,
		    new_body ? new_len : 0};
		rn_itemrec_encode(&ir, &rec);
	}
	key_json = cJSON_PrintUnformatted(key_obj);
	if (key_json == NULL || !gt_buf_ok(&rec)) {
		err = GT_ENOMEM;
		goto out;
	}
	{
		rn_logrec lr;
		memset(&lr, 0, sizeof(lr));
		lr.op = new_body ? RN_LOG_PUT : RN_LOG_DELETE;
		lr.hlc = hlc;
		lr.origin_seq = seq;
		lr.table_id = t->id;
		lr.origin = n->region;
		lr.origin_len = strlen(n->region);
		lr.table = t->name;
		lr.table_len = strlen(t->name);
		lr.key = key_json;
		lr.key_len = strlen(key_json);
		lr.old_img = old->live ? old->body : NULL;
		lr.old_len = old->live ? old->body_len : 0;
		lr.new_img = new_body;
		lr.new_len = new_body ? new_len : 0;
		lr.meta = (const uint8_t *)meta.data;
		lr.meta_len = meta.len;
		rn_logrec_encode(&lr, &lrec);
	}
	if (!gt_buf_ok(&lrec)) {
		err = GT_ENOMEM;
		goto out;
	}
	/* The old body lives in the txn's pages; mdb_put may move them, so
	 * everything that reads it is encoded above, before the first put. */
	k.mv_size = key->len;
	k.mv_data = key->data;
	v.mv_size = rec.len;
	v.mv_data = rec.data;
	rc = mdb_put(txn, dbs->items, &k, &v, 0);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto out;
	}
	gt_put_u64be(seqb, seq);
	k.mv_size = 8;
	k.mv_data = seqb;
	v.mv_size = lrec.len;
	v.mv_data = lrec.data;
	rc = mdb_put(txn, dbs->log, &k, &v, MDB_APPEND);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto out;
	}
	err = rn_stats_add(txn, dbs, t->id, dcount, dbytes);
	if (err != GT_OK)
		err = GT_EIO; /* past the first put: the group must abort */
out:
	free(key_json);
	gt_buf_free(&meta);
	gt_buf_free(&rec);
	gt_buf_free(&lrec);
	return err;
}

/* Appends "\"Attributes\":{...}" for ReturnValues. */
static void add_attributes(gt_buf *resp, const cJSON *obj)
{
	if (obj == NULL || cJSON_GetArraySize(obj) == 0)
		return;
	gt_buf_puts(resp, "\"Attributes\":");
	rn_buf_json(resp, obj);
}

/*
 * Runs one prepared item write on the writer thread.  A failed condition is
 * reported through *failed (and the error answer when resp is the call's).
 * Returns non-OK only for storage failures, which abort the group.
 */
static gt_err item_apply(rn_call *c, MDB_txn *txn, item_op *op, int *failed)
{
	rn_node *n = c->node;
	old_rec old;
	cJSON *old_item = NULL, *new_item = NULL, *attrs = NULL;
	char *new_body = NULL;
	size_t old_size = 0, new_size = 0;
	char msg[RN_MSG_MAX];
	gt_err err;

	*failed = 0;
	if (!rn_table_is_current(n, op->t)) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found");
		*failed = 1;
		return GT_OK;
	}
	err = old_read(n->store, txn, &op->key, &old);
	if (err != GT_OK)
		return err;
	if (old.live) {
		old_item = cJSON_ParseWithLength(old.body, old.body_len);
		if (old_item == NULL)
			return GT_ECORRUPT;
		old_size = rn_item_size(old_item);
	}
	if (op->cond != NULL) {
		int ok = 0;
		err = rn_expr_eval(op->cond, old_item, &ok, msg);
		if (err != GT_OK)
			goto out;
		if (!ok) {
			rn_call_error(c, 400, RN_E_CONDITION, "The conditional "
			    "request failed");
			if (op->rv_on_fail && old_item != NULL) {
				/* DynamoDB returns the item beside the error. */
				c->resp.len--;
				gt_buf_puts(&c->resp, ",\"Item\":");
				rn_buf_json(&c->resp, old_item);
				gt_buf_putc(&c->resp, '}');
			}
			*failed = 1;
			goto out;
		}
	}
	switch (op->kind) {
	case KIND_PUT:
		new_item = op->item;
		break;
	case KIND_DELETE:
		break;
	case KIND_UPDATE:
		new_item = old_item ? cJSON_Duplicate(old_item, 1) :
		    cJSON_Duplicate(op->key_obj, 1);
		if (new_item == NULL) {
			err = GT_ENOMEM;
			goto out;
		}
		if (op->upd != NULL) {
			err = rn_expr_update_apply(op->upd, new_item, msg);
			if (err == GT_EINVAL) {
				rn_call_error(c, 400, RN_E_VALIDATION, "%s",
				    msg);
				*failed = 1;
				err = GT_OK;
				goto out;
			}
			if (err != GT_OK)
				goto out;
		}
		if (rn_item_size(new_item) > RN_ITEM_BYTES_MAX) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Item size to "
			    "update has exceeded the maximum allowed size");
			*failed = 1;
			goto out;
		}
		break;
	}

	if (new_item != NULL) {
		new_body = cJSON_PrintUnformatted(new_item);
		if (new_body == NULL) {
			err = GT_ENOMEM;
			goto out;
		}
		new_size = rn_item_size(new_item);
	}
	/* Deleting what is not there changes nothing and logs nothing. */
	if (new_item != NULL || old.live) {
		err = item_commit(n, txn, op->t, &op->key, op->key_obj, &old,
		    new_body, new_body ? strlen(new_body) : 0,
		    (new_item != NULL) - (int64_t)old.live,
		    (int64_t)new_size - (int64_t)old_size);
		if (err != GT_OK)
			goto out;
	}

	/* The answer (not for batch writes, whose answer is shared). */
	{
		gt_buf_reset(&c->resp);
		gt_buf_putc(&c->resp, '{');
		switch (op->rv) {
		case RV_ALL_OLD:
			add_attributes(&c->resp, old_item);
			break;
		case RV_ALL_NEW:
			add_attributes(&c->resp, new_item);
			break;
		case RV_UPDATED_OLD:
		case RV_UPDATED_NEW:
			if (op->upd != NULL) {
				err = rn_expr_update_project(op->upd,
				    op->rv == RV_UPDATED_OLD ? old_item :
				    new_item, &attrs);
				if (err != GT_OK)
					goto out;
				add_attributes(&c->resp, attrs);
			}
			break;
		default:
			break;
		}
		gt_buf_putc(&c->resp, '}');
	}
out:
	if (new_item != op->item)
		cJSON_Delete(new_item);
	cJSON_Delete(old_item);
	cJSON_Delete(attrs);
	free(new_body);
	if (err == GT_ENOMEM || err == GT_ECORRUPT) {
		/* Nothing was written for this op: fail it alone. */
		rn_call_fail_err(c, err, "Internal server error");
		*failed = 1;
		return err == GT_ECORRUPT ? GT_OK : err;
	}
	return err;
}

static gt_err single_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	write_state *st = c->state;
	int failed = 0;
	gt_err err;

	(void)s;
	err = item_apply(c, txn, &st->ops[0], &failed);
	if (err == GT_OK && failed)
		w->result = GT_ECONFLICT;
	return err;
}

static gt_err batch_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	write_state *st = c->state;
	gt_err err = GT_OK;

	(void)s;
	for (size_t i = 0; i < st->nops; i++) {
		int failed = 0;
		err = item_apply(c, txn, &st->ops[i], &failed);
		if (err != GT_OK)
			break;
		if (failed) {
			/* Items written before a vanished table stay
			 * written, as DynamoDB's batches are not atomic. */
			w->result = GT_ECONFLICT;
			return GT_OK;
		}
	}
	if (err == GT_OK) {
		gt_buf_reset(&c->resp);
		gt_buf_puts(&c->resp, "{\"UnprocessedItems\":{}}");
	}
	return err;
}

/* ----------------------------------------------------------- preparing */

static write_state *write_state_new(size_t nops)
{
	write_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->ops = calloc(nops ? nops : 1, sizeof(*st->ops));
	if (st->ops == NULL) {
		free(st);
		return NULL;
	}
	st->nops = nops;
	return st;
}

/* Validates an item for PutItem and fills op (the item is detached from
 * its parent and owned by op).  Returns -1 with the answer set. */
static int prepare_put(rn_call *c, rn_table *t, cJSON *parent, cJSON *item,
    item_op *op)
{
	char msg[RN_MSG_MAX];
	gt_err err;

	op->kind = KIND_PUT;
	op->t = t;
	rn_table_ref(t);
	err = rn_item_validate(item, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	err = rn_table_key_encode(t, item, 0, &op->key, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	if (rn_item_size(item) > RN_ITEM_BYTES_MAX) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Item size has exceeded "
		    "the maximum allowed size");
		return -1;
	}
	op->key_obj = rn_table_key_extract(t, item);
	if (op->key_obj == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		return -1;
	}
	cJSON_DetachItemViaPointer(parent, item);
	op->item = item;
	return 0;
}

/* Validates a key for DeleteItem/UpdateItem/GetItem and fills op. */
static int prepare_key(rn_call *c, rn_table *t, cJSON *key, item_op *op)
{
	char msg[RN_MSG_MAX];
	gt_err err;

	op->t = t;
	rn_table_ref(t);
	err = rn_item_validate(key, msg);
	if (err == GT_OK)
		err = rn_table_key_encode(t, key, 1, &op->key, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	op->key_obj = rn_table_key_extract(t, key);
	if (op->key_obj == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		return -1;
	}
	return 0;
}

/* Parses ConditionExpression (and its ReturnValuesOnConditionCheckFailure)
 * into op. */
static int prepare_condition(rn_call *c, const cJSON *req, write_state *st,
    item_op *op)
{
	const char *text = NULL, *rvf = NULL;
	char msg[RN_MSG_MAX];
	gt_err err;

	if (rn_req_str(c, req, "ConditionExpression", "conditionExpression", 0,
	    &text) != 0 ||
	    rn_req_str(c, req, "ReturnValuesOnConditionCheckFailure",
	    "returnValuesOnConditionCheckFailure", 0, &rvf) != 0)
		return -1;
	if (rvf != NULL) {
		if (strcmp(rvf, "ALL_OLD") != 0 && strcmp(rvf, "NONE") != 0) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value '%s' at "
			    "'returnValuesOnConditionCheckFailure' failed to "
			    "satisfy constraint: Member must satisfy enum value "
			    "set: [ALL_OLD, NONE]", rvf);
			return -1;
		}
		op->rv_on_fail = strcmp(rvf, "ALL_OLD") == 0;
	}
	if (text == NULL)
		return 0;
	err = rn_expr_parse_condition(st->ex, "ConditionExpression", text,
	    &op->cond, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	return 0;
}

static int check_unused(rn_call *c, write_state *st)
{
	char msg[RN_MSG_MAX];
	gt_err err = rn_expr_ctx_check_unused(st->ex, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	return 0;
}

void rn_op_put_item(rn_call *c, cJSON *req)
{
	write_state *st = NULL;
	rn_table *t = NULL;
	cJSON *item = NULL;

	if (legacy_reject(c, req) != 0 || rn_req_table(c, req, &t) != 0 ||
	    rn_req_obj(c, req, "Item", "item", 1, &item) != 0)
		goto fail;
	st = write_state_new(1);
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	if (return_values_parse(c, req, 1 << RV_NONE | 1 << RV_ALL_OLD,
	    &st->ops[0].rv) != 0 ||
	    expr_ctx_make(c, req, &st->ex, &st->names, &st->values) != 0 ||
	    prepare_condition(c, req, st, &st->ops[0]) != 0 ||
	    check_unused(c, st) != 0 ||
	    prepare_put(c, t, req, item, &st->ops[0]) != 0)
		goto fail;
	rn_table_unref(t);
	rn_call_submit(c, single_write, NULL, st, write_state_free);
	return;
fail:
	if (st != NULL)
		write_state_free(st);
	rn_table_unref(t);
	rn_call_finish(c);
}

void rn_op_delete_item(rn_call *c, cJSON *req)
{
	write_state *st = NULL;
	rn_table *t = NULL;
	cJSON *key = NULL;

	if (legacy_reject(c, req) != 0 || rn_req_table(c, req, &t) != 0 ||
	    rn_req_obj(c, req, "Key", "key", 1, &key) != 0)
		goto fail;
	st = write_state_new(1);
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	st->ops[0].kind = KIND_DELETE;
	if (return_values_parse(c, req, 1 << RV_NONE | 1 << RV_ALL_OLD,
	    &st->ops[0].rv) != 0 ||
	    expr_ctx_make(c, req, &st->ex, &st->names, &st->values) != 0 ||
	    prepare_condition(c, req, st, &st->ops[0]) != 0 ||
	    check_unused(c, st) != 0 ||
	    prepare_key(c, t, key, &st->ops[0]) != 0)
		goto fail;
	rn_table_unref(t);
	rn_call_submit(c, single_write, NULL, st, write_state_free);
	return;
fail:
	if (st != NULL)
		write_state_free(st);
	rn_table_unref(t);
	rn_call_finish(c);
}

void rn_op_update_item(rn_call *c, cJSON *req)
{
	write_state *st = NULL;
	rn_table *t = NULL;
	cJSON *key = NULL;
	const char *text = NULL;
	char msg[RN_MSG_MAX];
	gt_err err;

	if (legacy_reject(c, req) != 0 || rn_req_table(c, req, &t) != 0 ||
	    rn_req_obj(c, req, "Key", "key", 1, &key) != 0 ||
	    rn_req_str(c, req, "UpdateExpression", "updateExpression", 0,
	    &text) != 0)
		goto fail;
	st = write_state_new(1);
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	st->ops[0].kind = KIND_UPDATE;
	if (return_values_parse(c, req, 0x1f, &st->ops[0].rv) != 0 ||
	    expr_ctx_make(c, req, &st->ex, &st->names, &st->values) != 0)
		goto fail;
	if (text != NULL) {
		err = rn_expr_parse_update(st->ex, text, &st->ops[0].upd, msg);
		if (err != GT_OK) {
			rn_call_fail_err(c, err, msg);
			goto fail;
		}
	}
	if (prepare_condition(c, req, st, &st->ops[0]) != 0 ||
	    check_unused(c, st) != 0 ||
	    prepare_key(c, t, key, &st->ops[0]) != 0)
		goto fail;
	if (st->ops[0].upd != NULL) {
		const char *kn[2] = {t->hash.name, t->range.name};
		for (int i = 0; i < 2; i++) {
			if (kn[i][0] == '\0' ||
			    !rn_expr_update_touches(st->ops[0].upd, kn[i]))
				continue;
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Cannot update "
			    "attribute %s. This attribute is part of the key",
			    kn[i]);
			goto fail;
		}
	}
	rn_table_unref(t);
	rn_call_submit(c, single_write, NULL, st, write_state_free);
	return;
fail:
	if (st != NULL)
		write_state_free(st);
	rn_table_unref(t);
	rn_call_finish(c);
}

/* Two ops of one batch on the same item? */
static int ops_duplicate(const item_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (ops[i].key.len == ops[j].key.len &&
			    memcmp(ops[i].key.data, ops[j].key.data,
			    ops[i].key.len) == 0)
				return 1;
	return 0;
}

void rn_op_batch_write_item(rn_call *c, cJSON *req)
{
	write_state *st = NULL;
	cJSON *ri = NULL, *tbl, *wr;
	size_t total = 0, i = 0;

	if (rn_req_obj(c, req, "RequestItems", "requestItems", 1, &ri) != 0)
		goto fail;
	cJSON_ArrayForEach(tbl, ri) {
		if (!cJSON_IsArray(tbl)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in RequestItems");
			goto fail;
		}
		if (cJSON_GetArraySize(tbl) < 1) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value at "
			    "'requestItems' failed to satisfy constraint: Map "
			    "value must satisfy constraint: [Member must have "
			    "length greater than or equal to 1]");
			goto fail;
		}
		total += (size_t)cJSON_GetArraySize(tbl);
	}
	if (total == 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '{}' at 'requestItems' failed to "
		    "satisfy constraint: Member must have length greater than "
		    "or equal to 1");
		goto fail;
	}
	if (total > RN_BATCH_WRITE_MAX) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value at 'requestItems' failed to "
		    "satisfy constraint: Map value must satisfy constraint: "
		    "[Member must have length less than or equal to 25, "
		    "Member must have length greater than or equal to 1]");
		goto fail;
	}
	st = write_state_new(total);
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	st->batch = 1;
	cJSON_ArrayForEach(tbl, ri) {
		rn_table *t = NULL;
		if (rn_check_table_name(c, tbl->string, "requestItems.key") !=
		    0)
			goto fail;
		t = rn_catalog_get(&c->node->catalog, tbl->string);
		if (t == NULL) {
			rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested "
			    "resource not found");
			goto fail;
		}
		cJSON_ArrayForEach(wr, tbl) {
			cJSON *put = NULL, *del = NULL, *x = NULL;
			int bad = !cJSON_IsObject(wr) ||
			    rn_req_obj(c, wr, "PutRequest", "putRequest", 0,
			    &put) != 0 ||
			    rn_req_obj(c, wr, "DeleteRequest", "deleteRequest",
			    0, &del) != 0;
			if (!bad && (put == NULL) == (del == NULL)) {
				rn_call_error(c, 400, RN_E_VALIDATION,
				    "Supplied AttributeValue has more than one "
				    "datatypes set, must contain exactly one of "
				    "the supported datatypes");
				bad = 1;
			}
			if (!bad && put != NULL)
				bad = rn_req_obj(c, put, "Item", "item", 1,
				    &x) != 0 || prepare_put(c, t, put, x,
				    &st->ops[i]) != 0;
			else if (!bad)
				bad = rn_req_obj(c, del, "Key", "key", 1, &x) !=
				    0 || prepare_key(c, t, x, &st->ops[i]) != 0;
			if (!bad && del != NULL)
				st->ops[i].kind = KIND_DELETE;
			i++;
			if (bad) {
				rn_table_unref(t);
				goto fail;
			}
		}
		rn_table_unref(t);
	}
	if (ops_duplicate(st->ops, st->nops)) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Provided list of item "
		    "keys contains duplicates");
		goto fail;
	}
	rn_call_submit(c, batch_write, NULL, st, write_state_free);
	return;
fail:
	if (st != NULL)
		write_state_free(st);
	rn_call_finish(c);
}

/* ---------------------------------------------------------------- reads */

/*
 * Reads one item into out as JSON: the stored body, or its projection.
 * *found is 0 when there is no live item.
 */
static gt_err item_read(MDB_txn *txn, const rn_dbs *dbs, const gt_buf *key,
    const rn_expr_proj *proj, gt_buf *out, int *found)
{
	MDB_val k = {key->len, key->data}, v;
	rn_itemrec ir;
	int rc;

	*found = 0;
	rc = mdb_get(txn, dbs->items, &k, &v);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) != GT_OK)
		return GT_ECORRUPT;
	if (ir.flags & RN_ITEM_F_TOMBSTONE)
		return GT_OK;
	*found = 1;
	if (proj == NULL) {
		gt_buf_append(out, ir.body, ir.body_len);
	} else {
		cJSON *item = cJSON_ParseWithLength(ir.body, ir.body_len), *p;
		gt_err err;
		if (item == NULL)
			return GT_ECORRUPT;
		err = rn_expr_project(proj, item, &p);
		cJSON_Delete(item);
		if (err != GT_OK)
			return err;
		rn_buf_json(out, p);
		cJSON_Delete(p);
	}
	return gt_buf_ok(out) ? GT_OK : GT_ENOMEM;
}

void rn_op_get_item(rn_call *c, cJSON *req)
{
	rn_table *t = NULL;
	cJSON *key = NULL, *names = NULL, *values = NULL;
	rn_expr_ctx *ex = NULL;
	const rn_expr_proj *proj = NULL;
	const char *ptext = NULL;
	MDB_txn *txn = NULL;
	item_op op;
	char msg[RN_MSG_MAX];
	size_t mark;
	int found = 0, consistent = 0;
	gt_err err;

	memset(&op, 0, sizeof(op));
	if (legacy_reject(c, req) != 0 || rn_req_table(c, req, &t) != 0 ||
	    rn_req_obj(c, req, "Key", "key", 1, &key) != 0 ||
	    rn_req_bool(c, req, "ConsistentRead", &consistent) != 0 ||
	    rn_req_str(c, req, "ProjectionExpression", "projectionExpression",
	    0, &ptext) != 0 ||
	    expr_ctx_make(c, req, &ex, &names, &values) != 0)
		goto out;
	if (ptext != NULL) {
		err = rn_expr_parse_projection(ex, ptext, &proj, msg);
		if (err != GT_OK) {
			rn_call_fail_err(c, err, msg);
			goto out;
		}
	}
	err = rn_expr_ctx_check_unused(ex, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		goto out;
	}
	if (prepare_key(c, t, key, &op) != 0)
		goto out;
	err = rn_store_read_begin(c->node->store, &txn);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "");
		goto out;
	}
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"Item\":");
	mark = c->resp.len;
	err = item_read(txn, rn_store_dbs(c->node->store), &op.key, proj,
	    &c->resp, &found);
	rn_store_read_end(txn);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "Internal server error");
		goto out;
	}
	if (!found) {
		gt_buf_reset(&c->resp);
		gt_buf_puts(&c->resp, "{}");
	} else {
		(void)mark;
		gt_buf_putc(&c->resp, '}');
	}
out:
	item_op_clear(&op);
	rn_expr_ctx_free(ex);
	cJSON_Delete(names);
	cJSON_Delete(values);
	rn_table_unref(t);
	rn_call_finish(c);
}

/* One table's part of a BatchGetItem. */
typedef struct bget_table {
	rn_table *t;
	const char *name;
	rn_expr_ctx *ex;
	cJSON *names, *values;
	const rn_expr_proj *proj;
	cJSON *keys; /* borrowed from the request */
	item_op *ops;
	size_t nops;
} bget_table;

#define RN_BATCH_GET_RESPONSE_MAX (16u * 1024u * 1024u)

void rn_op_batch_get_item(rn_call *c, cJSON *req)
{
	cJSON *ri = NULL, *tbl;
	bget_table *bt = NULL;
	size_t ntables = 0, total = 0, ti = 0;
	MDB_txn *txn = NULL;
	gt_buf unprocessed = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	gt_err err;

	if (rn_req_obj(c, req, "RequestItems", "requestItems", 1, &ri) != 0)
		goto out;
	ntables = (size_t)cJSON_GetArraySize(ri);
	if (ntables == 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '{}' at 'requestItems' failed to "
		    "satisfy constraint: Member must have length greater than "
		    "or equal to 1");
		goto out;
	}
	bt = calloc(ntables, sizeof(*bt));
	if (bt == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto out;
	}
	cJSON_ArrayForEach(tbl, ri) {
		bget_table *b = &bt[ti++];
		const char *ptext = NULL;
		cJSON *k;
		size_t i = 0;

		b->name = tbl->string;
		if (!cJSON_IsObject(tbl)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in RequestItems");
			goto out;
		}
		if (legacy_reject(c, tbl) != 0 ||
		    rn_req_arr(c, tbl, "Keys", "requestItems.keys", 1,
		    &b->keys) != 0 ||
		    rn_req_str(c, tbl, "ProjectionExpression",
		    "projectionExpression", 0, &ptext) != 0)
			goto out;
		b->nops = (size_t)cJSON_GetArraySize(b->keys);
		total += b->nops;
		if (b->nops == 0 || total > RN_BATCH_GET_MAX) {
			rn_call_error(c, 400, RN_E_VALIDATION, b->nops == 0 ?
			    "1 validation error detected: Value at "
			    "'requestItems' failed to satisfy constraint: Map "
			    "value must satisfy constraint: [Member must have "
			    "length greater than or equal to 1]" :
			    "Too many items requested for the BatchGetItem "
			    "call");
			goto out;
		}
		if (rn_check_table_name(c, b->name, "requestItems.key") != 0)
			goto out;
		b->t = rn_catalog_get(&c->node->catalog, b->name);
		if (b->t == NULL) {
			rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested "
			    "resource not found");
			goto out;
		}
		if (expr_ctx_make(c, tbl, &b->ex, &b->names, &b->values) != 0)
			goto out;
		if (ptext != NULL) {
			err = rn_expr_parse_projection(b->ex, ptext, &b->proj,
			    msg);
			if (err != GT_OK) {
				rn_call_fail_err(c, err, msg);
				goto out;
			}
		}
		err = rn_expr_ctx_check_unused(b->ex, msg);
		if (err != GT_OK) {
			rn_call_fail_err(c, err, msg);
			goto out;
		}
		b->ops = calloc(b->nops, sizeof(*b->ops));
		if (b->ops == NULL) {
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error");
			goto out;
		}
		cJSON_ArrayForEach(k, b->keys) {
			if (prepare_key(c, b->t, k, &b->ops[i++]) != 0)
				goto out;
		}
		if (ops_duplicate(b->ops, b->nops)) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Provided list "
			    "of item keys contains duplicates");
			goto out;
		}
	}

	err = rn_store_read_begin(c->node->store, &txn);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "");
		goto out;
	}
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"Responses\":{");
	gt_buf_putc(&unprocessed, '{');
	for (ti = 0; ti < ntables; ti++) {
		bget_table *b = &bt[ti];
		size_t nitems = 0, nun = 0;
		cJSON *k;
		size_t i = 0;

		if (ti)
			gt_buf_putc(&c->resp, ',');
		gt_buf_json_str(&c->resp, b->name, strlen(b->name));
		gt_buf_puts(&c->resp, ":[");
		cJSON_ArrayForEach(k, b->keys) {
			size_t before = c->resp.len;
			int found = 0;
			if (c->resp.len > RN_BATCH_GET_RESPONSE_MAX) {
				/* Past 16 MB the rest waits for a retry. */
				if (nun++ == 0) {
					if (unprocessed.len > 1)
						gt_buf_putc(&unprocessed, ',');
					gt_buf_json_str(&unprocessed, b->name,
					    strlen(b->name));
					gt_buf_puts(&unprocessed, ":{\"Keys\":[");
				} else {
					gt_buf_putc(&unprocessed, ',');
				}
				rn_buf_json(&unprocessed, b->ops[i].key_obj);
				i++;
				continue;
			}
			if (nitems)
				gt_buf_putc(&c->resp, ',');
			err = item_read(txn, rn_store_dbs(c->node->store),
			    &b->ops[i].key, b->proj, &c->resp, &found);
			if (err != GT_OK) {
				rn_store_read_end(txn);
				rn_call_fail_err(c, err, "Internal server "
				    "error");
				goto out;
			}
			if (found)
				nitems++;
			else
				c->resp.len = before;
			i++;
		}
		if (nun > 0) {
			gt_buf_puts(&unprocessed, "]");
			if (b->names != NULL) {
				gt_buf_puts(&unprocessed,
				    ",\"ExpressionAttributeNames\":");
				rn_buf_json(&unprocessed, b->names);
			}
			if (cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(ri, b->name),
			    "ProjectionExpression")) {
				const cJSON *pe =
				    cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetObjectItemCaseSensitive(ri,
				    b->name), "ProjectionExpression");
				gt_buf_puts(&unprocessed,
				    ",\"ProjectionExpression\":");
				gt_buf_json_str(&unprocessed, pe->valuestring,
				    strlen(pe->valuestring));
			}
			gt_buf_putc(&unprocessed, '}');
		}
		gt_buf_putc(&c->resp, ']');
	}
	rn_store_read_end(txn);
	gt_buf_putc(&unprocessed, '}');
	gt_buf_puts(&c->resp, "},\"UnprocessedKeys\":");
	gt_buf_append(&c->resp, unprocessed.data, unprocessed.len);
	gt_buf_putc(&c->resp, '}');
	if (!gt_buf_ok(&unprocessed))
		c->resp.oom = 1;
out:
	for (size_t j = 0; bt != NULL && j < ntables; j++) {
		for (size_t i = 0; bt[j].ops != NULL && i < bt[j].nops; i++)
			item_op_clear(&bt[j].ops[i]);
		free(bt[j].ops);
		rn_expr_ctx_free(bt[j].ex);
		cJSON_Delete(bt[j].names);
		cJSON_Delete(bt[j].values);
		rn_table_unref(bt[j].t);
	}
	free(bt);
	gt_buf_free(&unprocessed);
	rn_call_finish(c);
}
