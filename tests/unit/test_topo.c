/*
 * test_topo.c — unit tests of the topology core (topology/topo.c):
 * membership, replica sets and their refusals, the epoch order, the
 * reconciling decision on an incoming set, JSON round trips and hostile
 * JSON, and the backfill cursor rule.  The JSON mutation test prints its
 * seed; MERIDIAN_SEED=N replays it.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "topo.h"

/* --------------------------------------------------------------- helpers */

static topo_region mkregion(const char *name)
{
	topo_region r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.api_url, sizeof(r.api_url), "http://%s:8000", name);
	snprintf(r.repl_url, sizeof(r.repl_url), "tcp://%s:9000", name);
	return r;
}

/* A membership of the given names, joined in order by "a". */
static topo_members mkmembers(const char *const *names, size_t n)
{
	topo_members m;

	memset(&m, 0, sizeof(m));
	for (size_t i = 0; i < n; i++) {
		topo_region r = mkregion(names[i]);

		assert_int_equal(topo_members_join(&m, &r, "a", &m), GT_OK);
	}
	return m;
}

static const char *const ABCD[] = {"a", "b", "c", "d"};

/* A set of a, b, c ACTIVE, epoch 1, made by a. */
static topo_rset mkset3(void)
{
	topo_members m = mkmembers(ABCD, 3);
	topo_rset rs;

	topo_rset_init_all(&rs, &m, "a");
	assert_true(topo_rset_check(&rs));
	return rs;
}

/* {a, b, c} with d CREATING from a: epoch 2, changed_by a. */
static topo_rset mkset_creating(void)
{
	topo_members m = mkmembers(ABCD, 4);
	topo_rset rs = mkset3(), out;

	assert_int_equal(topo_rset_add(&rs, &m, "a", "d", &out), TOPO_OK);
	return out;
}

static char *members_json(const topo_members *m)
{
	gt_buf b = GT_BUF_INIT;

	topo_members_json(m, &b);
	assert_true(gt_buf_ok(&b));
	return gt_buf_steal(&b, NULL);
}

static char *rset_json(const topo_rset *rs)
{
	gt_buf b = GT_BUF_INIT;

	topo_rset_json(rs, &b);
	assert_true(gt_buf_ok(&b));
	return gt_buf_steal(&b, NULL);
}

static gt_err mparse(const char *s, topo_members *out)
{
	return topo_members_parse(s, strlen(s), out);
}

static gt_err rparse(const char *s, topo_rset *out)
{
	return topo_rset_parse(s, strlen(s), out);
}

/* ------------------------------------------------------------ membership */

static void test_members_join(void **state)
{
	topo_members m, out;
	topo_region r;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_true(topo_members_check(&m));
	r = mkregion("us-east-1");
	assert_int_equal(topo_members_join(&m, &r, "us-east-1", &out), GT_OK);
	assert_int_equal(out.epoch, 1);
	assert_string_equal(out.changed_by, "us-east-1");
	assert_int_equal(out.n, 1);
	assert_string_equal(out.r[0].api_url, "http://us-east-1:8000");
	/* Inserted sorted whatever the join order. */
	r = mkregion("eu-west-1");
	assert_int_equal(topo_members_join(&out, &r, "us-east-1", &out),
	    GT_OK);
	r = mkregion("ap-south-1");
	assert_int_equal(topo_members_join(&out, &r, "eu-west-1", &out),
	    GT_OK);
	assert_int_equal(out.epoch, 3);
	assert_string_equal(out.changed_by, "eu-west-1");
	assert_int_equal(out.n, 3);
	assert_string_equal(out.r[0].name, "ap-south-1");
	assert_string_equal(out.r[1].name, "eu-west-1");
	assert_string_equal(out.r[2].name, "us-east-1");
	assert_true(topo_members_check(&out));
}

static void test_members_join_same_and_update(void **state)
{
	topo_members m = mkmembers(ABCD, 3), out;
	topo_region r = mkregion("b");

	(void)state;
	/* Identical URLs: nothing changes, not even the epoch. */
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(topo_members_join(&m, &r, "c", &out), GT_OK);
	assert_memory_equal(&out, &m, sizeof(m));
	/* New URL: epoch + 1, replaced in place. */
	snprintf(r.api_url, sizeof(r.api_url), "https://b.example:443");
	snprintf(r.repl_url, sizeof(r.repl_url), "tls+tcp://b.example:1");
	assert_int_equal(topo_members_join(&m, &r, "c", &out), GT_OK);
	assert_int_equal(out.epoch, m.epoch + 1);
	assert_string_equal(out.changed_by, "c");
	assert_int_equal(out.n, 3);
	assert_string_equal(topo_members_find(&out, "b")->api_url,
	    "https://b.example:443");
	assert_string_equal(topo_members_find(&out, "b")->repl_url,
	    "tls+tcp://b.example:1");
}

static void test_members_join_invalid(void **state)
{
	topo_members m = mkmembers(ABCD, 2), out, before;
	topo_region r;
	static const char *const bad_api[] = {"", "http://", "ftp://x",
	    "http://a b", "tcp://x", "HTTP://x"};
	static const char *const bad_repl[] = {"", "tcp://", "http://x",
	    "tls+tcp://", "tcp://x\x7f"};

	(void)state;
	memset(&out, 0x77, sizeof(out));
	before = out;
	r = mkregion("c");
	assert_int_equal(topo_members_join(&m, &r, "", &out), GT_EINVAL);
	assert_int_equal(topo_members_join(&m, &r, NULL, &out), GT_EINVAL);
	assert_int_equal(topo_members_join(NULL, &r, "a", &out), GT_EINVAL);
	assert_int_equal(topo_members_join(&m, NULL, "a", &out), GT_EINVAL);
	assert_int_equal(topo_members_join(&m, &r, "a", NULL), GT_EINVAL);
	r.name[0] = '\0';
	assert_int_equal(topo_members_join(&m, &r, "a", &out), GT_EINVAL);
	snprintf(r.name, sizeof(r.name), "has space");
	assert_int_equal(topo_members_join(&m, &r, "a", &out), GT_EINVAL);
	memset(r.name, 'x', sizeof(r.name)); /* unterminated */
	assert_int_equal(topo_members_join(&m, &r, "a", &out), GT_EINVAL);
	for (size_t i = 0; i < GT_ARRAY_LEN(bad_api); i++) {
		r = mkregion("c");
		snprintf(r.api_url, sizeof(r.api_url), "%s", bad_api[i]);
		assert_int_equal(topo_members_join(&m, &r, "a", &out),
		    GT_EINVAL);
	}
	for (size_t i = 0; i < GT_ARRAY_LEN(bad_repl); i++) {
		r = mkregion("c");
		snprintf(r.repl_url, sizeof(r.repl_url), "%s", bad_repl[i]);
		assert_int_equal(topo_members_join(&m, &r, "a", &out),
		    GT_EINVAL);
	}
	r = mkregion("c");
	memset(r.api_url, 'h', sizeof(r.api_url)); /* unterminated URL */
	assert_int_equal(topo_members_join(&m, &r, "a", &out), GT_EINVAL);
	/* An invalid membership is refused too. */
	r = mkregion("c");
	m.r[0].name[5] = 'z'; /* garbage after the NUL */
	assert_int_equal(topo_members_join(&m, &r, "a", &out), GT_EINVAL);
	assert_memory_equal(&out, &before, sizeof(out));
}

static void test_members_join_limits(void **state)
{
	topo_members m, out;
	topo_region r;
	char name[16];

	(void)state;
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < TOPO_REGIONS_MAX; i++) {
		snprintf(name, sizeof(name), "r%02d", i);
		r = mkregion(name);
		assert_int_equal(topo_members_join(&m, &r, "r00", &m), GT_OK);
	}
	assert_int_equal(m.n, TOPO_REGIONS_MAX);
	memset(&out, 0, sizeof(out));
	r = mkregion("zz");
	assert_int_equal(topo_members_join(&m, &r, "r00", &out), GT_ELIMIT);
	assert_int_equal(out.n, 0);
	/* An existing member may still change its URLs when full. */
	r = mkregion("r03");
	snprintf(r.api_url, sizeof(r.api_url), "http://new:1");
	assert_int_equal(topo_members_join(&m, &r, "r00", &out), GT_OK);
	/* The epoch cannot pass TOPO_EPOCH_MAX. */
	m.epoch = TOPO_EPOCH_MAX;
	assert_true(topo_members_check(&m));
	assert_int_equal(topo_members_join(&m, &r, "r00", &out), GT_ELIMIT);
	assert_int_equal(topo_members_leave(&m, "r01", "r00", &out),
	    GT_ELIMIT);
	m.epoch = TOPO_EPOCH_MAX + 1;
	assert_false(topo_members_check(&m));
}

static void test_members_leave(void **state)
{
	topo_members m = mkmembers(ABCD, 4), out;

	(void)state;
	memset(&out, 0, sizeof(out));
	assert_int_equal(topo_members_leave(&m, "x", "a", &out),
	    GT_ENOTFOUND);
	assert_int_equal(topo_members_leave(&m, "", "a", &out), GT_EINVAL);
	assert_int_equal(topo_members_leave(&m, "b", "", &out), GT_EINVAL);
	assert_int_equal(out.n, 0);
	assert_int_equal(topo_members_leave(&m, "b", "c", &out), GT_OK);
	assert_int_equal(out.epoch, m.epoch + 1);
	assert_string_equal(out.changed_by, "c");
	assert_int_equal(out.n, 3);
	assert_null(topo_members_find(&out, "b"));
	assert_string_equal(out.r[1].name, "c");
	assert_true(topo_members_check(&out));
	/* The last one may leave: an empty membership with an epoch. */
	m = mkmembers(ABCD, 1);
	assert_int_equal(topo_members_leave(&m, "a", "a", &m), GT_OK);
	assert_int_equal(m.n, 0);
	assert_int_equal(m.epoch, 2);
	assert_true(topo_members_check(&m));
}

static void test_members_newer_find(void **state)
{
	topo_members a = mkmembers(ABCD, 2), b = a, bad;

	(void)state;
	assert_false(topo_members_newer(&a, &b)); /* equal */
	b.epoch++;
	assert_true(topo_members_newer(&a, &b));
	assert_false(topo_members_newer(&b, &a));
	b = a;
	snprintf(b.changed_by, sizeof(b.changed_by), "b"); /* tie: b > a */
	assert_true(topo_members_newer(&a, &b));
	assert_false(topo_members_newer(&b, &a));
	assert_true(topo_members_newer(NULL, &a));
	assert_false(topo_members_newer(&a, NULL));
	bad = a;
	bad.n = TOPO_REGIONS_MAX + 1;
	assert_false(topo_members_newer(&a, &bad));
	assert_true(topo_members_newer(&bad, &a));
	assert_non_null(topo_members_find(&a, "b"));
	assert_string_equal(topo_members_find(&a, "b")->name, "b");
	assert_null(topo_members_find(&a, "c"));
	assert_null(topo_members_find(&a, NULL));
	assert_null(topo_members_find(NULL, "a"));
}

static void test_members_json_roundtrip(void **state)
{
	topo_members m = mkmembers(ABCD, 2), back, empty;
	char *s;

	(void)state;
	s = members_json(&m);
	assert_string_equal(s, "{\"Epoch\":2,\"ChangedBy\":\"a\",\"Regions\":"
	    "[{\"Region\":\"a\",\"Api\":\"http://a:8000\",\"Replication\":"
	    "\"tcp://a:9000\"},{\"Region\":\"b\",\"Api\":\"http://b:8000\","
	    "\"Replication\":\"tcp://b:9000\"}]}");
	memset(&back, 0x33, sizeof(back));
	assert_int_equal(topo_members_parse(s, strlen(s), &back), GT_OK);
	assert_memory_equal(&back, &m, sizeof(m));
	free(s);
	/* The empty membership round-trips too. */
	memset(&empty, 0, sizeof(empty));
	s = members_json(&empty);
	assert_string_equal(s, "{\"Epoch\":0,\"ChangedBy\":\"\",\"Regions\":[]}");
	assert_int_equal(topo_members_parse(s, strlen(s), &back), GT_OK);
	assert_memory_equal(&back, &empty, sizeof(empty));
	free(s);
	/* Unsorted input is stored sorted; white space around is fine; the
	 * length bounds the read (no NUL needed). */
	{
		const char *in = " {\"Regions\":[{\"Region\":\"z\",\"Api\":"
		    "\"http://z\",\"Replication\":\"tcp://z\"},{\"Replication\":"
		    "\"tcp://y\",\"Region\":\"y\",\"Api\":\"http://y\"}],"
		    "\"ChangedBy\":\"y\",\"Epoch\":9007199254740991}\n GARBAGE";

		assert_int_equal(topo_members_parse(in, strlen(in) - 7, &back),
		    GT_OK);
		assert_int_equal(back.epoch, TOPO_EPOCH_MAX);
		assert_string_equal(back.r[0].name, "y");
		assert_string_equal(back.r[1].name, "z");
		assert_int_equal(topo_members_parse(in, strlen(in), &back),
		    GT_EINVAL);
	}
}

static void test_members_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"null",
		"[]",
		"{",
		"{}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\"}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[],\"X\":1}",
		"{\"Epoch\":1,\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":\"1\",\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":-1,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":1.5,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":9007199254740992,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":9007199254740993,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":1e300,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":true,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":1,\"Regions\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":\"\",\"Regions\":[]}",
		"{\"Epoch\":0,\"ChangedBy\":\"a\",\"Regions\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a b\",\"Regions\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":{}}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[1]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":\"b\","
		    "\"Api\":\"http://b\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":\"b\","
		    "\"Api\":\"http://b\",\"Replication\":\"tcp://b\",\"X\":0}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":\"b\","
		    "\"Api\":\"tcp://b\",\"Replication\":\"tcp://b\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":\"b\","
		    "\"Api\":\"http://b\",\"Replication\":5}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":"
		    "\"0123456789012345678901234567890123\",\"Api\":\"http://b\","
		    "\"Replication\":\"tcp://b\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":"
		    "\"b\\u0000c\",\"Api\":\"http://b\",\"Replication\":"
		    "\"tcp://b\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[{\"Region\":\"b\","
		    "\"Api\":\"http://b\",\"Replication\":\"tcp://b\"},{\"Region\":"
		    "\"b\",\"Api\":\"http://c\",\"Replication\":\"tcp://c\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[]} {}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	topo_members out, before;

	(void)state;
	memset(&out, 0x41, sizeof(out));
	before = out;
	for (size_t i = 0; i < GT_ARRAY_LEN(bad); i++) {
		gt_err err = mparse(bad[i], &out);

		if (err != GT_EINVAL)
			fail_msg("case %zu accepted or wrong error %d: %s", i,
			    (int)err, bad[i]);
	}
	assert_int_equal(topo_members_parse(NULL, 0, &out), GT_EINVAL);
	assert_int_equal(topo_members_parse("{}", 2, NULL), GT_EINVAL);
	assert_int_equal(topo_members_parse("{}", TOPO_JSON_MAX + 1, &out),
	    GT_ELIMIT);
	assert_memory_equal(&out, &before, sizeof(out));
}

static void test_members_parse_too_many(void **state)
{
	gt_buf b = GT_BUF_INIT;
	topo_members out;

	(void)state;
	gt_buf_puts(&b, "{\"Epoch\":1,\"ChangedBy\":\"a\",\"Regions\":[");
	for (int i = 0; i <= TOPO_REGIONS_MAX; i++)
		gt_buf_printf(&b, "%s{\"Region\":\"r%02d\",\"Api\":\"http://x\","
		    "\"Replication\":\"tcp://x\"}", i ? "," : "", i);
	gt_buf_puts(&b, "]}");
	assert_int_equal(topo_members_parse(b.data, b.len, &out), GT_ELIMIT);
	gt_buf_free(&b);
}

/* ----------------------------------------------------------- replica sets */

static void test_rset_init(void **state)
{
	topo_members m = mkmembers(ABCD, 3);
	topo_rset rs;

	(void)state;
	topo_rset_init(&rs, "b");
	assert_true(topo_rset_check(&rs));
	assert_int_equal(rs.epoch, 1);
	assert_string_equal(rs.changed_by, "b");
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].status, TOPO_ACTIVE);
	assert_int_equal(rs.r[0].progress_pct, 100);
	assert_string_equal(rs.source, "");
	assert_false(topo_rset_updating(&rs));
	topo_rset_init_all(&rs, &m, "c");
	assert_true(topo_rset_check(&rs));
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.changed_by, "c");
	for (uint32_t i = 0; i < 3; i++) {
		assert_string_equal(rs.r[i].region, ABCD[i]);
		assert_int_equal(rs.r[i].status, TOPO_ACTIVE);
	}
	topo_rset_init(&rs, "bad name");
	assert_false(topo_rset_check(&rs));
	topo_rset_init_all(&rs, &m, "");
	assert_false(topo_rset_check(&rs));
}

static void test_rset_check(void **state)
{
	topo_rset ok = mkset_creating(), t;

	(void)state;
	assert_true(topo_rset_check(&ok));
	assert_false(topo_rset_check(NULL));
	t = ok; t.epoch = 0;
	assert_false(topo_rset_check(&t));
	t = ok; t.epoch = TOPO_EPOCH_MAX + 1;
	assert_false(topo_rset_check(&t));
	t = ok; t.changed_by[0] = '\0';
	assert_false(topo_rset_check(&t));
	t = ok; t.changed_by[10] = 'x';
	assert_false(topo_rset_check(&t));
	t = ok; t.n = TOPO_REGIONS_MAX + 1;
	assert_false(topo_rset_check(&t));
	t = ok; t.r[1] = t.r[0]; /* duplicate */
	assert_false(topo_rset_check(&t));
	t = ok; t.r[0] = ok.r[1]; t.r[1] = ok.r[0]; /* unsorted */
	assert_false(topo_rset_check(&t));
	t = ok; t.r[0].status = (topo_rstatus)0;
	assert_false(topo_rset_check(&t));
	t = ok; t.r[0].status = (topo_rstatus)9;
	assert_false(topo_rset_check(&t));
	t = ok; t.r[3].progress_pct = 101;
	assert_false(topo_rset_check(&t));
	t = ok; t.r[0].progress_pct = 50; /* ACTIVE must be 100 */
	assert_false(topo_rset_check(&t));
	t = ok; t.r[1].status = TOPO_CREATING; /* two CREATING */
	assert_false(topo_rset_check(&t));
	t = ok; memset(t.source, 0, sizeof(t.source)); /* no source */
	assert_false(topo_rset_check(&t));
	t = ok; snprintf(t.source, sizeof(t.source), "d"); /* itself */
	assert_false(topo_rset_check(&t));
	t = ok; snprintf(t.source, sizeof(t.source), "x"); /* not listed */
	assert_false(topo_rset_check(&t));
	t = ok; t.r[0].status = TOPO_CREATION_FAILED; /* source not ACTIVE */
	t.r[0].progress_pct = 0;
	assert_false(topo_rset_check(&t));
	t = ok; t.r[3].status = TOPO_ACTIVE; t.r[3].progress_pct = 100;
	assert_false(topo_rset_check(&t)); /* source without CREATING */
	t = ok; t.r[2].region[7] = 'q';
	assert_false(topo_rset_check(&t));
	/* An empty set (all replicas pruned) is valid. */
	memset(&t, 0, sizeof(t));
	t.epoch = 4;
	snprintf(t.changed_by, sizeof(t.changed_by), "a");
	assert_true(topo_rset_check(&t));
}

static void test_rset_add(void **state)
{
	topo_members m = mkmembers(ABCD, 4);
	topo_rset rs = mkset3(), out;

	(void)state;
	assert_int_equal(topo_rset_add(&rs, &m, "b", "d", &out), TOPO_OK);
	assert_int_equal(out.epoch, 2);
	assert_string_equal(out.changed_by, "b");
	assert_string_equal(out.source, "b");
	assert_int_equal(out.n, 4);
	assert_string_equal(out.r[3].region, "d");
	assert_int_equal(out.r[3].status, TOPO_CREATING);
	assert_int_equal(out.r[3].progress_pct, 0);
	assert_true(topo_rset_updating(&out));
	assert_true(topo_rset_check(&out));
	/* Sorted insert in the middle. */
	{
		topo_rset two, o2;
		static const char *const AC[] = {"a", "c"};
		topo_members m2 = mkmembers(ABCD, 4);

		topo_members m3 = mkmembers(AC, 2);
		topo_rset_init_all(&two, &m3, "a");
		assert_int_equal(topo_rset_add(&two, &m2, "c", "b", &o2),
		    TOPO_OK);
		assert_string_equal(o2.r[1].region, "b");
		assert_string_equal(o2.source, "c");
	}
}

static void test_rset_add_refusals(void **state)
{
	topo_members m = mkmembers(ABCD, 4), m3 = mkmembers(ABCD, 3), badm;
	topo_rset rs = mkset3(), out, before, t, creating = mkset_creating();

	(void)state;
	memset(&out, 0x11, sizeof(out));
	before = out;
	assert_int_equal(topo_rset_add(&rs, &m3, "a", "d", &out),
	    TOPO_REFUSE_UNKNOWN_REGION);
	assert_int_equal(topo_rset_add(&rs, &m, "a", "bad name", &out),
	    TOPO_REFUSE_UNKNOWN_REGION);
	assert_int_equal(topo_rset_add(&rs, &m, "a", NULL, &out),
	    TOPO_REFUSE_UNKNOWN_REGION);
	assert_int_equal(topo_rset_add(&rs, &m, "a", "b", &out),
	    TOPO_REFUSE_ALREADY_REPLICA);
	/* SELF comes before ALREADY_REPLICA (self is always a replica). */
	assert_int_equal(topo_rset_add(&rs, &m, "a", "a", &out),
	    TOPO_REFUSE_SELF);
	/* A CREATION_FAILED replica must be dropped before a new add. */
	t = creating;
	assert_int_equal(topo_rset_fail(&creating, "d", &t), GT_OK);
	assert_int_equal(topo_rset_add(&t, &m, "a", "d", &out),
	    TOPO_REFUSE_ALREADY_REPLICA);
	/* BUSY while another add runs. */
	{
		static const char *const ABCDE[] = {"a", "b", "c", "d", "e"};
		topo_members m5 = mkmembers(ABCDE, 5);

		assert_int_equal(topo_rset_add(&creating, &m5, "b", "e", &out),
		    TOPO_REFUSE_BUSY);
	}
	/* The source must be an ACTIVE replica. */
	assert_int_equal(topo_rset_add(&rs, &m, "d", "c", &out),
	    TOPO_REFUSE_ALREADY_REPLICA);
	{
		static const char *const AB[] = {"a", "b"};
		topo_members mab = mkmembers(AB, 2);
		topo_rset only_a;

		topo_rset_init(&only_a, "a");
		assert_int_equal(topo_rset_add(&only_a, &mab, "c", "x", &out),
		    TOPO_REFUSE_UNKNOWN_REGION);
		assert_int_equal(topo_rset_add(&only_a, &m, "c", "b", &out),
		    TOPO_REFUSE_NOT_REPLICA);
	}
	assert_int_equal(topo_rset_add(&t, &m, "d", "e", &out),
	    TOPO_REFUSE_UNKNOWN_REGION);
	{
		static const char *const ABCDE[] = {"a", "b", "c", "d", "e"};
		topo_members m5 = mkmembers(ABCDE, 5);

		/* d is CREATION_FAILED: not a source. */
		assert_int_equal(topo_rset_add(&t, &m5, "d", "e", &out),
		    TOPO_REFUSE_NOT_REPLICA);
	}
	/* Invalid input. */
	assert_int_equal(topo_rset_add(NULL, &m, "a", "d", &out),
	    TOPO_REFUSE_INVALID);
	assert_int_equal(topo_rset_add(&rs, NULL, "a", "d", &out),
	    TOPO_REFUSE_INVALID);
	assert_int_equal(topo_rset_add(&rs, &m, "", "d", &out),
	    TOPO_REFUSE_INVALID);
	assert_int_equal(topo_rset_add(&rs, &m, "a", "d", NULL),
	    TOPO_REFUSE_INVALID);
	badm = m;
	badm.r[0] = m.r[1];
	assert_int_equal(topo_rset_add(&rs, &badm, "a", "d", &out),
	    TOPO_REFUSE_INVALID);
	t = rs;
	t.epoch = 0;
	assert_int_equal(topo_rset_add(&t, &m, "a", "d", &out),
	    TOPO_REFUSE_INVALID);
	t = rs;
	t.epoch = TOPO_EPOCH_MAX;
	assert_int_equal(topo_rset_add(&t, &m, "a", "d", &out),
	    TOPO_REFUSE_INVALID);
	assert_memory_equal(&out, &before, sizeof(out));
}

static void test_rset_drop(void **state)
{
	topo_rset rs = mkset3(), out, before, c = mkset_creating(), t;

	(void)state;
	assert_int_equal(topo_rset_drop(&rs, "a", "b", &out), TOPO_OK);
	assert_int_equal(out.epoch, 2);
	assert_string_equal(out.changed_by, "a");
	assert_int_equal(out.n, 2);
	assert_null(topo_rset_find(&out, "b"));
	assert_string_equal(out.r[1].region, "c");
	assert_true(topo_rset_check(&out));
	/* A region may drop itself. */
	assert_int_equal(topo_rset_drop(&rs, "c", "c", &out), TOPO_OK);
	assert_null(topo_rset_find(&out, "c"));
	/* Cancel an add: the CREATING replica goes, and the source too. */
	assert_int_equal(topo_rset_drop(&c, "b", "d", &out), TOPO_OK);
	assert_false(topo_rset_updating(&out));
	assert_string_equal(out.source, "");
	assert_int_equal(out.n, 3);
	assert_true(topo_rset_check(&out));

	memset(&out, 0x22, sizeof(out));
	before = out;
	assert_int_equal(topo_rset_drop(&rs, "a", "x", &out),
	    TOPO_REFUSE_NOT_REPLICA);
	assert_int_equal(topo_rset_drop(&rs, "a", "", &out),
	    TOPO_REFUSE_NOT_REPLICA);
	assert_int_equal(topo_rset_drop(&c, "a", "b", &out),
	    TOPO_REFUSE_BUSY);
	assert_int_equal(topo_rset_drop(&c, "a", "a", &out),
	    TOPO_REFUSE_BUSY); /* the source, while it serves */
	assert_int_equal(topo_rset_drop(&c, "a", "x", &out),
	    TOPO_REFUSE_NOT_REPLICA); /* NOT_REPLICA before BUSY */
	topo_rset_init(&t, "a");
	assert_int_equal(topo_rset_drop(&t, "a", "a", &out),
	    TOPO_REFUSE_LAST_REPLICA);
	assert_int_equal(topo_rset_drop(NULL, "a", "a", &out),
	    TOPO_REFUSE_INVALID);
	assert_int_equal(topo_rset_drop(&rs, NULL, "a", &out),
	    TOPO_REFUSE_INVALID);
	t = rs;
	t.epoch = TOPO_EPOCH_MAX;
	assert_int_equal(topo_rset_drop(&t, "a", "b", &out),
	    TOPO_REFUSE_INVALID);
	assert_memory_equal(&out, &before, sizeof(out));
	/* The last ACTIVE replica stays even beside a failed one, which
	 * may itself go. */
	{
		static const char *const AB[] = {"a", "b"};
		topo_members mab = mkmembers(AB, 2);
		topo_rset one, two, failed;

		topo_rset_init(&one, "a");
		assert_int_equal(topo_rset_add(&one, &mab, "a", "b", &two),
		    TOPO_OK);
		assert_int_equal(topo_rset_fail(&two, "b", &failed), GT_OK);
		assert_int_equal(topo_rset_drop(&failed, "b", "a", &out),
		    TOPO_REFUSE_LAST_REPLICA);
		assert_int_equal(topo_rset_drop(&failed, "a", "b", &out),
		    TOPO_OK);
		assert_int_equal(out.n, 1);
	}
}

static void test_rset_progress_activate_fail(void **state)
{
	topo_rset c = mkset_creating(), out, before, t;

	(void)state;
	assert_int_equal(topo_rset_progress(&c, "d", 40, &out), GT_OK);
	assert_int_equal(out.epoch, c.epoch + 1);
	assert_string_equal(out.changed_by, "d");
	assert_int_equal(topo_rset_find(&out, "d")->progress_pct, 40);
	assert_int_equal(topo_rset_find(&out, "d")->status, TOPO_CREATING);
	assert_string_equal(out.source, "a");
	c = out;
	assert_int_equal(topo_rset_activate(&c, "d", &out), GT_OK);
	assert_int_equal(out.epoch, c.epoch + 1);
	assert_int_equal(topo_rset_find(&out, "d")->status, TOPO_ACTIVE);
	assert_int_equal(topo_rset_find(&out, "d")->progress_pct, 100);
	assert_string_equal(out.source, "");
	assert_false(topo_rset_updating(&out));
	assert_int_equal(topo_rset_fail(&c, "d", &t), GT_OK);
	assert_int_equal(topo_rset_find(&t, "d")->status,
	    TOPO_CREATION_FAILED);
	assert_int_equal(topo_rset_find(&t, "d")->progress_pct, 40);
	assert_string_equal(t.source, "");
	assert_true(topo_rset_check(&t));

	memset(&t, 0x44, sizeof(t));
	before = t;
	assert_int_equal(topo_rset_activate(&out, "d", &t), GT_ECONFLICT);
	assert_int_equal(topo_rset_progress(&out, "a", 5, &t), GT_ECONFLICT);
	assert_int_equal(topo_rset_fail(&out, "a", &t), GT_ECONFLICT);
	assert_int_equal(topo_rset_progress(&c, "x", 5, &t), GT_ENOTFOUND);
	assert_int_equal(topo_rset_activate(&c, "x", &t), GT_ENOTFOUND);
	assert_int_equal(topo_rset_progress(&c, "d", 101, &t), GT_EINVAL);
	assert_int_equal(topo_rset_progress(&c, "", 1, &t), GT_EINVAL);
	assert_int_equal(topo_rset_progress(NULL, "d", 1, &t), GT_EINVAL);
	assert_int_equal(topo_rset_activate(&c, "d", NULL), GT_EINVAL);
	c.epoch = TOPO_EPOCH_MAX;
	assert_int_equal(topo_rset_activate(&c, "d", &t), GT_ELIMIT);
	assert_memory_equal(&t, &before, sizeof(t));
}

static void test_rset_prune(void **state)
{
	static const char *const ABC[] = {"a", "b", "c"};
	static const char *const BCD[] = {"b", "c", "d"};
	topo_members m4 = mkmembers(ABCD, 4), m;
	topo_rset rs = mkset3(), c = mkset_creating(), out, before;

	(void)state;
	memset(&out, 0x55, sizeof(out));
	before = out;
	assert_int_equal(topo_rset_prune(&rs, &m4, &out), 0);
	assert_memory_equal(&out, &before, sizeof(out));
	/* b leaves, made by c. */
	assert_int_equal(topo_members_leave(&m4, "b", "c", &m), GT_OK);
	assert_int_equal(topo_rset_prune(&rs, &m, &out), 1);
	assert_int_equal(out.epoch, 2);
	assert_string_equal(out.changed_by, "c");
	assert_int_equal(out.n, 2);
	assert_null(topo_rset_find(&out, "b"));
	assert_int_equal(topo_rset_prune_by(&rs, &m, "a", &out), 1);
	assert_string_equal(out.changed_by, "a");
	/* The source of a running add departs: the add fails. */
	m = mkmembers(BCD, 3);
	assert_int_equal(topo_rset_prune(&c, &m, &out), 1);
	assert_null(topo_rset_find(&out, "a"));
	assert_int_equal(topo_rset_find(&out, "d")->status,
	    TOPO_CREATION_FAILED);
	assert_string_equal(out.source, "");
	assert_true(topo_rset_check(&out));
	/* The CREATING region departs: gone, and the set is not UPDATING. */
	m = mkmembers(ABC, 3);
	assert_int_equal(topo_rset_prune(&c, &m, &out), 1);
	assert_null(topo_rset_find(&out, "d"));
	assert_false(topo_rset_updating(&out));
	assert_string_equal(out.source, "");
	/* Everyone departed: an empty, valid set. */
	memset(&m, 0, sizeof(m));
	m.epoch = 7;
	snprintf(m.changed_by, sizeof(m.changed_by), "z");
	assert_int_equal(topo_rset_prune(&rs, &m, &out), 1);
	assert_int_equal(out.n, 0);
	assert_true(topo_rset_check(&out));
	/* Invalid input: nothing. */
	assert_int_equal(topo_rset_prune(NULL, &m, &out), 0);
	assert_int_equal(topo_rset_prune(&rs, NULL, &out), 0);
	assert_int_equal(topo_rset_prune_by(&rs, &m, "", &out), 0);
}

static void test_rset_find_accepts_names(void **state)
{
	topo_rset c = mkset_creating(), f;

	(void)state;
	assert_string_equal(topo_rset_find(&c, "d")->region, "d");
	assert_null(topo_rset_find(&c, "e"));
	assert_null(topo_rset_find(NULL, "a"));
	assert_null(topo_rset_find(&c, NULL));
	assert_true(topo_rset_updating(&c));
	assert_false(topo_rset_updating(NULL));
	assert_true(topo_rset_accepts(&c, "a"));
	assert_true(topo_rset_accepts(&c, "d")); /* CREATING */
	assert_false(topo_rset_accepts(&c, "e"));
	assert_false(topo_rset_accepts(&c, ""));
	assert_false(topo_rset_accepts(NULL, "a"));
	assert_int_equal(topo_rset_fail(&c, "d", &f), GT_OK);
	assert_true(topo_rset_accepts(&f, "d")); /* CREATION_FAILED */
	assert_string_equal(topo_rstatus_name(TOPO_CREATING), "CREATING");
	assert_string_equal(topo_rstatus_name(TOPO_ACTIVE), "ACTIVE");
	assert_string_equal(topo_rstatus_name(TOPO_CREATION_FAILED),
	    "CREATION_FAILED");
	assert_string_equal(topo_rstatus_name((topo_rstatus)0), "UNKNOWN");
}

/* ------------------------------------------------------------ on_incoming */

static void test_on_incoming_stale(void **state)
{
	topo_rset rs = mkset3(), newer, tie;

	(void)state;
	assert_int_equal(topo_rset_drop(&rs, "a", "c", &newer), TOPO_OK);
	/* Older and equal sets are ignored, whatever they say. */
	assert_int_equal(topo_rset_on_incoming(&newer, 1, &rs, "c"),
	    TOPO_IGNORE);
	assert_int_equal(topo_rset_on_incoming(&newer, 0, &newer, "c"),
	    TOPO_IGNORE);
	/* Same epoch: the larger changed_by wins, bytewise. */
	assert_int_equal(topo_rset_drop(&rs, "b", "a", &tie), TOPO_OK);
	assert_int_equal(tie.epoch, newer.epoch);
	assert_int_equal(topo_rset_on_incoming(&tie, 1, &newer, "b"),
	    TOPO_IGNORE);
	assert_int_equal(topo_rset_on_incoming(&newer, 1, &tie, "b"),
	    TOPO_UPDATE);
	/* Invalid incoming or self: ignored.  Invalid local: replaced. */
	{
		topo_rset bad = tie;

		bad.epoch = 0;
		assert_int_equal(topo_rset_on_incoming(&rs, 1, &bad, "a"),
		    TOPO_IGNORE);
		assert_int_equal(topo_rset_on_incoming(&rs, 1, NULL, "a"),
		    TOPO_IGNORE);
		assert_int_equal(topo_rset_on_incoming(&rs, 1, &tie, ""),
		    TOPO_IGNORE);
		assert_int_equal(topo_rset_on_incoming(&bad, 1, &rs, "a"),
		    TOPO_UPDATE);
	}
}

static void test_on_incoming_decisions(void **state)
{
	topo_members m4 = mkmembers(ABCD, 4);
	topo_rset rs = mkset3(), add_d, dropped, c_by_b, failed, active, t;

	(void)state;
	assert_int_equal(topo_rset_add(&rs, &m4, "a", "d", &add_d), TOPO_OK);
	/* The added region: create and backfill, with or without a local
	 * set (it may never have seen the table). */
	assert_int_equal(topo_rset_on_incoming(&rs, 0, &add_d, "d"),
	    TOPO_CREATE_AND_BACKFILL);
	assert_int_equal(topo_rset_on_incoming(NULL, 0, &add_d, "d"),
	    TOPO_CREATE_AND_BACKFILL);
	/* Others store the set. */
	assert_int_equal(topo_rset_on_incoming(&rs, 1, &add_d, "b"),
	    TOPO_UPDATE);
	/* Progress while backfilling from the same source: keep going. */
	assert_int_equal(topo_rset_progress(&add_d, "d", 50, &t), GT_OK);
	assert_int_equal(topo_rset_on_incoming(&add_d, 1, &t, "d"),
	    TOPO_UPDATE);
	/* CREATING without a copy (it crashed before creating, or dropped
	 * it for a losing set): start. */
	assert_int_equal(topo_rset_on_incoming(&add_d, 0, &t, "d"),
	    TOPO_CREATE_AND_BACKFILL);
	/* A region not listed with a copy drops it; without, stores. */
	assert_int_equal(topo_rset_drop(&rs, "a", "c", &dropped), TOPO_OK);
	assert_int_equal(topo_rset_on_incoming(&rs, 1, &dropped, "c"),
	    TOPO_DROP);
	assert_int_equal(topo_rset_on_incoming(&rs, 0, &dropped, "c"),
	    TOPO_UPDATE);
	assert_int_equal(topo_rset_on_incoming(NULL, 0, &dropped, "x"),
	    TOPO_UPDATE);
	/* A failed creation deletes the partial copy. */
	assert_int_equal(topo_rset_fail(&add_d, "d", &failed), GT_OK);
	assert_int_equal(topo_rset_on_incoming(&add_d, 1, &failed, "d"),
	    TOPO_DROP);
	assert_int_equal(topo_rset_on_incoming(&add_d, 0, &failed, "d"),
	    TOPO_UPDATE);
	/* ACTIVE with a copy: update; without one: rebuild. */
	assert_int_equal(topo_rset_activate(&add_d, "d", &active), GT_OK);
	assert_int_equal(topo_rset_on_incoming(&add_d, 1, &active, "a"),
	    TOPO_UPDATE);
	assert_int_equal(topo_rset_on_incoming(&dropped, 0, &active, "c"),
	    TOPO_CREATE_AND_BACKFILL);
	assert_int_equal(topo_rset_on_incoming(&add_d, 1, &active, "d"),
	    TOPO_UPDATE);
	/* CREATING again after being ACTIVE, or from a new source: a new
	 * backfill (merging into the copy). */
	assert_int_equal(topo_rset_add(&rs, &m4, "b", "d", &c_by_b), TOPO_OK);
	t = c_by_b;
	t.epoch = active.epoch + 1;
	assert_int_equal(topo_rset_on_incoming(&active, 1, &t, "d"),
	    TOPO_CREATE_AND_BACKFILL);
	t.epoch = add_d.epoch;
	assert_int_equal(topo_rset_on_incoming(&add_d, 1, &t, "d"),
	    TOPO_CREATE_AND_BACKFILL); /* tie won by b, source b */
}

/*
 * Two regions make changes concurrently at one epoch; whatever the order
 * in which the sets arrive, every region ends on the same set and in the
 * same place with its copy.
 */
static void test_on_incoming_concurrent(void **state)
{
	topo_members m4 = mkmembers(ABCD, 4);
	topo_rset rs = mkset3(), by_a, by_b, at[2];
	topo_action act;

	(void)state;
	/* a drops c, b adds d, both at epoch 2: b wins. */
	assert_int_equal(topo_rset_drop(&rs, "a", "c", &by_a), TOPO_OK);
	assert_int_equal(topo_rset_add(&rs, &m4, "b", "d", &by_b), TOPO_OK);
	for (int order = 0; order < 2; order++) {
		const topo_rset *first = order ? &by_b : &by_a;
		const topo_rset *second = order ? &by_a : &by_b;
		int has_c = 1;

		at[order] = rs;
		act = topo_rset_on_incoming(&at[order], has_c, first, "c");
		if (act != TOPO_IGNORE)
			at[order] = *first;
		if (act == TOPO_DROP)
			has_c = 0;
		act = topo_rset_on_incoming(&at[order], has_c, second, "c");
		if (act != TOPO_IGNORE)
			at[order] = *second;
		if (act == TOPO_CREATE_AND_BACKFILL)
			has_c = 1;
		/* c is ACTIVE in b's set: it must end holding a copy. */
		assert_true(has_c);
	}
	assert_memory_equal(&at[0], &at[1], sizeof(at[0]));
	assert_memory_equal(&at[0], &by_b, sizeof(by_b));
}

static void test_backfill_source(void **state)
{
	topo_members m4 = mkmembers(ABCD, 4);
	topo_rset rs = mkset3(), c, by_b;

	(void)state;
	assert_int_equal(topo_rset_add(&rs, &m4, "b", "d", &c), TOPO_OK);
	/* CREATING: the source first, then the others, cycling. */
	assert_string_equal(topo_rset_backfill_source(&c, "d", 0), "b");
	assert_string_equal(topo_rset_backfill_source(&c, "d", 1), "a");
	assert_string_equal(topo_rset_backfill_source(&c, "d", 2), "c");
	assert_string_equal(topo_rset_backfill_source(&c, "d", 3), "b");
	/* ACTIVE without a copy: changed_by first, never self. */
	assert_int_equal(topo_rset_drop(&rs, "c", "a", &by_b), TOPO_OK);
	assert_string_equal(topo_rset_backfill_source(&by_b, "b", 0), "c");
	assert_string_equal(topo_rset_backfill_source(&by_b, "b", 1), "c");
	assert_string_equal(topo_rset_backfill_source(&by_b, "c", 0), "b");
	assert_string_equal(topo_rset_backfill_source(&rs, "a", 0), "b");
	{
		topo_rset one;

		topo_rset_init(&one, "a");
		assert_null(topo_rset_backfill_source(&one, "a", 0));
		assert_string_equal(topo_rset_backfill_source(&one, "z", 5),
		    "a");
		assert_null(topo_rset_backfill_source(NULL, "a", 0));
		assert_null(topo_rset_backfill_source(&one, "", 0));
	}
}

/* ----------------------------------------------------------- rset JSON */

static void test_rset_json(void **state)
{
	topo_rset c = mkset_creating(), back, p;
	char *s;

	(void)state;
	assert_int_equal(topo_rset_progress(&c, "d", 7, &p), GT_OK);
	s = rset_json(&p);
	assert_string_equal(s, "{\"Epoch\":3,\"ChangedBy\":\"d\",\"Source\":"
	    "\"a\",\"Replicas\":[{\"RegionName\":\"a\",\"ReplicaStatus\":"
	    "\"ACTIVE\",\"Progress\":100},{\"RegionName\":\"b\","
	    "\"ReplicaStatus\":\"ACTIVE\",\"Progress\":100},{\"RegionName\":"
	    "\"c\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":100},"
	    "{\"RegionName\":\"d\",\"ReplicaStatus\":\"CREATING\","
	    "\"Progress\":7}]}");
	memset(&back, 0x66, sizeof(back));
	assert_int_equal(topo_rset_parse(s, strlen(s), &back), GT_OK);
	assert_memory_equal(&back, &p, sizeof(p));
	free(s);
	/* Without Source, with a failed replica. */
	assert_int_equal(topo_rset_fail(&p, "d", &c), GT_OK);
	s = rset_json(&c);
	assert_null(strstr(s, "Source"));
	assert_non_null(strstr(s, "\"CREATION_FAILED\",\"Progress\":7"));
	assert_int_equal(topo_rset_parse(s, strlen(s), &back), GT_OK);
	assert_memory_equal(&back, &c, sizeof(c));
	free(s);
}

static void test_rset_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"{}",
		"7",
		"{\"Epoch\":1,\"ChangedBy\":\"a\"}",
		"{\"Epoch\":0,\"ChangedBy\":\"a\",\"Replicas\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":\"\",\"Replicas\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[],\"More\":1}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":null}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[],"
		    "\"Replicas\":[]}",
		"{\"Epoch\":[1],\"ChangedBy\":\"a\",\"Replicas\":[]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"DELETING\",\"Progress\":100}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"active\",\"Progress\":100}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":1,\"Progress\":100}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":50}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":101}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":\"100\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"ACTIVE\"}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":100},"
		    "{\"RegionName\":\"a\",\"ReplicaStatus\":\"ACTIVE\","
		    "\"Progress\":100}]}",
		/* Source without a CREATING replica, and the reverse. */
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Source\":\"a\",\"Replicas\":"
		    "[{\"RegionName\":\"a\",\"ReplicaStatus\":\"ACTIVE\","
		    "\"Progress\":100}]}",
		"{\"Epoch\":2,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"a\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":100},"
		    "{\"RegionName\":\"b\",\"ReplicaStatus\":\"CREATING\","
		    "\"Progress\":0}]}",
		"{\"Epoch\":2,\"ChangedBy\":\"a\",\"Source\":\"\",\"Replicas\":"
		    "[{\"RegionName\":\"a\",\"ReplicaStatus\":\"ACTIVE\","
		    "\"Progress\":100}]}",
		"{\"Epoch\":2,\"ChangedBy\":\"a\",\"Source\":\"b\",\"Replicas\":"
		    "[{\"RegionName\":\"a\",\"ReplicaStatus\":\"ACTIVE\","
		    "\"Progress\":100},{\"RegionName\":\"b\",\"ReplicaStatus\":"
		    "\"CREATING\",\"Progress\":0}]}",
		/* Two CREATING. */
		"{\"Epoch\":2,\"ChangedBy\":\"a\",\"Source\":\"a\",\"Replicas\":"
		    "[{\"RegionName\":\"a\",\"ReplicaStatus\":\"ACTIVE\","
		    "\"Progress\":100},{\"RegionName\":\"b\",\"ReplicaStatus\":"
		    "\"CREATING\",\"Progress\":0},{\"RegionName\":\"c\","
		    "\"ReplicaStatus\":\"CREATING\",\"Progress\":0}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[\"a\"]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[{\"RegionName\":"
		    "\"\\u00e9\",\"ReplicaStatus\":\"ACTIVE\",\"Progress\":100}]}",
		"{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[]}x",
	};
	topo_rset out, before;

	(void)state;
	memset(&out, 0x42, sizeof(out));
	before = out;
	for (size_t i = 0; i < GT_ARRAY_LEN(bad); i++) {
		gt_err err = rparse(bad[i], &out);

		if (err != GT_EINVAL)
			fail_msg("case %zu accepted or wrong error %d: %s", i,
			    (int)err, bad[i]);
	}
	assert_int_equal(topo_rset_parse(NULL, 3, &out), GT_EINVAL);
	assert_int_equal(topo_rset_parse("{}", TOPO_JSON_MAX + 1, &out),
	    GT_ELIMIT);
	assert_memory_equal(&out, &before, sizeof(out));
	/* Too many replicas. */
	{
		gt_buf b = GT_BUF_INIT;

		gt_buf_puts(&b, "{\"Epoch\":1,\"ChangedBy\":\"a\",\"Replicas\":[");
		for (int i = 0; i <= TOPO_REGIONS_MAX; i++)
			gt_buf_printf(&b, "%s{\"RegionName\":\"r%02d\","
			    "\"ReplicaStatus\":\"ACTIVE\",\"Progress\":100}",
			    i ? "," : "", i);
		gt_buf_puts(&b, "]}");
		assert_int_equal(topo_rset_parse(b.data, b.len, &out),
		    GT_ELIMIT);
		gt_buf_free(&b);
	}
	/* The empty set parses (every replica pruned). */
	assert_int_equal(rparse("{\"Epoch\":3,\"ChangedBy\":\"z\","
	    "\"Replicas\":[]}", &out), GT_OK);
	assert_int_equal(out.n, 0);
}

/*
 * Hostile bytes: random mutations of valid documents never crash the
 * parsers, and whatever they accept is valid and round-trips exactly.
 */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void test_json_mutations(void **state)
{
	const char *env = getenv("MERIDIAN_SEED");
	uint64_t seed = env != NULL && *env != '\0' ?
	    strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	static const char alphabet[] = "{}[]\",:0123456789.-eE \\u"
	    "abcdACTIVECREATINGFAILED";
	topo_rset c = mkset_creating();
	topo_members m = mkmembers(ABCD, 4);
	char *docs[2];
	int accepted = 0;

	(void)state;
	printf("test_topo: json mutation seed %" PRIu64 "\n", seed);
	rng_state = seed;
	docs[0] = rset_json(&c);
	docs[1] = members_json(&m);
	for (int it = 0; it < 20000; it++) {
		const char *src = docs[it & 1];
		size_t n = strlen(src);
		char buf[2048];
		int edits = 1 + (int)(rng_next() % 4);

		memcpy(buf, src, n);
		for (int e = 0; e < edits; e++) {
			size_t at = rng_next() % n;

			switch (rng_next() % 3) {
			case 0: /* replace */
				buf[at] = alphabet[rng_next() %
				    (sizeof(alphabet) - 1)];
				break;
			case 1: /* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default: /* random byte */
				buf[at] = (char)(rng_next() & 0xff);
				break;
			}
		}
		if (it & 1) {
			topo_members out;

			if (topo_members_parse(buf, n, &out) == GT_OK) {
				char *again = members_json(&out);
				topo_members back;

				accepted++;
				assert_true(topo_members_check(&out));
				assert_int_equal(topo_members_parse(again,
				    strlen(again), &back), GT_OK);
				assert_memory_equal(&back, &out, sizeof(out));
				free(again);
			}
		} else {
			topo_rset out;

			if (topo_rset_parse(buf, n, &out) == GT_OK) {
				char *again = rset_json(&out);
				topo_rset back;

				accepted++;
				assert_true(topo_rset_check(&out));
				assert_int_equal(topo_rset_parse(again,
				    strlen(again), &back), GT_OK);
				assert_memory_equal(&back, &out, sizeof(out));
				free(again);
			}
		}
	}
	/* Some mutations (a digit for a digit) stay valid. */
	assert_true(accepted > 0);
	free(docs[0]);
	free(docs[1]);
}

/* --------------------------------------------------------------- backfill */

static topo_cursor cur(const char *r, uint64_t seq)
{
	topo_cursor c;

	memset(&c, 0, sizeof(c));
	snprintf(c.region, sizeof(c.region), "%s", r);
	c.seq = seq;
	return c;
}

static void test_backfill_cursors(void **state)
{
	/* The new replica d: it applied a to 50, b to 10 and c to 7, and
	 * its own head is 12.  The source a captured its own head 40, b at
	 * 20, e at 9 (d never pulled e) and d at 5. */
	topo_cursor local[] = {cur("c", 7), cur("a", 50), cur("d", 12),
	    cur("b", 10)};
	topo_cursor source[] = {cur("e", 9), cur("b", 20), cur("a", 40),
	    cur("d", 5)};
	topo_cursor out[8];
	size_t n;

	(void)state;
	memset(out, 0x7e, sizeof(out));
	n = topo_backfill_cursors(local, 4, source, 4, out, 8);
	assert_int_equal(n, 5);
	assert_string_equal(out[0].region, "a");
	assert_int_equal(out[0].seq, 40);   /* min: rewound to the capture */
	assert_string_equal(out[1].region, "b");
	assert_int_equal(out[1].seq, 10);   /* min: never above local */
	assert_string_equal(out[2].region, "c");
	assert_int_equal(out[2].seq, 0);    /* the source has nothing of c */
	assert_string_equal(out[3].region, "d");
	assert_int_equal(out[3].seq, 5);    /* re-apply own records > 5 */
	assert_string_equal(out[4].region, "e");
	assert_int_equal(out[4].seq, 0);    /* applied nothing of e */
	/* Names are zero-padded in the output. */
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out[i].region);

		for (size_t j = l; j < CF_REGION_NAME_MAX; j++)
			assert_int_equal(out[i].region[j], 0);
	}
	/* Empty sides. */
	assert_int_equal(topo_backfill_cursors(NULL, 0, NULL, 0, out, 8), 0);
	n = topo_backfill_cursors(local, 4, NULL, 0, out, 8);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i].seq, 0);
	n = topo_backfill_cursors(NULL, 0, source, 4, out, 8);
	assert_int_equal(n, 4);
	assert_string_equal(out[0].region, "a");
	assert_int_equal(out[0].seq, 0);
}

static void test_backfill_cursors_rejects(void **state)
{
	topo_cursor local[] = {cur("a", 1), cur("b", 2)};
	topo_cursor dup[] = {cur("a", 1), cur("a", 2)};
	topo_cursor bad[] = {cur("a b", 1)};
	topo_cursor out[4], before[4];
	topo_cursor many[TOPO_CURSORS_MAX + 1];

	(void)state;
	memset(out, 0x3c, sizeof(out));
	memcpy(before, out, sizeof(out));
	/* out too small: nothing written. */
	assert_int_equal(topo_backfill_cursors(local, 2, NULL, 0, out, 1), 0);
	assert_int_equal(topo_backfill_cursors(dup, 2, NULL, 0, out, 4), 0);
	assert_int_equal(topo_backfill_cursors(NULL, 0, dup, 2, out, 4), 0);
	assert_int_equal(topo_backfill_cursors(bad, 1, NULL, 0, out, 4), 0);
	assert_int_equal(topo_backfill_cursors(NULL, 1, NULL, 0, out, 4), 0);
	assert_int_equal(topo_backfill_cursors(local, 2, local, 2, NULL, 4),
	    0);
	for (int i = 0; i <= TOPO_CURSORS_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "r%03d", i);
		many[i] = cur(name, (uint64_t)i);
	}
	assert_int_equal(topo_backfill_cursors(many, TOPO_CURSORS_MAX + 1,
	    NULL, 0, out, 4), 0);
	assert_memory_equal(out, before, sizeof(out));
	/* Exactly max fits. */
	assert_int_equal(topo_backfill_cursors(local, 2, local, 2, out, 2), 2);
	assert_int_equal(out[1].seq, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_join),
		cmocka_unit_test(test_members_join_same_and_update),
		cmocka_unit_test(test_members_join_invalid),
		cmocka_unit_test(test_members_join_limits),
		cmocka_unit_test(test_members_leave),
		cmocka_unit_test(test_members_newer_find),
		cmocka_unit_test(test_members_json_roundtrip),
		cmocka_unit_test(test_members_parse_rejects),
		cmocka_unit_test(test_members_parse_too_many),
		cmocka_unit_test(test_rset_init),
		cmocka_unit_test(test_rset_check),
		cmocka_unit_test(test_rset_add),
		cmocka_unit_test(test_rset_add_refusals),
		cmocka_unit_test(test_rset_drop),
		cmocka_unit_test(test_rset_progress_activate_fail),
		cmocka_unit_test(test_rset_prune),
		cmocka_unit_test(test_rset_find_accepts_names),
		cmocka_unit_test(test_on_incoming_stale),
		cmocka_unit_test(test_on_incoming_decisions),
		cmocka_unit_test(test_on_incoming_concurrent),
		cmocka_unit_test(test_backfill_source),
		cmocka_unit_test(test_rset_json),
		cmocka_unit_test(test_rset_parse_rejects),
		cmocka_unit_test(test_json_mutations),
		cmocka_unit_test(test_backfill_cursors),
		cmocka_unit_test(test_backfill_cursors_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
