/*
 * expr.h — DynamoDB's expression language: ProjectionExpression,
 * KeyConditionExpression, ConditionExpression / FilterExpression and
 * UpdateExpression.  Parsing, validation with DynamoDB's messages, and
 * evaluation against items in wire form (see value.h).
 *
 * Life of a request's expressions:
 *
 *   rn_expr_ctx_new(names, values)      one context per request
 *   rn_expr_parse_*(ctx, text, ...)     each expression the request carries
 *   rn_expr_ctx_check_unused(ctx)       after all of them: unused #n / :v
 *   rn_expr_project / _eval / _update_apply ...   any number of times
 *   rn_expr_ctx_free(ctx)               frees every parsed expression
 *
 * Ownership.  A context borrows the ExpressionAttributeNames and
 * ExpressionAttributeValues objects: they must outlive it.  Parsed
 * expressions (rn_expr_proj, rn_expr_cond, rn_expr_update) live in the
 * context's arena and are freed with it; they point into the borrowed
 * objects.  Results of projection and update projection are new cJSON
 * trees owned by the caller.
 *
 * Errors.  GT_EINVAL carries DynamoDB's ValidationException message in the
 * caller's msg buffer (RN_MSG_MAX bytes, value.h); GT_ENOMEM is the only
 * other failure.  A condition that is false is not an error: the caller
 * turns it into ConditionalCheckFailedException.
 *
 * Thread safety: a context and its expressions are used by one thread at a
 * time; evaluation does not modify a parsed expression, so several threads
 * may evaluate the same expression once parsing is over.
 */
#ifndef RN_EXPR_H
#define RN_EXPR_H

#include <cjson/cJSON.h>

#include "gt.h"
#include "value.h"

/* Limits.  DynamoDB caps an expression string at 4 KB, a document path at
 * 32 levels, IN at 100 operands and an expression at 300 operators and
 * functions.  Parenthesis/NOT nesting is capped so recursion is bounded. */
#define RN_EXPR_LEN_MAX 4096
#define RN_EXPR_PATH_DEPTH_MAX 32
#define RN_EXPR_IN_MAX 100
#define RN_EXPR_OPERATORS_MAX 300
#define RN_EXPR_NESTING_MAX 64

typedef struct rn_expr_ctx rn_expr_ctx;
typedef struct rn_expr_proj rn_expr_proj;
typedef struct rn_expr_cond rn_expr_cond;
typedef struct rn_expr_update rn_expr_update;

/* The sort-key operator of a key condition. */
typedef enum rn_kc_op {
	RN_KC_NONE = 0, /* no sort-key condition */
	RN_KC_EQ,
	RN_KC_LT,
	RN_KC_LE,
	RN_KC_GT,
	RN_KC_GE,
	RN_KC_BETWEEN,    /* v1 <= sk <= v2 */
	RN_KC_BEGINS_WITH /* sk starts with v1 (S or B) */
} rn_kc_op;

/*
 * A resolved KeyConditionExpression.  Names point at the caller's
 * hash_name/range_name strings; values point into the context's
 * ExpressionAttributeValues (borrowed, valid while those live).  The value
 * types are not checked against the table's attribute definitions: the
 * caller does that ("Condition parameter type does not match schema type").
 */
typedef struct rn_keycond {
	const char *hash_name;
	const cJSON *hash_value;  /* partition key = hash_value */
	const char *range_name;   /* NULL when range_op is RN_KC_NONE */
	rn_kc_op range_op;
	const cJSON *range_v1;    /* NULL when range_op is RN_KC_NONE */
	const cJSON *range_v2;    /* upper bound for BETWEEN, else NULL */
} rn_keycond;

/* ---------------------------------------------------------------- context */

/*
 * Creates a context for one request.  names (ExpressionAttributeNames) and
 * values (ExpressionAttributeValues) are borrowed and may be NULL when the
 * request has none.  Validates them as DynamoDB does: an empty object
 * ("ExpressionAttributeNames must not be empty"), keys that are not #name /
 * :name ("ExpressionAttributeValues contains invalid key: Syntax error;
 * key: \"x\""), names that are not non-empty strings, and each value with
 * rn_av_validate — which rewrites values to canonical form in place
 * ("ExpressionAttributeValues contains invalid value: <reason> for key :v").
 * *out is owned by the caller (rn_expr_ctx_free).
 * Errors: GT_EINVAL (msg set), GT_ECORRUPT (a value's payload has the wrong
 * JSON type: rn_av_validate's SerializationException text), GT_ENOMEM.
 */
gt_err rn_expr_ctx_new(const cJSON *names, cJSON *values, rn_expr_ctx **out,
    char msg[RN_MSG_MAX]);

/* Frees the context and every expression parsed with it.  NULL is fine. */
void rn_expr_ctx_free(rn_expr_ctx *ctx);

/*
 * After every expression of the request is parsed: GT_EINVAL when a name or
 * value was provided but no expression used it ("Value provided in
 * ExpressionAttributeNames unused in expressions: keys: {#a, #b}").  Names
 * are checked before values.
 */
gt_err rn_expr_ctx_check_unused(const rn_expr_ctx *ctx, char msg[RN_MSG_MAX]);

/* ---------------------------------------------------------------- parsing */

/*
 * Each parser takes NUL-terminated text and, on success, sets *out to an
 * expression owned by ctx.  Errors: GT_EINVAL with DynamoDB's message
 * ("Invalid ProjectionExpression: Syntax error; token: ...", undefined
 * #names/:values, reserved words, overlapping paths, limits ...), GT_ENOMEM.
 * On error *out is untouched; names/values seen before the error may
 * already count as used.
 */
gt_err rn_expr_parse_projection(rn_expr_ctx *ctx, const char *text,
    const rn_expr_proj **out, char msg[RN_MSG_MAX]);

/* kind is "ConditionExpression" or "FilterExpression" (used in messages;
 * borrowed for the duration of the call). */
gt_err rn_expr_parse_condition(rn_expr_ctx *ctx, const char *kind,
    const char *text, const rn_expr_cond **out, char msg[RN_MSG_MAX]);

gt_err rn_expr_parse_update(rn_expr_ctx *ctx, const char *text,
    const rn_expr_update **out, char msg[RN_MSG_MAX]);

/*
 * Parses and resolves a KeyConditionExpression against the key schema of
 * the table or index being queried: hash_name (required) and range_name
 * (NULL when the schema has no sort key); both are borrowed and must
 * outlive *out.  Besides the parse errors: "Query condition missed key
 * schema element: NAME", "Query key condition not supported", "Invalid
 * KeyConditionExpression: Invalid operator used in KeyConditionExpression:
 * OR", "Invalid KeyConditionExpression: Conditions can be of length 1 or 2
 * only", "KeyConditionExpressions must only contain one condition per key".
 */
gt_err rn_expr_parse_keycond(rn_expr_ctx *ctx, const char *text,
    const char *hash_name, const char *range_name, rn_keycond *out,
    char msg[RN_MSG_MAX]);

/* ------------------------------------------------------------- evaluation */

/*
 * A new item holding only the projected paths of item (nested maps and
 * lists keep their structure; projected list elements keep their relative
 * order and are packed).  item may be NULL (no item: *out is an empty
 * object).  *out is owned by the caller (cJSON_Delete).  Errors: GT_ENOMEM.
 */
gt_err rn_expr_project(const rn_expr_proj *proj, const cJSON *item,
    cJSON **out);

/*
 * Evaluates a condition against item (borrowed; NULL means "no item": every
 * path is absent).  *result is 1 when the condition holds.  Comparing
 * values of different types, or an absent attribute, is false ("<>" is
 * true), not an error.  size() counts the characters of S, the bytes of B
 * and the members of sets, M and L; on other types it is absent.
 * Errors: GT_ENOMEM.
 */
gt_err rn_expr_eval(const rn_expr_cond *cond, const cJSON *item, int *result,
    char msg[RN_MSG_MAX]);

/*
 * Applies an update to item (a cJSON object, possibly empty, modified in
 * place).  Every operand is read from the item as it was before the update.
 * On error the item is left exactly as it was.  Errors: GT_EINVAL with
 * DynamoDB's message ("The document path provided in the update expression
 * is invalid for update", "An operand in the update expression has an
 * incorrect data type", "The provided expression refers to an attribute
 * that does not exist in the item", number overflow), GT_ENOMEM.  The
 * caller checks the resulting item size and that no key attribute is
 * touched (rn_expr_update_touches).
 */
gt_err rn_expr_update_apply(const rn_expr_update *upd, cJSON *item,
    char msg[RN_MSG_MAX]);

/* 1 when the condition reads the top-level attribute name (or a path
 * inside it), else 0.  Query uses it to refuse key attributes in a
 * FilterExpression. */
int rn_expr_cond_refers(const rn_expr_cond *cond, const char *name);

/* 1 when some action of upd targets the top-level attribute name (or a path
 * inside it), else 0. */
int rn_expr_update_touches(const rn_expr_update *upd, const char *name);

/*
 * The projection of item (borrowed, may be NULL) onto the paths the update
 * acts on: ReturnValues UPDATED_OLD (item before) and UPDATED_NEW (item
 * after).  *out is owned by the caller.  Errors: GT_ENOMEM.
 */
gt_err rn_expr_update_project(const rn_expr_update *upd, const cJSON *item,
    cJSON **out);

/*
 * 1 when item (borrowed) satisfies the key condition: the partition key
 * equals hash_value and the sort key, if constrained, satisfies range_op.
 * Useful to filter a range scan's edges.  An absent attribute never
 * matches.
 */
int rn_expr_keycond_match(const rn_keycond *kc, const cJSON *item);

#endif /* RN_EXPR_H */
