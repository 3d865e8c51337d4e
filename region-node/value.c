/*
 * value.c — DynamoDB attribute values: exact decimal numbers, validation and
 * canonical form of wire values, item sizes, equality and ordering, and the
 * order-preserving key encoding used for LMDB keys.  Contracts in value.h.
 *
 * Design.
 *
 * 1. Numbers are never doubles.  An rn_num holds up to 38 decimal digits
 *    d1..dn and an exponent so that value = 0.d1..dn * 10^exp.  Invariants
 *    of every rn_num this file produces:
 *      (a) zero is ndigits == 0, neg == 0, exp == 0;
 *      (b) otherwise 1 <= ndigits <= 38, digits[0] != 0 and
 *          digits[ndigits - 1] != 0 (no leading or trailing zeros);
 *      (c) -129 <= exp <= 126, i.e. 1E-130 <= |value| < 1E+126.
 *    Because of (a)-(c) every number has exactly one representation, so
 *    equal numbers format, encode and compare equal without normalising.
 *
 * 2. Arithmetic is exact: both operands are laid out as digit arrays over
 *    a common range of decimal positions (at most 295 positions, since
 *    digit positions run from 10^-167 to 10^125, plus one for a carry), then
 *    added or subtracted digit by digit, then renormalised and checked
 *    against (b) and (c).  Nothing is ever rounded.
 *
 * 3. Validation of a wire value runs in two passes, as DynamoDB does: a
 *    shape pass (the JSON types of every payload and the base64 of B/BS;
 *    failures are GT_ECORRUPT, DynamoDB's SerializationException, raised
 *    while the request is deserialised and so before any validation), then
 *    a validation pass (exactly one type, numbers in range, sets non-empty
 *    and free of duplicates, NULL true, nesting depth) that also rewrites
 *    numbers to canonical text.  Members with unknown type names or JSON
 *    null payloads are dropped, as DynamoDB's deserialiser ignores them.
 *
 * 4. Number key encoding (rn_num_key_encode), byte by byte:
 *      byte 0   class: 0x01 negative, 0x02 zero, 0x03 positive.  Zero is
 *               this single byte.
 *      byte 1   exp + 129 (0..255).
 *      byte 2.. the digits two at a time, most significant first; a pair
 *               d1 d2 has value v = 10*d1 + d2 (an odd count is padded with
 *               one 0 digit) and is written as 2v+1 when more pairs follow
 *               and 2v for the last pair.  So continuation bytes are odd
 *               (1..199) and the final byte is even (2..198).
 *    For a negative number every byte after byte 0 is complemented
 *    (b ^ 0xFF), which reverses their order.  At most 2 + 19 = 21 bytes.
 *    Why it orders: the class byte separates signs; for equal signs a larger
 *    exponent means a larger magnitude (invariant b); for equal exponents
 *    the first differing pair decides, and where one digit string is a
 *    prefix of the other the shorter one ends with an even byte 2v where the
 *    longer has 2v+1, so the shorter (smaller) magnitude sorts first.  No
 *    encoding is a proper prefix of another (the final byte is recognisable),
 *    so encodings can be concatenated in composite keys.
 *
 * 5. S and B key encoding: the raw bytes (B decoded from base64) with each
 *    0x00 written as 0x00 0xFF, then the terminator 0x00 0x01.  Any byte of
 *    the original sorts above the terminator, and the escape 0x00 0xFF sorts
 *    above the terminator too, so a string sorts after its proper prefixes
 *    ("a" < "a\0" < "ab"), and memcmp order equals bytewise order.
 */
#include "value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_EXP_MAX 126
#define NUM_EXP_MIN (-129)
/* "-0." + 129 zeros + 38 digits + NUL is 171 bytes. */
#define NUM_TEXT_MAX 176

/* Digit positions (powers of ten) an accumulator must cover: the lowest
 * digit of a number with exp -129 and 38 digits sits at 10^-167; the highest
 * digit of exp 126 at 10^125; one more position takes a carry. */
#define ACC_POS_LO (NUM_EXP_MIN - RN_NUM_DIGITS_MAX)
#define ACC_POS_HI (NUM_EXP_MAX + 1)
#define ACC_LEN (ACC_POS_HI - ACC_POS_LO + 1)

#define KEY_NEG 0x01
#define KEY_ZERO 0x02
#define KEY_POS 0x03

/* Sets and maps up to this size are searched pairwise; larger ones are
 * sorted first, which keeps big sets from going quadratic. */
#define SMALL_COLLECTION 16

static const char msg_num_invalid[] =
    "The parameter cannot be converted to a numeric value";
static const char msg_num_digits[] =
    "Attempting to store more than 38 significant digits in a Number";
static const char msg_num_overflow[] =
    "Number overflow. Attempting to store a number with magnitude larger "
    "than supported range";
static const char msg_num_underflow[] =
    "Number underflow. Attempting to store a number with magnitude smaller "
    "than supported range";
static const char msg_payload[] = "Unexpected value type in payload";
static const char msg_invalid[] = "One or more parameter values were invalid: ";

static void msg_set(char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void msg_set(char *msg, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, RN_MSG_MAX, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- numbers */

static void num_zero(rn_num *r)
{
	memset(r, 0, sizeof(*r));
}

/* Checks what the arithmetic relies on to stay inside its buffers. */
static int num_sane(const rn_num *a)
{
	if (a->ndigits == 0)
		return 1;
	if (a->ndigits > RN_NUM_DIGITS_MAX || a->exp < NUM_EXP_MIN ||
	    a->exp > NUM_EXP_MAX)
		return 0;
	for (int i = 0; i < a->ndigits; i++)
		if (a->digits[i] > 9)
			return 0;
	return 1;
}

gt_err rn_num_parse(const char *s, size_t n, rn_num *out, int *underflow)
{
	rn_num r;
	size_t i = 0, k = 0, nint = 0, first = SIZE_MAX, last = 0;
	int seen_point = 0, eneg = 0;
	int64_t e = 0, exp;

	if (s == NULL)
		return GT_EINVAL;
	num_zero(&r);
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		r.neg = s[i] == '-';
		i++;
	}
	/* k counts every mantissa digit; digits are stored from the first
	 * non-zero one on, so leading zeros cost nothing. */
	for (; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9') {
			uint8_t d = (uint8_t)(c - '0');

			if (d != 0) {
				if (first == SIZE_MAX)
					first = k;
				last = k;
			}
			if (first != SIZE_MAX && k - first < RN_NUM_DIGITS_MAX)
				r.digits[k - first] = d;
			k++;
			if (!seen_point)
				nint++;
		} else if (c == '.' && !seen_point) {
			seen_point = 1;
		} else {
			break;
		}
	}
	if (k == 0)
		return GT_EINVAL;
	if (i < n) {
		if (s[i] != 'e' && s[i] != 'E')
			return GT_EINVAL;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			eneg = s[i] == '-';
			i++;
		}
		if (i == n)
			return GT_EINVAL;
		for (; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return GT_EINVAL;
			/* Saturate: anything this large is out of range
			 * anyway, and zero ignores its exponent. */
			if (e < 1000000000)
				e = e * 10 + (s[i] - '0');
		}
		if (eneg)
			e = -e;
	}
	if (first == SIZE_MAX) {
		num_zero(out);
		return GT_OK;
	}
	/* value = 0.D * 10^nint * 10^e; dropping `first` leading zeros of D
	 * moves the point right by that much. */
	exp = (int64_t)nint - (int64_t)first + e;
	if (exp > NUM_EXP_MAX || exp < NUM_EXP_MIN) {
		if (underflow)
			*underflow = exp < NUM_EXP_MIN;
		return GT_EOVERFLOW;
	}
	if (last - first + 1 > RN_NUM_DIGITS_MAX)
		return GT_ELIMIT;
	r.ndigits = (uint8_t)(last - first + 1);
	r.exp = (int16_t)exp;
	*out = r;
	return GT_OK;
}

const char *rn_num_strerror(gt_err err, int underflow)
{
	switch (err) {
	case GT_EINVAL:
		return msg_num_invalid;
	case GT_ELIMIT:
		return msg_num_digits;
	case GT_EOVERFLOW:
		return underflow ? msg_num_underflow : msg_num_overflow;
	default:
		return gt_strerror(err);
	}
}

/* Writes the canonical text of a into p (NUM_TEXT_MAX bytes), NUL
 * terminated, and returns its length.  Out-of-range fields are clamped so
 * that a corrupt rn_num cannot overrun p. */
static size_t num_text(const rn_num *a, char *p)
{
	size_t len = 0;
	int i, e = a->exp, nd = a->ndigits;

	if (nd > RN_NUM_DIGITS_MAX)
		nd = RN_NUM_DIGITS_MAX;
	e = GT_MAX(NUM_EXP_MIN, GT_MIN(NUM_EXP_MAX, e));
	if (nd == 0) {
		p[0] = '0';
		p[1] = '\0';
		return 1;
	}
	if (a->neg)
		p[len++] = '-';
	if (e <= 0) {
		p[len++] = '0';
		p[len++] = '.';
		for (i = 0; i < -e; i++)
			p[len++] = '0';
		for (i = 0; i < nd; i++)
			p[len++] = (char)('0' + a->digits[i] % 10);
	} else if (e < nd) {
		for (i = 0; i < e; i++)
			p[len++] = (char)('0' + a->digits[i] % 10);
		p[len++] = '.';
		for (; i < nd; i++)
			p[len++] = (char)('0' + a->digits[i] % 10);
	} else {
		for (i = 0; i < nd; i++)
			p[len++] = (char)('0' + a->digits[i] % 10);
		for (; i < e; i++)
			p[len++] = '0';
	}
	p[len] = '\0';
	return len;
}

void rn_num_format(const rn_num *a, gt_buf *out)
{
	char text[NUM_TEXT_MAX];
	size_t len = num_text(a, text);

	gt_buf_append(out, text, len);
}

static int num_sign(const rn_num *a)
{
	if (a->ndigits == 0)
		return 0;
	return a->neg ? -1 : 1;
}

/* Compares magnitudes of two non-zero numbers. */
static int num_cmp_abs(const rn_num *a, const rn_num *b)
{
	int n = GT_MIN(a->ndigits, b->ndigits);

	if (a->exp != b->exp)
		return a->exp < b->exp ? -1 : 1;
	for (int i = 0; i < n; i++)
		if (a->digits[i] != b->digits[i])
			return a->digits[i] < b->digits[i] ? -1 : 1;
	if (a->ndigits != b->ndigits)
		return a->ndigits < b->ndigits ? -1 : 1;
	return 0;
}

int rn_num_cmp(const rn_num *a, const rn_num *b)
{
	int sa = num_sign(a), sb = num_sign(b), c;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	c = num_cmp_abs(a, b);
	return sa < 0 ? -c : c;
}

/* Lays a's digits out in acc, where acc[i] is the digit at 10^(i + lo). */
static void num_spread(const rn_num *a, uint8_t *acc, int lo)
{
	for (int i = 0; i < a->ndigits; i++)
		acc[a->exp - 1 - i - lo] = a->digits[i];
}

static gt_err num_addsub(const rn_num *a, const rn_num *b, int bneg,
    rn_num *out, int *underflow)
{
	uint8_t xs[ACC_LEN], ys[ACC_LEN];
	uint8_t *x = xs, *y = ys;
	int lo, hi, len, i, top, bot, neg, carry = 0;
	rn_num r;

	if (!num_sane(a) || !num_sane(b))
		return GT_EINVAL;
	if (b->ndigits == 0) {
		*out = *a;
		if (a->ndigits == 0)
			num_zero(out);
		return GT_OK;
	}
	if (a->ndigits == 0) {
		*out = *b;
		out->neg = (uint8_t)(bneg != 0);
		return GT_OK;
	}
	lo = GT_MIN(a->exp - a->ndigits, b->exp - b->ndigits);
	hi = GT_MAX(a->exp, b->exp); /* a carry may land here */
	len = hi - lo + 1;
	memset(xs, 0, (size_t)len);
	memset(ys, 0, (size_t)len);
	num_spread(a, xs, lo);
	num_spread(b, ys, lo);
	if ((a->neg != 0) == (bneg != 0)) {
		neg = a->neg != 0;
		for (i = 0; i < len; i++) {
			int d = x[i] + y[i] + carry;

			carry = d >= 10;
			x[i] = (uint8_t)(carry ? d - 10 : d);
		}
	} else {
		int c = num_cmp_abs(a, b);

		if (c == 0) {
			num_zero(out);
			return GT_OK;
		}
		neg = c > 0 ? a->neg != 0 : bneg != 0;
		if (c < 0) {
			x = ys;
			y = xs;
		}
		for (i = 0; i < len; i++) {
			int d = x[i] - y[i] - carry;

			carry = d < 0;
			x[i] = (uint8_t)(carry ? d + 10 : d);
		}
	}
	for (top = len - 1; top >= 0 && x[top] == 0; top--)
		;
	for (bot = 0; bot < top && x[bot] == 0; bot++)
		;
	if (top < 0) {
		num_zero(out);
		return GT_OK;
	}
	num_zero(&r);
	r.neg = (uint8_t)neg;
	i = top + lo + 1; /* the exponent */
	if (i > NUM_EXP_MAX || i < NUM_EXP_MIN) {
		if (underflow)
			*underflow = i < NUM_EXP_MIN;
		return GT_EOVERFLOW;
	}
	if (top - bot + 1 > RN_NUM_DIGITS_MAX)
		return GT_ELIMIT;
	r.exp = (int16_t)i;
	r.ndigits = (uint8_t)(top - bot + 1);
	for (i = 0; i < r.ndigits; i++)
		r.digits[i] = x[top - i];
	*out = r;
	return GT_OK;
}

gt_err rn_num_add(const rn_num *a, const rn_num *b, rn_num *out, int *underflow)
{
	return num_addsub(a, b, b->neg != 0, out, underflow);
}

gt_err rn_num_sub(const rn_num *a, const rn_num *b, rn_num *out, int *underflow)
{
	return num_addsub(a, b, b->neg == 0, out, underflow);
}

size_t rn_num_size(const rn_num *a)
{
	return ((size_t)a->ndigits + 1) / 2 + 1;
}

void rn_num_from_i64(int64_t v, rn_num *out)
{
	uint8_t rev[20];
	uint64_t m;
	int n = 0, tz = 0;

	num_zero(out);
	if (v == 0)
		return;
	out->neg = v < 0;
	m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	while (m) {
		rev[n++] = (uint8_t)(m % 10);
		m /= 10;
	}
	out->exp = (int16_t)n;
	while (rev[tz] == 0)
		tz++;
	for (int i = n - 1; i >= tz; i--)
		out->digits[out->ndigits++] = rev[i];
}

gt_err rn_num_to_i64(const rn_num *a, int64_t *out)
{
	uint64_t m = 0;

	if (!num_sane(a))
		return GT_EINVAL;
	if (a->ndigits == 0 || a->exp <= 0) {
		*out = 0;
		return GT_OK;
	}
	if (a->exp > 19)
		return GT_EOVERFLOW;
	for (int i = 0; i < a->exp; i++) {
		unsigned d = i < a->ndigits ? a->digits[i] : 0;

		if (m > (UINT64_MAX - d) / 10)
			return GT_EOVERFLOW;
		m = m * 10 + d;
	}
	if (a->neg) {
		if (m > (uint64_t)INT64_MAX + 1)
			return GT_EOVERFLOW;
		*out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
	} else {
		if (m > (uint64_t)INT64_MAX)
			return GT_EOVERFLOW;
		*out = (int64_t)m;
	}
	return GT_OK;
}

size_t rn_num_key_encode(const rn_num *a, uint8_t out[RN_NUM_KEY_MAX])
{
	size_t len = 0;
	int nd = GT_MIN(a->ndigits, RN_NUM_DIGITS_MAX);
	uint8_t inv;

	if (nd == 0) {
		out[0] = KEY_ZERO;
		return 1;
	}
	inv = a->neg ? 0xFF : 0x00;
	out[len++] = a->neg ? KEY_NEG : KEY_POS;
	out[len++] = (uint8_t)((uint8_t)(a->exp - NUM_EXP_MIN) ^ inv);
	for (int i = 0; i < nd; i += 2) {
		unsigned v = a->digits[i] * 10u +
		    (i + 1 < nd ? a->digits[i + 1] : 0u);
		unsigned b = 2 * v + (i + 2 < nd ? 1u : 0u);

		out[len++] = (uint8_t)((uint8_t)b ^ inv);
	}
	return len;
}

size_t rn_num_key_decode(const uint8_t *p, size_t n, rn_num *out)
{
	rn_num r;
	uint8_t inv;
	size_t i;
	int nd = 0;

	if (p == NULL || n < 1)
		return 0;
	if (p[0] == KEY_ZERO) {
		num_zero(out);
		return 1;
	}
	if ((p[0] != KEY_NEG && p[0] != KEY_POS) || n < 3)
		return 0;
	num_zero(&r);
	r.neg = p[0] == KEY_NEG;
	inv = r.neg ? 0xFF : 0x00;
	r.exp = (int16_t)((p[1] ^ inv) + NUM_EXP_MIN);
	for (i = 2;; i++) {
		unsigned b, v;

		if (i >= n || nd > RN_NUM_DIGITS_MAX - 2)
			return 0;
		b = (unsigned)(p[i] ^ inv);
		v = b >> 1;
		if (v > 99)
			return 0;
		r.digits[nd++] = (uint8_t)(v / 10);
		if ((b & 1) == 0) {
			/* The last pair: a 0 second digit is padding. */
			if (v % 10 != 0)
				r.digits[nd++] = (uint8_t)(v % 10);
			break;
		}
		r.digits[nd++] = (uint8_t)(v % 10);
	}
	/* Only the canonical encoding is accepted, so that a decoded key
	 * re-encodes to the same bytes. */
	if (r.digits[0] == 0 || r.digits[nd - 1] == 0)
		return 0;
	r.ndigits = (uint8_t)nd;
	*out = r;
	return i + 1;
}

/* Counts significant digits of number text (canonical or not) and returns
 * DynamoDB's size for it, without a full parse. */
static size_t num_text_size(const char *s)
{
	size_t k = 0, first = SIZE_MAX, last = 0;

	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (*s != '0') {
			if (first == SIZE_MAX)
				first = k;
			last = k;
		}
		k++;
	}
	if (first == SIZE_MAX)
		return 1;
	return (last - first + 2) / 2 + 1;
}

/* ------------------------------------------------------------------ base64 */

static const int8_t b64_rank[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* The 6-bit value of a base64 character, or -1. */
static int b64_val(char c)
{
	return b64_rank[(unsigned char)c] - 1;
}

/*
 * Decodes one 4-character group into o and returns the byte count (1..3),
 * or -1 when the group is malformed.  The rules match gt_base64_decode:
 * padding only in the last group and with zero unused bits.
 */
static int b64_group(const char *s, int last, uint8_t o[3])
{
	int a = b64_val(s[0]), b = b64_val(s[1]);
	int c = s[2] == '=' ? -2 : b64_val(s[2]);
	int d = s[3] == '=' ? -2 : b64_val(s[3]);

	if (a < 0 || b < 0 || c == -1 || d == -1)
		return -1;
	if (!last && (c < 0 || d < 0))
		return -1;
	if (c == -2 && d != -2)
		return -1;
	o[0] = (uint8_t)((a << 2) | (b >> 4));
	if (c == -2)
		return (b & 15) ? -1 : 1;
	o[1] = (uint8_t)(((b & 15) << 4) | (c >> 2));
	if (d == -2)
		return (c & 3) ? -1 : 2;
	o[2] = (uint8_t)(((c & 3) << 6) | d);
	return 3;
}

/* Checks base64 text; on failure writes DynamoDB's message to msg. */
static int b64_check(const char *s, char *msg)
{
	size_t n = strlen(s);
	uint8_t o[3];

	if (n % 4 != 0) {
		msg_set(msg, "Base64 encoded length is expected a multiple "
		    "of 4 bytes but found: %zu", n);
		return 0;
	}
	for (size_t i = 0; i < n; i += 4) {
		if (b64_group(s + i, i + 4 == n, o) < 0) {
			msg_set(msg, "Invalid Base64 character or padding in "
			    "binary value");
			return 0;
		}
	}
	return 1;
}

/* Decoded length of valid base64 text. */
static size_t b64_len(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n < 4)
		return 0;
	pad = (size_t)(s[n - 1] == '=') + (size_t)(s[n - 2] == '=');
	return n / 4 * 3 - pad;
}

/*
 * Orders two valid base64 texts by their decoded bytes without decoding:
 * comparing 6-bit groups compares the bit strings, and taking '=' and the
 * end as lower than any group makes a shorter prefix sort first (the unused
 * bits of a padded group are zero, so they never sort above real bits).
 */
static int b64_cmp(const char *a, const char *b)
{
	for (size_t i = 0;; i++) {
		int x = a[i] == '\0' || a[i] == '=' ? -1 : b64_val(a[i]);
		int y = b[i] == '\0' || b[i] == '=' ? -1 : b64_val(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
		if (a[i] == '\0' || b[i] == '\0')
			return 0;
	}
}

/* ------------------------------------------------------ attribute values */

static const char *const av_names[] = {
	[RN_AV_NONE] = "NONE", [RN_AV_S] = "S", [RN_AV_N] = "N",
	[RN_AV_B] = "B", [RN_AV_BOOL] = "BOOL", [RN_AV_NULL] = "NULL",
	[RN_AV_SS] = "SS", [RN_AV_NS] = "NS", [RN_AV_BS] = "BS",
	[RN_AV_M] = "M", [RN_AV_L] = "L",
};

const char *rn_av_type_name(rn_av_type t)
{
	if ((unsigned)t >= GT_ARRAY_LEN(av_names))
		return av_names[RN_AV_NONE];
	return av_names[t];
}

rn_av_type rn_av_type_parse(const char *name)
{
	if (name == NULL)
		return RN_AV_NONE;
	switch (name[0]) {
	case 'S':
		if (name[1] == '\0')
			return RN_AV_S;
		if (name[1] == 'S' && name[2] == '\0')
			return RN_AV_SS;
		break;
	case 'N':
		if (name[1] == '\0')
			return RN_AV_N;
		if (name[1] == 'S' && name[2] == '\0')
			return RN_AV_NS;
		if (strcmp(name, "NULL") == 0)
			return RN_AV_NULL;
		break;
	case 'B':
		if (name[1] == '\0')
			return RN_AV_B;
		if (name[1] == 'S' && name[2] == '\0')
			return RN_AV_BS;
		if (strcmp(name, "BOOL") == 0)
			return RN_AV_BOOL;
		break;
	case 'M':
		if (name[1] == '\0')
			return RN_AV_M;
		break;
	case 'L':
		if (name[1] == '\0')
			return RN_AV_L;
		break;
	default:
		break;
	}
	return RN_AV_NONE;
}

rn_av_type rn_av_type_of(const cJSON *av, const cJSON **payload)
{
	const cJSON *c;
	rn_av_type t;

	if (!cJSON_IsObject(av) || av->child == NULL || av->child->next)
		return RN_AV_NONE;
	c = av->child;
	t = rn_av_type_parse(c->string);
	if (t != RN_AV_NONE && payload)
		*payload = c;
	return t;
}

static int is_str(const cJSON *c)
{
	return cJSON_IsString(c) && c->valuestring != NULL;
}

/* Shape pass (design note 3): JSON types and base64 only. */
static gt_err av_shape(const cJSON *av, int depth, char *msg)
{
	const cJSON *c, *m;
	gt_err err;

	if (!cJSON_IsObject(av))
		goto bad;
	for (c = av->child; c; c = c->next) {
		rn_av_type t = rn_av_type_parse(c->string);

		if (t == RN_AV_NONE || cJSON_IsNull(c))
			continue;
		switch (t) {
		case RN_AV_S:
		case RN_AV_N:
			if (!is_str(c))
				goto bad;
			break;
		case RN_AV_B:
			if (!is_str(c))
				goto bad;
			if (!b64_check(c->valuestring, msg))
				return GT_ECORRUPT;
			break;
		case RN_AV_BOOL:
		case RN_AV_NULL:
			if (!cJSON_IsBool(c))
				goto bad;
			break;
		case RN_AV_SS:
		case RN_AV_NS:
		case RN_AV_BS:
			if (!cJSON_IsArray(c))
				goto bad;
			cJSON_ArrayForEach(m, c) {
				if (!is_str(m))
					goto bad;
				if (t == RN_AV_BS &&
				    !b64_check(m->valuestring, msg))
					return GT_ECORRUPT;
			}
			break;
		case RN_AV_M:
		case RN_AV_L:
			if (t == RN_AV_M ? !cJSON_IsObject(c) :
			    !cJSON_IsArray(c))
				goto bad;
			/* Deeper levels fail validation anyway. */
			if (depth >= RN_AV_DEPTH_MAX)
				break;
			cJSON_ArrayForEach(m, c) {
				err = av_shape(m, depth + 1, msg);
				if (err != GT_OK)
					return err;
			}
			break;
		case RN_AV_NONE:
			break;
		}
	}
	return GT_OK;
bad:
	msg_set(msg, "%s", msg_payload);
	return GT_ECORRUPT;
}

/* Replaces a string payload's text, keeping the node (and its name). */
static gt_err str_replace(cJSON *item, const char *text, size_t len)
{
	if (item->type & cJSON_IsReference) {
		char *copy = cJSON_malloc(len + 1);

		if (copy == NULL)
			return GT_ENOMEM;
		memcpy(copy, text, len + 1);
		item->valuestring = copy;
		item->type &= ~cJSON_IsReference;
		return GT_OK;
	}
	return cJSON_SetValuestring(item, text) ? GT_OK : GT_ENOMEM;
}

/* Parses and canonicalises one N text in place. */
static gt_err num_canon(cJSON *item, char *msg)
{
	const char *s = item->valuestring;
	size_t n = strlen(s), len;
	char text[NUM_TEXT_MAX];
	int under = 0;
	rn_num v;
	gt_err err;

	err = rn_num_parse(s, n, &v, &under);
	if (err == GT_EINVAL && n > 0) {
		msg_set(msg, "%s: %.200s", msg_num_invalid, s);
		return GT_EINVAL;
	}
	if (err != GT_OK) {
		msg_set(msg, "%s", rn_num_strerror(err, under));
		return GT_EINVAL;
	}
	len = num_text(&v, text);
	if (len == n && memcmp(text, s, n) == 0)
		return GT_OK;
	return str_replace(item, text, len);
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sets *dup when two members of the string array are equal. */
static gt_err set_find_dup(const cJSON *arr, int n, int *dup)
{
	const cJSON *a, *b;
	const char **v;
	int i = 0;

	*dup = 0;
	if (n <= SMALL_COLLECTION) {
		for (a = arr->child; a; a = a->next)
			for (b = a->next; b; b = b->next)
				if (strcmp(a->valuestring, b->valuestring) == 0)
					*dup = 1;
		return GT_OK;
	}
	v = malloc((size_t)n * sizeof(*v));
	if (v == NULL)
		return GT_ENOMEM;
	cJSON_ArrayForEach(a, arr)
		v[i++] = a->valuestring;
	qsort(v, (size_t)n, sizeof(*v), cmp_str_ptr);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			*dup = 1;
	free(v);
	return GT_OK;
}

/* DynamoDB's duplicate message lists the whole collection; a long list is
 * cut short with "..." so the message still ends as DynamoDB's does. */
static void msg_dups(char *msg, const cJSON *arr)
{
	static const char tail[] = "] contains duplicates.";
	const cJSON *m;
	size_t len, room;
	int first = 1;

	if (msg == NULL)
		return;
	len = (size_t)snprintf(msg, RN_MSG_MAX, "%sInput collection [",
	    msg_invalid);
	room = RN_MSG_MAX - sizeof(tail) - 4;
	cJSON_ArrayForEach(m, arr) {
		size_t sl = strlen(m->valuestring) + (first ? 0 : 2);

		if (len + sl > room) {
			memcpy(msg + len, "...", 3);
			len += 3;
			break;
		}
		if (!first) {
			memcpy(msg + len, ", ", 2);
			len += 2;
		}
		memcpy(msg + len, m->valuestring, sl - (first ? 0 : 2));
		len += sl - (first ? 0 : 2);
		first = 0;
	}
	memcpy(msg + len, tail, sizeof(tail));
}

/* Validation pass (design note 3).  The shape pass has run. */
static gt_err av_check(cJSON *av, int depth, char *msg)
{
	cJSON *c, *next, *p = NULL, *m;
	rn_av_type t = RN_AV_NONE;
	int count = 0, n, dup;
	gt_err err;

	for (c = av->child; c; c = next) {
		rn_av_type ct = rn_av_type_parse(c->string);

		next = c->next;
		if (ct == RN_AV_NONE || cJSON_IsNull(c)) {
			cJSON_Delete(cJSON_DetachItemViaPointer(av, c));
			continue;
		}
		count++;
		t = ct;
		p = c;
	}
	if (count == 0) {
		msg_set(msg, "Supplied AttributeValue is empty, must contain "
		    "exactly one of the supported datatypes");
		return GT_EINVAL;
	}
	if (count > 1) {
		msg_set(msg, "Supplied AttributeValue has more than one "
		    "datatypes set, must contain exactly one of the supported "
		    "datatypes");
		return GT_EINVAL;
	}
	switch (t) {
	case RN_AV_N:
		return num_canon(p, msg);
	case RN_AV_NULL:
		if (!cJSON_IsTrue(p)) {
			msg_set(msg, "%sNull attribute value types must have "
			    "the value of true", msg_invalid);
			return GT_EINVAL;
		}
		return GT_OK;
	case RN_AV_SS:
	case RN_AV_NS:
	case RN_AV_BS:
		n = cJSON_GetArraySize(p);
		if (n == 0) {
			if (t == RN_AV_BS)
				msg_set(msg, "%sBinary sets should not be "
				    "empty", msg_invalid);
			else
				msg_set(msg, "%sAn %s set  may not be empty",
				    msg_invalid,
				    t == RN_AV_SS ? "string" : "number");
			return GT_EINVAL;
		}
		if (t == RN_AV_NS) {
			cJSON_ArrayForEach(m, p) {
				err = num_canon(m, msg);
				if (err != GT_OK)
					return err;
			}
		}
		err = set_find_dup(p, n, &dup);
		if (err != GT_OK)
			return err;
		if (dup) {
			msg_dups(msg, p);
			return GT_EINVAL;
		}
		return GT_OK;
	case RN_AV_M:
	case RN_AV_L:
		if (depth >= RN_AV_DEPTH_MAX) {
			msg_set(msg, "Nesting Levels have exceeded supported "
			    "limits");
			return GT_EINVAL;
		}
		cJSON_ArrayForEach(m, p) {
			err = av_check(m, depth + 1, msg);
			if (err != GT_OK)
				return err;
		}
		return GT_OK;
	case RN_AV_S:
	case RN_AV_B:
	case RN_AV_BOOL:
	case RN_AV_NONE:
		break;
	}
	return GT_OK;
}

gt_err rn_av_validate(cJSON *av, int depth, char msg[RN_MSG_MAX])
{
	gt_err err;

	if (depth < 0)
		depth = 0;
	err = av_shape(av, depth, msg);
	if (err != GT_OK)
		return err;
	return av_check(av, depth, msg);
}

gt_err rn_item_validate(cJSON *item, char msg[RN_MSG_MAX])
{
	cJSON *a;
	gt_err err;

	if (!cJSON_IsObject(item)) {
		msg_set(msg, "%s", msg_payload);
		return GT_ECORRUPT;
	}
	cJSON_ArrayForEach(a, item) {
		err = av_shape(a, 0, msg);
		if (err != GT_OK)
			return err;
	}
	cJSON_ArrayForEach(a, item) {
		err = av_check(a, 0, msg);
		if (err != GT_OK)
			return err;
	}
	return GT_OK;
}

size_t rn_av_size(const cJSON *av)
{
	const cJSON *p = NULL, *m;
	size_t size = 0;
	rn_av_type t = rn_av_type_of(av, &p);

	switch (t) {
	case RN_AV_S:
		return is_str(p) ? strlen(p->valuestring) : 0;
	case RN_AV_N:
		return is_str(p) ? num_text_size(p->valuestring) : 0;
	case RN_AV_B:
		return is_str(p) ? b64_len(p->valuestring) : 0;
	case RN_AV_BOOL:
	case RN_AV_NULL:
		return 1;
	case RN_AV_SS:
	case RN_AV_NS:
	case RN_AV_BS:
		cJSON_ArrayForEach(m, p) {
			if (!is_str(m))
				continue;
			if (t == RN_AV_SS)
				size += strlen(m->valuestring);
			else if (t == RN_AV_NS)
				size += num_text_size(m->valuestring);
			else
				size += b64_len(m->valuestring);
		}
		return size;
	case RN_AV_M:
		size = 3;
		cJSON_ArrayForEach(m, p)
			size += (m->string ? strlen(m->string) : 0) +
			    rn_av_size(m) + 1;
		return size;
	case RN_AV_L:
		size = 3;
		cJSON_ArrayForEach(m, p)
			size += rn_av_size(m) + 1;
		return size;
	case RN_AV_NONE:
		break;
	}
	return 0;
}

size_t rn_item_size(const cJSON *item)
{
	const cJSON *a;
	size_t size = 0;

	if (!cJSON_IsObject(item))
		return 0;
	cJSON_ArrayForEach(a, item)
		size += (a->string ? strlen(a->string) : 0) + rn_av_size(a);
	return size;
}

/* Numeric equality of two N texts; canonical texts compare as strings. */
static int num_text_equal(const char *a, const char *b)
{
	rn_num x, y;

	if (strcmp(a, b) == 0)
		return 1;
	if (rn_num_parse(a, strlen(a), &x, NULL) != GT_OK ||
	    rn_num_parse(b, strlen(b), &y, NULL) != GT_OK)
		return 0;
	return rn_num_cmp(&x, &y) == 0;
}

static int cmp_name_ptr(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static int cmp_valstr_ptr(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	return strcmp(x->valuestring, y->valuestring);
}

/*
 * Sorts the children of a and b (same count n) into one array (a's first,
 * then b's) with cmp.  Returns NULL when out of memory.
 */
static const cJSON **children_sorted(const cJSON *a, const cJSON *b, int n,
    int (*cmp)(const void *, const void *))
{
	const cJSON **v = malloc(2 * (size_t)n * sizeof(*v));
	const cJSON *c;
	int i = 0;

	if (v == NULL)
		return NULL;
	cJSON_ArrayForEach(c, a)
		v[i++] = c;
	cJSON_ArrayForEach(c, b)
		v[i++] = c;
	qsort(v, (size_t)n, sizeof(*v), cmp);
	qsort(v + n, (size_t)n, sizeof(*v), cmp);
	return v;
}

static int set_equal(const cJSON *a, const cJSON *b)
{
	int n = cJSON_GetArraySize(a), eq = 1;
	const cJSON *x, *y, **v;

	if (n != cJSON_GetArraySize(b))
		return 0;
	cJSON_ArrayForEach(x, a)
		if (!is_str(x))
			return 0;
	cJSON_ArrayForEach(y, b)
		if (!is_str(y))
			return 0;
	if (n <= SMALL_COLLECTION) {
		/* Valid sets hold no duplicates, so equal sizes and a ⊆ b
		 * mean equality. */
		cJSON_ArrayForEach(x, a) {
			int found = 0;

			cJSON_ArrayForEach(y, b)
				if (strcmp(x->valuestring, y->valuestring) == 0)
					found = 1;
			if (!found)
				return 0;
		}
		return 1;
	}
	v = children_sorted(a, b, n, cmp_valstr_ptr);
	if (v == NULL)
		return 0;
	for (int i = 0; i < n && eq; i++)
		eq = strcmp(v[i]->valuestring, v[n + i]->valuestring) == 0;
	free(v);
	return eq;
}

static int map_equal(const cJSON *a, const cJSON *b)
{
	int n = cJSON_GetArraySize(a), eq = 1;
	const cJSON *x, **v;

	if (n != cJSON_GetArraySize(b))
		return 0;
	if (n <= SMALL_COLLECTION) {
		cJSON_ArrayForEach(x, a) {
			const cJSON *y = x->string ?
			    cJSON_GetObjectItemCaseSensitive(b, x->string) :
			    NULL;

			if (y == NULL || !rn_av_equal(x, y))
				return 0;
		}
		return 1;
	}
	v = children_sorted(a, b, n, cmp_name_ptr);
	if (v == NULL)
		return 0;
	for (int i = 0; i < n && eq; i++)
		eq = cmp_name_ptr(&v[i], &v[n + i]) == 0 &&
		    rn_av_equal(v[i], v[n + i]);
	free(v);
	return eq;
}

int rn_av_equal(const cJSON *a, const cJSON *b)
{
	const cJSON *pa = NULL, *pb = NULL, *x, *y;
	rn_av_type t = rn_av_type_of(a, &pa);

	if (t == RN_AV_NONE || rn_av_type_of(b, &pb) != t)
		return 0;
	switch (t) {
	case RN_AV_S:
	case RN_AV_B:
		return is_str(pa) && is_str(pb) &&
		    strcmp(pa->valuestring, pb->valuestring) == 0;
	case RN_AV_N:
		return is_str(pa) && is_str(pb) &&
		    num_text_equal(pa->valuestring, pb->valuestring);
	case RN_AV_BOOL:
		return cJSON_IsTrue(pa) == cJSON_IsTrue(pb);
	case RN_AV_NULL:
		return 1;
	case RN_AV_SS:
	case RN_AV_NS:
	case RN_AV_BS:
		return set_equal(pa, pb);
	case RN_AV_M:
		return cJSON_IsObject(pa) && cJSON_IsObject(pb) &&
		    map_equal(pa, pb);
	case RN_AV_L:
		if (!cJSON_IsArray(pa) || !cJSON_IsArray(pb))
			return 0;
		for (x = pa->child, y = pb->child; x && y;
		    x = x->next, y = y->next)
			if (!rn_av_equal(x, y))
				return 0;
		return x == NULL && y == NULL;
	case RN_AV_NONE:
		break;
	}
	return 0;
}

int rn_av_compare(const cJSON *a, const cJSON *b)
{
	const cJSON *pa = NULL, *pb = NULL;
	rn_av_type t = rn_av_type_of(a, &pa);
	rn_num x, y;
	int c;

	if (rn_av_type_of(b, &pb) != t ||
	    (t != RN_AV_S && t != RN_AV_N && t != RN_AV_B))
		return 2;
	if (!is_str(pa) || !is_str(pb))
		return 2;
	switch (t) {
	case RN_AV_S:
		/* strcmp compares as unsigned char: UTF-8 byte order. */
		c = strcmp(pa->valuestring, pb->valuestring);
		return (c > 0) - (c < 0);
	case RN_AV_B:
		return b64_cmp(pa->valuestring, pb->valuestring);
	default:
		if (rn_num_parse(pa->valuestring, strlen(pa->valuestring), &x,
		    NULL) != GT_OK ||
		    rn_num_parse(pb->valuestring, strlen(pb->valuestring), &y,
		    NULL) != GT_OK)
			return 2;
		return rn_num_cmp(&x, &y);
	}
}

/* ------------------------------------------------------------ key encoding */

/* Appends p with 0x00 escaped as 0x00 0xFF (design note 5). */
static void key_put_escaped(gt_buf *out, const uint8_t *p, size_t n)
{
	while (n > 0) {
		const uint8_t *z = memchr(p, 0, n);
		size_t run = z ? (size_t)(z - p) : n;

		gt_buf_append(out, p, run);
		if (z == NULL)
			break;
		gt_buf_append(out, "\0\xff", 2);
		p += run + 1;
		n -= run + 1;
	}
}

/* Decodes valid base64 and appends it escaped, a chunk at a time. */
static int key_put_b64(gt_buf *out, const char *s)
{
	uint8_t chunk[384];
	size_t n = strlen(s), fill = 0;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int k = b64_group(s + i, i + 4 == n, chunk + fill);

		if (k < 0)
			return -1;
		fill += (size_t)k;
		if (fill + 3 > sizeof(chunk)) {
			key_put_escaped(out, chunk, fill);
			fill = 0;
		}
	}
	key_put_escaped(out, chunk, fill);
	return 0;
}

gt_err rn_key_encode_attr(const cJSON *av, rn_av_type t, const char *name,
    gt_buf *out, char msg[RN_MSG_MAX])
{
	const cJSON *p = NULL;
	rn_av_type at = rn_av_type_of(av, &p);
	size_t len0 = out->len;
	int oom0 = out->oom;
	uint8_t key[RN_NUM_KEY_MAX];
	rn_num v;
	int under = 0;
	gt_err err;

	if (name == NULL)
		name = "";
	if (t != RN_AV_S && t != RN_AV_N && t != RN_AV_B) {
		msg_set(msg, "%sInvalid key type %s for key %s", msg_invalid,
		    rn_av_type_name(t), name);
		return GT_EINVAL;
	}
	if (at != t) {
		msg_set(msg, "%sType mismatch for key %s expected: %s "
		    "actual: %s", msg_invalid, name, rn_av_type_name(t),
		    rn_av_type_name(at));
		return GT_EINVAL;
	}
	if (!is_str(p)) {
		msg_set(msg, "%s", msg_payload);
		return GT_EINVAL;
	}
	if ((t == RN_AV_S || t == RN_AV_B) && p->valuestring[0] == '\0') {
		msg_set(msg, "One or more parameter values are not valid. "
		    "The AttributeValue for a key attribute cannot contain an "
		    "empty %s value. Key: %s",
		    t == RN_AV_S ? "string" : "binary", name);
		return GT_EINVAL;
	}
	switch (t) {
	case RN_AV_S:
		key_put_escaped(out, (const uint8_t *)p->valuestring,
		    strlen(p->valuestring));
		gt_buf_append(out, "\0\x01", 2);
		break;
	case RN_AV_B:
		if (key_put_b64(out, p->valuestring) != 0) {
			err = GT_EINVAL;
			msg_set(msg, "Invalid Base64 binary value for key %s",
			    name);
			goto fail;
		}
		gt_buf_append(out, "\0\x01", 2);
		break;
	default:
		err = rn_num_parse(p->valuestring, strlen(p->valuestring), &v,
		    &under);
		if (err != GT_OK) {
			msg_set(msg, "%s", rn_num_strerror(err, under));
			err = GT_EINVAL;
			goto fail;
		}
		gt_buf_append(out, key, rn_num_key_encode(&v, key));
		break;
	}
	if (gt_buf_ok(out))
		return GT_OK;
	err = GT_ENOMEM;
fail:
	/* Leave the buffer as it was. */
	out->len = len0;
	out->oom = oom0;
	if (out->data)
		out->data[len0] = '\0';
	return err;
}

/* Finds the terminator of an S/B encoding: sets *end (raw end) and returns
 * the bytes used, or 0 when malformed.  *nuls counts escaped NULs. */
static size_t key_scan(const uint8_t *p, size_t n, size_t *end, int *nuls)
{
	size_t i = 0;

	*nuls = 0;
	while (i < n) {
		const uint8_t *z = memchr(p + i, 0, n - i);

		if (z == NULL)
			return 0;
		i = (size_t)(z - p);
		if (i + 1 >= n)
			return 0;
		if (p[i + 1] == 0x01) {
			*end = i;
			return i + 2;
		}
		if (p[i + 1] != 0xFF)
			return 0;
		(*nuls)++;
		i += 2;
	}
	return 0;
}

size_t rn_key_attr_len(const uint8_t *p, size_t n, rn_av_type t)
{
	rn_num v;
	size_t end, used;
	int nuls;

	if (p == NULL)
		return 0;
	if (t == RN_AV_N)
		return rn_num_key_decode(p, n, &v);
	if (t != RN_AV_S && t != RN_AV_B)
		return 0;
	used = key_scan(p, n, &end, &nuls);
	if (t == RN_AV_S && nuls > 0)
		return 0;
	return used;
}

size_t rn_key_decode_attr(const uint8_t *p, size_t n, rn_av_type t,
    cJSON **out)
{
	gt_buf raw = GT_BUF_INIT, txt = GT_BUF_INIT;
	cJSON *av = NULL;
	size_t i, used = 0, end = 0;
	int nuls = 0;
	rn_num v;

	if (p == NULL)
		return 0;
	if (t == RN_AV_N) {
		used = rn_num_key_decode(p, n, &v);
		if (used == 0)
			return 0;
		rn_num_format(&v, &txt);
		goto build;
	}
	if (t != RN_AV_S && t != RN_AV_B)
		return 0;
	used = key_scan(p, n, &end, &nuls);
	if (used == 0)
		return 0;
	/* A JSON string cannot carry a NUL through cJSON, so an S key never
	 * holds one; treat it as damage. */
	if (t == RN_AV_S && nuls > 0)
		return 0;
	if (gt_buf_reserve(&raw, end) != 0)
		goto out;
	for (i = 0; i < end; i++) {
		gt_buf_append(&raw, p + i, 1);
		if (p[i] == 0)
			i++;
	}
	if (t == RN_AV_S)
		gt_buf_append(&txt, raw.data ? raw.data : "", raw.len);
	else
		gt_base64_encode(&txt, (const uint8_t *)raw.data, raw.len);
	gt_buf_putc(&txt, '\0'); /* make data non-NULL even when empty */
build:
	if (!gt_buf_ok(&txt))
		goto out;
	av = cJSON_CreateObject();
	if (av == NULL || cJSON_AddStringToObject(av, rn_av_type_name(t),
	    txt.data ? txt.data : "") == NULL) {
		cJSON_Delete(av);
		av = NULL;
		goto out;
	}
	*out = av;
out:
	gt_buf_free(&raw);
	gt_buf_free(&txt);
	return av ? used : 0;
}
