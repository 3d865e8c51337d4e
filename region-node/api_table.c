/*
 * api_table.c — the control plane: CreateTable, DescribeTable, ListTables,
 * DeleteTable, UpdateTable, DescribeLimits, DescribeEndpoints.
 *
 * Tables are created ACTIVE at once (there is nothing to provision), so
 * waiters and SDK helpers that poll for ACTIVE return at their first poll.
 */
#include "api_int.h"
#include "cluster.h"
#include "derived.h"
#include "items.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------- describe */

static void add_time(cJSON *obj, const char *name, uint64_t ms)
{
	/* The JSON protocol sends timestamps as epoch seconds. */
	cJSON_AddNumberToObject(obj, name, (double)ms / 1000.0);
}

cJSON *rn_table_describe(rn_node *n, const rn_table *t, const char *status)
{
	const cJSON *d = t->desc;
	const cJSON *bm = cJSON_GetObjectItemCaseSensitive(d, "BillingMode");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(d,
	    "ProvisionedThroughput");
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(d,
	    "StreamSpecification");
	const cJSON *sl = cJSON_GetObjectItemCaseSensitive(d, "StreamLabel");
	const cJSON *lu = cJSON_GetObjectItemCaseSensitive(d,
	    "LastUpdateToPayPerRequestDateTime");
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(d, "TableClass");
	const cJSON *dp = cJSON_GetObjectItemCaseSensitive(d,
	    "DeletionProtectionEnabled");
	cJSON *o = cJSON_CreateObject(), *x;
	uint64_t count = 0, bytes = 0;
	MDB_txn *txn = NULL;
	char arn[512], id[40];

	if (o == NULL)
		return NULL;
	if (rn_store_read_begin(n->store, &txn) == GT_OK) {
		(void)rn_stats_read(txn, rn_store_dbs(n->store), t->id, &count,
		    &bytes);
		rn_store_read_end(txn);
	}
	cJSON_AddItemToObject(o, "AttributeDefinitions", cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(d, "AttributeDefinitions"), 1));
	cJSON_AddStringToObject(o, "TableName", t->name);
	cJSON_AddItemToObject(o, "KeySchema", cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(d, "KeySchema"), 1));
	cJSON_AddStringToObject(o, "TableStatus", status);
	add_time(o, "CreationDateTime", t->created_ms);
	x = cJSON_AddObjectToObject(o, "ProvisionedThroughput");
	if (x != NULL) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(pt,
		    "ReadCapacityUnits");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(pt,
		    "WriteCapacityUnits");
		cJSON_AddNumberToObject(x, "NumberOfDecreasesToday", 0);
		cJSON_AddNumberToObject(x, "ReadCapacityUnits",
		    cJSON_IsNumber(r) ? r->valuedouble : 0);
		cJSON_AddNumberToObject(x, "WriteCapacityUnits",
		    cJSON_IsNumber(w) ? w->valuedouble : 0);
	}
	cJSON_AddNumberToObject(o, "TableSizeBytes", (double)bytes);
	cJSON_AddNumberToObject(o, "ItemCount", (double)count);
	snprintf(arn, sizeof(arn), "arn:aws:dynamodb:%s:%s:table/%s",
	    n->region, n->account, t->name);
	cJSON_AddStringToObject(o, "TableArn", arn);
	rn_index_describe(n, t, arn, o);
	/* A stable id derived from the table's internal id and creation. */
	snprintf(id, sizeof(id), "%08x-%04x-4%03x-8%03x-%012llx", t->id,
	    (unsigned)(t->created_ms >> 32) & 0xffffu,
	    (unsigned)(t->created_ms >> 20) & 0xfffu,
	    (unsigned)(t->created_ms >> 8) & 0xfffu,
	    (unsigned long long)(t->created_ms & 0xffffffffffffull));
	cJSON_AddStringToObject(o, "TableId", id);
	if (cJSON_IsString(bm) && strcmp(bm->valuestring, "PAY_PER_REQUEST") ==
	    0) {
		x = cJSON_AddObjectToObject(o, "BillingModeSummary");
		if (x != NULL) {
			cJSON_AddStringToObject(x, "BillingMode",
			    "PAY_PER_REQUEST");
			add_time(x, "LastUpdateToPayPerRequestDateTime",
			    cJSON_IsNumber(lu) ? (uint64_t)lu->valuedouble :
			    t->created_ms);
		}
	} else {
		x = cJSON_AddObjectToObject(o, "BillingModeSummary");
		if (x != NULL)
			cJSON_AddStringToObject(x, "BillingMode", "PROVISIONED");
	}
	if (cJSON_IsObject(ss)) {
		cJSON_AddItemToObject(o, "StreamSpecification",
		    cJSON_Duplicate(ss, 1));
		/* A disabled stream stays the latest one, as in DynamoDB. */
		if (cJSON_IsString(sl)) {
			char sarn[640];
			cJSON_AddStringToObject(o, "LatestStreamLabel",
			    sl->valuestring);
			snprintf(sarn, sizeof(sarn), "%s/stream/%s", arn,
			    sl->valuestring);
			cJSON_AddStringToObject(o, "LatestStreamArn", sarn);
		}
	}
	if (cJSON_IsString(tc)) {
		x = cJSON_AddObjectToObject(o, "TableClassSummary");
		if (x != NULL)
			cJSON_AddStringToObject(x, "TableClass", tc->valuestring);
	}
	cJSON_AddBoolToObject(o, "DeletionProtectionEnabled", cJSON_IsTrue(dp));
	{
		topo_rset rs;
		rn_table_rset(n, t, &rs);
		if (rs.n > 1 || cJSON_GetObjectItemCaseSensitive(d,
		    "ReplicaSet") != NULL) {
			cJSON *reps;
			cJSON_AddStringToObject(o, "GlobalTableVersion",
			    "2019.11.21");
			reps = cJSON_AddArrayToObject(o, "Replicas");
			for (uint32_t i = 0; reps != NULL && i < rs.n; i++) {
				cJSON *e = cJSON_CreateObject();
				char pct[8];
				if (e == NULL)
					break;
				cJSON_AddStringToObject(e, "RegionName",
				    rs.r[i].region);
				cJSON_AddStringToObject(e, "ReplicaStatus",
				    topo_rstatus_name(rs.r[i].status));
				if (rs.r[i].status == TOPO_CREATING) {
					snprintf(pct, sizeof(pct), "%u",
					    rs.r[i].progress_pct);
					cJSON_AddStringToObject(e,
					    "ReplicaStatusPercentProgress", pct);
				}
				cJSON_AddItemToArray(reps, e);
			}
			if (topo_rset_updating(&rs))
				cJSON_ReplaceItemInObjectCaseSensitive(o,
				    "TableStatus", cJSON_CreateString(
				    "UPDATING"));
		}
	}
	return o;
}

static void answer_table(rn_call *c, const char *member, const rn_table *t,
    const char *status)
{
	cJSON *desc = rn_table_describe(c->node, t, status);
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"");
	gt_buf_puts(&c->resp, member);
	gt_buf_puts(&c->resp, "\":");
	if (desc == NULL)
		c->resp.oom = 1;
	else
		rn_buf_json(&c->resp, desc);
	gt_buf_putc(&c->resp, '}');
	cJSON_Delete(desc);
}

void rn_op_describe_table(rn_call *c, cJSON *req)
{
	const char *name = NULL;
	rn_table *t;

	if (rn_req_str(c, req, "TableName", "tableName", 1, &name) != 0 ||
	    rn_check_table_name(c, name, "tableName") != 0)
		goto out;
	t = rn_catalog_get(&c->node->catalog, name);
	if (t == NULL) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", name);
		goto out;
	}
	answer_table(c, "Table", t, "ACTIVE");
	rn_table_unref(t);
out:
	rn_call_finish(c);
}

/* --------------------------------------------------------------- create */

/* Validates billing settings; fills "BillingMode" and
 * "ProvisionedThroughput" into desc.  Returns -1 with the error set. */
static int billing_parse(rn_call *c, const cJSON *req, const char *deflt,
    cJSON *desc)
{
	const char *bm = deflt;
	cJSON *pt = NULL, *x;
	long long rcu = 0, wcu = 0;
	char mode[16];

	if (rn_req_str(c, req, "BillingMode", "billingMode", 0, &bm) != 0 ||
	    rn_req_obj(c, req, "ProvisionedThroughput",
	    "provisionedThroughput", 0, &pt) != 0)
		return -1;
	if (strcmp(bm, "PROVISIONED") != 0 &&
	    strcmp(bm, "PAY_PER_REQUEST") != 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at 'billingMode' failed to "
		    "satisfy constraint: Member must satisfy enum value set: "
		    "[PROVISIONED, PAY_PER_REQUEST]", bm);
		return -1;
	}
	if (pt != NULL) {
		if (rn_req_int(c, pt, "ReadCapacityUnits",
		    "provisionedThroughput.readCapacityUnits", 1,
		    1000000000000LL, &rcu) != 0 ||
		    rn_req_int(c, pt, "WriteCapacityUnits",
		    "provisionedThroughput.writeCapacityUnits", 1,
		    1000000000000LL, &wcu) != 0)
			return -1;
	}
	if (strcmp(bm, "PROVISIONED") == 0 && (rcu == 0 || wcu == 0)) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: ReadCapacityUnits and "
		    "WriteCapacityUnits must both be specified when "
		    "BillingMode is PROVISIONED");
		return -1;
	}
	if (strcmp(bm, "PAY_PER_REQUEST") == 0 && pt != NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: Neither ReadCapacityUnits nor "
		    "WriteCapacityUnits can be specified when BillingMode is "
		    "PAY_PER_REQUEST");
		return -1;
	}
	/* bm may point into desc's own entry (UpdateTable's default), so it
	 * is copied before that entry goes. */
	snprintf(mode, sizeof(mode), "%s", bm);
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "BillingMode");
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "ProvisionedThroughput");
	cJSON_AddStringToObject(desc, "BillingMode", mode);
	x = cJSON_AddObjectToObject(desc, "ProvisionedThroughput");
	if (x == NULL)
		return -1;
	cJSON_AddNumberToObject(x, "ReadCapacityUnits", (double)rcu);
	cJSON_AddNumberToObject(x, "WriteCapacityUnits", (double)wcu);
	return 0;
}

static void stream_label(char out[64], uint64_t ms)
{
	/* DynamoDB labels streams with an ISO-8601 time of creation. */
	time_t sec = (time_t)(ms / 1000u);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03u",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000u));
}

/* Validates StreamSpecification into desc. */
static int stream_parse(rn_call *c, const cJSON *req, cJSON *desc,
    uint64_t now_ms, int updating)
{
	cJSON *ss = NULL;
	const char *vt = NULL;
	int enabled = 0, was;
	char label[64];

	if (rn_req_obj(c, req, "StreamSpecification", "streamSpecification",
	    0, &ss) != 0)
		return -1;
	if (ss == NULL)
		return 0;
	if (cJSON_GetObjectItemCaseSensitive(ss, "StreamEnabled") == NULL) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value null at "
		    "'streamSpecification.streamEnabled' failed to satisfy "
		    "constraint: Member must not be null");
		return -1;
	}
	if (rn_req_bool(c, ss, "StreamEnabled", &enabled) != 0 ||
	    rn_req_str(c, ss, "StreamViewType",
	    "streamSpecification.streamViewType", 0, &vt) != 0)
		return -1;
	if (vt != NULL && strcmp(vt, "KEYS_ONLY") != 0 &&
	    strcmp(vt, "NEW_IMAGE") != 0 && strcmp(vt, "OLD_IMAGE") != 0 &&
	    strcmp(vt, "NEW_AND_OLD_IMAGES") != 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at "
		    "'streamSpecification.streamViewType' failed to satisfy "
		    "constraint: Member must satisfy enum value set: "
		    "[NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]", vt);
		return -1;
	}
	if (enabled && vt == NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: StreamViewType must be specified "
		    "when StreamEnabled is true");
		return -1;
	}
	if (!enabled && vt != NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: StreamViewType cannot be specified "
		    "when StreamEnabled is false");
		return -1;
	}
	was = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(desc, "StreamSpecification"),
	    "StreamEnabled"));
	if (updating && enabled && was) {
		const cJSON *sl = cJSON_GetObjectItemCaseSensitive(desc,
		    "StreamLabel");
		rn_call_error(c, 400, RN_E_VALIDATION, "Table already has an "
		    "enabled stream: %s", cJSON_IsString(sl) ?
		    sl->valuestring : "");
		return -1;
	}
	if (updating && !enabled && !was) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Table already has no "
		    "enabled stream");
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "StreamSpecification");
	cJSON_AddItemToObject(desc, "StreamSpecification", cJSON_Duplicate(ss,
	    1));
	if (enabled) {
		stream_label(label, now_ms);
		cJSON_DeleteItemFromObjectCaseSensitive(desc, "StreamLabel");
		cJSON_AddStringToObject(desc, "StreamLabel", label);
	}
	return 0;
}

typedef struct create_state {
	rn_call *call;
	cJSON *desc;    /* owned until published */
	rn_table *made; /* set by the write on success */
	char name[RN_TABLE_NAME_MAX + 1];
} create_state;

static void create_state_free(void *p)
{
	create_state *st = p;
	cJSON_Delete(st->desc);
	rn_table_unref(st->made);
	free(st);
}

static gt_err table_put_desc(MDB_txn *txn, const rn_dbs *dbs,
    const rn_table *t)
{
	char *text = cJSON_PrintUnformatted(t->desc);
	MDB_val k = {strlen(t->name), (void *)(uintptr_t)t->name}, v;
	int rc;

	if (text == NULL)
		return GT_ENOMEM;
	v.mv_size = strlen(text);
	v.mv_data = text;
	rc = mdb_put(txn, dbs->tables, &k, &v, 0);
	free(text);
	return rn_mdb_err(rc);
}

gt_err rn_table_id_next(MDB_txn *txn, const rn_dbs *dbs, uint32_t *out)
{
	static const char key[] = "next_table_id";
	MDB_val k = {sizeof(key) - 1, (void *)(uintptr_t)key}, v;
	uint8_t vb[4];
	uint32_t id = 1;
	int rc;

	rc = mdb_get(txn, dbs->meta, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == 4)
		id = gt_get_u32be(v.mv_data);
	else if (rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (id == UINT32_MAX)
		return GT_ELIMIT;
	gt_put_u32be(vb, id + 1);
	v.mv_size = 4;
	v.mv_data = vb;
	rc = mdb_put(txn, dbs->meta, &k, &v, 0);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	*out = id;
	return GT_OK;
}

/* Appends a table record (create or delete) to the change log. */
static gt_err table_log(rn_node *n, MDB_txn *txn, uint8_t op,
    const rn_table *t, const cJSON *desc, const rn_logrec *from)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	gt_buf key = GT_BUF_INIT;
	char *img = cJSON_PrintUnformatted(desc);
	rn_logrec r;
	uint64_t seq;
	gt_err err;

	if (img == NULL)
		return GT_ENOMEM;
	gt_buf_puts(&key, "{\"TableName\":");
	gt_buf_json_str(&key, t->name, strlen(t->name));
	gt_buf_putc(&key, '}');
	seq = rn_store_seq_next(n->store);
	memset(&r, 0, sizeof(r));
	if (from != NULL) {
		r = *from;
		r.flags |= RN_LOG_F_REPLICATED;
		r.old_img = NULL;
		r.old_len = 0;
	} else {
		r.hlc = cf_clock_now(&n->clock, gt_wall_ms());
		r.origin = n->region;
		r.origin_len = strlen(n->region);
		r.origin_seq = seq;
	}
	r.op = op;
	r.table_id = t->id;
	r.table = t->name;
	r.table_len = strlen(t->name);
	r.key = key.data;
	r.key_len = key.len;
	r.new_img = img;
	r.new_len = strlen(img);
	r.meta = NULL;
	r.meta_len = 0;
	err = gt_buf_ok(&key) ? rn_log_put(txn, dbs, seq, &r) : GT_ENOMEM;
	free(img);
	gt_buf_free(&key);
	return err;
}

/* Stores a copy of desc as the descriptor of table id `id` and logs it
 * (log_op 0: no record); *out is the new descriptor.  Shared by create
 * and replace. */
static gt_err table_store_txn(rn_node *n, MDB_txn *txn, const rn_table *old,
    const cJSON *desc, uint32_t id, uint8_t log_op, const rn_logrec *from,
    rn_table **out)
{
	cJSON *copy = cJSON_Duplicate(desc, 1);
	rn_table *t = NULL;
	gt_err err;

	if (copy == NULL)
		return GT_ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "Id");
	cJSON_AddNumberToObject(copy, "Id", (double)id);
	err = rn_table_from_json(copy, &t);
	if (err != GT_OK) {
		cJSON_Delete(copy);
		return err;
	}
	err = rn_derived_table(n, txn, old, t);
	if (err == GT_OK)
		err = table_put_desc(txn, rn_store_dbs(n->store), t);
	if (err == GT_OK && log_op != 0)
		err = table_log(n, txn, log_op, t, t->desc, from);
	if (err != GT_OK) {
		rn_table_unref(t);
		return err;
	}
	*out = t;
	return GT_OK;
}

gt_err rn_table_create_txn(rn_node *n, MDB_txn *txn, const cJSON *desc,
    uint8_t log_op, const rn_logrec *from, rn_table **out)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(desc, "TableName");
	MDB_val k, v;
	uint32_t id = 0;
	gt_err err;
	int rc;

	if (!cJSON_IsString(nm))
		return GT_ECORRUPT;
	k.mv_size = strlen(nm->valuestring);
	k.mv_data = nm->valuestring;
	rc = mdb_get(txn, dbs->tables, &k, &v);
	if (rc == MDB_SUCCESS)
		return GT_EEXIST;
	if (rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	err = rn_table_id_next(txn, dbs, &id);
	if (err != GT_OK)
		return err;
	return table_store_txn(n, txn, NULL, desc, id, log_op, from, out);
}

static gt_err create_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	create_state *st = c->state;
	gt_err err;

	(void)s;
	err = rn_table_create_txn(c->node, txn, st->desc, c->node->global_tables
	    ? RN_LOG_TABLE_CREATE : 0, NULL, &st->made);
	if (err == GT_EEXIST) {
		rn_call_error(c, 400, RN_E_IN_USE, "Table already exists: %s",
		    st->name);
		w->result = GT_EEXIST;
		return GT_OK;
	}
	return err;
}

static void create_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;
	create_state *st = c->state;

	if (commit_err == GT_OK && w->result == GT_OK && st->made != NULL) {
		if (rn_catalog_put(&c->node->catalog, st->made) != GT_OK)
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error (out of memory)");
		else
			answer_table(c, "TableDescription", st->made, "ACTIVE");
		GT_LOG(GT_LOG_INFO, "api", "event=table_created table=%s id=%u",
		    st->made->name, st->made->id);
	} else if (commit_err != GT_OK) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(commit_err));
	}
	rn_call_finish(c);
}

/* Checks KeySchema against AttributeDefinitions. */
static int keys_parse(rn_call *c, const cJSON *ks, const cJSON *ad,
    int has_indexes)
{
	const cJSON *a;
	int n, nad = 0;

	if (cJSON_GetArraySize(ks) < 1 || cJSON_GetArraySize(ks) > 2) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value at 'keySchema' failed to satisfy "
		    "constraint: Member must have length %s",
		    cJSON_GetArraySize(ks) < 1 ? "greater than or equal to 1" :
		    "less than or equal to 2");
		return -1;
	}
	cJSON_ArrayForEach(a, ad) {
		const char *an = NULL, *at = NULL;
		if (!cJSON_IsObject(a)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in AttributeDefinitions");
			return -1;
		}
		if (rn_req_str(c, a, "AttributeName",
		    "attributeDefinitions.member.attributeName", 1, &an) != 0 ||
		    rn_req_str(c, a, "AttributeType",
		    "attributeDefinitions.member.attributeType", 1, &at) != 0)
			return -1;
		if (strcmp(at, "S") != 0 && strcmp(at, "N") != 0 &&
		    strcmp(at, "B") != 0) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value '%s' at "
			    "'attributeDefinitions.%d.member.attributeType' "
			    "failed to satisfy constraint: Member must satisfy "
			    "enum value set: [B, N, S]", at, nad + 1);
			return -1;
		}
		if (strlen(an) < 1 || strlen(an) > RN_ATTR_NAME_MAX) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: attribute name "
			    "length must be between 1 and 255");
			return -1;
		}
		nad++;
	}
	if (rn_keyschema_parse(c, ks, ad, NULL) != 0)
		return -1;
	n = cJSON_GetArraySize(ks);
	/* With indexes, rn_index_req_create checks that every definition
	 * is used by some key. */
	if (nad != n && !has_indexes) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: Number of attributes in KeySchema "
		    "does not exactly match number of attributes defined in "
		    "AttributeDefinitions");
		return -1;
	}
	return 0;
}

void rn_op_create_table(rn_call *c, cJSON *req)
{
	const char *name = NULL, *tc = NULL;
	cJSON *ks = NULL, *ad = NULL, *gsi = NULL, *lsi = NULL;
	create_state *st = NULL;
	rn_table *existing;
	uint64_t now = gt_wall_ms();
	int dp = 0;

	if (rn_req_str(c, req, "TableName", "tableName", 1, &name) != 0 ||
	    rn_check_table_name(c, name, "tableName") != 0 ||
	    rn_req_arr(c, req, "AttributeDefinitions", "attributeDefinitions",
	    1, &ad) != 0 ||
	    rn_req_arr(c, req, "KeySchema", "keySchema", 1, &ks) != 0 ||
	    rn_req_arr(c, req, "GlobalSecondaryIndexes",
	    "globalSecondaryIndexes", 0, &gsi) != 0 ||
	    rn_req_arr(c, req, "LocalSecondaryIndexes",
	    "localSecondaryIndexes", 0, &lsi) != 0 ||
	    rn_req_str(c, req, "TableClass", "tableClass", 0, &tc) != 0 ||
	    rn_req_bool(c, req, "DeletionProtectionEnabled", &dp) != 0)
		goto fail;
	if (keys_parse(c, ks, ad, gsi != NULL || lsi != NULL) != 0)
		goto fail;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->desc = cJSON_CreateObject()) == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	snprintf(st->name, sizeof(st->name), "%s", name);
	cJSON_AddStringToObject(st->desc, "TableName", name);
	cJSON_AddItemToObject(st->desc, "KeySchema", cJSON_Duplicate(ks, 1));
	cJSON_AddItemToObject(st->desc, "AttributeDefinitions",
	    cJSON_Duplicate(ad, 1));
	cJSON_AddNumberToObject(st->desc, "CreationDateTime", (double)now);
	if (billing_parse(c, req, "PROVISIONED", st->desc) != 0 ||
	    stream_parse(c, req, st->desc, now, 0) != 0)
		goto fail;
	if ((gsi != NULL || lsi != NULL) &&
	    rn_index_req_create(c, gsi, lsi, st->desc) != 0)
		goto fail;
	if (tc != NULL)
		cJSON_AddStringToObject(st->desc, "TableClass", tc);
	cJSON_AddBoolToObject(st->desc, "DeletionProtectionEnabled", dp);
	if (c->node->global_tables) {
		/* A global table has a replica in every member region. */
		topo_members m;
		topo_rset rs;
		rn_cluster_get(c->node, &m);
		if (m.n > 0) {
			topo_rset_init_all(&rs, &m, c->node->region);
			if (rn_desc_set_rset(st->desc, &rs) != GT_OK) {
				rn_call_error(c, 500, RN_E_INTERNAL, "Internal "
				    "server error");
				goto fail;
			}
		}
	}
	/* A fast answer for the common case; the writer checks again
	 * inside its transaction. */
	existing = rn_catalog_get(&c->node->catalog, name);
	if (existing != NULL) {
		rn_table_unref(existing);
		rn_call_error(c, 400, RN_E_IN_USE, "Table already exists: %s",
		    name);
		goto fail;
	}
	st->call = c;
	rn_call_submit(c, create_write, create_done, st, create_state_free);
	return;
fail:
	if (st != NULL)
		create_state_free(st);
	rn_call_finish(c);
}

/* --------------------------------------------------------------- delete */

typedef struct table_state {
	rn_table *t;      /* the table as the request saw it */
	rn_table *made;   /* UpdateTable: the new descriptor */
	gt_err result;
} table_state;

static void table_state_free(void *p)
{
	table_state *st = p;
	rn_table_unref(st->t);
	rn_table_unref(st->made);
	free(st);
}

gt_err rn_table_drop_txn(rn_node *n, MDB_txn *txn, const rn_table *t,
    uint8_t log_op, const rn_logrec *from)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	MDB_val k = {strlen(t->name), (void *)(uintptr_t)t->name};
	uint8_t kb[4];
	MDB_val sk = {4, kb};
	gt_err err;
	int rc;

	err = rn_derived_table(n, txn, t, NULL);
	if (err == GT_OK)
		err = rn_mdb_del_id(txn, dbs->items, t->id);
	if (err != GT_OK)
		return err;
	rc = mdb_del(txn, dbs->tables, &k, NULL);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	gt_put_u32be(kb, t->id);
	rc = mdb_del(txn, dbs->stats, &sk, NULL);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	if (log_op != 0)
		return table_log(n, txn, log_op, t, t->desc, from);
	return GT_OK;
}

gt_err rn_table_replace_txn(rn_node *n, MDB_txn *txn, const rn_table *t,
    const cJSON *desc, uint8_t log_op, const rn_logrec *from,
    rn_table **out)
{
	return table_store_txn(n, txn, t, desc, t->id, log_op, from, out);
}

gt_err rn_table_settings_txn(rn_node *n, MDB_txn *txn, const rn_table *t,
    cJSON *desc, rn_table **out)
{
	uint64_t hlc = cf_clock_now(&n->clock, gt_wall_ms());
	cJSON *st = cJSON_CreateObject();
	char num[24];

	if (st == NULL)
		return GT_ENOMEM;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)hlc);
	cJSON_AddStringToObject(st, "Hlc", num);
	cJSON_AddStringToObject(st, "Origin", n->region);
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "SettingsStamp");
	cJSON_AddItemToObject(desc, "SettingsStamp", st);
	return rn_table_replace_txn(n, txn, t, desc, t->has_rset ?
	    RN_LOG_TABLE_UPDATE : 0, NULL, out);
}

static gt_err delete_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	table_state *st = c->state;

	(void)s;
	if (!rn_table_is_current(c->node, st->t)) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", st->t->name);
		w->result = GT_ENOTFOUND;
		return GT_OK;
	}
	/* The answer describes the table as it was, counts included. */
	answer_table(c, "TableDescription", st->t, "DELETING");
	return rn_table_drop_txn(c->node, txn, st->t, c->node->global_tables ?
	    RN_LOG_TABLE_DELETE : 0, NULL);
}

static void delete_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;
	table_state *st = c->state;

	if (commit_err == GT_OK && w->result == GT_OK) {
		rn_catalog_remove(&c->node->catalog, st->t->name);
		GT_LOG(GT_LOG_INFO, "api", "event=table_deleted table=%s id=%u",
		    st->t->name, st->t->id);
	} else if (commit_err != GT_OK) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(commit_err));
	}
	rn_call_finish(c);
}

void rn_op_delete_table(rn_call *c, cJSON *req)
{
	table_state *st;
	rn_table *t = NULL;

	if (rn_req_table(c, req, &t) != 0)
		goto out;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t->desc,
	    "DeletionProtectionEnabled"))) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Resource cannot be "
		    "deleted as it is currently protected against deletion. "
		    "Disable deletion protection first.");
		goto out;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto out;
	}
	st->t = t;
	rn_call_submit(c, delete_write, delete_done, st, table_state_free);
	return;
out:
	rn_table_unref(t);
	rn_call_finish(c);
}

/* --------------------------------------------------------------- update */

static gt_err update_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	table_state *st = c->state;
	rn_table *made;
	gt_err err;

	(void)s;
	if (!rn_table_is_current(c->node, st->t)) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", st->t->name);
		w->result = GT_ENOTFOUND;
		return GT_OK;
	}
	if (!rn_table_is_latest(c->node, st->t)) {
		/* Another change committed since this one was built from
		 * the table: applying it would undo that change. */
		rn_call_error(c, 400, RN_E_IN_USE, "Attempt to change a "
		    "resource which is still in use: Table is being updated: "
		    "%s", st->t->name);
		w->result = GT_EBUSY;
		return GT_OK;
	}
	made = st->made;
	st->made = NULL;
	err = rn_table_settings_txn(c->node, txn, st->t, made->desc, &st->made);
	rn_table_unref(made);
	return err;
}

static void update_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;
	table_state *st = c->state;

	if (commit_err == GT_OK && w->result == GT_OK) {
		if (rn_catalog_put(&c->node->catalog, st->made) != GT_OK)
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error (out of memory)");
		else
			answer_table(c, "TableDescription", st->made, "ACTIVE");
	} else if (commit_err != GT_OK) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(commit_err));
	}
	rn_call_finish(c);
}

/* ------------------------------------------------------ replica updates */

typedef struct replica_state {
	rn_table *t;        /* as the request saw it */
	rn_table *made;     /* the new descriptor */
	char region[CF_REGION_NAME_MAX];
	int add;            /* 1: Create, 0: Delete */
	int keep_detached;  /* Delete: the dropped region keeps its copy */
} replica_state;

static void replica_state_free(void *p)
{
	replica_state *st = p;
	rn_table_unref(st->t);
	rn_table_unref(st->made);
	free(st);
}

/* Answers a topology refusal as DynamoDB does. */
static void replica_refused(rn_call *c, topo_refusal why, const char *table,
    const char *region)
{
	switch (why) {
	case TOPO_REFUSE_BUSY:
		rn_call_error(c, 400, RN_E_IN_USE, "Attempt to change a "
		    "resource which is still in use: Table is being updated: "
		    "%s", table);
		break;
	case TOPO_REFUSE_UNKNOWN_REGION:
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: Region %s is not a region of this "
		    "cluster", region);
		break;
	case TOPO_REFUSE_SELF:
	case TOPO_REFUSE_ALREADY_REPLICA:
		rn_call_error(c, 400, RN_E_VALIDATION, "Failed to create a new "
		    "replica of table with name: '%s' because one or more "
		    "replicas already existed as tables.", table);
		break;
	case TOPO_REFUSE_NOT_REPLICA:
		rn_call_error(c, 400, RN_E_VALIDATION, "Replica specified in "
		    "the Replica Update or Replica Delete action of the "
		    "request was not found.");
		break;
	case TOPO_REFUSE_LAST_REPLICA:
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: cannot delete the last replica of "
		    "table %s; use DeleteTable", table);
		break;
	default:
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
	}
}

/* Decides and stores the change on the writer thread, against the
 * committed descriptor, so two concurrent changes cannot both pass. */
static gt_err replica_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	replica_state *st = c->state;
	rn_node *n = c->node;
	rn_table *cur = rn_catalog_get(&n->catalog, st->t->name);
	topo_members m;
	topo_rset rs, next;
	topo_refusal why;
	cJSON *desc = NULL;
	gt_err err = GT_OK;

	(void)s;
	if (cur == NULL) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", st->t->name);
		w->result = GT_ENOTFOUND;
		return GT_OK;
	}
	rn_cluster_get(n, &m);
	rn_table_rset(n, cur, &rs);
	why = st->add ? topo_rset_add(&rs, &m, n->region, st->region, &next) :
	    topo_rset_drop(&rs, n->region, st->region, &next);
	if (why != TOPO_OK) {
		replica_refused(c, why, cur->name, st->region);
		w->result = GT_ECONFLICT;
		goto out;
	}
	desc = cJSON_Duplicate(cur->desc, 1);
	if (desc == NULL) {
		err = GT_ENOMEM;
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "BackfillSourceApi");
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "Detach");
	if (st->add)
		cJSON_AddStringToObject(desc, "BackfillSourceApi", n->api_url);
	else if (st->keep_detached)
		cJSON_AddStringToObject(desc, "Detach", st->region);
	err = rn_desc_set_rset(desc, &next);
	if (err == GT_OK)
		err = rn_table_from_json(desc, &st->made);
	if (err != GT_OK)
		goto out;
	desc = NULL; /* now st->made's */
	err = table_put_desc(txn, rn_store_dbs(n->store), st->made);
	if (err == GT_OK)
		err = table_log(n, txn, RN_LOG_TABLE_UPDATE, st->made,
		    st->made->desc, NULL);
	if (err == GT_OK)
		GT_LOG(GT_LOG_INFO, "topology", "event=replica_%s table=%s "
		    "region=%s epoch=%llu", st->add ? "add" : "drop",
		    cur->name, st->region, (unsigned long long)next.epoch);
out:
	cJSON_Delete(desc);
	rn_table_unref(cur);
	return err;
}

static void replica_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;
	replica_state *st = c->state;

	if (commit_err == GT_OK && w->result == GT_OK && st->made != NULL) {
		if (rn_catalog_put(&c->node->catalog, st->made) != GT_OK)
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error (out of memory)");
		else
			answer_table(c, "TableDescription", st->made, "ACTIVE");
	} else if (commit_err != GT_OK) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(commit_err));
	}
	rn_call_finish(c);
}

/* Starts a replica change of table t (consumed) for the call. */
static void replica_submit(rn_call *c, rn_table *t, const char *region,
    int add, int keep_detached)
{
	replica_state *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		rn_table_unref(t);
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		rn_call_finish(c);
		return;
	}
	st->t = t;
	st->add = add;
	st->keep_detached = keep_detached;
	snprintf(st->region, sizeof(st->region), "%s", region);
	rn_call_submit(c, replica_write, replica_done, st, replica_state_free);
}

void rn_table_replica_change(rn_call *c, const char *table,
    const char *region, int add, int keep_detached)
{
	rn_table *t = rn_catalog_get(&c->node->catalog, table);

	if (t == NULL) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Table: %s not found", table);
		rn_call_finish(c);
		return;
	}
	replica_submit(c, t, region, add, keep_detached);
}

/* UpdateTable with ReplicaUpdates: one Create or Delete. */
static void update_replicas(rn_call *c, cJSON *req, cJSON *ru, rn_table *t)
{
	cJSON *u = cJSON_GetArrayItem(ru, 0), *x = NULL;
	const char *region = NULL;
	int add;

	if (cJSON_GetArraySize(ru) != 1 || !cJSON_IsObject(u)) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: ReplicaUpdates must hold exactly one "
		    "Create or Delete action");
		goto fail;
	}
	for (cJSON *f = req->child; f != NULL; f = f->next) {
		if (strcmp(f->string, "TableName") != 0 &&
		    strcmp(f->string, "ReplicaUpdates") != 0) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: ReplicaUpdates "
			    "cannot be combined with other table updates");
			goto fail;
		}
	}
	add = cJSON_GetObjectItemCaseSensitive(u, "Create") != NULL;
	if (rn_req_obj(c, u, add ? "Create" : "Delete", add ?
	    "replicaUpdates.member.create" : "replicaUpdates.member.delete", 1,
	    &x) != 0 || rn_req_str(c, x, "RegionName",
	    "replicaUpdates.member.regionName", 1, &region) != 0)
		goto fail;
	if (cJSON_GetArraySize(u) != 1) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: a replica update holds exactly one "
		    "of Create, Update or Delete");
		goto fail;
	}
	if (!cf_region_name_valid(region)) {
		replica_refused(c, TOPO_REFUSE_UNKNOWN_REGION, t->name, region);
		goto fail;
	}
	replica_submit(c, t, region, add, 0);
	return;
fail:
	rn_table_unref(t);
	rn_call_finish(c);
}

void rn_op_update_table(rn_call *c, cJSON *req)
{
	table_state *st = NULL;
	rn_table *t = NULL;
	cJSON *desc = NULL, *x;
	const char *tc = NULL;
	int any = 0, dp = -1;
	uint64_t now = gt_wall_ms();

	if (rn_req_table(c, req, &t) != 0)
		goto fail;
	{
		cJSON *ru = NULL;
		if (rn_req_arr(c, req, "ReplicaUpdates", "replicaUpdates", 0,
		    &ru) != 0)
			goto fail;
		if (ru != NULL) {
			update_replicas(c, req, ru, t);
			return;
		}
	}
	desc = cJSON_Duplicate(t->desc, 1);
	if (desc == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	if (cJSON_GetObjectItemCaseSensitive(req, "BillingMode") ||
	    cJSON_GetObjectItemCaseSensitive(req, "ProvisionedThroughput")) {
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(desc,
		    "BillingMode");
		char deflt[16];
		snprintf(deflt, sizeof(deflt), "%s", cJSON_IsString(old) ?
		    old->valuestring : "PROVISIONED");
		int to_ppr;
		if (billing_parse(c, req, deflt, desc) != 0)
			goto fail;
		to_ppr = strcmp(cJSON_GetObjectItemCaseSensitive(desc,
		    "BillingMode")->valuestring, "PAY_PER_REQUEST") == 0;
		if (to_ppr && strcmp(deflt, "PAY_PER_REQUEST") != 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(desc,
			    "LastUpdateToPayPerRequestDateTime");
			cJSON_AddNumberToObject(desc,
			    "LastUpdateToPayPerRequestDateTime", (double)now);
		}
		any = 1;
	}
	if (cJSON_GetObjectItemCaseSensitive(req, "StreamSpecification")) {
		if (stream_parse(c, req, desc, now, 1) != 0)
			goto fail;
		any = 1;
	}
	{
		cJSON *gu = NULL;
		if (rn_req_arr(c, req, "GlobalSecondaryIndexUpdates",
		    "globalSecondaryIndexUpdates", 0, &gu) != 0)
			goto fail;
		if (gu != NULL) {
			if (rn_index_req_update(c, req, gu, t, desc) != 0)
				goto fail;
			any = 1;
		}
	}
	if (rn_req_str(c, req, "TableClass", "tableClass", 0, &tc) != 0 ||
	    rn_req_bool(c, req, "DeletionProtectionEnabled", &dp) != 0)
		goto fail;
	if (tc != NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(desc, "TableClass");
		cJSON_AddStringToObject(desc, "TableClass", tc);
		any = 1;
	}
	if (dp != -1) {
		cJSON_DeleteItemFromObjectCaseSensitive(desc,
		    "DeletionProtectionEnabled");
		cJSON_AddBoolToObject(desc, "DeletionProtectionEnabled", dp);
		any = 1;
	}
	if (!any) {
		rn_call_error(c, 400, RN_E_VALIDATION, "At least one of "
		    "ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
		    "GlobalSecondaryIndexUpdates or SSESpecification or "
		    "ReplicaUpdates is required");
		goto fail;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	x = desc;
	desc = NULL;
	if (rn_table_from_json(x, &st->made) != GT_OK) {
		cJSON_Delete(x);
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	st->t = t;
	rn_call_submit(c, update_write, update_done, st, table_state_free);
	return;
fail:
	free(st);
	cJSON_Delete(desc);
	rn_table_unref(t);
	rn_call_finish(c);
}

/* ----------------------------------------------------------------- list */

void rn_op_list_tables(rn_call *c, cJSON *req)
{
	rn_table *tables[RN_LIST_TABLES_MAX];
	const char *start = NULL;
	long long limit = RN_LIST_TABLES_MAX;
	size_t n;
	int more = 0;

	if (rn_req_str(c, req, "ExclusiveStartTableName",
	    "exclusiveStartTableName", 0, &start) != 0 ||
	    rn_req_int(c, req, "Limit", "limit", 1, RN_LIST_TABLES_MAX,
	    &limit) != 0)
		goto out;
	if (start != NULL && rn_check_table_name(c, start,
	    "exclusiveStartTableName") != 0)
		goto out;
	n = rn_catalog_list(&c->node->catalog, start, tables, (size_t)limit,
	    &more);
	gt_buf_puts(&c->resp, "{\"TableNames\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			gt_buf_putc(&c->resp, ',');
		gt_buf_json_str(&c->resp, tables[i]->name,
		    strlen(tables[i]->name));
	}
	gt_buf_putc(&c->resp, ']');
	if (more && n > 0) {
		gt_buf_puts(&c->resp, ",\"LastEvaluatedTableName\":");
		gt_buf_json_str(&c->resp, tables[n - 1]->name,
		    strlen(tables[n - 1]->name));
	}
	gt_buf_putc(&c->resp, '}');
	for (size_t i = 0; i < n; i++)
		rn_table_unref(tables[i]);
out:
	rn_call_finish(c);
}

/* ---------------------------------------------------------- misc reads */

void rn_op_describe_limits(rn_call *c, cJSON *req)
{
	(void)req;
	gt_buf_puts(&c->resp, "{\"AccountMaxReadCapacityUnits\":80000,"
	    "\"AccountMaxWriteCapacityUnits\":80000,"
	    "\"TableMaxReadCapacityUnits\":40000,"
	    "\"TableMaxWriteCapacityUnits\":40000}");
	rn_call_finish(c);
}

void rn_op_describe_endpoints(rn_call *c, cJSON *req)
{
	(void)req;
	gt_buf_printf(&c->resp, "{\"Endpoints\":[{\"Address\":"
	    "\"dynamodb.%s.amazonaws.com\",\"CachePeriodInMinutes\":1440}]}",
	    c->node->region);
	rn_call_finish(c);
}
