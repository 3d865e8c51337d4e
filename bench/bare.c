/*
 * bare.c — the baseline server for `make bench`.
 *
 * It is the region node with everything but the HTTP front end and the JSON
 * work taken away: the same NNG HTTP server, the same cJSON parse of the
 * DynamoDB JSON 1.0 body, the same presence checks on TableName and
 * Key/Item, and a response serialised with cJSON_PrintUnformatted.  It never
 * touches storage.  The ratio node/bare measured in one run therefore tells
 * how much the storage engine, the change log and the request plumbing cost
 * on top of the unavoidable HTTP and JSON work on this machine.
 *
 * Answers:
 *   PutItem        {}
 *   GetItem        {"Item": <the requested key + one ~200-byte payload>}
 *   CreateTable    {"TableDescription": {..., "TableStatus": "ACTIVE"}}
 *   DescribeTable  {"Table": {..., "TableStatus": "ACTIVE"}}
 *   anything else  400 UnknownOperationException
 * A missing TableName, Key or Item is a 400 ValidationException, shaped as
 * DynamoDB shapes it, so a load generator can be checked against it.
 *
 * Usage: bare [--host ADDR] [--port N] [--port-file FILE]
 * Stops on SIGINT or SIGTERM.
 */
#include "gt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

/* DynamoDB's own limit on a request body is 16 MB; nothing here needs more. */
#define BARE_BODY_MAX ((size_t)16 * 1024 * 1024)
#define BARE_TABLE_NAME_MAX 255
#define BARE_TARGET_PREFIX "DynamoDB_20120810."
#define BARE_ERR_PREFIX "com.amazonaws.dynamodb.v20120810#"

/*
 * The payload is sized so that a GetItem's Item (key + payload) serialises
 * to about 200 bytes of JSON, the size of the items the load generator puts.
 */
#define BARE_PAYLOAD_LEN 160
static char bare_payload[BARE_PAYLOAD_LEN + 1];

static void bare_payload_init(void)
{
	static const char alphabet[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	for (size_t i = 0; i < BARE_PAYLOAD_LEN; i++)
		bare_payload[i] = alphabet[i % (sizeof(alphabet) - 1)];
	bare_payload[BARE_PAYLOAD_LEN] = '\0';
}

/*
 * bare_reply finishes aio with a response of the given status and body.  The
 * body is borrowed (copied into the response).  On an allocation failure the
 * aio is finished with the NNG error, which makes the server close the
 * connection: the load generator then counts an error.
 */
static void bare_reply(nng_aio *aio, uint16_t status, const char *body,
    size_t len)
{
	nng_http_res *res = NULL;
	int rv;

	rv = nng_http_res_alloc(&res);
	if (rv != 0)
		goto fail;
	if (status != 200) {
		rv = nng_http_res_set_status(res, status);
		if (rv != 0)
			goto fail;
	}
	rv = nng_http_res_set_header(res, "Content-Type",
	    "application/x-amz-json-1.0");
	if (rv != 0)
		goto fail;
	rv = nng_http_res_copy_data(res, body, len);
	if (rv != 0)
		goto fail;
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
	return;
fail:
	if (res != NULL)
		nng_http_res_free(res);
	nng_aio_finish(aio, rv);
}

/* bare_error answers with DynamoDB's error shape; type and msg borrowed. */
static void bare_error(nng_aio *aio, const char *type, const char *msg)
{
	char body[512];
	int n;

	n = snprintf(body, sizeof(body),
	    "{\"__type\":\"" BARE_ERR_PREFIX "%s\",\"message\":\"%s\"}", type,
	    msg);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		bare_reply(aio, 500, "{}", 2);
		return;
	}
	bare_reply(aio, 400, body, (size_t)n);
}

/* bare_reply_json serialises obj (borrowed) and answers 200 with it. */
static void bare_reply_json(nng_aio *aio, const cJSON *obj)
{
	char *text;

	text = cJSON_PrintUnformatted(obj);
	if (text == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	bare_reply(aio, 200, text, strlen(text));
	cJSON_free(text);
}

/*
 * bare_table_desc builds the minimal description a client waiting for a
 * table needs (returned owned, or NULL on allocation failure).
 */
static cJSON *bare_table_desc(const char *name)
{
	cJSON *desc = cJSON_CreateObject();

	if (desc == NULL)
		return NULL;
	if (cJSON_AddStringToObject(desc, "TableName", name) == NULL ||
	    cJSON_AddStringToObject(desc, "TableStatus", "ACTIVE") == NULL ||
	    cJSON_AddNumberToObject(desc, "ItemCount", 0) == NULL) {
		cJSON_Delete(desc);
		return NULL;
	}
	return desc;
}

/* bare_get_item builds {"Item": key + payload}; key borrowed. */
static void bare_get_item(nng_aio *aio, const cJSON *key)
{
	cJSON *out, *item, *payload;

	out = cJSON_CreateObject();
	item = cJSON_Duplicate(key, 1);
	payload = cJSON_CreateObject();
	if (out == NULL || item == NULL || payload == NULL) {
		cJSON_Delete(out);
		cJSON_Delete(item);
		cJSON_Delete(payload);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	cJSON_AddItemToObject(out, "Item", item);
	cJSON_AddItemToObject(item, "payload", payload);
	if (cJSON_AddStringToObject(payload, "S", bare_payload) == NULL) {
		cJSON_Delete(out);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	bare_reply_json(aio, out);
	cJSON_Delete(out);
}

/* bare_wrap answers {"<field>": description of table name}. */
static void bare_wrap(nng_aio *aio, const char *field, const char *name)
{
	cJSON *out = cJSON_CreateObject();
	cJSON *desc = bare_table_desc(name);

	if (out == NULL || desc == NULL) {
		cJSON_Delete(out);
		cJSON_Delete(desc);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	cJSON_AddItemToObject(out, field, desc);
	bare_reply_json(aio, out);
	cJSON_Delete(out);
}

/* bare_dispatch answers one parsed request; doc borrowed. */
static void bare_dispatch(nng_aio *aio, const char *op, const cJSON *doc)
{
	const cJSON *tn, *key, *item;
	size_t tn_len;

	tn = cJSON_GetObjectItemCaseSensitive(doc, "TableName");
	if (!cJSON_IsString(tn) || tn->valuestring == NULL) {
		bare_error(aio, "ValidationException",
		    "TableName is required");
		return;
	}
	tn_len = strlen(tn->valuestring);
	if (tn_len < 3 || tn_len > BARE_TABLE_NAME_MAX) {
		bare_error(aio, "ValidationException",
		    "TableName must be 3 to 255 characters long");
		return;
	}
	if (strcmp(op, "PutItem") == 0) {
		item = cJSON_GetObjectItemCaseSensitive(doc, "Item");
		if (!cJSON_IsObject(item) || item->child == NULL) {
			bare_error(aio, "ValidationException",
			    "Item is required");
			return;
		}
		bare_reply(aio, 200, "{}", 2);
	} else if (strcmp(op, "GetItem") == 0) {
		key = cJSON_GetObjectItemCaseSensitive(doc, "Key");
		if (!cJSON_IsObject(key) || key->child == NULL) {
			bare_error(aio, "ValidationException",
			    "Key is required");
			return;
		}
		bare_get_item(aio, key);
	} else if (strcmp(op, "CreateTable") == 0) {
		bare_wrap(aio, "TableDescription", tn->valuestring);
	} else if (strcmp(op, "DescribeTable") == 0) {
		bare_wrap(aio, "Table", tn->valuestring);
	} else {
		bare_error(aio, "UnknownOperationException",
		    "Unknown operation");
	}
}

/* bare_handle is the NNG handler for POST /. */
static void bare_handle(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	const char *target;
	void *body = NULL;
	size_t len = 0;
	cJSON *doc;

	target = nng_http_req_get_header(req, "X-Amz-Target");
	if (target == NULL ||
	    strncmp(target, BARE_TARGET_PREFIX, strlen(BARE_TARGET_PREFIX)) !=
		0) {
		bare_error(aio, "UnknownOperationException",
		    "Missing or unknown X-Amz-Target");
		return;
	}
	nng_http_req_get_data(req, &body, &len);
	if (body == NULL || len == 0) {
		bare_error(aio, "SerializationException", "Empty body");
		return;
	}
	doc = cJSON_ParseWithLength(body, len);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		bare_error(aio, "SerializationException",
		    "Body is not a JSON object");
		return;
	}
	bare_dispatch(aio, target + strlen(BARE_TARGET_PREFIX), doc);
	cJSON_Delete(doc);
}

/* bare_health answers GET /health so scripts can probe the server. */
static void bare_health(nng_aio *aio)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	bare_reply(aio, 200, ok, sizeof(ok) - 1);
}

static void bare_usage(FILE *f)
{
	fprintf(f, "usage: bare [--host ADDR] [--port N] [--port-file FILE]\n"
		   "  --port 0 picks a free port; --port-file receives it.\n");
}

/*
 * bare_port_write writes port to path through a temporary file and a rename,
 * so a script polling for the file never reads it half written.
 */
static int bare_port_write(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;
	int n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	if (fprintf(f, "%u\n", port) < 0) {
		(void)fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int bare_add(nng_http_server *srv, const char *path,
    const char *method, void (*cb)(nng_aio *))
{
	nng_http_handler *h = NULL;
	int rv;

	rv = nng_http_handler_alloc(&h, path, cb);
	if (rv != 0)
		return rv;
	rv = nng_http_handler_set_method(h, method);
	if (rv == 0 && strcmp(method, "POST") == 0)
		rv = nng_http_handler_collect_body(h, true, BARE_BODY_MAX);
	if (rv == 0)
		rv = nng_http_server_add_handler(srv, h);
	if (rv != 0)
		nng_http_handler_free(h);
	return rv;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	const char *port_file = NULL;
	unsigned long port = 8001;
	nng_http_server *srv = NULL;
	nng_url *url = NULL;
	nng_sockaddr sa;
	sigset_t set;
	char ustr[512];
	char *end;
	int rv, sig, n, code = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
			host = argv[++i];
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			errno = 0;
			port = strtoul(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || port > 65535) {
				fprintf(stderr, "bare: bad --port\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--port-file") == 0 &&
		    i + 1 < argc) {
			port_file = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			bare_usage(stdout);
			return 0;
		} else {
			bare_usage(stderr);
			return 2;
		}
	}

	/*
	 * Block the stop signals before NNG starts its threads, so they all
	 * inherit the mask and only sigwait() below ever sees the signal.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	bare_payload_init();

	n = snprintf(ustr, sizeof(ustr), "http://%s:%lu", host, port);
	if (n < 0 || (size_t)n >= sizeof(ustr)) {
		fprintf(stderr, "bare: host too long\n");
		return 2;
	}
	rv = nng_url_parse(&url, ustr);
	if (rv == 0)
		rv = nng_http_server_hold(&srv, url);
	if (rv == 0)
		rv = bare_add(srv, "/", "POST", bare_handle);
	if (rv == 0)
		rv = bare_add(srv, "/health", "GET", bare_health);
	if (rv == 0)
		rv = nng_http_server_start(srv);
	if (rv == 0)
		rv = nng_http_server_get_addr(srv, &sa);
	if (rv != 0) {
		fprintf(stderr, "bare: cannot serve %s: %s\n", ustr,
		    nng_strerror(rv));
		goto out;
	}
	if (sa.s_family == NNG_AF_INET)
		port = ntohs(sa.s_in.sa_port);
	else if (sa.s_family == NNG_AF_INET6)
		port = ntohs(sa.s_in6.sa_port);
	if (port_file != NULL && bare_port_write(port_file, (unsigned)port) !=
		0) {
		fprintf(stderr, "bare: cannot write %s: %s\n", port_file,
		    strerror(errno));
		goto out;
	}
	GT_LOG(GT_LOG_INFO, "bare", "event=listening host=%s port=%lu", host,
	    port);

	if (sigwait(&set, &sig) != 0)
		goto out;
	GT_LOG(GT_LOG_INFO, "bare", "event=stopping signal=%d", sig);
	code = 0;
out:
	if (srv != NULL) {
		nng_http_server_stop(srv);
		nng_http_server_release(srv);
	}
	if (url != NULL)
		nng_url_free(url);
	return code;
}
