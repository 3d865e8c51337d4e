/*
 * cli_http.c — requests to region nodes over libcurl, and the command's
 * error lines.
 *
 * Every request has a total timeout (cli_opts.request_timeout_ms) and a
 * shorter connect timeout, so an unresponsive node costs a bounded wait.
 * Proxies are never used: the admin API is an operator's direct line to
 * a node, and a proxy set in the environment for other traffic would
 * only get in the way.  Answers are read up to CLI_BODY_MAX bytes.
 *
 * A transport failure (no HTTP answer) is "unreachable" (exit 3); any
 * HTTP answer, even 500, means the node is there and the operation
 * failed (exit 1).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"

void cli_http_global_init(void)
{
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cli_http_global_cleanup(void)
{
	curl_global_cleanup();
}

void cli_resp_free(cli_resp *r)
{
	gt_buf_free(&r->body);
	r->status = 0;
}

typedef struct sink {
	gt_buf *b;
	int too_big;
} sink;

static size_t http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	sink *s = arg;
	size_t len = size * n;

	if (s->b->len + len > CLI_BODY_MAX) {
		s->too_big = 1;
		return 0;
	}
	gt_buf_append(s->b, p, len);
	return gt_buf_ok(s->b) ? len : 0;
}

/* Lower-cases the first letter of an OS or libcurl message, so that it
 * reads as part of our sentence ("connection refused"). */
static void err_set(char *dst, size_t len, const char *msg)
{
	snprintf(dst, len, "%s", msg);
	if (dst[0] != '\0' && isupper((unsigned char)dst[0]) &&
	    !(dst[1] != '\0' && isupper((unsigned char)dst[1])))
		dst[0] = (char)tolower((unsigned char)dst[0]);
}

static void http_transport_err(CURL *h, CURLcode rc, const cli_opts *o,
    int too_big, cli_resp *out)
{
	long os_errno = 0;

	(void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: {
		curl_off_t connect_us = 0;
		(void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T,
		    &connect_us);
		/* No connection yet: the shorter connect timeout fired. */
		if (connect_us == 0)
			snprintf(out->err, sizeof(out->err), "no connection "
			    "after %.3g s", (double)GT_MIN(
			    o->request_timeout_ms, CLI_CONNECT_TIMEOUT_MS_MAX) /
			    1000.0);
		else
			snprintf(out->err, sizeof(out->err), "timed out after "
			    "%.3g s", (double)o->request_timeout_ms / 1000.0);
		break;
	}
	case CURLE_COULDNT_RESOLVE_HOST:
		err_set(out->err, sizeof(out->err), "cannot resolve host name");
		break;
	case CURLE_COULDNT_CONNECT:
		if (os_errno != 0)
			err_set(out->err, sizeof(out->err),
			    strerror((int)os_errno));
		else
			err_set(out->err, sizeof(out->err), "cannot connect");
		break;
	case CURLE_WRITE_ERROR:
		if (too_big) {
			snprintf(out->err, sizeof(out->err), "the answer is "
			    "larger than %u MB", CLI_BODY_MAX >> 20);
			break;
		}
		/* fall through */
	default:
		err_set(out->err, sizeof(out->err), curl_easy_strerror(rc));
		break;
	}
}

int cli_http(const cli_opts *o, const char *base_url, const char *method,
    const char *path, const char *body, const char *const *headers,
    cli_resp *out)
{
	char url[CLI_URL_MAX + 256];
	struct curl_slist *hl = NULL, *tmp;
	sink s = {&out->body, 0};
	long connect_ms;
	CURL *h;
	CURLcode rc;
	int ret = -1;

	out->status = 0;
	out->err[0] = '\0';
	gt_buf_reset(&out->body);
	if (base_url == NULL || base_url[0] == '\0') {
		snprintf(out->err, sizeof(out->err), "its API URL is unknown");
		return -1;
	}
	if (snprintf(url, sizeof(url), "%s%s", base_url, path) >=
	    (int)sizeof(url)) {
		snprintf(out->err, sizeof(out->err), "the URL is too long");
		return -1;
	}
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(out->err, sizeof(out->err), "out of memory");
		return -1;
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		tmp = curl_slist_append(hl, headers[i]);
		if (tmp == NULL) {
			snprintf(out->err, sizeof(out->err), "out of memory");
			goto out;
		}
		hl = tmp;
	}
	/* libcurl would otherwise send "Expect: 100-continue" for larger
	 * bodies and wait for an interim answer the node never sends. */
	tmp = curl_slist_append(hl, "Expect:");
	if (tmp == NULL) {
		snprintf(out->err, sizeof(out->err), "out of memory");
		goto out;
	}
	hl = tmp;
	connect_ms = (long)GT_MIN(o->request_timeout_ms,
	    CLI_CONNECT_TIMEOUT_MS_MAX);
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_PROXY, "");
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    (long)o->request_timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, "meridian-cli/1");
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(method, "POST") == 0) {
		const char *b = body != NULL ? body : "{}";
		(void)curl_easy_setopt(h, CURLOPT_POST, 1L);
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, b);
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(b));
	} else {
		(void)curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		http_transport_err(h, rc, o, s.too_big, out);
		gt_buf_reset(&out->body);
		goto out;
	}
	if (!gt_buf_ok(&out->body)) {
		snprintf(out->err, sizeof(out->err), "out of memory");
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	/* An empty body still reads as a (empty) string. */
	gt_buf_append(&out->body, "", 0);
	ret = 0;
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return ret;
}

/* Fills e from a non-2xx answer: DynamoDB's {"__type": "ns#Type",
 * "message": ...}, the admin API's {"error": ...}, or plain text. */
static void apierr_fill(const cli_resp *rs, cli_apierr *e)
{
	cJSON *j = cJSON_ParseWithLength(rs->body.data ? rs->body.data : "",
	    rs->body.len);
	const char *type = NULL, *msg = NULL;

	memset(e, 0, sizeof(*e));
	e->status = rs->status;
	if (cJSON_IsObject(j)) {
		type = cli_json_str(j, "__type");
		msg = cli_json_str(j, "message");
		if (msg == NULL)
			msg = cli_json_str(j, "Message");
		if (msg == NULL)
			msg = cli_json_str(j, "error");
	}
	if (type != NULL) {
		const char *hash = strrchr(type, '#');
		snprintf(e->type, sizeof(e->type), "%s",
		    hash != NULL ? hash + 1 : type);
	}
	if (msg != NULL) {
		snprintf(e->msg, sizeof(e->msg), "%s", msg);
	} else {
		size_t n = GT_MIN(rs->body.len, sizeof(e->msg) - 1);
		/* A short plain-text body (e.g. NNG's 404 page) says little;
		 * keep its first line only. */
		if (n > 0)
			memcpy(e->msg, rs->body.data, n);
		e->msg[n] = '\0';
		e->msg[strcspn(e->msg, "\r\n")] = '\0';
		if (e->msg[0] == '\0' || e->msg[0] == '<')
			snprintf(e->msg, sizeof(e->msg), "HTTP status %ld",
			    rs->status);
	}
	cJSON_Delete(j);
}

static int call_json(const cli_opts *o, cli_region *r, const char *method,
    const char *path, const cJSON *req, const char *const *headers,
    cJSON **out, cli_apierr *e)
{
	cli_resp rs = CLI_RESP_INIT;
	char *body = NULL;
	int ret;

	if (r->dead) {
		r->unreachable = 1;
		return CLI_EXIT_UNREACHABLE;
	}
	if (req != NULL) {
		body = cJSON_PrintUnformatted(req);
		if (body == NULL) {
			memset(e, 0, sizeof(*e));
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return CLI_EXIT_FAIL;
		}
	}
	if (cli_http(o, r->api, method, path, body, headers, &rs) != 0) {
		r->unreachable = 1;
		snprintf(r->err, sizeof(r->err), "%s", rs.err);
		ret = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	r->unreachable = 0;
	if (rs.status < 200 || rs.status > 299) {
		apierr_fill(&rs, e);
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	*out = cJSON_ParseWithLength(rs.body.data ? rs.body.data : "",
	    rs.body.len);
	ret = CLI_EXIT_OK;
out:
	cJSON_free(body);
	cli_resp_free(&rs);
	return ret;
}

int cli_ddb(const cli_opts *o, cli_region *r, const char *op,
    const cJSON *req, cJSON **out, cli_apierr *e)
{
	char target[128];
	const char *headers[5];
	cJSON *res = NULL;
	int ret;

	snprintf(target, sizeof(target), "X-Amz-Target: DynamoDB_20120810.%s",
	    op);
	headers[0] = "Content-Type: application/x-amz-json-1.0";
	headers[1] = target;
	/* The nodes accept any credentials, as DynamoDB Local does. */
	headers[2] = "Authorization: AWS4-HMAC-SHA256 Credential=meridian/"
	    "20240101/us-east-1/dynamodb/aws4_request, SignedHeaders="
	    "host;x-amz-target, Signature=0";
	headers[3] = NULL;
	ret = call_json(o, r, "POST", "/", req, headers, &res, e);
	if (ret == CLI_EXIT_OK && !cJSON_IsObject(res)) {
		cJSON_Delete(res);
		memset(e, 0, sizeof(*e));
		e->status = 200;
		snprintf(e->msg, sizeof(e->msg), "%s answered with something "
		    "that is not a JSON object", op);
		return CLI_EXIT_FAIL;
	}
	if (ret == CLI_EXIT_OK)
		*out = res;
	return ret;
}

int cli_admin(const cli_opts *o, cli_region *r, const char *path, int post,
    const cJSON *req, cJSON **out, cli_apierr *e)
{
	static const char *const headers[] = {
	    "Content-Type: application/json", NULL};
	cJSON *res = NULL;
	int ret;

	ret = call_json(o, r, post || req != NULL ? "POST" : "GET", path, req,
	    headers, &res, e);
	if (ret == CLI_EXIT_OK)
		*out = res;
	return ret;
}

void cli_report_unreachable(cli_region *r)
{
	if (r->reported)
		return;
	r->reported = 1;
	fprintf(stderr, "meridian: %s (%s) is unreachable: %s\n", r->name,
	    r->api[0] ? r->api : "no API URL", r->err[0] ? r->err :
	    "no answer");
}

void cli_report(const cli_region *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "meridian: %s (%s): %s\n", r->name,
	    r->api[0] ? r->api : "no API URL", msg);
}

void cli_errorf(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "meridian: %s\n", msg);
}

void cli_report_apierr(const cli_region *r, const cli_apierr *e)
{
	if (e->type[0] != '\0')
		cli_report(r, "%s: %s", e->type, e->msg);
	else if (e->status != 0)
		cli_report(r, "HTTP %ld: %s", e->status, e->msg);
	else
		cli_report(r, "%s", e->msg);
}
