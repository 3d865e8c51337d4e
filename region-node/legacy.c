/*
 * legacy.c — rewriting DynamoDB's legacy request parameters into
 * expressions.  Contract in legacy.h.
 *
 * Design.
 *
 * 1. A rewrite, not a second evaluator.  Each legacy construct has an exact
 *    expression equivalent, so the node keeps one evaluator (expr.c) and
 *    legacy requests get the same limits, the same ReturnValues projection
 *    and the same replication path as expression requests.  The mapping:
 *
 *      Expected {a: {Value: v}}, {a: {Exists: true, Value: v}}
 *                                 #a = :v
 *      Expected {a: {Exists: false}}
 *                                 attribute_not_exists(#a)
 *      EQ NE LE LT GE GT          #a = :v, #a <> :v, #a <= :v, ...
 *      NOT_NULL                   attribute_exists(#a)
 *      NULL                       attribute_not_exists(#a)
 *      CONTAINS                   contains(#a, :v)
 *      NOT_CONTAINS               (attribute_exists(#a) AND
 *                                  NOT contains(#a, :v))
 *      BEGINS_WITH                begins_with(#a, :v)
 *      IN                         #a IN (:v0, :v1, ...)
 *      BETWEEN                    #a BETWEEN :v0 AND :v1
 *      ConditionalOperator        " AND " (default) or " OR " between entries
 *      AttributeUpdates PUT v     SET #a = :v
 *                       DELETE    REMOVE #a            (no Value)
 *                       DELETE v  DELETE #a :v         (v a set)
 *                       ADD v     ADD #a :v            (v N or a set)
 *                       ADD [..]  SET #a = list_append(
 *                                     if_not_exists(#a, :e), :v)
 *      AttributesToGet [a, b]     #a, #b
 *
 *    The legacy NOT_CONTAINS is false on an absent attribute while
 *    "NOT contains(...)" is true, hence the attribute_exists guard.  NE on
 *    an absent attribute is true in both languages.  Legacy ADD of a list
 *    appends, which expressions spell with list_append.
 *
 * 2. Placeholders for everything.  Attribute names may contain dots,
 *    brackets or reserved words, so every name becomes "#lgN" and every
 *    value ":lgN".  One name maps to one placeholder per request, so a
 *    Query naming an attribute in AttributesToGet and QueryFilter uses it
 *    once.  Generated keys skip any key already in the caller's maps (only
 *    Query can legally carry both: KeyConditions beside a FilterExpression).
 *
 * 3. All or nothing.  The rewrite builds its expression texts and its
 *    name and value maps on the side, validating as it goes; values are
 *    copied and canonicalised (rn_av_validate) so an error leaves req as
 *    it was.  The commit at the end allocates nothing: it links prepared
 *    items into req and deletes the legacy members, so it cannot fail.
 *
 * 4. Order of checks, as DynamoDB runs them: first the mix of parameter
 *    kinds (both kinds; ExpressionAttributeNames/Values with no
 *    expression), then each legacy parameter in the op's order; within a
 *    condition the values, then the argument count, then the types.
 *
 * 5. Bounds.  Each legacy map or list holds at most RN_LEGACY_ENTRIES_MAX
 *    entries, which keeps the quadratic duplicate and placeholder lookups
 *    cheap; a rewrite that still overflows the 4 KB expression limit is
 *    refused by the expression parser.
 */
#include "legacy.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LG_PH_MAX 16 /* "#lg" + 10 digits + NUL, rounded up */

static const char lg_invalid[] = "One or more parameter values were invalid: ";

/* ------------------------------------------------------------- op table */

/*
 * The parameters of one operation.  The lists are NULL-terminated and in
 * the order DynamoDB names them in its "Can not use both ..." message.
 * value_exprs are the expressions that may refer to :values.  filter is
 * the legacy map ConditionalOperator combines and filter_expr the
 * expression it becomes.
 */
typedef struct lg_op {
	const char *op;
	const char *legacy[5];
	const char *exprs[4];
	const char *value_exprs[3];
	const char *filter;
	const char *filter_expr;
} lg_op;

static const lg_op lg_ops[] = {
	{"PutItem", {"Expected", "ConditionalOperator", NULL},
	    {"ConditionExpression", NULL}, {"ConditionExpression", NULL},
	    "Expected", "ConditionExpression"},
	{"DeleteItem", {"Expected", "ConditionalOperator", NULL},
	    {"ConditionExpression", NULL}, {"ConditionExpression", NULL},
	    "Expected", "ConditionExpression"},
	{"UpdateItem", {"AttributeUpdates", "Expected", "ConditionalOperator",
	    NULL}, {"UpdateExpression", "ConditionExpression", NULL},
	    {"UpdateExpression", "ConditionExpression", NULL},
	    "Expected", "ConditionExpression"},
	{"GetItem", {"AttributesToGet", NULL}, {"ProjectionExpression", NULL},
	    {NULL}, NULL, NULL},
	{"BatchGetItem", {"AttributesToGet", NULL},
	    {"ProjectionExpression", NULL}, {NULL}, NULL, NULL},
	{"Query", {"AttributesToGet", "KeyConditions", "QueryFilter",
	    "ConditionalOperator", NULL}, {"ProjectionExpression",
	    "FilterExpression", "KeyConditionExpression", NULL},
	    {"FilterExpression", "KeyConditionExpression", NULL},
	    "QueryFilter", "FilterExpression"},
	{"Scan", {"AttributesToGet", "ScanFilter", "ConditionalOperator",
	    NULL}, {"ProjectionExpression", "FilterExpression", NULL},
	    {"FilterExpression", NULL}, "ScanFilter", "FilterExpression"},
};

/* ------------------------------------------------------ comparison table */

enum {
	CMP_EQ, CMP_NE, CMP_LE, CMP_LT, CMP_GE, CMP_GT, CMP_NOT_NULL,
	CMP_NULL, CMP_CONTAINS, CMP_NOT_CONTAINS, CMP_BEGINS_WITH, CMP_IN,
	CMP_BETWEEN
};

#define TY(x) (1u << RN_AV_##x)
#define TY_SCALAR (TY(S) | TY(N) | TY(B))
#define TY_ANY (TY_SCALAR | TY(BOOL) | TY(NULL) | TY(SS) | TY(NS) | \
	TY(BS) | TY(M) | TY(L))
#define TY_NOSET (TY_SCALAR | TY(BOOL) | TY(NULL) | TY(M) | TY(L))

/*
 * One ComparisonOperator: its argument count (-1: one or more), the types
 * its arguments may have, the infix operator of the plain comparisons,
 * and whether a KeyConditions entry may use it.
 */
static const struct lg_cmp {
	const char *name;
	int nargs;
	unsigned types;
	const char *infix;
	int indexable;
} lg_cmps[] = {
	[CMP_EQ] = {"EQ", 1, TY_ANY, "=", 1},
	[CMP_NE] = {"NE", 1, TY_ANY, "<>", 0},
	[CMP_LE] = {"LE", 1, TY_SCALAR, "<=", 1},
	[CMP_LT] = {"LT", 1, TY_SCALAR, "<", 1},
	[CMP_GE] = {"GE", 1, TY_SCALAR, ">=", 1},
	[CMP_GT] = {"GT", 1, TY_SCALAR, ">", 1},
	[CMP_NOT_NULL] = {"NOT_NULL", 0, 0, NULL, 0},
	[CMP_NULL] = {"NULL", 0, 0, NULL, 0},
	[CMP_CONTAINS] = {"CONTAINS", 1, TY_NOSET, NULL, 0},
	[CMP_NOT_CONTAINS] = {"NOT_CONTAINS", 1, TY_NOSET, NULL, 0},
	[CMP_BEGINS_WITH] = {"BEGINS_WITH", 1, TY(S) | TY(B), NULL, 1},
	[CMP_IN] = {"IN", -1, TY_SCALAR, NULL, 0},
	[CMP_BETWEEN] = {"BETWEEN", 2, TY_SCALAR, NULL, 1},
};

/* The order DynamoDB's request validator lists the enum in. */
static const char lg_cmp_enum[] = "[IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, "
    "GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]";

/* ------------------------------------------------------------ the state */

/* One rewrite in progress (design note 3). */
typedef struct lg {
	const cJSON *old_names;  /* the caller's maps (borrowed, may be NULL) */
	const cJSON *old_values;
	cJSON *names;            /* entries to add (owned until commit) */
	cJSON *values;
	unsigned next_name;
	unsigned next_value;
	char empty_list[LG_PH_MAX]; /* placeholder of {"L":[]}, or "" */
	char *msg;
} lg;

static void lg_msg(char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lg_msg(char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, RN_MSG_MAX, fmt, ap);
	va_end(ap);
}

static gt_err lg_oom(lg *l)
{
	lg_msg(l->msg, "%s", gt_strerror(GT_ENOMEM));
	return GT_ENOMEM;
}

/* A member of obj; JSON null counts as absent, as in the AWS protocols. */
static cJSON *lg_field(const cJSON *obj, const char *name)
{
	cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsNull(f) ? NULL : f;
}

static gt_err lg_badtype(char *msg, const char *field, const char *want)
{
	lg_msg(msg, "Unexpected value type for %.200s: expected %s", field,
	    want);
	return GT_ECORRUPT;
}

/* Checks that a legacy map or list is of the right JSON kind and size. */
static gt_err lg_collection(lg *l, const cJSON *c, const char *param,
    int is_list)
{
	if (is_list ? !cJSON_IsArray(c) : !cJSON_IsObject(c))
		return lg_badtype(l->msg, param, is_list ? "a list" :
		    "an object");
	if (cJSON_GetArraySize(c) > RN_LEGACY_ENTRIES_MAX) {
		lg_msg(l->msg, "%s%s has more than %d entries", lg_invalid,
		    param, RN_LEGACY_ENTRIES_MAX);
		return GT_EINVAL;
	}
	return GT_OK;
}

/* ------------------------------------------------------------ placeholders */

/* The next "<prefix>lgN" key that is in neither map. */
static void lg_fresh(const cJSON *mine, const cJSON *theirs, char prefix,
    unsigned *counter, char out[LG_PH_MAX])
{
	do {
		snprintf(out, LG_PH_MAX, "%clg%u", prefix, (*counter)++);
	} while (cJSON_GetObjectItemCaseSensitive(mine, out) != NULL ||
	    (theirs != NULL &&
	    cJSON_GetObjectItemCaseSensitive(theirs, out) != NULL));
}

/* The placeholder of attribute name attr, made on first use. */
static gt_err lg_name(lg *l, const char *attr, char out[LG_PH_MAX])
{
	const cJSON *c;
	cJSON *s;

	if (attr == NULL || attr[0] == '\0') {
		lg_msg(l->msg, "%sAn attribute name cannot be empty",
		    lg_invalid);
		return GT_EINVAL;
	}
	cJSON_ArrayForEach(c, l->names) {
		if (strcmp(c->valuestring, attr) == 0) {
			snprintf(out, LG_PH_MAX, "%s", c->string);
			return GT_OK;
		}
	}
	lg_fresh(l->names, l->old_names, '#', &l->next_name, out);
	s = cJSON_CreateString(attr);
	if (s == NULL || !cJSON_AddItemToObject(l->names, out, s)) {
		cJSON_Delete(s);
		return lg_oom(l);
	}
	return GT_OK;
}

/* Adds v (consumed, also on error) under a new value placeholder. */
static gt_err lg_value_put(lg *l, cJSON *v, char out[LG_PH_MAX])
{
	lg_fresh(l->values, l->old_values, ':', &l->next_value, out);
	if (!cJSON_AddItemToObject(l->values, out, v)) {
		cJSON_Delete(v);
		return lg_oom(l);
	}
	return GT_OK;
}

/* A canonical copy of the wire value v (borrowed) in *out (owned). */
static gt_err lg_value_copy(lg *l, const cJSON *v, cJSON **out)
{
	cJSON *d;
	gt_err err;

	if (!cJSON_IsObject(v))
		return lg_badtype(l->msg, "AttributeValue", "an object");
	d = cJSON_Duplicate(v, 1);
	if (d == NULL)
		return lg_oom(l);
	err = rn_av_validate(d, 0, l->msg);
	if (err != GT_OK) {
		cJSON_Delete(d);
		return err;
	}
	*out = d;
	return GT_OK;
}

/* ----------------------------------------------------------- conditions */

/* Parses a ComparisonOperator member; where is the request path of the
 * member for the validator's message ("scanFilter.a"). */
static gt_err lg_cmp_parse(lg *l, const cJSON *co, const char *where,
    const char *attr, int *out)
{
	if (co == NULL) {
		lg_msg(l->msg, "1 validation error detected: Value null at "
		    "'%s.%.200s.member.comparisonOperator' failed to satisfy "
		    "constraint: Member must not be null", where, attr);
		return GT_EINVAL;
	}
	if (!cJSON_IsString(co))
		return lg_badtype(l->msg, "ComparisonOperator", "a string");
	for (size_t i = 0; i < GT_ARRAY_LEN(lg_cmps); i++) {
		if (strcmp(co->valuestring, lg_cmps[i].name) == 0) {
			*out = (int)i;
			return GT_OK;
		}
	}
	lg_msg(l->msg, "1 validation error detected: Value '%.100s' at "
	    "'%s.%.200s.member.comparisonOperator' failed to satisfy "
	    "constraint: Member must satisfy enum value set: %s",
	    co->valuestring, where, attr, lg_cmp_enum);
	return GT_EINVAL;
}

/*
 * Validates an AttributeValueList (borrowed, may be NULL) for operator
 * cmp and returns canonical copies of its values in *out, a new cJSON
 * array owned by the caller.
 */
static gt_err lg_arglist(lg *l, const cJSON *avl, int cmp, cJSON **out)
{
	const struct lg_cmp *c = &lg_cmps[cmp];
	const cJSON *v;
	cJSON *list, *d = NULL;
	rn_av_type t0 = RN_AV_NONE;
	int n;
	gt_err err;

	if (avl != NULL && !cJSON_IsArray(avl))
		return lg_badtype(l->msg, "AttributeValueList", "a list");
	if (cJSON_GetArraySize(avl) > RN_LEGACY_ENTRIES_MAX) {
		lg_msg(l->msg, "%sAttributeValueList has more than %d entries",
		    lg_invalid, RN_LEGACY_ENTRIES_MAX);
		return GT_EINVAL;
	}
	list = cJSON_CreateArray();
	if (list == NULL)
		return lg_oom(l);
	cJSON_ArrayForEach(v, avl) {
		err = lg_value_copy(l, v, &d);
		if (err != GT_OK)
			goto fail;
		cJSON_AddItemToArray(list, d);
	}
	n = cJSON_GetArraySize(list);
	if (c->nargs >= 0 ? n != c->nargs : n < 1) {
		lg_msg(l->msg, "%sInvalid number of argument(s) for the %s "
		    "ComparisonOperator", lg_invalid, c->name);
		err = GT_EINVAL;
		goto fail;
	}
	cJSON_ArrayForEach(v, list) {
		rn_av_type t = rn_av_type_of(v, NULL);

		if (!(c->types & (1u << t))) {
			lg_msg(l->msg, "%sComparisonOperator %s is not valid "
			    "for %s AttributeValue type", lg_invalid, c->name,
			    rn_av_type_name(t));
			err = GT_EINVAL;
			goto fail;
		}
		if (t0 == RN_AV_NONE)
			t0 = t;
	}
	if (cmp == CMP_BETWEEN) {
		const cJSON *lo = list->child, *hi = lo->next;

		if (rn_av_type_of(hi, NULL) != t0) {
			lg_msg(l->msg, "%sAttributeValues inside "
			    "AttributeValueList must be of same type",
			    lg_invalid);
			err = GT_EINVAL;
			goto fail;
		}
		if (rn_av_compare(lo, hi) == 1) {
			lg_msg(l->msg, "The BETWEEN condition was provided a "
			    "range where the lower bound is greater than the "
			    "upper bound");
			err = GT_EINVAL;
			goto fail;
		}
	}
	*out = list;
	return GT_OK;
fail:
	cJSON_Delete(list);
	return err;
}

/*
 * Appends the expression for "attr <cmp> args" to b; args (consumed) holds
 * the validated values, which move into the value map.
 */
static gt_err lg_cmp_text(lg *l, gt_buf *b, const char *attr, int cmp,
    cJSON *args)
{
	char ph[LG_PH_MAX], vp[LG_PH_MAX];
	cJSON *v;
	int i = 0;
	gt_err err;

	err = lg_name(l, attr, ph);
	if (err != GT_OK)
		goto out;
	switch (cmp) {
	case CMP_NOT_NULL:
		gt_buf_printf(b, "attribute_exists(%s)", ph);
		goto out;
	case CMP_NULL:
		gt_buf_printf(b, "attribute_not_exists(%s)", ph);
		goto out;
	case CMP_CONTAINS:
		gt_buf_printf(b, "contains(%s, ", ph);
		break;
	case CMP_NOT_CONTAINS:
		gt_buf_printf(b, "(attribute_exists(%s) AND NOT contains(%s, ",
		    ph, ph);
		break;
	case CMP_BEGINS_WITH:
		gt_buf_printf(b, "begins_with(%s, ", ph);
		break;
	case CMP_IN:
		gt_buf_printf(b, "%s IN (", ph);
		break;
	case CMP_BETWEEN:
		gt_buf_printf(b, "%s BETWEEN ", ph);
		break;
	default:
		gt_buf_printf(b, "%s %s ", ph, lg_cmps[cmp].infix);
		break;
	}
	while ((v = cJSON_DetachItemFromArray(args, 0)) != NULL) {
		err = lg_value_put(l, v, vp);
		if (err != GT_OK)
			goto out;
		if (i++ > 0)
			gt_buf_puts(b, cmp == CMP_BETWEEN ? " AND " : ", ");
		gt_buf_puts(b, vp);
	}
	if (cmp == CMP_CONTAINS || cmp == CMP_BEGINS_WITH || cmp == CMP_IN)
		gt_buf_putc(b, ')');
	else if (cmp == CMP_NOT_CONTAINS)
		gt_buf_puts(b, "))");
out:
	cJSON_Delete(args);
	return err;
}

/* One condition in the ComparisonOperator form (Expected's new form,
 * QueryFilter, ScanFilter, KeyConditions). */
static gt_err lg_cond_cmp(lg *l, gt_buf *b, const char *attr,
    const cJSON *cond, const char *where, int keycond)
{
	cJSON *args = NULL;
	int cmp = 0;
	gt_err err;

	err = lg_cmp_parse(l, lg_field(cond, "ComparisonOperator"), where,
	    attr, &cmp);
	if (err == GT_OK)
		err = lg_arglist(l, lg_field(cond, "AttributeValueList"), cmp,
		    &args);
	if (err != GT_OK)
		return err;
	if (keycond && !lg_cmps[cmp].indexable) {
		cJSON_Delete(args);
		lg_msg(l->msg, "Attempted conditional constraint is not an "
		    "indexable operation");
		return GT_EINVAL;
	}
	return lg_cmp_text(l, b, attr, cmp, args);
}

/* One entry of Expected, old form ({Value, Exists}) or new. */
static gt_err lg_cond_expected(lg *l, gt_buf *b, const char *attr,
    const cJSON *cond)
{
	const cJSON *value = lg_field(cond, "Value");
	const cJSON *exists = lg_field(cond, "Exists");
	const cJSON *co = lg_field(cond, "ComparisonOperator");
	const cJSON *avl = lg_field(cond, "AttributeValueList");
	char ph[LG_PH_MAX], vp[LG_PH_MAX];
	cJSON *v = NULL;
	int exists_true;
	gt_err err;

	if (avl != NULL && value != NULL) {
		lg_msg(l->msg, "%sValue and AttributeValueList cannot be used "
		    "together for Attribute: %.200s", lg_invalid, attr);
		return GT_EINVAL;
	}
	if (co != NULL) {
		if (exists != NULL || value != NULL) {
			lg_msg(l->msg, "%s%s and ComparisonOperator cannot be "
			    "used together for Attribute: %.200s", lg_invalid,
			    exists != NULL ? "Exists" : "Value", attr);
			return GT_EINVAL;
		}
		return lg_cond_cmp(l, b, attr, cond, "expected", 0);
	}
	if (avl != NULL) {
		lg_msg(l->msg, "%sAttributeValueList can only be used with a "
		    "ComparisonOperator for Attribute: %.200s", lg_invalid,
		    attr);
		return GT_EINVAL;
	}
	if (exists != NULL && !cJSON_IsBool(exists))
		return lg_badtype(l->msg, "Exists", "a boolean");
	exists_true = exists == NULL || cJSON_IsTrue(exists);
	if (exists_true && value == NULL) {
		lg_msg(l->msg, "%sValue must be provided when Exists is %s "
		    "for Attribute: %.200s", lg_invalid,
		    exists == NULL ? "null" : "true", attr);
		return GT_EINVAL;
	}
	if (!exists_true && value != NULL) {
		lg_msg(l->msg, "%sValue cannot be used when Exists is false "
		    "for Attribute: %.200s", lg_invalid, attr);
		return GT_EINVAL;
	}
	err = lg_name(l, attr, ph);
	if (err != GT_OK)
		return err;
	if (value == NULL) {
		gt_buf_printf(b, "attribute_not_exists(%s)", ph);
		return GT_OK;
	}
	err = lg_value_copy(l, value, &v);
	if (err == GT_OK)
		err = lg_value_put(l, v, vp);
	if (err == GT_OK)
		gt_buf_printf(b, "%s = %s", ph, vp);
	return err;
}

/*
 * A whole condition map (Expected, QueryFilter, ScanFilter, KeyConditions)
 * into b, entries joined by joiner.  where is the map's member name in
 * the validator's messages.
 */
static gt_err lg_conditions(lg *l, const cJSON *map, const char *param,
    const char *where, const char *joiner, gt_buf *b)
{
	int expected = strcmp(param, "Expected") == 0;
	int keycond = strcmp(param, "KeyConditions") == 0;
	const cJSON *cond;
	gt_err err;

	err = lg_collection(l, map, param, 0);
	if (err != GT_OK)
		return err;
	if (keycond) {
		int n = cJSON_GetArraySize(map);

		if (n < 1 || n > 2) {
			lg_msg(l->msg, "Conditions can be of length 1 or 2 "
			    "only");
			return GT_EINVAL;
		}
	}
	cJSON_ArrayForEach(cond, map) {
		if (!cJSON_IsObject(cond))
			return lg_badtype(l->msg, param, "a map of objects");
		if (b->len > 0)
			gt_buf_puts(b, joiner);
		err = expected ? lg_cond_expected(l, b, cond->string, cond) :
		    lg_cond_cmp(l, b, cond->string, cond, where, keycond);
		if (err != GT_OK)
			return err;
	}
	return GT_OK;
}

/* -------------------------------------------------------------- updates */

typedef struct lg_upd {
	gt_buf set, remove, add, del;
} lg_upd;

static void lg_clause(gt_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one action to a clause, with ", " between actions. */
static void lg_clause(gt_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->len > 0)
		gt_buf_puts(b, ", ");
	va_start(ap, fmt);
	gt_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* The placeholder of {"L":[]}, made on first use. */
static gt_err lg_empty_list(lg *l)
{
	cJSON *e;

	if (l->empty_list[0] != '\0')
		return GT_OK;
	e = cJSON_CreateObject();
	if (e == NULL || cJSON_AddArrayToObject(e, "L") == NULL) {
		cJSON_Delete(e);
		return lg_oom(l);
	}
	return lg_value_put(l, e, l->empty_list);
}

/* One AttributeUpdates entry. */
static gt_err lg_update(lg *l, lg_upd *u, const char *attr,
    const cJSON *upd)
{
	const cJSON *action = lg_field(upd, "Action");
	const cJSON *value = lg_field(upd, "Value");
	const char *act = "PUT";
	char ph[LG_PH_MAX], vp[LG_PH_MAX];
	cJSON *v = NULL;
	rn_av_type t;
	gt_err err;

	if (action != NULL) {
		if (!cJSON_IsString(action))
			return lg_badtype(l->msg, "Action", "a string");
		act = action->valuestring;
		if (strcmp(act, "PUT") != 0 && strcmp(act, "ADD") != 0 &&
		    strcmp(act, "DELETE") != 0) {
			lg_msg(l->msg, "1 validation error detected: Value "
			    "'%.100s' at 'attributeUpdates.%.200s.member."
			    "action' failed to satisfy constraint: Member "
			    "must satisfy enum value set: [ADD, PUT, DELETE]",
			    act, attr);
			return GT_EINVAL;
		}
	}
	if (value == NULL) {
		if (strcmp(act, "DELETE") != 0) {
			lg_msg(l->msg, "%sOnly DELETE action is allowed when "
			    "no attribute value is specified", lg_invalid);
			return GT_EINVAL;
		}
		err = lg_name(l, attr, ph);
		if (err == GT_OK)
			lg_clause(&u->remove, "%s", ph);
		return err;
	}
	err = lg_value_copy(l, value, &v);
	if (err != GT_OK)
		return err;
	t = rn_av_type_of(v, NULL);
	if (strcmp(act, "ADD") == 0 && t != RN_AV_N && t != RN_AV_SS &&
	    t != RN_AV_NS && t != RN_AV_BS && t != RN_AV_L) {
		lg_msg(l->msg, "%sADD action is not supported for the type %s",
		    lg_invalid, rn_av_type_name(t));
		err = GT_EINVAL;
	} else if (strcmp(act, "DELETE") == 0 && t != RN_AV_SS &&
	    t != RN_AV_NS && t != RN_AV_BS) {
		lg_msg(l->msg, "%sDELETE action with value is not supported "
		    "for the type %s", lg_invalid, rn_av_type_name(t));
		err = GT_EINVAL;
	}
	if (err == GT_OK && strcmp(act, "ADD") == 0 && t == RN_AV_L)
		err = lg_empty_list(l);
	if (err == GT_OK)
		err = lg_name(l, attr, ph);
	if (err != GT_OK) {
		cJSON_Delete(v);
		return err;
	}
	err = lg_value_put(l, v, vp);
	if (err != GT_OK)
		return err;
	if (strcmp(act, "PUT") == 0)
		lg_clause(&u->set, "%s = %s", ph, vp);
	else if (strcmp(act, "DELETE") == 0)
		lg_clause(&u->del, "%s %s", ph, vp);
	else if (t == RN_AV_L)
		lg_clause(&u->set, "%s = list_append(if_not_exists(%s, %s), "
		    "%s)", ph, ph, l->empty_list, vp);
	else
		lg_clause(&u->add, "%s %s", ph, vp);
	return GT_OK;
}

/* AttributeUpdates into an UpdateExpression in b (empty when the map is). */
static gt_err lg_updates(lg *l, const cJSON *map, gt_buf *b)
{
	lg_upd u = {GT_BUF_INIT, GT_BUF_INIT, GT_BUF_INIT, GT_BUF_INIT};
	const gt_buf *parts[4] = {&u.set, &u.remove, &u.add, &u.del};
	static const char *const kw[4] = {"SET ", "REMOVE ", "ADD ",
	    "DELETE "};
	const cJSON *upd;
	gt_err err;

	err = lg_collection(l, map, "AttributeUpdates", 0);
	cJSON_ArrayForEach(upd, map) {
		if (err != GT_OK)
			break;
		if (!cJSON_IsObject(upd))
			err = lg_badtype(l->msg, "AttributeUpdates",
			    "a map of objects");
		else
			err = lg_update(l, &u, upd->string, upd);
	}
	for (size_t i = 0; err == GT_OK && i < GT_ARRAY_LEN(parts); i++) {
		if (parts[i]->len == 0)
			continue;
		if (b->len > 0)
			gt_buf_putc(b, ' ');
		gt_buf_puts(b, kw[i]);
		gt_buf_append(b, parts[i]->data, parts[i]->len);
	}
	if (err == GT_OK && (!gt_buf_ok(&u.set) || !gt_buf_ok(&u.remove) ||
	    !gt_buf_ok(&u.add) || !gt_buf_ok(&u.del)))
		err = lg_oom(l);
	gt_buf_free(&u.set);
	gt_buf_free(&u.remove);
	gt_buf_free(&u.add);
	gt_buf_free(&u.del);
	return err;
}

/* ----------------------------------------------------------- projection */

static gt_err lg_projection(lg *l, const cJSON *list, gt_buf *b)
{
	char ph[LG_PH_MAX];
	const cJSON *a, *o;
	gt_err err;

	err = lg_collection(l, list, "AttributesToGet", 1);
	if (err != GT_OK)
		return err;
	if (list->child == NULL) {
		lg_msg(l->msg, "1 validation error detected: Value '[]' at "
		    "'attributesToGet' failed to satisfy constraint: Member "
		    "must have length greater than or equal to 1");
		return GT_EINVAL;
	}
	cJSON_ArrayForEach(a, list) {
		if (!cJSON_IsString(a))
			return lg_badtype(l->msg, "AttributesToGet",
			    "a list of strings");
	}
	cJSON_ArrayForEach(a, list) {
		for (o = a->next; o != NULL; o = o->next) {
			if (strcmp(a->valuestring, o->valuestring) == 0) {
				lg_msg(l->msg, "%sDuplicate value in attribute "
				    "name: %.200s", lg_invalid, a->valuestring);
				return GT_EINVAL;
			}
		}
	}
	cJSON_ArrayForEach(a, list) {
		err = lg_name(l, a->valuestring, ph);
		if (err != GT_OK)
			return err;
		if (b->len > 0)
			gt_buf_puts(b, ", ");
		gt_buf_puts(b, ph);
	}
	return GT_OK;
}

/* ---------------------------------------------------- parameter mixing */

static int lg_has(const cJSON *req, const char *const *list)
{
	for (; *list != NULL; list++)
		if (lg_field(req, *list) != NULL)
			return 1;
	return 0;
}

/* Appends "{A, B}" with the members of list present in req. */
static void lg_list_present(gt_buf *b, const cJSON *req,
    const char *const *list, const char *skip)
{
	int first = 1;

	gt_buf_putc(b, '{');
	for (; *list != NULL; list++) {
		if (lg_field(req, *list) == NULL ||
		    (skip != NULL && strcmp(*list, skip) == 0))
			continue;
		if (!first)
			gt_buf_puts(b, ", ");
		gt_buf_puts(b, *list);
		first = 0;
	}
	gt_buf_putc(b, '}');
}

/*
 * DynamoDB's checks on the kinds of parameters present (design note 4).
 * A Query's KeyConditions may go with expressions when there is no
 * KeyConditionExpression: DynamoDB exempts it from the mixing rule.
 */
static gt_err lg_check_mix(const lg_op *spec, const cJSON *req, char *msg)
{
	const char *skip = NULL;
	int have_expr = lg_has(req, spec->exprs);
	int have_legacy = 0;

	if (strcmp(spec->op, "Query") == 0 &&
	    lg_field(req, "KeyConditionExpression") == NULL)
		skip = "KeyConditions";
	for (const char *const *p = spec->legacy; *p != NULL; p++)
		if ((skip == NULL || strcmp(*p, skip) != 0) &&
		    lg_field(req, *p) != NULL)
			have_legacy = 1;
	if (have_expr && have_legacy) {
		gt_buf b = GT_BUF_INIT;

		gt_buf_puts(&b, "Can not use both expression and "
		    "non-expression parameters in the same request: "
		    "Non-expression parameters: ");
		lg_list_present(&b, req, spec->legacy, skip);
		gt_buf_puts(&b, " Expression parameters: ");
		lg_list_present(&b, req, spec->exprs, NULL);
		if (!gt_buf_ok(&b)) {
			gt_buf_free(&b);
			lg_msg(msg, "%s", gt_strerror(GT_ENOMEM));
			return GT_ENOMEM;
		}
		lg_msg(msg, "%s", b.data);
		gt_buf_free(&b);
		return GT_EINVAL;
	}
	if (!have_expr && lg_field(req, "ExpressionAttributeNames") != NULL) {
		lg_msg(msg, "ExpressionAttributeNames can only be specified "
		    "when using expressions");
		return GT_EINVAL;
	}
	if (spec->value_exprs[0] != NULL && !lg_has(req, spec->value_exprs) &&
	    lg_field(req, "ExpressionAttributeValues") != NULL) {
		const char *const *v = spec->value_exprs;

		if (v[1] == NULL)
			lg_msg(msg, "ExpressionAttributeValues can only be "
			    "specified when using expressions: %s is null",
			    v[0]);
		else
			lg_msg(msg, "ExpressionAttributeValues can only be "
			    "specified when using expressions: %s and %s are "
			    "null", v[0], v[1]);
		return GT_EINVAL;
	}
	return GT_OK;
}

/* --------------------------------------------------------------- driver */

/* The expressions a rewrite produces, in the order they are built. */
enum { OUT_UPDATE, OUT_KEYCOND, OUT_COND, OUT_PROJ, OUT_COUNT };

static const char *const lg_out_names[OUT_COUNT] = {
	"UpdateExpression", "KeyConditionExpression", NULL /* filter_expr */,
	"ProjectionExpression"
};

/* Builds every expression of the request into out[] (design note 4). */
static gt_err lg_build(lg *l, const lg_op *spec, const cJSON *req,
    gt_buf out[OUT_COUNT])
{
	const cJSON *f, *co;
	const char *joiner = " AND ";
	gt_err err = GT_OK;

	co = spec->filter != NULL ? lg_field(req, "ConditionalOperator") :
	    NULL;
	if (co != NULL) {
		if (!cJSON_IsString(co))
			return lg_badtype(l->msg, "ConditionalOperator",
			    "a string");
		if (strcmp(co->valuestring, "OR") == 0) {
			joiner = " OR ";
		} else if (strcmp(co->valuestring, "AND") != 0) {
			lg_msg(l->msg, "1 validation error detected: Value "
			    "'%.100s' at 'conditionalOperator' failed to "
			    "satisfy constraint: Member must satisfy enum "
			    "value set: [AND, OR]", co->valuestring);
			return GT_EINVAL;
		}
	}
	for (const char *const *p = spec->legacy; *p != NULL; p++) {
		f = lg_field(req, *p);
		if (f == NULL)
			continue;
		if (strcmp(*p, "AttributesToGet") == 0)
			err = lg_projection(l, f, &out[OUT_PROJ]);
		else if (strcmp(*p, "AttributeUpdates") == 0)
			err = lg_updates(l, f, &out[OUT_UPDATE]);
		else if (strcmp(*p, "KeyConditions") == 0)
			err = lg_conditions(l, f, *p, "keyConditions",
			    " AND ", &out[OUT_KEYCOND]);
		else if (strcmp(*p, "Expected") == 0)
			err = lg_conditions(l, f, *p, "expected", joiner,
			    &out[OUT_COND]);
		else if (strcmp(*p, "QueryFilter") == 0)
			err = lg_conditions(l, f, *p, "queryFilter", joiner,
			    &out[OUT_COND]);
		else if (strcmp(*p, "ScanFilter") == 0)
			err = lg_conditions(l, f, *p, "scanFilter", joiner,
			    &out[OUT_COND]);
		if (err != GT_OK)
			return err;
	}
	return GT_OK;
}

/* Query/Scan: AttributesToGet conflicts with some Select values. */
static gt_err lg_check_select(const cJSON *req, char *msg)
{
	const cJSON *sel = lg_field(req, "Select");

	if (lg_field(req, "AttributesToGet") == NULL || !cJSON_IsString(sel))
		return GT_OK;
	if (strcmp(sel->valuestring, "ALL_ATTRIBUTES") == 0) {
		lg_msg(msg, "Cannot specify the AttributesToGet when choosing "
		    "to get ALL_ATTRIBUTES");
		return GT_EINVAL;
	}
	return GT_OK;
}

/*
 * Gets the caller's map named field, which new entries join: NULL when
 * absent, GT_ECORRUPT when it is not an object.
 */
static gt_err lg_old_map(const cJSON *req, const char *field,
    const cJSON **out, char *msg)
{
	const cJSON *m = lg_field(req, field);

	if (m != NULL && !cJSON_IsObject(m))
		return lg_badtype(msg, field, "an object");
	*out = m;
	return GT_OK;
}

/* Removes every member named field (JSON allows repeated keys). */
static void lg_remove_all(cJSON *req, const char *field)
{
	while (cJSON_GetObjectItemCaseSensitive(req, field) != NULL)
		cJSON_DeleteItemFromObjectCaseSensitive(req, field);
}

/*
 * Links map (consumed) into req under field, or moves its members into
 * the caller's map when there is one.  Allocates nothing (design note 3):
 * cJSON_AddItemToArray only links a member that already carries its key.
 */
static void lg_commit_map(cJSON *req, const char *field, cJSON *map)
{
	cJSON *dst = lg_field(req, field), *m;

	if (map->child == NULL) {
		cJSON_Delete(map);
		return;
	}
	if (dst == NULL) {
		lg_remove_all(req, field); /* a JSON null member */
		cJSON_AddItemToObjectCS(req, field, map);
		return;
	}
	while ((m = cJSON_DetachItemFromArray(map, 0)) != NULL)
		cJSON_AddItemToArray(dst, m);
	cJSON_Delete(map);
}

gt_err rn_legacy_rewrite(const char *op, cJSON *req, char msg[RN_MSG_MAX])
{
	gt_buf out[OUT_COUNT] = {GT_BUF_INIT, GT_BUF_INIT, GT_BUF_INIT,
	    GT_BUF_INIT};
	cJSON *text[OUT_COUNT] = {NULL, NULL, NULL, NULL};
	const lg_op *spec = NULL;
	int any_null = 0;
	lg l;
	gt_err err;

	for (size_t i = 0; op != NULL && i < GT_ARRAY_LEN(lg_ops); i++)
		if (strcmp(op, lg_ops[i].op) == 0)
			spec = &lg_ops[i];
	if (spec == NULL || !cJSON_IsObject(req))
		return GT_OK;
	err = lg_check_mix(spec, req, msg);
	if (err != GT_OK)
		return err;
	if (!lg_has(req, spec->legacy)) {
		for (const char *const *p = spec->legacy; *p != NULL; p++)
			if (cJSON_GetObjectItemCaseSensitive(req, *p) != NULL)
				any_null = 1;
		if (any_null)
			for (const char *const *p = spec->legacy; *p; p++)
				lg_remove_all(req, *p);
		return GT_OK;
	}
	if (strcmp(spec->op, "Query") == 0 || strcmp(spec->op, "Scan") == 0) {
		err = lg_check_select(req, msg);
		if (err != GT_OK)
			return err;
	}

	memset(&l, 0, sizeof(l));
	l.msg = msg;
	err = lg_old_map(req, "ExpressionAttributeNames", &l.old_names, msg);
	if (err == GT_OK)
		err = lg_old_map(req, "ExpressionAttributeValues",
		    &l.old_values, msg);
	if (err != GT_OK)
		return err;
	l.names = cJSON_CreateObject();
	l.values = cJSON_CreateObject();
	if (l.names == NULL || l.values == NULL) {
		err = lg_oom(&l);
		goto out;
	}
	err = lg_build(&l, spec, req, out);
	if (err != GT_OK)
		goto out;
	for (size_t i = 0; i < OUT_COUNT; i++) {
		if (!gt_buf_ok(&out[i])) {
			err = lg_oom(&l);
			goto out;
		}
		if (out[i].len == 0)
			continue;
		text[i] = cJSON_CreateString(out[i].data);
		if (text[i] == NULL) {
			err = lg_oom(&l);
			goto out;
		}
	}

	/* Commit: nothing below allocates, so nothing below can fail. */
	for (const char *const *p = spec->legacy; *p != NULL; p++)
		lg_remove_all(req, *p);
	for (size_t i = 0; i < OUT_COUNT; i++) {
		const char *name = i == OUT_COND ? spec->filter_expr :
		    lg_out_names[i];

		if (text[i] == NULL)
			continue;
		lg_remove_all(req, name); /* a JSON null placeholder */
		cJSON_AddItemToObjectCS(req, name, text[i]);
		text[i] = NULL;
	}
	lg_commit_map(req, "ExpressionAttributeNames", l.names);
	lg_commit_map(req, "ExpressionAttributeValues", l.values);
	l.names = NULL;
	l.values = NULL;
out:
	for (size_t i = 0; i < OUT_COUNT; i++) {
		gt_buf_free(&out[i]);
		cJSON_Delete(text[i]);
	}
	cJSON_Delete(l.names);
	cJSON_Delete(l.values);
	return err;
}
