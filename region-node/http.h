/*
 * http.h — the region node's HTTP front end on NNG's HTTP server: POST /
 * (the DynamoDB JSON API), GET /health, GET /metrics, and the admin API:
 *   GET  /admin/replication        peer links: state, cursors, lag
 *   POST /admin/conflicts          {"TableName"?: T, "After"?: seq,
 *                                   "Limit"?: n} -> the conflict ledger
 *   POST /admin/item               {"TableName": T, "Key": {...}} -> the
 *                                   item with its replication metadata
 */
#ifndef RN_HTTP_H
#define RN_HTTP_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "gt.h"

typedef struct rn_http rn_http;

/* Largest request body accepted (DynamoDB's request limit is 16 MB). */
#define RN_HTTP_BODY_MAX (16u * 1024u * 1024u + 65536u)

/*
 * Starts serving node on host:port (port 0 picks a free port).  *out is
 * owned by the caller (rn_http_stop).  Errors: GT_EIO (cannot listen; the
 * cause is logged), GT_EINVAL (bad address), GT_ENOMEM.
 */
gt_err rn_http_start(rn_node *node, const char *host, uint16_t port,
    rn_http **out);

/*
 * Extra sections for /metrics and /admin/replication, supplied by the
 * replication driver (which sits above the region node).  Both append to
 * out; arg is passed back.  Set before traffic arrives.
 */
typedef struct rn_http_ext {
	void (*metrics)(void *arg, gt_buf *out);
	void (*replication_json)(void *arg, gt_buf *out);
	/* POST /admin/link: sets one link from its JSON request; returns an
	 * HTTP status and writes the answer (or the error) into out. */
	int (*link_set)(void *arg, const cJSON *req, gt_buf *out);
	void (*links_json)(void *arg, gt_buf *out);
	void *arg;
} rn_http_ext;
void rn_http_set_ext(rn_http *h, const rn_http_ext *ext);

/* The port actually bound. */
uint16_t rn_http_port(const rn_http *h);

/* Stops accepting, waits for handlers in flight, frees everything. */
void rn_http_stop(rn_http *h);

#endif /* RN_HTTP_H */
