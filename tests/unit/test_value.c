/*
 * test_value.c — exact decimals, wire-value validation, sizes, equality,
 * ordering and the order-preserving key encoding (region-node/value.c).
 *
 * The randomized tests print their seed; set MERIDIAN_SEED to replay one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gt.h"
#include "value.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* xorshift64*: small, fast and good enough for test inputs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned rng_below(unsigned n)
{
	return (unsigned)(rng_next() % n);
}

static void rng_seed(const char *test)
{
	const char *env = getenv("MERIDIAN_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) :
	    (uint64_t)time(NULL) ^ (uint64_t)clock();

	if (seed == 0)
		seed = 1;
	rng_state = seed;
	printf("%s: MERIDIAN_SEED=%" PRIu64 "\n", test, seed);
}

static rn_num num(const char *s)
{
	rn_num n;

	assert_int_equal(rn_num_parse(s, strlen(s), &n, NULL), GT_OK);
	return n;
}

/* Formats into a rotating static buffer so two results can be compared. */
static const char *fmt(const rn_num *n)
{
	static char bufs[4][256];
	static int k;
	gt_buf b = GT_BUF_INIT;
	char *out = bufs[k++ % 4];

	rn_num_format(n, &b);
	assert_true(gt_buf_ok(&b));
	assert_true(b.len < 256);
	memcpy(out, b.data, b.len + 1);
	gt_buf_free(&b);
	return out;
}

static const char *canon(const char *s)
{
	rn_num n = num(s);

	return fmt(&n);
}

static cJSON *js(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	return j;
}

static char *print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	assert_non_null(s);
	return s;
}

static void assert_json(const cJSON *j, const char *want)
{
	char *s = print(j);

	assert_string_equal(s, want);
	free(s);
}

static int sgn(int c)
{
	return (c > 0) - (c < 0);
}

static int memcmp_len(const uint8_t *a, size_t an, const uint8_t *b,
    size_t bn)
{
	int c = memcmp(a, b, GT_MIN(an, bn));

	if (c != 0)
		return sgn(c);
	return an < bn ? -1 : an > bn;
}

/* ---------------------------------------------------------- number parse */

static void test_num_parse_canonical(void **state)
{
	static const char *const cases[][2] = {
		{"1", "1"}, {"-1.50", "-1.5"}, {"1e5", "100000"},
		{"1E-3", "0.001"}, {".5", "0.5"}, {"5.", "5"}, {"+3", "3"},
		{"0001.1000", "1.1"}, {"-0", "0"}, {"0.000", "0"},
		{"-0.0e-7", "0"}, {"0e999999999999999", "0"}, {"1e0", "1"},
		{"1000", "1000"}, {"123.456e2", "12345.6"},
		{"-0.00012300", "-0.000123"}, {"1E+2", "100"},
		{"12.5e-1", "1.25"}, {"1.10", "1.1"}, {"10.01", "10.01"},
		{"0.1E-129", "0."
		    "00000000000000000000000000000000000000000000000000"
		    "00000000000000000000000000000000000000000000000000"
		    "00000000000000000000000000000" "1"},
		{"12345678901234567890123456789012345678",
		    "12345678901234567890123456789012345678"},
		{"-1.2345678901234567890123456789012345678E-10",
		    "-0.00000000012345678901234567890123456789012345678"},
		{"1e+000000000000000000000000000002", "100"},
	};
	rn_num n;
	gt_buf b = GT_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(cases); i++)
		assert_string_equal(canon(cases[i][0]), cases[i][1]);

	/* The extremes of the range, written out in full. */
	gt_buf_puts(&b, "1");
	for (int i = 0; i < 125; i++)
		gt_buf_putc(&b, '0');
	assert_string_equal(canon("1E+125"), b.data);
	gt_buf_reset(&b);
	gt_buf_puts(&b, "0.");
	for (int i = 0; i < 129; i++)
		gt_buf_putc(&b, '0');
	gt_buf_putc(&b, '1');
	assert_string_equal(canon("1E-130"), b.data);
	gt_buf_reset(&b);
	for (int i = 0; i < 38; i++)
		gt_buf_putc(&b, '9');
	for (int i = 0; i < 88; i++)
		gt_buf_putc(&b, '0');
	assert_string_equal(
	    canon("9.9999999999999999999999999999999999999E+125"), b.data);
	/* Trailing zeros of an integer are not significant digits. */
	gt_buf_reset(&b);
	gt_buf_putc(&b, '1');
	for (int i = 0; i < 60; i++)
		gt_buf_putc(&b, '0');
	n = num(b.data);
	assert_int_equal(n.ndigits, 1);
	assert_int_equal(n.exp, 61);
	assert_string_equal(fmt(&n), b.data);
	gt_buf_free(&b);

	/* Only n bytes are read. */
	assert_int_equal(rn_num_parse("12abc", 2, &n, NULL), GT_OK);
	assert_string_equal(fmt(&n), "12");

	/* Representation invariants. */
	n = num("-0.0250");
	assert_int_equal(n.neg, 1);
	assert_int_equal(n.ndigits, 2);
	assert_int_equal(n.exp, -1);
	assert_int_equal(n.digits[0], 2);
	assert_int_equal(n.digits[1], 5);
	n = num("-0");
	assert_int_equal(n.neg, 0);
	assert_int_equal(n.ndigits, 0);
	assert_int_equal(n.exp, 0);
}

static void test_num_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", ".", "-", "+", "e5", "1e", "1e+", "1e-", " 1", "1 ", "NaN",
		"nan", "Infinity", "-Infinity", "0x10", "1.2.3", "--1", "+-1",
		"1e5.0", "1e5e5", "1,5", "1_000", "\xd9\xa1", "..1", "1..",
		".e1", "-.", "1f", "1d",
	};
	static const char *const too_big[] = {
		"1E126", "-1E126", "10E125", "1e999999999999999999999",
		"99999999999999999999999999999999999999E+89",
	};
	static const char *const too_small[] = {
		"1E-131", "-1E-131", "0.01E-129", "1e-99999999999999999",
		"0.9E-130",
	};
	static const char *const too_long[] = {
		"123456789012345678901234567890123456789",
		"1.00000000000000000000000000000000000001",
		"-0.000123456789012345678901234567890123456789",
	};
	rn_num n, keep;
	int under;

	(void)state;
	keep = num("42");
	for (size_t i = 0; i < GT_ARRAY_LEN(bad); i++) {
		n = keep;
		assert_int_equal(rn_num_parse(bad[i], strlen(bad[i]), &n,
		    NULL), GT_EINVAL);
		assert_memory_equal(&n, &keep, sizeof(n));
	}
	for (size_t i = 0; i < GT_ARRAY_LEN(too_big); i++) {
		under = 7;
		n = keep;
		assert_int_equal(rn_num_parse(too_big[i], strlen(too_big[i]),
		    &n, &under), GT_EOVERFLOW);
		assert_int_equal(under, 0);
		assert_memory_equal(&n, &keep, sizeof(n));
	}
	for (size_t i = 0; i < GT_ARRAY_LEN(too_small); i++) {
		under = 7;
		assert_int_equal(rn_num_parse(too_small[i],
		    strlen(too_small[i]), &n, &under), GT_EOVERFLOW);
		assert_int_equal(under, 1);
	}
	for (size_t i = 0; i < GT_ARRAY_LEN(too_long); i++)
		assert_int_equal(rn_num_parse(too_long[i], strlen(too_long[i]),
		    &n, NULL), GT_ELIMIT);
	assert_int_equal(rn_num_parse(NULL, 0, &n, NULL), GT_EINVAL);
	assert_string_equal(rn_num_strerror(GT_ELIMIT, 0),
	    "Attempting to store more than 38 significant digits in a Number");
	assert_string_equal(rn_num_strerror(GT_EOVERFLOW, 0),
	    "Number overflow. Attempting to store a number with magnitude "
	    "larger than supported range");
	assert_string_equal(rn_num_strerror(GT_EOVERFLOW, 1),
	    "Number underflow. Attempting to store a number with magnitude "
	    "smaller than supported range");
}

static void test_num_equal_forms(void **state)
{
	static const char *const pairs[][2] = {
		{"1.10", "1.1"}, {"0.0", "0"}, {"-0", "0"}, {"100", "1e2"},
		{"0.001", "1E-3"}, {"-12.5", "-125e-1"}, {"+7", "7.000"},
		{"0.5", ".5"},
	};

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(pairs); i++) {
		rn_num a = num(pairs[i][0]), b = num(pairs[i][1]);
		uint8_t ka[RN_NUM_KEY_MAX], kb[RN_NUM_KEY_MAX];
		size_t na = rn_num_key_encode(&a, ka);
		size_t nb = rn_num_key_encode(&b, kb);

		assert_int_equal(rn_num_cmp(&a, &b), 0);
		assert_string_equal(fmt(&a), fmt(&b));
		assert_int_equal(na, nb);
		assert_memory_equal(ka, kb, na);
	}
}

/* ---------------------------------------------------- number key encoding */

static void test_num_key_bytes(void **state)
{
	static const struct {
		const char *num;
		uint8_t key[8];
		size_t len;
	} cases[] = {
		{"0", {0x02}, 1},
		{"1", {0x03, 130, 20}, 3},
		{"-1", {0x01, 125, 235}, 3},
		{"12.3", {0x03, 131, 25, 60}, 4},
		{"1E-130", {0x03, 0, 20}, 3},
		{"9E+125", {0x03, 255, 180}, 3},
		{"-0.00505", {0x01, 0xFF ^ 127, 0xFF ^ 101, 0xFF ^ 100}, 4},
	};
	uint8_t key[RN_NUM_KEY_MAX];
	rn_num n;

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(cases); i++) {
		rn_num a = num(cases[i].num);
		size_t len = rn_num_key_encode(&a, key);

		assert_int_equal(len, cases[i].len);
		assert_memory_equal(key, cases[i].key, len);
		assert_int_equal(rn_num_key_decode(key, len, &n), len);
		assert_int_equal(rn_num_cmp(&a, &n), 0);
		/* Truncated input never decodes. */
		for (size_t k = 0; k < len; k++)
			assert_int_equal(rn_num_key_decode(key, k, &n), 0);
	}
	/* The longest encoding: 38 digits. */
	n = num("-12345678901234567890123456789012345678E-20");
	assert_int_equal(rn_num_key_encode(&n, key), 21);

	{
		static const uint8_t bad[][4] = {
			{0x04, 130, 20, 0}, /* unknown class */
			{0x00, 130, 20, 0},
			{0x03, 130, 0, 0},  /* last pair "00": trailing zero */
			{0x03, 130, 2, 0},  /* "01": leading zero */
			{0x03, 130, 200, 0},/* pair value 100 */
			{0x03, 130, 21, 0}, /* continues into "00" */
			{0x01, 125, 20, 0}, /* negative with positive bytes */
		};
		static const size_t len[] = {3, 3, 3, 3, 3, 4, 3};
		uint8_t longk[32];

		for (size_t i = 0; i < GT_ARRAY_LEN(bad); i++)
			assert_int_equal(rn_num_key_decode(bad[i], len[i], &n),
			    0);
		/* 20 continuation pairs exceed 38 digits. */
		longk[0] = 0x03;
		longk[1] = 130;
		for (int i = 2; i < 32; i++)
			longk[i] = 23;
		longk[22] = 22;
		assert_int_equal(rn_num_key_decode(longk, 32, &n), 0);
		longk[20] = 22; /* 19 pairs: fine */
		assert_int_equal(rn_num_key_decode(longk, 32, &n), 21);
		assert_int_equal(n.ndigits, 38);
	}
}

/*
 * A random number described independently of rn_num: sign, significant
 * digits (as characters, first and last non-zero) and exponent such that
 * value = 0.D * 10^exp.
 */
typedef struct gen_num {
	int neg;
	int nd;
	int exp;
	char d[40];
} gen_num;

static void gen_random(gen_num *g)
{
	memset(g, 0, sizeof(*g));
	if (rng_below(12) == 0)
		return; /* zero */
	g->neg = (int)rng_below(2);
	g->nd = rng_below(2) ? 1 + (int)rng_below(5) : 1 + (int)rng_below(38);
	for (int i = 0; i < g->nd; i++)
		g->d[i] = (char)('0' + rng_below(10));
	if (g->d[0] == '0')
		g->d[0] = (char)('1' + rng_below(9));
	if (g->d[g->nd - 1] == '0')
		g->d[g->nd - 1] = (char)('1' + rng_below(9));
	switch (rng_below(4)) {
	case 0: {
		static const int ext[] = {-129, -128, 125, 126};
		g->exp = ext[rng_below(4)];
		break;
	}
	case 1:
		g->exp = (int)rng_below(256) - 129;
		break;
	default:
		g->exp = (int)rng_below(9) - 3;
		break;
	}
}

/* A number close to g: same exponent and a shared digit prefix. */
static void gen_near(const gen_num *g, gen_num *h)
{
	*h = *g;
	if (g->nd == 0) {
		gen_random(h);
		return;
	}
	switch (rng_below(4)) {
	case 0: /* append digits */
		while (h->nd < 38 && rng_below(3)) {
			h->d[h->nd++] = (char)('0' + rng_below(10));
		}
		break;
	case 1: /* truncate */
		h->nd = 1 + (int)rng_below((unsigned)h->nd);
		break;
	case 2: /* change one digit */
		h->d[rng_below((unsigned)h->nd)] =
		    (char)('0' + rng_below(10));
		break;
	default: /* flip the sign */
		h->neg = !h->neg;
		break;
	}
	if (h->d[0] == '0')
		h->d[0] = '1';
	while (h->nd > 0 && h->d[h->nd - 1] == '0')
		h->nd--;
	h->d[h->nd] = '\0';
}

/* Writes one of several equivalent texts for g. */
static void gen_text(const gen_num *g, char *out, size_t cap)
{
	char lead[8] = "", trail[8] = "";

	if (g->nd == 0) {
		static const char *const zeros[] = {"0", "-0", "0.000",
			"-0e5", "000.0E-200", "+0"};
		snprintf(out, cap, "%s", zeros[rng_below(6)]);
		return;
	}
	if (rng_below(2))
		snprintf(lead, sizeof(lead), "%.*s", (int)rng_below(4), "000");
	if (rng_below(2))
		snprintf(trail, sizeof(trail), "%.*s", (int)rng_below(4),
		    "000");
	switch (rng_below(3)) {
	case 0: /* 0.D e exp */
		snprintf(out, cap, "%s%s0.%.*s%se%d", g->neg ? "-" : "", lead,
		    g->nd, g->d, trail, g->exp);
		break;
	case 1: /* d.DDD E exp-1 */
		snprintf(out, cap, "%s%s%c.%.*s%sE%+d", g->neg ? "-" : "",
		    lead, g->d[0], g->nd - 1, g->d + 1, trail, g->exp - 1);
		break;
	default: /* DDD e exp-nd, an integer mantissa */
		snprintf(out, cap, "%s%s%.*s%se%d", g->neg ? "-" : "+", lead,
		    g->nd, g->d, trail, g->exp - g->nd - (int)strlen(trail));
		break;
	}
}

/* Fixed-point oracle: digits at positions 10^126 .. 10^-170. */
#define FIX_HI 126
#define FIX_LEN 297

static void gen_fixed(const gen_num *g, char *fx)
{
	memset(fx, '0', FIX_LEN);
	for (int i = 0; i < g->nd; i++)
		fx[FIX_HI - (g->exp - 1 - i)] = g->d[i];
}

static int gen_cmp(const gen_num *a, const gen_num *b)
{
	char fa[FIX_LEN], fb[FIX_LEN];
	int sa = a->nd ? (a->neg ? -1 : 1) : 0;
	int sb = b->nd ? (b->neg ? -1 : 1) : 0;
	int c;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	gen_fixed(a, fa);
	gen_fixed(b, fb);
	c = sgn(memcmp(fa, fb, FIX_LEN));
	return sa < 0 ? -c : c;
}

static void gen_check_parse(const gen_num *g, rn_num *out)
{
	char text[128];

	gen_text(g, text, sizeof(text));
	if (rn_num_parse(text, strlen(text), out, NULL) != GT_OK)
		fail_msg("parse failed: %s", text);
	assert_int_equal(out->ndigits, g->nd);
	assert_int_equal(out->neg, g->nd ? g->neg : 0);
	if (g->nd) {
		assert_int_equal(out->exp, g->exp);
		for (int i = 0; i < g->nd; i++)
			assert_int_equal(out->digits[i], g->d[i] - '0');
	}
}

static void test_num_order_random(void **state)
{
	(void)state;
	rng_seed("test_num_order_random");
	for (int it = 0; it < 30000; it++) {
		gen_num ga, gb;
		rn_num a, b, r;
		uint8_t ka[RN_NUM_KEY_MAX], kb[RN_NUM_KEY_MAX];
		uint8_t both[2 * RN_NUM_KEY_MAX];
		size_t na, nb, used;
		int c, oracle;

		gen_random(&ga);
		if (rng_below(2))
			gen_near(&ga, &gb);
		else if (rng_below(4) == 0)
			gb = ga; /* equal value, likely different text */
		else
			gen_random(&gb);
		gen_check_parse(&ga, &a);
		gen_check_parse(&gb, &b);
		na = rn_num_key_encode(&a, ka);
		nb = rn_num_key_encode(&b, kb);
		assert_true(na <= RN_NUM_KEY_MAX && nb <= RN_NUM_KEY_MAX);

		oracle = gen_cmp(&ga, &gb);
		c = rn_num_cmp(&a, &b);
		if (c != oracle || memcmp_len(ka, na, kb, nb) != oracle)
			fail_msg("order mismatch at iteration %d: %s vs %s", it,
			    fmt(&a), fmt(&b));
		assert_int_equal(rn_num_cmp(&b, &a), -c);

		/* Self-delimiting: a composite decodes back in pieces. */
		memcpy(both, ka, na);
		memcpy(both + na, kb, nb);
		assert_int_equal(rn_key_attr_len(both, na + nb, RN_AV_N), na);
		used = rn_num_key_decode(both, na + nb, &r);
		assert_int_equal(used, na);
		assert_int_equal(rn_num_cmp(&r, &a), 0);
		assert_int_equal(rn_num_key_decode(both + na, nb, &r), nb);
		assert_int_equal(rn_num_cmp(&r, &b), 0);

		/* Canonical text parses back to the same number. */
		{
			const char *t = fmt(&a);

			r = num(t);
			assert_memory_equal(&r, &a, sizeof(r));
		}
	}
}

/* ------------------------------------------------------------ arithmetic */

static void check_op(const char *a, char op, const char *b, gt_err want,
    const char *result, int under_want)
{
	rn_num x = num(a), y = num(b), r = num("777");
	int under = 5;
	gt_err err = op == '+' ? rn_num_add(&x, &y, &r, &under) :
	    rn_num_sub(&x, &y, &r, &under);

	if (err != want)
		fail_msg("%s %c %s: got %s want %s", a, op, b,
		    gt_strerror(err), gt_strerror(want));
	if (want == GT_OK) {
		assert_string_equal(fmt(&r), result);
	} else {
		assert_string_equal(fmt(&r), "777");
		if (want == GT_EOVERFLOW)
			assert_int_equal(under, under_want);
	}
}

static void test_num_add_sub(void **state)
{
	(void)state;
	check_op("1", '+', "2", GT_OK, "3", 0);
	check_op("0.1", '+', "0.2", GT_OK, "0.3", 0);
	check_op("99999999999999999999999999999999999999", '+', "1", GT_OK,
	    "100000000000000000000000000000000000000", 0);
	check_op("0.999", '+', "0.001", GT_OK, "1", 0);
	check_op("1", '+', "-1", GT_OK, "0", 0);
	check_op("1", '-', "2", GT_OK, "-1", 0);
	check_op("-5", '+', "3", GT_OK, "-2", 0);
	check_op("-5", '-', "-3", GT_OK, "-2", 0);
	check_op("-5", '-', "3", GT_OK, "-8", 0);
	check_op("1.5", '+', "-2.25", GT_OK, "-0.75", 0);
	check_op("1000", '+', "0.001", GT_OK, "1000.001", 0);
	check_op("1000", '-', "0.001", GT_OK, "999.999", 0);
	check_op("123.456", '+', "-123.456", GT_OK, "0", 0);
	check_op("0", '-', "0", GT_OK, "0", 0);
	check_op("0", '-', "5", GT_OK, "-5", 0);
	check_op("0", '+', "-5", GT_OK, "-5", 0);
	check_op("5", '-', "0", GT_OK, "5", 0);
	check_op("100", '-', "99.99", GT_OK, "0.01", 0);
	check_op("1E+125", '-', "1E+125", GT_OK, "0", 0);
	check_op("1.1E-129", '-', "1E-129", GT_OK,
	    "0.000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000"
	    "000000001", 0);
	/* Exact results needing more than 38 digits are refused. */
	check_op("1E+125", '+', "1E-130", GT_ELIMIT, NULL, 0);
	check_op("12345678901234567890123456789012345678", '+', "0.1",
	    GT_ELIMIT, NULL, 0);
	check_op("99999999999999999999999999999999999999", '+', "0.5",
	    GT_ELIMIT, NULL, 0);
	/* Range. */
	check_op("9.9999999999999999999999999999999999999E+125", '+',
	    "1E+88", GT_EOVERFLOW, NULL, 0);
	check_op("-9.9999999999999999999999999999999999999E+125", '-',
	    "1E+88", GT_EOVERFLOW, NULL, 0);
	check_op("5E+125", '+', "5E+125", GT_EOVERFLOW, NULL, 0);
	check_op("1.01E-129", '-', "1E-129", GT_EOVERFLOW, NULL, 1);
	check_op("-1.01E-129", '+', "1E-129", GT_EOVERFLOW, NULL, 1);
}

static void test_num_arith_random(void **state)
{
	(void)state;
	rng_seed("test_num_arith_random");
	for (int it = 0; it < 20000; it++) {
		gen_num ga, gb;
		rn_num a, b, s, t, u;
		gt_err e1, e2;

		gen_random(&ga);
		if (rng_below(2))
			gen_near(&ga, &gb);
		else
			gen_random(&gb);
		if (rng_below(2)) { /* keep most sums exact and in range */
			ga.exp = GT_MIN(ga.exp, 100) % 20;
			gb.exp = ga.exp - (int)rng_below(10);
			ga.nd = GT_MIN(ga.nd, 20);
			gb.nd = GT_MIN(gb.nd, 20);
			while (ga.nd && ga.d[ga.nd - 1] == '0')
				ga.nd--;
			while (gb.nd && gb.d[gb.nd - 1] == '0')
				gb.nd--;
		}
		gen_check_parse(&ga, &a);
		gen_check_parse(&gb, &b);

		e1 = rn_num_add(&a, &b, &s, NULL);
		e2 = rn_num_add(&b, &a, &t, NULL);
		assert_int_equal(e1, e2);
		if (e1 == GT_OK) {
			assert_int_equal(rn_num_cmp(&s, &t), 0);
			/* (a + b) - b == a exactly. */
			assert_int_equal(rn_num_sub(&s, &b, &u, NULL), GT_OK);
			if (rn_num_cmp(&u, &a) != 0)
				fail_msg("(%s + %s) - b = %s", fmt(&a), fmt(&b),
				    fmt(&u));
		}
		e1 = rn_num_sub(&a, &b, &s, NULL);
		e2 = rn_num_sub(&b, &a, &t, NULL);
		assert_int_equal(e1, e2);
		if (e1 == GT_OK) {
			/* sign(a - b) == cmp(a, b), and b - a == -(a - b) */
			assert_int_equal(rn_num_cmp(&s, &(rn_num){0}),
			    rn_num_cmp(&a, &b));
			assert_int_equal(rn_num_add(&s, &t, &u, NULL), GT_OK);
			assert_int_equal(u.ndigits, 0);
		}
		assert_int_equal(rn_num_sub(&a, &a, &u, NULL), GT_OK);
		assert_int_equal(u.ndigits, 0);
	}
}

static void test_num_i64_and_size(void **state)
{
	static const int64_t vals[] = {0, 1, -1, 10, 1000, -1234500,
		INT64_MAX, INT64_MIN, INT64_MIN + 1, 1700000000};
	rn_num n;
	int64_t v;
	char text[32];

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(vals); i++) {
		rn_num_from_i64(vals[i], &n);
		snprintf(text, sizeof(text), "%" PRId64, vals[i]);
		assert_string_equal(fmt(&n), text);
		assert_int_equal(rn_num_cmp(&n, &(rn_num){0}),
		    sgn(vals[i] > 0 ? 1 : vals[i] < 0 ? -1 : 0));
		v = 42;
		assert_int_equal(rn_num_to_i64(&n, &v), GT_OK);
		assert_true(v == vals[i]);
	}
	n = num("1.9");
	assert_int_equal(rn_num_to_i64(&n, &v), GT_OK);
	assert_int_equal(v, 1);
	n = num("-1.9");
	assert_int_equal(rn_num_to_i64(&n, &v), GT_OK);
	assert_true(v == -1);
	n = num("0.5");
	assert_int_equal(rn_num_to_i64(&n, &v), GT_OK);
	assert_int_equal(v, 0);
	v = 42;
	n = num("9223372036854775808");
	assert_int_equal(rn_num_to_i64(&n, &v), GT_EOVERFLOW);
	n = num("-9223372036854775809");
	assert_int_equal(rn_num_to_i64(&n, &v), GT_EOVERFLOW);
	n = num("1e30");
	assert_int_equal(rn_num_to_i64(&n, &v), GT_EOVERFLOW);
	assert_int_equal(v, 42);

	assert_int_equal(rn_num_size(&(rn_num){0}), 1);
	n = num("1");
	assert_int_equal(rn_num_size(&n), 2);
	n = num("12");
	assert_int_equal(rn_num_size(&n), 2);
	n = num("123");
	assert_int_equal(rn_num_size(&n), 3);
	n = num("1000");
	assert_int_equal(rn_num_size(&n), 2);
	n = num("-0.000123");
	assert_int_equal(rn_num_size(&n), 3);
	n = num("12345678901234567890123456789012345678");
	assert_int_equal(rn_num_size(&n), 20);
}

/* ----------------------------------------------------- attribute values */

static void test_av_types(void **state)
{
	static const char *const names[] = {"S", "N", "B", "BOOL", "NULL",
		"SS", "NS", "BS", "M", "L"};
	const cJSON *p = NULL;
	cJSON *j;

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(names); i++) {
		rn_av_type t = rn_av_type_parse(names[i]);

		assert_int_equal(t, (rn_av_type)(i + 1));
		assert_string_equal(rn_av_type_name(t), names[i]);
	}
	assert_int_equal(rn_av_type_parse("s"), RN_AV_NONE);
	assert_int_equal(rn_av_type_parse("SSS"), RN_AV_NONE);
	assert_int_equal(rn_av_type_parse("BOO"), RN_AV_NONE);
	assert_int_equal(rn_av_type_parse(""), RN_AV_NONE);
	assert_int_equal(rn_av_type_parse(NULL), RN_AV_NONE);

	j = js("{\"NS\":[\"1\"]}");
	assert_int_equal(rn_av_type_of(j, &p), RN_AV_NS);
	assert_ptr_equal(p, j->child);
	cJSON_Delete(j);
	j = js("{\"S\":\"a\",\"N\":\"1\"}");
	assert_int_equal(rn_av_type_of(j, NULL), RN_AV_NONE);
	cJSON_Delete(j);
	j = js("\"S\"");
	assert_int_equal(rn_av_type_of(j, NULL), RN_AV_NONE);
	cJSON_Delete(j);
}

static void check_invalid(const char *value, gt_err want, const char *msg)
{
	cJSON *j = js(value);
	char got[RN_MSG_MAX];
	gt_err err;

	got[0] = '\0';
	err = rn_av_validate(j, 0, got);
	if (err != want)
		fail_msg("%s: got %s (%s)", value, gt_strerror(err), got);
	if (strcmp(got, msg) != 0)
		fail_msg("%s: message \"%s\"", value, got);
	cJSON_Delete(j);
}

#define INVALID "One or more parameter values were invalid: "

static void test_av_validate_errors(void **state)
{
	(void)state;
	check_invalid("{}", GT_EINVAL, "Supplied AttributeValue is empty, "
	    "must contain exactly one of the supported datatypes");
	check_invalid("{\"X\":\"1\"}", GT_EINVAL, "Supplied AttributeValue "
	    "is empty, must contain exactly one of the supported datatypes");
	check_invalid("{\"S\":null}", GT_EINVAL, "Supplied AttributeValue "
	    "is empty, must contain exactly one of the supported datatypes");
	check_invalid("{\"S\":\"a\",\"N\":\"1\"}", GT_EINVAL,
	    "Supplied AttributeValue has more than one datatypes set, must "
	    "contain exactly one of the supported datatypes");
	check_invalid("{\"NULL\":false}", GT_EINVAL,
	    INVALID "Null attribute value types must have the value of true");
	check_invalid("{\"SS\":[]}", GT_EINVAL,
	    INVALID "An string set  may not be empty");
	check_invalid("{\"NS\":[]}", GT_EINVAL,
	    INVALID "An number set  may not be empty");
	check_invalid("{\"BS\":[]}", GT_EINVAL,
	    INVALID "Binary sets should not be empty");
	check_invalid("{\"SS\":[\"a\",\"a\"]}", GT_EINVAL,
	    INVALID "Input collection [a, a] contains duplicates.");
	check_invalid("{\"NS\":[\"1\",\"2\",\"1.0\"]}", GT_EINVAL,
	    INVALID "Input collection [1, 2, 1] contains duplicates.");
	check_invalid("{\"BS\":[\"AQ==\",\"AQ==\"]}", GT_EINVAL,
	    INVALID "Input collection [AQ==, AQ==] contains duplicates.");
	check_invalid("{\"N\":\"abc\"}", GT_EINVAL,
	    "The parameter cannot be converted to a numeric value: abc");
	check_invalid("{\"N\":\"\"}", GT_EINVAL,
	    "The parameter cannot be converted to a numeric value");
	check_invalid("{\"NS\":[\"1\",\"1x\"]}", GT_EINVAL,
	    "The parameter cannot be converted to a numeric value: 1x");
	check_invalid("{\"N\":\"1e126\"}", GT_EINVAL, "Number overflow. "
	    "Attempting to store a number with magnitude larger than "
	    "supported range");
	check_invalid("{\"N\":\"1e-131\"}", GT_EINVAL, "Number underflow. "
	    "Attempting to store a number with magnitude smaller than "
	    "supported range");
	check_invalid("{\"N\":\"1234567890123456789012345678901234567891\"}",
	    GT_EINVAL, "Attempting to store more than 38 significant digits "
	    "in a Number");
	check_invalid("{\"M\":{\"a\":{\"S\":\"x\"},\"b\":{\"NULL\":false}}}",
	    GT_EINVAL, INVALID "Null attribute value types must have the "
	    "value of true");
	check_invalid("{\"L\":[{\"S\":\"x\"},{}]}", GT_EINVAL, "Supplied "
	    "AttributeValue is empty, must contain exactly one of the "
	    "supported datatypes");

	/* Wrong JSON types are serialization errors. */
	check_invalid("{\"S\":5}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"N\":5}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"BOOL\":\"true\"}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"NULL\":1}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"SS\":[\"a\",1]}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"SS\":\"a\"}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"M\":[]}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"L\":{}}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("[]", GT_ECORRUPT, "Unexpected value type in payload");
	check_invalid("{\"L\":[\"x\"]}", GT_ECORRUPT,
	    "Unexpected value type in payload");
	check_invalid("{\"B\":\"abc\"}", GT_ECORRUPT, "Base64 encoded length "
	    "is expected a multiple of 4 bytes but found: 3");
	check_invalid("{\"BS\":[\"AQ==\",\"A!==\"]}", GT_ECORRUPT,
	    "Invalid Base64 character or padding in binary value");
	check_invalid("{\"B\":\"AR==\"}", GT_ECORRUPT,
	    "Invalid Base64 character or padding in binary value");
	/* Serialization errors win over validation errors found earlier. */
	check_invalid("{\"M\":{\"a\":{\"NULL\":false},\"b\":{\"S\":5}}}",
	    GT_ECORRUPT, "Unexpected value type in payload");
	check_invalid("{\"S\":5,\"N\":\"1\"}", GT_ECORRUPT,
	    "Unexpected value type in payload");
}

/* Builds k nested L values around a string. */
static cJSON *nested(int k)
{
	gt_buf b = GT_BUF_INIT;
	cJSON *j;

	for (int i = 0; i < k; i++)
		gt_buf_puts(&b, i % 2 ? "{\"L\":[" : "{\"M\":{\"k\":");
	gt_buf_puts(&b, "{\"S\":\"x\"}");
	for (int i = k - 1; i >= 0; i--)
		gt_buf_puts(&b, i % 2 ? "]}" : "}}");
	j = js(b.data);
	gt_buf_free(&b);
	return j;
}

static void test_av_validate_nesting(void **state)
{
	char msg[RN_MSG_MAX];
	cJSON *j, *item;

	(void)state;
	j = nested(RN_AV_DEPTH_MAX);
	assert_int_equal(rn_av_validate(j, 0, msg), GT_OK);
	assert_int_equal(rn_av_validate(j, 1, msg), GT_EINVAL);
	assert_string_equal(msg, "Nesting Levels have exceeded supported "
	    "limits");
	cJSON_Delete(j);
	j = nested(RN_AV_DEPTH_MAX + 1);
	assert_int_equal(rn_av_validate(j, 0, msg), GT_EINVAL);
	assert_string_equal(msg, "Nesting Levels have exceeded supported "
	    "limits");
	cJSON_Delete(j);
	/* Very deep input stays bounded and fails cleanly. */
	j = nested(400);
	assert_int_equal(rn_av_validate(j, 0, msg), GT_EINVAL);
	cJSON_Delete(j);

	item = cJSON_CreateObject();
	cJSON_AddItemToObject(item, "deep", nested(RN_AV_DEPTH_MAX + 1));
	assert_int_equal(rn_item_validate(item, msg), GT_EINVAL);
	assert_string_equal(msg, "Nesting Levels have exceeded supported "
	    "limits");
	cJSON_Delete(item);
}

static void check_canonical(const char *in, const char *out)
{
	cJSON *j = js(in);
	char msg[RN_MSG_MAX];

	if (rn_av_validate(j, 0, msg) != GT_OK)
		fail_msg("%s: %s", in, msg);
	assert_json(j, out);
	cJSON_Delete(j);
}

static void test_av_validate_canonical(void **state)
{
	cJSON *j;
	char msg[RN_MSG_MAX];

	(void)state;
	check_canonical("{\"N\":\"1.50\"}", "{\"N\":\"1.5\"}");
	check_canonical("{\"N\":\"1e5\"}", "{\"N\":\"100000\"}");
	check_canonical("{\"NS\":[\"1e2\",\"-0.0\",\".5\"]}",
	    "{\"NS\":[\"100\",\"0\",\"0.5\"]}");
	check_canonical("{\"M\":{\"x\":{\"N\":\"01\"},\"y\":{\"L\":[{\"N\":"
	    "\"-2.0\"}]}}}",
	    "{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"L\":[{\"N\":\"-2\"}]}}}");
	check_canonical("{\"S\":\"a\",\"X\":1}", "{\"S\":\"a\"}");
	check_canonical("{\"S\":\"a\",\"N\":null}", "{\"S\":\"a\"}");
	check_canonical("{\"S\":\"\"}", "{\"S\":\"\"}");
	check_canonical("{\"B\":\"\"}", "{\"B\":\"\"}");
	check_canonical("{\"SS\":[\"\",\"a\"]}", "{\"SS\":[\"\",\"a\"]}");
	check_canonical("{\"BOOL\":false}", "{\"BOOL\":false}");
	check_canonical("{\"NULL\":true}", "{\"NULL\":true}");
	check_canonical("{\"B\":\"AQID\"}", "{\"B\":\"AQID\"}");
	check_canonical("{\"BS\":[\"AQ==\",\"AQI=\"]}",
	    "{\"BS\":[\"AQ==\",\"AQI=\"]}");
	check_canonical("{\"L\":[]}", "{\"L\":[]}");
	check_canonical("{\"M\":{}}", "{\"M\":{}}");
	check_canonical("{\"SS\":[\"a\",\"A\",\"\xc3\xa9\"]}",
	    "{\"SS\":[\"a\",\"A\",\"\xc3\xa9\"]}");

	/* A string reference payload is copied before it is rewritten. */
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "N", cJSON_CreateStringReference("7.000"));
	assert_int_equal(rn_av_validate(j, 0, msg), GT_OK);
	assert_json(j, "{\"N\":\"7\"}");
	cJSON_Delete(j);

	/* An item validates every attribute. */
	j = js("{\"a\":{\"N\":\"1.0\"},\"b\":{\"SS\":[\"x\"]}}");
	assert_int_equal(rn_item_validate(j, msg), GT_OK);
	assert_json(j, "{\"a\":{\"N\":\"1\"},\"b\":{\"SS\":[\"x\"]}}");
	cJSON_Delete(j);
	j = js("{\"a\":{\"NULL\":false},\"b\":\"str\"}");
	assert_int_equal(rn_item_validate(j, msg), GT_ECORRUPT);
	assert_string_equal(msg, "Unexpected value type in payload");
	cJSON_Delete(j);
	j = js("[1]");
	assert_int_equal(rn_item_validate(j, msg), GT_ECORRUPT);
	cJSON_Delete(j);
}

static void test_av_validate_big_sets(void **state)
{
	cJSON *j, *ss, *ns;
	char msg[RN_MSG_MAX], text[32];
	size_t len;

	(void)state;
	j = cJSON_CreateObject();
	ss = cJSON_AddArrayToObject(j, "SS");
	for (int i = 0; i < 20; i++) {
		snprintf(text, sizeof(text), "member-%d", i);
		cJSON_AddItemToArray(ss, cJSON_CreateString(text));
	}
	assert_int_equal(rn_av_validate(j, 0, msg), GT_OK);
	cJSON_AddItemToArray(ss, cJSON_CreateString("member-17"));
	assert_int_equal(rn_av_validate(j, 0, msg), GT_EINVAL);
	assert_memory_equal(msg, INVALID "Input collection [member-0, "
	    "member-1, ", strlen(INVALID "Input collection [member-0, "
	    "member-1, "));
	assert_non_null(strstr(msg, "member-17] contains duplicates."));
	cJSON_Delete(j);

	/* Numeric duplicates in a large NS. */
	j = cJSON_CreateObject();
	ns = cJSON_AddArrayToObject(j, "NS");
	for (int i = 0; i < 30; i++) {
		snprintf(text, sizeof(text), "%d", i * 10);
		cJSON_AddItemToArray(ns, cJSON_CreateString(text));
	}
	assert_int_equal(rn_av_validate(j, 0, msg), GT_OK);
	cJSON_AddItemToArray(ns, cJSON_CreateString("2.9e2"));
	assert_int_equal(rn_av_validate(j, 0, msg), GT_EINVAL);
	cJSON_Delete(j);

	/* A message listing a long collection is cut, not overrun. */
	j = cJSON_CreateObject();
	ss = cJSON_AddArrayToObject(j, "SS");
	for (int i = 0; i < 300; i++) {
		snprintf(text, sizeof(text), "%d", i % 299);
		cJSON_AddItemToArray(ss, cJSON_CreateString(text));
	}
	assert_int_equal(rn_av_validate(j, 0, msg), GT_EINVAL);
	len = strlen(msg);
	assert_true(len < RN_MSG_MAX);
	assert_string_equal(msg + len - strlen("...] contains duplicates."),
	    "...] contains duplicates.");
	cJSON_Delete(j);
}

/* ------------------------------------------------------------------ sizes */

static void check_size(const char *item, size_t want)
{
	cJSON *j = js(item);
	size_t got = rn_item_size(j);

	if (got != want)
		fail_msg("%s: size %zu, want %zu", item, got, want);
	cJSON_Delete(j);
}

static void test_av_size(void **state)
{
	(void)state;
	check_size("{\"a\":{\"S\":\"xyz\"}}", 4);
	check_size("{\"ab\":{\"N\":\"123\"}}", 5);
	check_size("{\"ab\":{\"N\":\"1000\"}}", 4);
	check_size("{\"n\":{\"N\":\"0\"}}", 2);
	check_size("{\"n\":{\"N\":\"-0.00012\"}}", 3);
	check_size("{\"b\":{\"B\":\"AQID\"}}", 4);
	check_size("{\"b\":{\"B\":\"AQ==\"}}", 2);
	check_size("{\"b\":{\"B\":\"\"}}", 1);
	check_size("{\"t\":{\"BOOL\":true}}", 2);
	check_size("{\"n\":{\"NULL\":true}}", 2);
	check_size("{\"ss\":{\"SS\":[\"a\",\"bc\"]}}", 5);
	check_size("{\"ns\":{\"NS\":[\"1\",\"22\"]}}", 6);
	check_size("{\"bs\":{\"BS\":[\"AQ==\",\"AQI=\"]}}", 5);
	check_size("{\"m\":{\"M\":{}}}", 4);
	check_size("{\"m\":{\"M\":{\"k\":{\"S\":\"v\"}}}}", 7);
	check_size("{\"l\":{\"L\":[]}}", 4);
	check_size("{\"l\":{\"L\":[{\"S\":\"v\"},{\"N\":\"1\"}]}}", 9);
	check_size("{\"\xc3\xa9\":{\"S\":\"\xc3\xa9\"}}", 4);
	check_size("{\"a\":{\"S\":\"xyz\"},\"bb\":{\"BOOL\":false}}", 7);
	check_size("{}", 0);
}

/* ------------------------------------------------------ equality/ordering */

static void check_equal(const char *a, const char *b, int want)
{
	cJSON *x = js(a), *y = js(b);

	if (rn_av_equal(x, y) != want || rn_av_equal(y, x) != want)
		fail_msg("equal(%s, %s) != %d", a, b, want);
	cJSON_Delete(x);
	cJSON_Delete(y);
}

static void test_av_equal(void **state)
{
	gt_buf a = GT_BUF_INIT, b = GT_BUF_INIT;

	(void)state;
	check_equal("{\"S\":\"a\"}", "{\"S\":\"a\"}", 1);
	check_equal("{\"S\":\"a\"}", "{\"S\":\"b\"}", 0);
	check_equal("{\"S\":\"1\"}", "{\"N\":\"1\"}", 0);
	check_equal("{\"N\":\"1.10\"}", "{\"N\":\"1.1\"}", 1);
	check_equal("{\"N\":\"1\"}", "{\"N\":\"2\"}", 0);
	check_equal("{\"B\":\"AQ==\"}", "{\"B\":\"AQ==\"}", 1);
	check_equal("{\"BOOL\":true}", "{\"BOOL\":true}", 1);
	check_equal("{\"BOOL\":true}", "{\"BOOL\":false}", 0);
	check_equal("{\"NULL\":true}", "{\"NULL\":true}", 1);
	check_equal("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"b\",\"a\"]}", 1);
	check_equal("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"c\"]}", 0);
	check_equal("{\"SS\":[\"a\"]}", "{\"SS\":[\"a\",\"b\"]}", 0);
	check_equal("{\"NS\":[\"1\",\"2\"]}", "{\"NS\":[\"2\",\"1\"]}", 1);
	check_equal("{\"SS\":[\"1\"]}", "{\"NS\":[\"1\"]}", 0);
	check_equal("{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}",
	    "{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}", 1);
	check_equal("{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}",
	    "{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"}]}", 0);
	check_equal("{\"L\":[{\"S\":\"a\"}]}", "{\"L\":[]}", 0);
	check_equal("{\"M\":{\"x\":{\"S\":\"a\"},\"y\":{\"N\":\"1\"}}}",
	    "{\"M\":{\"y\":{\"N\":\"1\"},\"x\":{\"S\":\"a\"}}}", 1);
	check_equal("{\"M\":{\"x\":{\"S\":\"a\"}}}",
	    "{\"M\":{\"z\":{\"S\":\"a\"}}}", 0);
	check_equal("{\"M\":{\"x\":{\"M\":{\"y\":{\"L\":[{\"NULL\":true}]}}}}}",
	    "{\"M\":{\"x\":{\"M\":{\"y\":{\"L\":[{\"NULL\":true}]}}}}}", 1);
	check_equal("{}", "{}", 0);

	/* Large sets and maps take the sorting path. */
	for (int pass = 0; pass < 2; pass++) {
		gt_buf_reset(&a);
		gt_buf_reset(&b);
		gt_buf_puts(&a, "{\"SS\":[");
		gt_buf_puts(&b, "{\"SS\":[");
		for (int i = 0; i < 30; i++) {
			gt_buf_printf(&a, "%s\"s%d\"", i ? "," : "", i);
			gt_buf_printf(&b, "%s\"s%d\"", i ? "," : "",
			    pass && i == 29 ? 99 : 29 - i);
		}
		gt_buf_puts(&a, "]}");
		gt_buf_puts(&b, "]}");
		check_equal(a.data, b.data, !pass);

		gt_buf_reset(&a);
		gt_buf_reset(&b);
		gt_buf_puts(&a, "{\"M\":{");
		gt_buf_puts(&b, "{\"M\":{");
		for (int i = 0; i < 25; i++) {
			gt_buf_printf(&a, "%s\"k%d\":{\"N\":\"%d\"}",
			    i ? "," : "", i, i);
			gt_buf_printf(&b, "%s\"k%d\":{\"N\":\"%d\"}",
			    i ? "," : "", 24 - i, pass && i == 3 ? 0 : 24 - i);
		}
		gt_buf_puts(&a, "}}");
		gt_buf_puts(&b, "}}");
		check_equal(a.data, b.data, !pass);
	}
	gt_buf_free(&a);
	gt_buf_free(&b);
}

static int check_compare(const char *a, const char *b)
{
	cJSON *x = js(a), *y = js(b);
	int c = rn_av_compare(x, y), r = rn_av_compare(y, x);

	if (c == 2)
		assert_int_equal(r, 2);
	else
		assert_int_equal(r, -c);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return c;
}

static void test_av_compare(void **state)
{
	(void)state;
	assert_int_equal(check_compare("{\"S\":\"a\"}", "{\"S\":\"b\"}"), -1);
	assert_int_equal(check_compare("{\"S\":\"a\"}", "{\"S\":\"ab\"}"), -1);
	assert_int_equal(check_compare("{\"S\":\"a\"}", "{\"S\":\"a\"}"), 0);
	assert_int_equal(check_compare("{\"S\":\"\xc3\xa9\"}",
	    "{\"S\":\"z\"}"), 1);
	assert_int_equal(check_compare("{\"S\":\"Z\"}", "{\"S\":\"a\"}"), -1);
	assert_int_equal(check_compare("{\"N\":\"-1\"}", "{\"N\":\"0.5\"}"),
	    -1);
	assert_int_equal(check_compare("{\"N\":\"10\"}", "{\"N\":\"9\"}"), 1);
	assert_int_equal(check_compare("{\"N\":\"1.0\"}", "{\"N\":\"1\"}"), 0);
	assert_int_equal(check_compare("{\"B\":\"AA==\"}",
	    "{\"B\":\"AAA=\"}"), -1);
	assert_int_equal(check_compare("{\"B\":\"AAA=\"}",
	    "{\"B\":\"AQ==\"}"), -1);
	assert_int_equal(check_compare("{\"B\":\"/w==\"}",
	    "{\"B\":\"AAAA\"}"), 1);
	assert_int_equal(check_compare("{\"B\":\"\"}", "{\"B\":\"AA==\"}"), -1);
	assert_int_equal(check_compare("{\"S\":\"1\"}", "{\"N\":\"1\"}"), 2);
	assert_int_equal(check_compare("{\"BOOL\":true}",
	    "{\"BOOL\":true}"), 2);
	assert_int_equal(check_compare("{\"SS\":[\"a\"]}",
	    "{\"SS\":[\"a\"]}"), 2);
	assert_int_equal(check_compare("{\"N\":\"x\"}", "{\"N\":\"1\"}"), 2);
}

/* ---------------------------------------------------- S/B key encoding */

static cJSON *b_value(const uint8_t *p, size_t n)
{
	gt_buf b = GT_BUF_INIT;
	cJSON *j = cJSON_CreateObject();

	gt_base64_encode(&b, p, n);
	gt_buf_putc(&b, '\0');
	assert_true(gt_buf_ok(&b));
	cJSON_AddStringToObject(j, "B", b.data);
	gt_buf_free(&b);
	return j;
}

static void encode_ok(const cJSON *av, rn_av_type t, gt_buf *out)
{
	char msg[RN_MSG_MAX];

	if (rn_key_encode_attr(av, t, "k", out, msg) != GT_OK)
		fail_msg("encode: %s", msg);
}

static void test_key_b_order(void **state)
{
	static const struct {
		const char *p;
		size_t n;
	} seq[] = {
		{"\0", 1}, {"\0\0", 2}, {"\0\x01", 2}, {"\x01", 1},
		{"a", 1}, {"a\0", 2}, {"a\0\0", 3}, {"a\0b", 3}, {"ab", 2},
		{"b", 1}, {"\xff", 1}, {"\xff\0", 2}, {"\xff\xff", 2},
	};
	gt_buf prev = GT_BUF_INIT, cur = GT_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(seq); i++) {
		cJSON *v = b_value((const uint8_t *)seq[i].p, seq[i].n);
		cJSON *back = NULL;

		gt_buf_reset(&cur);
		encode_ok(v, RN_AV_B, &cur);
		if (i > 0)
			assert_int_equal(memcmp_len((uint8_t *)prev.data,
			    prev.len, (uint8_t *)cur.data, cur.len), -1);
		assert_int_equal(rn_key_decode_attr((uint8_t *)cur.data,
		    cur.len, RN_AV_B, &back), cur.len);
		assert_true(rn_av_equal(v, back));
		cJSON_Delete(back);
		cJSON_Delete(v);
		gt_buf_reset(&prev);
		gt_buf_append(&prev, cur.data, cur.len);
	}
	/* Byte-exact format of "a\0". */
	assert_int_equal(prev.len, 4);
	{
		cJSON *v = b_value((const uint8_t *)"a\0", 2);

		gt_buf_reset(&cur);
		encode_ok(v, RN_AV_B, &cur);
		assert_int_equal(cur.len, 5);
		assert_memory_equal(cur.data, "a\0\xff\0\x01", 5);
		cJSON_Delete(v);
	}
	gt_buf_free(&prev);
	gt_buf_free(&cur);
}

static void test_key_b_random(void **state)
{
	static const uint8_t alpha[] = {0x00, 0x01, 0xFE, 0xFF, 'a'};
	uint8_t ra[12], rb[12];

	(void)state;
	rng_seed("test_key_b_random");
	for (int it = 0; it < 5000; it++) {
		size_t na = 1 + rng_below(11), nb = 1 + rng_below(11);
		gt_buf ka = GT_BUF_INIT, kb = GT_BUF_INIT, both = GT_BUF_INIT;
		cJSON *a, *b, *da = NULL, *db = NULL;
		size_t used;
		int want;

		for (size_t i = 0; i < na; i++)
			ra[i] = alpha[rng_below(5)];
		for (size_t i = 0; i < nb; i++)
			rb[i] = rng_below(3) == 0 && i < na ? ra[i] :
			    alpha[rng_below(5)];
		want = memcmp_len(ra, na, rb, nb);
		a = b_value(ra, na);
		b = b_value(rb, nb);
		encode_ok(a, RN_AV_B, &ka);
		encode_ok(b, RN_AV_B, &kb);
		assert_int_equal(memcmp_len((uint8_t *)ka.data, ka.len,
		    (uint8_t *)kb.data, kb.len), want);
		assert_int_equal(rn_av_compare(a, b), want);

		/* A composite key splits back into its parts. */
		gt_buf_append(&both, ka.data, ka.len);
		gt_buf_append(&both, kb.data, kb.len);
		used = rn_key_decode_attr((uint8_t *)both.data, both.len,
		    RN_AV_B, &da);
		assert_int_equal(used, ka.len);
		assert_int_equal(rn_key_attr_len((uint8_t *)both.data,
		    both.len, RN_AV_B), ka.len);
		assert_int_equal(rn_key_decode_attr((uint8_t *)both.data + used,
		    both.len - used, RN_AV_B, &db), kb.len);
		assert_true(rn_av_equal(a, da));
		assert_true(rn_av_equal(b, db));
		cJSON_Delete(a);
		cJSON_Delete(b);
		cJSON_Delete(da);
		cJSON_Delete(db);
		gt_buf_free(&ka);
		gt_buf_free(&kb);
		gt_buf_free(&both);
	}
}

static void test_key_s_and_n(void **state)
{
	static const char *const strs[] = {"A", "Z", "a", "a\x01", "ab",
		"abc", "b", "z", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80"};
	static const char *const nums[] = {"-1e125", "-100", "-1.5", "-1",
		"-0.5", "-1e-130", "0", "1e-130", "0.5", "1", "1.01", "1.1",
		"2", "10", "1e125"};
	gt_buf prev = GT_BUF_INIT, cur = GT_BUF_INIT;
	cJSON *v, *back;
	char text[64];

	(void)state;
	for (size_t i = 0; i < GT_ARRAY_LEN(strs); i++) {
		v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "S", strs[i]);
		gt_buf_reset(&cur);
		encode_ok(v, RN_AV_S, &cur);
		assert_int_equal(cur.len, strlen(strs[i]) + 2);
		if (i > 0)
			assert_int_equal(memcmp_len((uint8_t *)prev.data,
			    prev.len, (uint8_t *)cur.data, cur.len), -1);
		back = NULL;
		assert_int_equal(rn_key_decode_attr((uint8_t *)cur.data,
		    cur.len, RN_AV_S, &back), cur.len);
		assert_true(rn_av_equal(v, back));
		assert_string_equal(back->child->valuestring, strs[i]);
		cJSON_Delete(back);
		cJSON_Delete(v);
		gt_buf_reset(&prev);
		gt_buf_append(&prev, cur.data, cur.len);
	}
	gt_buf_reset(&prev);
	for (size_t i = 0; i < GT_ARRAY_LEN(nums); i++) {
		snprintf(text, sizeof(text), "{\"N\":\"%s\"}", nums[i]);
		v = js(text);
		gt_buf_reset(&cur);
		encode_ok(v, RN_AV_N, &cur);
		if (i > 0)
			assert_int_equal(memcmp_len((uint8_t *)prev.data,
			    prev.len, (uint8_t *)cur.data, cur.len), -1);
		back = NULL;
		assert_int_equal(rn_key_decode_attr((uint8_t *)cur.data,
		    cur.len, RN_AV_N, &back), cur.len);
		assert_true(rn_av_equal(v, back));
		cJSON_Delete(back);
		cJSON_Delete(v);
		gt_buf_reset(&prev);
		gt_buf_append(&prev, cur.data, cur.len);
	}
	/* The decoded number is canonical text. */
	v = js("{\"N\":\"1.500e1\"}");
	gt_buf_reset(&cur);
	encode_ok(v, RN_AV_N, &cur);
	back = NULL;
	assert_int_equal(rn_key_decode_attr((uint8_t *)cur.data, cur.len,
	    RN_AV_N, &back), cur.len);
	assert_json(back, "{\"N\":\"15\"}");
	cJSON_Delete(back);
	cJSON_Delete(v);
	gt_buf_free(&prev);
	gt_buf_free(&cur);
}

static void test_key_s_roundtrip(void **state)
{
	cJSON *v = js("{\"S\":\"h\xc3\xa9llo w\\u00f6rld\"}"), *back = NULL;
	gt_buf k = GT_BUF_INIT;
	char *a, *b;

	(void)state;
	encode_ok(v, RN_AV_S, &k);
	assert_int_equal(rn_key_decode_attr((uint8_t *)k.data, k.len, RN_AV_S,
	    &back), k.len);
	a = print(v);
	b = print(back);
	assert_string_equal(a, b);
	free(a);
	free(b);
	cJSON_Delete(v);
	cJSON_Delete(back);
	gt_buf_free(&k);
}

static void test_key_errors(void **state)
{
	gt_buf out = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	cJSON *v, *back = NULL;

	(void)state;
	gt_buf_puts(&out, "prefix");
	v = js("{\"N\":\"1\"}");
	assert_int_equal(rn_key_encode_attr(v, RN_AV_S, "pk", &out, msg),
	    GT_EINVAL);
	assert_string_equal(msg, INVALID "Type mismatch for key pk expected: "
	    "S actual: N");
	assert_int_equal(out.len, 6);
	cJSON_Delete(v);

	v = js("{\"S\":\"\"}");
	assert_int_equal(rn_key_encode_attr(v, RN_AV_S, "pk", &out, msg),
	    GT_EINVAL);
	assert_string_equal(msg, "One or more parameter values are not valid. "
	    "The AttributeValue for a key attribute cannot contain an empty "
	    "string value. Key: pk");
	cJSON_Delete(v);

	v = js("{\"B\":\"\"}");
	assert_int_equal(rn_key_encode_attr(v, RN_AV_B, "sk", &out, msg),
	    GT_EINVAL);
	assert_string_equal(msg, "One or more parameter values are not valid. "
	    "The AttributeValue for a key attribute cannot contain an empty "
	    "binary value. Key: sk");
	cJSON_Delete(v);

	v = js("{\"B\":\"AQ\"}");
	assert_int_equal(rn_key_encode_attr(v, RN_AV_B, "sk", &out, msg),
	    GT_EINVAL);
	cJSON_Delete(v);

	v = js("{\"N\":\"1e200\"}");
	assert_int_equal(rn_key_encode_attr(v, RN_AV_N, "sk", &out, msg),
	    GT_EINVAL);
	assert_string_equal(msg, "Number overflow. Attempting to store a "
	    "number with magnitude larger than supported range");
	cJSON_Delete(v);

	v = js("{\"BOOL\":true}");
	assert_int_equal(rn_key_encode_attr(v, RN_AV_BOOL, "k", &out, msg),
	    GT_EINVAL);
	assert_int_equal(rn_key_encode_attr(v, RN_AV_N, "k", &out, msg),
	    GT_EINVAL);
	assert_string_equal(msg, INVALID "Type mismatch for key k expected: "
	    "N actual: BOOL");
	cJSON_Delete(v);
	assert_int_equal(out.len, 6);
	assert_string_equal(out.data, "prefix");
	gt_buf_free(&out);

	/* Malformed encodings. */
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"ab", 2, RN_AV_S,
	    &back), 0);
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"ab\0", 3,
	    RN_AV_S, &back), 0);
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"a\0\x02\0\x01",
	    5, RN_AV_B, &back), 0);
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"a\0\xff\0\x01",
	    5, RN_AV_S, &back), 0); /* NUL cannot live in a JSON string */
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"\x09", 1,
	    RN_AV_N, &back), 0);
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"a\0\x01", 3,
	    RN_AV_BOOL, &back), 0);
	assert_null(back);
	assert_int_equal(rn_key_attr_len((const uint8_t *)"ab\0", 3, RN_AV_S),
	    0);
	assert_int_equal(rn_key_attr_len((const uint8_t *)"a\0\xff\0\x01", 5,
	    RN_AV_S), 0);
	assert_int_equal(rn_key_attr_len((const uint8_t *)"a\0\xff\0\x01", 5,
	    RN_AV_B), 5);
	assert_int_equal(rn_key_attr_len((const uint8_t *)"a\0\x01", 3,
	    RN_AV_L), 0);
	/* The empty encoding decodes (keys are never empty, but the decoder
	 * is total). */
	assert_int_equal(rn_key_decode_attr((const uint8_t *)"\0\x01", 2,
	    RN_AV_B, &back), 2);
	assert_json(back, "{\"B\":\"\"}");
	cJSON_Delete(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_num_parse_canonical),
		cmocka_unit_test(test_num_parse_errors),
		cmocka_unit_test(test_num_equal_forms),
		cmocka_unit_test(test_num_key_bytes),
		cmocka_unit_test(test_num_order_random),
		cmocka_unit_test(test_num_add_sub),
		cmocka_unit_test(test_num_arith_random),
		cmocka_unit_test(test_num_i64_and_size),
		cmocka_unit_test(test_av_types),
		cmocka_unit_test(test_av_validate_errors),
		cmocka_unit_test(test_av_validate_nesting),
		cmocka_unit_test(test_av_validate_canonical),
		cmocka_unit_test(test_av_validate_big_sets),
		cmocka_unit_test(test_av_size),
		cmocka_unit_test(test_av_equal),
		cmocka_unit_test(test_av_compare),
		cmocka_unit_test(test_key_b_order),
		cmocka_unit_test(test_key_b_random),
		cmocka_unit_test(test_key_s_and_n),
		cmocka_unit_test(test_key_s_roundtrip),
		cmocka_unit_test(test_key_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
