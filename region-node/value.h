/*
 * value.h — DynamoDB attribute values: exact decimal numbers, validation and
 * canonical form of wire-format values, item sizes, comparison, and the
 * order-preserving key encoding used for LMDB keys.
 *
 * Representation.  An attribute value is a cJSON object in DynamoDB's wire
 * form with exactly one member naming its type:
 *   {"S":"text"} {"N":"12.5"} {"B":"<base64>"} {"BOOL":true} {"NULL":true}
 *   {"SS":["a","b"]} {"NS":["1","2"]} {"BS":["<b64>",...]}
 *   {"M":{"name":<value>,...}} {"L":[<value>,...]}
 * Numbers are always cJSON *strings* (never doubles).  An item is a cJSON
 * object mapping attribute names to values.
 *
 * Prefixes: rn_num_ (numbers), rn_av_ (attribute values), rn_key_ (key
 * encoding).  No function here keeps a pointer to its arguments.
 */
#ifndef RN_VALUE_H
#define RN_VALUE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "gt.h"

/* ---------------------------------------------------------------- numbers */

/*
 * rn_num is an exact decimal: value = (-1)^neg * 0.d1d2...dn * 10^exp, with
 * digits[0] != 0 unless the number is zero (ndigits == 0).  At most 38
 * significant digits, no trailing zero digits.  DynamoDB's range: magnitude
 * from 1E-130 to 9.9999999999999999999999999999999999999E+125.
 */
#define RN_NUM_DIGITS_MAX 38

typedef struct rn_num {
	uint8_t neg;                       /* 1 when negative; 0 for zero */
	uint8_t ndigits;                   /* 0 means the value zero */
	int16_t exp;                       /* see above */
	uint8_t digits[RN_NUM_DIGITS_MAX]; /* each 0..9 */
} rn_num;

/*
 * Parses DynamoDB number text (optional sign, digits, optional fraction,
 * optional exponent; leading/trailing zeros allowed).  Errors:
 *   GT_EINVAL    not a number (message: "The parameter cannot be converted
 *                to a numeric value")
 *   GT_ELIMIT    more than 38 significant digits ("Attempting to store more
 *                than 38 significant digits in a Number")
 *   GT_EOVERFLOW magnitude too large ("Number overflow. Attempting to store
 *                a number with magnitude larger than supported range") or
 *                too small, non-zero ("Number underflow. Attempting to store
 *                a number with magnitude smaller than supported range")
 * *underflow is set to 1 when GT_EOVERFLOW means underflow (may be NULL).
 */
gt_err rn_num_parse(const char *s, size_t n, rn_num *out, int *underflow);

/* DynamoDB's message text for an rn_num_parse/add/sub error (static).  For
 * GT_EINVAL DynamoDB appends ": " and the offending text. */
const char *rn_num_strerror(gt_err err, int underflow);

/* Conversions for integer attributes (counters, TTL epochs).  to_i64
 * truncates toward zero; GT_EOVERFLOW outside int64_t, GT_EINVAL for a
 * malformed rn_num. */
void rn_num_from_i64(int64_t v, rn_num *out);
gt_err rn_num_to_i64(const rn_num *a, int64_t *out);

/* Canonical text: shortest exact form, no exponent ("1.1", "-0.001", "1E+5"
 * is written "100000"), as DynamoDB returns numbers. */
void rn_num_format(const rn_num *a, gt_buf *out);

/* -1, 0 or 1. */
int rn_num_cmp(const rn_num *a, const rn_num *b);

/* Exact a+b and a-b; GT_EOVERFLOW/GT_ELIMIT as for parse when the result
 * does not fit (DynamoDB rounds nothing: a result needing more than 38
 * digits is an error). */
gt_err rn_num_add(const rn_num *a, const rn_num *b, rn_num *out, int *underflow);
gt_err rn_num_sub(const rn_num *a, const rn_num *b, rn_num *out, int *underflow);

/* DynamoDB's size of a number in bytes: (significant digits + 1) / 2 + 1. */
size_t rn_num_size(const rn_num *a);

/*
 * Order-preserving, self-delimiting binary encoding: memcmp of two encodings
 * orders like rn_num_cmp, and equal numbers ("1.10", "1.1") encode equal.
 * At most RN_NUM_KEY_MAX bytes.
 */
#define RN_NUM_KEY_MAX 24
size_t rn_num_key_encode(const rn_num *a, uint8_t out[RN_NUM_KEY_MAX]);
/* Decodes one encoding from the front of p; returns bytes consumed, 0 on
 * malformed input. */
size_t rn_num_key_decode(const uint8_t *p, size_t n, rn_num *out);

/* ------------------------------------------------------ attribute values */

typedef enum rn_av_type {
	RN_AV_NONE = 0, /* not a valid value */
	RN_AV_S, RN_AV_N, RN_AV_B, RN_AV_BOOL, RN_AV_NULL,
	RN_AV_SS, RN_AV_NS, RN_AV_BS, RN_AV_M, RN_AV_L
} rn_av_type;

/* The type of a (valid) wire value and its payload member (borrowed). */
rn_av_type rn_av_type_of(const cJSON *av, const cJSON **payload);
/* "S", "N", ... */
const char *rn_av_type_name(rn_av_type t);
rn_av_type rn_av_type_parse(const char *name);

/*
 * Validation errors carry DynamoDB's message.  msg is a caller-provided
 * buffer (at least RN_MSG_MAX bytes) that receives the message text.
 */
#define RN_MSG_MAX 512

/* The deepest M/L nesting DynamoDB accepts: an M or L found at depth 32
 * (the 33rd level) is rejected. */
#define RN_AV_DEPTH_MAX 32

/*
 * Validates a wire value in place and rewrites it to canonical form:
 * numbers (N, and NS members) to canonical text; B/BS kept as given base64
 * after checking it decodes.  Enforces: exactly one type member; strings
 * are strings; sets non-empty with no duplicates (numerically for NS, so
 * ["1","1.0"] is a duplicate); nesting depth at most 32 (M and L levels);
 * NULL must be true.  depth is the current nesting level (0 at top).
 * Members with an unknown type name or a JSON null payload are removed
 * (DynamoDB's deserialiser ignores them), so {"X":"1"} is an empty value.
 * Empty S and B are allowed, also inside sets.
 * Returns GT_OK, GT_EINVAL (msg set: DynamoDB's ValidationException text,
 * e.g. "One or more parameter values were invalid: An number set  may not
 * be empty"), GT_ECORRUPT (msg set: a payload of the wrong JSON type, e.g.
 * {"S":5}, or bad base64 — DynamoDB's SerializationException; checked for
 * the whole value before any validation), or GT_ENOMEM.
 */
gt_err rn_av_validate(cJSON *av, int depth, char msg[RN_MSG_MAX]);

/* Validates every attribute of an item (see rn_av_validate); GT_ECORRUPT
 * also when item is not a JSON object. */
gt_err rn_item_validate(cJSON *item, char msg[RN_MSG_MAX]);

/* DynamoDB's item size: sum over attributes of UTF-8 name length + value
 * size (S: bytes; N: rn_num_size; B: decoded bytes; BOOL/NULL: 1; sets: sum
 * of members; M/L: 3 + sum of members (+ names for M) + 1 per element). */
size_t rn_av_size(const cJSON *av);
size_t rn_item_size(const cJSON *item);

/* Deep equality of two valid canonical values; sets compare as sets. */
int rn_av_equal(const cJSON *a, const cJSON *b);

/*
 * Ordering of two scalar values of the same type (S bytewise as UTF-8, N
 * numerically, B bytewise on the decoded bytes).  Returns -1/0/1, or 2 when
 * the values are not comparable (different types or not S/N/B).
 */
int rn_av_compare(const cJSON *a, const cJSON *b);

/* ------------------------------------------------------------ key encoding */

/*
 * Order-preserving encoding of one key attribute (type S, N or B) into out:
 *   S, B: the raw bytes (B decoded) with 0x00 escaped as 0x00 0xFF and a
 *         terminator 0x00 0x01 — memcmp order equals bytewise order of the
 *         originals, and the encoding is self-delimiting.
 *   N:    rn_num_key_encode.
 * Errors: GT_EINVAL when av is not of type t (msg set as DynamoDB says:
 * "One or more parameter values were invalid: Type mismatch for key NAME
 * expected: S actual: N" — the caller fills the name via name), or the
 * value is an empty string/binary ("One or more parameter values are not
 * valid. The AttributeValue for a key attribute cannot contain an empty
 * string value. Key: NAME"; "empty binary value" for B), or the N text does
 * not parse (rn_num_strerror text), or GT_ENOMEM.  On error out is left as
 * it was.  Key size limits are the caller's.
 */
gt_err rn_key_encode_attr(const cJSON *av, rn_av_type t, const char *name,
    gt_buf *out, char msg[RN_MSG_MAX]);

/* Decodes one encoded key attribute of type t from the front of p into a
 * newly allocated wire value (*out, owned by the caller; cJSON_Delete).
 * Returns bytes consumed, 0 on malformed input (including an S holding a
 * NUL byte, which a JSON string cannot carry) or when out of memory. */
size_t rn_key_decode_attr(const uint8_t *p, size_t n, rn_av_type t,
    cJSON **out);

/* The length of one encoded key attribute of type t at the front of p,
 * without building a value (no allocation); 0 on malformed input, exactly
 * when rn_key_decode_attr would fail for that reason. */
size_t rn_key_attr_len(const uint8_t *p, size_t n, rn_av_type t);

#endif /* RN_VALUE_H */
