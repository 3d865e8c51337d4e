/*
 * test_stream.c — DynamoDB Streams (region-node/stream.h): sequence-number
 * formatting and parsing, shard ids and ARNs, shard iterators (round trip,
 * every bit flip, a foreign key, expiry, garbage), record rendering for
 * every view type and event kind, stream records, the stream lifecycle in
 * a real store (open, close, retention floor, forgetting) and the
 * retention plan's streams cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "changelog.h"
#include "items.h"
#include "repl.h"
#include "stream.h"

static const uint8_t KEY1[RN_STREAM_KEY_LEN] =
    "0123456789abcdef0123456789abcdef";
static const uint8_t KEY2[RN_STREAM_KEY_LEN] =
    "0123456789abcdef0123456789abcdeX";

/* ------------------------------------------------------ sequence numbers */

static void test_seq_format(void **state)
{
	char s[RN_STREAM_SEQ_LEN + 1];
	uint64_t v = 0;

	(void)state;
	rn_stream_seq_format(1, s);
	assert_string_equal(s, "000000000000000000001");
	rn_stream_seq_format(1234567890123ull, s);
	assert_string_equal(s, "000000001234567890123");
	rn_stream_seq_format(UINT64_MAX, s);
	assert_string_equal(s, "018446744073709551615");
	assert_int_equal(strlen(s), RN_STREAM_SEQ_LEN);

	assert_int_equal(rn_stream_seq_parse("000000000000000000042", &v),
	    GT_OK);
	assert_int_equal(v, 42);
	assert_int_equal(rn_stream_seq_parse("018446744073709551615", &v),
	    GT_OK);
	assert_true(v == UINT64_MAX);
	/* 40 digits, leading zeros. */
	assert_int_equal(rn_stream_seq_parse(
	    "0000000000000000000000000000000000000007", &v), GT_OK);
	assert_int_equal(v, 7);
	v = 99;
	assert_int_equal(rn_stream_seq_parse("00000000000000000042", &v),
	    GT_EINVAL); /* 20 digits */
	assert_int_equal(rn_stream_seq_parse(
	    "00000000000000000000000000000000000000042", &v), GT_EINVAL);
	assert_int_equal(rn_stream_seq_parse("018446744073709551616", &v),
	    GT_EINVAL); /* 2^64 */
	assert_int_equal(rn_stream_seq_parse("00000000000000000004x", &v),
	    GT_EINVAL);
	assert_int_equal(rn_stream_seq_parse("-00000000000000000042", &v),
	    GT_EINVAL);
	assert_int_equal(rn_stream_seq_parse("", &v), GT_EINVAL);
	assert_int_equal(rn_stream_seq_parse(NULL, &v), GT_EINVAL);
	assert_int_equal(v, 99); /* untouched on error */

	/* Every value survives a round trip. */
	for (uint64_t x = 1; x != 0 && x < UINT64_MAX / 3; x = x * 3 + 1) {
		rn_stream_seq_format(x, s);
		assert_int_equal(rn_stream_seq_parse(s, &v), GT_OK);
		assert_true(v == x);
	}
}

/* ------------------------------------------------------ ids and ARNs */

static void stream_sample(rn_stream *st)
{
	memset(st, 0, sizeof(*st));
	st->table_id = 7;
	snprintf(st->label, sizeof(st->label), "2024-05-01T10:20:30.456");
	st->view = RN_SVT_NEW_AND_OLD_IMAGES;
	st->start_seq = 12345;
	st->created_ms = 1714558830456ull;
	snprintf(st->table, sizeof(st->table), "Orders");
	snprintf(st->key_schema, sizeof(st->key_schema),
	    "[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]");
}

static void test_shard_id_and_arn(void **state)
{
	char id[RN_STREAM_SHARD_ID_LEN + 1], id2[RN_STREAM_SHARD_ID_LEN + 1];
	rn_stream_arn_parts a;
	gt_buf b = GT_BUF_INIT;
	rn_stream st;

	(void)state;
	stream_sample(&st);
	rn_stream_shard_id(&st, id);
	assert_int_equal(strlen(id), RN_STREAM_SHARD_ID_LEN);
	assert_memory_equal(id, "shardId-00000000000000012345-", 29);
	/* Another stream of the same table has another shard. */
	snprintf(st.label, sizeof(st.label), "2024-05-01T10:20:30.457");
	rn_stream_shard_id(&st, id2);
	assert_string_not_equal(id, id2);

	stream_sample(&st);
	rn_stream_arn("eu-west-1", "000000000000", &st, &b);
	assert_string_equal(b.data, "arn:aws:dynamodb:eu-west-1:000000000000:"
	    "table/Orders/stream/2024-05-01T10:20:30.456");
	assert_int_equal(rn_stream_arn_parse(b.data, &a), GT_OK);
	assert_string_equal(a.region, "eu-west-1");
	assert_string_equal(a.account, "000000000000");
	assert_string_equal(a.table, "Orders");
	assert_string_equal(a.label, "2024-05-01T10:20:30.456");
	gt_buf_free(&b);

	static const char *const bad[] = {
	    "",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Orders",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Or/stream/x",
	    "arn:aws:dynamodb::000000000000:table/Orders/stream/x",
	    "arn:aws:dynamodb:us-east-1::table/Orders/stream/x",
	    "arn:aws:kinesis:us-east-1:000000000000:table/Orders/stream/x",
	    "arn:aws:dynamodb:us-east-1:000000000000:tables/Orders/stream/x",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Ord ers/stream/x",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/streams/x",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/a/b",
	    "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/"
	    "0123456789012345678901234567890123456789x",
	};
	for (size_t i = 0; i < GT_ARRAY_LEN(bad); i++)
		assert_int_equal(rn_stream_arn_parse(bad[i], &a), GT_EINVAL);
}

static void test_stream_record_codec(void **state)
{
	gt_buf k = GT_BUF_INIT, v = GT_BUF_INIT;
	rn_stream st, got;

	(void)state;
	stream_sample(&st);
	st.closed = 1;
	st.end_seq = 20000;
	st.closed_ms = st.created_ms + 5000;
	rn_stream_encode(&st, &k, &v);
	assert_true(gt_buf_ok(&k) && gt_buf_ok(&v));
	assert_int_equal(rn_stream_decode(k.data, k.len, v.data, v.len, &got),
	    GT_OK);
	assert_memory_equal(&st, &got, sizeof(st));
	/* Every truncation of the value is rejected. */
	for (size_t n = 0; n < v.len; n++)
		assert_int_equal(rn_stream_decode(k.data, k.len, v.data, n,
		    &got), GT_ECORRUPT);
	/* A key with no label, an unknown view type. */
	assert_int_equal(rn_stream_decode(k.data, 4, v.data, v.len, &got),
	    GT_ECORRUPT);
	v.data[1] = 9;
	assert_int_equal(rn_stream_decode(k.data, k.len, v.data, v.len, &got),
	    GT_ECORRUPT);
	gt_buf_free(&k);
	gt_buf_free(&v);

	assert_int_equal(rn_stream_view_parse("KEYS_ONLY"), RN_SVT_KEYS_ONLY);
	assert_int_equal(rn_stream_view_parse("NEW_AND_OLD_IMAGES"),
	    RN_SVT_NEW_AND_OLD_IMAGES);
	assert_int_equal(rn_stream_view_parse("keys_only"), RN_SVT_NONE);
	assert_int_equal(rn_stream_view_parse(NULL), RN_SVT_NONE);
	assert_string_equal(rn_stream_view_name(RN_SVT_OLD_IMAGE), "OLD_IMAGE");
	assert_string_equal(rn_stream_view_name(0), "");
}

/* ------------------------------------------------------- shard iterators */

static rn_stream_iter iter_sample(void)
{
	rn_stream_iter it;

	memset(&it, 0, sizeof(it));
	it.table_id = 42;
	snprintf(it.label, sizeof(it.label), "2024-05-01T10:20:30.456");
	it.shard = 100;
	it.pos = 123456789;
	it.issued_ms = 1714558830456ull;
	return it;
}

static void test_iter_round_trip(void **state)
{
	rn_stream_iter it = iter_sample(), got;
	gt_buf b = GT_BUF_INIT;

	(void)state;
	rn_stream_iter_encode(KEY1, &it, &b);
	assert_true(gt_buf_ok(&b));
	assert_true(b.len >= 1 && b.len <= 2048);
	assert_int_equal(rn_stream_iter_decode(KEY1, b.data, b.len,
	    it.issued_ms + 1000, 900000, &got), GT_OK);
	assert_memory_equal(&it, &got, sizeof(it));
	/* Another node's key does not open it. */
	assert_int_equal(rn_stream_iter_decode(KEY2, b.data, b.len,
	    it.issued_ms, 900000, &got), GT_EINVAL);
	gt_buf_free(&b);
}

static void test_iter_tamper(void **state)
{
	rn_stream_iter it = iter_sample(), got;
	gt_buf text = GT_BUF_INIT, raw = GT_BUF_INIT, re = GT_BUF_INIT;

	(void)state;
	rn_stream_iter_encode(KEY1, &it, &text);
	assert_int_equal(gt_base64_decode(&raw, text.data, text.len), GT_OK);
	/* Every single-bit change of the bytes, MAC included, is caught. */
	for (size_t i = 0; i < raw.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			raw.data[i] = (char)(raw.data[i] ^ (1 << bit));
			gt_buf_reset(&re);
			gt_base64_encode(&re, (const uint8_t *)raw.data,
			    raw.len);
			assert_int_equal(rn_stream_iter_decode(KEY1, re.data,
			    re.len, it.issued_ms, 900000, &got), GT_EINVAL);
			raw.data[i] = (char)(raw.data[i] ^ (1 << bit));
		}
	}
	/* Every truncation, and an extra byte. */
	for (size_t n = 0; n < raw.len; n++) {
		gt_buf_reset(&re);
		gt_base64_encode(&re, (const uint8_t *)raw.data, n);
		assert_int_equal(rn_stream_iter_decode(KEY1, re.data, re.len,
		    it.issued_ms, 900000, &got), GT_EINVAL);
	}
	gt_buf_reset(&re);
	gt_buf_append(&raw, "x", 1);
	gt_base64_encode(&re, (const uint8_t *)raw.data, raw.len);
	assert_int_equal(rn_stream_iter_decode(KEY1, re.data, re.len,
	    it.issued_ms, 900000, &got), GT_EINVAL);

	static const char *const junk[] = {"", "x", "not base64 !!",
	    "AAAA", "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/"
	    "x|1|AAAA"};
	for (size_t i = 0; i < GT_ARRAY_LEN(junk); i++)
		assert_int_equal(rn_stream_iter_decode(KEY1, junk[i],
		    strlen(junk[i]), it.issued_ms, 900000, &got), GT_EINVAL);
	/* Very long text is refused before any decoding. */
	{
		char *big = malloc(4096);
		assert_non_null(big);
		memset(big, 'A', 4096);
		assert_int_equal(rn_stream_iter_decode(KEY1, big, 4096,
		    it.issued_ms, 900000, &got), GT_EINVAL);
		free(big);
	}
	gt_buf_free(&text);
	gt_buf_free(&raw);
	gt_buf_free(&re);
}

static void test_iter_expiry(void **state)
{
	rn_stream_iter it = iter_sample(), got;
	gt_buf b = GT_BUF_INIT;
	const uint64_t ttl = 900000;

	(void)state;
	rn_stream_iter_encode(KEY1, &it, &b);
	assert_int_equal(rn_stream_iter_decode(KEY1, b.data, b.len,
	    it.issued_ms + ttl, ttl, &got), GT_OK);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(rn_stream_iter_decode(KEY1, b.data, b.len,
	    it.issued_ms + ttl + 1, ttl, &got), GT_ETIMEOUT);
	assert_int_equal(got.pos, 0x5a5a5a5a5a5a5a5aull); /* untouched */
	/* A clock that stepped back does not expire it. */
	assert_int_equal(rn_stream_iter_decode(KEY1, b.data, b.len,
	    it.issued_ms - 5000, ttl, &got), GT_OK);
	/* A tampered iterator is invalid, expired or not. */
	b.data[3] = b.data[3] == 'A' ? 'B' : 'A';
	assert_int_equal(rn_stream_iter_decode(KEY1, b.data, b.len,
	    it.issued_ms + ttl + 1, ttl, &got), GT_EINVAL);
	gt_buf_free(&b);
}

/* ------------------------------------------------------------- records */

static rn_logrec rec_make(uint8_t op, const char *old_img,
    const char *new_img)
{
	rn_logrec r;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.hlc = (1714558830456ull << 16) | 3; /* 2024-05-01T10:20:30.456Z */
	r.origin = "eu-west-1";
	r.origin_len = 9;
	r.table_id = 7;
	r.table = "Orders";
	r.table_len = 6;
	r.key = "{\"pk\":{\"S\":\"a\"}}";
	r.key_len = strlen(r.key);
	r.old_img = old_img;
	r.old_len = old_img ? strlen(old_img) : 0;
	r.new_img = new_img;
	r.new_len = new_img ? strlen(new_img) : 0;
	return r;
}

/* Renders r for view and parses the result (owned by the caller). */
static cJSON *render(const rn_logrec *r, uint64_t seq, int view)
{
	gt_buf b = GT_BUF_INIT;
	cJSON *o;
	int skip = -1;

	assert_int_equal(rn_stream_record_render(r, seq, view, "us-east-1",
	    &b, &skip), GT_OK);
	assert_int_equal(skip, 0);
	o = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(o);
	gt_buf_free(&b);
	return o;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b != NULL)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int has(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	return cJSON_GetObjectItemCaseSensitive(x, b) != NULL;
}

static void test_render_views(void **state)
{
	static const char OLD[] = "{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"1\"}}";
	static const char NEW[] = "{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"22\"},"
	    "\"s\":{\"S\":\"hello\"}}";
	static const struct {
		uint8_t op;
		const char *old_img, *new_img, *event;
	} kinds[] = {
	    {RN_LOG_PUT, NULL, NEW, "INSERT"},
	    {RN_LOG_PUT, OLD, NEW, "MODIFY"},
	    {RN_LOG_DELETE, OLD, NULL, "REMOVE"},
	};
	/* Item sizes: key "pk"+"a" = 3; OLD = 3 + "v"+1 digit (2) = 6;
	 * NEW = 3 + "v"+2 digits (3) + "s"+"hello" (6) = 12. */
	static const int key_size = 3, old_size = 6, new_size = 12;

	(void)state;
	for (size_t k = 0; k < GT_ARRAY_LEN(kinds); k++) {
		for (int view = RN_SVT_KEYS_ONLY;
		    view <= RN_SVT_NEW_AND_OLD_IMAGES; view++) {
			rn_logrec r = rec_make(kinds[k].op, kinds[k].old_img,
			    kinds[k].new_img);
			cJSON *o = render(&r, 77, view);
			const cJSON *ddb = cJSON_GetObjectItemCaseSensitive(o,
			    "dynamodb");
			int want_new = kinds[k].new_img != NULL &&
			    (view == RN_SVT_NEW_IMAGE ||
			    view == RN_SVT_NEW_AND_OLD_IMAGES);
			int want_old = kinds[k].old_img != NULL &&
			    (view == RN_SVT_OLD_IMAGE ||
			    view == RN_SVT_NEW_AND_OLD_IMAGES);
			int size = key_size + (want_new ? new_size : 0) +
			    (want_old ? old_size : 0);

			assert_string_equal(str_at(o, "eventName", NULL),
			    kinds[k].event);
			assert_string_equal(str_at(o, "eventVersion", NULL),
			    "1.1");
			assert_string_equal(str_at(o, "eventSource", NULL),
			    "aws:dynamodb");
			/* The origin of the write, not the serving region. */
			assert_string_equal(str_at(o, "awsRegion", NULL),
			    "eu-west-1");
			assert_int_equal(strlen(str_at(o, "eventID", NULL)),
			    32);
			assert_string_equal(str_at(o, "dynamodb",
			    "SequenceNumber"), "000000000000000000077");
			assert_string_equal(str_at(o, "dynamodb",
			    "StreamViewType"), rn_stream_view_name(view));
			assert_true(has(o, "dynamodb", "Keys"));
			assert_int_equal(has(o, "dynamodb", "NewImage"),
			    want_new);
			assert_int_equal(has(o, "dynamodb", "OldImage"),
			    want_old);
			assert_int_equal(cJSON_GetObjectItemCaseSensitive(ddb,
			    "ApproximateCreationDateTime")->valuedouble,
			    1714558830.0);
			assert_int_equal(cJSON_GetObjectItemCaseSensitive(ddb,
			    "SizeBytes")->valuedouble, size);
			assert_null(cJSON_GetObjectItemCaseSensitive(o,
			    "userIdentity"));
			if (want_new) {
				char *s = cJSON_PrintUnformatted(
				    cJSON_GetObjectItemCaseSensitive(ddb,
				    "NewImage"));
				assert_string_equal(s, NEW);
				free(s);
			}
			if (want_old) {
				char *s = cJSON_PrintUnformatted(
				    cJSON_GetObjectItemCaseSensitive(ddb,
				    "OldImage"));
				assert_string_equal(s, OLD);
				free(s);
			}
			cJSON_Delete(o);
		}
	}
}

static void test_render_special(void **state)
{
	static const char OLD[] = "{\"pk\":{\"S\":\"a\"}}";
	gt_buf b = GT_BUF_INIT;
	rn_logrec r;
	cJSON *o, *ui;
	int skip = 0;

	(void)state;
	/* A TTL delete names the service. */
	r = rec_make(RN_LOG_DELETE, OLD, NULL);
	r.flags = RN_LOG_F_SERVICE | RN_LOG_F_REPLICATED;
	o = render(&r, 5, RN_SVT_KEYS_ONLY);
	ui = cJSON_GetObjectItemCaseSensitive(o, "userIdentity");
	assert_string_equal(str_at(ui, "Type", NULL), "Service");
	assert_string_equal(str_at(ui, "PrincipalId", NULL),
	    "dynamodb.amazonaws.com");
	cJSON_Delete(o);

	/* Records of nothing changed here, and table records, are skipped. */
	r = rec_make(RN_LOG_DELETE, NULL, NULL);
	assert_int_equal(rn_stream_record_render(&r, 5, RN_SVT_KEYS_ONLY,
	    "us-east-1", &b, &skip), GT_OK);
	assert_int_equal(skip, 1);
	assert_int_equal(b.len, 0);
	for (uint8_t op = RN_LOG_TABLE_CREATE; op <= RN_LOG_CLUSTER; op++) {
		r = rec_make(op, NULL, "{\"TableName\":\"Orders\"}");
		skip = 0;
		assert_int_equal(rn_stream_record_render(&r, 5,
		    RN_SVT_NEW_IMAGE, "us-east-1", &b, &skip), GT_OK);
		assert_int_equal(skip, 1);
		assert_int_equal(b.len, 0);
	}
	/* A corrupt image is an error, not a crash. */
	r = rec_make(RN_LOG_PUT, NULL, "{\"pk\":");
	assert_int_equal(rn_stream_record_render(&r, 5, RN_SVT_NEW_IMAGE,
	    "us-east-1", &b, &skip), GT_ECORRUPT);

	/* Event ids differ between records and between regions. */
	{
		gt_buf x = GT_BUF_INIT, y = GT_BUF_INIT, z = GT_BUF_INIT;
		r = rec_make(RN_LOG_PUT, NULL, OLD);
		assert_int_equal(rn_stream_record_render(&r, 5,
		    RN_SVT_KEYS_ONLY, "us-east-1", &x, &skip), GT_OK);
		assert_int_equal(rn_stream_record_render(&r, 6,
		    RN_SVT_KEYS_ONLY, "us-east-1", &y, &skip), GT_OK);
		assert_int_equal(rn_stream_record_render(&r, 5,
		    RN_SVT_KEYS_ONLY, "eu-west-1", &z, &skip), GT_OK);
		assert_memory_not_equal(x.data + 12, y.data + 12, 32);
		assert_memory_not_equal(x.data + 12, z.data + 12, 32);
		gt_buf_free(&x);
		gt_buf_free(&y);
		gt_buf_free(&z);
	}
	gt_buf_free(&b);
}

/* ------------------------------------------------------------ lifecycle */

typedef struct life {
	rn_node *n;
	rn_table *old, *new_;
	uint64_t hlc;   /* stamp of log records appended */
	int nrecs;      /* records to append (table 1, PUT) */
	uint32_t table_id;
} life;

static gt_err life_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	life *l = w->arg;
	gt_err err = GT_OK;

	if (l->old != NULL || l->new_ != NULL)
		err = rn_stream_table(l->n, txn, l->old, l->new_);
	for (int i = 0; err == GT_OK && i < l->nrecs; i++) {
		rn_logrec r = rec_make(RN_LOG_PUT, NULL,
		    "{\"pk\":{\"S\":\"a\"}}");
		r.table_id = l->table_id;
		r.hlc = l->hlc << 16;
		err = rn_log_put(txn, rn_store_dbs(s), rn_store_seq_next(s),
		    &r);
	}
	return err;
}

static void life_run(rn_node *n, const rn_table *old, const rn_table *new_,
    int nrecs, uint32_t table_id, uint64_t hlc_ms)
{
	life l = {n, (rn_table *)(uintptr_t)old, (rn_table *)(uintptr_t)new_,
	    hlc_ms, nrecs, table_id};
	assert_int_equal(rn_store_write_sync(n->store, life_fn, &l), GT_OK);
}

static rn_table *table_make(uint32_t id, const char *label, int enabled)
{
	char text[512];
	rn_table *t = NULL;
	cJSON *d;

	snprintf(text, sizeof(text), "{\"Id\":%u,\"TableName\":\"Orders\","
	    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
	    "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
	    "\"AttributeType\":\"S\"}],\"StreamSpecification\":"
	    "{\"StreamEnabled\":%s%s},\"StreamLabel\":\"%s\"}", id,
	    enabled ? "true" : "false", enabled ?
	    ",\"StreamViewType\":\"KEYS_ONLY\"" : "", label);
	d = cJSON_Parse(text);
	assert_non_null(d);
	assert_int_equal(rn_table_from_json(d, &t), GT_OK);
	return t;
}

static gt_err floor_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	uint64_t *upto = w->arg;
	uint8_t b[8];
	MDB_val k = {9, (void *)(uintptr_t)"log_floor"}, v = {8, b};

	gt_put_u64be(b, *upto);
	return rn_mdb_err(mdb_put(txn, rn_store_dbs(s)->meta, &k, &v, 0));
}

static void test_lifecycle(void **state)
{
	char dir[] = "/tmp/meridian-stream-XXXXXX", cmd[128];
	rn_store_opts so;
	rn_node *n = calloc(1, sizeof(*n));
	rn_table *on, *off, *again, *other;
	uint8_t key[RN_STREAM_KEY_LEN];
	uint64_t now = gt_wall_ms(), keep = 0, floor;
	MDB_txn *txn = NULL;
	rn_stream st;
	int any = -1;

	(void)state;
	assert_non_null(n);
	assert_non_null(mkdtemp(dir));
	memset(&so, 0, sizeof(so));
	so.path = dir;
	so.durability = RN_DURABILITY_NOSYNC;
	so.map_size_bytes = 64u << 20;
	so.batch_max = 16;
	assert_int_equal(rn_node_open(n, "us-east-1", &so), GT_OK);
	assert_int_equal(n->streams.retention_s, 86400);
	assert_int_equal(n->streams.iterator_ttl_s, 900);
	memcpy(key, n->streams.key, sizeof(key));

	/* No stream: retention has nothing to say. */
	assert_int_equal(rn_stream_retention(n, now, 100, &any, &keep), GT_OK);
	assert_int_equal(any, 0);

	/* Two old records before the stream, three in it, one of another
	 * table. */
	on = table_make(1, "L1", 1);
	off = table_make(1, "L1", 0);
	again = table_make(1, "L2", 1);
	other = table_make(2, "L9", 0);
	life_run(n, NULL, NULL, 2, 1, now - 90000000u);
	life_run(n, NULL, on, 3, 1, now - 90000000u);
	life_run(n, NULL, other, 1, 2, now);
	assert_int_equal(rn_store_read_begin(n->store, &txn), GT_OK);
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L1",
	    &st), GT_OK);
	rn_store_read_end(txn);
	assert_int_equal(st.start_seq, 3);
	assert_int_equal(st.closed, 0);
	assert_int_equal(st.view, RN_SVT_KEYS_ONLY);
	assert_string_equal(st.table, "Orders");
	assert_string_equal(st.key_schema,
	    "[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]");

	/* The same stream again changes nothing; disabling closes it at
	 * the last sequence number; enabling opens a new one after it. */
	life_run(n, on, on, 0, 1, now);
	life_run(n, on, off, 0, 1, now);
	life_run(n, off, again, 1, 1, now);
	assert_int_equal(rn_store_read_begin(n->store, &txn), GT_OK);
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L1",
	    &st), GT_OK);
	assert_int_equal(st.closed, 1);
	assert_int_equal(st.start_seq, 3);
	assert_int_equal(st.end_seq, 6);
	assert_true(st.closed_ms >= now);
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L2",
	    &st), GT_OK);
	assert_int_equal(st.closed, 0);
	assert_int_equal(st.start_seq, 7);
	rn_store_read_end(txn);

	/* Retention keeps every record younger than retention: the five
	 * old ones may go, the rest stay. */
	assert_int_equal(rn_stream_retention(n, now, 100, &any, &keep), GT_OK);
	assert_int_equal(any, 1);
	assert_int_equal(keep, 5);
	/* A bounded walk stops early. */
	assert_int_equal(rn_stream_retention(n, now, 2, &any, &keep), GT_OK);
	assert_int_equal(keep, 2);
	/* Far in the future, every record may go. */
	assert_int_equal(rn_stream_retention(n, now + 200000000u, 100, &any,
	    &keep), GT_OK);
	assert_int_equal(keep, 7);

	/* Dropping the table closes its open stream. */
	life_run(n, again, NULL, 0, 1, now);
	/* A closed stream is forgotten once stream_retention_s has passed
	 * since it closed, even while the log (kept for a lagging peer)
	 * still holds its records. */
	floor = 6;
	assert_int_equal(rn_store_write_sync(n->store, floor_fn, &floor),
	    GT_OK);
	assert_int_equal(rn_stream_gc(n, now + 1000), GT_OK);
	assert_int_equal(rn_store_read_begin(n->store, &txn), GT_OK);
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L1",
	    &st), GT_OK);
	assert_int_equal(st.closed, 1);
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L2",
	    &st), GT_OK);
	assert_int_equal(st.end_seq, 7);
	rn_store_read_end(txn);
	assert_int_equal(rn_stream_gc(n, now + 86400000u + 60000u), GT_OK);
	assert_int_equal(rn_store_read_begin(n->store, &txn), GT_OK);
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L1",
	    &st), GT_ENOTFOUND);
	/* L2 ends at 7, above the floor: its records remain, but it closed
	 * more than a retention ago, so it goes too. */
	assert_int_equal(rn_stream_get(txn, rn_store_dbs(n->store), 1, "L2",
	    &st), GT_ENOTFOUND);
	rn_store_read_end(txn);

	rn_table_unref(on);
	rn_table_unref(off);
	rn_table_unref(again);
	rn_table_unref(other);
	rn_node_close(n);

	/* The iterator key survives a restart. */
	assert_int_equal(rn_node_open(n, "us-east-1", &so), GT_OK);
	assert_memory_equal(key, n->streams.key, sizeof(key));
	rn_node_close(n);
	free(n);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ------------------------------------------------------- retention plan */

static void test_retention_keep(void **state)
{
	repl_retention_in in;
	repl_retention_out out;
	repl_peer_ack peers[2] = {{60, 1, 9}, {80, 1, 9}};

	(void)state;
	memset(&in, 0, sizeof(in));
	in.head_seq = 100;
	in.trunc_seq = 10;
	/* Streams lower the point below every peer's ack... */
	in.keep_set = 1;
	in.keep_seq = 40;
	assert_int_equal(repl_retention_plan(&in, peers, 2, &out), GT_OK);
	assert_int_equal(out.trunc_to, 40);
	assert_int_equal(out.n_resync, 0);
	/* ...never below what is gone... */
	in.keep_seq = 5;
	assert_int_equal(repl_retention_plan(&in, peers, 2, &out), GT_OK);
	assert_int_equal(out.trunc_to, 10);
	/* ...and yield to keep_max. */
	in.keep_max = 30;
	assert_int_equal(repl_retention_plan(&in, peers, 2, &out), GT_OK);
	assert_int_equal(out.trunc_to, 70);
	assert_int_equal(out.n_resync, 1);
	/* Without peers, streams alone decide. */
	in.keep_max = 0;
	in.keep_seq = 55;
	assert_int_equal(repl_retention_plan(&in, NULL, 0, &out), GT_OK);
	assert_int_equal(out.trunc_to, 55);
	/* A keep above the acks changes nothing. */
	in.keep_seq = 99;
	assert_int_equal(repl_retention_plan(&in, peers, 2, &out), GT_OK);
	assert_int_equal(out.trunc_to, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seq_format),
	    cmocka_unit_test(test_shard_id_and_arn),
	    cmocka_unit_test(test_stream_record_codec),
	    cmocka_unit_test(test_iter_round_trip),
	    cmocka_unit_test(test_iter_tamper),
	    cmocka_unit_test(test_iter_expiry),
	    cmocka_unit_test(test_render_views),
	    cmocka_unit_test(test_render_special),
	    cmocka_unit_test(test_lifecycle),
	    cmocka_unit_test(test_retention_keep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
