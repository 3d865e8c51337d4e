/*
 * loadgen.c — a closed-loop HTTP/1.1 load generator for the DynamoDB API.
 *
 * Design:
 *   - One thread per connection, plain blocking sockets, keep-alive.  Each
 *     thread sends one request, reads the whole response, records the
 *     latency and sends the next: the offered load is whatever the server
 *     can answer (closed loop), so requests/s and latency are measured
 *     together and never pile up in a queue of our own.
 *   - Requests are what an SDK sends: POST / with Host, Content-Type
 *     application/x-amz-json-1.0, X-Amz-Target, X-Amz-Date, Content-Length
 *     and a SigV4-shaped Authorization header (the signature is zeros; the
 *     server runs in local mode and accepts any credentials).
 *   - Responses are parsed properly: status line, headers, then a body
 *     framed by Content-Length, by chunked transfer coding, or by the end of
 *     the connection.  A "Connection: close" from the server, or a
 *     keep-alive connection that the server dropped while idle, makes the
 *     thread reconnect; every new connection after the first is counted in
 *     reconnects=, which is how keep-alive support is checked.
 *   - Every run is bounded twice: by time (--seconds) and by the number of
 *     requests (--max-requests), and each socket call by --timeout-ms.
 *   - Latencies go into a log-bucketed histogram (32 sub-buckets per power
 *     of two of nanoseconds, so about 3% resolution) per thread, merged at
 *     the end.
 *
 * Operations:
 *   put           PutItem of fresh keys "<prefix><conn>-<n>" with an item of
 *                 about --item-bytes of JSON (several attribute types).
 *   get           GetItem of keys "<prefix><conn>-<i mod --keys>", i.e. the
 *                 keys a previous put phase with as many connections wrote;
 *                 a 200 without "Item" is counted in misses=.
 *   create-table  CreateTable (hash key "pk", type S; an existing table is
 *                 fine), then DescribeTable until the table is ACTIVE.
 *
 * Output: one line on stdout, key=value pairs in a fixed order, e.g.
 *   op=put conns=16 requests=123456 errors=0 seconds=5.00 rps=24691
 *   p50_us=512 p99_us=1900 p999_us=4100 max_us=9000 reconnects=0 misses=0
 *   keys_per_conn_min=7700
 * (all on one line).  The first error response is printed on stderr.  Exit
 * status: 0 if every request succeeded, 1 if some failed, 2 on bad usage or
 * when the server could not be reached at all.
 */
#include "gt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LG_CONNS_MAX 1024
#define LG_HEAD_MAX ((size_t)64 * 1024)
#define LG_BODY_MAX ((size_t)16 * 1024 * 1024)
#define LG_ITEM_BYTES_MAX 65536
#define LG_REQ_BODY_MAX (LG_ITEM_BYTES_MAX + 1024)
#define LG_REQ_HEAD_MAX 2048
#define LG_ERR_SHOW_MAX 512
#define LG_IO_FAILS_MAX 3

/* ------------------------------------------------------------ histogram */

/*
 * Values below LG_SUB are exact; above, each power of two is split into
 * LG_SUB equal buckets.  Index of v >= LG_SUB with msb m (m >= LG_SUB_BITS):
 * shift = m - LG_SUB_BITS, idx = LG_SUB + shift * LG_SUB + (v >> shift) -
 * LG_SUB.  This is continuous with the exact range and covers all of
 * uint64_t in (64 - LG_SUB_BITS + 1) * LG_SUB buckets.
 */
#define LG_SUB_BITS 5
#define LG_SUB (1u << LG_SUB_BITS)
#define LG_BUCKETS ((64 - LG_SUB_BITS + 1) * LG_SUB)

typedef struct lg_hist {
	uint64_t count[LG_BUCKETS];
	uint64_t n;
	uint64_t max;
} lg_hist;

static size_t lg_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < LG_SUB)
		return (size_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - LG_SUB_BITS;
	return LG_SUB + (size_t)shift * LG_SUB + (size_t)(v >> shift) - LG_SUB;
}

/* The middle of bucket idx, as a representative value. */
static uint64_t lg_hist_value(size_t idx)
{
	uint64_t shift, low;

	if (idx < LG_SUB)
		return idx;
	shift = (idx - LG_SUB) / LG_SUB;
	low = ((idx - LG_SUB) % LG_SUB + LG_SUB) << shift;
	return low + ((1ull << shift) >> 1);
}

static void lg_hist_add(lg_hist *h, uint64_t v)
{
	h->count[lg_hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void lg_hist_merge(lg_hist *into, const lg_hist *from)
{
	for (size_t i = 0; i < LG_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

/* The value at quantile q_permille / 1000 (nearest rank); 0 if empty. */
static uint64_t lg_hist_quantile(const lg_hist *h, unsigned q_permille)
{
	uint64_t rank, seen = 0, v;

	if (h->n == 0)
		return 0;
	rank = (h->n * q_permille + 999) / 1000;
	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < LG_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			v = lg_hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* --------------------------------------------------------------- options */

enum lg_op { LG_OP_PUT, LG_OP_GET, LG_OP_CREATE };

typedef struct lg_opts {
	const char *host;
	const char *port;
	const char *table;
	const char *key_prefix;
	enum lg_op op;
	unsigned conns;
	uint64_t duration_ns;
	bool duration_set;
	uint64_t max_requests;
	uint64_t keys;
	size_t item_bytes;
	unsigned gsis;      /* create-table: global secondary indexes */
	int timeout_ms;
} lg_opts;

static lg_opts g_opt = {
	.host = "127.0.0.1",
	.port = "8000",
	.table = "bench",
	.key_prefix = "k",
	.op = LG_OP_PUT,
	.conns = 16,
	.duration_ns = 5000000000ull,
	.max_requests = 10000000,
	.keys = 1000,
	.item_bytes = 200,
	.timeout_ms = 10000,
};

/* The data of an item is a slice of this, so no request allocates. */
static char g_pad[LG_ITEM_BYTES_MAX + 1];

/* ------------------------------------------------- shared run state */

static atomic_uint_fast64_t g_claimed;
static uint64_t g_deadline_ns;
static pthread_barrier_t g_start;
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_err_shown;

/* lg_first_error prints the first failed response of the run on stderr. */
static void lg_first_error(const char *what, int status, const char *body,
    size_t len)
{
	pthread_mutex_lock(&g_err_lock);
	if (!g_err_shown) {
		g_err_shown = true;
		if (len > LG_ERR_SHOW_MAX)
			len = LG_ERR_SHOW_MAX;
		if (status == 0)
			fprintf(stderr, "loadgen: first error: %s\n", what);
		else
			fprintf(stderr,
			    "loadgen: first error: %s status=%d body=%.*s\n",
			    what, status, (int)len, body != NULL ? body : "");
	}
	pthread_mutex_unlock(&g_err_lock);
}

/* ------------------------------------------------------------ one client */

/*
 * lg_conn is one keep-alive connection and its statistics.  rbuf holds
 * bytes received and not yet consumed; body holds a de-chunked body.
 */
typedef struct lg_conn {
	unsigned id;
	int fd;
	char *rbuf;
	size_t rlen, rcap;
	gt_buf body;
	uint64_t seq;        /* requests attempted: the next key number */
	uint64_t requests;   /* responses received (any status) */
	uint64_t errors;     /* non-200 responses and failed exchanges */
	uint64_t misses;     /* GetItem 200 without an Item */
	uint64_t connects;   /* successful connects */
	uint64_t uses;       /* responses on the current connection */
	bool timed_out;      /* the last socket call hit --timeout-ms */
	uint64_t end_ns;     /* when this thread stopped */
	bool connect_failed; /* never reached the server */
	lg_hist hist;
} lg_conn;

static int lg_connect(const lg_opts *o)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv;
	int fd = -1, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(o->host, o->port, &hints, &res) != 0)
		return -1;
	tv.tv_sec = o->timeout_ms / 1000;
	tv.tv_usec = (o->timeout_ms % 1000) * 1000;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return fd;
}

static void lg_conn_close(lg_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rlen = 0;
	c->uses = 0;
}

static int lg_conn_open(lg_conn *c, const lg_opts *o)
{
	lg_conn_close(c);
	c->fd = lg_connect(o);
	if (c->fd < 0)
		return -1;
	c->connects++;
	return 0;
}

static int lg_send_all(lg_conn *c, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = send(c->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			c->timed_out = true;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * lg_fill reads more bytes into rbuf, growing it up to limit.  Returns the
 * number of bytes read, 0 at end of stream, -1 on error or past the limit.
 */
static ssize_t lg_fill(lg_conn *c, size_t limit)
{
	size_t ncap;
	char *nb;
	ssize_t k;

	if (c->rlen == c->rcap) {
		if (c->rcap >= limit)
			return -1;
		ncap = c->rcap * 2;
		if (ncap > limit)
			ncap = limit;
		nb = realloc(c->rbuf, ncap);
		if (nb == NULL)
			return -1;
		c->rbuf = nb;
		c->rcap = ncap;
	}
	do {
		k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	} while (k < 0 && errno == EINTR);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		c->timed_out = true;
	if (k > 0)
		c->rlen += (size_t)k;
	return k;
}

/* Ensures rbuf holds at least n bytes; 0 on success. */
static int lg_need(lg_conn *c, size_t n)
{
	while (c->rlen < n)
		if (lg_fill(c, LG_HEAD_MAX + LG_BODY_MAX + 64) <= 0)
			return -1;
	return 0;
}

/* Drops the first n bytes of rbuf. */
static void lg_consume(lg_conn *c, size_t n)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
}

/* Finds "\r\n" in rbuf at or after from, reading more as needed. */
static int lg_line(lg_conn *c, size_t from, size_t *eol)
{
	char *p;

	for (;;) {
		if (c->rlen > from) {
			p = memmem(c->rbuf + from, c->rlen - from, "\r\n", 2);
			if (p != NULL) {
				*eol = (size_t)(p - c->rbuf);
				return 0;
			}
		}
		if (c->rlen - from > LG_HEAD_MAX)
			return -1;
		if (lg_fill(c, LG_HEAD_MAX + LG_BODY_MAX + 64) <= 0)
			return -1;
	}
}

/* Parses a decimal or hex size with a bound; -1 if malformed. */
static int lg_parse_size(const char *p, size_t n, int base, size_t *out)
{
	size_t v = 0;
	int d;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			return -1;
		v = v * (size_t)base + (size_t)d;
		if (v > LG_BODY_MAX)
			return -1;
	}
	*out = v;
	return 0;
}

static bool lg_hdr_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* The header's value with surrounding blanks trimmed. */
static void lg_hdr_value(const char *line, size_t n, const char **v,
    size_t *vn)
{
	const char *p = memchr(line, ':', n);
	const char *e = line + n;

	p = p != NULL ? p + 1 : e;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*v = p;
	*vn = (size_t)(e - p);
}

static bool lg_has_token(const char *v, size_t n, const char *tok)
{
	size_t k = strlen(tok);

	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(v + i, tok, k) == 0)
			return true;
	return false;
}

/* A parsed response; body points into the connection, valid until next. */
typedef struct lg_resp {
	int status;
	const char *body;
	size_t body_len;
	bool close;
	bool got_bytes; /* any byte of a response arrived */
} lg_resp;

/* Reads a chunked body into c->body; 0 on success. */
static int lg_read_chunked(lg_conn *c, size_t *used)
{
	size_t eol, n, ext;
	const char *semi;

	gt_buf_reset(&c->body);
	for (;;) {
		if (lg_line(c, 0, &eol) != 0)
			return -1;
		semi = memchr(c->rbuf, ';', eol);
		ext = semi != NULL ? (size_t)(semi - c->rbuf) : eol;
		while (ext > 0 && c->rbuf[ext - 1] == ' ')
			ext--;
		if (lg_parse_size(c->rbuf, ext, 16, &n) != 0)
			return -1;
		lg_consume(c, eol + 2);
		if (n == 0)
			break;
		if (c->body.len + n > LG_BODY_MAX || lg_need(c, n + 2) != 0)
			return -1;
		if (c->rbuf[n] != '\r' || c->rbuf[n + 1] != '\n')
			return -1;
		gt_buf_append(&c->body, c->rbuf, n);
		lg_consume(c, n + 2);
	}
	/* Trailer fields, then the empty line. */
	for (;;) {
		if (lg_line(c, 0, &eol) != 0)
			return -1;
		lg_consume(c, eol + 2);
		if (eol == 0)
			break;
	}
	if (!gt_buf_ok(&c->body))
		return -1;
	*used = 0;
	return 0;
}

/*
 * lg_read_response reads one whole response.  On success the caller must
 * call lg_consume(c, *used) after using r->body.  Returns -1 on I/O error,
 * timeout or a malformed response.
 */
static int lg_read_response(lg_conn *c, lg_resp *r, size_t *used)
{
	size_t eol, pos, head_end, clen = 0, vn;
	bool have_clen = false, chunked = false, http10 = false;
	const char *line, *v;

	memset(r, 0, sizeof(*r));
again:
	if (lg_line(c, 0, &eol) != 0) {
		r->got_bytes = c->rlen > 0;
		return -1;
	}
	r->got_bytes = true;
	line = c->rbuf;
	if (eol < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
		return -1;
	http10 = line[7] == '0';
	if (lg_parse_size(line + 9, 3, 10, &vn) != 0)
		return -1;
	r->status = (int)vn;
	r->close = http10;
	pos = eol + 2;
	for (;;) {
		if (lg_line(c, pos, &eol) != 0)
			return -1;
		if (eol == pos)
			break;
		line = c->rbuf + pos;
		if (lg_hdr_is(line, eol - pos, "Content-Length")) {
			lg_hdr_value(line, eol - pos, &v, &vn);
			if (lg_parse_size(v, vn, 10, &clen) != 0)
				return -1;
			have_clen = true;
		} else if (lg_hdr_is(line, eol - pos, "Transfer-Encoding")) {
			lg_hdr_value(line, eol - pos, &v, &vn);
			chunked = lg_has_token(v, vn, "chunked");
		} else if (lg_hdr_is(line, eol - pos, "Connection")) {
			lg_hdr_value(line, eol - pos, &v, &vn);
			if (lg_has_token(v, vn, "close"))
				r->close = true;
			else if (lg_has_token(v, vn, "keep-alive"))
				r->close = false;
		}
		pos = eol + 2;
	}
	head_end = pos + 2;
	if (r->status >= 100 && r->status < 200) {
		/* An interim response: skip it, the real one follows. */
		lg_consume(c, head_end);
		goto again;
	}
	lg_consume(c, head_end);
	if (r->status == 204 || r->status == 304) {
		*used = 0;
		return 0;
	}
	if (chunked) {
		if (lg_read_chunked(c, used) != 0)
			return -1;
		r->body = c->body.data;
		r->body_len = c->body.len;
		return 0;
	}
	if (!have_clen) {
		/* The body runs to the end of the connection. */
		for (;;) {
			ssize_t k = lg_fill(c, LG_BODY_MAX);
			if (k == 0)
				break;
			if (k < 0)
				return -1;
		}
		r->close = true;
		clen = c->rlen;
	}
	if (lg_need(c, clen) != 0)
		return -1;
	r->body = c->rbuf;
	r->body_len = clen;
	*used = clen;
	return 0;
}

/* ------------------------------------------------------------- requests */

static const char lg_auth[] =
    "AWS4-HMAC-SHA256 "
    "Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    "Signature=0000000000000000000000000000000000000000000000000000000000000000";

/*
 * lg_request formats one whole request (head and body) into out.  Returns
 * its length, or 0 if it does not fit.
 */
static size_t lg_request(char *out, size_t cap, const char *op,
    const char *body, size_t body_len)
{
	int n;

	n = snprintf(out, cap,
	    "POST / HTTP/1.1\r\n"
	    "Host: %s:%s\r\n"
	    "User-Agent: meridian-loadgen/1\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Content-Type: application/x-amz-json-1.0\r\n"
	    "X-Amz-Target: DynamoDB_20120810.%s\r\n"
	    "X-Amz-Date: 20260101T000000Z\r\n"
	    "Authorization: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "\r\n",
	    g_opt.host, g_opt.port, op, lg_auth, body_len);
	if (n < 0 || (size_t)n + body_len >= cap)
		return 0;
	memcpy(out + n, body, body_len);
	return (size_t)n + body_len;
}

/* The PutItem body for key: an item of about item_bytes of JSON. */
static size_t lg_put_body(char *out, size_t cap, const char *key,
    uint64_t seq)
{
	char item[LG_ITEM_BYTES_MAX + 256];
	size_t pad;
	int n, m;

	/* The item without its "data" string, to size the padding. */
	n = snprintf(item, sizeof(item),
	    "{\"pk\":{\"S\":\"%s\"},\"seq\":{\"N\":\"%llu\"},"
	    "\"live\":{\"BOOL\":true},\"tags\":{\"SS\":[\"a\",\"b\"]},"
	    "\"data\":{\"S\":\"\"}}",
	    key, (unsigned long long)seq);
	if (n < 0 || (size_t)n >= sizeof(item))
		return 0;
	pad = g_opt.item_bytes > (size_t)n ? g_opt.item_bytes - (size_t)n : 0;
	n = snprintf(item, sizeof(item),
	    "{\"pk\":{\"S\":\"%s\"},\"seq\":{\"N\":\"%llu\"},"
	    "\"live\":{\"BOOL\":true},\"tags\":{\"SS\":[\"a\",\"b\"]},"
	    "\"data\":{\"S\":\"%.*s\"}}",
	    key, (unsigned long long)seq, (int)pad, g_pad);
	if (n < 0 || (size_t)n >= sizeof(item))
		return 0;
	m = snprintf(out, cap, "{\"TableName\":\"%s\",\"Item\":%s}",
	    g_opt.table, item);
	if (m < 0 || (size_t)m >= cap)
		return 0;
	return (size_t)m;
}

static size_t lg_get_body(char *out, size_t cap, const char *key)
{
	int m = snprintf(out, cap,
	    "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"}}}",
	    g_opt.table, key);
	if (m < 0 || (size_t)m >= cap)
		return 0;
	return (size_t)m;
}

/*
 * lg_exchange sends req and reads the response into r, reconnecting when
 * the server closed the connection.  A keep-alive connection the server
 * dropped while idle fails before any response byte without a timeout;
 * that request is sent once more on a fresh connection, as HTTP clients do.
 * Returns 0 with r filled (the caller consumes *used), or -1 on a failed
 * exchange.
 */
static int lg_exchange(lg_conn *c, const char *req, size_t len, lg_resp *r,
    size_t *used)
{
	bool reused;

	for (int attempt = 0; attempt < 2; attempt++) {
		r->got_bytes = false;
		c->timed_out = false;
		if (c->fd < 0 && lg_conn_open(c, &g_opt) != 0)
			return -1;
		reused = c->uses > 0;
		if (lg_send_all(c, req, len) == 0 &&
		    lg_read_response(c, r, used) == 0) {
			c->uses++;
			return 0;
		}
		lg_conn_close(c);
		if (r->got_bytes || c->timed_out || !reused)
			return -1;
	}
	return -1;
}

static void *lg_worker(void *arg)
{
	lg_conn *c = arg;
	char *req = malloc(LG_REQ_HEAD_MAX + LG_REQ_BODY_MAX);
	char *body = malloc(LG_REQ_BODY_MAX);
	char key[128];
	unsigned fails = 0;
	uint64_t t0, t1, kn;
	size_t blen, len, used;
	lg_resp r;
	const char *op;

	if (lg_conn_open(c, &g_opt) != 0)
		c->connect_failed = true;
	pthread_barrier_wait(&g_start);
	if (req == NULL || body == NULL || c->connect_failed)
		goto out;
	op = g_opt.op == LG_OP_PUT ? "PutItem" : "GetItem";
	for (;;) {
		if (gt_mono_ns() >= g_deadline_ns)
			break;
		if (atomic_fetch_add(&g_claimed, 1) >= g_opt.max_requests)
			break;
		kn = g_opt.op == LG_OP_PUT ? c->seq : c->seq % g_opt.keys;
		(void)snprintf(key, sizeof(key), "%s%u-%llu", g_opt.key_prefix,
		    c->id, (unsigned long long)kn);
		if (g_opt.op == LG_OP_PUT)
			blen = lg_put_body(body, LG_REQ_BODY_MAX, key, c->seq);
		else
			blen = lg_get_body(body, LG_REQ_BODY_MAX, key);
		len = lg_request(req, LG_REQ_HEAD_MAX + LG_REQ_BODY_MAX, op,
		    body, blen);
		c->seq++;
		if (blen == 0 || len == 0) {
			c->errors++;
			lg_first_error("request too large", 0, NULL, 0);
			break;
		}
		t0 = gt_mono_ns();
		if (lg_exchange(c, req, len, &r, &used) != 0) {
			c->errors++;
			lg_first_error(c->timed_out ? "exchange timed out" :
			    "exchange failed (connection lost or malformed "
			    "response)", 0, NULL, 0);
			if (++fails >= LG_IO_FAILS_MAX)
				break;
			continue;
		}
		t1 = gt_mono_ns();
		fails = 0;
		c->requests++;
		lg_hist_add(&c->hist, t1 - t0);
		if (r.status != 200) {
			c->errors++;
			lg_first_error(op, r.status, r.body, r.body_len);
		} else if (g_opt.op == LG_OP_GET &&
		    memmem(r.body, r.body_len, "\"Item\"", 6) == NULL) {
			c->misses++;
		}
		lg_consume(c, used);
		if (r.close)
			lg_conn_close(c);
	}
out:
	c->end_ns = gt_mono_ns();
	lg_conn_close(c);
	free(req);
	free(body);
	return NULL;
}

static int lg_run_load(void)
{
	lg_conn *conns;
	pthread_t *tids;
	lg_hist *all;
	uint64_t start_ns = 0, end_ns = 0, requests = 0, errors = 0, misses = 0;
	uint64_t reconnects = 0, keys_min = UINT64_MAX, elapsed_ns, rps;
	unsigned started = 0, unreachable = 0;
	int code = 2;

	conns = calloc(g_opt.conns, sizeof(*conns));
	tids = calloc(g_opt.conns, sizeof(*tids));
	all = calloc(1, sizeof(*all));
	if (conns == NULL || tids == NULL || all == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		goto out;
	}
	if (pthread_barrier_init(&g_start, NULL, g_opt.conns + 1) != 0)
		goto out;
	for (unsigned i = 0; i < g_opt.conns; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		conns[i].rcap = 16384;
		conns[i].rbuf = malloc(conns[i].rcap);
		if (conns[i].rbuf == NULL)
			goto join;
	}
	for (unsigned i = 0; i < g_opt.conns; i++) {
		if (pthread_create(&tids[i], NULL, lg_worker, &conns[i]) != 0)
			break;
		started++;
	}
	if (started < g_opt.conns) {
		/*
		 * The barrier counts every connection; without them all the
		 * started threads would wait forever, so give up loudly.
		 */
		fprintf(stderr, "loadgen: cannot start %u threads\n",
		    g_opt.conns);
		exit(2);
	}
	/* The clock starts once every connection is open. */
	start_ns = gt_mono_ns();
	g_deadline_ns = start_ns + g_opt.duration_ns;
	pthread_barrier_wait(&g_start);
join:
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (started < g_opt.conns)
		goto out;
	for (unsigned i = 0; i < g_opt.conns; i++) {
		lg_conn *c = &conns[i];
		lg_hist_merge(all, &c->hist);
		requests += c->requests;
		errors += c->errors;
		misses += c->misses;
		if (c->connects > 0)
			reconnects += c->connects - 1;
		if (c->connect_failed)
			unreachable++;
		if (c->seq < keys_min)
			keys_min = c->seq;
		if (c->end_ns > end_ns)
			end_ns = c->end_ns;
	}
	if (unreachable == g_opt.conns) {
		fprintf(stderr, "loadgen: cannot connect to %s:%s\n",
		    g_opt.host, g_opt.port);
		goto out;
	}
	elapsed_ns = end_ns > start_ns ? end_ns - start_ns : 1;
	rps = (uint64_t)((double)requests * 1e9 / (double)elapsed_ns);
	printf("op=%s conns=%u requests=%llu errors=%llu seconds=%.2f "
	       "rps=%llu p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu "
	       "reconnects=%llu misses=%llu keys_per_conn_min=%llu\n",
	    g_opt.op == LG_OP_PUT ? "put" : "get", g_opt.conns,
	    (unsigned long long)requests, (unsigned long long)errors,
	    (double)elapsed_ns / 1e9, (unsigned long long)rps,
	    (unsigned long long)(lg_hist_quantile(all, 500) + 500) / 1000,
	    (unsigned long long)(lg_hist_quantile(all, 990) + 500) / 1000,
	    (unsigned long long)(lg_hist_quantile(all, 999) + 500) / 1000,
	    (unsigned long long)(all->max + 500) / 1000,
	    (unsigned long long)reconnects, (unsigned long long)misses,
	    (unsigned long long)keys_min);
	fflush(stdout);
	code = errors > 0 || unreachable > 0 ? 1 : 0;
out:
	if (conns != NULL) {
		for (unsigned i = 0; i < g_opt.conns; i++) {
			free(conns[i].rbuf);
			gt_buf_free(&conns[i].body);
		}
	}
	free(conns);
	free(tids);
	free(all);
	return code;
}

/* ---------------------------------------------------------- create-table */

/*
 * lg_call sends one request on c and returns the status, or -1 when the
 * exchange failed.  The body is copied into out (owned by the caller).
 */
static int lg_call(lg_conn *c, const char *op, const char *body,
    gt_buf *out)
{
	char req[LG_REQ_HEAD_MAX + 1024];
	size_t len, used;
	lg_resp r;

	len = lg_request(req, sizeof(req), op, body, strlen(body));
	if (len == 0 || lg_exchange(c, req, len, &r, &used) != 0)
		return -1;
	gt_buf_reset(out);
	gt_buf_append(out, r.body != NULL ? r.body : "", r.body_len);
	lg_consume(c, used);
	if (r.close)
		lg_conn_close(c);
	return r.status;
}

static bool lg_table_active(const gt_buf *b)
{
	cJSON *doc, *t, *s;
	bool active = false;

	doc = cJSON_ParseWithLength(b->data != NULL ? b->data : "", b->len);
	t = cJSON_GetObjectItemCaseSensitive(doc, "Table");
	s = cJSON_GetObjectItemCaseSensitive(t, "TableStatus");
	if (cJSON_IsString(s) && s->valuestring != NULL)
		active = strcmp(s->valuestring, "ACTIVE") == 0;
	cJSON_Delete(doc);
	return active;
}

static int lg_run_create(void)
{
	lg_conn c;
	gt_buf out = GT_BUF_INIT;
	char body[2048];
	gt_buf gsi = GT_BUF_INIT;
	uint64_t start_ns, limit_ns;
	const char *state = "TIMEOUT";
	int st, n, code = 1;
	struct timespec pause = {0, 20 * 1000 * 1000};

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.rcap = 16384;
	c.rbuf = malloc(c.rcap);
	if (c.rbuf == NULL)
		return 2;
	start_ns = gt_mono_ns();
	limit_ns = g_opt.duration_set ? g_opt.duration_ns : 10000000000ull;
	/* Every put writes "seq" (N) and "pk": index i is keyed on seq,
	 * with pk as its sort key from the second index on. */
	if (g_opt.gsis > 0) {
		gt_buf_puts(&gsi, ",{\"AttributeName\":\"seq\","
		    "\"AttributeType\":\"N\"}],\"GlobalSecondaryIndexes\":[");
		for (unsigned i = 0; i < g_opt.gsis; i++)
			gt_buf_printf(&gsi, "%s{\"IndexName\":\"by_seq%u\","
			    "\"KeySchema\":[{\"AttributeName\":\"seq\","
			    "\"KeyType\":\"HASH\"}%s],\"Projection\":"
			    "{\"ProjectionType\":\"%s\"}}", i ? "," : "", i,
			    i ? ",{\"AttributeName\":\"pk\",\"KeyType\":"
			    "\"RANGE\"}" : "", i % 2 ? "ALL" : "KEYS_ONLY");
		gt_buf_putc(&gsi, ']');
	} else {
		gt_buf_putc(&gsi, ']');
	}
	if (!gt_buf_ok(&gsi))
		goto out;
	n = snprintf(body, sizeof(body),
	    "{\"TableName\":\"%s\","
	    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
	    "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
	    "\"AttributeType\":\"S\"}%.*s,"
	    "\"BillingMode\":\"PAY_PER_REQUEST\"}",
	    g_opt.table, (int)gsi.len, gsi.data);
	if (n < 0 || (size_t)n >= sizeof(body))
		goto out;
	st = lg_call(&c, "CreateTable", body, &out);
	if (st < 0) {
		fprintf(stderr, "loadgen: cannot reach %s:%s\n", g_opt.host,
		    g_opt.port);
		code = 2;
		goto out;
	}
	if (st != 200 && !(st == 400 && out.data != NULL &&
			     strstr(out.data, "ResourceInUseException"))) {
		lg_first_error("CreateTable", st, out.data, out.len);
		state = "FAILED";
		goto report;
	}
	(void)snprintf(body, sizeof(body), "{\"TableName\":\"%s\"}",
	    g_opt.table);
	while (gt_mono_ns() - start_ns < limit_ns) {
		st = lg_call(&c, "DescribeTable", body, &out);
		if (st == 200 && lg_table_active(&out)) {
			state = "ACTIVE";
			code = 0;
			break;
		}
		if (st != 200 && st != -1) {
			lg_first_error("DescribeTable", st, out.data, out.len);
			state = "FAILED";
			break;
		}
		nanosleep(&pause, NULL);
	}
report:
	printf("op=create-table table=%s status=%s seconds=%.2f\n",
	    g_opt.table, state, (double)(gt_mono_ns() - start_ns) / 1e9);
out:
	lg_conn_close(&c);
	free(c.rbuf);
	gt_buf_free(&c.body);
	gt_buf_free(&out);
	gt_buf_free(&gsi);
	return code;
}

/* ------------------------------------------------------------------ main */

static void lg_usage(FILE *f)
{
	fprintf(f,
	    "usage: loadgen --op put|get|create-table [options]\n"
	    "  --host ADDR          server address (127.0.0.1)\n"
	    "  --port N             server port (8000)\n"
	    "  --table NAME         table (bench)\n"
	    "  --conns N            keep-alive connections, one thread each "
	    "(16)\n"
	    "  --seconds S          run time; create-table: wait bound (5; "
	    "10)\n"
	    "  --max-requests N     stop after N requests in all "
	    "(10000000)\n"
	    "  --keys N             get: keys per connection to cycle over "
	    "(1000)\n"
	    "  --key-prefix P       keys are P<conn>-<n> (k)\n"
	    "  --item-bytes N       put: JSON size of each item (200)\n"
	    "  --gsi N              create-table: N (0-4) global secondary "
	    "indexes on\n"
	    "                       the items' seq attribute (0)\n"
	    "  --timeout-ms N       per socket call (10000)\n");
}

static int lg_parse_u64(const char *s, uint64_t lo, uint64_t hi,
    uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi)
		return -1;
	*out = v;
	return 0;
}

static int lg_parse_args(int argc, char **argv)
{
	uint64_t v;
	double secs;
	char *end;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0) {
			lg_usage(stdout);
			exit(0);
		}
		if (val == NULL)
			return -1;
		i++;
		if (strcmp(a, "--op") == 0) {
			if (strcmp(val, "put") == 0)
				g_opt.op = LG_OP_PUT;
			else if (strcmp(val, "get") == 0)
				g_opt.op = LG_OP_GET;
			else if (strcmp(val, "create-table") == 0)
				g_opt.op = LG_OP_CREATE;
			else
				return -1;
		} else if (strcmp(a, "--host") == 0) {
			g_opt.host = val;
		} else if (strcmp(a, "--port") == 0) {
			if (lg_parse_u64(val, 1, 65535, &v) != 0)
				return -1;
			g_opt.port = val;
		} else if (strcmp(a, "--table") == 0) {
			if (strlen(val) < 3 || strlen(val) > 255 ||
			    strpbrk(val, "\"\\") != NULL)
				return -1;
			g_opt.table = val;
		} else if (strcmp(a, "--key-prefix") == 0) {
			if (strlen(val) > 64 || strpbrk(val, "\"\\") != NULL)
				return -1;
			g_opt.key_prefix = val;
		} else if (strcmp(a, "--conns") == 0) {
			if (lg_parse_u64(val, 1, LG_CONNS_MAX, &v) != 0)
				return -1;
			g_opt.conns = (unsigned)v;
		} else if (strcmp(a, "--seconds") == 0) {
			errno = 0;
			secs = strtod(val, &end);
			if (errno != 0 || end == val || *end != '\0' ||
			    !(secs > 0 && secs <= 3600))
				return -1;
			g_opt.duration_ns = (uint64_t)(secs * 1e9);
			g_opt.duration_set = true;
		} else if (strcmp(a, "--max-requests") == 0) {
			if (lg_parse_u64(val, 1, UINT64_MAX / 2, &v) != 0)
				return -1;
			g_opt.max_requests = v;
		} else if (strcmp(a, "--keys") == 0) {
			if (lg_parse_u64(val, 1, UINT64_MAX / 2, &v) != 0)
				return -1;
			g_opt.keys = v;
		} else if (strcmp(a, "--item-bytes") == 0) {
			if (lg_parse_u64(val, 1, LG_ITEM_BYTES_MAX, &v) != 0)
				return -1;
			g_opt.item_bytes = (size_t)v;
		} else if (strcmp(a, "--gsi") == 0) {
			if (lg_parse_u64(val, 0, 4, &v) != 0)
				return -1;
			g_opt.gsis = (unsigned)v;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (lg_parse_u64(val, 1, 600000, &v) != 0)
				return -1;
			g_opt.timeout_ms = (int)v;
		} else {
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char alphabet[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	if (lg_parse_args(argc, argv) != 0) {
		lg_usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < LG_ITEM_BYTES_MAX; i++)
		g_pad[i] = alphabet[i % (sizeof(alphabet) - 1)];
	if (g_opt.op == LG_OP_CREATE)
		return lg_run_create();
	return lg_run_load();
}
