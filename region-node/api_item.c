/*
 * api_item.c — the data plane: PutItem, GetItem, DeleteItem, UpdateItem,
 * BatchWriteItem, BatchGetItem, and the item-write engine that they and
 * the transactions of api_txn.c share (api_write.h).  Query and Scan are in
 * api_query.c.
 *
 * A write is prepared on the request's thread (parse, validate, encode the
 * key, parse expressions) and executed on the writer thread, in the group's
 * one LMDB transaction, in two phases:
 *
 *   plan:   read old record -> copy it out -> evaluate condition -> build
 *           the new item and its body                 [rn_item_plan_make]
 *   commit: stamp it (HLC, origin = this region, vv[this region] = seq)
 *           -> write the item record -> append the change record -> adjust
 *           table statistics                          [rn_item_plan_commit]
 *
 * so an acknowledged write and its change record are durable together.
 * Rules:
 *  1. Planning writes nothing and takes no sequence number: a plan that is
 *     dropped (failed condition, cancelled transaction) leaves no trace.
 *  2. A plan copies what it read out of LMDB's pages, because committing
 *     another plan of the same transaction may move them.
 *  3. Once a commit has started, any error aborts the whole group (the
 *     store rolls back both the data and the sequence numbers).
 */
#include "api_write.h"
#include "derived.h"
#include "index.h"
#include "items.h"
#include "legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state of a PutItem/DeleteItem/UpdateItem or BatchWriteItem call. */
typedef struct write_state {
	size_t nops;
	rn_item_op *ops;
} write_state;

void rn_item_op_clear(rn_item_op *op)
{
	rn_table_unref(op->t);
	gt_buf_free(&op->key);
	cJSON_Delete(op->key_obj);
	cJSON_Delete(op->item);
	free(op->item_json);
	free(op->key_json);
	rn_expr_ctx_free(op->ex);
	cJSON_Delete(op->names);
	cJSON_Delete(op->values);
	memset(op, 0, sizeof(*op));
}

static void write_state_free(void *p)
{
	write_state *st = p;
	for (size_t i = 0; i < st->nops; i++)
		rn_item_op_clear(&st->ops[i]);
	free(st->ops);
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

int rn_table_is_latest(rn_node *n, const rn_table *t)
{
	rn_table *cur = rn_catalog_get(&n->catalog, t->name);
	int same = cur == t;
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

/* Rewrites the legacy parameters of op's request (Expected,
 * AttributeUpdates, AttributesToGet, ...) into expressions in place. */
static int legacy_rewrite(rn_call *c, const char *op, cJSON *req)
{
	char msg[RN_MSG_MAX];
	gt_err err = rn_legacy_rewrite(op, req, msg);

	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	return 0;
}

static int return_values_parse(rn_call *c, const cJSON *req, int allowed,
    int *rv)
{
	static const char *const names[] = {"NONE", "ALL_OLD", "UPDATED_OLD",
	    "ALL_NEW", "UPDATED_NEW"};
	const char *s = NULL;

	*rv = RN_RV_NONE;
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

/* ------------------------------------------------------------ planning */

gt_err rn_item_plan_make(rn_node *n, MDB_txn *txn, const rn_item_op *op,
    rn_item_plan *p)
{
	rn_item_cur cur;
	gt_err err;

	memset(p, 0, sizeof(*p));
	if (!rn_table_is_current(n, op->t)) {
		p->status = RN_PLAN_GONE;
		return GT_OK;
	}
	err = rn_item_read(txn, rn_store_dbs(n->store), op->key.data,
	    op->key.len, &cur);
	if (err != GT_OK)
		return err;
	p->found = cur.found;
	p->live = cur.live;
	if (cur.found)
		p->ver = cur.ver;
	if (cur.live) {
		/* Rule 2: the body is copied out of the txn's pages. */
		p->old_body = malloc(cur.body_len + 1);
		if (p->old_body == NULL)
			return GT_ENOMEM;
		memcpy(p->old_body, cur.body, cur.body_len);
		p->old_body[cur.body_len] = '\0';
		p->old_len = cur.body_len;
		p->old_item = cJSON_ParseWithLength(p->old_body, p->old_len);
		if (p->old_item == NULL)
			return GT_ECORRUPT;
		p->old_size = rn_item_size(p->old_item);
	}
	if (op->cond != NULL) {
		int ok = 0;
		err = rn_expr_eval(op->cond, p->old_item, &ok, p->msg);
		if (err != GT_OK)
			return err;
		if (!ok) {
			p->status = RN_PLAN_COND_FAILED;
			return GT_OK;
		}
	}
	switch (op->kind) {
	case RN_ITEM_PUT:
		p->new_item = op->item;
		p->new_borrowed = 1;
		break;
	case RN_ITEM_UPDATE:
		p->new_item = p->old_item ? cJSON_Duplicate(p->old_item, 1) :
		    cJSON_Duplicate(op->key_obj, 1);
		if (p->new_item == NULL)
			return GT_ENOMEM;
		if (op->upd != NULL) {
			err = rn_expr_update_apply(op->upd, p->new_item,
			    p->msg);
			if (err == GT_EINVAL) {
				p->status = RN_PLAN_INVALID;
				return GT_OK;
			}
			if (err != GT_OK)
				return err;
		}
		if (rn_item_size(p->new_item) > RN_ITEM_BYTES_MAX) {
			snprintf(p->msg, sizeof(p->msg), "Item size to update "
			    "has exceeded the maximum allowed size");
			p->status = RN_PLAN_INVALID;
			return GT_OK;
		}
		break;
	default: /* DELETE, CHECK, GET */
		break;
	}
	if (p->new_item != NULL && op->t->nindexes > 0 &&
	    rn_index_validate(op->t, p->new_item, p->msg) != GT_OK) {
		p->status = RN_PLAN_INVALID;
		return GT_OK;
	}
	if (p->new_item != NULL && p->new_borrowed && op->item_json != NULL) {
		p->new_body = op->item_json;
		p->body_borrowed = 1;
		p->new_len = op->item_len;
		p->new_size = op->item_size;
	} else if (p->new_item != NULL) {
		p->new_body = cJSON_PrintUnformatted(p->new_item);
		if (p->new_body == NULL)
			return GT_ENOMEM;
		p->new_len = strlen(p->new_body);
		p->new_size = rn_item_size(p->new_item);
	}
	/* Deleting what is not there changes nothing and logs nothing; a
	 * ConditionCheck never writes. */
	p->write = op->kind != RN_ITEM_CHECK && op->kind != RN_ITEM_GET &&
	    (p->new_item != NULL || p->live);
	return GT_OK;
}

void rn_item_plan_clear(rn_item_plan *p)
{
	if (!p->new_borrowed)
		cJSON_Delete(p->new_item);
	cJSON_Delete(p->old_item);
	free(p->old_body);
	if (!p->body_borrowed)
		free(p->new_body);
	memset(p, 0, sizeof(*p));
}

/* ----------------------------------------------------------- committing */

gt_err rn_item_plan_commit(rn_node *n, MDB_txn *txn, const rn_item_op *op,
    const rn_item_plan *p)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	const char *new_body = p->new_item != NULL ? p->new_body : NULL;
	uint8_t meta[CF_META_ENCODED_MAX];
	size_t meta_len = 0;
	cf_version ver, none;
	const char *key_json;
	uint64_t seq;
	rn_logrec lr;
	gt_err err;

	if (p->status != RN_PLAN_OK)
		return GT_EINVAL;
	if (!p->write)
		return GT_OK;
	/* What can fail without writing is done before the sequence number
	 * is taken. */
	key_json = op->key_json;
	if (key_json == NULL)
		return GT_ENOMEM;

	/* Stamp: a new HLC, this region as origin, and the old version
	 * vector advanced at this region to the change's sequence number. */
	seq = rn_store_seq_next(n->store);
	memset(&none, 0, sizeof(none));
	err = cf_version_write(&n->clock, gt_wall_ms(),
	    p->found ? &p->ver : &none, n->region, seq, new_body == NULL,
	    &ver);
	if (err == GT_OK)
		err = cf_meta_encode_to(&ver, meta, sizeof(meta), &meta_len);
	if (err != GT_OK)
		goto out;
	memset(&lr, 0, sizeof(lr));
	lr.op = new_body ? RN_LOG_PUT : RN_LOG_DELETE;
	lr.flags = op->log_flags;
	lr.hlc = ver.stamp.hlc;
	lr.origin_seq = seq;
	lr.table_id = op->t->id;
	lr.origin = n->region;
	lr.origin_len = strlen(n->region);
	lr.table = op->t->name;
	lr.table_len = strlen(op->t->name);
	lr.key = key_json;
	lr.key_len = strlen(key_json);
	lr.old_img = p->live ? p->old_body : NULL;
	lr.old_len = p->live ? p->old_len : 0;
	lr.new_img = new_body;
	lr.new_len = new_body ? p->new_len : 0;
	lr.meta = meta;
	lr.meta_len = meta_len;
	err = rn_item_write(txn, dbs, op->key.data, op->key.len, &ver,
	    new_body ? new_body : key_json, new_body ? p->new_len :
	    strlen(key_json));
	if (err == GT_OK)
		err = rn_log_put(txn, dbs, seq, &lr);
	if (err == GT_OK)
		err = rn_derived_item(n, txn, op->t, op->key.data, op->key.len,
		    p->live ? p->old_item : NULL, p->new_item);
	if (err == GT_OK)
		err = rn_stats_add(txn, dbs, op->t->id,
		    (p->new_item != NULL) - (int64_t)p->live,
		    (int64_t)p->new_size - (int64_t)p->old_size);
out:
	/* Rule 3: the sequence number is taken, so even a failure before
	 * the first put must abort the group to give it back. */
	if (err != GT_OK && err != GT_ENOMEM && err != GT_ELIMIT)
		err = GT_EIO;
	return err;
}

/* ------------------------------------------------------- single writes */

/* Appends "\"Attributes\":{...}" for ReturnValues. */
static void add_attributes(gt_buf *resp, const cJSON *obj)
{
	if (obj == NULL || cJSON_GetArraySize(obj) == 0)
		return;
	gt_buf_puts(resp, "\"Attributes\":");
	rn_buf_json(resp, obj);
}

/* The answer of a single write after its commit, per ReturnValues. */
static gt_err write_answer(rn_call *c, const rn_item_op *op,
    const rn_item_plan *p)
{
	cJSON *attrs = NULL;
	gt_err err = GT_OK;

	gt_buf_reset(&c->resp);
	gt_buf_putc(&c->resp, '{');
	switch (op->rv) {
	case RN_RV_ALL_OLD:
		add_attributes(&c->resp, p->old_item);
		break;
	case RN_RV_ALL_NEW:
		add_attributes(&c->resp, p->new_item);
		break;
	case RN_RV_UPDATED_OLD:
	case RN_RV_UPDATED_NEW:
		if (op->upd == NULL)
			break;
		err = rn_expr_update_project(op->upd, op->rv ==
		    RN_RV_UPDATED_OLD ? p->old_item : p->new_item, &attrs);
		if (err == GT_OK)
			add_attributes(&c->resp, attrs);
		cJSON_Delete(attrs);
		break;
	default:
		break;
	}
	gt_buf_putc(&c->resp, '}');
	return err;
}

/*
 * Runs one prepared item write on the writer thread: plan, then commit.  A
 * write that fails without writing (a vanished table, a false condition,
 * an update that cannot apply, a record that does not decode) sets the
 * call's error answer and *failed.  Returns non-OK only when the group
 * must abort.
 */
static gt_err item_apply(rn_call *c, MDB_txn *txn, rn_item_op *op,
    int *failed)
{
	rn_item_plan p;
	gt_err err;

	*failed = 0;
	err = rn_item_plan_make(c->node, txn, op, &p);
	if (err == GT_ENOMEM || err == GT_ECORRUPT) {
		/* Nothing was written for this op: fail it alone. */
		rn_call_fail_err(c, err, "Internal server error");
		*failed = 1;
		err = GT_OK;
		goto out;
	}
	if (err != GT_OK) /* LMDB failed: the group aborts */
		goto out;
	switch (p.status) {
	case RN_PLAN_OK:
		break;
	case RN_PLAN_GONE:
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found");
		*failed = 1;
		goto out;
	case RN_PLAN_COND_FAILED:
		rn_call_error(c, 400, RN_E_CONDITION, "The conditional request "
		    "failed");
		if (op->rv_on_fail && p.old_item != NULL) {
			/* DynamoDB returns the item beside the error. */
			c->resp.len--;
			gt_buf_puts(&c->resp, ",\"Item\":");
			rn_buf_json(&c->resp, p.old_item);
			gt_buf_putc(&c->resp, '}');
		}
		*failed = 1;
		goto out;
	case RN_PLAN_INVALID:
		rn_call_error(c, 400, RN_E_VALIDATION, "%s", p.msg);
		*failed = 1;
		goto out;
	}
	err = rn_item_plan_commit(c->node, txn, op, &p);
	if (err != GT_OK)
		goto out;
	/* The write is done; an answer that cannot be built is the call's
	 * failure alone. */
	if (write_answer(c, op, &p) != GT_OK)
		c->resp.oom = 1;
out:
	rn_item_plan_clear(&p);
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
    rn_item_op *op)
{
	char msg[RN_MSG_MAX];
	gt_err err;

	op->kind = RN_ITEM_PUT;
	if (op->t == NULL) {
		op->t = t;
		rn_table_ref(t);
	}
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
	op->item_size = rn_item_size(item);
	if (op->item_size > RN_ITEM_BYTES_MAX) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Item size has exceeded "
		    "the maximum allowed size");
		return -1;
	}
	op->key_obj = rn_table_key_extract(t, item);
	op->item_json = cJSON_PrintUnformatted(item);
	op->key_json = op->key_obj ? cJSON_PrintUnformatted(op->key_obj) :
	    NULL;
	if (op->key_obj == NULL || op->item_json == NULL ||
	    op->key_json == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		return -1;
	}
	op->item_len = strlen(op->item_json);
	cJSON_DetachItemViaPointer(parent, item);
	op->item = item;
	return 0;
}

/* Validates a key for DeleteItem/UpdateItem/GetItem and fills op. */
static int prepare_key(rn_call *c, rn_table *t, cJSON *key, rn_item_op *op)
{
	char msg[RN_MSG_MAX];
	gt_err err;

	if (op->t == NULL) {
		op->t = t;
		rn_table_ref(t);
	}
	err = rn_item_validate(key, msg);
	if (err == GT_OK)
		err = rn_table_key_encode(t, key, 1, &op->key, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	op->key_obj = rn_table_key_extract(t, key);
	op->key_json = op->key_obj ? cJSON_PrintUnformatted(op->key_obj) :
	    NULL;
	if (op->key_json == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		return -1;
	}
	return 0;
}

/* Parses ConditionExpression (and its ReturnValuesOnConditionCheckFailure)
 * into op. */
static int prepare_condition(rn_call *c, const cJSON *req, int required,
    rn_item_op *op)
{
	const char *text = NULL, *rvf = NULL;
	char msg[RN_MSG_MAX];
	gt_err err;

	if (rn_req_str(c, req, "ConditionExpression", "conditionExpression",
	    required, &text) != 0 ||
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
	err = rn_expr_parse_condition(op->ex, "ConditionExpression", text,
	    &op->cond, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	return 0;
}

int rn_item_op_parse(rn_call *c, cJSON *obj, rn_item_kind kind,
    int rv_allowed, int in_txn, rn_item_op *op)
{
	rn_table *t = NULL;
	cJSON *target = NULL;
	const char *utext = NULL, *ptext = NULL;
	char msg[RN_MSG_MAX];
	gt_err err = GT_OK;
	int rc = -1;

	op->kind = kind;
	if (rn_req_table(c, obj, &t) != 0)
		return -1;
	op->t = t; /* the reference is the op's now */
	if (kind == RN_ITEM_PUT) {
		if (rn_req_obj(c, obj, "Item", "item", 1, &target) != 0)
			return -1;
	} else if (rn_req_obj(c, obj, "Key", "key", 1, &target) != 0) {
		return -1;
	}
	if (kind == RN_ITEM_UPDATE && rn_req_str(c, obj, "UpdateExpression",
	    "updateExpression", in_txn, &utext) != 0)
		return -1;
	if (kind == RN_ITEM_GET && rn_req_str(c, obj, "ProjectionExpression",
	    "projectionExpression", 0, &ptext) != 0)
		return -1;
	if (rv_allowed != 0 &&
	    return_values_parse(c, obj, rv_allowed, &op->rv) != 0)
		return -1;
	if (expr_ctx_make(c, obj, &op->ex, &op->names, &op->values) != 0)
		return -1;
	if (utext != NULL)
		err = rn_expr_parse_update(op->ex, utext, &op->upd, msg);
	if (err == GT_OK && ptext != NULL)
		err = rn_expr_parse_projection(op->ex, ptext, &op->proj, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	if (kind != RN_ITEM_GET && prepare_condition(c, obj,
	    in_txn && kind == RN_ITEM_CHECK, op) != 0)
		return -1;
	err = rn_expr_ctx_check_unused(op->ex, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	if (kind == RN_ITEM_PUT)
		rc = prepare_put(c, t, obj, target, op);
	else
		rc = prepare_key(c, t, target, op);
	if (rc != 0)
		return -1;
	if (op->upd != NULL) {
		const char *kn[2] = {t->hash.name, t->range.name};
		for (int i = 0; i < 2; i++) {
			if (kn[i][0] == '\0' ||
			    !rn_expr_update_touches(op->upd, kn[i]))
				continue;
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Cannot update "
			    "attribute %s. This attribute is part of the key",
			    kn[i]);
			return -1;
		}
	}
	return 0;
}

/* PutItem, DeleteItem and UpdateItem: one op, submitted to the writer. */
static void single_op(rn_call *c, cJSON *req, const char *name,
    rn_item_kind kind, int rv_allowed)
{
	write_state *st = NULL;

	if (legacy_rewrite(c, name, req) != 0)
		goto fail;
	st = write_state_new(1);
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	if (rn_item_op_parse(c, req, kind, rv_allowed, 0, &st->ops[0]) != 0)
		goto fail;
	rn_call_submit(c, single_write, NULL, st, write_state_free);
	return;
fail:
	if (st != NULL)
		write_state_free(st);
	rn_call_finish(c);
}

void rn_op_put_item(rn_call *c, cJSON *req)
{
	single_op(c, req, "PutItem", RN_ITEM_PUT,
	    1 << RN_RV_NONE | 1 << RN_RV_ALL_OLD);
}

void rn_op_delete_item(rn_call *c, cJSON *req)
{
	single_op(c, req, "DeleteItem", RN_ITEM_DELETE,
	    1 << RN_RV_NONE | 1 << RN_RV_ALL_OLD);
}

void rn_op_update_item(rn_call *c, cJSON *req)
{
	single_op(c, req, "UpdateItem", RN_ITEM_UPDATE, 0x1f);
}

int rn_item_ops_duplicate(const rn_item_op *ops, size_t n)
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
				st->ops[i].kind = RN_ITEM_DELETE;
			i++;
			if (bad) {
				rn_table_unref(t);
				goto fail;
			}
		}
		rn_table_unref(t);
	}
	if (rn_item_ops_duplicate(st->ops, st->nops)) {
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

gt_err rn_item_read_json(MDB_txn *txn, const rn_dbs *dbs,
    const gt_buf *key, const rn_expr_proj *proj, gt_buf *out, int *found)
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
	rn_item_op op;
	char msg[RN_MSG_MAX];
	size_t mark;
	int found = 0, consistent = 0;
	gt_err err;

	memset(&op, 0, sizeof(op));
	if (legacy_rewrite(c, "GetItem", req) != 0 || rn_req_table(c, req, &t) != 0 ||
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
	err = rn_item_read_json(txn, rn_store_dbs(c->node->store), &op.key,
	    proj, &c->resp, &found);
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
	rn_item_op_clear(&op);
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
	rn_item_op *ops;
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
		if (legacy_rewrite(c, "BatchGetItem", tbl) != 0 ||
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
		if (rn_item_ops_duplicate(b->ops, b->nops)) {
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
			err = rn_item_read_json(txn,
			    rn_store_dbs(c->node->store), &b->ops[i].key,
			    b->proj, &c->resp, &found);
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
			rn_item_op_clear(&bt[j].ops[i]);
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
