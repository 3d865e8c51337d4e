/*
 * http.c — NNG HTTP server glue.  Each POST becomes an rn_call; the aio is
 * finished from whichever thread completes the call (the handler's own for
 * reads, the store's writer for writes), so a handler thread never waits
 * for a commit.
 */
#include "http.h"

#include "api_int.h"
#include "backfill.h"
#include "cluster.h"
#include "httpc.h"
#include "index.h"
#include "items.h"
#include "replica.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NNG keeps ports in network byte order. */
static uint16_t ntohs_port(uint16_t p)
{
	const uint8_t *b = (const uint8_t *)&p;
	return (uint16_t)((b[0] << 8) | b[1]);
}

struct rn_http {
	rn_node *node;
	rn_http_ext ext;
	nng_http_server *server;
	nng_url *url;
	uint16_t port;
	_Atomic uint64_t request_seq;
};

typedef struct http_call {
	rn_call call;
	nng_aio *aio;
	rn_http *http;
} http_call;

static void http_reply(nng_aio *aio, uint16_t status, const char *ctype,
    const char *body, size_t len, const char *request_id)
{
	nng_http_res *res = NULL;
	int rv;

	rv = nng_http_res_alloc(&res);
	if (rv == 0)
		rv = nng_http_res_set_status(res, status);
	if (rv == 0)
		rv = nng_http_res_set_header(res, "Content-Type", ctype);
	if (rv == 0 && request_id != NULL)
		rv = nng_http_res_set_header(res, "x-amzn-RequestId",
		    request_id);
	if (rv == 0)
		rv = nng_http_res_copy_data(res, body, len);
	if (rv != 0) {
		if (res != NULL)
			nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Answers with the JSON in b (freed), or fails the aio when building it
 * ran out of memory. */
static void http_reply_buf(nng_aio *aio, uint16_t status, const char *ctype,
    gt_buf *b)
{
	if (!gt_buf_ok(b)) {
		gt_buf_free(b);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	http_reply(aio, status, ctype, b->data ? b->data : "", b->len, NULL);
	gt_buf_free(b);
}

static void http_call_done(rn_call *c)
{
	http_call *hc = (http_call *)c;
	char rid[40];
	uint64_t seq = atomic_fetch_add(&hc->http->request_seq, 1);

	snprintf(rid, sizeof(rid), "%016llX%08X", (unsigned long long)seq,
	    (unsigned)(c->start_ns & 0xffffffffu));
	http_reply(hc->aio, (uint16_t)c->status, "application/x-amz-json-1.0",
	    c->resp.data ? c->resp.data : "", c->resp.len, rid);
	rn_call_cleanup(c);
	free(hc);
}

static void http_api_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(h);
	http_call *hc;
	void *body;
	size_t len;

	hc = calloc(1, sizeof(*hc));
	if (hc == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	hc->aio = aio;
	hc->http = http;
	hc->call.node = http->node;
	hc->call.done = http_call_done;
	nng_http_req_get_data(req, &body, &len);
	hc->call.body = body;
	hc->call.body_len = len;
	rn_api_dispatch(&hc->call, nng_http_req_get_header(req,
	    "X-Amz-Target"));
}

static void http_health_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(h);
	char body[256];
	int n;

	n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"region\":\"%s\","
	    "\"last_seq\":%llu}\n", http->node->region,
	    (unsigned long long)rn_store_seq_committed(http->node->store));
	http_reply(aio, 200, "application/json", body, (size_t)n, NULL);
}

static void http_metrics_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(h);
	rn_node *n = http->node;
	rn_store_stats ss;
	gt_buf b = GT_BUF_INIT;

	rn_store_stats_get(n->store, &ss);
	gt_buf_puts(&b, "# HELP meridian_requests_total DynamoDB API requests "
	    "by operation.\n# TYPE meridian_requests_total counter\n");
	for (int i = 1; i < RN_OP_COUNT_; i++)
		gt_buf_printf(&b, "meridian_requests_total{region=\"%s\","
		    "operation=\"%s\"} %llu\n", n->region, rn_op_name((rn_op)i),
		    (unsigned long long)atomic_load(&n->ops[i].requests));
	gt_buf_puts(&b, "# HELP meridian_request_errors_total Requests "
	    "answered with an error, by operation and class.\n"
	    "# TYPE meridian_request_errors_total counter\n");
	for (int i = 0; i < RN_OP_COUNT_; i++) {
		gt_buf_printf(&b, "meridian_request_errors_total{region=\"%s\","
		    "operation=\"%s\",class=\"client\"} %llu\n", n->region,
		    rn_op_name((rn_op)i),
		    (unsigned long long)atomic_load(&n->ops[i].errors));
		gt_buf_printf(&b, "meridian_request_errors_total{region=\"%s\","
		    "operation=\"%s\",class=\"server\"} %llu\n", n->region,
		    rn_op_name((rn_op)i),
		    (unsigned long long)atomic_load(&n->ops[i].faults));
	}
	gt_buf_puts(&b, "# HELP meridian_request_seconds_sum Time spent "
	    "answering requests, by operation.\n"
	    "# TYPE meridian_request_seconds_sum counter\n");
	for (int i = 1; i < RN_OP_COUNT_; i++)
		gt_buf_printf(&b, "meridian_request_seconds_sum{region=\"%s\","
		    "operation=\"%s\"} %.6f\n", n->region, rn_op_name((rn_op)i),
		    (double)atomic_load(&n->ops[i].latency_us_sum) / 1e6);
	gt_buf_printf(&b, "# HELP meridian_commits_total Group commits.\n"
	    "# TYPE meridian_commits_total counter\n"
	    "meridian_commits_total{region=\"%s\"} %llu\n"
	    "# HELP meridian_committed_writes_total Writes committed.\n"
	    "# TYPE meridian_committed_writes_total counter\n"
	    "meridian_committed_writes_total{region=\"%s\"} %llu\n"
	    "# HELP meridian_commit_aborts_total Groups aborted by a storage "
	    "error.\n# TYPE meridian_commit_aborts_total counter\n"
	    "meridian_commit_aborts_total{region=\"%s\"} %llu\n"
	    "# HELP meridian_log_last_seq Last sequence number in the change "
	    "log.\n# TYPE meridian_log_last_seq gauge\n"
	    "meridian_log_last_seq{region=\"%s\"} %llu\n",
	    n->region, (unsigned long long)ss.commits, n->region,
	    (unsigned long long)ss.writes, n->region,
	    (unsigned long long)ss.aborts, n->region,
	    (unsigned long long)ss.last_seq);
	{
		MDB_txn *txn = NULL;
		uint64_t conflicts = 0;
		MDB_stat st;
		memset(&st, 0, sizeof(st));
		if (rn_store_read_begin(n->store, &txn) == GT_OK) {
			(void)rn_ledger_count(txn, rn_store_dbs(n->store),
			    &conflicts);
			(void)mdb_stat(txn, rn_store_dbs(n->store)->log, &st);
			rn_store_read_end(txn);
		}
		gt_buf_printf(&b, "# HELP meridian_conflicts_total Concurrent "
		    "writes that lost under last-writer-wins (ledger "
		    "entries).\n# TYPE meridian_conflicts_total counter\n"
		    "meridian_conflicts_total{region=\"%s\"} %llu\n"
		    "# HELP meridian_log_records Change records kept in the "
		    "log.\n# TYPE meridian_log_records gauge\n"
		    "meridian_log_records{region=\"%s\"} %llu\n"
		    "# HELP meridian_log_bytes Size of the log's pages.\n"
		    "# TYPE meridian_log_bytes gauge\n"
		    "meridian_log_bytes{region=\"%s\"} %llu\n",
		    n->region, (unsigned long long)conflicts, n->region,
		    (unsigned long long)st.ms_entries, n->region,
		    (unsigned long long)((st.ms_branch_pages + st.ms_leaf_pages +
		    st.ms_overflow_pages) * st.ms_psize));
	}
	gt_buf_printf(&b, "# HELP meridian_ttl_deleted_total Expired items "
	    "this region's TTL sweeper deleted.\n# TYPE meridian_ttl_deleted_"
	    "total counter\nmeridian_ttl_deleted_total{region=\"%s\"} %llu\n"
	    "# HELP meridian_ttl_pending Expired items not yet deleted at the "
	    "last sweep.\n# TYPE meridian_ttl_pending gauge\n"
	    "meridian_ttl_pending{region=\"%s\"} %llu\n", n->region,
	    (unsigned long long)atomic_load(&n->ttl_deleted), n->region,
	    (unsigned long long)atomic_load(&n->ttl_pending));
	if (http->ext.metrics != NULL)
		http->ext.metrics(http->ext.arg, &b);
	http_reply_buf(aio, 200, "text/plain; version=0.0.4", &b);
}

static void http_admin_replication_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	gt_buf b = GT_BUF_INIT;

	if (http->ext.replication_json != NULL)
		http->ext.replication_json(http->ext.arg, &b);
	else
		gt_buf_printf(&b, "{\"region\":\"%s\",\"peers\":[]}",
		    http->node->region);
	gt_buf_putc(&b, '\n');
	http_reply_buf(aio, 200, "application/json", &b);
}

static void http_admin_error(nng_aio *aio, uint16_t status, const char *msg)
{
	gt_buf b = GT_BUF_INIT;
	gt_buf_puts(&b, "{\"error\":");
	gt_buf_json_str(&b, msg, strlen(msg));
	gt_buf_puts(&b, "}\n");
	http_reply(aio, status, "application/json", b.data ? b.data : "",
	    b.len, NULL);
	gt_buf_free(&b);
}

/* Parses an admin request body: a JSON object (empty body: {}). */
static cJSON *http_admin_body(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	void *body;
	size_t len;
	cJSON *o;

	nng_http_req_get_data(req, &body, &len);
	o = len ? cJSON_ParseWithLength(body, len) : cJSON_CreateObject();
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void http_admin_conflicts_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	rn_node *n = http->node;
	cJSON *req = http_admin_body(aio);
	const cJSON *tn, *after, *limit;
	rn_table *t = NULL;
	MDB_txn *txn = NULL;
	gt_buf b = GT_BUF_INIT;
	size_t max = 1000;

	if (req == NULL) {
		http_admin_error(aio, 400, "the body must be a JSON object");
		return;
	}
	tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	after = cJSON_GetObjectItemCaseSensitive(req, "After");
	limit = cJSON_GetObjectItemCaseSensitive(req, "Limit");
	if (cJSON_IsNumber(limit) && limit->valuedouble >= 1 &&
	    limit->valuedouble <= 100000)
		max = (size_t)limit->valuedouble;
	if (tn != NULL) {
		t = cJSON_IsString(tn) ? rn_catalog_get(&n->catalog,
		    tn->valuestring) : NULL;
		if (t == NULL) {
			cJSON_Delete(req);
			http_admin_error(aio, 404, "no such table");
			return;
		}
	}
	if (rn_store_read_begin(n->store, &txn) != GT_OK) {
		rn_table_unref(t);
		cJSON_Delete(req);
		http_admin_error(aio, 500, "cannot read the store");
		return;
	}
	gt_buf_puts(&b, "{\"Conflicts\":");
	(void)rn_ledger_json(txn, rn_store_dbs(n->store), t,
	    cJSON_IsNumber(after) && after->valuedouble > 0 ?
	    (uint64_t)after->valuedouble : 0, max, &b);
	gt_buf_puts(&b, "}\n");
	rn_store_read_end(txn);
	rn_table_unref(t);
	cJSON_Delete(req);
	http_reply_buf(aio, 200, "application/json", &b);
}

/* POST /admin/index-check {"TableName"}: rebuilds every index of the
 * table from its items and compares with what is stored. */
static void http_admin_index_check_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	rn_node *n = http->node;
	cJSON *req = http_admin_body(aio);
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	uint64_t entries = 0, missing = 0, extra = 0;
	gt_buf b = GT_BUF_INIT;
	MDB_txn *txn = NULL;
	rn_table *t;
	gt_err err;

	t = cJSON_IsString(tn) ? rn_catalog_get(&n->catalog, tn->valuestring)
	    : NULL;
	cJSON_Delete(req);
	if (t == NULL) {
		http_admin_error(aio, 404, "no such table");
		return;
	}
	err = rn_store_read_begin(n->store, &txn);
	if (err == GT_OK) {
		err = rn_index_check(txn, rn_store_dbs(n->store), t, &entries,
		    &missing, &extra);
		rn_store_read_end(txn);
	}
	if (err != GT_OK) {
		rn_table_unref(t);
		http_admin_error(aio, 500, gt_strerror(err));
		return;
	}
	gt_buf_printf(&b, "{\"Indexes\":%zu,\"Backfilling\":%d,"
	    "\"Entries\":%llu,\"Missing\":%llu,\"Extra\":%llu}\n",
	    t->nindexes, rn_table_backfilling(t), (unsigned long long)entries,
	    (unsigned long long)missing, (unsigned long long)extra);
	rn_table_unref(t);
	http_reply_buf(aio, 200, "application/json", &b);
}

static void http_admin_item_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	rn_node *n = http->node;
	cJSON *req = http_admin_body(aio), *key;
	const cJSON *tn;
	rn_table *t = NULL;
	MDB_txn *txn = NULL;
	gt_buf k = GT_BUF_INIT, b = GT_BUF_INIT;
	rn_item_cur cur;
	char msg[RN_MSG_MAX];
	const char *fail = NULL;
	uint16_t status = 400;

	tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	key = cJSON_GetObjectItemCaseSensitive(req, "Key");
	if (req == NULL || !cJSON_IsString(tn) || !cJSON_IsObject(key)) {
		fail = "expected {\"TableName\": ..., \"Key\": {...}}";
		goto out;
	}
	t = rn_catalog_get(&n->catalog, tn->valuestring);
	if (t == NULL) {
		fail = "no such table";
		status = 404;
		goto out;
	}
	if (rn_item_validate(key, msg) != GT_OK ||
	    rn_table_key_encode(t, key, 1, &k, msg) != GT_OK) {
		fail = msg;
		goto out;
	}
	if (rn_store_read_begin(n->store, &txn) != GT_OK ||
	    rn_item_read(txn, rn_store_dbs(n->store), k.data, k.len, &cur) !=
	    GT_OK) {
		fail = "cannot read the store";
		status = 500;
		goto out;
	}
	gt_buf_puts(&b, "{\"Found\":");
	gt_buf_puts(&b, cur.found ? "true" : "false");
	if (cur.found) {
		gt_buf_printf(&b, ",\"Tombstone\":%s,\"Stamp\":{\"hlc\":%llu,"
		    "\"wall_ms\":%llu,\"logical\":%u,\"origin\":",
		    cur.live ? "false" : "true",
		    (unsigned long long)cur.ver.stamp.hlc,
		    (unsigned long long)cf_hlc_wall_ms(cur.ver.stamp.hlc),
		    (unsigned)cf_hlc_logical(cur.ver.stamp.hlc));
		gt_buf_json_str(&b, cur.ver.stamp.origin,
		    strlen(cur.ver.stamp.origin));
		gt_buf_puts(&b, "},\"VersionVector\":{");
		for (uint32_t i = 0; i < cur.ver.vv.n; i++) {
			if (i)
				gt_buf_putc(&b, ',');
			gt_buf_json_str(&b, cur.ver.vv.e[i].region,
			    strlen(cur.ver.vv.e[i].region));
			gt_buf_printf(&b, ":%llu",
			    (unsigned long long)cur.ver.vv.e[i].seq);
		}
		gt_buf_putc(&b, '}');
		if (cur.live) {
			gt_buf_puts(&b, ",\"Item\":");
			gt_buf_append(&b, cur.body, cur.body_len);
		}
	}
	gt_buf_puts(&b, "}\n");
out:
	rn_store_read_end(txn);
	if (fail != NULL)
		http_admin_error(aio, status, fail);
	else if (!gt_buf_ok(&b))
		nng_aio_finish(aio, NNG_ENOMEM);
	else
		http_reply(aio, 200, "application/json", b.data, b.len, NULL);
	gt_buf_free(&b);
	gt_buf_free(&k);
	rn_table_unref(t);
	cJSON_Delete(req);
}

static void http_admin_digest_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	rn_node *n = http->node;
	cJSON *req = http_admin_body(aio);
	const cJSON *tn, *nr, *lr;
	rn_table *t = NULL;
	MDB_txn *txn = NULL;
	gt_buf b = GT_BUF_INIT;
	unsigned nranges = 16;
	int list = -1;
	gt_err err;

	tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	nr = cJSON_GetObjectItemCaseSensitive(req, "Ranges");
	lr = cJSON_GetObjectItemCaseSensitive(req, "ListRange");
	if (req == NULL || !cJSON_IsString(tn)) {
		cJSON_Delete(req);
		http_admin_error(aio, 400, "expected {\"TableName\": ..., "
		    "\"Ranges\"?: n, \"ListRange\"?: i}");
		return;
	}
	if (cJSON_IsNumber(nr))
		nranges = nr->valuedouble >= 1 && nr->valuedouble <= 4096 ?
		    (unsigned)nr->valuedouble : 0;
	if (cJSON_IsNumber(lr) && lr->valuedouble >= 0 &&
	    lr->valuedouble < 4096)
		list = (int)lr->valuedouble;
	t = rn_catalog_get(&n->catalog, tn->valuestring);
	cJSON_Delete(req);
	if (t == NULL) {
		http_admin_error(aio, 404, "no such table");
		return;
	}
	if (nranges == 0) {
		rn_table_unref(t);
		http_admin_error(aio, 400, "Ranges must be from 1 to 4096");
		return;
	}
	err = rn_store_read_begin(n->store, &txn);
	if (err == GT_OK)
		err = rn_table_digest_json(txn, rn_store_dbs(n->store), t,
		    nranges, list, &b);
	rn_store_read_end(txn);
	rn_table_unref(t);
	if (err != GT_OK) {
		gt_buf_free(&b);
		http_admin_error(aio, 500, gt_strerror(err));
		return;
	}
	gt_buf_putc(&b, '\n');
	http_reply(aio, 200, "application/json", b.data, b.len, NULL);
	gt_buf_free(&b);
}

static void http_reply_members(nng_aio *aio, const topo_members *m)
{
	gt_buf b = GT_BUF_INIT;

	topo_members_json(m, &b);
	gt_buf_putc(&b, '\n');
	http_reply_buf(aio, 200, "application/json", &b);
}

static void http_admin_cluster_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	topo_members m;

	rn_cluster_get(http->node, &m);
	http_reply_members(aio, &m);
}

/* POST /admin/cluster/join {"Region","Api","Replication"} and
 * POST /admin/cluster/leave {"Region"}. */
static void http_admin_membership(nng_aio *aio, int leave)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	cJSON *req = http_admin_body(aio);
	const cJSON *rg = cJSON_GetObjectItemCaseSensitive(req, "Region");
	const cJSON *api = cJSON_GetObjectItemCaseSensitive(req, "Api");
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(req, "Replication");
	topo_members m;
	topo_region r;
	gt_err err;

	if (!cJSON_IsString(rg) || (!leave && (!cJSON_IsString(api) ||
	    !cJSON_IsString(rep)))) {
		cJSON_Delete(req);
		http_admin_error(aio, 400, leave ? "expected {\"Region\": ...}" :
		    "expected {\"Region\": ..., \"Api\": \"http://host:port\", "
		    "\"Replication\": \"tcp://host:port\"}");
		return;
	}
	memset(&r, 0, sizeof(r));
	if (leave) {
		err = rn_cluster_leave(http->node, rg->valuestring, &m);
	} else if (strlen(rg->valuestring) >= sizeof(r.name) ||
	    strlen(api->valuestring) >= sizeof(r.api_url) ||
	    strlen(rep->valuestring) >= sizeof(r.repl_url)) {
		err = GT_EINVAL;
	} else {
		snprintf(r.name, sizeof(r.name), "%s", rg->valuestring);
		snprintf(r.api_url, sizeof(r.api_url), "%s", api->valuestring);
		snprintf(r.repl_url, sizeof(r.repl_url), "%s",
		    rep->valuestring);
		err = rn_cluster_join(http->node, &r, &m);
	}
	cJSON_Delete(req);
	if (err == GT_ENOTFOUND)
		http_admin_error(aio, 404, "not a member of the cluster");
	else if (err == GT_EINVAL)
		http_admin_error(aio, 400, "invalid region name or URL");
	else if (err == GT_ELIMIT)
		http_admin_error(aio, 409, "the cluster is full");
	else if (err != GT_OK)
		http_admin_error(aio, 500, gt_strerror(err));
	else
		http_reply_members(aio, &m);
}

static void http_admin_join_cb(nng_aio *aio) { http_admin_membership(aio, 0); }
static void http_admin_leave_cb(nng_aio *aio) { http_admin_membership(aio, 1); }

/* POST /admin/backfill/start and /admin/backfill/chunk (backfill.h). */
static void http_admin_backfill(nng_aio *aio, int chunk)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	cJSON *req = http_admin_body(aio);
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	const cJSON *af = cJSON_GetObjectItemCaseSensitive(req, "After");
	const cJSON *mb = cJSON_GetObjectItemCaseSensitive(req, "MaxBytes");
	size_t max = 1u << 20;
	rn_table *t;
	gt_buf b = GT_BUF_INIT;
	gt_err err;

	if (!cJSON_IsString(tn)) {
		cJSON_Delete(req);
		http_admin_error(aio, 400, "expected {\"TableName\": ...}");
		return;
	}
	if (cJSON_IsNumber(mb) && mb->valuedouble >= 4096 &&
	    mb->valuedouble <= 8.0 * 1024 * 1024)
		max = (size_t)mb->valuedouble;
	t = rn_catalog_get(&http->node->catalog, tn->valuestring);
	if (t == NULL) {
		cJSON_Delete(req);
		http_admin_error(aio, 404, "no such table");
		return;
	}
	err = chunk ? rn_backfill_chunk_json(http->node, t, cJSON_IsString(af)
	    ? af->valuestring : NULL, max, &b) :
	    rn_backfill_start_json(http->node, t, &b);
	rn_table_unref(t);
	cJSON_Delete(req);
	if (err != GT_OK) {
		gt_buf_free(&b);
		http_admin_error(aio, err == GT_EINVAL ? 400 : 500,
		    gt_strerror(err));
		return;
	}
	http_reply(aio, 200, "application/json", b.data, b.len, NULL);
	gt_buf_free(&b);
}

static void http_admin_bf_start_cb(nng_aio *aio)
{
	http_admin_backfill(aio, 0);
}

static void http_admin_bf_chunk_cb(nng_aio *aio)
{
	http_admin_backfill(aio, 1);
}

/* POST /admin/replica/drop {"TableName","RegionName","KeepDetached"}:
 * ReplicaUpdates Delete, optionally keeping the dropped copy as a
 * regional table.  Answers like UpdateTable. */
static void http_admin_replica_drop_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	cJSON *req = http_admin_body(aio);
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	const cJSON *rg = cJSON_GetObjectItemCaseSensitive(req, "RegionName");
	http_call *hc;

	if (!cJSON_IsString(tn) || !cJSON_IsString(rg) ||
	    !cf_region_name_valid(rg->valuestring)) {
		cJSON_Delete(req);
		http_admin_error(aio, 400, "expected {\"TableName\": ..., "
		    "\"RegionName\": ..., \"KeepDetached\"?: true}");
		return;
	}
	hc = calloc(1, sizeof(*hc));
	if (hc == NULL) {
		cJSON_Delete(req);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	hc->aio = aio;
	hc->http = http;
	hc->call.node = http->node;
	hc->call.done = http_call_done;
	hc->call.op = RN_OP_UPDATE_TABLE;
	hc->call.start_ns = gt_mono_ns();
	hc->call.status = 200;
	rn_table_replica_change(&hc->call, tn->valuestring, rg->valuestring,
	    0, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req,
	    "KeepDetached")));
	cJSON_Delete(req);
}

static void http_admin_link_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	cJSON *req;
	gt_buf b = GT_BUF_INIT;
	int status;

	if (http->ext.link_set == NULL) {
		http_admin_error(aio, 404, "this node does not replicate");
		return;
	}
	req = http_admin_body(aio);
	if (req == NULL) {
		http_admin_error(aio, 400, "the body must be a JSON object");
		return;
	}
	status = http->ext.link_set(http->ext.arg, req, &b);
	cJSON_Delete(req);
	gt_buf_putc(&b, '\n');
	http_reply_buf(aio, (uint16_t)status, "application/json", &b);
}

static void http_admin_links_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	gt_buf b = GT_BUF_INIT;

	if (http->ext.links_json != NULL)
		http->ext.links_json(http->ext.arg, &b);
	else
		gt_buf_puts(&b, "{\"Links\":[]}");
	gt_buf_putc(&b, '\n');
	http_reply_buf(aio, 200, "application/json", &b);
}

/* Sets the writer-owned clock skew on the writer thread. */
static gt_err skew_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	const struct {
		rn_node *n;
		int64_t skew;
	} *a = w->arg;
	(void)s;
	(void)txn;
	a->n->clock.skew_ms = a->skew;
	return GT_OK;
}

static void faults_json(rn_node *n, gt_buf *b)
{
	uint64_t now = gt_wall_ms(), held = 0;
	MDB_txn *txn = NULL;
	MDB_stat st;
	size_t k = 0;

	if (rn_store_read_begin(n->store, &txn) == GT_OK) {
		if (mdb_stat(txn, rn_store_dbs(n->store)->held, &st) ==
		    MDB_SUCCESS)
			held = st.ms_entries;
		rn_store_read_end(txn);
	}
	gt_buf_printf(b, "{\"ClockSkewMs\":%lld,\"FailRate\":%.6f,"
	    "\"HeldRecords\":%llu,\"Pauses\":[", (long long)n->clock.skew_ms,
	    (double)atomic_load(&n->fail_ppm) / 1e6, (unsigned long long)held);
	pthread_mutex_lock(&n->pause_mu);
	for (size_t i = 0; i < n->npauses; i++) {
		const struct rn_pause *p = &n->pauses[i];
		if (p->until_ms <= now)
			continue;
		gt_buf_puts(b, k++ ? ",{\"TableName\":" : "{\"TableName\":");
		gt_buf_json_str(b, p->table, strlen(p->table));
		gt_buf_puts(b, ",\"From\":");
		gt_buf_json_str(b, p->from, strlen(p->from));
		gt_buf_printf(b, ",\"RemainingMs\":%llu}",
		    (unsigned long long)(p->until_ms - now));
	}
	pthread_mutex_unlock(&n->pause_mu);
	gt_buf_puts(b, "]}\n");
}

/* POST /admin/fault {"ClockSkewMs"?, "FailRate"?} */
static void http_admin_fault_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	rn_node *n = http->node;
	cJSON *req = http_admin_body(aio);
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(req, "ClockSkewMs");
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(req, "FailRate");
	gt_buf b = GT_BUF_INIT;

	if (req == NULL || (sk != NULL && (!cJSON_IsNumber(sk) ||
	    sk->valuedouble < -86400000.0 || sk->valuedouble > 86400000.0)) ||
	    (fr != NULL && (!cJSON_IsNumber(fr) || fr->valuedouble < 0 ||
	    fr->valuedouble > 1))) {
		cJSON_Delete(req);
		http_admin_error(aio, 400, "expected {\"ClockSkewMs\"?: "
		    "-86400000..86400000, \"FailRate\"?: 0..1}");
		return;
	}
	if (sk != NULL) {
		struct {
			rn_node *n;
			int64_t skew;
		} a = {n, (int64_t)sk->valuedouble};
		(void)rn_store_write_sync(n->store, skew_fn, &a);
		GT_LOG(GT_LOG_WARN, "fault", "event=clock_skew skew_ms=%lld",
		    (long long)a.skew);
	}
	if (fr != NULL) {
		atomic_store(&n->fail_ppm, (uint32_t)(fr->valuedouble * 1e6 +
		    0.5));
		GT_LOG(GT_LOG_WARN, "fault", "event=fail_requests rate=%.4f",
		    fr->valuedouble);
	}
	cJSON_Delete(req);
	faults_json(n, &b);
	http_reply_buf(aio, 200, "application/json", &b);
}

static void http_admin_faults_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	gt_buf b = GT_BUF_INIT;

	faults_json(http->node, &b);
	http_reply_buf(aio, 200, "application/json", &b);
}

/* POST /admin/pause {"TableName", "DurationMs", "From"?}: replication of
 * the table into this region is held for the duration (from every
 * origin, or from From only); without From, the other members are asked
 * to hold this region's records of the table too, so replication stops
 * both ways, as the FIS action aws:dynamodb:global-table-pause-
 * replication does. */
static void http_admin_pause_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	rn_http *http = nng_http_handler_get_data(hd);
	rn_node *n = http->node;
	cJSON *req = http_admin_body(aio);
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(req, "TableName");
	const cJSON *du = cJSON_GetObjectItemCaseSensitive(req, "DurationMs");
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(req, "From");
	topo_members m;
	gt_buf b = GT_BUF_INIT;
	int asked = 0, reached = 0;

	if (!cJSON_IsString(tn) || !cJSON_IsNumber(du) || du->valuedouble <
	    0 || du->valuedouble > 86400000.0 || (fr != NULL &&
	    !cJSON_IsString(fr))) {
		cJSON_Delete(req);
		http_admin_error(aio, 400, "expected {\"TableName\": ..., "
		    "\"DurationMs\": 0..86400000, \"From\"?: region}");
		return;
	}
	if (rn_node_pause(n, tn->valuestring, fr ? fr->valuestring : NULL,
	    (uint64_t)du->valuedouble) != GT_OK) {
		cJSON_Delete(req);
		http_admin_error(aio, 409, "too many pauses at once");
		return;
	}
	GT_LOG(GT_LOG_WARN, "fault", "event=pause_replication table=%s "
	    "duration_ms=%.0f from=%s", tn->valuestring, du->valuedouble,
	    fr ? fr->valuestring : "*");
	if (fr == NULL) {
		rn_cluster_get(n, &m);
		for (uint32_t i = 0; i < m.n; i++) {
			gt_buf body = GT_BUF_INIT, resp = GT_BUF_INIT;
			char url[TOPO_URL_MAX + 32];
			long st = 0;
			if (strcmp(m.r[i].name, n->region) == 0)
				continue;
			asked++;
			snprintf(url, sizeof(url), "%s/admin/pause",
			    m.r[i].api_url);
			gt_buf_puts(&body, "{\"TableName\":");
			gt_buf_json_str(&body, tn->valuestring,
			    strlen(tn->valuestring));
			gt_buf_printf(&body, ",\"DurationMs\":%.0f,\"From\":",
			    du->valuedouble);
			gt_buf_json_str(&body, n->region, strlen(n->region));
			gt_buf_putc(&body, '}');
			if (gt_httpc_request("POST", url, body.data, body.len,
			    2000, 65536, &st, &resp, NULL, 0) == GT_OK &&
			    st == 200)
				reached++;
			gt_buf_free(&body);
			gt_buf_free(&resp);
		}
	}
	cJSON_Delete(req);
	gt_buf_printf(&b, "{\"Paused\":true,\"PeersAsked\":%d,"
	    "\"PeersReached\":%d}\n", asked, reached);
	http_reply_buf(aio, 200, "application/json", &b);
}

static int http_add(rn_http *h, const char *path, const char *method,
    void (*cb)(nng_aio *), int collect)
{
	nng_http_handler *hd;
	int rv;

	rv = nng_http_handler_alloc(&hd, path, cb);
	if (rv != 0)
		return rv;
	rv = nng_http_handler_set_method(hd, method);
	if (rv == 0 && collect)
		rv = nng_http_handler_collect_body(hd, true, RN_HTTP_BODY_MAX);
	if (rv == 0)
		rv = nng_http_handler_set_data(hd, h, NULL);
	if (rv == 0)
		rv = nng_http_server_add_handler(h->server, hd);
	if (rv != 0)
		nng_http_handler_free(hd);
	return rv;
}

/* Every route the node serves: path, method, handler, whether the body
 * is collected (bounded by RN_HTTP_BODY_MAX). */
static const struct http_route {
	const char *path;
	const char *method;
	void (*cb)(nng_aio *);
	int collect;
} http_routes[] = {
    {"/", "POST", http_api_cb, 1},
    {"/health", "GET", http_health_cb, 0},
    {"/metrics", "GET", http_metrics_cb, 0},
    {"/admin/replication", "GET", http_admin_replication_cb, 0},
    {"/admin/conflicts", "POST", http_admin_conflicts_cb, 1},
    {"/admin/item", "POST", http_admin_item_cb, 1},
    {"/admin/index-check", "POST", http_admin_index_check_cb, 1},
    {"/admin/digest", "POST", http_admin_digest_cb, 1},
    {"/admin/cluster", "GET", http_admin_cluster_cb, 0},
    {"/admin/cluster", "POST", http_admin_cluster_cb, 1},
    {"/admin/cluster/join", "POST", http_admin_join_cb, 1},
    {"/admin/cluster/leave", "POST", http_admin_leave_cb, 1},
    {"/admin/link", "POST", http_admin_link_cb, 1},
    {"/admin/fault", "POST", http_admin_fault_cb, 1},
    {"/admin/faults", "GET", http_admin_faults_cb, 0},
    {"/admin/faults", "POST", http_admin_faults_cb, 1},
    {"/admin/pause", "POST", http_admin_pause_cb, 1},
    {"/admin/links", "GET", http_admin_links_cb, 0},
    {"/admin/links", "POST", http_admin_links_cb, 1},
    {"/admin/backfill/start", "POST", http_admin_bf_start_cb, 1},
    {"/admin/backfill/chunk", "POST", http_admin_bf_chunk_cb, 1},
    {"/admin/replica/drop", "POST", http_admin_replica_drop_cb, 1},
};

gt_err rn_http_start(rn_node *node, const char *host, uint16_t port,
    rn_http **out)
{
	rn_http *h;
	nng_sockaddr sa;
	char url[300];
	int rv;

	if (snprintf(url, sizeof(url), "http://%s:%u", host, port) >=
	    (int)sizeof(url))
		return GT_EINVAL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return GT_ENOMEM;
	h->node = node;
	rv = nng_url_parse(&h->url, url);
	if (rv != 0) {
		free(h);
		return GT_EINVAL;
	}
	rv = nng_http_server_hold(&h->server, h->url);
	for (size_t i = 0; rv == 0 && i < GT_ARRAY_LEN(http_routes); i++)
		rv = http_add(h, http_routes[i].path, http_routes[i].method,
		    http_routes[i].cb, http_routes[i].collect);
	if (rv == 0)
		rv = nng_http_server_start(h->server);
	if (rv != 0) {
		GT_LOG(GT_LOG_ERROR, "http", "event=listen_failed url=%s "
		    "err=\"%s\"", url, nng_strerror(rv));
		if (h->server)
			nng_http_server_release(h->server);
		nng_url_free(h->url);
		free(h);
		return GT_EIO;
	}
	h->port = port;
	if (nng_http_server_get_addr(h->server, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET)
		h->port = ntohs_port(sa.s_in.sa_port);
	*out = h;
	return GT_OK;
}

uint16_t rn_http_port(const rn_http *h) { return h->port; }

void rn_http_set_ext(rn_http *h, const rn_http_ext *ext) { h->ext = *ext; }

void rn_http_stop(rn_http *h)
{
	if (h == NULL)
		return;
	nng_http_server_stop(h->server);
	nng_http_server_release(h->server);
	nng_url_free(h->url);
	free(h);
}
