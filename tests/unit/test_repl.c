/*
 * test_repl.c — unit tests for replicator/: frame round trips and
 * rejection (every truncation, every bit flip, wrong key, size limits,
 * malformed bodies under a valid MAC), the puller state machine (happy
 * path, backoff growth and cap, timeouts, stale and duplicate answers,
 * resync, stop), the origin's answer and the retention plan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "conflict.h"
#include "gt.h"
#include "repl.h"

static const uint8_t KEY1[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t KEY2[32] = "0123456789abcdef0123456789abcdeX";

static repl_key key1, key2;

static int setup_keys(void **state)
{
	(void)state;
	if (repl_key_init(&key1, KEY1, sizeof(KEY1)) != GT_OK ||
	    repl_key_init(&key2, KEY2, sizeof(KEY2)) != GT_OK)
		return -1;
	return 0;
}

static int teardown_keys(void **state)
{
	(void)state;
	repl_key_free(&key1);
	repl_key_free(&key2);
	return 0;
}

/* Recomputes the MAC of a frame after its bytes were changed on purpose,
 * so the body parser (not the MAC check) is what is tested. */
static void resign(uint8_t *f, size_t n, const uint8_t *k, size_t kl)
{
	unsigned int ml = 0;

	assert_true(n >= REPL_FRAME_OVERHEAD);
	assert_non_null(HMAC(EVP_sha256(), k, (int)kl, f,
	    n - REPL_FRAME_MAC_LEN, f + n - REPL_FRAME_MAC_LEN, &ml));
	assert_int_equal(ml, REPL_FRAME_MAC_LEN);
}

/* Rewrites the header's body length to match n. */
static void fix_len(uint8_t *f, size_t n)
{
	gt_put_u32be(f + 8, (uint32_t)(n - REPL_FRAME_OVERHEAD));
}

/* A valid item meta for (origin, seq) with stamp hlc. */
static size_t mkmeta(uint8_t *dst, size_t cap, const char *origin,
    uint64_t seq, uint64_t hlc, int tombstone, const char *other,
    uint64_t other_seq)
{
	cf_version v;
	size_t len = 0;

	memset(&v, 0, sizeof(v));
	v.exists = 1;
	v.tombstone = tombstone;
	assert_int_equal(cf_stamp_set(&v.stamp, hlc, origin), GT_OK);
	assert_int_equal(cf_vv_set(&v.vv, origin, seq), GT_OK);
	if (other != NULL)
		assert_int_equal(cf_vv_set(&v.vv, other, other_seq), GT_OK);
	assert_int_equal(cf_meta_encode_to(&v, dst, cap, &len), GT_OK);
	return len;
}

static repl_pull mkpull(void)
{
	repl_pull p;

	memset(&p, 0, sizeof(p));
	strcpy(p.from, "eu-west-1");
	strcpy(p.to, "us-east-1");
	p.pull_id = 77;
	p.after_seq = 1234;
	p.topo_epoch = 5;
	p.ack_seq = 1200;
	p.max_bytes = 65536;
	p.wait_ms = 5000;
	return p;
}

/* ------------------------------------------------------------ key, PULL */

static void test_key_bounds(void **state)
{
	repl_key k;
	uint8_t big[REPL_KEY_LEN_MAX + 1];

	(void)state;
	memset(big, 7, sizeof(big));
	memset(&k, 0, sizeof(k));
	assert_int_equal(repl_key_init(&k, big, REPL_KEY_LEN_MIN - 1),
	    GT_EINVAL);
	assert_int_equal(repl_key_init(&k, big, REPL_KEY_LEN_MAX + 1),
	    GT_EINVAL);
	assert_int_equal(repl_key_init(&k, NULL, 32), GT_EINVAL);
	assert_null(k.mac);
	assert_int_equal(repl_key_init(&k, big, REPL_KEY_LEN_MAX), GT_OK);
	repl_key_free(&k);
	repl_key_free(&k);
}

static void test_pull_roundtrip(void **state)
{
	repl_pull p = mkpull(), q;
	gt_buf b = GT_BUF_INIT;
	uint8_t type = 0;

	(void)state;
	gt_buf_puts(&b, "xy"); /* frames append; the prefix stays */
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_OK);
	assert_memory_equal(b.data, "xy", 2);
	assert_int_equal(b.len, 2 + REPL_FRAME_OVERHEAD + 10 + 10 + 32 + 8);
	assert_int_equal(repl_frame_peek((uint8_t *)b.data + 2, b.len - 2,
	    &type), GT_OK);
	assert_int_equal(type, REPL_FRAME_PULL);
	memset(&q, 0, sizeof(q));
	assert_int_equal(repl_pull_decode((uint8_t *)b.data + 2, b.len - 2,
	    &key1, &q), GT_OK);
	assert_memory_equal(&p, &q, sizeof(p));
	assert_memory_equal(b.data + 2, "MRDN\x01\x01\x00\x00", 8);
	gt_buf_free(&b);
}

static void test_pull_encode_rejects(void **state)
{
	repl_pull p;
	gt_buf b = GT_BUF_INIT;

	(void)state;
	p = mkpull();
	p.pull_id = 0;
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_EINVAL);
	p = mkpull();
	p.ack_seq = p.after_seq + 1; /* acknowledges more than it has */
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_EINVAL);
	p = mkpull();
	p.wait_ms = REPL_WAIT_MAX_MS + 1;
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_EINVAL);
	p = mkpull();
	strcpy(p.from, "has space");
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_EINVAL);
	p = mkpull();
	p.to[0] = '\0';
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_EINVAL);
	assert_int_equal(b.len, 0);
	gt_buf_free(&b);
}

/*
 * Every strict prefix, every one-byte extension and every single-bit flip
 * of f must be rejected with ECORRUPT or EAUTH; the header fields give
 * ECORRUPT, everything under the MAC EAUTH.
 */
static void check_mutations(const uint8_t *f, size_t n,
    gt_err (*dec)(const uint8_t *, size_t, const repl_key *, void *),
    void *out)
{
	uint8_t *m = malloc(n + 1);

	assert_non_null(m);
	for (size_t len = 0; len < n; len++) {
		memcpy(m, f, len);
		assert_int_equal(dec(len ? m : NULL, len, &key1, out),
		    GT_ECORRUPT);
	}
	memcpy(m, f, n);
	m[n] = 0;
	assert_int_equal(dec(m, n + 1, &key1, out), GT_ECORRUPT);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			gt_err err;

			memcpy(m, f, n);
			m[i] ^= (uint8_t)(1u << bit);
			err = dec(m, n, &key1, out);
			if (i < 5 || (i >= 8 && i < 12))
				assert_int_equal(err, GT_ECORRUPT);
			else
				assert_int_equal(err, GT_EAUTH);
		}
	}
	free(m);
}

static gt_err dec_pull(const uint8_t *f, size_t n, const repl_key *k,
    void *out)
{
	return repl_pull_decode(f, n, k, out);
}

static gt_err dec_batch(const uint8_t *f, size_t n, const repl_key *k,
    void *out)
{
	return repl_batch_decode(f, n, k, out);
}

static gt_err dec_error(const uint8_t *f, size_t n, const repl_key *k,
    void *out)
{
	return repl_error_decode(f, n, k, out);
}

static void test_pull_mutations(void **state)
{
	repl_pull p = mkpull(), q;
	gt_buf b = GT_BUF_INIT;

	(void)state;
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_OK);
	memset(&q, 0x5a, sizeof(q));
	check_mutations((uint8_t *)b.data, b.len, dec_pull, &q);
	/* out untouched on every error */
	for (size_t i = 0; i < sizeof(q); i++)
		assert_int_equal(((uint8_t *)&q)[i], 0x5a);
	assert_int_equal(repl_pull_decode((uint8_t *)b.data, b.len, &key2,
	    &q), GT_EAUTH);
	gt_buf_free(&b);
}

static void test_pull_body_rules(void **state)
{
	repl_pull p = mkpull(), q;
	gt_buf b = GT_BUF_INIT;
	uint8_t *f;
	size_t n;

	(void)state;
	assert_int_equal(repl_pull_encode(&p, &key1, &b), GT_OK);
	f = (uint8_t *)b.data;
	n = b.len;
	/* wait_ms past the limit, correctly signed */
	gt_put_u32be(f + n - REPL_FRAME_MAC_LEN - 4, REPL_WAIT_MAX_MS + 1);
	resign(f, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_pull_decode(f, n, &key1, &q), GT_ECORRUPT);
	gt_put_u32be(f + n - REPL_FRAME_MAC_LEN - 4, REPL_WAIT_MAX_MS);
	resign(f, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_pull_decode(f, n, &key1, &q), GT_OK);
	assert_int_equal(q.wait_ms, REPL_WAIT_MAX_MS);
	/* nonzero flags */
	f[7] = 1;
	resign(f, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_pull_decode(f, n, &key1, &q), GT_ECORRUPT);
	f[7] = 0;
	/* a name with a bad byte */
	f[13] = ' ';
	resign(f, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_pull_decode(f, n, &key1, &q), GT_ECORRUPT);
	f[13] = 'u';
	/* a valid PULL is not a BATCH or an ERROR */
	resign(f, n, KEY1, sizeof(KEY1));
	{
		repl_batch bt;
		repl_error e;

		assert_int_equal(repl_batch_decode(f, n, &key1, &bt),
		    GT_ECORRUPT);
		assert_int_equal(repl_error_decode(f, n, &key1, &e),
		    GT_ECORRUPT);
	}
	/* a frame over the maximum size is rejected before anything */
	assert_int_equal(repl_pull_decode(f, REPL_FRAME_MAX + 1, &key1, &q),
	    GT_ECORRUPT);
	/* a body one byte longer than its fields, correctly signed */
	{
		uint8_t g[256];

		memcpy(g, f, n - REPL_FRAME_MAC_LEN);
		g[n - REPL_FRAME_MAC_LEN] = 0;
		fix_len(g, n + 1);
		resign(g, n + 1, KEY1, sizeof(KEY1));
		assert_int_equal(repl_pull_decode(g, n + 1, &key1, &q),
		    GT_ECORRUPT);
	}
	gt_buf_free(&b);
}

/* ----------------------------------------------------------------- BATCH */

typedef struct recbuf {
	repl_rec r;
	uint8_t meta[CF_META_ENCODED_MAX];
} recbuf;

static void mkput(recbuf *rb, uint64_t seq, uint64_t hlc, const char *img)
{
	memset(rb, 0, sizeof(*rb));
	rb->r.origin_seq = seq;
	rb->r.hlc = hlc;
	rb->r.op = REPL_OP_PUT;
	rb->r.table = "Music";
	rb->r.table_len = 5;
	rb->r.key = "{\"pk\":{\"S\":\"a\"}}";
	rb->r.key_len = strlen(rb->r.key);
	rb->r.image = img;
	rb->r.image_len = strlen(img);
	rb->r.meta = rb->meta;
	rb->r.meta_len = mkmeta(rb->meta, sizeof(rb->meta), "us-east-1",
	    seq, hlc, 0, "eu-west-1", 3);
}

static void mkdel(recbuf *rb, uint64_t seq, uint64_t hlc)
{
	memset(rb, 0, sizeof(*rb));
	rb->r.origin_seq = seq;
	rb->r.hlc = hlc;
	rb->r.op = REPL_OP_DELETE;
	rb->r.flags = REPL_REC_F_SERVICE;
	rb->r.table = "Music";
	rb->r.table_len = 5;
	rb->r.key = "{\"pk\":{\"S\":\"b\"}}";
	rb->r.key_len = strlen(rb->r.key);
	rb->r.meta = rb->meta;
	rb->r.meta_len = mkmeta(rb->meta, sizeof(rb->meta), "us-east-1",
	    seq, hlc, 1, NULL, 0);
}

static void mktable(recbuf *rb, uint64_t seq, uint64_t hlc)
{
	memset(rb, 0, sizeof(*rb));
	rb->r.origin_seq = seq;
	rb->r.hlc = hlc;
	rb->r.op = REPL_OP_TABLE_CREATE;
	rb->r.table = "Music";
	rb->r.table_len = 5;
	rb->r.key = "{\"TableName\":\"Music\"}";
	rb->r.key_len = strlen(rb->r.key);
	rb->r.image = "{\"TableName\":\"Music\",\"KeySchema\":[]}";
	rb->r.image_len = strlen(rb->r.image);
}

static repl_batch_info mkinfo(void)
{
	repl_batch_info i;

	memset(&i, 0, sizeof(i));
	i.pull_id = 9;
	i.after_seq = 10;
	i.head_seq = 40;
	i.trunc_seq = 4;
	i.origin_hlc = (uint64_t)1700000000000 << 16;
	return i;
}

/* Builds the three-record batch used by several tests. */
static void build_batch3(gt_buf *b)
{
	repl_batch_enc e;
	repl_batch_info info = mkinfo();
	recbuf r1, r2, r3;

	mktable(&r1, 11, 100);
	mkput(&r2, 15, 200, "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
	mkdel(&r3, 20, 300);
	assert_int_equal(repl_batch_enc_begin(&e, b, "us-east-1", &info, 0),
	    GT_OK);
	assert_int_equal(repl_batch_enc_add(&e, &r1.r), GT_OK);
	assert_int_equal(repl_batch_enc_add(&e, &r2.r), GT_OK);
	assert_int_equal(repl_batch_enc_add(&e, &r3.r), GT_OK);
	assert_int_equal(repl_batch_enc_finish(&e, &key1), GT_OK);
}

static void test_batch_roundtrip(void **state)
{
	gt_buf b = GT_BUF_INIT;
	repl_batch bt;
	repl_rec r;
	cf_version v;
	recbuf want;

	(void)state;
	build_batch3(&b);
	assert_int_equal(repl_batch_decode((uint8_t *)b.data, b.len, &key1,
	    &bt), GT_OK);
	assert_string_equal(bt.origin, "us-east-1");
	assert_int_equal(bt.info.pull_id, 9);
	assert_int_equal(bt.info.after_seq, 10);
	assert_int_equal(bt.info.head_seq, 40);
	assert_int_equal(bt.info.trunc_seq, 4);
	assert_int_equal(bt.info.origin_hlc, (uint64_t)1700000000000 << 16);
	assert_int_equal(bt.info.flags, 0);
	assert_int_equal(bt.info.count, 3);
	assert_int_equal(bt.info.last_seq, 20);

	assert_int_equal(repl_batch_next(&bt, &r), 1);
	assert_int_equal(r.origin_seq, 11);
	assert_int_equal(r.op, REPL_OP_TABLE_CREATE);
	assert_int_equal(r.meta_len, 0);
	assert_int_equal(r.key_len, strlen("{\"TableName\":\"Music\"}"));
	assert_memory_equal(r.key, "{\"TableName\":\"Music\"}", r.key_len);

	assert_int_equal(repl_batch_next(&bt, &r), 1);
	mkput(&want, 15, 200, "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
	assert_int_equal(r.origin_seq, 15);
	assert_int_equal(r.hlc, 200);
	assert_int_equal(r.op, REPL_OP_PUT);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.table_len, 5);
	assert_memory_equal(r.table, "Music", 5);
	assert_int_equal(r.image_len, want.r.image_len);
	assert_memory_equal(r.image, want.r.image, r.image_len);
	assert_int_equal(r.meta_len, want.r.meta_len);
	assert_memory_equal(r.meta, want.meta, r.meta_len);
	assert_int_equal(cf_meta_decode(r.meta, r.meta_len, &v, NULL), GT_OK);
	assert_int_equal(cf_vv_get(&v.vv, "us-east-1"), 15);
	assert_int_equal(cf_vv_get(&v.vv, "eu-west-1"), 3);

	assert_int_equal(repl_batch_next(&bt, &r), 1);
	assert_int_equal(r.origin_seq, 20);
	assert_int_equal(r.op, REPL_OP_DELETE);
	assert_int_equal(r.flags, REPL_REC_F_SERVICE);
	assert_int_equal(r.image_len, 0);
	assert_int_equal(repl_batch_next(&bt, &r), 0);
	assert_int_equal(repl_batch_next(&bt, &r), 0);

	assert_int_equal(repl_batch_decode((uint8_t *)b.data, b.len, &key2,
	    &bt), GT_EAUTH);
	gt_buf_free(&b);
}

static void test_batch_mutations(void **state)
{
	gt_buf b = GT_BUF_INIT;
	repl_batch bt;

	(void)state;
	build_batch3(&b);
	check_mutations((uint8_t *)b.data, b.len, dec_batch, &bt);
	gt_buf_free(&b);
}

/*
 * Under a valid MAC, flipping any bit of the body must either give a
 * batch whose records all pass the format's rules, or ECORRUPT: never a
 * crash or an out-of-bounds read (ASan watches).  Specific fields are
 * then checked one by one.
 */
static void test_batch_body_rules(void **state)
{
	gt_buf b = GT_BUF_INIT;
	repl_batch bt;
	repl_rec r;
	uint8_t *f, *m;
	size_t n, ok = 0, bad = 0;
	const size_t hdr = REPL_FRAME_HDR_LEN;
	/* body offsets: name(1+9) pull after head trunc hlc(5*8) count(4) */
	const size_t off_head = hdr + 10 + 16, off_trunc = hdr + 10 + 24;
	const size_t off_count = hdr + 10 + 40, off_rec = off_count + 4;

	(void)state;
	build_batch3(&b);
	f = (uint8_t *)b.data;
	n = b.len;
	m = malloc(n);
	assert_non_null(m);
	for (size_t i = hdr; i < n - REPL_FRAME_MAC_LEN; i++) {
		for (int bit = 0; bit < 8; bit++) {
			gt_err err;

			memcpy(m, f, n);
			m[i] ^= (uint8_t)(1u << bit);
			resign(m, n, KEY1, sizeof(KEY1));
			err = repl_batch_decode(m, n, &key1, &bt);
			if (err == GT_OK) {
				ok++;
				while (repl_batch_next(&bt, &r))
					assert_true(r.origin_seq >
					    bt.info.after_seq);
			} else {
				assert_int_equal(err, GT_ECORRUPT);
				bad++;
			}
		}
	}
	assert_true(bad > ok);

	/* count one too many, and the RESYNC flag with records */
	memcpy(m, f, n);
	gt_put_u32be(m + off_count, 4);
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	memcpy(m, f, n);
	m[7] = REPL_BATCH_F_RESYNC;
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	/* an unknown flag */
	memcpy(m, f, n);
	m[6] = 0x80;
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	/* trunc above head; head below the last record */
	memcpy(m, f, n);
	gt_put_u64be(m + off_trunc, 41);
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	memcpy(m, f, n);
	gt_put_u64be(m + off_head, 19);
	gt_put_u64be(m + off_trunc, 0);
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	/* first record at or below after_seq */
	memcpy(m, f, n);
	gt_put_u64be(m + off_rec, 10);
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	/* an unknown op */
	memcpy(m, f, n);
	m[off_rec + 8] = 7; /* ops end at 6 (CLUSTER) */
	resign(m, n, KEY1, sizeof(KEY1));
	assert_int_equal(repl_batch_decode(m, n, &key1, &bt), GT_ECORRUPT);
	/* the untouched frame still decodes */
	assert_int_equal(repl_batch_decode(f, n, &key1, &bt), GT_OK);
	free(m);
	gt_buf_free(&b);
}

static void expect_add_einval(const repl_rec *r, uint64_t after)
{
	gt_buf b = GT_BUF_INIT;
	repl_batch_enc e;
	repl_batch_info info = mkinfo();

	gt_buf_puts(&b, "pre");
	info.after_seq = after;
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info, 0),
	    GT_OK);
	assert_int_equal(repl_batch_enc_add(&e, r), GT_EINVAL);
	assert_int_equal(repl_batch_enc_finish(&e, &key1), GT_EINVAL);
	assert_int_equal(b.len, 3);
	gt_buf_free(&b);
}

static void test_batch_encode_rejects(void **state)
{
	recbuf rb;
	uint8_t meta[CF_META_ENCODED_MAX];
	gt_buf b = GT_BUF_INIT;
	repl_batch_enc e;
	repl_batch_info info;

	(void)state;
	mkput(&rb, 15, 200, "{}");
	expect_add_einval(&rb.r, 15);          /* seq not after after_seq */
	mkput(&rb, 41, 200, "{}");
	expect_add_einval(&rb.r, 10);          /* seq past head */
	mkput(&rb, 15, 200, "{}");
	rb.r.image_len = 0;
	expect_add_einval(&rb.r, 10);          /* PUT without image */
	mkdel(&rb, 15, 200);
	rb.r.image = "{}";
	rb.r.image_len = 2;
	expect_add_einval(&rb.r, 10);          /* DELETE with image */
	mkput(&rb, 15, 201, "{}");
	rb.r.hlc = 200;
	expect_add_einval(&rb.r, 10);          /* meta stamp != hlc */
	mkput(&rb, 15, 200, "{}");
	rb.r.op = REPL_OP_DELETE;
	rb.r.image_len = 0;
	expect_add_einval(&rb.r, 10);          /* meta not a tombstone */
	mkput(&rb, 15, 200, "{}");
	rb.r.meta_len = mkmeta(meta, sizeof(meta), "us-east-1", 14, 200, 0,
	    NULL, 0);
	rb.r.meta = meta;
	expect_add_einval(&rb.r, 10);          /* vv[origin] != seq */
	mkput(&rb, 15, 200, "{}");
	rb.r.meta_len = mkmeta(meta, sizeof(meta), "eu-west-1", 15, 200, 0,
	    NULL, 0);
	rb.r.meta = meta;
	expect_add_einval(&rb.r, 10);          /* stamp origin not ours */
	mkput(&rb, 15, 200, "{}");
	rb.r.meta_len--;
	expect_add_einval(&rb.r, 10);          /* meta truncated */
	mktable(&rb, 15, 200);
	rb.r.meta = meta;
	rb.r.meta_len = 5;
	expect_add_einval(&rb.r, 10);          /* table op with meta */
	mkput(&rb, 15, 200, "{}");
	rb.r.flags = 1;
	expect_add_einval(&rb.r, 10);          /* unknown record flag */
	mkput(&rb, 15, 200, "{}");
	rb.r.table_len = REPL_TABLE_NAME_MAX + 1;
	expect_add_einval(&rb.r, 10);
	mkput(&rb, 15, 200, "{}");
	rb.r.key_len = REPL_KEY_JSON_MAX + 1;
	expect_add_einval(&rb.r, 10);
	mkput(&rb, 15, 200, "{}");
	rb.r.image_len = REPL_IMAGE_MAX + 1;
	expect_add_einval(&rb.r, 10);
	mkput(&rb, 15, 200, "{}");
	rb.r.hlc = 0;
	expect_add_einval(&rb.r, 10);          /* hlc 0 */

	info = mkinfo();
	info.trunc_seq = 41;
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info, 0),
	    GT_EINVAL);
	info = mkinfo();
	info.flags = 2;
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info, 0),
	    GT_EINVAL);
	info = mkinfo();
	assert_int_equal(repl_batch_enc_begin(&e, &b, "", &info, 0),
	    GT_EINVAL);
	assert_int_equal(b.len, 0);
	gt_buf_free(&b);
}

static void test_batch_resync(void **state)
{
	gt_buf b = GT_BUF_INIT;
	repl_batch_enc e;
	repl_batch_info info = mkinfo();
	repl_batch bt;
	recbuf rb;

	(void)state;
	info.flags = REPL_BATCH_F_RESYNC;
	info.after_seq = 2;
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info, 0),
	    GT_OK);
	mkput(&rb, 15, 200, "{}");
	assert_int_equal(repl_batch_enc_add(&e, &rb.r), GT_ELIMIT);
	assert_int_equal(repl_batch_enc_finish(&e, &key1), GT_OK);
	assert_int_equal(repl_batch_decode((uint8_t *)b.data, b.len, &key1,
	    &bt), GT_OK);
	assert_int_equal(bt.info.flags, REPL_BATCH_F_RESYNC);
	assert_int_equal(bt.info.count, 0);
	assert_int_equal(bt.info.last_seq, 0);
	assert_int_equal(bt.info.after_seq, 2);
	gt_buf_free(&b);
}

static void test_batch_size_limits(void **state)
{
	gt_buf b = GT_BUF_INIT;
	repl_batch_enc e;
	repl_batch_info info = mkinfo();
	repl_batch bt;
	recbuf rb;
	char *img;
	uint32_t added = 0;
	gt_err err = GT_OK;

	(void)state;
	/* The first record is taken even when larger than max_bytes. */
	img = malloc(REPL_IMAGE_MAX + 1);
	assert_non_null(img);
	memset(img, 'x', REPL_IMAGE_MAX);
	img[REPL_IMAGE_MAX] = '\0';
	info.head_seq = 100000;
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info,
	    100), GT_OK);
	mkput(&rb, 11, 200, img);
	assert_int_equal(rb.r.image_len, REPL_IMAGE_MAX);
	assert_int_equal(repl_batch_enc_add(&e, &rb.r), GT_OK);
	mkput(&rb, 12, 201, "{}");
	assert_int_equal(repl_batch_enc_add(&e, &rb.r), GT_ELIMIT);
	assert_int_equal(repl_batch_enc_finish(&e, &key1), GT_OK);
	assert_true(b.len <= REPL_FRAME_MAX);
	assert_int_equal(repl_batch_decode((uint8_t *)b.data, b.len, &key1,
	    &bt), GT_OK);
	assert_int_equal(bt.info.count, 1);
	assert_int_equal(bt.info.last_seq, 11);
	free(img);

	/* Small records stop at max_bytes (raised to the minimum). */
	gt_buf_reset(&b);
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info,
	    10), GT_OK);
	for (uint64_t s = 11; err == GT_OK; s++) {
		mkput(&rb, s, 200 + s, "{\"v\":1}");
		err = repl_batch_enc_add(&e, &rb.r);
		if (err == GT_OK)
			added++;
	}
	assert_int_equal(err, GT_ELIMIT);
	assert_int_equal(repl_batch_enc_finish(&e, &key1), GT_OK);
	assert_true(b.len <= REPL_FRAME_MIN_BATCH);
	assert_true(b.len + rb.r.meta_len + 60 > REPL_FRAME_MIN_BATCH);
	assert_int_equal(repl_batch_decode((uint8_t *)b.data, b.len, &key1,
	    &bt), GT_OK);
	assert_int_equal(bt.info.count, added);

	/* The record count is capped. */
	gt_buf_reset(&b);
	added = 0;
	err = GT_OK;
	assert_int_equal(repl_batch_enc_begin(&e, &b, "us-east-1", &info,
	    REPL_FRAME_MAX), GT_OK);
	for (uint64_t s = 11; err == GT_OK; s++) {
		mkput(&rb, s, 200 + s, "{}");
		err = repl_batch_enc_add(&e, &rb.r);
		if (err == GT_OK)
			added++;
	}
	assert_int_equal(err, GT_ELIMIT);
	assert_int_equal(added, REPL_BATCH_RECORDS_MAX);
	assert_int_equal(repl_batch_enc_finish(&e, &key1), GT_OK);
	assert_int_equal(repl_batch_decode((uint8_t *)b.data, b.len, &key1,
	    &bt), GT_OK);
	assert_int_equal(bt.info.count, REPL_BATCH_RECORDS_MAX);
	gt_buf_free(&b);
}

/* ----------------------------------------------------------------- ERROR */

static void test_error_frame(void **state)
{
	gt_buf b = GT_BUF_INIT;
	repl_error e;
	char longmsg[400];

	(void)state;
	assert_int_equal(repl_error_encode(REPL_ERR_NOT_MEMBER, "us-east-1",
	    42, "eu-west-9 is not\na member", &key1, &b), GT_OK);
	assert_int_equal(repl_error_decode((uint8_t *)b.data, b.len, &key1,
	    &e), GT_OK);
	assert_int_equal(e.code, REPL_ERR_NOT_MEMBER);
	assert_int_equal(e.pull_id, 42);
	assert_string_equal(e.origin, "us-east-1");
	assert_string_equal(e.msg, "eu-west-9 is not?a member");
	check_mutations((uint8_t *)b.data, b.len, dec_error, &e);

	gt_buf_reset(&b);
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	assert_int_equal(repl_error_encode(REPL_ERR_BUSY, "us-east-1", 0,
	    longmsg, &key1, &b), GT_OK);
	assert_int_equal(repl_error_decode((uint8_t *)b.data, b.len, &key1,
	    &e), GT_OK);
	assert_int_equal(strlen(e.msg), REPL_ERROR_MSG_MAX);
	gt_buf_reset(&b);
	assert_int_equal(repl_error_encode(REPL_ERR_BUSY, "us-east-1", 0,
	    NULL, &key1, &b), GT_OK);
	assert_int_equal(repl_error_decode((uint8_t *)b.data, b.len, &key1,
	    &e), GT_OK);
	assert_string_equal(e.msg, "");
	assert_int_equal(repl_error_encode(0, "us-east-1", 0, "x", &key1,
	    &b), GT_EINVAL);
	assert_int_equal(repl_error_encode(REPL_ERR_COUNT_, "us-east-1", 0,
	    "x", &key1, &b), GT_EINVAL);
	gt_buf_free(&b);
}

/* ---------------------------------------------------------------- puller */

static repl_puller_cfg test_cfg(void)
{
	repl_puller_cfg c;

	repl_puller_cfg_default(&c);
	c.max_bytes = 8192;
	c.wait_ms = 1000;
	c.rpc_slack_ms = 500;
	c.backoff_min_ms = 50;
	c.backoff_max_ms = 2000;
	c.idle_min_ms = 20;
	return c;
}

static repl_action step(repl_puller *p, repl_event_kind kind,
    uint64_t now, uint64_t id, uint64_t cursor, uint32_t rnd)
{
	repl_event ev;
	repl_action a;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.now_ms = now;
	ev.pull_id = id;
	ev.cursor = cursor;
	ev.err = GT_EIO;
	ev.rnd = rnd;
	repl_puller_step(p, &ev, &a);
	assert_true(repl_puller_check(p));
	return a;
}

static repl_action batch(repl_puller *p, uint64_t now, uint64_t id,
    uint64_t after, uint32_t count, uint64_t last, uint64_t head,
    uint16_t flags)
{
	repl_event ev;
	repl_action a;

	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_BATCH;
	ev.now_ms = now;
	ev.batch.pull_id = id;
	ev.batch.after_seq = after;
	ev.batch.count = count;
	ev.batch.last_seq = last;
	ev.batch.head_seq = head;
	ev.batch.origin_hlc = 99;
	ev.batch.flags = flags;
	repl_puller_step(p, &ev, &a);
	assert_true(repl_puller_check(p));
	return a;
}

static void test_puller_init(void **state)
{
	repl_puller p;
	repl_puller_cfg c = test_cfg();

	(void)state;
	c.backoff_min_ms = 3000;
	assert_int_equal(repl_puller_init(&p, &c), GT_EINVAL);
	c = test_cfg();
	c.wait_ms = REPL_WAIT_MAX_MS + 1;
	assert_int_equal(repl_puller_init(&p, &c), GT_EINVAL);
	c = test_cfg();
	c.max_bytes = 0;
	assert_int_equal(repl_puller_init(&p, &c), GT_EINVAL);
	c = test_cfg();
	assert_int_equal(repl_puller_init(&p, &c), GT_OK);
	assert_int_equal(p.state, REPL_PS_IDLE);
	assert_true(repl_puller_check(&p));
	assert_string_equal(repl_pstate_name(REPL_PS_BACKOFF), "BACKOFF");
}

static void test_puller_happy_path(void **state)
{
	repl_puller p;
	repl_puller_cfg c = test_cfg();
	repl_action a;

	(void)state;
	assert_int_equal(repl_puller_init(&p, &c), GT_OK);
	a = step(&p, REPL_EV_START, 1000, 500, 7, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.pull_id, 500);
	assert_int_equal(a.after_seq, 7);
	assert_int_equal(a.max_bytes, 8192);
	assert_int_equal(a.wait_ms, 1000);
	assert_int_equal(a.timer_at_ms, 1000 + 1000 + 500);
	assert_int_equal(p.state, REPL_PS_PULLING);

	/* a batch of 3 records up to seq 12 */
	a = batch(&p, 1010, 500, 7, 3, 12, 30, 0);
	assert_int_equal(a.kind, REPL_ACT_APPLY);
	assert_int_equal(a.after_seq, 7);
	assert_int_equal(a.timer_at_ms, 0);
	assert_int_equal(p.state, REPL_PS_APPLYING);
	assert_int_equal(p.head_seq, 30);
	assert_int_equal(repl_puller_pending(&p), 23);

	a = step(&p, REPL_EV_APPLIED, 1015, 0, 12, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.pull_id, 501);
	assert_int_equal(a.after_seq, 12);
	assert_int_equal(p.cursor, 12);
	assert_int_equal(repl_puller_pending(&p), 18);

	/* an empty answer after a long park: pull again at once */
	a = batch(&p, 2000, 501, 12, 0, 0, 12, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.pull_id, 502);
	assert_int_equal(a.after_seq, 12);

	/* an empty answer at once: pace, without counting a failure */
	a = batch(&p, 2005, 502, 12, 0, 0, 12, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.state, REPL_PS_BACKOFF);
	assert_int_equal(a.timer_at_ms, 2000 + 20);
	assert_int_equal(p.failures, 0);
	a = step(&p, REPL_EV_TIMER, 2019, 0, 0, 0);   /* early: ignored */
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(a.timer_at_ms, 2020);
	a = step(&p, REPL_EV_TIMER, 2020, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.pull_id, 503);
	assert_int_equal(p.last_err, GT_OK);
}

static void test_puller_backoff(void **state)
{
	repl_puller p;
	repl_puller_cfg c = test_cfg();
	repl_action a;
	uint64_t now = 0, id;
	const uint32_t want_base[] = {50, 100, 200, 400, 800, 1600, 2000,
	    2000, 2000};

	(void)state;
	assert_int_equal(repl_puller_init(&p, &c), GT_OK);
	a = step(&p, REPL_EV_START, now, 1, 0, 0);
	id = a.pull_id;
	for (size_t i = 0; i < GT_ARRAY_LEN(want_base); i++) {
		uint32_t rnd = (i % 2) ? 0 : UINT32_MAX;
		uint64_t lo = GT_MAX(want_base[i] / 2, 50), delay;

		now += 10;
		a = step(&p, REPL_EV_ERROR, now, id, 0, rnd);
		assert_int_equal(a.kind, REPL_ACT_NONE);
		assert_int_equal(p.state, REPL_PS_BACKOFF);
		assert_int_equal(p.failures, i + 1);
		assert_int_equal(p.backoff_ms, want_base[i]);
		assert_int_equal(p.last_err, GT_EIO);
		delay = a.timer_at_ms - now;
		assert_true(delay >= lo && delay <= want_base[i]);
		if (rnd == 0)
			assert_int_equal(delay, lo);
		now = a.timer_at_ms;
		a = step(&p, REPL_EV_TIMER, now, 0, 0, 0);
		assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
		assert_int_equal(a.after_seq, 0);
		id = a.pull_id;
	}
	/* a good answer resets the backoff */
	a = batch(&p, now + 500, id, 0, 0, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(p.failures, 0);
	assert_int_equal(p.backoff_ms, 0);
	a = step(&p, REPL_EV_ERROR, now + 600, a.pull_id, 0, 0);
	assert_int_equal(p.backoff_ms, 50);
	assert_int_equal(a.timer_at_ms, now + 650);
}

static void test_puller_timeout_and_stale(void **state)
{
	repl_puller p;
	repl_puller_cfg c = test_cfg();
	repl_action a;
	uint64_t id1, id2;

	(void)state;
	assert_int_equal(repl_puller_init(&p, &c), GT_OK);
	a = step(&p, REPL_EV_START, 0, 10, 5, 0);
	id1 = a.pull_id;
	/* deadline passes: timeout, back off */
	a = step(&p, REPL_EV_TIMER, 1500, 0, 0, 0);
	assert_int_equal(p.state, REPL_PS_BACKOFF);
	assert_int_equal(p.last_err, GT_ETIMEOUT);
	/* the late answer to the timed-out request is ignored */
	a = batch(&p, 1510, id1, 5, 2, 9, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.stale, 1);
	a = step(&p, REPL_EV_TIMER, a.timer_at_ms, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	id2 = a.pull_id;
	assert_true(id2 != id1);
	/* an answer to an older request, and an error for it: stale */
	a = batch(&p, 1600, id1, 5, 2, 9, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	a = step(&p, REPL_EV_ERROR, 1600, id1, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.state, REPL_PS_PULLING);
	assert_int_equal(p.stale, 3);
	/* the right answer is taken once; its duplicate is stale */
	a = batch(&p, 1610, id2, 5, 2, 9, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_APPLY);
	a = batch(&p, 1611, id2, 5, 2, 9, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.state, REPL_PS_APPLYING);
	/* timers, START and RESYNCED do nothing while applying */
	a = step(&p, REPL_EV_TIMER, 99999, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	a = step(&p, REPL_EV_START, 99999, 1, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	a = step(&p, REPL_EV_RESYNCED, 99999, 0, 50, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.stale, 7);
	/* time never runs backwards for the puller */
	a = step(&p, REPL_EV_APPLIED, 5, 0, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.timer_at_ms, 99999 + 1500);
	/* an APPLIED outside APPLYING is ignored */
	a = step(&p, REPL_EV_APPLIED, 100000, 0, 500, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.cursor, 9);
}

static void test_puller_protocol_error_apply_fail(void **state)
{
	repl_puller p;
	repl_puller_cfg c = test_cfg();
	repl_action a;

	(void)state;
	assert_int_equal(repl_puller_init(&p, &c), GT_OK);
	a = step(&p, REPL_EV_START, 0, 1, 5, 0);
	/* an answer for another cursor is never applied */
	a = batch(&p, 10, a.pull_id, 6, 2, 9, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(p.state, REPL_PS_BACKOFF);
	assert_int_equal(p.last_err, GT_ECORRUPT);
	a = step(&p, REPL_EV_TIMER, a.timer_at_ms, 0, 0, 0);
	a = batch(&p, 100, a.pull_id, 5, 2, 9, 9, 0);
	assert_int_equal(a.kind, REPL_ACT_APPLY);
	/* the apply fails: back off, re-pull from the same cursor */
	a = step(&p, REPL_EV_APPLY_FAILED, 101, 0, 0, 0);
	assert_int_equal(p.state, REPL_PS_BACKOFF);
	assert_int_equal(p.failures, 1);
	assert_int_equal(a.timer_at_ms, 151);
	a = step(&p, REPL_EV_TIMER, 151, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.after_seq, 5);
}

static void test_puller_resync_and_stop(void **state)
{
	repl_puller p;
	repl_puller_cfg c = test_cfg();
	repl_action a;
	uint64_t id;

	(void)state;
	assert_int_equal(repl_puller_init(&p, &c), GT_OK);
	a = step(&p, REPL_EV_START, 0, 1, 5, 0);
	a = batch(&p, 10, a.pull_id, 5, 0, 0, 900, REPL_BATCH_F_RESYNC);
	assert_int_equal(a.kind, REPL_ACT_RESYNC);
	assert_int_equal(a.timer_at_ms, 0);
	assert_int_equal(p.state, REPL_PS_RESYNC);
	a = step(&p, REPL_EV_TIMER, 100000, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	a = step(&p, REPL_EV_RESYNCED, 100001, 0, 880, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.after_seq, 880);
	id = a.pull_id;
	/* STOP drops the request in flight */
	a = step(&p, REPL_EV_STOP, 100002, 0, 0, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	assert_int_equal(a.timer_at_ms, 0);
	assert_int_equal(p.state, REPL_PS_IDLE);
	a = batch(&p, 100003, id, 880, 1, 881, 881, 0);
	assert_int_equal(a.kind, REPL_ACT_NONE);
	a = step(&p, REPL_EV_START, 100004, 0, 880, 0);
	assert_int_equal(a.kind, REPL_ACT_SEND_PULL);
	assert_int_equal(a.pull_id, 1);   /* seed 0 means 1 */
}

/* ---------------------------------------------------------------- origin */

static void test_origin_decide(void **state)
{
	repl_origin_view v = {100, 20, 65536, 3000};
	repl_pull p = mkpull();
	repl_answer a;

	(void)state;
	p.after_seq = 50;
	p.max_bytes = 1u << 30;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_NOW);
	assert_int_equal(a.max_bytes, 65536);
	assert_int_equal(a.ack_valid, 1);
	assert_int_equal(a.ack_seq, 50);
	p.max_bytes = 10;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.max_bytes, REPL_FRAME_MIN_BATCH);

	/* caught up: park until the (capped) deadline, then empty */
	p.after_seq = 100;
	p.wait_ms = 5000;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_PARK);
	assert_int_equal(a.park_until_ms, 4000);
	assert_int_equal(a.ack_seq, 100);
	repl_origin_decide(&v, &p, 1000, 3999, &a);
	assert_int_equal(a.kind, REPL_ANSWER_PARK);
	repl_origin_decide(&v, &p, 1000, 4000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_EMPTY);
	p.wait_ms = 0;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_EMPTY);
	/* a commit while parked: decide again, now there is something */
	v.head_seq = 101;
	p.wait_ms = 5000;
	repl_origin_decide(&v, &p, 1000, 1200, &a);
	assert_int_equal(a.kind, REPL_ANSWER_NOW);

	/* the log no longer holds after_seq + 1 */
	p.after_seq = 19;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_RESYNC);
	assert_int_equal(a.ack_valid, 1);
	p.after_seq = 20;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_NOW);
	/* a cursor past the head: the origin lost its log */
	p.after_seq = 102;
	repl_origin_decide(&v, &p, 1000, 1000, &a);
	assert_int_equal(a.kind, REPL_ANSWER_RESYNC);
	assert_int_equal(a.ack_valid, 0);
}

/* ------------------------------------------------------------- retention */

static void test_retention(void **state)
{
	repl_retention_in in = {100, 10, 0, 0, 0, 0};
	repl_retention_out out;
	repl_peer_ack peers[3] = {{60, 1, 9}, {30, 1, 9}, {5, 0, 9}};

	(void)state;
	assert_int_equal(repl_retention_plan(&in, peers, 3, &out), GT_OK);
	assert_int_equal(out.trunc_to, 30);   /* slowest active peer */
	assert_int_equal(out.gc_seq, 30);
	assert_int_equal(out.n_resync, 0);
	assert_int_equal(peers[0].must_resync, 0);
	assert_int_equal(peers[1].must_resync, 0);
	assert_int_equal(peers[2].must_resync, 0); /* inactive */

	/* a cap of 50 seqs: the peer at 30 must resync */
	in.keep_max = 50;
	assert_int_equal(repl_retention_plan(&in, peers, 3, &out), GT_OK);
	assert_int_equal(out.trunc_to, 50);
	assert_int_equal(out.n_resync, 1);
	assert_int_equal(peers[1].must_resync, 1);
	assert_int_equal(out.gc_seq, 60);

	/* a byte/age floor */
	in.keep_max = 0;
	in.floor_seq = 65;
	assert_int_equal(repl_retention_plan(&in, peers, 3, &out), GT_OK);
	assert_int_equal(out.trunc_to, 65);
	assert_int_equal(out.n_resync, 2);
	assert_int_equal(out.gc_seq, 100);
	in.floor_seq = 500;                   /* capped at head */
	assert_int_equal(repl_retention_plan(&in, peers, 3, &out), GT_OK);
	assert_int_equal(out.trunc_to, 100);

	/* never below the current truncation point */
	in.floor_seq = 0;
	in.trunc_seq = 45;
	assert_int_equal(repl_retention_plan(&in, peers, 3, &out), GT_OK);
	assert_int_equal(out.trunc_to, 45);
	assert_int_equal(peers[1].must_resync, 1);

	/* no peers: nothing to wait for */
	assert_int_equal(repl_retention_plan(&in, NULL, 0, &out), GT_OK);
	assert_int_equal(out.trunc_to, 100);
	assert_int_equal(repl_retention_plan(&in, NULL, 2, &out), GT_EINVAL);
	in.trunc_seq = 101;
	out.trunc_to = 7;
	assert_int_equal(repl_retention_plan(&in, peers, 3, &out), GT_EINVAL);
	assert_int_equal(out.trunc_to, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_bounds),
		cmocka_unit_test(test_pull_roundtrip),
		cmocka_unit_test(test_pull_encode_rejects),
		cmocka_unit_test(test_pull_mutations),
		cmocka_unit_test(test_pull_body_rules),
		cmocka_unit_test(test_batch_roundtrip),
		cmocka_unit_test(test_batch_mutations),
		cmocka_unit_test(test_batch_body_rules),
		cmocka_unit_test(test_batch_encode_rejects),
		cmocka_unit_test(test_batch_resync),
		cmocka_unit_test(test_batch_size_limits),
		cmocka_unit_test(test_error_frame),
		cmocka_unit_test(test_puller_init),
		cmocka_unit_test(test_puller_happy_path),
		cmocka_unit_test(test_puller_backoff),
		cmocka_unit_test(test_puller_timeout_and_stale),
		cmocka_unit_test(test_puller_protocol_error_apply_fail),
		cmocka_unit_test(test_puller_resync_and_stop),
		cmocka_unit_test(test_origin_decide),
		cmocka_unit_test(test_retention),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
