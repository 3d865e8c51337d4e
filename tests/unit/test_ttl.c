/*
 * test_ttl.c — Time to Live: expiry-key encoding, number-to-seconds
 * conversion, the expiry window, the "which region deletes" rule, and the
 * writer-side pieces on a real store (tracking, the tracking job, sweeping
 * as service deletes, disabling).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "changelog.h"
#include "items.h"
#include "ttl.h"

/* ------------------------------------------------------------ helpers */

static cJSON *js(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	return j;
}

/* rn_ttl_seconds of {"N": text}; returns the error, *out the seconds. */
static gt_err secs_n(const char *text, uint64_t *out)
{
	cJSON *av = cJSON_CreateObject();
	gt_err err;

	assert_non_null(av);
	cJSON_AddStringToObject(av, "N", text);
	err = rn_ttl_seconds(av, out);
	cJSON_Delete(av);
	return err;
}

static uint64_t secs_ok(const char *text)
{
	uint64_t v = 12345;
	assert_int_equal(secs_n(text, &v), GT_OK);
	return v;
}

/* ------------------------------------------------------ number -> secs */

static void test_seconds_whole_and_fractional(void **state)
{
	(void)state;
	assert_true(secs_ok("1700000000") == 1700000000ull);
	assert_true(secs_ok("1700000000.999999") == 1700000000ull);
	assert_true(secs_ok("1700000000.000001") == 1700000000ull);
	assert_true(secs_ok("0") == 0);
	assert_true(secs_ok("-0") == 0);
	assert_true(secs_ok("0.5") == 0);
	assert_true(secs_ok("0.0000000000001") == 0);
	assert_true(secs_ok("1E-130") == 0);
	assert_true(secs_ok("00017") == 17);
	assert_true(secs_ok("1.7E9") == 1700000000ull);
	assert_true(secs_ok("17e+8") == 1700000000ull);
	assert_true(secs_ok("123.456e2") == 12345);
}

static void test_seconds_huge_clamps(void **state)
{
	(void)state;
	assert_true(secs_ok("1E+19") == 10000000000000000000ull);
	/* UINT64_MAX exactly, then one past it. */
	assert_true(secs_ok("18446744073709551615") == UINT64_MAX);
	assert_true(secs_ok("18446744073709551614.9") ==
	    UINT64_MAX - 1);
	assert_true(secs_ok("18446744073709551616") == UINT64_MAX);
	assert_true(secs_ok("1E+20") == UINT64_MAX);
	assert_true(secs_ok("9.9999999999999999999999999999999999999E+125")
	    == UINT64_MAX);
	assert_true(secs_ok("12345678901234567890123456789012345678") ==
	    UINT64_MAX);
}

static void test_seconds_not_tracked(void **state)
{
	const char *bad_values[] = {
	    "{\"S\":\"1700000000\"}", "{\"NS\":[\"1\"]}", "{\"BOOL\":true}",
	    "{\"NULL\":true}", "{\"L\":[{\"N\":\"1\"}]}",
	    "{\"M\":{\"N\":{\"N\":\"1\"}}}", "{\"B\":\"AAAA\"}", "{}",
	    "{\"N\":5}",
	};
	uint64_t v = 77;

	(void)state;
	assert_int_equal(secs_n("-1", &v), GT_EINVAL);
	assert_int_equal(secs_n("-0.5", &v), GT_EINVAL);
	assert_int_equal(secs_n("-1E+30", &v), GT_EINVAL);
	assert_int_equal(secs_n("abc", &v), GT_EINVAL);
	assert_int_equal(secs_n("", &v), GT_EINVAL);
	assert_int_equal(secs_n("1E+126", &v), GT_EINVAL);
	assert_int_equal(secs_n("1.2.3", &v), GT_EINVAL);
	assert_int_equal(rn_ttl_seconds(NULL, &v), GT_EINVAL);
	for (size_t i = 0; i < GT_ARRAY_LEN(bad_values); i++) {
		cJSON *av = js(bad_values[i]);
		assert_int_equal(rn_ttl_seconds(av, &v), GT_EINVAL);
		cJSON_Delete(av);
	}
	assert_int_equal(v, 77); /* untouched on error */
}

static void test_item_expiry(void **state)
{
	cJSON *item = js("{\"pk\":{\"S\":\"a\"},\"exp\":{\"N\":\"100.5\"},"
	    "\"s\":{\"S\":\"5\"}}");
	uint64_t v = 0;

	(void)state;
	assert_int_equal(rn_ttl_item_expiry(item, "exp", &v), GT_OK);
	assert_true(v == 100);
	assert_int_equal(rn_ttl_item_expiry(item, "missing", &v),
	    GT_ENOTFOUND);
	assert_int_equal(rn_ttl_item_expiry(item, "EXP", &v), GT_ENOTFOUND);
	assert_int_equal(rn_ttl_item_expiry(item, "s", &v), GT_EINVAL);
	assert_int_equal(rn_ttl_item_expiry(NULL, "exp", &v), GT_ENOTFOUND);
	cJSON_Delete(item);
}

/* ------------------------------------------------------------ key form */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u);
}

static void test_key_plain_roundtrip(void **state)
{
	uint8_t ik[64], k[RN_TTL_KEY_MAX];
	const uint8_t *got = NULL;
	size_t kl = 0, gl = 0;
	uint32_t id = 0;
	uint64_t e = 0;
	int hashed = -1;

	(void)state;
	fill(ik, sizeof(ik), 1);
	assert_int_equal(rn_ttl_key_encode(0x01020304u, 0x1122334455667788ull,
	    ik, sizeof(ik), k, &kl, &hashed), GT_OK);
	assert_int_equal(hashed, 0);
	assert_int_equal(kl, 12 + sizeof(ik));
	/* Big-endian table id, then expiry, then the item key. */
	assert_int_equal(k[0], 0x01);
	assert_int_equal(k[3], 0x04);
	assert_int_equal(k[4], 0x11);
	assert_int_equal(k[11], 0x88);
	assert_memory_equal(k + 12, ik, sizeof(ik));
	assert_int_equal(rn_ttl_key_decode(k, kl, NULL, 0, &id, &e, &got, &gl),
	    GT_OK);
	assert_int_equal(id, 0x01020304u);
	assert_true(e == 0x1122334455667788ull);
	assert_int_equal(gl, sizeof(ik));
	assert_memory_equal(got, ik, sizeof(ik));
}

static void test_key_order(void **state)
{
	uint8_t a[RN_TTL_KEY_MAX], b[RN_TTL_KEY_MAX], ik1[8], ik2[8];
	size_t al, bl;
	int h;

	(void)state;
	memset(ik1, 0xff, sizeof(ik1));
	memset(ik2, 0x00, sizeof(ik2));
	/* Within a table, entries sort by expiry whatever the item key. */
	assert_int_equal(rn_ttl_key_encode(7, 255, ik1, 8, a, &al, &h), GT_OK);
	assert_int_equal(rn_ttl_key_encode(7, 256, ik2, 8, b, &bl, &h), GT_OK);
	assert_true(memcmp(a, b, GT_MIN(al, bl)) < 0);
	/* Tables are contiguous: a later table sorts after any expiry. */
	assert_int_equal(rn_ttl_key_encode(7, UINT64_MAX, ik1, 8, a, &al, &h),
	    GT_OK);
	assert_int_equal(rn_ttl_key_encode(8, 0, ik2, 8, b, &bl, &h), GT_OK);
	assert_true(memcmp(a, b, GT_MIN(al, bl)) < 0);
}

static void test_key_hashed_form(void **state)
{
	uint8_t ik[RN_TTL_KEY_MAX], ik2[RN_TTL_KEY_MAX], k[RN_TTL_KEY_MAX],
	    k2[RN_TTL_KEY_MAX];
	const uint8_t *got = NULL;
	size_t kl = 0, kl2 = 0, gl = 0;
	uint32_t id = 0;
	uint64_t e = 0;
	int hashed = -1;

	(void)state;
	fill(ik, sizeof(ik), 3);
	/* The longest plain form is 510 bytes (item key of 498). */
	assert_int_equal(rn_ttl_key_encode(5, 9, ik, 498, k, &kl, &hashed),
	    GT_OK);
	assert_int_equal(hashed, 0);
	assert_int_equal(kl, 510);
	for (size_t len = 499; len <= RN_TTL_KEY_MAX; len++) {
		assert_int_equal(rn_ttl_key_encode(5, 9, ik, len, k, &kl,
		    &hashed), GT_OK);
		assert_int_equal(hashed, 1);
		assert_int_equal(kl, RN_TTL_KEY_MAX);
		assert_memory_equal(k + 12, ik, RN_TTL_KEY_INLINE);
		assert_int_equal(rn_ttl_key_decode(k, kl, ik, len, &id, &e,
		    &got, &gl), GT_OK);
		assert_int_equal(id, 5);
		assert_true(e == 9);
		assert_ptr_equal(got, ik);
		assert_int_equal(gl, len);
	}
	/* Two long keys sharing the inline part get different keys. */
	memcpy(ik2, ik, sizeof(ik));
	ik2[RN_TTL_KEY_MAX - 1] ^= 1;
	assert_int_equal(rn_ttl_key_encode(5, 9, ik, RN_TTL_KEY_MAX, k, &kl,
	    &hashed), GT_OK);
	assert_int_equal(rn_ttl_key_encode(5, 9, ik2, RN_TTL_KEY_MAX, k2, &kl2,
	    &hashed), GT_OK);
	assert_int_equal(kl, kl2);
	assert_memory_not_equal(k, k2, kl);
	assert_memory_equal(k, k2, 12 + RN_TTL_KEY_INLINE);
}

static void test_key_errors(void **state)
{
	uint8_t ik[RN_TTL_KEY_MAX + 1], k[RN_TTL_KEY_MAX];
	const uint8_t *got = NULL;
	size_t kl = 0, gl = 0;
	uint32_t id = 0;
	uint64_t e = 0;
	int hashed = 0;

	(void)state;
	fill(ik, sizeof(ik), 9);
	assert_int_equal(rn_ttl_key_encode(1, 1, ik, 0, k, &kl, &hashed),
	    GT_EINVAL);
	assert_int_equal(rn_ttl_key_encode(1, 1, NULL, 4, k, &kl, &hashed),
	    GT_EINVAL);
	assert_int_equal(rn_ttl_key_encode(1, 1, ik, RN_TTL_KEY_MAX + 1, k,
	    &kl, &hashed), GT_EINVAL);
	/* Too short to hold an item key. */
	assert_int_equal(rn_ttl_key_decode(k, 12, NULL, 0, &id, &e, &got,
	    &gl), GT_ECORRUPT);
	/* A 511-byte key is always the hashed form, which has a value. */
	assert_int_equal(rn_ttl_key_encode(1, 1, ik, RN_TTL_KEY_MAX, k, &kl,
	    &hashed), GT_OK);
	assert_int_equal(rn_ttl_key_decode(k, kl, NULL, 0, &id, &e, &got,
	    &gl), GT_ECORRUPT);
	/* A value that is not the key's item key. */
	ik[0] ^= 0xff;
	assert_int_equal(rn_ttl_key_decode(k, kl, ik, RN_TTL_KEY_MAX, &id, &e,
	    &got, &gl), GT_ECORRUPT);
	/* A value beside a plain key. */
	assert_int_equal(rn_ttl_key_encode(1, 1, ik, 20, k, &kl, &hashed),
	    GT_OK);
	assert_int_equal(rn_ttl_key_decode(k, kl, ik, 20, &id, &e, &got, &gl),
	    GT_ECORRUPT);
	assert_int_equal(id, 0); /* untouched on error */
}

/* ------------------------------------------------- window and deleter */

static void test_expired_window(void **state)
{
	const uint64_t now = 1800000000ull;

	(void)state;
	assert_true(rn_ttl_expired(now - 1, now));
	assert_false(rn_ttl_expired(now, now)); /* never before its TTL */
	assert_false(rn_ttl_expired(now + 1, now));
	assert_false(rn_ttl_expired(UINT64_MAX, now));
	assert_true(rn_ttl_expired(now - RN_TTL_MAX_AGE_S, now));
	assert_false(rn_ttl_expired(now - RN_TTL_MAX_AGE_S - 1, now));
	assert_false(rn_ttl_expired(0, now));
	/* Near the epoch nothing is too old. */
	assert_true(rn_ttl_expired(0, 5));
}

static void test_should_delete(void **state)
{
	const uint64_t now = 1800000000ull;

	(void)state;
	/* The region that last wrote the item deletes it at once. */
	assert_true(rn_ttl_should_delete("us-east-1", "us-east-1", 0, now - 1,
	    now, 60));
	/* Another region waits until it has been expired for longer than
	 * the takeover time... */
	assert_false(rn_ttl_should_delete("eu-west-1", "us-east-1", 0,
	    now - 1, now, 60));
	assert_false(rn_ttl_should_delete("eu-west-1", "us-east-1", 0,
	    now - 60, now, 60));
	assert_true(rn_ttl_should_delete("eu-west-1", "us-east-1", 0,
	    now - 61, now, 60));
	/* ... unless it holds the only replica. */
	assert_true(rn_ttl_should_delete("eu-west-1", "us-east-1", 1, now - 1,
	    now, 60));
	/* Takeover 0: every region deletes at once. */
	assert_true(rn_ttl_should_delete("eu-west-1", "us-east-1", 0, now - 1,
	    now, 0));
	/* Nobody deletes what has not expired or is too old to count. */
	assert_false(rn_ttl_should_delete("us-east-1", "us-east-1", 1, now,
	    now, 0));
	assert_false(rn_ttl_should_delete("us-east-1", "us-east-1", 1,
	    now - RN_TTL_MAX_AGE_S - 1, now, 0));
	assert_false(rn_ttl_should_delete("eu-west-1", "us-east-1", 0,
	    now - RN_TTL_MAX_AGE_S - 1, now, 60));
}

/* ------------------------------------------------ on a real store */

typedef struct fixture {
	char dir[64];
	rn_node n;
	rn_table *t;
} fixture;

typedef struct txn_call {
	fixture *f;
	gt_err (*fn)(struct txn_call *tc, MDB_txn *txn);
	const cJSON *desc;
	rn_table *made;
	int from, count, exp_even, exp_odd;
	const char *attr;
	const cJSON *old_item, *new_item;
} txn_call;

static gt_err txn_call_run(rn_store *s, MDB_txn *txn, rn_write *w)
{
	txn_call *tc = w->arg;
	(void)s;
	return tc->fn(tc, txn);
}

static void run_txn(txn_call *tc)
{
	assert_int_equal(rn_store_write_sync(tc->f->n.store, txn_call_run, tc),
	    GT_OK);
}

static gt_err create_fn(txn_call *tc, MDB_txn *txn)
{
	return rn_table_create_txn(&tc->f->n, txn, tc->desc, 0, NULL,
	    &tc->made);
}

static gt_err replace_fn(txn_call *tc, MDB_txn *txn)
{
	return rn_table_replace_txn(&tc->f->n, txn, tc->f->t, tc->desc, 0,
	    NULL, &tc->made);
}

/* Publishes a new descriptor of the fixture's table. */
static void publish(fixture *f, rn_table *made)
{
	assert_int_equal(rn_catalog_put(&f->n.catalog, made), GT_OK);
	rn_table_unref(f->t);
	f->t = made;
}

/* Sets the TTL specification (attr NULL: none) of the table. */
static void set_ttl(fixture *f, const char *attr, int enabled)
{
	cJSON *desc = cJSON_Duplicate(f->t->desc, 1);
	txn_call tc;

	assert_non_null(desc);
	cJSON_DeleteItemFromObjectCaseSensitive(desc,
	    "TimeToLiveSpecification");
	if (attr != NULL) {
		cJSON *spec = cJSON_AddObjectToObject(desc,
		    "TimeToLiveSpecification");
		cJSON_AddStringToObject(spec, "AttributeName", attr);
		cJSON_AddBoolToObject(spec, "Enabled", enabled);
	}
	memset(&tc, 0, sizeof(tc));
	tc.f = f;
	tc.fn = replace_fn;
	tc.desc = desc;
	run_txn(&tc);
	cJSON_Delete(desc);
	publish(f, tc.made);
}

static void item_key(const fixture *f, int i, gt_buf *key, char *json,
    size_t cap)
{
	char msg[RN_MSG_MAX];
	cJSON *obj;

	snprintf(json, cap, "{\"pk\":{\"S\":\"k%05d\"}}", i);
	obj = js(json);
	gt_buf_reset(key);
	assert_int_equal(rn_table_key_encode(f->t, obj, 1, key, msg), GT_OK);
	cJSON_Delete(obj);
}

/* Writes items from..from+count-1 straight into the items database (as
 * a region "eu-west-1" wrote them), bypassing tracking: even ones expire
 * at exp_even, odd ones at exp_odd; every tenth has a string TTL. */
static gt_err items_fn(txn_call *tc, MDB_txn *txn)
{
	const rn_dbs *dbs = rn_store_dbs(tc->f->n.store);
	gt_buf key = GT_BUF_INIT;
	gt_err err = GT_OK;

	for (int i = tc->from; i < tc->from + tc->count && err == GT_OK; i++) {
		char kj[64], body[160];
		cf_version ver;
		memset(&ver, 0, sizeof(ver));
		ver.exists = 1;
		assert_int_equal(cf_stamp_set(&ver.stamp, 1000 + (uint64_t)i,
		    "eu-west-1"), GT_OK);
		assert_int_equal(cf_vv_set(&ver.vv, "eu-west-1",
		    (uint64_t)i + 1), GT_OK);
		item_key(tc->f, i, &key, kj, sizeof(kj));
		snprintf(body, sizeof(body), "{\"pk\":{\"S\":\"k%05d\"},"
		    "\"exp\":{\"%s\":\"%d\"}}", i, i % 10 == 9 ? "S" : "N",
		    i % 2 == 0 ? tc->exp_even : tc->exp_odd);
		err = rn_item_write(txn, dbs, key.data, key.len, &ver, body,
		    strlen(body));
	}
	gt_buf_free(&key);
	return err;
}

static gt_err track_fn(txn_call *tc, MDB_txn *txn)
{
	gt_buf key = GT_BUF_INIT;
	char kj[64];
	gt_err err;

	item_key(tc->f, tc->from, &key, kj, sizeof(kj));
	err = rn_ttl_track(&tc->f->n, txn, tc->f->t, key.data, key.len,
	    tc->old_item, tc->new_item);
	gt_buf_free(&key);
	return err;
}

/* Counts the table's expiry entries (and those with expiry e when e is
 * not UINT64_MAX). */
static size_t entries_count(fixture *f, uint64_t e)
{
	const rn_dbs *dbs = rn_store_dbs(f->n.store);
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	uint8_t kb[4];
	MDB_val k = {4, kb}, v;
	size_t cnt = 0;
	int rc;

	gt_put_u32be(kb, f->t->id);
	assert_int_equal(rn_store_read_begin(f->n.store, &txn), GT_OK);
	assert_int_equal(mdb_cursor_open(txn, dbs->expiry, &cur), MDB_SUCCESS);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    gt_get_u32be(k.mv_data) == f->t->id;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (e == UINT64_MAX || gt_get_u64be((uint8_t *)k.mv_data + 4) ==
		    e)
			cnt++;
	mdb_cursor_close(cur);
	rn_store_read_end(txn);
	return cnt;
}

static int job_exists(fixture *f)
{
	MDB_txn *txn = NULL;
	char kb[32];
	MDB_val k, v;
	int rc;

	k.mv_size = (size_t)snprintf(kb, sizeof(kb), "ttl_scan/%u", f->t->id);
	k.mv_data = kb;
	assert_int_equal(rn_store_read_begin(f->n.store, &txn), GT_OK);
	rc = mdb_get(txn, rn_store_dbs(f->n.store)->meta, &k, &v);
	rn_store_read_end(txn);
	return rc == MDB_SUCCESS;
}

/* Counts the log's DELETE records with and without the SERVICE flag. */
static void log_deletes(fixture *f, size_t *service, size_t *other)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	*service = *other = 0;
	assert_int_equal(rn_store_read_begin(f->n.store, &txn), GT_OK);
	assert_int_equal(mdb_cursor_open(txn, rn_store_dbs(f->n.store)->log,
	    &cur), MDB_SUCCESS);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_logrec r;
		assert_int_equal(rn_logrec_decode(v.mv_data, v.mv_size, &r),
		    GT_OK);
		if (r.op != RN_LOG_DELETE)
			continue;
		if (r.flags & RN_LOG_F_SERVICE)
			(*service)++;
		else
			(*other)++;
	}
	mdb_cursor_close(cur);
	rn_store_read_end(txn);
}

static int live_count(fixture *f, int from, int count)
{
	gt_buf key = GT_BUF_INIT;
	MDB_txn *txn = NULL;
	int live = 0;

	assert_int_equal(rn_store_read_begin(f->n.store, &txn), GT_OK);
	for (int i = from; i < from + count; i++) {
		rn_item_cur ic;
		char kj[64];
		item_key(f, i, &key, kj, sizeof(kj));
		assert_int_equal(rn_item_read(txn, rn_store_dbs(f->n.store),
		    key.data, key.len, &ic), GT_OK);
		live += ic.live;
	}
	rn_store_read_end(txn);
	gt_buf_free(&key);
	return live;
}

static int fixture_setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	rn_store_opts o;
	txn_call tc;
	cJSON *desc;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/meridian-ttl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memset(&o, 0, sizeof(o));
	o.path = f->dir;
	o.durability = RN_DURABILITY_NOSYNC;
	o.map_size_bytes = 256u << 20;
	o.batch_max = 64;
	assert_int_equal(rn_node_open(&f->n, "us-east-1", &o), GT_OK);
	desc = js("{\"TableName\":\"ttltab\",\"KeySchema\":[{\"AttributeName\":"
	    "\"pk\",\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{"
	    "\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
	    "\"CreationDateTime\":1,\"BillingMode\":\"PAY_PER_REQUEST\"}");
	memset(&tc, 0, sizeof(tc));
	tc.f = f;
	tc.fn = create_fn;
	tc.desc = desc;
	run_txn(&tc);
	cJSON_Delete(desc);
	assert_int_equal(rn_catalog_put(&f->n.catalog, tc.made), GT_OK);
	f->t = tc.made;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	rn_table_unref(f->t);
	rn_node_close(&f->n);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_store_track_moves_entries(void **state)
{
	fixture *f = *state;
	cJSON *a = js("{\"pk\":{\"S\":\"k00001\"},\"exp\":{\"N\":\"100\"}}");
	cJSON *b = js("{\"pk\":{\"S\":\"k00001\"},\"exp\":{\"N\":\"200.9\"}}");
	cJSON *s = js("{\"pk\":{\"S\":\"k00001\"},\"exp\":{\"S\":\"300\"}}");
	txn_call tc;

	/* Disabled: nothing is tracked. */
	memset(&tc, 0, sizeof(tc));
	tc.f = f;
	tc.fn = track_fn;
	tc.from = 1;
	tc.new_item = a;
	run_txn(&tc);
	assert_int_equal(entries_count(f, UINT64_MAX), 0);

	set_ttl(f, "exp", 1);
	assert_true(job_exists(f));
	run_txn(&tc); /* created */
	assert_int_equal(entries_count(f, 100), 1);
	tc.old_item = a;
	tc.new_item = b; /* updated */
	run_txn(&tc);
	assert_int_equal(entries_count(f, 100), 0);
	assert_int_equal(entries_count(f, 200), 1);
	tc.old_item = b;
	tc.new_item = s; /* no longer a Number */
	run_txn(&tc);
	assert_int_equal(entries_count(f, UINT64_MAX), 0);
	tc.old_item = s;
	tc.new_item = b;
	run_txn(&tc);
	tc.old_item = b;
	tc.new_item = NULL; /* deleted */
	run_txn(&tc);
	assert_int_equal(entries_count(f, UINT64_MAX), 0);

	/* Disabling clears the entries and the job. */
	tc.old_item = NULL;
	tc.new_item = b;
	run_txn(&tc);
	assert_int_equal(entries_count(f, UINT64_MAX), 1);
	set_ttl(f, "exp", 0);
	assert_int_equal(entries_count(f, UINT64_MAX), 0);
	assert_false(job_exists(f));
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(s);
}

static void test_store_job_and_sweep(void **state)
{
	fixture *f = *state;
	const int count = 5000; /* three tracking chunks */
	const uint64_t now_s = gt_wall_ms() / 1000u;
	rn_ttl_opts o = {1000, 60};
	size_t service = 0, other = 0;
	txn_call tc;
	int rounds, with_n_even = 0, with_n_odd = 0;

	memset(&tc, 0, sizeof(tc));
	tc.f = f;
	tc.fn = items_fn;
	tc.from = 0;
	tc.count = count;
	tc.exp_even = (int)(now_s - 30); /* expired */
	tc.exp_odd = (int)(now_s + 3600);
	run_txn(&tc);
	for (int i = 0; i < count; i++) {
		if (i % 10 == 9)
			continue;
		if (i % 2 == 0)
			with_n_even++;
		else
			with_n_odd++;
	}

	/* Enabling records a job; the round tracks every existing item,
	 * then deletes the expired ones (the only replica, so written in
	 * another region or not), at most 1,000 a round. */
	set_ttl(f, "exp", 1);
	assert_true(job_exists(f));
	assert_int_equal(entries_count(f, UINT64_MAX), 0);
	for (rounds = 0; rounds < 50; rounds++)
		if (!rn_ttl_round(&f->n, &o, gt_wall_ms()))
			break;
	assert_true(rounds < 50);
	assert_false(job_exists(f));
	assert_int_equal(entries_count(f, UINT64_MAX), (size_t)with_n_odd);
	assert_int_equal(live_count(f, 0, count), count - with_n_even);
	assert_int_equal(atomic_load(&f->n.ttl_deleted), (uint64_t)with_n_even);
	assert_int_equal(atomic_load(&f->n.ttl_pending), 0);
	log_deletes(f, &service, &other);
	assert_int_equal(service, (size_t)with_n_even);
	assert_int_equal(other, 0);

	/* An hour and more later the rest goes too, except the items whose
	 * TTL is a string. */
	for (rounds = 0; rounds < 50; rounds++)
		if (!rn_ttl_round(&f->n, &o, (now_s + 3602) * 1000u))
			break;
	assert_int_equal(entries_count(f, UINT64_MAX), 0);
	assert_int_equal(live_count(f, 0, count), count / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seconds_whole_and_fractional),
		cmocka_unit_test(test_seconds_huge_clamps),
		cmocka_unit_test(test_seconds_not_tracked),
		cmocka_unit_test(test_item_expiry),
		cmocka_unit_test(test_key_plain_roundtrip),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_key_hashed_form),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_expired_window),
		cmocka_unit_test(test_should_delete),
		cmocka_unit_test_setup_teardown(test_store_track_moves_entries,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_store_job_and_sweep,
		    fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
