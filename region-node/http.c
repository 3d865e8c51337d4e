/*
 * http.c — NNG HTTP server glue.  Each POST becomes an rn_call; the aio is
 * finished from whichever thread completes the call (the handler's own for
 * reads, the store's writer for writes), so a handler thread never waits
 * for a commit.
 */
#include "http.h"

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
	if (http->ext.metrics != NULL)
		http->ext.metrics(http->ext.arg, &b);
	if (!gt_buf_ok(&b)) {
		gt_buf_free(&b);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	http_reply(aio, 200, "text/plain; version=0.0.4", b.data, b.len, NULL);
	gt_buf_free(&b);
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
	if (!gt_buf_ok(&b)) {
		gt_buf_free(&b);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	http_reply(aio, 200, "application/json", b.data, b.len, NULL);
	gt_buf_free(&b);
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
	if (!gt_buf_ok(&b)) {
		gt_buf_free(&b);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	http_reply(aio, 200, "application/json", b.data, b.len, NULL);
	gt_buf_free(&b);
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
	if (rv == 0)
		rv = http_add(h, "/", "POST", http_api_cb, 1);
	if (rv == 0)
		rv = http_add(h, "/health", "GET", http_health_cb, 0);
	if (rv == 0)
		rv = http_add(h, "/metrics", "GET", http_metrics_cb, 0);
	if (rv == 0)
		rv = http_add(h, "/admin/replication", "GET",
		    http_admin_replication_cb, 0);
	if (rv == 0)
		rv = http_add(h, "/admin/conflicts", "POST",
		    http_admin_conflicts_cb, 1);
	if (rv == 0)
		rv = http_add(h, "/admin/item", "POST", http_admin_item_cb, 1);
	if (rv == 0)
		rv = http_add(h, "/admin/digest", "POST", http_admin_digest_cb,
		    1);
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
