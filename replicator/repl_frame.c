/*
 * repl_frame.c — encoding and decoding of replication frames (the layout
 * is documented byte by byte in repl.h).
 *
 * Design.  Frames cross a network between regions, so the decoder treats
 * every byte as hostile:
 *
 *  1. Framing first.  The total size, magic, version and body length are
 *     checked before anything else is read; a frame is exactly
 *     header + body + MAC.
 *  2. Authentication before parsing.  The MAC (HMAC-SHA256 under the
 *     cluster key, compared with CRYPTO_memcmp) is checked before the body
 *     parser sees a byte, so an outsider cannot reach it.  The parser is
 *     still strict, because a peer holding the key can be buggy.
 *  3. Every read is bounded.  The body is read through gt_rd, which turns
 *     a short read into a sticky error instead of an out-of-bounds read;
 *     every length is checked against its limit before it is used.
 *  4. One validator for both directions.  rec_check is used by the
 *     encoder on each record it is given and by the decoder on each record
 *     it reads, so the encoder produces nothing the decoder rejects, and a
 *     decoded batch can be applied without any further checks.
 *  5. Whole-batch validation.  repl_batch_decode checks every record
 *     before it returns, so the apply loop (repl_batch_next) never meets a
 *     malformed record halfway through a transaction.
 *
 * The MAC uses OpenSSL 3's EVP_MAC.  The algorithm is fetched once per key
 * (repl_key_init); each frame gets its own short-lived context, so one key
 * is safely shared between threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "conflict.h"
#include "gt.h"
#include "repl.h"

/* The largest record must fit in one frame with a minimal batch header. */
#define REC_FIXED_LEN (8u + 1u + 1u + 8u + 1u + 4u + 4u + 2u)
#define BATCH_FIXED_LEN (1u + CF_REGION_NAME_LEN_MAX + 5u * 8u + 4u)
_Static_assert(REPL_FRAME_OVERHEAD + BATCH_FIXED_LEN + REC_FIXED_LEN +
    REPL_TABLE_NAME_MAX + REPL_KEY_JSON_MAX + REPL_IMAGE_MAX +
    CF_META_ENCODED_MAX <= REPL_FRAME_MAX, "a record must fit a frame");
_Static_assert(REPL_FRAME_MIN_BATCH <= REPL_FRAME_MAX, "min batch");

/* ------------------------------------------------------------------- key */

gt_err repl_key_init(repl_key *k, const uint8_t *p, size_t n)
{
	EVP_MAC *mac;

	if (k == NULL || p == NULL || n < REPL_KEY_LEN_MIN ||
	    n > REPL_KEY_LEN_MAX)
		return GT_EINVAL;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return GT_ENOMEM;
	memset(k, 0, sizeof(*k));
	memcpy(k->bytes, p, n);
	k->len = n;
	k->mac = mac;
	return GT_OK;
}

void repl_key_free(repl_key *k)
{
	if (k == NULL)
		return;
	EVP_MAC_free((EVP_MAC *)k->mac);
	OPENSSL_cleanse(k->bytes, sizeof(k->bytes));
	k->mac = NULL;
	k->len = 0;
}

/*
 * Computes HMAC-SHA256 of the n bytes at p into out.  Returns 0 on
 * success, -1 when OpenSSL fails (out of memory, in practice).
 */
static int frame_mac(const repl_key *k, const uint8_t *p, size_t n,
    uint8_t out[REPL_FRAME_MAC_LEN])
{
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	char digest[] = "SHA256";
	size_t outl = 0;
	int ok;

	ctx = EVP_MAC_CTX_new((EVP_MAC *)k->mac);
	if (ctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, k->bytes, k->len, params) == 1 &&
	    EVP_MAC_update(ctx, p, n) == 1 &&
	    EVP_MAC_final(ctx, out, &outl, REPL_FRAME_MAC_LEN) == 1 &&
	    outl == REPL_FRAME_MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int key_ok(const repl_key *k)
{
	return k != NULL && k->mac != NULL && k->len >= REPL_KEY_LEN_MIN &&
	    k->len <= REPL_KEY_LEN_MAX;
}

/* --------------------------------------------------------------- framing */

/* Appends a header with a zero body length; frame_close patches it. */
static void frame_open_write(gt_buf *out, uint8_t type, uint16_t flags)
{
	gt_buf_append(out, REPL_FRAME_MAGIC, 4);
	gt_buf_put_u8(out, REPL_FRAME_VERSION);
	gt_buf_put_u8(out, type);
	gt_buf_put_u16be(out, flags);
	gt_buf_put_u32be(out, 0);
}

/*
 * Finishes the frame that starts at offset start of out: patches the body
 * length and appends the MAC.  On error out is cut back to start (unless
 * it is out of memory, which it then stays).
 */
static gt_err frame_close(gt_buf *out, size_t start, const repl_key *key)
{
	uint8_t mac[REPL_FRAME_MAC_LEN];
	size_t body;

	if (!gt_buf_ok(out))
		return GT_ENOMEM;
	body = out->len - start - REPL_FRAME_HDR_LEN;
	if (body > REPL_FRAME_MAX - REPL_FRAME_OVERHEAD) {
		out->len = start;
		return GT_ELIMIT;
	}
	gt_put_u32be((uint8_t *)out->data + start + 8, (uint32_t)body);
	if (frame_mac(key, (const uint8_t *)out->data + start,
	    out->len - start, mac) != 0) {
		out->len = start;
		return GT_ENOMEM;
	}
	gt_buf_append(out, mac, sizeof(mac));
	if (!gt_buf_ok(out))
		return GT_ENOMEM;
	return GT_OK;
}

/* Checks the framing only; sets *type, *flags, *body_len. */
static gt_err frame_check(const uint8_t *f, size_t n, uint8_t *type,
    uint16_t *flags, size_t *body_len)
{
	size_t b;

	if (f == NULL || n < REPL_FRAME_OVERHEAD || n > REPL_FRAME_MAX)
		return GT_ECORRUPT;
	if (memcmp(f, REPL_FRAME_MAGIC, 4) != 0 ||
	    f[4] != REPL_FRAME_VERSION)
		return GT_ECORRUPT;
	b = gt_get_u32be(f + 8);
	if (b != n - REPL_FRAME_OVERHEAD)
		return GT_ECORRUPT;
	*type = f[5];
	*flags = gt_get_u16be(f + 6);
	*body_len = b;
	return GT_OK;
}

gt_err repl_frame_peek(const uint8_t *f, size_t n, uint8_t *type)
{
	uint8_t t;
	uint16_t fl;
	size_t b;
	gt_err err = frame_check(f, n, &t, &fl, &b);

	if (err != GT_OK)
		return err;
	if (type != NULL)
		*type = t;
	return GT_OK;
}

/*
 * Checks framing and MAC and that the frame has type want; on success
 * *rd reads the body and *flags holds the header flags.
 */
static gt_err frame_open_read(const uint8_t *f, size_t n,
    const repl_key *key, uint8_t want, uint16_t *flags, gt_rd *rd)
{
	uint8_t mac[REPL_FRAME_MAC_LEN], type;
	size_t body;
	gt_err err;

	if (!key_ok(key))
		return GT_EINVAL;
	err = frame_check(f, n, &type, flags, &body);
	if (err != GT_OK)
		return err;
	if (frame_mac(key, f, REPL_FRAME_HDR_LEN + body, mac) != 0)
		return GT_ENOMEM;
	if (CRYPTO_memcmp(mac, f + REPL_FRAME_HDR_LEN + body,
	    REPL_FRAME_MAC_LEN) != 0)
		return GT_EAUTH;
	if (type != want)
		return GT_ECORRUPT;
	rd->p = f + REPL_FRAME_HDR_LEN;
	rd->n = body;
	rd->err = 0;
	return GT_OK;
}

/* ----------------------------------------------------------------- names */

/* Length of a valid region name, or 0 when name is not one. */
static size_t name_len(const char *name)
{
	if (!cf_region_name_valid(name))
		return 0;
	return strnlen(name, CF_REGION_NAME_MAX);
}

static void put_name(gt_buf *out, const char *name, size_t len)
{
	gt_buf_put_u8(out, (uint8_t)len);
	gt_buf_append(out, name, len);
}

/* Reads a length-prefixed region name into out (NUL-padded). */
static int rd_name(gt_rd *rd, char out[CF_REGION_NAME_MAX])
{
	uint8_t l = gt_rd_u8(rd);
	const uint8_t *p;

	if (rd->err || l == 0 || l > CF_REGION_NAME_LEN_MAX)
		return -1;
	p = gt_rd_bytes(rd, l);
	if (p == NULL)
		return -1;
	memset(out, 0, CF_REGION_NAME_MAX);
	memcpy(out, p, l);
	return cf_region_name_valid(out) ? 0 : -1;
}

/* ------------------------------------------------------------------ PULL */

gt_err repl_pull_encode(const repl_pull *p, const repl_key *key,
    gt_buf *out)
{
	size_t start, fl, tl;

	if (p == NULL || out == NULL || !key_ok(key))
		return GT_EINVAL;
	fl = name_len(p->from);
	tl = name_len(p->to);
	if (fl == 0 || tl == 0 || p->pull_id == 0 ||
	    p->wait_ms > REPL_WAIT_MAX_MS || p->ack_seq > p->after_seq)
		return GT_EINVAL;
	start = out->len;
	frame_open_write(out, REPL_FRAME_PULL, 0);
	put_name(out, p->from, fl);
	put_name(out, p->to, tl);
	gt_buf_put_u64be(out, p->pull_id);
	gt_buf_put_u64be(out, p->after_seq);
	gt_buf_put_u64be(out, p->topo_epoch);
	gt_buf_put_u64be(out, p->ack_seq);
	gt_buf_put_u32be(out, p->max_bytes);
	gt_buf_put_u32be(out, p->wait_ms);
	return frame_close(out, start, key);
}

gt_err repl_pull_decode(const uint8_t *f, size_t n, const repl_key *key,
    repl_pull *out)
{
	repl_pull p;
	uint16_t flags;
	gt_rd rd;
	gt_err err;

	if (out == NULL)
		return GT_EINVAL;
	err = frame_open_read(f, n, key, REPL_FRAME_PULL, &flags, &rd);
	if (err != GT_OK)
		return err;
	if (flags != 0)
		return GT_ECORRUPT;
	memset(&p, 0, sizeof(p));
	if (rd_name(&rd, p.from) != 0 || rd_name(&rd, p.to) != 0)
		return GT_ECORRUPT;
	p.pull_id = gt_rd_u64be(&rd);
	p.after_seq = gt_rd_u64be(&rd);
	p.topo_epoch = gt_rd_u64be(&rd);
	p.ack_seq = gt_rd_u64be(&rd);
	p.max_bytes = gt_rd_u32be(&rd);
	p.wait_ms = gt_rd_u32be(&rd);
	if (rd.err || rd.n != 0 || p.pull_id == 0 ||
	    p.wait_ms > REPL_WAIT_MAX_MS || p.ack_seq > p.after_seq)
		return GT_ECORRUPT;
	*out = p;
	return GT_OK;
}

/* ----------------------------------------------------------------- BATCH */

static size_t rec_encoded_len(const repl_rec *r)
{
	return REC_FIXED_LEN + r->table_len + r->key_len + r->image_len +
	    r->meta_len;
}

/*
 * rec_check returns 1 when r may appear in a batch from origin after a
 * record with seq prev (after_seq for the first), in a batch whose head is
 * head_seq; else 0.  See the BATCH layout in repl.h for the rules.
 */
static int rec_check(const repl_rec *r, const char *origin, uint64_t prev,
    uint64_t head_seq)
{
	cf_version v;
	size_t used = 0;

	if (r->origin_seq <= prev || r->origin_seq > head_seq || r->hlc == 0)
		return 0;
	if (r->op < REPL_OP_PUT || r->op > REPL_OP_CLUSTER)
		return 0;
	if ((r->flags & ~REPL_REC_F_SERVICE) != 0)
		return 0;
	if (r->table_len == 0 || r->table_len > REPL_TABLE_NAME_MAX ||
	    r->table == NULL)
		return 0;
	if (r->key_len == 0 || r->key_len > REPL_KEY_JSON_MAX ||
	    r->key == NULL)
		return 0;
	if (r->image_len > REPL_IMAGE_MAX ||
	    (r->image_len > 0 && r->image == NULL))
		return 0;
	if (r->meta_len > CF_META_ENCODED_MAX ||
	    (r->meta_len > 0 && r->meta == NULL))
		return 0;
	if (r->op >= REPL_OP_TABLE_CREATE) /* control records */
		return r->meta_len == 0;
	if (r->op == REPL_OP_PUT && r->image_len == 0)
		return 0;
	if (r->op == REPL_OP_DELETE && r->image_len != 0)
		return 0;
	if (r->meta_len == 0)
		return 0;
	if (cf_meta_decode(r->meta, r->meta_len, &v, &used) != GT_OK ||
	    used != r->meta_len)
		return 0;
	/* The meta must describe this very record: same delete flag, same
	 * stamp, and the origin's own dot (origin, origin_seq). */
	if (v.tombstone != (r->op == REPL_OP_DELETE) || v.stamp.hlc != r->hlc)
		return 0;
	if (strncmp(v.stamp.origin, origin, CF_REGION_NAME_MAX) != 0)
		return 0;
	return cf_vv_get(&v.vv, origin) == r->origin_seq;
}

gt_err repl_batch_enc_begin(repl_batch_enc *e, gt_buf *out,
    const char *origin, const repl_batch_info *info, size_t max_bytes)
{
	size_t ol, start;

	if (e == NULL || out == NULL || info == NULL)
		return GT_EINVAL;
	ol = name_len(origin);
	if (ol == 0 || info->trunc_seq > info->head_seq ||
	    (info->flags & ~REPL_BATCH_F_RESYNC) != 0)
		return GT_EINVAL;
	start = out->len;
	frame_open_write(out, REPL_FRAME_BATCH, info->flags);
	put_name(out, origin, ol);
	gt_buf_put_u64be(out, info->pull_id);
	gt_buf_put_u64be(out, info->after_seq);
	gt_buf_put_u64be(out, info->head_seq);
	gt_buf_put_u64be(out, info->trunc_seq);
	gt_buf_put_u64be(out, info->origin_hlc);
	gt_buf_put_u32be(out, 0);
	if (!gt_buf_ok(out))
		return GT_ENOMEM;
	memset(e, 0, sizeof(*e));
	e->out = out;
	e->start = start;
	e->count_off = out->len - 4;
	if (max_bytes < REPL_FRAME_MIN_BATCH)
		max_bytes = REPL_FRAME_MIN_BATCH;
	if (max_bytes > REPL_FRAME_MAX)
		max_bytes = REPL_FRAME_MAX;
	e->max_bytes = max_bytes;
	e->after_seq = info->after_seq;
	e->head_seq = info->head_seq;
	e->last_seq = info->after_seq;
	memcpy(e->origin, origin, ol);
	e->resync = (info->flags & REPL_BATCH_F_RESYNC) != 0;
	e->err = GT_OK;
	return GT_OK;
}

gt_err repl_batch_enc_add(repl_batch_enc *e, const repl_rec *r)
{
	size_t need, cur;
	gt_buf *out;

	if (e == NULL || e->out == NULL)
		return GT_EINVAL;
	if (e->err != GT_OK)
		return e->err;
	if (r == NULL || !rec_check(r, e->origin, e->last_seq, e->head_seq)) {
		e->err = GT_EINVAL;
		return GT_EINVAL;
	}
	if (e->resync || e->count >= REPL_BATCH_RECORDS_MAX)
		return GT_ELIMIT;
	out = e->out;
	cur = out->len - e->start + REPL_FRAME_MAC_LEN;
	need = rec_encoded_len(r);
	if (cur + need > REPL_FRAME_MAX ||
	    (e->count > 0 && cur + need > e->max_bytes))
		return GT_ELIMIT;
	gt_buf_put_u64be(out, r->origin_seq);
	gt_buf_put_u8(out, r->op);
	gt_buf_put_u8(out, r->flags);
	gt_buf_put_u64be(out, r->hlc);
	gt_buf_put_u8(out, (uint8_t)r->table_len);
	gt_buf_append(out, r->table, r->table_len);
	gt_buf_put_u32be(out, (uint32_t)r->key_len);
	gt_buf_append(out, r->key, r->key_len);
	gt_buf_put_u32be(out, (uint32_t)r->image_len);
	if (r->image_len > 0)
		gt_buf_append(out, r->image, r->image_len);
	gt_buf_put_u16be(out, (uint16_t)r->meta_len);
	if (r->meta_len > 0)
		gt_buf_append(out, r->meta, r->meta_len);
	if (!gt_buf_ok(out)) {
		e->err = GT_ENOMEM;
		return GT_ENOMEM;
	}
	e->count++;
	e->last_seq = r->origin_seq;
	return GT_OK;
}

gt_err repl_batch_enc_finish(repl_batch_enc *e, const repl_key *key)
{
	gt_err err;

	if (e == NULL || e->out == NULL)
		return GT_EINVAL;
	err = e->err;
	if (err == GT_OK && !key_ok(key))
		err = GT_EINVAL;
	if (err == GT_OK && !gt_buf_ok(e->out))
		err = GT_ENOMEM;
	if (err != GT_OK) {
		if (gt_buf_ok(e->out))
			e->out->len = e->start;
		e->out = NULL;
		return err;
	}
	gt_put_u32be((uint8_t *)e->out->data + e->count_off, e->count);
	err = frame_close(e->out, e->start, key);
	e->out = NULL;
	return err;
}

/* Reads one record (no checks beyond bounds); 0 on success. */
static int rd_rec(gt_rd *rd, repl_rec *r)
{
	uint32_t l;

	memset(r, 0, sizeof(*r));
	r->origin_seq = gt_rd_u64be(rd);
	r->op = gt_rd_u8(rd);
	r->flags = gt_rd_u8(rd);
	r->hlc = gt_rd_u64be(rd);
	r->table_len = gt_rd_u8(rd);
	r->table = (const char *)gt_rd_bytes(rd, r->table_len);
	l = gt_rd_u32be(rd);
	if (rd->err || l > REPL_KEY_JSON_MAX)
		return -1;
	r->key_len = l;
	r->key = (const char *)gt_rd_bytes(rd, l);
	l = gt_rd_u32be(rd);
	if (rd->err || l > REPL_IMAGE_MAX)
		return -1;
	r->image_len = l;
	r->image = l > 0 ? (const char *)gt_rd_bytes(rd, l) : NULL;
	r->meta_len = gt_rd_u16be(rd);
	r->meta = r->meta_len > 0 ? gt_rd_bytes(rd, r->meta_len) : NULL;
	return rd->err ? -1 : 0;
}

gt_err repl_batch_decode(const uint8_t *f, size_t n, const repl_key *key,
    repl_batch *out)
{
	repl_batch b;
	repl_rec r;
	const uint8_t *recs;
	uint64_t prev;
	uint16_t flags;
	gt_rd rd;
	gt_err err;

	if (out == NULL)
		return GT_EINVAL;
	err = frame_open_read(f, n, key, REPL_FRAME_BATCH, &flags, &rd);
	if (err != GT_OK)
		return err;
	if ((flags & ~REPL_BATCH_F_RESYNC) != 0)
		return GT_ECORRUPT;
	memset(&b, 0, sizeof(b));
	if (rd_name(&rd, b.origin) != 0)
		return GT_ECORRUPT;
	b.info.flags = flags;
	b.info.pull_id = gt_rd_u64be(&rd);
	b.info.after_seq = gt_rd_u64be(&rd);
	b.info.head_seq = gt_rd_u64be(&rd);
	b.info.trunc_seq = gt_rd_u64be(&rd);
	b.info.origin_hlc = gt_rd_u64be(&rd);
	b.info.count = gt_rd_u32be(&rd);
	if (rd.err || b.info.count > REPL_BATCH_RECORDS_MAX ||
	    b.info.trunc_seq > b.info.head_seq ||
	    ((flags & REPL_BATCH_F_RESYNC) && b.info.count != 0))
		return GT_ECORRUPT;
	recs = rd.p;
	prev = b.info.after_seq;
	for (uint32_t i = 0; i < b.info.count; i++) {
		if (rd_rec(&rd, &r) != 0 ||
		    !rec_check(&r, b.origin, prev, b.info.head_seq))
			return GT_ECORRUPT;
		prev = r.origin_seq;
	}
	if (rd.n != 0)
		return GT_ECORRUPT;
	b.info.last_seq = b.info.count > 0 ? prev : 0;
	b.next = recs;
	b.left = (size_t)(rd.p - recs);
	b.remaining = b.info.count;
	*out = b;
	return GT_OK;
}

int repl_batch_next(repl_batch *b, repl_rec *rec)
{
	gt_rd rd;
	repl_rec r;

	if (b == NULL || rec == NULL || b->remaining == 0 || b->next == NULL)
		return 0;
	rd.p = b->next;
	rd.n = b->left;
	rd.err = 0;
	if (rd_rec(&rd, &r) != 0) {
		/* Cannot happen after repl_batch_decode; stop rather than
		 * hand out a bad record. */
		b->remaining = 0;
		return 0;
	}
	b->next = rd.p;
	b->left = rd.n;
	b->remaining--;
	*rec = r;
	return 1;
}

/* ----------------------------------------------------------------- ERROR */

gt_err repl_error_encode(uint16_t code, const char *origin,
    uint64_t pull_id, const char *msg, const repl_key *key, gt_buf *out)
{
	size_t ol, ml = 0, start;

	if (out == NULL || !key_ok(key) || code == 0 ||
	    code >= REPL_ERR_COUNT_)
		return GT_EINVAL;
	ol = name_len(origin);
	if (ol == 0)
		return GT_EINVAL;
	if (msg != NULL)
		ml = strnlen(msg, REPL_ERROR_MSG_MAX);
	start = out->len;
	frame_open_write(out, REPL_FRAME_ERROR, 0);
	gt_buf_put_u16be(out, code);
	put_name(out, origin, ol);
	gt_buf_put_u64be(out, pull_id);
	gt_buf_put_u16be(out, (uint16_t)ml);
	for (size_t i = 0; i < ml; i++) {
		unsigned char c = (unsigned char)msg[i];

		gt_buf_putc(out, c >= 0x20 && c <= 0x7e ? (char)c : '?');
	}
	return frame_close(out, start, key);
}

gt_err repl_error_decode(const uint8_t *f, size_t n, const repl_key *key,
    repl_error *out)
{
	repl_error e;
	const uint8_t *m;
	uint16_t flags, ml;
	gt_rd rd;
	gt_err err;

	if (out == NULL)
		return GT_EINVAL;
	err = frame_open_read(f, n, key, REPL_FRAME_ERROR, &flags, &rd);
	if (err != GT_OK)
		return err;
	if (flags != 0)
		return GT_ECORRUPT;
	memset(&e, 0, sizeof(e));
	e.code = gt_rd_u16be(&rd);
	if (rd.err || e.code == 0 || e.code >= REPL_ERR_COUNT_ ||
	    rd_name(&rd, e.origin) != 0)
		return GT_ECORRUPT;
	e.pull_id = gt_rd_u64be(&rd);
	ml = gt_rd_u16be(&rd);
	if (rd.err || ml > REPL_ERROR_MSG_MAX)
		return GT_ECORRUPT;
	m = gt_rd_bytes(&rd, ml);
	if (rd.err || rd.n != 0)
		return GT_ECORRUPT;
	for (size_t i = 0; i < ml; i++) {
		if (m[i] < 0x20 || m[i] > 0x7e)
			return GT_ECORRUPT;
		e.msg[i] = (char)m[i];
	}
	*out = e;
	return GT_OK;
}
