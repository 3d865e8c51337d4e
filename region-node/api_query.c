/*
 * api_query.c — Query and Scan.
 *
 * Both walk one range of the items database with a cursor (store.h explains
 * the key layout): Query the items of one partition, bounded by the sort-key
 * condition; Scan a whole table or, for a parallel scan, one segment's range
 * of partition hashes.  A page ends at Limit evaluated items or at 1 MB of
 * item data read, as in DynamoDB; FilterExpression is applied after that,
 * so Count can be below ScannedCount.  The 1 MB measure is the stored JSON
 * of each item, which is never smaller than DynamoDB's item size, so a page
 * never exceeds DynamoDB's.
 */
#include "api_int.h"
#include "expr.h"
#include "index.h"
#include "legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key range: keys k with prefix <= k, lo <(=) k <(=) hi. */
typedef struct krange {
	gt_buf prefix; /* every key in range starts with this */
	gt_buf lo, hi; /* empty: unbounded (within prefix) */
	int lo_incl, hi_incl;
} krange;

static void krange_free(krange *r)
{
	gt_buf_free(&r->prefix);
	gt_buf_free(&r->lo);
	gt_buf_free(&r->hi);
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, GT_MIN(an, bn));
	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

/* Is key inside r, and if not, is it past the end in the walk direction? */
static int krange_has(const krange *r, const MDB_val *k, int forward,
    int *past)
{
	int c;

	*past = 0;
	if (k->mv_size < r->prefix.len ||
	    memcmp(k->mv_data, r->prefix.data, r->prefix.len) != 0) {
		*past = 1;
		return 0;
	}
	if (r->lo.len) {
		c = bytes_cmp(k->mv_data, k->mv_size, r->lo.data, r->lo.len);
		if (c < 0 || (c == 0 && !r->lo_incl)) {
			*past = !forward;
			return 0;
		}
	}
	if (r->hi.len) {
		c = bytes_cmp(k->mv_data, k->mv_size, r->hi.data, r->hi.len);
		if (c > 0 || (c == 0 && !r->hi_incl)) {
			*past = forward;
			return 0;
		}
	}
	return 1;
}

/* Positions the cursor at the first key of the walk. */
static int krange_first(const krange *r, MDB_cursor *cur, MDB_val *k,
    MDB_val *v, int forward)
{
	int rc;

	if (forward) {
		const gt_buf *start = r->lo.len ? &r->lo : &r->prefix;
		k->mv_size = start->len;
		k->mv_data = start->data;
		return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	}
	if (r->hi.len) {
		k->mv_size = r->hi.len;
		k->mv_data = r->hi.data;
		rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			return mdb_cursor_get(cur, k, v, MDB_LAST);
		/* SET_RANGE lands on the first key >= hi; walking backwards
		 * starts at the last key <= hi. */
		if (rc == MDB_SUCCESS && bytes_cmp(k->mv_data, k->mv_size,
		    r->hi.data, r->hi.len) > 0)
			return mdb_cursor_get(cur, k, v, MDB_PREV);
		return rc;
	}
	/* The end of the prefix: the first key past every key that starts
	 * with it, found by incrementing the prefix as a big number. */
	{
		uint8_t end[1024];
		size_t n = r->prefix.len;
		if (n > sizeof(end))
			return MDB_NOTFOUND;
		memcpy(end, r->prefix.data, n);
		while (n > 0 && end[n - 1] == 0xff)
			n--;
		if (n == 0)
			return mdb_cursor_get(cur, k, v, MDB_LAST);
		end[n - 1]++;
		k->mv_size = n;
		k->mv_data = end;
		rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			return mdb_cursor_get(cur, k, v, MDB_LAST);
		if (rc == MDB_SUCCESS) /* past the prefix: step back */
			return mdb_cursor_get(cur, k, v, MDB_PREV);
		return rc;
	}
}

/* The shared state of a Query or Scan. */
typedef struct qscan {
	rn_table *t;
	/* IndexName: the index, and the key layout walked (the index's, or
	 * the table's without one). */
	const rn_index *ix;
	const rn_table *kt;
	int ix_fetch_all;      /* an LSI read with ALL_ATTRIBUTES */
	gt_buf esk_ik;         /* index ExclusiveStartKey: its index key */
	gt_buf esk_base;       /* ... and its item key */
	int has_esk_base;
	rn_expr_ctx *ex;
	cJSON *names, *values;
	const rn_expr_proj *proj;
	const rn_expr_cond *filter;
	long long limit;
	int forward;
	int count_only;
	krange range;
	const rn_keycond *exact_kc; /* check each item: a bound was widened */
} qscan;

static void qscan_free(qscan *q)
{
	gt_buf_free(&q->esk_ik);
	gt_buf_free(&q->esk_base);
	rn_table_unref(q->t);
	rn_expr_ctx_free(q->ex);
	cJSON_Delete(q->names);
	cJSON_Delete(q->values);
	krange_free(&q->range);
}

/* Parses what Query and Scan share. */
static int qscan_parse(rn_call *c, const char *op, cJSON *req, qscan *q)
{
	const char *ptext = NULL, *ftext = NULL, *select = NULL,
	    *index = NULL;
	char msg[RN_MSG_MAX];
	int consistent = 0;
	gt_err err;

	/* The legacy parameters become expressions before anything else
	 * reads the request. */
	err = rn_legacy_rewrite(op, req, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	q->limit = 0;
	q->forward = 1;
	if (rn_req_table(c, req, &q->t) != 0 ||
	    rn_req_int(c, req, "Limit", "limit", 1, 2147483647LL, &q->limit) !=
	    0 ||
	    rn_req_str(c, req, "ProjectionExpression", "projectionExpression",
	    0, &ptext) != 0 ||
	    rn_req_str(c, req, "FilterExpression", "filterExpression", 0,
	    &ftext) != 0 ||
	    rn_req_str(c, req, "Select", "select", 0, &select) != 0 ||
	    rn_req_str(c, req, "IndexName", "indexName", 0, &index) != 0 ||
	    rn_req_bool(c, req, "ConsistentRead", &consistent) != 0 ||
	    rn_req_bool(c, req, "ScanIndexForward", &q->forward) != 0 ||
	    rn_req_obj(c, req, "ExpressionAttributeNames",
	    "expressionAttributeNames", 0, &q->names) != 0 ||
	    rn_req_obj(c, req, "ExpressionAttributeValues",
	    "expressionAttributeValues", 0, &q->values) != 0) {
		q->names = q->values = NULL; /* still the request's */
		return -1;
	}
	/* Owned from here on: qscan_free releases them on every path. */
	if (q->names != NULL)
		cJSON_DetachItemViaPointer(req, q->names);
	if (q->values != NULL)
		cJSON_DetachItemViaPointer(req, q->values);
	q->kt = q->t;
	if (index != NULL) {
		q->ix = rn_index_find(q->t, index);
		if (q->ix == NULL) {
			rn_call_error(c, 400, RN_E_VALIDATION, "The table does "
			    "not have the specified index: %s", index);
			return -1;
		}
		if (q->ix->backfilling) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Cannot read "
			    "from backfilling global secondary index: %s",
			    index);
			return -1;
		}
		if (consistent && !q->ix->local) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Consistent "
			    "reads are not supported on global secondary "
			    "indexes");
			return -1;
		}
		q->kt = q->ix->kt;
	}
	if (select != NULL) {
		if (strcmp(select, "COUNT") == 0) {
			q->count_only = 1;
		} else if (strcmp(select, "SPECIFIC_ATTRIBUTES") == 0) {
			if (ptext == NULL) {
				rn_call_error(c, 400, RN_E_VALIDATION, "Select "
				    "type SPECIFIC_ATTRIBUTES requires "
				    "ProjectionExpression or AttributesToGet");
				return -1;
			}
		} else if (strcmp(select, "ALL_ATTRIBUTES") == 0 ||
		    strcmp(select, "ALL_PROJECTED_ATTRIBUTES") == 0) {
			if (strcmp(select, "ALL_PROJECTED_ATTRIBUTES") == 0 &&
			    q->ix == NULL) {
				rn_call_error(c, 400, RN_E_VALIDATION,
				    "ALL_PROJECTED_ATTRIBUTES can be used only "
				    "when Querying using an IndexName");
				return -1;
			}
			if (strcmp(select, "ALL_ATTRIBUTES") == 0 &&
			    q->ix != NULL && q->ix->proj != RN_PROJ_ALL) {
				if (!q->ix->local) {
					rn_call_error(c, 400, RN_E_VALIDATION,
					    "One or more parameter values were "
					    "invalid: Select type ALL_ATTRIBUTES "
					    "is not supported for global "
					    "secondary index %s because its "
					    "projection type is not ALL",
					    q->ix->kt->name);
					return -1;
				}
				/* A local index reads the item itself. */
				q->ix_fetch_all = 1;
			}
			if (ptext != NULL) {
				rn_call_error(c, 400, RN_E_VALIDATION, "Cannot "
				    "specify the ProjectionExpression when "
				    "choosing to get ALL_ATTRIBUTES");
				return -1;
			}
		} else {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value '%s' at "
			    "'select' failed to satisfy constraint: Member "
			    "must satisfy enum value set: [SPECIFIC_ATTRIBUTES, "
			    "COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
			    select);
			return -1;
		}
	}
	err = rn_expr_ctx_new(q->names, q->values, &q->ex, msg);
	if (err == GT_OK && ptext != NULL)
		err = rn_expr_parse_projection(q->ex, ptext, &q->proj, msg);
	if (err == GT_OK && ftext != NULL)
		err = rn_expr_parse_condition(q->ex, "FilterExpression", ftext,
		    &q->filter, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	return 0;
}

/* Turns ExclusiveStartKey into an encoded key: of the table, or for an
 * index read the index key, with the item key kept in q->esk_base. */
static int start_key(rn_call *c, cJSON *req, qscan *q, gt_buf *out,
    int *present)
{
	const rn_table *t = q->t;
	cJSON *esk = NULL;
	char msg[RN_MSG_MAX];
	gt_err err;

	*present = 0;
	if (rn_req_obj(c, req, "ExclusiveStartKey", "exclusiveStartKey", 0,
	    &esk) != 0)
		return -1;
	if (esk == NULL)
		return 0;
	err = rn_item_validate(esk, msg);
	if (err == GT_OK && q->ix == NULL)
		err = rn_table_key_encode(t, esk, 1, out, msg);
	if (err == GT_OK && q->ix != NULL) {
		err = rn_table_key_encode(q->kt, esk, 0, out, msg);
		if (err == GT_OK)
			err = rn_table_key_encode(t, esk, 0, &q->esk_base, msg);
		if (err == GT_OK)
			gt_buf_append(&q->esk_ik, out->data, out->len);
		q->has_esk_base = err == GT_OK;
	}
	if (err != GT_OK) {
		if (err == GT_EINVAL)
			rn_call_error(c, 400, RN_E_VALIDATION, "The provided "
			    "starting key is invalid: %s", msg);
		else
			rn_call_fail_err(c, err, msg);
		return -1;
	}
	*present = 1;
	return 0;
}

/*
 * Walks the range and writes the answer.  Tombstones are invisible: they
 * are not counted and do not end a page.
 */
/* Does an index read return the index's projection (not the item)? */
static int ix_projects(const qscan *q)
{
	return q->ix != NULL && q->ix->proj != RN_PROJ_ALL &&
	    !q->ix_fetch_all;
}

/* Is the index entry (k, v) at or before ExclusiveStartKey's item, among
 * the entries that share its index key? */
static int index_before_start(const qscan *q, const MDB_val *k,
    const MDB_val *v)
{
	int c;

	if (bytes_cmp(k->mv_data, k->mv_size, q->esk_ik.data,
	    q->esk_ik.len) != 0)
		return 0;
	c = bytes_cmp(v->mv_data, v->mv_size, q->esk_base.data,
	    q->esk_base.len);
	return q->forward ? c <= 0 : c >= 0;
}

static void qscan_run(rn_call *c, qscan *q)
{
	const rn_dbs *dbs = rn_store_dbs(c->node->store);
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	gt_buf *out = &c->resp;
	gt_buf last = GT_BUF_INIT;
	long long scanned = 0, count = 0;
	size_t bytes = 0;
	int rc, more = 0;
	gt_err err;

	err = rn_store_read_begin(c->node->store, &txn);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "");
		return;
	}
	rc = mdb_cursor_open(txn, q->ix ? dbs->index : dbs->items, &cur);
	if (rc != MDB_SUCCESS) {
		rn_call_fail_err(c, rn_mdb_err(rc), "");
		goto out;
	}
	gt_buf_reset(out);
	gt_buf_puts(out, q->count_only ? "{" : "{\"Items\":[");
	rc = krange_first(&q->range, cur, &k, &v, q->forward);
	/* Walking an index backwards starts at the last item of a key. */
	if (rc == MDB_SUCCESS && q->ix != NULL && !q->forward)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST_DUP);
	for (; rc == MDB_SUCCESS;
	    rc = mdb_cursor_get(cur, &k, &v, q->forward ? MDB_NEXT : MDB_PREV)) {
		rn_itemrec ir;
		cJSON *item = NULL;
		MDB_val iv;
		int past, keep = 1;

		if (!krange_has(&q->range, &k, q->forward, &past)) {
			if (past)
				break;
			continue;
		}
		if (q->ix != NULL) {
			/* An index entry: skip what a page before returned,
			 * then read the item it points to. */
			if (q->has_esk_base && index_before_start(q, &k, &v))
				continue;
			rc = mdb_get(txn, dbs->items, &v, &iv);
			if (rc == MDB_NOTFOUND) {
				rc = MDB_SUCCESS;
				continue;
			}
			if (rc != MDB_SUCCESS)
				break;
		} else {
			iv = v;
		}
		if (rn_itemrec_decode(iv.mv_data, iv.mv_size, &ir) != GT_OK) {
			err = GT_ECORRUPT;
			break;
		}
		if (ir.flags & RN_ITEM_F_TOMBSTONE)
			continue;
		/* A page holds at most 1 MB of item data, but always at
		 * least one item. */
		if ((q->limit && scanned >= q->limit) || (scanned > 0 &&
		    bytes + ir.body_len > RN_PAGE_BYTES_MAX)) {
			more = 1;
			break;
		}
		if (q->filter != NULL || q->proj != NULL || q->exact_kc ||
		    ix_projects(q)) {
			item = cJSON_ParseWithLength(ir.body, ir.body_len);
			if (item == NULL) {
				err = GT_ECORRUPT;
				break;
			}
		}
		if (q->exact_kc && !rn_expr_keycond_match(q->exact_kc, item)) {
			cJSON_Delete(item);
			continue;
		}
		scanned++;
		bytes += ir.body_len;
		/* The body, not the LMDB key, gives LastEvaluatedKey: long
		 * keys are stored shortened. */
		gt_buf_reset(&last);
		gt_buf_append(&last, ir.body, ir.body_len);
		if (ix_projects(q)) {
			/* An index holds only its projection. */
			cJSON *pi = rn_index_project(q->t, q->ix, item);
			cJSON_Delete(item);
			item = pi;
			if (item == NULL) {
				err = GT_ENOMEM;
				break;
			}
		}
		if (q->filter != NULL) {
			char msg[RN_MSG_MAX];
			err = rn_expr_eval(q->filter, item, &keep, msg);
			if (err != GT_OK) {
				cJSON_Delete(item);
				break;
			}
		}
		if (keep) {
			if (!q->count_only) {
				if (count)
					gt_buf_putc(out, ',');
				if (q->proj != NULL) {
					cJSON *p = NULL;
					err = rn_expr_project(q->proj, item, &p);
					if (err != GT_OK) {
						cJSON_Delete(item);
						break;
					}
					rn_buf_json(out, p);
					cJSON_Delete(p);
				} else if (item != NULL && ix_projects(q)) {
					rn_buf_json(out, item);
				} else {
					gt_buf_append(out, ir.body,
					    ir.body_len);
				}
			}
			count++;
		}
		cJSON_Delete(item);
	}
	if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "Internal server error");
		goto out;
	}
	/* A page that stopped at Limit exactly also reports where it
	 * stopped, as DynamoDB does. */
	if (q->limit && scanned == q->limit)
		more = 1;
	if (!q->count_only)
		gt_buf_puts(out, "],");
	gt_buf_printf(out, "\"Count\":%lld,\"ScannedCount\":%lld", count,
	    scanned);
	if (more && last.len) {
		cJSON *it = cJSON_ParseWithLength(last.data, last.len);
		cJSON *lek = it == NULL ? NULL : q->ix != NULL ?
		    rn_index_key_extract(q->t, q->ix, it) :
		    rn_table_key_extract(q->t, it);
		cJSON_Delete(it);
		if (lek == NULL) {
			rn_call_fail_err(c, GT_ECORRUPT, "Internal server "
			    "error");
			goto out;
		}
		gt_buf_puts(out, ",\"LastEvaluatedKey\":");
		rn_buf_json(out, lek);
		cJSON_Delete(lek);
	}
	gt_buf_putc(out, '}');
out:
	gt_buf_free(&last);
	if (cur)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
}

/* ----------------------------------------------------------------- Query */

/* Appends the encoding of a sort-key bound, checking its type. */
static int sk_encode(rn_call *c, qscan *q, const rn_keycond *kc,
    const cJSON *av, int upper, gt_buf *out)
{
	const rn_table *t = q->kt;
	char msg[RN_MSG_MAX];
	int inexact = 0;
	gt_err err;

	if (rn_av_type_of(av, NULL) != t->range.type) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: Condition parameter type does not "
		    "match schema type");
		return -1;
	}
	err = rn_table_key_sk_bound(t, av, upper, out, &inexact, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	if (inexact)
		q->exact_kc = kc;
	return 0;
}

/* Builds the key range of a resolved key condition. */
static int query_range(rn_call *c, qscan *q, const rn_keycond *kc)
{
	const rn_table *t = q->kt;
	krange *r = &q->range;
	cJSON *pk;
	char msg[RN_MSG_MAX];
	gt_err err;

	if (rn_av_type_of(kc->hash_value, NULL) != t->hash.type) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: Condition parameter type does not "
		    "match schema type");
		return -1;
	}
	/* The partition prefix: table id | hash | enc(pk). */
	pk = cJSON_CreateObject();
	if (pk == NULL)
		return -1;
	cJSON_AddItemReferenceToObject(pk, t->hash.name,
	    (cJSON *)(uintptr_t)kc->hash_value);
	{
		rn_table tmp = *t;
		tmp.range.type = RN_AV_NONE;
		err = rn_table_key_encode(&tmp, pk, 0, &r->prefix, msg);
	}
	cJSON_Delete(pk);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		return -1;
	}
	if (kc->range_op == RN_KC_NONE)
		return 0;
	if (kc->range_op == RN_KC_BEGINS_WITH && t->range.type == RN_AV_N) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Invalid "
		    "KeyConditionExpression: Incorrect operand type for "
		    "operator or function; operator or function: begins_with, "
		    "operand type: N");
		return -1;
	}
	gt_buf_append(&r->lo, r->prefix.data, r->prefix.len);
	if (sk_encode(c, q, kc, kc->range_v1, kc->range_op == RN_KC_LT ||
	    kc->range_op == RN_KC_LE, &r->lo) != 0)
		return -1;
	switch (kc->range_op) {
	case RN_KC_EQ:
		gt_buf_append(&r->hi, r->prefix.data, r->prefix.len);
		if (sk_encode(c, q, kc, kc->range_v1, 1, &r->hi) != 0)
			return -1;
		r->lo_incl = r->hi_incl = 1;
		break;
	case RN_KC_LT:
	case RN_KC_LE:
		gt_buf_append(&r->hi, r->lo.data, r->lo.len);
		r->hi_incl = kc->range_op == RN_KC_LE;
		gt_buf_reset(&r->lo);
		break;
	case RN_KC_GT:
	case RN_KC_GE:
		r->lo_incl = kc->range_op == RN_KC_GE;
		break;
	case RN_KC_BETWEEN:
		gt_buf_append(&r->hi, r->prefix.data, r->prefix.len);
		if (sk_encode(c, q, kc, kc->range_v2, 1, &r->hi) != 0)
			return -1;
		r->lo_incl = r->hi_incl = 1;
		if (bytes_cmp(r->lo.data, r->lo.len, r->hi.data, r->hi.len) >
		    0) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Invalid "
			    "KeyConditionExpression: The BETWEEN operator "
			    "requires upper bound to be greater than or equal "
			    "to lower bound");
			return -1;
		}
		break;
	case RN_KC_BEGINS_WITH:
		/* Every encoded string or binary with that prefix starts
		 * with the escaped prefix, i.e. the encoding without its
		 * two-byte terminator (a widened bound has none). */
		if (q->exact_kc == NULL)
			r->lo.len -= 2;
		gt_buf_reset(&r->prefix);
		gt_buf_append(&r->prefix, r->lo.data, r->lo.len);
		gt_buf_reset(&r->lo);
		break;
	default:
		break;
	}
	return gt_buf_ok(&r->lo) && gt_buf_ok(&r->hi) ? 0 : -1;
}

/* Narrows the range to what follows ExclusiveStartKey in walk order.  In
 * an index, items sharing the start's index key may still follow it: the
 * key stays in range and the walk skips up to the start's item key. */
static void range_after(qscan *q, const gt_buf *esk, int forward)
{
	krange *r = &q->range;
	gt_buf *b = forward ? &r->lo : &r->hi;
	int *incl = forward ? &r->lo_incl : &r->hi_incl;
	int c = b->len ? bytes_cmp(esk->data, esk->len, b->data, b->len) : 0;

	if (b->len == 0 || (forward ? c >= 0 : c <= 0)) {
		gt_buf_reset(b);
		gt_buf_append(b, esk->data, esk->len);
		*incl = q->ix != NULL;
	}
}

void rn_op_query(rn_call *c, cJSON *req)
{
	qscan q;
	rn_keycond kc;
	const char *kce = NULL;
	gt_buf esk = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	int has_esk = 0;
	gt_err err;

	memset(&q, 0, sizeof(q));
	if (qscan_parse(c, "Query", req, &q) != 0 ||
	    rn_req_str(c, req, "KeyConditionExpression",
	    "keyConditionExpression", 0, &kce) != 0)
		goto out;
	if (kce == NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Either the "
		    "KeyConditions or KeyConditionExpression parameter must be "
		    "specified in the request.");
		goto out;
	}
	err = rn_expr_parse_keycond(q.ex, kce, q.kt->hash.name,
	    q.kt->range.type != RN_AV_NONE ? q.kt->range.name : NULL, &kc,
	    msg);
	if (err == GT_OK)
		err = rn_expr_ctx_check_unused(q.ex, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		goto out;
	}
	if (q.filter != NULL) {
		const char *kn[2] = {q.kt->hash.name, q.kt->range.name};
		for (int i = 0; i < 2; i++) {
			if (kn[i][0] == '\0' ||
			    !rn_expr_cond_refers(q.filter, kn[i]))
				continue;
			rn_call_error(c, 400, RN_E_VALIDATION, "Filter "
			    "Expression can only contain non-primary key "
			    "attributes: Primary key attribute: %s", kn[i]);
			goto out;
		}
	}
	if (query_range(c, &q, &kc) != 0 ||
	    start_key(c, req, &q, &esk, &has_esk) != 0)
		goto out;
	if (has_esk)
		range_after(&q, &esk, q.forward);
	qscan_run(c, &q);
out:
	gt_buf_free(&esk);
	qscan_free(&q);
	rn_call_finish(c);
}

/* ------------------------------------------------------------------ Scan */

void rn_op_scan(rn_call *c, cJSON *req)
{
	qscan q;
	long long seg = -1, total = -1;
	gt_buf esk = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	int has_esk = 0;
	gt_err err;

	memset(&q, 0, sizeof(q));
	if (qscan_parse(c, "Scan", req, &q) != 0)
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(req, "ScanIndexForward")) {
		rn_call_error(c, 400, RN_E_SERIALIZATION, "ScanIndexForward is "
		    "not a member of ScanInput");
		goto out;
	}
	q.forward = 1;
	if (rn_req_int(c, req, "Segment", "segment", 0, RN_SEGMENTS_MAX - 1,
	    &seg) != 0 ||
	    rn_req_int(c, req, "TotalSegments", "totalSegments", 1,
	    RN_SEGMENTS_MAX, &total) != 0)
		goto out;
	if ((seg < 0) != (total < 0)) {
		rn_call_error(c, 400, RN_E_VALIDATION, seg < 0 ? "The Segment "
		    "parameter is required but was not present in the request "
		    "when parameter TotalSegments is present" : "The "
		    "TotalSegments parameter is required but was not present "
		    "in the request when Segment parameter is present");
		goto out;
	}
	if (seg >= 0 && seg >= total) {
		rn_call_error(c, 400, RN_E_VALIDATION, "The Segment parameter "
		    "is zero-based and must be less than parameter "
		    "TotalSegments: Segment: %lld is not less than "
		    "TotalSegments: %lld", seg, total);
		goto out;
	}
	err = rn_expr_ctx_check_unused(q.ex, msg);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, msg);
		goto out;
	}
	gt_buf_put_u32be(&q.range.prefix, q.kt->id);
	if (seg >= 0) {
		/* Segment i covers hashes [i*2^32/T, (i+1)*2^32/T). */
		uint64_t lo = ((uint64_t)seg << 32) / (uint64_t)total;
		uint64_t hi = ((uint64_t)(seg + 1) << 32) / (uint64_t)total;
		gt_buf_put_u32be(&q.range.lo, q.kt->id);
		gt_buf_put_u32be(&q.range.lo, (uint32_t)lo);
		q.range.lo_incl = 1;
		if (hi <= UINT32_MAX) {
			gt_buf_put_u32be(&q.range.hi, q.kt->id);
			gt_buf_put_u32be(&q.range.hi, (uint32_t)hi);
			q.range.hi_incl = 0;
		}
		if (lo == hi)
			q.range.hi_incl = 0; /* an empty segment */
	}
	if (start_key(c, req, &q, &esk, &has_esk) != 0)
		goto out;
	if (has_esk)
		range_after(&q, &esk, 1);
	qscan_run(c, &q);
out:
	gt_buf_free(&esk);
	qscan_free(&q);
	rn_call_finish(c);
}
