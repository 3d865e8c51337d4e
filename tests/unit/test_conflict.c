/*
 * test_conflict.c — unit and property tests for conflict/: the hybrid
 * logical clock, version vectors, cf_resolve and the metadata encoding.
 *
 * The property test plays random histories of concurrent writes and deletes
 * across 3-5 regions, delivers every write to every replica in random order
 * with duplicates, and checks convergence, the max-stamp rule and the
 * conflict ledger against a ground-truth model of causality.  It prints its
 * seed; MERIDIAN_SEED=<n> replays a run exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "conflict.h"
#include "gt.h"

/* ---------------------------------------------------------------- helpers */

/*
 * Builds a version from a compact description: vv is "name=seq,name=seq"
 * (any order; an empty string gives the empty vector).
 */
static cf_version mkver(int tombstone, uint64_t hlc, const char *origin,
    const char *vv)
{
	cf_version v;
	char buf[512], *save = NULL, *tok;

	memset(&v, 0, sizeof(v));
	v.exists = 1;
	v.tombstone = tombstone;
	assert_int_equal(cf_stamp_set(&v.stamp, hlc, origin), GT_OK);
	assert_true(strlen(vv) < sizeof(buf));
	strcpy(buf, vv);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		*eq = '\0';
		assert_int_equal(cf_vv_set(&v.vv, tok,
		    strtoull(eq + 1, NULL, 10)), GT_OK);
	}
	return v;
}

static cf_vv mkvv(const char *desc)
{
	cf_version v = mkver(0, 1, "x", desc);

	return v.vv;
}

/*
 * Field-wise equality: struct padding is not compared.  Unused entries are
 * compared too, since the library keeps them zeroed (canonical form).
 */
static int vv_same(const cf_vv *a, const cf_vv *b)
{
	return a->n == b->n && memcmp(a->e, b->e, sizeof(a->e)) == 0;
}

static int ver_same(const cf_version *a, const cf_version *b)
{
	return a->exists == b->exists && a->tombstone == b->tombstone &&
	    a->stamp.hlc == b->stamp.hlc &&
	    memcmp(a->stamp.origin, b->stamp.origin,
	    sizeof(a->stamp.origin)) == 0 && vv_same(&a->vv, &b->vv);
}

static void assert_vv_is(const cf_vv *vv, const char *desc)
{
	cf_vv want = mkvv(desc);

	assert_int_equal(vv->n, want.n);
	assert_int_equal(cf_vv_compare(vv, &want), CF_VV_EQUAL);
	assert_true(vv_same(vv, &want));
}

/* ------------------------------------------------------------------- HLC */

static void test_hlc_helpers(void **state)
{
	uint64_t h = cf_hlc_make(1700000000123ULL, 7);

	(void)state;
	assert_int_equal(cf_hlc_wall_ms(h), 1700000000123ULL);
	assert_int_equal(cf_hlc_logical(h), 7);
	assert_int_equal(h, (1700000000123ULL << 16) | 7);
	assert_int_equal(cf_hlc_make(CF_HLC_WALL_MS_MAX + 5, 1),
	    (CF_HLC_WALL_MS_MAX << 16) | 1);
	assert_int_equal(cf_hlc_logical(cf_hlc_make(3, 0xffff)), 0xffff);
}

static void test_clock_monotonic(void **state)
{
	cf_clock c = {0, 0};
	uint64_t a, b, prev;
	int i;

	(void)state;
	a = cf_clock_now(&c, 1000);
	assert_int_equal(a, cf_hlc_make(1000, 0));
	b = cf_clock_now(&c, 1000);
	assert_int_equal(b, cf_hlc_make(1000, 1));
	/* The wall clock moves on: the logical counter restarts at 0. */
	assert_int_equal(cf_clock_now(&c, 1005), cf_hlc_make(1005, 0));
	/* The wall clock steps back: stamps still increase. */
	assert_int_equal(cf_clock_now(&c, 10), cf_hlc_make(1005, 1));
	assert_int_equal(cf_clock_now(&c, 1004), cf_hlc_make(1005, 2));
	assert_int_equal(c.last, cf_hlc_make(1005, 2));
	prev = c.last;
	for (i = 0; i < 10000; i++) {
		uint64_t h = cf_clock_now(&c, (uint64_t)(1000 + i % 7));

		assert_true(h > prev);
		prev = h;
	}
}

static void test_clock_logical_overflow(void **state)
{
	cf_clock c = {0, 0};
	uint64_t prev;
	int i;

	(void)state;
	c.last = cf_hlc_make(1000, 0xfffe);
	assert_int_equal(cf_clock_now(&c, 1000), cf_hlc_make(1000, 0xffff));
	/* The counter carries into the wall part. */
	assert_int_equal(cf_clock_now(&c, 1000), cf_hlc_make(1001, 0));
	assert_int_equal(cf_clock_now(&c, 999), cf_hlc_make(1001, 1));
	/* Real time catching up takes over again. */
	assert_int_equal(cf_clock_now(&c, 1002), cf_hlc_make(1002, 0));

	/* 200,000 stamps in one millisecond stay strictly increasing. */
	c.last = 0;
	prev = 0;
	for (i = 0; i < 200000; i++) {
		uint64_t h = cf_clock_now(&c, 5000);

		assert_true(h > prev);
		prev = h;
	}
	assert_int_equal(prev, cf_hlc_make(5000, 0) + 199999);
	assert_int_equal(cf_hlc_wall_ms(prev), 5003);

	/* The top of the range saturates instead of wrapping to 0. */
	c.last = UINT64_MAX - 1;
	assert_int_equal(cf_clock_now(&c, 1), UINT64_MAX);
	assert_int_equal(cf_clock_now(&c, 1), UINT64_MAX);
	/* Wall times past 48 bits clamp. */
	c.last = 0;
	assert_int_equal(cf_clock_now(&c, UINT64_MAX),
	    cf_hlc_make(CF_HLC_WALL_MS_MAX, 0));
}

static void test_clock_recv(void **state)
{
	cf_clock c = {0, 0};
	uint64_t remote = cf_hlc_make(9000, 42);

	(void)state;
	cf_clock_now(&c, 1000);
	/* A remote stamp ahead of us: the next local stamp passes it. */
	cf_clock_recv(&c, remote, 1000);
	assert_int_equal(c.last, remote);
	assert_int_equal(cf_clock_now(&c, 1000), remote + 1);
	/* A remote stamp behind us changes nothing. */
	cf_clock_recv(&c, cf_hlc_make(10, 0), 1000);
	assert_int_equal(c.last, remote + 1);
	/* Physical time ahead of both wins. */
	cf_clock_recv(&c, cf_hlc_make(9500, 3), 20000);
	assert_int_equal(c.last, cf_hlc_make(20000, 0));
	assert_int_equal(cf_clock_now(&c, 20000), cf_hlc_make(20000, 1));
	/* A remote stamp with a full logical counter. */
	cf_clock_recv(&c, cf_hlc_make(30000, 0xffff), 20000);
	assert_int_equal(cf_clock_now(&c, 20000), cf_hlc_make(30001, 0));
}

static void test_clock_skew(void **state)
{
	cf_clock ahead = {0, 5000}, behind = {0, -5000};
	cf_clock huge = {0, INT64_MAX}, tiny = {0, INT64_MIN};
	uint64_t hb, ha, hb2;

	(void)state;
	assert_int_equal(cf_clock_now(&ahead, 1000), cf_hlc_make(6000, 0));
	/* Behind past the epoch: physical time clamps to 0. */
	assert_int_equal(cf_clock_now(&behind, 1000), 1);
	assert_int_equal(cf_clock_now(&behind, 7000), cf_hlc_make(2000, 0));
	assert_int_equal(cf_clock_now(&huge, 1000),
	    cf_hlc_make(CF_HLC_WALL_MS_MAX, 0));
	assert_int_equal(cf_clock_now(&tiny, 1000), 1);

	/*
	 * Causality under skew: a region 10 s ahead writes, a region 10 s
	 * behind receives it and writes: its stamp is still larger.
	 */
	ahead.skew_ms = 10000;
	behind.skew_ms = -10000;
	ahead.last = behind.last = 0;
	ha = cf_clock_now(&ahead, 50000);
	cf_clock_recv(&behind, ha, 50001);
	hb = cf_clock_now(&behind, 50001);
	assert_true(hb > ha);
	assert_int_equal(hb, ha + 1);
	/* And back again. */
	cf_clock_recv(&ahead, hb, 50002);
	hb2 = cf_clock_now(&ahead, 50002);
	assert_true(hb2 > hb);
	/* recv already moved last to the physical time 60002. */
	assert_int_equal(hb2, cf_hlc_make(60002, 1));
}

/* ------------------------------------------------------ names and stamps */

static void test_region_names(void **state)
{
	char full[CF_REGION_NAME_MAX];
	cf_stamp s;

	(void)state;
	assert_true(cf_region_name_valid("ap-northeast-1"));
	assert_true(cf_region_name_valid("a"));
	assert_false(cf_region_name_valid(""));
	assert_false(cf_region_name_valid(NULL));
	assert_false(cf_region_name_valid("us east"));
	assert_false(cf_region_name_valid("tab\there"));
	assert_false(cf_region_name_valid("caf\xc3\xa9"));
	assert_true(cf_region_name_valid("0123456789012345678901234567890"));
	assert_false(cf_region_name_valid("01234567890123456789012345678901"));
	/* An unterminated array is rejected, not overrun. */
	memset(full, 'a', sizeof(full));
	assert_false(cf_region_name_valid(full));

	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(cf_stamp_set(&s, 0, "us-east-1"), GT_EINVAL);
	assert_int_equal(cf_stamp_set(&s, 5, "bad name"), GT_EINVAL);
	assert_int_equal(s.hlc, 0x5a5a5a5a5a5a5a5aULL);
	assert_int_equal(cf_stamp_set(&s, 5, "us-east-1"), GT_OK);
	assert_int_equal(s.hlc, 5);
	assert_string_equal(s.origin, "us-east-1");
	/* The name is NUL-padded so stamps can be compared as bytes. */
	assert_int_equal(s.origin[CF_REGION_NAME_MAX - 1], 0);
	assert_int_equal(s.origin[10], 0);
}

static void test_stamp_cmp(void **state)
{
	cf_stamp a, b;

	(void)state;
	cf_stamp_set(&a, 100, "us-east-1");
	cf_stamp_set(&b, 100, "us-east-1");
	assert_int_equal(cf_stamp_cmp(&a, &b), 0);
	cf_stamp_set(&b, 101, "af-south-1");
	assert_true(cf_stamp_cmp(&a, &b) < 0);
	assert_true(cf_stamp_cmp(&b, &a) > 0);
	/* Equal hlc: the origin breaks the tie, bytewise. */
	cf_stamp_set(&b, 100, "us-east-2");
	assert_true(cf_stamp_cmp(&a, &b) < 0);
	cf_stamp_set(&b, 100, "us-east");
	assert_true(cf_stamp_cmp(&a, &b) > 0);
	cf_stamp_set(&b, 100, "US-east-1");
	assert_true(cf_stamp_cmp(&a, &b) > 0);
	/* Unsigned compare of the full 64 bits. */
	cf_stamp_set(&a, UINT64_MAX, "a");
	cf_stamp_set(&b, 1, "z");
	assert_true(cf_stamp_cmp(&a, &b) > 0);
}

/* ------------------------------------------------------- version vectors */

static void test_vv_set_get(void **state)
{
	cf_vv vv = CF_VV_INIT, before;
	char name[16];
	int i;

	(void)state;
	assert_int_equal(cf_vv_get(&vv, "us-east-1"), 0);
	assert_int_equal(cf_vv_set(&vv, "us-west-2", 5), GT_OK);
	assert_int_equal(cf_vv_set(&vv, "eu-west-1", 3), GT_OK);
	assert_int_equal(cf_vv_set(&vv, "ap-south-1", 9), GT_OK);
	assert_int_equal(vv.n, 3);
	assert_string_equal(vv.e[0].region, "ap-south-1");
	assert_string_equal(vv.e[1].region, "eu-west-1");
	assert_string_equal(vv.e[2].region, "us-west-2");
	assert_int_equal(cf_vv_get(&vv, "eu-west-1"), 3);
	assert_int_equal(cf_vv_get(&vv, "eu-west-2"), 0);
	assert_int_equal(cf_vv_get(&vv, NULL), 0);
	assert_int_equal(cf_vv_set(&vv, "eu-west-1", 30), GT_OK);
	assert_int_equal(cf_vv_get(&vv, "eu-west-1"), 30);
	assert_int_equal(vv.n, 3);
	/* seq 0 removes the entry, leaving the vector canonical. */
	assert_int_equal(cf_vv_set(&vv, "ap-south-1", 0), GT_OK);
	assert_int_equal(cf_vv_set(&vv, "nowhere-1", 0), GT_OK);
	assert_vv_is(&vv, "eu-west-1=30,us-west-2=5");
	assert_true(cf_vv_valid(&vv));

	before = vv;
	assert_int_equal(cf_vv_set(&vv, "bad name", 1), GT_EINVAL);
	assert_int_equal(cf_vv_set(&vv, "", 1), GT_EINVAL);
	assert_true(vv_same(&vv, &before));

	/* Fill to capacity in reverse order, then overflow. */
	memset(&vv, 0, sizeof(vv));
	for (i = CF_VV_MAX - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "r%02d", i);
		assert_int_equal(cf_vv_set(&vv, name, (uint64_t)i + 1), GT_OK);
	}
	assert_int_equal(vv.n, CF_VV_MAX);
	assert_true(cf_vv_valid(&vv));
	for (i = 0; i < CF_VV_MAX; i++)
		assert_int_equal(vv.e[i].seq, (uint64_t)i + 1);
	before = vv;
	assert_int_equal(cf_vv_set(&vv, "r99", 1), GT_ELIMIT);
	assert_true(vv_same(&vv, &before));
	/* Updating an existing entry of a full vector still works. */
	assert_int_equal(cf_vv_set(&vv, "r31", 100), GT_OK);
	assert_int_equal(cf_vv_get(&vv, "r31"), 100);

	/* An invalid vector is refused, not trusted. */
	vv.n = CF_VV_MAX + 1;
	assert_false(cf_vv_valid(&vv));
	assert_int_equal(cf_vv_set(&vv, "r00", 1), GT_EINVAL);
	assert_false(cf_vv_valid(NULL));
}

static void test_vv_valid(void **state)
{
	cf_vv vv = mkvv("a=1,b=2");

	(void)state;
	assert_true(cf_vv_valid(&vv));
	vv.e[1].seq = 0;
	assert_false(cf_vv_valid(&vv));
	vv = mkvv("a=1,b=2");
	memcpy(vv.e[1].region, "a", 2);
	assert_false(cf_vv_valid(&vv)); /* duplicate */
	vv = mkvv("a=1,b=2");
	memcpy(vv.e[0].region, "c", 2);
	assert_false(cf_vv_valid(&vv)); /* unsorted */
	vv = mkvv("a=1,b=2");
	vv.e[0].region[0] = '\0';
	assert_false(cf_vv_valid(&vv)); /* empty name */
}

struct vv_case {
	const char *a, *b;
	cf_vv_order order;
	const char *merged;
};

static void test_vv_compare_merge(void **state)
{
	static const struct vv_case cases[] = {
		{"", "", CF_VV_EQUAL, ""},
		{"a=1", "a=1", CF_VV_EQUAL, "a=1"},
		{"a=1,b=2", "b=2,a=1", CF_VV_EQUAL, "a=1,b=2"},
		{"", "a=1", CF_VV_BEFORE, "a=1"},
		{"a=1", "", CF_VV_AFTER, "a=1"},
		{"a=1", "a=2", CF_VV_BEFORE, "a=2"},
		{"a=3", "a=2", CF_VV_AFTER, "a=3"},
		{"a=1", "a=1,b=1", CF_VV_BEFORE, "a=1,b=1"},
		{"a=1,b=1", "b=1", CF_VV_AFTER, "a=1,b=1"},
		{"a=1", "b=1", CF_VV_CONCURRENT, "a=1,b=1"},
		{"a=2,b=1", "a=1,b=2", CF_VV_CONCURRENT, "a=2,b=2"},
		{"a=2,c=5", "a=2,b=1,c=5", CF_VV_BEFORE, "a=2,b=1,c=5"},
		{"a=2,c=6", "a=2,b=1,c=5", CF_VV_CONCURRENT, "a=2,b=1,c=6"},
		{"b=7", "a=1,c=1", CF_VV_CONCURRENT, "a=1,b=7,c=1"},
		{"a=1,b=2,c=3,d=4", "a=1,b=2,c=3,d=5", CF_VV_BEFORE,
		    "a=1,b=2,c=3,d=5"},
		{"us-east-1=10,eu-west-1=4", "us-east-1=9,eu-west-1=4",
		    CF_VV_AFTER, "eu-west-1=4,us-east-1=10"},
		{"a=18446744073709551615", "a=18446744073709551614",
		    CF_VV_AFTER, "a=18446744073709551615"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < GT_ARRAY_LEN(cases); i++) {
		cf_vv a = mkvv(cases[i].a), b = mkvv(cases[i].b), m;
		cf_vv_order rev;

		assert_int_equal(cf_vv_compare(&a, &b), cases[i].order);
		rev = cf_vv_compare(&b, &a);
		switch (cases[i].order) {
		case CF_VV_BEFORE:
			assert_int_equal(rev, CF_VV_AFTER);
			break;
		case CF_VV_AFTER:
			assert_int_equal(rev, CF_VV_BEFORE);
			break;
		default:
			assert_int_equal(rev, cases[i].order);
			break;
		}
		assert_int_equal(cf_vv_dominates(&a, &b),
		    cases[i].order == CF_VV_EQUAL ||
		    cases[i].order == CF_VV_AFTER);
		m = a;
		assert_int_equal(cf_vv_merge(&m, &b), GT_OK);
		assert_vv_is(&m, cases[i].merged);
		m = b;
		assert_int_equal(cf_vv_merge(&m, &a), GT_OK);
		assert_vv_is(&m, cases[i].merged);
		assert_true(cf_vv_dominates(&m, &a));
		assert_true(cf_vv_dominates(&m, &b));
		/* Merging with itself is the identity (dst == src). */
		assert_int_equal(cf_vv_merge(&m, &m), GT_OK);
		assert_vv_is(&m, cases[i].merged);
	}
}

static void test_vv_merge_limit(void **state)
{
	cf_vv a = CF_VV_INIT, b = CF_VV_INIT, before;
	char name[16];
	int i;

	(void)state;
	/* 20 + 20 regions sharing 8: a union of 32 fits exactly. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "r%02d", i);
		assert_int_equal(cf_vv_set(&a, name, 1), GT_OK);
		snprintf(name, sizeof(name), "r%02d", i + 12);
		assert_int_equal(cf_vv_set(&b, name, 2), GT_OK);
	}
	before = a;
	assert_int_equal(cf_vv_merge(&a, &b), GT_OK);
	assert_int_equal(a.n, 32);
	assert_int_equal(cf_vv_get(&a, "r00"), 1);
	assert_int_equal(cf_vv_get(&a, "r15"), 2);
	assert_int_equal(cf_vv_get(&a, "r31"), 2);
	/* One more region overflows, and dst is untouched. */
	a = before;
	assert_int_equal(cf_vv_set(&b, "s00", 1), GT_OK);
	assert_int_equal(cf_vv_merge(&a, &b), GT_ELIMIT);
	assert_true(vv_same(&a, &before));
	b.n = 99;
	assert_int_equal(cf_vv_merge(&a, &b), GT_EINVAL);
	assert_true(vv_same(&a, &before));
	/* compare never reads past CF_VV_MAX even on a corrupt n. */
	(void)cf_vv_compare(&a, &b);
}

/* ---------------------------------------------------------- cf_resolve */

static void test_resolve_no_local(void **state)
{
	cf_version none, in = mkver(0, 100, "us-east-1", "us-east-1=4");
	cf_version del = mkver(1, 100, "us-east-1", "us-east-1=4");
	cf_decision d;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(cf_resolve(&none, &in, &d), GT_OK);
	assert_int_equal(d.action, CF_TAKE);
	assert_int_equal(d.anomaly, 0);
	assert_true(ver_same(&d.store, &in));
	/* A tombstone for a key never seen is stored too (it must be kept
	 * so that an older put arriving later does not resurrect it). */
	assert_int_equal(cf_resolve(&none, &del, &d), GT_OK);
	assert_int_equal(d.action, CF_TAKE);
	assert_int_equal(d.store.tombstone, 1);
}

struct resolve_case {
	const char *name;
	int l_tomb;
	uint64_t l_hlc;
	const char *l_origin, *l_vv;
	int i_tomb;
	uint64_t i_hlc;
	const char *i_origin, *i_vv;
	cf_action action;
	int anomaly;
	int store_incoming; /* 1: stamp and flag come from incoming */
	const char *store_vv;
};

static void test_resolve_table(void **state)
{
	static const struct resolve_case cases[] = {
		{"duplicate", 0, 100, "A", "A=1",
		    0, 100, "A", "A=1", CF_DROP, 0, 0, "A=1"},
		{"stale put from the same origin", 0, 200, "A", "A=2",
		    0, 100, "A", "A=1", CF_DROP, 0, 0, "A=2"},
		{"stale, superseded by another region", 0, 300, "B",
		    "A=1,B=1", 0, 100, "A", "A=1", CF_DROP, 0, 0, "A=1,B=1"},
		{"causal overwrite", 0, 100, "A", "A=1",
		    0, 200, "B", "A=1,B=1", CF_TAKE, 0, 1, "A=1,B=1"},
		{"causal delete", 0, 100, "A", "A=1",
		    1, 200, "B", "A=1,B=1", CF_TAKE, 0, 1, "A=1,B=1"},
		{"put after delete", 1, 100, "A", "A=1",
		    0, 200, "A", "A=2", CF_TAKE, 0, 1, "A=2"},
		{"stale put behind a tombstone", 1, 200, "A", "A=2",
		    0, 100, "A", "A=1", CF_DROP, 0, 0, "A=2"},
		{"concurrent, incoming larger hlc", 0, 100, "A", "A=1",
		    0, 150, "B", "B=1", CF_CONFLICT_TAKE, 0, 1, "A=1,B=1"},
		{"concurrent, local larger hlc", 0, 150, "A", "A=1",
		    0, 100, "B", "B=1", CF_CONFLICT_KEEP, 0, 0, "A=1,B=1"},
		{"concurrent, equal hlc, origin B > A", 0, 100, "A", "A=1",
		    0, 100, "B", "B=1", CF_CONFLICT_TAKE, 0, 1, "A=1,B=1"},
		{"concurrent, equal hlc, origin A < B", 0, 100, "B", "B=1",
		    0, 100, "A", "A=1", CF_CONFLICT_KEEP, 0, 0, "A=1,B=1"},
		{"concurrent delete wins", 0, 100, "A", "A=1",
		    1, 150, "B", "B=1", CF_CONFLICT_TAKE, 0, 1, "A=1,B=1"},
		{"concurrent delete loses", 0, 150, "A", "A=1",
		    1, 100, "B", "B=1", CF_CONFLICT_KEEP, 0, 0, "A=1,B=1"},
		{"local tombstone keeps against concurrent put",
		    1, 150, "A", "A=1", 0, 100, "B", "B=1",
		    CF_CONFLICT_KEEP, 0, 0, "A=1,B=1"},
		{"concurrent with shared history", 0, 300, "A", "A=5,C=2",
		    0, 310, "C", "A=4,C=3", CF_CONFLICT_TAKE, 0, 1,
		    "A=5,C=3"},
		/* After a conflict the stored vector holds the loser's entry
		 * too; a write that follows the winner only compares
		 * CONCURRENT with it but is a causal overwrite. */
		{"follows the winner, not the old loser", 0, 150, "A",
		    "A=1,B=1", 0, 200, "C", "A=1,C=1", CF_TAKE, 0, 1,
		    "A=1,B=1,C=1"},
		/* A write that follows only the old loser is concurrent with
		 * the winner: the stamps decide, both ways. */
		{"follows the loser, beats the winner", 0, 150, "A",
		    "A=1,B=1", 0, 160, "C", "B=1,C=1", CF_CONFLICT_TAKE, 0, 1,
		    "A=1,B=1,C=1"},
		{"follows the loser, loses to the winner", 0, 150, "A",
		    "A=1,B=1", 0, 120, "C", "B=1,C=1", CF_CONFLICT_KEEP, 0, 0,
		    "A=1,B=1,C=1"},
		{"redelivered loser", 0, 150, "A", "A=1,B=1",
		    0, 100, "B", "B=1", CF_DROP, 0, 0, "A=1,B=1"},
		{"redelivered winner", 0, 150, "A", "A=1,B=1",
		    0, 150, "A", "A=1", CF_DROP, 0, 0, "A=1,B=1"},
		/* Anomalies: stamps that contradict the vectors.  The larger
		 * stamp still wins, and the action is a conflict. */
		{"causal successor with a smaller stamp", 0, 200, "A", "A=1",
		    0, 100, "B", "A=1,B=1", CF_CONFLICT_KEEP, 1, 0,
		    "A=1,B=1"},
		{"included record with a larger stamp", 0, 100, "B",
		    "A=1,B=1", 0, 200, "A", "A=1", CF_CONFLICT_TAKE, 1, 1,
		    "A=1,B=1"},
		{"concurrent records sharing a stamp", 0, 100, "A", "A=2",
		    0, 100, "A", "A=1,B=1", CF_CONFLICT_KEEP, 1, 0,
		    "A=2,B=1"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < GT_ARRAY_LEN(cases); i++) {
		const struct resolve_case *c = &cases[i];
		cf_version l = mkver(c->l_tomb, c->l_hlc, c->l_origin, c->l_vv);
		cf_version in = mkver(c->i_tomb, c->i_hlc, c->i_origin,
		    c->i_vv);
		const cf_version *win = c->store_incoming ? &in : &l;
		cf_decision d;

		print_message("resolve case: %s\n", c->name);
		assert_int_equal(cf_resolve(&l, &in, &d), GT_OK);
		assert_int_equal(d.action, c->action);
		assert_int_equal(d.anomaly, c->anomaly);
		assert_int_equal(d.store.exists, 1);
		assert_int_equal(d.store.tombstone, win->tombstone);
		assert_int_equal(cf_stamp_cmp(&d.store.stamp, &win->stamp), 0);
		assert_vv_is(&d.store.vv, c->store_vv);
		assert_true(cf_vv_dominates(&d.store.vv, &l.vv));
		assert_true(cf_vv_dominates(&d.store.vv, &in.vv));
		if (c->action == CF_DROP)
			assert_true(ver_same(&d.store, &l));
		/* The stored version redelivered is always a drop. */
		{
			cf_decision again;

			assert_int_equal(cf_resolve(&d.store, &in, &again),
			    GT_OK);
			assert_int_equal(again.action, CF_DROP);
			assert_int_equal(cf_resolve(&d.store, &l, &again),
			    GT_OK);
			assert_int_equal(again.action, CF_DROP);
		}
	}
}

static void test_resolve_errors(void **state)
{
	cf_version l = mkver(0, 100, "A", "A=1");
	cf_version in = mkver(0, 200, "B", "B=1");
	cf_version bad;
	cf_decision d, before;
	char name[16];
	int i;

	(void)state;
	memset(&d, 0x77, sizeof(d));
	memset(&before, 0x77, sizeof(before));
	assert_int_equal(cf_resolve(NULL, &in, &d), GT_EINVAL);
	assert_int_equal(cf_resolve(&l, NULL, &d), GT_EINVAL);
	assert_int_equal(cf_resolve(&l, &in, NULL), GT_EINVAL);
	bad = in;
	bad.exists = 0;
	assert_int_equal(cf_resolve(&l, &bad, &d), GT_EINVAL);
	bad = in;
	bad.stamp.hlc = 0;
	assert_int_equal(cf_resolve(&l, &bad, &d), GT_EINVAL);
	bad = mkver(0, 200, "B", "A=1"); /* origin missing from its vv */
	assert_int_equal(cf_resolve(&l, &bad, &d), GT_EINVAL);
	bad = l;
	bad.vv.n = 40;
	assert_int_equal(cf_resolve(&bad, &in, &d), GT_EINVAL);
	/* A merged vector past CF_VV_MAX regions. */
	bad = mkver(0, 200, "B", "B=1");
	l = mkver(0, 100, "A", "A=1");
	for (i = 0; i < CF_VV_MAX - 1; i++) {
		snprintf(name, sizeof(name), "x%02d", i);
		assert_int_equal(cf_vv_set(&l.vv, name, 1), GT_OK);
	}
	assert_int_equal(l.vv.n, CF_VV_MAX);
	assert_int_equal(cf_resolve(&l, &bad, &d), GT_ELIMIT);
	assert_memory_equal(&d, &before, sizeof(d));
}

static void test_version_write(void **state)
{
	cf_clock c = {0, 0}, before_c;
	cf_version none, v1, v2, stored, out;
	char name[16];
	int i;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(cf_version_write(&c, 1000, &none, "us-east-1", 7, 0,
	    &v1), GT_OK);
	assert_true(cf_version_valid(&v1));
	assert_int_equal(v1.tombstone, 0);
	assert_int_equal(v1.stamp.hlc, cf_hlc_make(1000, 0));
	assert_string_equal(v1.stamp.origin, "us-east-1");
	assert_vv_is(&v1.vv, "us-east-1=7");

	/* Over a version received from a region whose clock runs ahead:
	 * the new stamp still beats it, and the vv keeps its entries. */
	stored = mkver(0, cf_hlc_make(90000, 4), "eu-west-1",
	    "eu-west-1=3,us-east-1=7");
	assert_int_equal(cf_version_write(&c, 1001, &stored, "us-east-1", 9,
	    1, &v2), GT_OK);
	assert_int_equal(v2.tombstone, 1);
	assert_int_equal(v2.stamp.hlc, cf_hlc_make(90000, 5));
	assert_vv_is(&v2.vv, "eu-west-1=3,us-east-1=9");
	assert_int_equal(c.last, v2.stamp.hlc);
	{
		cf_decision d;

		assert_int_equal(cf_resolve(&stored, &v2, &d), GT_OK);
		assert_int_equal(d.action, CF_TAKE);
		assert_int_equal(d.anomaly, 0);
	}
	/* out may alias old. */
	out = v2;
	assert_int_equal(cf_version_write(&c, 1002, &out, "us-east-1", 10, 0,
	    &out), GT_OK);
	assert_int_equal(out.stamp.hlc, cf_hlc_make(90000, 6));
	assert_vv_is(&out.vv, "eu-west-1=3,us-east-1=10");

	/* Errors leave the clock and out untouched. */
	before_c = c;
	out = v1;
	assert_int_equal(cf_version_write(&c, 5000, &v2, "us-east-1", 9, 0,
	    &out), GT_EINVAL); /* seq did not grow */
	assert_int_equal(cf_version_write(&c, 5000, &v2, "us-east-1", 0, 0,
	    &out), GT_EINVAL);
	assert_int_equal(cf_version_write(&c, 5000, &v2, "bad name", 11, 0,
	    &out), GT_EINVAL);
	assert_int_equal(cf_version_write(&c, 5000, NULL, "us-east-1", 11, 0,
	    &out), GT_EINVAL);
	stored = v2;
	stored.stamp.hlc = 0;
	assert_int_equal(cf_version_write(&c, 5000, &stored, "us-east-1", 11,
	    0, &out), GT_EINVAL);
	stored = mkver(0, 5, "x00", "x00=1");
	for (i = 1; i < CF_VV_MAX; i++) {
		snprintf(name, sizeof(name), "x%02d", i);
		assert_int_equal(cf_vv_set(&stored.vv, name, 1), GT_OK);
	}
	assert_int_equal(cf_version_write(&c, 5000, &stored, "us-east-1", 11,
	    0, &out), GT_ELIMIT);
	assert_int_equal(c.last, before_c.last);
	assert_true(ver_same(&out, &v1));
}

/* ------------------------------------------------------------ encoding */

static cf_version big_version(void)
{
	cf_version v;
	char name[CF_REGION_NAME_MAX];
	int i;

	memset(&v, 0, sizeof(v));
	v.exists = 1;
	v.tombstone = 1;
	for (i = 0; i < CF_VV_MAX; i++) {
		memset(name, 'a' + i % 26, CF_REGION_NAME_LEN_MAX);
		name[0] = (char)('A' + i);
		name[CF_REGION_NAME_LEN_MAX] = '\0';
		assert_int_equal(cf_vv_set(&v.vv, name,
		    UINT64_MAX - (uint64_t)i), GT_OK);
	}
	memcpy(v.stamp.origin, v.vv.e[7].region, CF_REGION_NAME_MAX);
	v.stamp.hlc = UINT64_MAX;
	return v;
}

static void check_roundtrip(const cf_version *v, size_t want_len)
{
	uint8_t buf[CF_META_ENCODED_MAX + 8];
	gt_buf b = GT_BUF_INIT;
	cf_version out;
	size_t len = 0, used = 0;

	assert_int_equal(cf_meta_encoded_len(v), want_len);
	assert_int_equal(cf_meta_encode_to(v, buf, sizeof(buf), &len), GT_OK);
	assert_int_equal(len, want_len);
	assert_true(len <= CF_META_ENCODED_MAX);
	assert_int_equal(cf_meta_decode(buf, len, &out, &used), GT_OK);
	assert_int_equal(used, len);
	assert_true(ver_same(&out, v));
	/* Trailing bytes are left for the caller. */
	memset(buf + len, 0xee, 8);
	assert_int_equal(cf_meta_decode(buf, len + 8, &out, &used), GT_OK);
	assert_int_equal(used, len);
	/* The gt_buf form appends the same bytes. */
	gt_buf_puts(&b, "xy");
	assert_int_equal(cf_meta_encode(v, &b), GT_OK);
	assert_int_equal(b.len, 2 + len);
	assert_memory_equal(b.data + 2, buf, len);
	gt_buf_free(&b);
	/* One byte short of room. */
	assert_int_equal(cf_meta_encode_to(v, buf, len - 1, &used),
	    GT_ELIMIT);
	assert_int_equal(used, len);
}

static void test_meta_roundtrip(void **state)
{
	cf_version small = mkver(0, 1, "a", "a=1");
	cf_version typical = mkver(0, cf_hlc_make(1700000000000ULL, 3),
	    "eu-west-1", "us-east-1=1042,eu-west-1=77,ap-northeast-1=5");
	cf_version big = big_version();
	static const uint8_t want_small[] = {
		0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x01, 'a', 0x01, 0x01, 'a', 0, 0, 0, 0, 0, 0, 0, 0x01,
	};
	uint8_t buf[64];
	size_t len;

	(void)state;
	check_roundtrip(&small, 23);
	check_roundtrip(&typical,
	    1 + 1 + 8 + 10 + 1 + (15 + 8) + (10 + 8) + (10 + 8));
	check_roundtrip(&big, CF_META_ENCODED_MAX);
	/* The documented byte layout, exactly. */
	assert_int_equal(cf_meta_encode_to(&small, buf, sizeof(buf), &len),
	    GT_OK);
	assert_int_equal(len, sizeof(want_small));
	assert_memory_equal(buf, want_small, sizeof(want_small));
	small.tombstone = 1;
	assert_int_equal(cf_meta_encode_to(&small, buf, sizeof(buf), &len),
	    GT_OK);
	assert_int_equal(buf[1], CF_META_FLAG_TOMBSTONE);
}

static void test_meta_encode_invalid(void **state)
{
	cf_version v = mkver(0, 5, "a", "a=1");
	gt_buf b = GT_BUF_INIT;
	uint8_t buf[64];
	size_t len = 99;

	(void)state;
	v.exists = 0;
	assert_int_equal(cf_meta_encoded_len(&v), 0);
	assert_int_equal(cf_meta_encode_to(&v, buf, sizeof(buf), &len),
	    GT_EINVAL);
	assert_int_equal(len, 99);
	assert_int_equal(cf_meta_encode(&v, &b), GT_EINVAL);
	assert_int_equal(b.len, 0);
	v = mkver(0, 5, "a", "b=1"); /* origin without an entry */
	assert_int_equal(cf_meta_encode(&v, &b), GT_EINVAL);
	v = mkver(0, 5, "a", "a=1");
	v.vv.e[0].seq = 0;
	assert_int_equal(cf_meta_encode(&v, &b), GT_EINVAL);
	assert_int_equal(cf_meta_encode(NULL, &b), GT_EINVAL);
	assert_int_equal(cf_meta_encode(&v, NULL), GT_EINVAL);
	gt_buf_free(&b);
}

struct hostile_case {
	const char *name;
	const uint8_t *p;
	size_t n;
};

#define HC(name, ...) \
	{name, (const uint8_t[]){__VA_ARGS__}, \
	    sizeof((const uint8_t[]){__VA_ARGS__})}

static void test_meta_decode_hostile(void **state)
{
	/* Not static: the compound literals live in this block. */
	const struct hostile_case cases[] = {
		HC("version 0", 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 1, 1,
		    'a', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("version 2", 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 1, 1,
		    'a', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("unknown flag", 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a',
		    1, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("hlc 0", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 1, 1,
		    'a', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("empty origin", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1,
		    'a', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("origin of 32 bytes", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 32,
		    'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
		    'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
		    'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 0),
		HC("origin of 255 bytes, short", 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
		    1, 255, 'a'),
		HC("space in origin", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 'a',
		    ' ', 1, 2, 'a', ' ', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("NUL in origin", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 'a',
		    0, 1, 2, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 1),
		HC("high byte in name", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1,
		    'a', 2, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xe9, 0, 0, 0,
		    0, 0, 0, 0, 1),
		HC("33 entries", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 33,
		    1, 'a', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("unsorted", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 2, 1,
		    'b', 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 0, 0, 0, 0, 0,
		    1),
		HC("duplicate", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 2, 1,
		    'a', 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 0, 0, 0, 0, 0,
		    2),
		HC("prefix sorts first", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1,
		    'a', 2, 2, 'a', 'b', 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0,
		    0, 0, 0, 0, 0, 1),
		HC("seq 0", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 1, 1, 'a',
		    0, 0, 0, 0, 0, 0, 0, 0),
		HC("origin not in vv", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a',
		    1, 1, 'b', 0, 0, 0, 0, 0, 0, 0, 1),
		HC("empty vv", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0),
		HC("empty region in vv", 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1,
		    'a', 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 0, 0, 0,
		    0, 0, 1),
		HC("one byte", 0x01),
	};
	cf_version out, before;
	size_t used = 1234, i;

	(void)state;
	memset(&out, 0x3c, sizeof(out));
	memset(&before, 0x3c, sizeof(before));
	for (i = 0; i < GT_ARRAY_LEN(cases); i++) {
		print_message("hostile case: %s\n", cases[i].name);
		assert_int_equal(cf_meta_decode(cases[i].p, cases[i].n, &out,
		    &used), GT_ECORRUPT);
		assert_memory_equal(&out, &before, sizeof(out));
		assert_int_equal(used, 1234);
	}
	assert_int_equal(cf_meta_decode(NULL, 0, &out, &used), GT_ECORRUPT);
	assert_int_equal(cf_meta_decode(NULL, 5, &out, &used), GT_EINVAL);
	assert_int_equal(cf_meta_decode(cases[0].p, cases[0].n, NULL, &used),
	    GT_EINVAL);
}

/*
 * Every prefix of a valid encoding is rejected; every single-byte mutation
 * is either rejected or decodes to a valid version whose encoding is the
 * mutated bytes (the format is canonical: no two encodings of one version).
 */
static void test_meta_truncate_mutate(void **state)
{
	cf_version vs[3];
	uint8_t enc[CF_META_ENCODED_MAX], mut[CF_META_ENCODED_MAX];
	uint8_t re[CF_META_ENCODED_MAX];
	static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x1f, 0x20, 0x21,
	    0x41, 0x7e, 0x7f, 0x80, 0xff};
	size_t k, len, pos, j;
	long accepted = 0, rejected = 0;

	(void)state;
	vs[0] = mkver(0, 77, "us-east-1", "us-east-1=3,eu-west-1=9");
	vs[1] = mkver(1, cf_hlc_make(1700000000000ULL, 65535), "b",
	    "a=1,b=2,c=3,d=4,e=5");
	vs[2] = big_version();
	for (k = 0; k < GT_ARRAY_LEN(vs); k++) {
		assert_int_equal(cf_meta_encode_to(&vs[k], enc, sizeof(enc),
		    &len), GT_OK);
		for (pos = 0; pos < len; pos++) {
			cf_version out;
			size_t used;

			assert_int_equal(cf_meta_decode(enc, pos, &out, &used),
			    GT_ECORRUPT);
		}
		for (pos = 0; pos < len; pos++) {
			for (j = 0; j < GT_ARRAY_LEN(vals) + 1; j++) {
				cf_version out;
				size_t used = 0, rlen;
				gt_err err;

				memcpy(mut, enc, len);
				mut[pos] = j < GT_ARRAY_LEN(vals) ? vals[j] :
				    (uint8_t)(enc[pos] ^ 0x01);
				if (mut[pos] == enc[pos])
					continue;
				err = cf_meta_decode(mut, len, &out, &used);
				if (err != GT_OK) {
					assert_int_equal(err, GT_ECORRUPT);
					rejected++;
					continue;
				}
				accepted++;
				assert_true(cf_version_valid(&out));
				assert_true(used <= len);
				assert_int_equal(cf_meta_encode_to(&out, re,
				    sizeof(re), &rlen), GT_OK);
				assert_int_equal(rlen, used);
				assert_memory_equal(re, mut, used);
			}
		}
	}
	/* Both outcomes occur: the loop tested something either way. */
	assert_true(accepted > 0);
	assert_true(rejected > 0);
}

/* --------------------------------------------------------- property test */

/*
 * Ground truth.  Each write gets an id; past[id] is the set of writes it
 * causally follows (itself included), as a bitset.  Each replica tracks the
 * set of writes its stored vector includes (known) and the id of its stored
 * body (value).  The library never sees this model: it only sees stamps and
 * vectors, and the test checks its answers against the model.
 */
#define P_REGIONS_MAX 5
#define P_WRITES_MAX 64
#define P_HISTORIES 2500

static const char *const p_names[P_REGIONS_MAX] = {
	"us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2", "eu-west-2",
};

typedef struct p_write {
	int origin;
	uint64_t seq;
	uint64_t past;
	cf_version v;
} p_write;

typedef struct p_replica {
	cf_clock clock;
	uint64_t seq;
	cf_version cur;
	int value;
	uint64_t known;
} p_replica;

typedef struct p_world {
	int nregions, nwrites;
	uint64_t now_ms;
	p_write w[P_WRITES_MAX];
	p_replica r[P_REGIONS_MAX];
	uint64_t lost;      /* writes recorded as a conflict loser */
	int recv_on_apply;  /* replicas run the receive rule on apply */
	uint64_t rng;
} p_world;

/* Run-wide counters, so the test can show each path was exercised. */
static struct {
	long drop, take, take_vv_concurrent, conflict_take, conflict_keep;
	long origin_ties, tombstone_wins;
} p_stats;

static unsigned long long p_seed; /* chosen once in main() */
static int p_history;

#define P_CHECK(cond)                                                     \
	do {                                                              \
		if (!(cond)) {                                            \
			print_error("property failed: %s (MERIDIAN_SEED=%llu" \
			    " history %d)\n", #cond, p_seed, p_history);  \
			fail();                                           \
		}                                                         \
	} while (0)

static uint64_t p_rand(p_world *W)
{
	/* splitmix64: tiny and good enough for test schedules. */
	uint64_t z = (W->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int p_below(p_world *W, int n)
{
	return (int)(p_rand(W) % (uint64_t)n);
}

static int p_has(uint64_t set, int id)
{
	return (int)((set >> id) & 1u);
}

/* The vector that stands for a set of writes: per region, the max seq. */
static cf_vv p_vv_of(const p_world *W, uint64_t set)
{
	cf_vv vv = CF_VV_INIT;
	uint64_t max[P_REGIONS_MAX] = {0};
	int id, ri;

	for (id = 0; id < W->nwrites; id++) {
		const p_write *w = &W->w[id];

		if (p_has(set, id) && max[w->origin] < w->seq)
			max[w->origin] = w->seq;
	}
	for (ri = 0; ri < P_REGIONS_MAX; ri++) {
		if (max[ri] != 0)
			assert_int_equal(cf_vv_set(&vv, p_names[ri], max[ri]),
			    GT_OK);
	}
	return vv;
}

/* Applies write id at replica ri and checks the decision against truth. */
static void p_apply(p_world *W, int ri, int id)
{
	p_replica *r = &W->r[ri];
	const p_write *w = &W->w[id];
	cf_decision d;
	cf_vv want;
	int included, cw = r->value, in_wins, concurrent;

	if (W->recv_on_apply)
		cf_clock_recv(&r->clock, w->v.stamp.hlc, W->now_ms);
	P_CHECK(cf_resolve(&r->cur, &w->v, &d) == GT_OK);
	P_CHECK(d.anomaly == 0);

	included = p_has(r->known, id);
	in_wins = !r->cur.exists ||
	    cf_stamp_cmp(&w->v.stamp, &r->cur.stamp) > 0;
	concurrent = r->cur.exists && !included && !p_has(w->past, cw);

	/* The decision agrees with "the larger stamp wins". */
	if (included) {
		P_CHECK(d.action == CF_DROP);
		P_CHECK(!in_wins);
		p_stats.drop++;
	} else if (!concurrent) {
		/* Causality implies a larger stamp (invariant 2). */
		P_CHECK(in_wins);
		P_CHECK(d.action == CF_TAKE);
		p_stats.take++;
		if (r->cur.exists && cf_vv_compare(&w->v.vv, &r->cur.vv) ==
		    CF_VV_CONCURRENT)
			p_stats.take_vv_concurrent++;
	} else if (in_wins) {
		P_CHECK(d.action == CF_CONFLICT_TAKE);
		/* The ledger pairs truly concurrent writes. */
		P_CHECK(!p_has(W->w[cw].past, id));
		W->lost |= (uint64_t)1 << cw;
		p_stats.conflict_take++;
		if (w->v.stamp.hlc == r->cur.stamp.hlc)
			p_stats.origin_ties++;
		if (w->v.tombstone)
			p_stats.tombstone_wins++;
	} else {
		P_CHECK(d.action == CF_CONFLICT_KEEP);
		W->lost |= (uint64_t)1 << id;
		p_stats.conflict_keep++;
		if (w->v.stamp.hlc == r->cur.stamp.hlc)
			p_stats.origin_ties++;
	}

	/* The stored vector is exactly the union of the two histories. */
	r->known |= w->past;
	want = p_vv_of(W, r->known);
	P_CHECK(cf_vv_compare(&d.store.vv, &want) == CF_VV_EQUAL);
	P_CHECK(vv_same(&d.store.vv, &want));
	if (in_wins) {
		P_CHECK(cf_stamp_cmp(&d.store.stamp, &w->v.stamp) == 0);
		P_CHECK(d.store.tombstone == w->v.tombstone);
		r->value = id;
	} else {
		P_CHECK(cf_stamp_cmp(&d.store.stamp, &r->cur.stamp) == 0);
		P_CHECK(d.store.tombstone == r->cur.tombstone);
	}
	r->cur = d.store;
}

/* Region ri writes (or deletes) the key at the current time. */
static void p_local_write(p_world *W, int ri)
{
	p_replica *r = &W->r[ri];
	int id = W->nwrites++;
	p_write *w = &W->w[id];

	memset(w, 0, sizeof(*w));
	w->origin = ri;
	/* The log also holds other keys' writes: seqs have gaps. */
	r->seq += 1 + (uint64_t)p_below(W, 3);
	w->seq = r->seq;
	w->past = r->known | ((uint64_t)1 << id);
	P_CHECK(cf_version_write(&r->clock, W->now_ms, &r->cur, p_names[ri],
	    w->seq, p_below(W, 4) == 0, &w->v) == GT_OK);
	P_CHECK(w->v.stamp.hlc == r->clock.last);
	{
		cf_vv want = p_vv_of(W, w->past);

		P_CHECK(vv_same(&w->v.vv, &want));
	}
	/* The origin stores its own write through the same rule. */
	p_apply(W, ri, id);
	P_CHECK(r->value == id);
}

static void p_run_history(p_world *W)
{
	int target, i, ri, id, best, winner;
	int order[P_WRITES_MAX * 3];
	uint64_t heads;

	memset(W->w, 0, sizeof(W->w));
	W->nregions = 3 + p_below(W, 3);
	W->nwrites = 0;
	W->lost = 0;
	/* Without the receive rule on apply, cf_version_write alone must
	 * keep causality ordered by stamps (invariant 2). */
	W->recv_on_apply = p_below(W, 4) != 0;
	W->now_ms = UINT64_C(1700000000000) + (uint64_t)p_below(W, 1000);
	for (ri = 0; ri < W->nregions; ri++) {
		p_replica *r = &W->r[ri];

		memset(r, 0, sizeof(*r));
		r->value = -1;
		/* Half the histories run unskewed clocks, so equal hlcs and
		 * origin tie-breaks are common. */
		if (p_below(W, 2))
			r->clock.skew_ms = p_below(W, 20001) - 10000;
	}

	/* Generation: local writes interleaved with partial delivery. */
	target = 2 + p_below(W, P_WRITES_MAX - 1);
	while (W->nwrites < target) {
		ri = p_below(W, W->nregions);
		if (W->nwrites == 0 || p_below(W, 100) < 45)
			p_local_write(W, ri);
		else
			p_apply(W, ri, p_below(W, W->nwrites));
		/* Time often stands still, to pile writes into one ms. */
		if (p_below(W, 3) == 0)
			W->now_ms += (uint64_t)p_below(W, 4);
	}

	/* Final delivery: everything to everyone, shuffled, duplicated. */
	for (ri = 0; ri < W->nregions; ri++) {
		int n = 0, extra = p_below(W, W->nwrites + 1);

		for (id = 0; id < W->nwrites; id++)
			order[n++] = id;
		for (i = 0; i < extra; i++)
			order[n++] = p_below(W, W->nwrites);
		for (i = n - 1; i > 0; i--) {
			int j = p_below(W, i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (i = 0; i < n; i++) {
			p_apply(W, ri, order[i]);
			if (p_below(W, 8) == 0)
				W->now_ms++;
		}
	}

	/* The expected winner: the write with the largest stamp. */
	best = 0;
	for (id = 1; id < W->nwrites; id++) {
		if (cf_stamp_cmp(&W->w[id].v.stamp, &W->w[best].v.stamp) > 0)
			best = id;
	}
	/* Every replica converged to it, with the union of all vectors. */
	{
		cf_vv all = p_vv_of(W, ~(uint64_t)0);

		for (ri = 0; ri < W->nregions; ri++) {
			const p_replica *r = &W->r[ri];

			P_CHECK(r->value == best);
			P_CHECK(r->cur.exists == 1);
			P_CHECK(cf_stamp_cmp(&r->cur.stamp,
			    &W->w[best].v.stamp) == 0);
			P_CHECK(r->cur.tombstone == W->w[best].v.tombstone);
			P_CHECK(vv_same(&r->cur.vv, &all));
			P_CHECK(ver_same(&r->cur, &W->r[0].cur));
		}
	}

	/*
	 * Ledger: every head (a write no other write follows) except the
	 * winner was recorded as a loser somewhere; the winner never was.
	 */
	heads = 0;
	for (id = 0; id < W->nwrites; id++) {
		int followed = 0;

		for (i = 0; i < W->nwrites; i++) {
			if (i != id && p_has(W->w[i].past, id))
				followed = 1;
		}
		if (!followed)
			heads |= (uint64_t)1 << id;
	}
	winner = best;
	P_CHECK(p_has(heads, winner));
	P_CHECK(!p_has(W->lost, winner));
	for (id = 0; id < W->nwrites; id++) {
		if (id != winner && p_has(heads, id))
			P_CHECK(p_has(W->lost, id));
	}
	/* Several heads imply recorded conflicts (the converse does not
	 * hold: a later write may follow both sides of a conflict). */
	if ((heads & (heads - 1)) != 0)
		P_CHECK(W->lost != 0);
}

static unsigned long long p_seed_from_env(void)
{
	const char *s = getenv("MERIDIAN_SEED");

	if (s != NULL && *s != '\0')
		return strtoull(s, NULL, 0);
	return (unsigned long long)time(NULL) ^
	    ((unsigned long long)clock() << 20);
}

static void test_property_convergence(void **state)
{
	static p_world W;
	int h;

	(void)state;
	memset(&p_stats, 0, sizeof(p_stats));
	for (h = 0; h < P_HISTORIES; h++) {
		p_history = h;
		W.rng = p_seed + (uint64_t)h * UINT64_C(0x2545f4914f6cdd1d);
		p_run_history(&W);
	}
	printf("  %d histories: drop=%ld take=%ld (vv-concurrent %ld) "
	    "conflict_take=%ld conflict_keep=%ld origin_ties=%ld "
	    "tombstone_wins=%ld\n", P_HISTORIES, p_stats.drop, p_stats.take,
	    p_stats.take_vv_concurrent, p_stats.conflict_take,
	    p_stats.conflict_keep, p_stats.origin_ties,
	    p_stats.tombstone_wins);
	/* Every path of the rule was taken. */
	assert_true(p_stats.drop > 0);
	assert_true(p_stats.take > 0);
	assert_true(p_stats.take_vv_concurrent > 0);
	assert_true(p_stats.conflict_take > 0);
	assert_true(p_stats.conflict_keep > 0);
	assert_true(p_stats.origin_ties > 0);
	assert_true(p_stats.tombstone_wins > 0);
}

/*
 * Convergence does not rest on the clock rules (invariant 5): records with
 * arbitrary stamps and vectors, delivered in any order with duplicates,
 * still leave every replica with the largest stamp and the union vector.
 */
static void test_property_arbitrary_stamps(void **state)
{
	static p_world W;
	cf_version recs[12], cur[4];
	int order[36];
	int h, i, k, n, best;
	long anomalies = 0;

	(void)state;
	for (h = 0; h < 1000; h++) {
		int nrec = 2 + (int)(h % 10);
		cf_vv all = CF_VV_INIT;

		p_history = h;
		W.rng = p_seed ^ ((uint64_t)h * UINT64_C(0x9e3779b97f4a7c15));
		for (i = 0; i < nrec; i++) {
			int o = p_below(&W, 4), j;

			memset(&recs[i], 0, sizeof(recs[i]));
			recs[i].exists = 1;
			recs[i].tombstone = p_below(&W, 3) == 0;
			cf_stamp_set(&recs[i].stamp,
			    1 + (uint64_t)p_below(&W, 6), p_names[o]);
			for (j = 0; j < 4; j++) {
				if (j == o || p_below(&W, 2))
					cf_vv_set(&recs[i].vv, p_names[j],
					    1 + (uint64_t)p_below(&W, 4));
			}
			/* Distinct writes have distinct stamps. */
			for (j = 0; j < i; j++) {
				if (cf_stamp_cmp(&recs[i].stamp,
				    &recs[j].stamp) == 0)
					recs[i].stamp.hlc = 1000 +
					    (uint64_t)i;
			}
			assert_int_equal(cf_vv_merge(&all, &recs[i].vv),
			    GT_OK);
		}
		best = 0;
		for (i = 1; i < nrec; i++) {
			if (cf_stamp_cmp(&recs[i].stamp,
			    &recs[best].stamp) > 0)
				best = i;
		}
		for (k = 0; k < 4; k++) {
			n = 0;
			for (i = 0; i < nrec; i++)
				order[n++] = i;
			for (i = 0; i < nrec; i++) {
				if (p_below(&W, 2))
					order[n++] = p_below(&W, nrec);
			}
			for (i = n - 1; i > 0; i--) {
				int j = p_below(&W, i + 1), t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
			memset(&cur[k], 0, sizeof(cur[k]));
			for (i = 0; i < n; i++) {
				cf_decision d;

				P_CHECK(cf_resolve(&cur[k], &recs[order[i]],
				    &d) == GT_OK);
				anomalies += d.anomaly;
				cur[k] = d.store;
			}
			P_CHECK(cf_stamp_cmp(&cur[k].stamp,
			    &recs[best].stamp) == 0);
			P_CHECK(cur[k].tombstone == recs[best].tombstone);
			P_CHECK(vv_same(&cur[k].vv, &all));
			P_CHECK(ver_same(&cur[k], &cur[0]));
		}
	}
	/* Random stamps do contradict random vectors: anomalies occur. */
	assert_true(anomalies > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hlc_helpers),
		cmocka_unit_test(test_clock_monotonic),
		cmocka_unit_test(test_clock_logical_overflow),
		cmocka_unit_test(test_clock_recv),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_region_names),
		cmocka_unit_test(test_stamp_cmp),
		cmocka_unit_test(test_vv_set_get),
		cmocka_unit_test(test_vv_valid),
		cmocka_unit_test(test_vv_compare_merge),
		cmocka_unit_test(test_vv_merge_limit),
		cmocka_unit_test(test_resolve_no_local),
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_resolve_errors),
		cmocka_unit_test(test_version_write),
		cmocka_unit_test(test_meta_roundtrip),
		cmocka_unit_test(test_meta_encode_invalid),
		cmocka_unit_test(test_meta_decode_hostile),
		cmocka_unit_test(test_meta_truncate_mutate),
		cmocka_unit_test(test_property_convergence),
		cmocka_unit_test(test_property_arbitrary_stamps),
	};

	p_seed = p_seed_from_env();
	printf("test_conflict: MERIDIAN_SEED=%llu (set it to replay)\n",
	    p_seed);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
