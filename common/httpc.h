/*
 * httpc.h — a small blocking HTTP client (libcurl) for node-to-node admin
 * calls: joining a cluster, backfilling a new replica.
 */
#ifndef GT_HTTPC_H
#define GT_HTTPC_H

#include <stddef.h>

#include "gt.h"

/* Call once at program start, before any thread uses the client. */
gt_err gt_httpc_global_init(void);

/*
 * Sends method (GET or POST) to url with an optional JSON body (NULL for
 * none) and waits at most timeout_ms.  On success *status holds the HTTP
 * status and resp (appended) the body, at most resp_max bytes.  Errors:
 * GT_EIO (connection refused, DNS, reset: *status = 0), GT_ETIMEOUT,
 * GT_ELIMIT (response larger than resp_max), GT_ENOMEM.  err_text, when
 * not NULL, receives a one-line reason (errlen bytes).
 */
gt_err gt_httpc_request(const char *method, const char *url,
    const char *body, size_t body_len, long timeout_ms, size_t resp_max,
    long *status, gt_buf *resp, char *err_text, size_t errlen);

#endif /* GT_HTTPC_H */
