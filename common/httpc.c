/*
 * httpc.c — libcurl behind gt_httpc_request.
 */
#include "httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

gt_err gt_httpc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? GT_OK :
	    GT_ENOMEM;
}

typedef struct sink {
	gt_buf *out;
	size_t max, got;
	int over;
} sink;

static size_t sink_write(char *p, size_t size, size_t n, void *arg)
{
	sink *s = arg;
	size_t len = size * n;

	if (s->got + len > s->max) {
		s->over = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	gt_buf_append(s->out, p, len);
	s->got += len;
	return gt_buf_ok(s->out) ? len : 0;
}

gt_err gt_httpc_request(const char *method, const char *url,
    const char *body, size_t body_len, long timeout_ms, size_t resp_max,
    long *status, gt_buf *resp, char *err_text, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	sink s = {resp, resp_max, 0, 0};
	CURL *c;
	CURLcode rc;
	gt_err err = GT_OK;

	*status = 0;
	c = curl_easy_init();
	if (c == NULL)
		return GT_ENOMEM;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, GT_MIN(timeout_ms,
	    5000L));
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ?
		    body_len : 0));
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	} else {
		err = s.over ? GT_ELIMIT : rc == CURLE_OPERATION_TIMEDOUT ?
		    GT_ETIMEOUT : !gt_buf_ok(resp) ? GT_ENOMEM : GT_EIO;
		if (err_text != NULL)
			snprintf(err_text, errlen, "%s", s.over ?
			    "response too large" : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return err;
}
