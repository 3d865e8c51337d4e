/*
 * api.c — dispatch of DynamoDB operations, error answers, request field
 * helpers, and the node's lifetime.
 */
#include "api_int.h"
#include "api_write.h" /* the transaction handlers */
#include "stream.h"      /* the Streams handlers */
#include "ttl.h"       /* the Time to Live handlers */

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	void (*fn)(rn_call *c, cJSON *req);
} rn_ops[RN_OP_COUNT_] = {
	[RN_OP_CREATE_TABLE] = {"CreateTable", rn_op_create_table},
	[RN_OP_DESCRIBE_TABLE] = {"DescribeTable", rn_op_describe_table},
	[RN_OP_LIST_TABLES] = {"ListTables", rn_op_list_tables},
	[RN_OP_DELETE_TABLE] = {"DeleteTable", rn_op_delete_table},
	[RN_OP_UPDATE_TABLE] = {"UpdateTable", rn_op_update_table},
	[RN_OP_PUT_ITEM] = {"PutItem", rn_op_put_item},
	[RN_OP_GET_ITEM] = {"GetItem", rn_op_get_item},
	[RN_OP_DELETE_ITEM] = {"DeleteItem", rn_op_delete_item},
	[RN_OP_UPDATE_ITEM] = {"UpdateItem", rn_op_update_item},
	[RN_OP_QUERY] = {"Query", rn_op_query},
	[RN_OP_SCAN] = {"Scan", rn_op_scan},
	[RN_OP_BATCH_GET_ITEM] = {"BatchGetItem", rn_op_batch_get_item},
	[RN_OP_BATCH_WRITE_ITEM] = {"BatchWriteItem", rn_op_batch_write_item},
	[RN_OP_DESCRIBE_LIMITS] = {"DescribeLimits", rn_op_describe_limits},
	[RN_OP_DESCRIBE_ENDPOINTS] = {"DescribeEndpoints",
	    rn_op_describe_endpoints},
	[RN_OP_TRANSACT_WRITE_ITEMS] = {"TransactWriteItems",
	    rn_op_transact_write_items},
	[RN_OP_TRANSACT_GET_ITEMS] = {"TransactGetItems",
	    rn_op_transact_get_items},
	[RN_OP_LIST_STREAMS] = {"ListStreams", rn_op_list_streams},
	[RN_OP_DESCRIBE_STREAM] = {"DescribeStream", rn_op_describe_stream},
	[RN_OP_GET_SHARD_ITERATOR] = {"GetShardIterator",
	    rn_op_get_shard_iterator},
	[RN_OP_GET_RECORDS] = {"GetRecords", rn_op_get_records},
	[RN_OP_UPDATE_TIME_TO_LIVE] = {"UpdateTimeToLive",
	    rn_op_update_time_to_live},
	[RN_OP_DESCRIBE_TIME_TO_LIVE] = {"DescribeTimeToLive",
	    rn_op_describe_time_to_live},
};

/* Streams operations answer only under the Streams target prefix, and
 * DynamoDB's only under DynamoDB's. */
static int op_is_stream(rn_op op)
{
	return op == RN_OP_LIST_STREAMS || op == RN_OP_DESCRIBE_STREAM ||
	    op == RN_OP_GET_SHARD_ITERATOR || op == RN_OP_GET_RECORDS;
}

const char *rn_op_name(rn_op op)
{
	if (op <= RN_OP_UNKNOWN || op >= RN_OP_COUNT_)
		return "Unknown";
	return rn_ops[op].name;
}

rn_op rn_op_lookup(const char *name, size_t len)
{
	for (int i = 1; i < RN_OP_COUNT_; i++) {
		const char *n = rn_ops[i].name;
		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return (rn_op)i;
	}
	return RN_OP_UNKNOWN;
}

/* -------------------------------------------------------------- answers */

void rn_call_error(rn_call *c, int status, const char *type, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->status = status;
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"__type\":");
	gt_buf_json_str(&c->resp, type, strlen(type));
	/* DynamoDB spells the member "message" for most errors and "Message"
	 * for a few; every SDK accepts either. */
	gt_buf_puts(&c->resp, ",\"message\":");
	gt_buf_json_str(&c->resp, msg, strlen(msg));
	gt_buf_putc(&c->resp, '}');
}

void rn_call_fail_err(rn_call *c, gt_err err, const char *msg)
{
	switch (err) {
	case GT_EINVAL:
	case GT_ELIMIT:
	case GT_EOVERFLOW:
		rn_call_error(c, 400, RN_E_VALIDATION, "%s", msg);
		break;
	case GT_ECORRUPT:
		rn_call_error(c, 400, RN_E_SERIALIZATION, "%s", msg);
		break;
	case GT_ENOMEM:
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(out of memory)");
		break;
	default:
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(err));
	}
}

void rn_buf_json(gt_buf *out, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (s == NULL) {
		out->oom = 1;
		return;
	}
	gt_buf_puts(out, s);
	free(s);
}

void rn_call_finish(rn_call *c)
{
	rn_op_stats *st = &c->node->ops[c->op];
	uint64_t us = (gt_mono_ns() - c->start_ns) / 1000u;

	if (!gt_buf_ok(&c->resp)) {
		gt_buf_free(&c->resp);
		c->resp.oom = 0;
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(out of memory)");
	}
	atomic_fetch_add(&st->requests, 1);
	atomic_fetch_add(&st->latency_us_sum, us);
	if (c->status >= 500)
		atomic_fetch_add(&st->faults, 1);
	else if (c->status >= 400)
		atomic_fetch_add(&st->errors, 1);
	c->done(c);
}

void rn_call_cleanup(rn_call *c)
{
	if (c->state_free && c->state)
		c->state_free(c->state);
	c->state = NULL;
	c->state_free = NULL;
	gt_buf_free(&c->resp);
}

static void call_write_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;

	if (commit_err != GT_OK) {
		if (commit_err == GT_ELIMIT)
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error (storage full; raise map_size_mb)");
		else
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error (%s)", gt_strerror(commit_err));
	}
	rn_call_finish(c);
}

void rn_call_submit(rn_call *c, rn_write_fn fn, rn_write_done_fn done,
    void *state, void (*state_free)(void *))
{
	gt_err err;

	c->state = state;
	c->state_free = state_free;
	memset(&c->write, 0, sizeof(c->write));
	c->write.fn = fn;
	c->write.done = done != NULL ? done : call_write_done;
	c->write.arg = c;
	err = rn_store_submit(c->node->store, &c->write);
	if (err != GT_OK) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(the node is shutting down)");
		rn_call_finish(c);
	}
}

/* ------------------------------------------------------------- dispatch */

void rn_api_dispatch(rn_call *c, const char *target)
{
	static const char prefix[] = "DynamoDB_20120810.";
	static const char sprefix[] = "DynamoDBStreams_20120810.";
	cJSON *req;
	rn_op op = RN_OP_UNKNOWN;

	c->start_ns = gt_mono_ns();
	c->status = 200;
	if (target != NULL &&
	    strncmp(target, prefix, sizeof(prefix) - 1) == 0) {
		const char *name = target + sizeof(prefix) - 1;
		op = rn_op_lookup(name, strlen(name));
		if (op_is_stream(op))
			op = RN_OP_UNKNOWN;
	} else if (target != NULL &&
	    strncmp(target, sprefix, sizeof(sprefix) - 1) == 0) {
		const char *name = target + sizeof(sprefix) - 1;
		op = rn_op_lookup(name, strlen(name));
		if (!op_is_stream(op))
			op = RN_OP_UNKNOWN;
	}
	c->op = op;
	if (op == RN_OP_UNKNOWN) {
		rn_call_error(c, 400, RN_E_UNKNOWN_OP, "%s", "");
		rn_call_finish(c);
		return;
	}
	{
		uint32_t ppm = atomic_load(&c->node->fail_ppm);
		uint32_t roll = 0;
		if (ppm > 0) {
			/* An injected fault (drills): answered like a node in
			 * trouble, before any work. */
			RAND_bytes((unsigned char *)&roll, sizeof(roll));
			if (roll % 1000000u < ppm) {
				rn_call_error(c, 500, RN_E_INTERNAL, "Internal "
				    "server error (injected fault)");
				rn_call_finish(c);
				return;
			}
		}
	}
	req = rn_req_parse(c);
	if (req == NULL) {
		rn_call_finish(c);
		return;
	}
	/* A handler either completes the call itself or hands it to the
	 * writer; it never keeps req. */
	rn_ops[op].fn(c, req);
	cJSON_Delete(req);
}

/* ------------------------------------------------------- request fields */

cJSON *rn_req_parse(rn_call *c)
{
	const char *end = NULL;
	cJSON *req;

	if (c->body_len == 0) {
		rn_call_error(c, 400, RN_E_SERIALIZATION, "Start of structure "
		    "or map found where not expected.");
		return NULL;
	}
	req = cJSON_ParseWithLengthOpts(c->body, c->body_len, &end, 0);
	/* Nothing but white space may follow the JSON value. */
	while (req != NULL && end < c->body + c->body_len) {
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n'
		    && *end != '\0') {
			cJSON_Delete(req);
			req = NULL;
			break;
		}
		end++;
	}
	if (req == NULL || !cJSON_IsObject(req)) {
		cJSON_Delete(req);
		rn_call_error(c, 400, RN_E_SERIALIZATION, "%s",
		    req == NULL ? "Unexpected character or malformed JSON in "
		    "request body" : "Start of structure or map found where "
		    "not expected.");
		return NULL;
	}
	return req;
}

static int req_missing(rn_call *c, const char *member)
{
	rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation error "
	    "detected: Value null at '%s' failed to satisfy constraint: "
	    "Member must not be null", member);
	return -1;
}

static int req_badtype(rn_call *c, const char *field, const char *want)
{
	rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected value type for "
	    "%s: expected %s", field, want);
	return -1;
}

static const cJSON *req_field(const cJSON *req, const char *field)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, field);
	/* JSON null is the same as absent, as in the AWS protocols. */
	return cJSON_IsNull(f) ? NULL : f;
}

int rn_req_str(rn_call *c, const cJSON *req, const char *field,
    const char *member, int required, const char **out)
{
	const cJSON *f = req_field(req, field);
	if (f == NULL)
		return required ? req_missing(c, member) : 0;
	if (!cJSON_IsString(f))
		return req_badtype(c, field, "a string");
	*out = f->valuestring;
	return 0;
}

int rn_req_obj(rn_call *c, const cJSON *req, const char *field,
    const char *member, int required, cJSON **out)
{
	const cJSON *f = req_field(req, field);
	if (f == NULL)
		return required ? req_missing(c, member) : 0;
	if (!cJSON_IsObject(f))
		return req_badtype(c, field, "an object");
	*out = (cJSON *)(uintptr_t)f;
	return 0;
}

int rn_req_arr(rn_call *c, const cJSON *req, const char *field,
    const char *member, int required, cJSON **out)
{
	const cJSON *f = req_field(req, field);
	if (f == NULL)
		return required ? req_missing(c, member) : 0;
	if (!cJSON_IsArray(f))
		return req_badtype(c, field, "a list");
	*out = (cJSON *)(uintptr_t)f;
	return 0;
}

int rn_req_bool(rn_call *c, const cJSON *req, const char *field, int *out)
{
	const cJSON *f = req_field(req, field);
	if (f == NULL)
		return 0;
	if (!cJSON_IsBool(f))
		return req_badtype(c, field, "a boolean");
	*out = cJSON_IsTrue(f);
	return 0;
}

int rn_req_int(rn_call *c, const cJSON *req, const char *field,
    const char *member, long long min, long long max, long long *out)
{
	const cJSON *f = req_field(req, field);
	double d;

	if (f == NULL)
		return 0;
	if (!cJSON_IsNumber(f))
		return req_badtype(c, field, "a number");
	d = f->valuedouble;
	if (d != (double)(long long)d)
		return req_badtype(c, field, "an integer");
	if (d < (double)min) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%lld' at '%s' failed to satisfy "
		    "constraint: Member must have value greater than or equal "
		    "to %lld", (long long)d, member, min);
		return -1;
	}
	if (d > (double)max) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%lld' at '%s' failed to satisfy "
		    "constraint: Member must have value less than or equal "
		    "to %lld", (long long)d, member, max);
		return -1;
	}
	*out = (long long)d;
	return 0;
}

int rn_check_table_name(rn_call *c, const char *name, const char *member)
{
	size_t len = strlen(name);

	if (len < 3) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at '%s' failed to satisfy "
		    "constraint: Member must have length greater than or "
		    "equal to 3", name, member);
		return -1;
	}
	if (len > RN_TABLE_NAME_MAX) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%.*s...' at '%s' failed to "
		    "satisfy constraint: Member must have length less than or "
		    "equal to 255", 32, name, member);
		return -1;
	}
	if (!rn_table_name_valid(name, len)) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at '%s' failed to satisfy "
		    "constraint: Member must satisfy regular expression "
		    "pattern: [a-zA-Z0-9_.-]+", name, member);
		return -1;
	}
	return 0;
}

int rn_req_table(rn_call *c, const cJSON *req, rn_table **out)
{
	const char *name = NULL;
	rn_table *t;

	if (rn_req_str(c, req, "TableName", "tableName", 1, &name) != 0)
		return -1;
	if (rn_check_table_name(c, name, "tableName") != 0)
		return -1;
	t = rn_catalog_get(&c->node->catalog, name);
	if (t == NULL) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found");
		return -1;
	}
	*out = t;
	return 0;
}

/* ---------------------------------------------------------------- stats */

gt_err rn_stats_read(MDB_txn *txn, const rn_dbs *dbs, uint32_t table_id,
    uint64_t *count, uint64_t *bytes)
{
	uint8_t kb[4];
	MDB_val k = {4, kb}, v;
	int rc;

	gt_put_u32be(kb, table_id);
	rc = mdb_get(txn, dbs->stats, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*count = *bytes = 0;
		return GT_OK;
	}
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (v.mv_size != 16)
		return GT_ECORRUPT;
	*count = gt_get_u64be(v.mv_data);
	*bytes = gt_get_u64be((const uint8_t *)v.mv_data + 8);
	return GT_OK;
}

gt_err rn_stats_add(MDB_txn *txn, const rn_dbs *dbs, uint32_t table_id,
    int64_t dcount, int64_t dbytes)
{
	uint64_t count, bytes;
	uint8_t kb[4], vb[16];
	MDB_val k = {4, kb}, v = {16, vb};
	gt_err err;
	int rc;

	if (dcount == 0 && dbytes == 0)
		return GT_OK;
	err = rn_stats_read(txn, dbs, table_id, &count, &bytes);
	if (err != GT_OK)
		return err;
	count = (int64_t)count + dcount < 0 ? 0 : (uint64_t)((int64_t)count +
	    dcount);
	bytes = (int64_t)bytes + dbytes < 0 ? 0 : (uint64_t)((int64_t)bytes +
	    dbytes);
	gt_put_u32be(kb, table_id);
	gt_put_u64be(vb, count);
	gt_put_u64be(vb + 8, bytes);
	rc = mdb_put(txn, dbs->stats, &k, &v, 0);
	return rn_mdb_err(rc);
}

/* ------------------------------------------------------------------ node */

/* A restarted node's clock starts past every stamp it ever issued, even if
 * the wall clock stepped back while it was down. */
static void node_clock_seed(rn_node *n, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	rn_logrec r;

	if (mdb_cursor_open(txn, rn_store_dbs(n->store)->log, &cur) !=
	    MDB_SUCCESS)
		return;
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == MDB_SUCCESS &&
	    rn_logrec_decode(v.mv_data, v.mv_size, &r) == GT_OK)
		cf_clock_recv(&n->clock, r.hlc, gt_wall_ms());
	mdb_cursor_close(cur);
}

gt_err rn_node_open(rn_node *n, const char *region,
    const rn_store_opts *store_opts)
{
	MDB_txn *txn = NULL;
	gt_err err;

	memset(n, 0, sizeof(*n));
	if (!cf_region_name_valid(region))
		return GT_EINVAL;
	pthread_mutex_init(&n->topo_mu, NULL);
	pthread_mutex_init(&n->pause_mu, NULL);
	snprintf(n->region, sizeof(n->region), "%s", region);
	snprintf(n->account, sizeof(n->account), "000000000000");
	rn_catalog_init(&n->catalog);
	err = rn_store_open(store_opts, &n->store);
	if (err != GT_OK)
		goto fail;
	err = rn_store_read_begin(n->store, &txn);
	if (err != GT_OK)
		goto fail;
	err = rn_catalog_load(&n->catalog, txn, rn_store_dbs(n->store)->tables);
	if (err == GT_OK)
		node_clock_seed(n, txn);
	rn_store_read_end(txn);
	if (err != GT_OK) {
		GT_LOG(GT_LOG_ERROR, "node", "event=catalog_load_failed "
		    "err=\"%s\"", gt_strerror(err));
		goto fail;
	}
	err = rn_stream_init(n);
	if (err != GT_OK) {
		GT_LOG(GT_LOG_ERROR, "node", "event=streams_init_failed "
		    "err=\"%s\"", gt_strerror(err));
		goto fail;
	}
	GT_LOG(GT_LOG_INFO, "node", "event=open region=%s tables=%zu",
	    n->region, n->catalog.n);
	return GT_OK;
fail:
	rn_store_close(n->store);
	n->store = NULL;
	rn_catalog_destroy(&n->catalog);
	pthread_mutex_destroy(&n->topo_mu);
	pthread_mutex_destroy(&n->pause_mu);
	return err;
}

void rn_node_close(rn_node *n)
{
	rn_store_close(n->store);
	n->store = NULL;
	rn_catalog_destroy(&n->catalog);
	pthread_mutex_destroy(&n->topo_mu);
	pthread_mutex_destroy(&n->pause_mu);
}

int rn_node_paused(rn_node *n, const char *table, size_t table_len,
    const char *origin, uint64_t now_ms)
{
	int hit = 0;

	pthread_mutex_lock(&n->pause_mu);
	for (size_t i = 0; i < n->npauses && !hit; i++) {
		const struct rn_pause *p = &n->pauses[i];
		hit = p->until_ms > now_ms && strlen(p->table) == table_len &&
		    memcmp(p->table, table, table_len) == 0 &&
		    (p->from[0] == '\0' || strcmp(p->from, origin) == 0);
	}
	pthread_mutex_unlock(&n->pause_mu);
	return hit;
}

gt_err rn_node_pause(rn_node *n, const char *table, const char *from,
    uint64_t duration_ms)
{
	uint64_t now = gt_wall_ms();
	size_t k = 0;
	gt_err err = GT_OK;

	pthread_mutex_lock(&n->pause_mu);
	/* Expired pauses make room. */
	for (size_t i = 0; i < n->npauses; i++)
		if (n->pauses[i].until_ms > now)
			n->pauses[k++] = n->pauses[i];
	n->npauses = k;
	if (n->npauses == GT_ARRAY_LEN(n->pauses)) {
		err = GT_ELIMIT;
	} else {
		struct rn_pause *p = &n->pauses[n->npauses++];
		snprintf(p->table, sizeof(p->table), "%s", table);
		snprintf(p->from, sizeof(p->from), "%s", from ? from : "");
		p->until_ms = now + duration_ms;
	}
	pthread_mutex_unlock(&n->pause_mu);
	return err;
}

int rn_node_any_pause(rn_node *n, uint64_t now_ms)
{
	int any = 0;

	pthread_mutex_lock(&n->pause_mu);
	for (size_t i = 0; i < n->npauses && !any; i++)
		any = n->pauses[i].until_ms > now_ms;
	pthread_mutex_unlock(&n->pause_mu);
	return any;
}
