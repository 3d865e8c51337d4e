/*
 * gt.c — errors, logging, buffers, readers, clocks and base64 shared by every
 * module.  See gt.h for the contracts.
 */
#include "gt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const gt_errstr[GT_ERR_COUNT_] = {
	[GT_OK] = "success",
	[GT_ENOMEM] = "out of memory",
	[GT_EINVAL] = "invalid argument",
	[GT_ENOTFOUND] = "not found",
	[GT_EEXIST] = "already exists",
	[GT_ELIMIT] = "limit exceeded",
	[GT_EIO] = "input/output error",
	[GT_ECORRUPT] = "corrupt data",
	[GT_EBUSY] = "resource busy",
	[GT_ECLOSED] = "closed",
	[GT_ETIMEOUT] = "timed out",
	[GT_EAUTH] = "authentication failed",
	[GT_ECONFLICT] = "conflict",
	[GT_EOVERFLOW] = "numeric overflow",
	[GT_ESTATE] = "object in error state",
};

const char *gt_strerror(gt_err err)
{
	if ((unsigned)err >= GT_ERR_COUNT_)
		return "unknown error";
	return gt_errstr[err];
}

/* ---------------------------------------------------------------- logging */

gt_log_level gt_log_min = GT_LOG_INFO;

static const char *const gt_level_name[] = {"DEBUG", "INFO", "WARN", "ERROR",
    "OFF"};

void gt_log_write(gt_log_level level, const char *module, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s ",
	    ts.tv_nsec / 1000000, gt_level_name[level], module);
	if (k > 0)
		n += (size_t)k;
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (k > 0)
			n += (size_t)k;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line keeps lines whole when threads log at once. */
	(void)fwrite(line, 1, n, stderr);
}

gt_err gt_log_level_parse(const char *s, gt_log_level *out)
{
	static const char *const names[] = {"debug", "info", "warn", "error",
	    "off"};
	for (size_t i = 0; i < GT_ARRAY_LEN(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (gt_log_level)i;
			return GT_OK;
		}
	}
	return GT_EINVAL;
}

/* ---------------------------------------------------------------- buffer */

void gt_buf_free(gt_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

void gt_buf_reset(gt_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->data)
		b->data[0] = '\0';
}

int gt_buf_reserve(gt_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - b->len - 1) {
		b->oom = 1;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void gt_buf_append(gt_buf *b, const void *p, size_t n)
{
	if (gt_buf_reserve(b, n) != 0)
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void gt_buf_puts(gt_buf *b, const char *s) { gt_buf_append(b, s, strlen(s)); }

void gt_buf_putc(gt_buf *b, char c) { gt_buf_append(b, &c, 1); }

void gt_buf_vprintf(gt_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int k;

	if (gt_buf_reserve(b, 64) != 0)
		return;
	va_copy(ap2, ap);
	k = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (k < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)k >= b->cap - b->len) {
		if (gt_buf_reserve(b, (size_t)k) != 0)
			return;
		k = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
	}
	b->len += (size_t)k;
}

void gt_buf_printf(gt_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gt_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void gt_buf_json_str(gt_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	if (gt_buf_reserve(b, n + 2) != 0)
		return;
	gt_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t el = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		gt_buf_append(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		gt_buf_append(b, esc, el);
	}
	gt_buf_append(b, s + run, n - run);
	gt_buf_putc(b, '"');
}

void gt_buf_put_u8(gt_buf *b, uint8_t v) { gt_buf_append(b, &v, 1); }

void gt_buf_put_u16be(gt_buf *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	gt_buf_append(b, p, 2);
}

void gt_buf_put_u32be(gt_buf *b, uint32_t v)
{
	uint8_t p[4];
	gt_put_u32be(p, v);
	gt_buf_append(b, p, 4);
}

void gt_buf_put_u64be(gt_buf *b, uint64_t v)
{
	uint8_t p[8];
	gt_put_u64be(p, v);
	gt_buf_append(b, p, 8);
}

char *gt_buf_steal(gt_buf *b, size_t *len)
{
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---------------------------------------------------------------- reader */

const uint8_t *gt_rd_bytes(gt_rd *r, size_t n)
{
	const uint8_t *p;
	if (r->err || r->n < n) {
		r->err = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->n -= n;
	return p;
}

uint8_t gt_rd_u8(gt_rd *r)
{
	const uint8_t *p = gt_rd_bytes(r, 1);
	return p ? p[0] : 0;
}

uint16_t gt_rd_u16be(gt_rd *r)
{
	const uint8_t *p = gt_rd_bytes(r, 2);
	return p ? gt_get_u16be(p) : 0;
}

uint32_t gt_rd_u32be(gt_rd *r)
{
	const uint8_t *p = gt_rd_bytes(r, 4);
	return p ? gt_get_u32be(p) : 0;
}

uint64_t gt_rd_u64be(gt_rd *r)
{
	const uint8_t *p = gt_rd_bytes(r, 8);
	return p ? gt_get_u64be(p) : 0;
}

/* ---------------------------------------------------------------- clocks */

uint64_t gt_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t gt_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- base64 */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void gt_base64_encode(gt_buf *out, const uint8_t *p, size_t n)
{
	size_t i;
	char q[4];

	if (gt_buf_reserve(out, (n + 2) / 3 * 4) != 0)
		return;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) |
		    p[i + 2];
		q[0] = b64[v >> 18];
		q[1] = b64[(v >> 12) & 63];
		q[2] = b64[(v >> 6) & 63];
		q[3] = b64[v & 63];
		gt_buf_append(out, q, 4);
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		q[0] = b64[v >> 18];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = '=';
		gt_buf_append(out, q, 4);
	}
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t gt_base64_decoded_len(const char *s, size_t n)
{
	size_t pad = 0;
	if (n < 4)
		return 0;
	if (n >= 1 && s[n - 1] == '=')
		pad++;
	if (n >= 2 && s[n - 2] == '=')
		pad++;
	return n / 4 * 3 - pad;
}

gt_err gt_base64_decode(gt_buf *out, const char *s, size_t n)
{
	size_t i;

	if (n % 4 != 0)
		return GT_EINVAL;
	if (gt_buf_reserve(out, n / 4 * 3) != 0)
		return GT_ENOMEM;
	for (i = 0; i < n; i += 4) {
		int a = b64_val(s[i]), b = b64_val(s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : b64_val(s[i + 2]);
		int d = s[i + 3] == '=' ? -2 : b64_val(s[i + 3]);
		int last = i + 4 == n;
		uint8_t o[3];

		if (a < 0 || b < 0 || c == -1 || d == -1)
			return GT_EINVAL;
		if (!last && (c < 0 || d < 0))
			return GT_EINVAL;
		if (c == -2 && d != -2)
			return GT_EINVAL;
		o[0] = (uint8_t)((a << 2) | (b >> 4));
		if (c == -2) {
			if (b & 15)
				return GT_EINVAL; /* non-canonical padding bits */
			gt_buf_append(out, o, 1);
			continue;
		}
		o[1] = (uint8_t)(((b & 15) << 4) | (c >> 2));
		if (d == -2) {
			if (c & 3)
				return GT_EINVAL;
			gt_buf_append(out, o, 2);
			continue;
		}
		o[2] = (uint8_t)(((c & 3) << 6) | d);
		gt_buf_append(out, o, 3);
	}
	return gt_buf_ok(out) ? GT_OK : GT_ENOMEM;
}
