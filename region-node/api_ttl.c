/*
 * api_ttl.c — UpdateTimeToLive and DescribeTimeToLive.
 *
 * The setting is the descriptor's "TimeToLiveSpecification" (table.h).  An
 * update is checked and applied on the writer thread against the
 * descriptor stored in the write transaction, not the catalog's, so two
 * updates of one table in the same group commit see each other ("already
 * enabled" stays exact).  It is stamped and, for a global table, logged
 * by rn_table_settings_txn, so every replica takes it; rn_derived_table
 * starts or stops tracking expiry times in the same transaction (ttl.h).
 *
 * Like DynamoDB Local, a change takes effect at once: the status goes
 * straight to ENABLED or DISABLED, without ENABLING/DISABLING, and there
 * is no limit on how often it may change.
 */
#include "api_int.h"
#include "ttl.h"

#include <stdlib.h>
#include <string.h>

typedef struct ttl_state {
	char name[RN_TABLE_NAME_MAX + 1];
	char attr[RN_ATTR_NAME_MAX + 1];
	int enable;
	rn_table *made; /* the new descriptor, published after commit */
} ttl_state;

static void ttl_state_free(void *p)
{
	ttl_state *st = p;
	rn_table_unref(st->made);
	free(st);
}

/* Reads the descriptor of table name as stored in txn: *out is a new
 * table (rn_table_unref), NULL when there is no such table. */
static gt_err desc_read(rn_node *n, MDB_txn *txn, const char *name,
    rn_table **out)
{
	MDB_val k = {strlen(name), (void *)(uintptr_t)name}, v;
	cJSON *desc;
	gt_err err;
	int rc;

	*out = NULL;
	rc = mdb_get(txn, rn_store_dbs(n->store)->tables, &k, &v);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	desc = cJSON_ParseWithLength(v.mv_data, v.mv_size);
	if (desc == NULL)
		return GT_ECORRUPT;
	err = rn_table_from_json(desc, out);
	if (err != GT_OK)
		cJSON_Delete(desc);
	return err;
}

static gt_err ttl_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	ttl_state *st = c->state;
	rn_table *cur = NULL;
	cJSON *desc = NULL, *spec;
	gt_err err;

	(void)s;
	err = desc_read(c->node, txn, st->name, &cur);
	if (err != GT_OK)
		return err;
	if (cur == NULL) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", st->name);
		w->result = GT_ENOTFOUND;
		return GT_OK;
	}
	if (st->enable && cur->ttl_enabled) {
		if (strcmp(cur->ttl_attr, st->attr) == 0)
			rn_call_error(c, 400, RN_E_VALIDATION, "TimeToLive is "
			    "already enabled");
		else
			rn_call_error(c, 400, RN_E_VALIDATION, "TimeToLive is "
			    "already enabled on attribute %s. Disable it "
			    "before enabling it on another attribute",
			    cur->ttl_attr);
		w->result = GT_EINVAL;
		goto out;
	}
	if (!st->enable && !cur->ttl_enabled) {
		rn_call_error(c, 400, RN_E_VALIDATION, "TimeToLive is already "
		    "disabled");
		w->result = GT_EINVAL;
		goto out;
	}
	if (!st->enable && strcmp(cur->ttl_attr, st->attr) != 0) {
		rn_call_error(c, 400, RN_E_VALIDATION, "The attribute name "
		    "%s does not match the TimeToLive attribute %s of the "
		    "table", st->attr, cur->ttl_attr);
		w->result = GT_EINVAL;
		goto out;
	}
	desc = cJSON_Duplicate(cur->desc, 1);
	spec = cJSON_CreateObject();
	if (desc == NULL || spec == NULL) {
		cJSON_Delete(spec);
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(out of memory)");
		w->result = GT_ENOMEM;
		goto out;
	}
	cJSON_AddStringToObject(spec, "AttributeName", st->attr);
	cJSON_AddBoolToObject(spec, "Enabled", st->enable);
	cJSON_DeleteItemFromObjectCaseSensitive(desc,
	    "TimeToLiveSpecification");
	cJSON_AddItemToObject(desc, "TimeToLiveSpecification", spec);
	err = rn_table_settings_txn(c->node, txn, cur, desc, &st->made);
out:
	cJSON_Delete(desc);
	rn_table_unref(cur);
	return err;
}

static void ttl_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;
	ttl_state *st = c->state;

	if (commit_err == GT_OK && w->result == GT_OK && st->made != NULL) {
		/* Published like UpdateTable's change (api_table.c). */
		if (rn_catalog_put(&c->node->catalog, st->made) != GT_OK) {
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error (out of memory)");
		} else {
			gt_buf_reset(&c->resp);
			gt_buf_puts(&c->resp, "{\"TimeToLiveSpecification\":"
			    "{\"Enabled\":");
			gt_buf_puts(&c->resp, st->enable ? "true" : "false");
			gt_buf_puts(&c->resp, ",\"AttributeName\":");
			gt_buf_json_str(&c->resp, st->attr, strlen(st->attr));
			gt_buf_puts(&c->resp, "}}");
			GT_LOG(GT_LOG_INFO, "api", "event=ttl_%s table=%s "
			    "attribute=%s", st->enable ? "enabled" :
			    "disabled", st->name, st->attr);
		}
	} else if (commit_err != GT_OK) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(commit_err));
	}
	rn_call_finish(c);
}

/* Checks the request's members, in the model's order, as DynamoDB's
 * front end does before it looks at the table. */
static int ttl_parse(rn_call *c, const cJSON *req, ttl_state *st)
{
	const char *name = NULL, *attr = NULL;
	cJSON *spec = NULL;
	const cJSON *en;

	if (rn_req_str(c, req, "TableName", "tableName", 1, &name) != 0 ||
	    rn_check_table_name(c, name, "tableName") != 0)
		return -1;
	if (rn_req_obj(c, req, "TimeToLiveSpecification",
	    "timeToLiveSpecification", 1, &spec) != 0)
		return -1;
	en = cJSON_GetObjectItemCaseSensitive(spec, "Enabled");
	if (en == NULL || cJSON_IsNull(en)) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value null at "
		    "'timeToLiveSpecification.enabled' failed to satisfy "
		    "constraint: Member must not be null");
		return -1;
	}
	if (rn_req_bool(c, spec, "Enabled", &st->enable) != 0)
		return -1;
	if (rn_req_str(c, spec, "AttributeName",
	    "timeToLiveSpecification.attributeName", 1, &attr) != 0)
		return -1;
	if (attr[0] == '\0') {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '' at "
		    "'timeToLiveSpecification.attributeName' failed to satisfy "
		    "constraint: Member must have length greater than or "
		    "equal to 1");
		return -1;
	}
	if (strlen(attr) > RN_ATTR_NAME_MAX) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%.32s...' at "
		    "'timeToLiveSpecification.attributeName' failed to satisfy "
		    "constraint: Member must have length less than or equal "
		    "to 255", attr);
		return -1;
	}
	memcpy(st->name, name, strlen(name) + 1);
	memcpy(st->attr, attr, strlen(attr) + 1);
	return 0;
}

void rn_op_update_time_to_live(rn_call *c, cJSON *req)
{
	ttl_state *st = calloc(1, sizeof(*st));
	rn_table *t;

	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	if (ttl_parse(c, req, st) != 0)
		goto fail;
	/* The writer checks again; this answers the common case early. */
	t = rn_catalog_get(&c->node->catalog, st->name);
	if (t == NULL) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", st->name);
		goto fail;
	}
	rn_table_unref(t);
	rn_call_submit(c, ttl_write, ttl_done, st, ttl_state_free);
	return;
fail:
	free(st);
	rn_call_finish(c);
}

void rn_op_describe_time_to_live(rn_call *c, cJSON *req)
{
	rn_table *t = NULL;

	if (rn_req_table(c, req, &t) != 0)
		goto out;
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"TimeToLiveDescription\":"
	    "{\"TimeToLiveStatus\":");
	if (t->ttl_enabled) {
		gt_buf_puts(&c->resp, "\"ENABLED\",\"AttributeName\":");
		gt_buf_json_str(&c->resp, t->ttl_attr, strlen(t->ttl_attr));
	} else {
		/* DynamoDB names no attribute once TTL is disabled. */
		gt_buf_puts(&c->resp, "\"DISABLED\"");
	}
	gt_buf_puts(&c->resp, "}}");
out:
	rn_table_unref(t);
	rn_call_finish(c);
}
