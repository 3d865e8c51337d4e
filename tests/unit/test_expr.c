/*
 * test_expr.c — unit tests for region-node/expr.c: DynamoDB expression
 * parsing, validation messages, and evaluation of projections, conditions,
 * key conditions and updates.
 *
 * JSON literals in this file use single quotes for readability; the helper
 * js() turns them into double quotes before parsing.
 *
 * The randomized test prints its seed; set MERIDIAN_SEED to replay it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr.h"

/* ---------------------------------------------------------------- helpers */

static cJSON *js(const char *s)
{
	char *copy;
	cJSON *j;

	if (s == NULL)
		return NULL;
	copy = strdup(s);
	assert_non_null(copy);
	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = cJSON_Parse(copy);
	if (j == NULL)
		fail_msg("bad JSON in test: %s", s);
	free(copy);
	return j;
}

typedef struct tc {
	cJSON *names;
	cJSON *values;
	rn_expr_ctx *ctx;
	char msg[RN_MSG_MAX];
} tc;

static void tc_open(tc *t, const char *names, const char *values)
{
	gt_err e;

	memset(t, 0, sizeof(*t));
	t->names = js(names);
	t->values = js(values);
	e = rn_expr_ctx_new(t->names, t->values, &t->ctx, t->msg);
	if (e != GT_OK)
		fail_msg("ctx: %s", t->msg);
}

static void tc_close(tc *t)
{
	rn_expr_ctx_free(t->ctx);
	cJSON_Delete(t->names);
	cJSON_Delete(t->values);
}

enum { K_PROJ, K_COND, K_FILTER, K_UPD, K_KEY };

static gt_err parse_kind(tc *t, int kind, const char *text)
{
	const rn_expr_proj *p;
	const rn_expr_cond *c;
	const rn_expr_update *u;
	rn_keycond kc;

	switch (kind) {
	case K_PROJ:
		return rn_expr_parse_projection(t->ctx, text, &p, t->msg);
	case K_COND:
		return rn_expr_parse_condition(t->ctx, "ConditionExpression",
		    text, &c, t->msg);
	case K_FILTER:
		return rn_expr_parse_condition(t->ctx, "FilterExpression",
		    text, &c, t->msg);
	case K_UPD:
		return rn_expr_parse_update(t->ctx, text, &u, t->msg);
	default:
		return rn_expr_parse_keycond(t->ctx, text, "pk", "sk", &kc,
		    t->msg);
	}
}

/* Parsing text must fail with exactly the message want. */
static void expect_err(int kind, const char *text, const char *names,
    const char *values, const char *want)
{
	tc t;
	gt_err e;

	tc_open(&t, names, values);
	e = parse_kind(&t, kind, text);
	if (e != GT_EINVAL)
		fail_msg("expected an error for [%s], got %d", text, e);
	assert_string_equal(t.msg, want);
	tc_close(&t);
}

static void expect_ok(int kind, const char *text, const char *names,
    const char *values)
{
	tc t;

	tc_open(&t, names, values);
	if (parse_kind(&t, kind, text) != GT_OK)
		fail_msg("[%s]: %s", text, t.msg);
	tc_close(&t);
}

#define ITEM                                                               \
	"{'id':{'S':'k1'},'n':{'N':'5'},'s':{'S':'hello'},'b':{'B':'AQID'},"  \
	"'t':{'BOOL':true},'z':{'NULL':true},'ss':{'SS':['a','b']},"          \
	"'ns':{'NS':['1','2.5']},'bs':{'BS':['AQ==','Ag==']},"                \
	"'m':{'M':{'x':{'N':'1'},'y':{'S':'why'}}},"                          \
	"'l':{'L':[{'S':'a'},{'N':'2'},{'M':{'k':{'S':'v'}}}]},"              \
	"'u':{'S':'h\\u00e9llo'},'e':{'S':''}}"

#define VALS                                                               \
	"{':n5':{'N':'5'},':n50':{'N':'5.0'},':n4':{'N':'4'},':n6':{'N':'6'}," \
	"':n1':{'N':'1'},':n2':{'N':'2'},':n3':{'N':'3'},':n7':{'N':'7'},"    \
	"':s':{'S':'hello'},':he':{'S':'he'},':ll':{'S':'ll'},':a':{'S':'a'},"\
	"':c':{'S':'c'},':x':{'S':'x'},':b01':{'B':'AQ=='},"                 \
	"':b0102':{'B':'AQI='},"                                              \
	"':b02':{'B':'Ag=='},':n25':{'N':'2.50'},':tS':{'S':'S'},"            \
	"':tN':{'S':'N'},':tM':{'S':'M'},':tL':{'S':'L'},':tSS':{'S':'SS'},"  \
	"':tBOOL':{'S':'BOOL'},':tNULL':{'S':'NULL'},':tB':{'S':'B'},"        \
	"':tNS':{'S':'NS'},':tBS':{'S':'BS'},':true':{'BOOL':true},"          \
	"':lv':{'L':[{'S':'a'},{'N':'2'},{'M':{'k':{'S':'v'}}}]},"            \
	"':mv':{'M':{'k':{'S':'v'}}},':ssv':{'SS':['b','a']},':e':{'S':''}}"

/* Evaluates a condition against an item (NULL: no item). */
static int cond_names(const char *text, const char *names, const char *item)
{
	tc t;
	const rn_expr_cond *c;
	cJSON *it = js(item);
	int r = -1;

	tc_open(&t, names, VALS);
	if (rn_expr_parse_condition(t.ctx, "ConditionExpression", text, &c,
	    t.msg) != GT_OK)
		fail_msg("[%s]: %s", text, t.msg);
	assert_int_equal(rn_expr_eval(c, it, &r, t.msg), GT_OK);
	tc_close(&t);
	cJSON_Delete(it);
	return r;
}

static int cond(const char *text)
{
	return cond_names(text, NULL, ITEM);
}

static void assert_json(const cJSON *got, const char *want)
{
	cJSON *w = js(want);

	if (!cJSON_Compare(got, w, 1)) {
		char *g = cJSON_PrintUnformatted(got);

		fail_msg("got %s\nwant %s", g, want);
	}
	cJSON_Delete(w);
}

static void proj_eq(const char *text, const char *names, const char *item,
    const char *want)
{
	tc t;
	const rn_expr_proj *p;
	cJSON *it = js(item), *out = NULL;

	tc_open(&t, names, NULL);
	if (rn_expr_parse_projection(t.ctx, text, &p, t.msg) != GT_OK)
		fail_msg("[%s]: %s", text, t.msg);
	assert_int_equal(rn_expr_ctx_check_unused(t.ctx, t.msg), GT_OK);
	assert_int_equal(rn_expr_project(p, it, &out), GT_OK);
	assert_json(out, want);
	cJSON_Delete(out);
	cJSON_Delete(it);
	tc_close(&t);
}

/* Applies an update; want is the resulting item. */
static void upd_ok(const char *text, const char *names, const char *values,
    const char *item, const char *want)
{
	tc t;
	const rn_expr_update *u;
	cJSON *it = js(item);

	tc_open(&t, names, values);
	if (rn_expr_parse_update(t.ctx, text, &u, t.msg) != GT_OK)
		fail_msg("[%s]: %s", text, t.msg);
	if (rn_expr_update_apply(u, it, t.msg) != GT_OK)
		fail_msg("[%s] apply: %s", text, t.msg);
	assert_json(it, want);
	cJSON_Delete(it);
	tc_close(&t);
}

/* Applying must fail with want, leaving the item exactly as it was. */
static void upd_err(const char *text, const char *names, const char *values,
    const char *item, const char *want)
{
	tc t;
	const rn_expr_update *u;
	cJSON *it = js(item);

	tc_open(&t, names, values);
	if (rn_expr_parse_update(t.ctx, text, &u, t.msg) != GT_OK)
		fail_msg("[%s]: %s", text, t.msg);
	assert_int_equal(rn_expr_update_apply(u, it, t.msg), GT_EINVAL);
	assert_string_equal(t.msg, want);
	assert_json(it, item);
	cJSON_Delete(it);
	tc_close(&t);
}

static char *repeat(const char *s, int n, const char *sep)
{
	size_t len = (strlen(s) + strlen(sep)) * (size_t)n + 1;
	char *out = malloc(len);

	assert_non_null(out);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, sep);
		strcat(out, s);
	}
	return out;
}

/* ---------------------------------------------------------------- context */

static void test_ctx_validation(void **state)
{
	char msg[RN_MSG_MAX];
	rn_expr_ctx *ctx = NULL;
	cJSON *n, *v;

	(void)state;
	n = js("{}");
	assert_int_equal(rn_expr_ctx_new(n, NULL, &ctx, msg), GT_EINVAL);
	assert_string_equal(msg, "ExpressionAttributeNames must not be empty");
	cJSON_Delete(n);

	v = js("{}");
	assert_int_equal(rn_expr_ctx_new(NULL, v, &ctx, msg), GT_EINVAL);
	assert_string_equal(msg, "ExpressionAttributeValues must not be empty");
	cJSON_Delete(v);

	n = js("{'a':'x'}");
	assert_int_equal(rn_expr_ctx_new(n, NULL, &ctx, msg), GT_EINVAL);
	assert_string_equal(msg, "ExpressionAttributeNames contains invalid "
	    "key: Syntax error; key: \"a\"");
	cJSON_Delete(n);

	v = js("{'#v':{'S':'x'}}");
	assert_int_equal(rn_expr_ctx_new(NULL, v, &ctx, msg), GT_EINVAL);
	assert_string_equal(msg, "ExpressionAttributeValues contains invalid "
	    "key: Syntax error; key: \"#v\"");
	cJSON_Delete(v);

	v = js("{':v':{'SS':[]}}");
	assert_int_equal(rn_expr_ctx_new(NULL, v, &ctx, msg), GT_EINVAL);
	assert_string_equal(msg, "ExpressionAttributeValues contains invalid "
	    "value: One or more parameter values were invalid: An string set "
	    " may not be empty for key :v");
	cJSON_Delete(v);

	n = js("{'#a':''}");
	assert_int_equal(rn_expr_ctx_new(n, NULL, &ctx, msg), GT_EINVAL);
	assert_string_equal(msg, "ExpressionAttributeNames contains invalid "
	    "value: Empty attribute name for key #a");
	cJSON_Delete(n);

	/* Values are canonicalised in place. */
	v = js("{':v':{'N':'01.50'}}");
	assert_int_equal(rn_expr_ctx_new(NULL, v, &ctx, msg), GT_OK);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(v, ":v"),
	    "N")->valuestring, "1.5");
	rn_expr_ctx_free(ctx);
	cJSON_Delete(v);

	assert_int_equal(rn_expr_ctx_new(NULL, NULL, &ctx, msg), GT_OK);
	assert_int_equal(rn_expr_ctx_check_unused(ctx, msg), GT_OK);
	rn_expr_ctx_free(ctx);
	rn_expr_ctx_free(NULL);
}

static void test_names_values_usage(void **state)
{
	tc t;
	const rn_expr_cond *c;
	const rn_expr_proj *p;

	(void)state;
	/* Undefined names and values. */
	expect_err(K_COND, "#x = :v", "{'#a':'a'}", "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: An expression attribute name used "
	    "in the document path is not defined; attribute name: #x");
	expect_err(K_FILTER, "a = :x", NULL, "{':v':{'N':'1'}}",
	    "Invalid FilterExpression: An expression attribute value used in "
	    "expression is not defined; attribute value: :x");
	expect_err(K_UPD, "SET a = :x", NULL, NULL,
	    "Invalid UpdateExpression: An expression attribute value used in "
	    "expression is not defined; attribute value: :x");

	/* Unused names are reported in request order, before values. */
	tc_open(&t, "{'#a':'a','#b':'b','#c':'c'}", "{':x':{'N':'1'}}");
	assert_int_equal(rn_expr_parse_condition(t.ctx, "ConditionExpression",
	    "#c = :x", &c, t.msg), GT_OK);
	assert_int_equal(rn_expr_ctx_check_unused(t.ctx, t.msg), GT_EINVAL);
	assert_string_equal(t.msg, "Value provided in ExpressionAttributeNames "
	    "unused in expressions: keys: {#a, #b}");
	/* A later expression of the same request uses them. */
	assert_int_equal(rn_expr_parse_projection(t.ctx, "#a, #b", &p, t.msg),
	    GT_OK);
	assert_int_equal(rn_expr_ctx_check_unused(t.ctx, t.msg), GT_OK);
	tc_close(&t);

	tc_open(&t, NULL, "{':x':{'N':'1'},':y':{'N':'2'}}");
	assert_int_equal(rn_expr_parse_condition(t.ctx, "ConditionExpression",
	    "a = :y", &c, t.msg), GT_OK);
	assert_int_equal(rn_expr_ctx_check_unused(t.ctx, t.msg), GT_EINVAL);
	assert_string_equal(t.msg, "Value provided in "
	    "ExpressionAttributeValues unused in expressions: keys: {:x}");
	tc_close(&t);

	/* A #name may hold any text, even dots and reserved words. */
	assert_int_equal(cond_names("#d = :n1 AND #s = :n1",
	    "{'#d':'a.b','#s':'status'}",
	    "{'a.b':{'N':'1'},'status':{'N':'1'}}"), 1);
	assert_int_equal(cond_names("#d = :n1", "{'#d':'a.b'}",
	    "{'a':{'M':{'b':{'N':'1'}}}}"), 0);
	/* Names are case-sensitive. */
	assert_int_equal(cond_names("attribute_exists(N)", NULL,
	    "{'n':{'N':'1'}}"), 0);
}

/* ------------------------------------------------------------- lexing */

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_err(K_KEY, "a x", NULL, NULL,
	    "Invalid KeyConditionExpression: Syntax error; token: \"x\", "
	    "near: \"a x\"");
	expect_err(K_UPD, "SET a", NULL, NULL,
	    "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", "
	    "near: \"SET a\"");
	expect_err(K_UPD, "SET = :val", NULL, "{':val':{'N':'1'}}",
	    "Invalid UpdateExpression: Syntax error; token: \"=\", near: "
	    "\"SET = :val\"");
	expect_err(K_UPD, "SET a = :v,", NULL, "{':v':{'N':'1'}}",
	    "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", "
	    "near: \":v,\"");
	expect_err(K_UPD, "SET a = :v b = :v", NULL, "{':v':{'N':'1'}}",
	    "Invalid UpdateExpression: Syntax error; token: \"b\", near: "
	    "\":v b =\"");
	expect_err(K_UPD, "PUT a = :v", NULL, "{':v':{'N':'1'}}",
	    "Invalid UpdateExpression: Syntax error; token: \"PUT\", near: "
	    "\"PUT a\"");
	expect_err(K_COND, "a = :v!", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Syntax error; token: \"!\", near: "
	    "\":v!\"");
	expect_err(K_COND, "a < b < c", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \"<\", near: "
	    "\"b < c\"");
	expect_err(K_COND, "a", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", "
	    "near: \"a\"");
	expect_err(K_COND, "a = ", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", "
	    "near: \"a =\"");
	expect_err(K_COND, "(a = b", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", "
	    "near: \"= b\"");
	expect_err(K_COND, "a BETWEEN b OR c", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \"OR\", near: "
	    "\"b OR c\"");
	expect_err(K_PROJ, "a..b", NULL, NULL,
	    "Invalid ProjectionExpression: Syntax error; token: \".\", near: "
	    "\"..b\"");
	expect_err(K_PROJ, "a[-1]", NULL, NULL,
	    "Invalid ProjectionExpression: Syntax error; token: \"-\", near: "
	    "\"[-1\"");
	expect_err(K_PROJ, "a[x]", NULL, NULL,
	    "Invalid ProjectionExpression: Syntax error; token: \"x\", near: "
	    "\"[x]\"");
	expect_err(K_PROJ, "1a", NULL, NULL,
	    "Invalid ProjectionExpression: Syntax error; token: \"1\", near: "
	    "\"1a\"");
	expect_err(K_PROJ, "a, #", NULL, NULL,
	    "Invalid ProjectionExpression: Syntax error; token: \"#\", near: "
	    "\", #\"");
	expect_err(K_PROJ, ":v", NULL, "{':v':{'N':'1'}}",
	    "Invalid ProjectionExpression: Syntax error; token: \":v\", "
	    "near: \":v\"");
	/* Grammar words are never attribute names. */
	expect_err(K_COND, "a = AND", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \"AND\", "
	    "near: \"= AND\"");
	/* Whitespace of every kind separates tokens. */
	expect_ok(K_COND, "a\t=\n:v\r\nAND  b <> :v", NULL,
	    "{':v':{'N':'1'}}");
	/* Keywords are case-insensitive. */
	expect_ok(K_COND, "a between :v and :v Or not b In (:v)", NULL,
	    "{':v':{'N':'1'}}");
	expect_ok(K_UPD, "set a = :v remove b add c :v delete d :s", NULL,
	    "{':v':{'N':'1'},':s':{'SS':['x']}}");
}

static void test_empty_and_limits(void **state)
{
	char *s, *t;
	char buf[8192];

	(void)state;
	expect_err(K_COND, "", NULL, NULL,
	    "Invalid ConditionExpression: The expression can not be empty;");
	expect_err(K_UPD, "  \t ", NULL, NULL,
	    "Invalid UpdateExpression: The expression can not be empty;");
	expect_err(K_PROJ, "", NULL, NULL,
	    "Invalid ProjectionExpression: The expression can not be empty;");
	expect_err(K_KEY, "", NULL, NULL,
	    "Invalid KeyConditionExpression: The expression can not be "
	    "empty;");

	/* 4 KB per expression: 4096 bytes is fine, 4097 is not. */
	memset(buf, 'a', 4096);
	buf[4096] = '\0';
	expect_ok(K_PROJ, buf, NULL, NULL);
	buf[4096] = 'a';
	buf[4097] = '\0';
	expect_err(K_PROJ, buf, NULL, NULL,
	    "Invalid ProjectionExpression: Expression size has exceeded the "
	    "maximum allowed size; expression size: 4097");

	/* Document paths: 32 levels. */
	s = repeat("a", 32, ".");
	expect_ok(K_PROJ, s, NULL, NULL);
	free(s);
	s = repeat("a", 33, ".");
	expect_err(K_PROJ, s, NULL, NULL,
	    "Invalid ProjectionExpression: The document path has too many "
	    "nesting levels; nesting levels: 33");
	free(s);
	expect_ok(K_PROJ, "a[2147483647]", NULL, NULL);
	expect_err(K_PROJ, "a[2147483648]", NULL, NULL,
	    "Invalid ProjectionExpression: List index is not within the "
	    "allowable range; index: [2147483648]");

	/* Parenthesis and NOT nesting. */
	s = repeat("(", 64, "");
	t = repeat(")", 64, "");
	snprintf(buf, sizeof(buf), "%sa = b%s", s, t);
	expect_ok(K_COND, buf, NULL, NULL);
	snprintf(buf, sizeof(buf), "(%sa = b%s)", s, t);
	expect_err(K_COND, buf, NULL, NULL,
	    "Invalid ConditionExpression: The expression has too many levels "
	    "of nesting; maximum: 64");
	free(s);
	free(t);
	s = repeat("NOT", 65, " ");
	snprintf(buf, sizeof(buf), "%s a = b", s);
	expect_err(K_COND, buf, NULL, NULL,
	    "Invalid ConditionExpression: The expression has too many levels "
	    "of nesting; maximum: 64");
	free(s);

	/* 300 operators: 150 comparisons and 149 ANDs pass, one more fails. */
	s = repeat("a = b", 150, " AND ");
	expect_ok(K_COND, s, NULL, NULL);
	free(s);
	s = repeat("a = b", 151, " AND ");
	expect_err(K_COND, s, NULL, NULL,
	    "Invalid ConditionExpression: The expression contains too many "
	    "operators; operator count: 301");
	free(s);

	/* IN takes 1 to 100 operands. */
	s = repeat(":v", 100, ",");
	snprintf(buf, sizeof(buf), "a IN (%s)", s);
	expect_ok(K_COND, buf, NULL, "{':v':{'N':'1'}}");
	free(s);
	s = repeat(":v", 101, ",");
	snprintf(buf, sizeof(buf), "a IN (%s)", s);
	expect_err(K_COND, buf, NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: The IN operator is provided with "
	    "too many operands; number of operands: 101");
	free(s);
	expect_err(K_COND, "a IN ()", NULL, NULL,
	    "Invalid ConditionExpression: Syntax error; token: \")\", near: "
	    "\"()\"");
}

static void test_reserved_words(void **state)
{
	static const char *const words[] = {"ABORT", "status", "Size",
	    "zone", "LOCALTIMESTAMP", "flattern", "ttl", "name", "value",
	    "data", "comment", "user", "Date", "count", "key"};
	char text[64], want[256];

	(void)state;
	expect_err(K_PROJ, "status", NULL, NULL,
	    "Invalid ProjectionExpression: Attribute name is a reserved "
	    "keyword; reserved keyword: status");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(text, sizeof(text), "a.%s", words[i]);
		snprintf(want, sizeof(want), "Invalid ProjectionExpression: "
		    "Attribute name is a reserved keyword; reserved keyword: "
		    "%s", words[i]);
		expect_err(K_PROJ, text, NULL, NULL, want);
	}
	expect_err(K_UPD, "SET #a = :v, Year = :v", "{'#a':'a'}",
	    "{':v':{'N':'1'}}",
	    "Invalid UpdateExpression: Attribute name is a reserved keyword; "
	    "reserved keyword: Year");
	expect_err(K_KEY, "pk = :v AND Timestamp > :v", NULL,
	    "{':v':{'N':'1'}}",
	    "Invalid KeyConditionExpression: Attribute name is a reserved "
	    "keyword; reserved keyword: Timestamp");
	expect_err(K_FILTER, "size(#a) > :v AND attribute_exists(items)",
	    "{'#a':'a'}", "{':v':{'N':'1'}}",
	    "Invalid FilterExpression: Attribute name is a reserved keyword; "
	    "reserved keyword: items");
	/* Not reserved: near misses, and REMOVE, which DynamoDB's list
	 * lacks. */
	expect_ok(K_PROJ, "statuses, abort_, zones, a1, _x, remove_me", NULL,
	    NULL);
	/* #names shield reserved words. */
	proj_eq("#s", "{'#s':'status'}", "{'status':{'S':'ok'}}",
	    "{'status':{'S':'ok'}}");
}

/* ------------------------------------------------------------- projection */

static void test_projection(void **state)
{
	const char *item =
	    "{'a':{'M':{'b':{'N':'1'},'c':{'L':[{'S':'x'},{'S':'y'},"
	    "{'M':{'d':{'S':'z'},'e':{'N':'2'}}}]}}},'n':{'N':'5'},"
	    "'l':{'L':[{'N':'0'},{'N':'1'},{'N':'2'},{'N':'3'}]}}";

	(void)state;
	proj_eq("n", NULL, item, "{'n':{'N':'5'}}");
	proj_eq("a.b, n", NULL, item, "{'a':{'M':{'b':{'N':'1'}}},"
	    "'n':{'N':'5'}}");
	proj_eq("a.c[2].d, a.c[0], a.b", NULL, item,
	    "{'a':{'M':{'b':{'N':'1'},'c':{'L':[{'S':'x'},"
	    "{'M':{'d':{'S':'z'}}}]}}}}");
	/* Elements keep their relative order whatever the text order. */
	proj_eq("l[3], l[0], l[2]", NULL, item,
	    "{'l':{'L':[{'N':'0'},{'N':'2'},{'N':'3'}]}}");
	/* Out of range and wrong-type steps select nothing. */
	proj_eq("l[9], a.b.c, n[0], zz, l[1]", NULL, item,
	    "{'l':{'L':[{'N':'1'}]}}");
	proj_eq("a.zz, l[7]", NULL, item, "{}");
	proj_eq("#a.#b", "{'#a':'a','#b':'b'}", item,
	    "{'a':{'M':{'b':{'N':'1'}}}}");
	proj_eq("n, l", NULL, item, "{'n':{'N':'5'},'l':{'L':[{'N':'0'},"
	    "{'N':'1'},{'N':'2'},{'N':'3'}]}}");
	proj_eq("a.c[2].e, a.c[2].d", NULL, item,
	    "{'a':{'M':{'c':{'L':[{'M':{'d':{'S':'z'},'e':{'N':'2'}}}]}}}}");
	/* No item: an empty projection. */
	proj_eq("a, b", NULL, NULL, "{}");

	expect_err(K_PROJ, "a.b, a", NULL, NULL,
	    "Invalid ProjectionExpression: Two document paths overlap with "
	    "each other; must remove or rewrite one of these paths; path one: "
	    "[a, b], path two: [a]");
	expect_err(K_PROJ, "a, a", NULL, NULL,
	    "Invalid ProjectionExpression: Two document paths overlap with "
	    "each other; must remove or rewrite one of these paths; path one: "
	    "[a], path two: [a]");
	expect_err(K_PROJ, "x, #a[1].b, a[1]", "{'#a':'a'}", NULL,
	    "Invalid ProjectionExpression: Two document paths overlap with "
	    "each other; must remove or rewrite one of these paths; path one: "
	    "[a, [1], b], path two: [a, [1]]");
	expect_err(K_PROJ, "a.b, a[0]", NULL, NULL,
	    "Invalid ProjectionExpression: Two document paths conflict with "
	    "each other; must remove or rewrite one of these paths; path one: "
	    "[a, b], path two: [a, [0]]");
	expect_ok(K_PROJ, "a[1], a[2], b[1].c, b[2].c, b[3][0]", NULL, NULL);
}

/* ------------------------------------------------------------- conditions */

static void test_comparisons(void **state)
{
	(void)state;
	/* Numbers compare numerically. */
	assert_int_equal(cond("n = :n5"), 1);
	assert_int_equal(cond("n = :n50"), 1);
	assert_int_equal(cond("n <> :n4"), 1);
	assert_int_equal(cond("n <> :n5"), 0);
	assert_int_equal(cond("n < :n6"), 1);
	assert_int_equal(cond("n < :n5"), 0);
	assert_int_equal(cond("n <= :n5"), 1);
	assert_int_equal(cond("n <= :n4"), 0);
	assert_int_equal(cond("n > :n4"), 1);
	assert_int_equal(cond("n > :n5"), 0);
	assert_int_equal(cond("n >= :n5"), 1);
	assert_int_equal(cond("n >= :n6"), 0);
	assert_int_equal(cond(":n6 > n"), 1);
	assert_int_equal(cond("ns = ns"), 1);
	/* Strings bytewise, binaries on the bytes. */
	assert_int_equal(cond("s > :he"), 1);
	assert_int_equal(cond("s < :he"), 0);
	assert_int_equal(cond("s = :s"), 1);
	assert_int_equal(cond("b > :b0102"), 1);
	assert_int_equal(cond("b < :b02"), 1);
	/* Different types: false, and <> true. */
	assert_int_equal(cond("n = :s"), 0);
	assert_int_equal(cond("n < :s"), 0);
	assert_int_equal(cond("n > :s"), 0);
	assert_int_equal(cond("n <> :s"), 1);
	/* Non-scalar ordering is false; equality is deep. */
	assert_int_equal(cond("l < :lv"), 0);
	assert_int_equal(cond("l = :lv"), 1);
	assert_int_equal(cond("l[2] = :mv"), 1);
	assert_int_equal(cond("ss = :ssv"), 1);
	assert_int_equal(cond("t = :true"), 1);
	/* Absent attributes: comparisons false, <> true. */
	assert_int_equal(cond("nope = :n5"), 0);
	assert_int_equal(cond("nope < :n5"), 0);
	assert_int_equal(cond("nope >= nope"), 0);
	assert_int_equal(cond("nope <> :n5"), 1);
	assert_int_equal(cond_names("n = :n5", NULL, NULL), 0);
	assert_int_equal(cond_names("n <> :n5", NULL, NULL), 1);
	/* Paths into maps and lists. */
	assert_int_equal(cond("m.x = :n1"), 1);
	assert_int_equal(cond("l[1] = :n2"), 1);
	assert_int_equal(cond("l[2].k = l[2].k"), 1);
	assert_int_equal(cond("l[3] = :n2"), 0);
	assert_int_equal(cond("m[0] = :n1"), 0);
	assert_int_equal(cond("l.x = :n1"), 0);
}

static void test_between_in(void **state)
{
	(void)state;
	assert_int_equal(cond("n BETWEEN :n4 AND :n6"), 1);
	assert_int_equal(cond("n BETWEEN :n5 AND :n5"), 1);
	assert_int_equal(cond("n BETWEEN :n6 AND :n7"), 0);
	assert_int_equal(cond("n BETWEEN :n1 AND :n4"), 0);
	assert_int_equal(cond("s BETWEEN :he AND :x"), 1);
	assert_int_equal(cond("s BETWEEN :n1 AND :n7"), 0);
	assert_int_equal(cond("nope BETWEEN :n1 AND :n7"), 0);
	assert_int_equal(cond("n IN (:n1, :n50)"), 1);
	assert_int_equal(cond("n IN (:n1, :n2, :s)"), 0);
	assert_int_equal(cond("s IN (:s)"), 1);
	assert_int_equal(cond("nope IN (:s)"), 0);
	assert_int_equal(cond("n IN (m.x, n)"), 1);

	expect_err(K_COND, "n BETWEEN :n5 AND :n1", NULL, VALS,
	    "Invalid ConditionExpression: The BETWEEN operator requires upper "
	    "bound to be greater than or equal to lower bound; lower bound "
	    "operand: AttributeValue: {N:5}, upper bound operand: "
	    "AttributeValue: {N:1}");
	expect_err(K_COND, "n BETWEEN :n1 AND :s", NULL, VALS,
	    "Invalid ConditionExpression: The BETWEEN operator requires same "
	    "data type for lower and upper bounds; lower bound operand: "
	    "AttributeValue: {N:1}, upper bound operand: AttributeValue: "
	    "{S:hello}");
	expect_err(K_FILTER, "s BETWEEN :x AND :a", NULL, VALS,
	    "Invalid FilterExpression: The BETWEEN operator requires upper "
	    "bound to be greater than or equal to lower bound; lower bound "
	    "operand: AttributeValue: {S:x}, upper bound operand: "
	    "AttributeValue: {S:a}");
}

static void test_functions(void **state)
{
	(void)state;
	assert_int_equal(cond("attribute_exists(n)"), 1);
	assert_int_equal(cond("attribute_exists(m.x)"), 1);
	assert_int_equal(cond("attribute_exists(l[5])"), 0);
	assert_int_equal(cond("attribute_not_exists(l[5])"), 1);
	assert_int_equal(cond("attribute_not_exists(n)"), 0);
	assert_int_equal(cond_names("attribute_not_exists(n)", NULL, NULL), 1);

	assert_int_equal(cond("attribute_type(s, :tS)"), 1);
	assert_int_equal(cond("attribute_type(s, :tN)"), 0);
	assert_int_equal(cond("attribute_type(n, :tN)"), 1);
	assert_int_equal(cond("attribute_type(m, :tM)"), 1);
	assert_int_equal(cond("attribute_type(l, :tL)"), 1);
	assert_int_equal(cond("attribute_type(ss, :tSS)"), 1);
	assert_int_equal(cond("attribute_type(ns, :tNS)"), 1);
	assert_int_equal(cond("attribute_type(bs, :tBS)"), 1);
	assert_int_equal(cond("attribute_type(b, :tB)"), 1);
	assert_int_equal(cond("attribute_type(t, :tBOOL)"), 1);
	assert_int_equal(cond("attribute_type(z, :tNULL)"), 1);
	assert_int_equal(cond("attribute_type(nope, :tS)"), 0);

	assert_int_equal(cond("begins_with(s, :he)"), 1);
	assert_int_equal(cond("begins_with(s, :ll)"), 0);
	assert_int_equal(cond("begins_with(s, :e)"), 1);
	assert_int_equal(cond("begins_with(b, :b0102)"), 1);
	assert_int_equal(cond("begins_with(b, :b02)"), 0);
	assert_int_equal(cond("begins_with(n, :he)"), 0);
	assert_int_equal(cond("begins_with(:s, :he)"), 1);
	assert_int_equal(cond("begins_with(nope, :he)"), 0);

	assert_int_equal(cond("contains(s, :ll)"), 1);
	assert_int_equal(cond("contains(s, :x)"), 0);
	assert_int_equal(cond("contains(ss, :a)"), 1);
	assert_int_equal(cond("contains(ss, :c)"), 0);
	assert_int_equal(cond("contains(ns, :n25)"), 1);
	assert_int_equal(cond("contains(ns, :n2)"), 0);
	assert_int_equal(cond("contains(bs, :b02)"), 1);
	assert_int_equal(cond("contains(bs, :b0102)"), 0);
	assert_int_equal(cond("contains(l, :n2)"), 1);
	assert_int_equal(cond("contains(l, :mv)"), 1);
	assert_int_equal(cond("contains(l, :c)"), 0);
	assert_int_equal(cond("contains(ss, :n1)"), 0);
	assert_int_equal(cond("contains(m, :x)"), 0);
	assert_int_equal(cond("contains(nope, :x)"), 0);

	/* size: characters of S, bytes of B, members of sets, M, L. */
	assert_int_equal(cond("size(s) = :n5"), 1);
	assert_int_equal(cond("size(u) = :n5"), 1);
	assert_int_equal(cond("size(b) = :n3"), 1);
	assert_int_equal(cond("size(ss) = :n2"), 1);
	assert_int_equal(cond("size(ns) = :n2"), 1);
	assert_int_equal(cond("size(bs) = :n2"), 1);
	assert_int_equal(cond("size(m) = :n2"), 1);
	assert_int_equal(cond("size(l) = :n3"), 1);
	assert_int_equal(cond("size(l) > size(m)"), 1);
	assert_int_equal(cond("size(l[2]) = :n1"), 1);
	assert_int_equal(cond("size(e) < :n1"), 1);
	assert_int_equal(cond("size(n) = :n1"), 0);
	assert_int_equal(cond("size(nope) = :n1"), 0);
	assert_int_equal(cond("size(nope) <> :n1"), 1);
	assert_int_equal(cond("size(s) BETWEEN :n4 AND :n6"), 1);
	assert_int_equal(cond("size(s) IN (:n1, :n5)"), 1);
}

static void test_function_errors(void **state)
{
	(void)state;
	expect_err(K_COND, "foo(a)", NULL, NULL,
	    "Invalid ConditionExpression: Invalid function name; function: "
	    "foo");
	expect_err(K_COND, "Size(a) > :v", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Invalid function name; function: "
	    "Size");
	expect_err(K_COND, "size(a, b) > :v", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Incorrect number of operands for "
	    "operator or function; operator or function: size, number of "
	    "operands: 2");
	expect_err(K_COND, "attribute_exists()", NULL, NULL,
	    "Invalid ConditionExpression: Incorrect number of operands for "
	    "operator or function; operator or function: attribute_exists, "
	    "number of operands: 0");
	expect_err(K_COND, "begins_with(a, b, c, d, e, f, g, h, i, j)", NULL,
	    NULL,
	    "Invalid ConditionExpression: Incorrect number of operands for "
	    "operator or function; operator or function: begins_with, number "
	    "of operands: 10");
	expect_err(K_COND, "attribute_exists(:v)", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Operator or function requires a "
	    "document path; operator or function: attribute_exists");
	expect_err(K_COND, "size(:v) > :v", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Operator or function requires a "
	    "document path; operator or function: size");
	expect_err(K_COND, "attribute_exists(a) = :v", NULL,
	    "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: The function is not allowed to be "
	    "used this way in an expression; function: attribute_exists");
	expect_err(K_COND, ":v = contains(a, :v)", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: The function is not allowed to be "
	    "used this way in an expression; function: contains");
	expect_err(K_COND, "size(a)", NULL, NULL,
	    "Invalid ConditionExpression: The function is not allowed to be "
	    "used this way in an expression; function: size");
	expect_err(K_COND, "contains(size(a), :v)", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: The function is not allowed to be "
	    "used this way in an expression; function: size");
	expect_err(K_COND, "if_not_exists(a, :v) = :v", NULL,
	    "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: The function is not allowed in a "
	    "condition expression; function: if_not_exists");
	expect_err(K_UPD, "SET a = size(b)", NULL, NULL,
	    "Invalid UpdateExpression: The function is not allowed in an "
	    "update expression; function: size");
	expect_err(K_COND, "begins_with(a, :v)", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Incorrect operand type for operator "
	    "or function; operator or function: begins_with, operand type: N");
	expect_err(K_COND, "attribute_type(a, :v)", NULL, "{':v':{'N':'1'}}",
	    "Invalid ConditionExpression: Incorrect operand type for operator "
	    "or function; operator or function: attribute_type, operand type: "
	    "N");
	expect_err(K_COND, "attribute_type(a, :v)", NULL, "{':v':{'S':'X'}}",
	    "Invalid ConditionExpression: Invalid attribute type name found; "
	    "type: X, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }");
	expect_err(K_UPD, "SET a = list_append(a, :v)", NULL,
	    "{':v':{'S':'x'}}",
	    "Invalid UpdateExpression: Incorrect operand type for operator or "
	    "function; operator or function: list_append, operand type: S");
	expect_err(K_UPD, "SET a = if_not_exists(:v, :v)", NULL,
	    "{':v':{'N':'1'}}",
	    "Invalid UpdateExpression: Operator or function requires a "
	    "document path; operator or function: if_not_exists");
}

static void test_logic_precedence(void **state)
{
	(void)state;
	/* T and F are true and false leaves. */
#define T "attribute_exists(n)"
#define F "attribute_exists(nope)"
	assert_int_equal(cond(T " AND " T), 1);
	assert_int_equal(cond(T " AND " F), 0);
	assert_int_equal(cond(F " OR " T), 1);
	assert_int_equal(cond(F " OR " F), 0);
	assert_int_equal(cond("NOT " F), 1);
	assert_int_equal(cond("NOT NOT " T), 1);
	/* AND binds tighter than OR: T OR (T AND F), not (T OR T) AND F. */
	assert_int_equal(cond(T " OR " T " AND " F), 1);
	assert_int_equal(cond(F " AND " T " OR " T), 1);
	assert_int_equal(cond("(" T " OR " T ") AND " F), 0);
	/* NOT binds tighter than AND: (NOT F) AND F. */
	assert_int_equal(cond("NOT " F " AND " F), 0);
	assert_int_equal(cond("NOT (" F " AND " F ")"), 1);
	/* NOT binds tighter than OR too. */
	assert_int_equal(cond("NOT " T " OR " T), 1);
	assert_int_equal(cond("NOT (" T " OR " T ")"), 0);
	/* Comparisons bind tighter than NOT/AND/OR. */
	assert_int_equal(cond("NOT n = :n4 AND n BETWEEN :n1 AND :n6 OR "
	    "s = :x"), 1);
	assert_int_equal(cond("((n = :n5)) AND (((" T ")))"), 1);
	assert_int_equal(cond("(NOT (n < :n1)) AND NOT (s IN (:x, :a))"), 1);
#undef T
#undef F
}

/* ----------------------------------------------------------------- update */

#define UV                                                                 \
	"{':one':{'N':'1'},':x':{'S':'x'},':l':{'L':[{'N':'9'}]},"            \
	"':ss':{'SS':['c','a']},':ns':{'NS':['1','7']},':p1':{'N':'0.1'},"    \
	"':p2':{'N':'0.2'},':big':{'N':'9E+125'},':m':{'M':{}},"              \
	"':bs':{'BS':['AQ==']},':e':{'L':[]}}"

static void test_update_set(void **state)
{
	(void)state;
	upd_ok("SET a = :x", NULL, UV, "{}", "{'a':{'S':'x'}}");
	upd_ok("SET a = :x", NULL, UV, "{'a':{'N':'1'}}", "{'a':{'S':'x'}}");
	upd_ok("SET #a = :x", "{'#a':'a b'}", UV, "{}",
	    "{'a b':{'S':'x'}}");
	upd_ok("SET m.k = :x", NULL, UV, "{'m':{'M':{}}}",
	    "{'m':{'M':{'k':{'S':'x'}}}}");
	upd_ok("SET m.k.j = :x", NULL, UV, "{'m':{'M':{'k':{'M':{'j':"
	    "{'N':'1'},'i':{'N':'2'}}}}}}",
	    "{'m':{'M':{'k':{'M':{'j':{'S':'x'},'i':{'N':'2'}}}}}}");
	/* A list index replaces; past the end appends. */
	upd_ok("SET l[1] = :x", NULL, UV,
	    "{'l':{'L':[{'N':'0'},{'N':'1'},{'N':'2'}]}}",
	    "{'l':{'L':[{'N':'0'},{'S':'x'},{'N':'2'}]}}");
	upd_ok("SET l[10] = :x, l[11] = :one", NULL, UV,
	    "{'l':{'L':[{'N':'0'}]}}",
	    "{'l':{'L':[{'N':'0'},{'S':'x'},{'N':'1'}]}}");
	/* Arithmetic is exact decimal. */
	upd_ok("SET n = n + :one", NULL, UV, "{'n':{'N':'41'}}",
	    "{'n':{'N':'42'}}");
	upd_ok("SET n = n - :one", NULL, UV, "{'n':{'N':'1'}}",
	    "{'n':{'N':'0'}}");
	upd_ok("SET n = :p1 + :p2", NULL, UV, "{}", "{'n':{'N':'0.3'}}");
	upd_ok("SET n = :p1 - :p2", NULL, UV, "{}", "{'n':{'N':'-0.1'}}");
	upd_ok("SET c = if_not_exists(c, :one)", NULL, UV, "{}",
	    "{'c':{'N':'1'}}");
	upd_ok("SET c = if_not_exists(c, :one)", NULL, UV,
	    "{'c':{'N':'5'}}", "{'c':{'N':'5'}}");
	upd_ok("SET c = if_not_exists(c, :one) + :one", NULL, UV, "{}",
	    "{'c':{'N':'2'}}");
	upd_ok("SET l = list_append(l, :l)", NULL, UV,
	    "{'l':{'L':[{'N':'0'}]}}", "{'l':{'L':[{'N':'0'},{'N':'9'}]}}");
	upd_ok("SET l = list_append(:l, l)", NULL, UV,
	    "{'l':{'L':[{'N':'0'}]}}", "{'l':{'L':[{'N':'9'},{'N':'0'}]}}");
	upd_ok("SET l = list_append(if_not_exists(l, :e), :l)", NULL, UV,
	    "{}", "{'l':{'L':[{'N':'9'}]}}");
	/* Copying a path; every operand sees the item before the update. */
	upd_ok("SET a = b, b = a", NULL, UV,
	    "{'a':{'N':'1'},'b':{'M':{'k':{'S':'v'}}}}",
	    "{'a':{'M':{'k':{'S':'v'}}},'b':{'N':'1'}}");
	upd_ok("SET a = :x, b = a", NULL, UV, "{'a':{'N':'1'}}",
	    "{'a':{'S':'x'},'b':{'N':'1'}}");
	upd_ok("SET l[0] = m.k", NULL, UV,
	    "{'l':{'L':[{'N':'0'}]},'m':{'M':{'k':{'S':'v'}}}}",
	    "{'l':{'L':[{'S':'v'}]},'m':{'M':{'k':{'S':'v'}}}}");
	upd_ok("SET m.y = l[0]", NULL, UV,
	    "{'l':{'L':[{'N':'0'}]},'m':{'M':{'k':{'S':'v'}}}}",
	    "{'l':{'L':[{'N':'0'}]},'m':{'M':{'k':{'S':'v'},'y':{'N':'0'}}}}");
}

static void test_update_set_errors(void **state)
{
	(void)state;
	upd_err("SET a.b = :x", NULL, UV, "{'n':{'N':'1'}}",
	    "The document path provided in the update expression is invalid "
	    "for update");
	upd_err("SET n.b = :x", NULL, UV, "{'n':{'N':'1'}}",
	    "The document path provided in the update expression is invalid "
	    "for update");
	upd_err("SET n[0] = :x", NULL, UV, "{'n':{'N':'1'}}",
	    "The document path provided in the update expression is invalid "
	    "for update");
	upd_err("SET m.a.b = :x", NULL, UV, "{'m':{'M':{}}}",
	    "The document path provided in the update expression is invalid "
	    "for update");
	upd_err("SET n = n + :x", NULL, UV, "{'n':{'N':'1'}}",
	    "An operand in the update expression has an incorrect data type");
	upd_err("SET n = s - :one", NULL, UV, "{'s':{'S':'1'}}",
	    "An operand in the update expression has an incorrect data type");
	upd_err("SET n = nope + :one", NULL, UV, "{'n':{'N':'1'}}",
	    "The provided expression refers to an attribute that does not "
	    "exist in the item");
	upd_err("SET a = b", NULL, UV, "{'a':{'N':'1'}}",
	    "The provided expression refers to an attribute that does not "
	    "exist in the item");
	upd_err("SET l = list_append(l, :l)", NULL, UV, "{'l':{'N':'1'}}",
	    "An operand in the update expression has an incorrect data type");
	upd_err("SET n = :big + :big", NULL, UV, "{}",
	    "Number overflow. Attempting to store a number with magnitude "
	    "larger than supported range");
	/* An error in a later action leaves earlier actions undone. */
	upd_err("SET a = :x, b.c = :x REMOVE d", NULL, UV,
	    "{'a':{'N':'1'},'d':{'N':'2'}}",
	    "The document path provided in the update expression is invalid "
	    "for update");
	expect_err(K_UPD, "SET a = b + c + d", NULL, NULL,
	    "Invalid UpdateExpression: Syntax error; token: \"+\", near: "
	    "\"c + d\"");
}

static void test_update_remove_add_delete(void **state)
{
	(void)state;
	upd_ok("REMOVE a, b, nope, m.nope, m.x.y", NULL, NULL,
	    "{'a':{'N':'1'},'b':{'N':'2'},'c':{'N':'3'},'m':{'M':{}}}",
	    "{'c':{'N':'3'},'m':{'M':{}}}");
	upd_ok("REMOVE m.k", NULL, NULL,
	    "{'m':{'M':{'k':{'N':'1'},'j':{'N':'2'}}}}",
	    "{'m':{'M':{'j':{'N':'2'}}}}");
	/* Indexes refer to the list before any removal. */
	upd_ok("REMOVE l[0], l[2], l[9]", NULL, NULL,
	    "{'l':{'L':[{'N':'0'},{'N':'1'},{'N':'2'},{'N':'3'}]}}",
	    "{'l':{'L':[{'N':'1'},{'N':'3'}]}}");
	upd_ok("REMOVE l[1].k", NULL, NULL,
	    "{'l':{'L':[{'N':'0'},{'M':{'k':{'N':'1'}}}]}}",
	    "{'l':{'L':[{'N':'0'},{'M':{}}]}}");

	upd_ok("ADD n :one", NULL, UV, "{'n':{'N':'-1'}}", "{'n':{'N':'0'}}");
	upd_ok("ADD n :one", NULL, UV, "{}", "{'n':{'N':'1'}}");
	upd_ok("ADD s :ss", NULL, UV, "{'s':{'SS':['a','b']}}",
	    "{'s':{'SS':['a','b','c']}}");
	upd_ok("ADD s :ss", NULL, UV, "{}", "{'s':{'SS':['c','a']}}");
	upd_ok("ADD s :ns", NULL, UV, "{'s':{'NS':['1.0','2']}}",
	    "{'s':{'NS':['1.0','2','7']}}");
	upd_ok("ADD m.c :one", NULL, UV, "{'m':{'M':{}}}",
	    "{'m':{'M':{'c':{'N':'1'}}}}");
	upd_err("ADD s :ss", NULL, UV, "{'s':{'NS':['1']}}",
	    "An operand in the update expression has an incorrect data type");
	upd_err("ADD s :one", NULL, UV, "{'s':{'S':'1'}}",
	    "An operand in the update expression has an incorrect data type");
	upd_err("ADD m.a.b :one", NULL, UV, "{'m':{'M':{}}}",
	    "The document path provided in the update expression is invalid "
	    "for update");
	upd_err("ADD n :one", NULL, UV, "{'n':{'N':'9E+125'}}",
	    "Attempting to store more than 38 significant digits in a "
	    "Number");
	upd_err("ADD n :big", NULL, UV, "{'n':{'N':'9E+125'}}",
	    "Number overflow. Attempting to store a number with magnitude "
	    "larger than supported range");

	upd_ok("DELETE s :ss", NULL, UV, "{'s':{'SS':['a','b']}}",
	    "{'s':{'SS':['b']}}");
	upd_ok("DELETE s :ns", NULL, UV, "{'s':{'NS':['1.00','2']}}",
	    "{'s':{'NS':['2']}}");
	upd_ok("DELETE s :bs", NULL, UV, "{'s':{'BS':['AQ==']}, 'x':{'N':'1'}}",
	    "{'x':{'N':'1'}}");
	upd_ok("DELETE s :ss", NULL, UV, "{'s':{'SS':['a','c']}}", "{}");
	upd_ok("DELETE nope :ss", NULL, UV, "{}", "{}");
	upd_err("DELETE s :ss", NULL, UV, "{'s':{'NS':['1']}}",
	    "An operand in the update expression has an incorrect data type");

	expect_err(K_UPD, "ADD a :x", NULL, UV,
	    "Invalid UpdateExpression: Incorrect operand type for operator or "
	    "function; operator: ADD, operand type: STRING");
	expect_err(K_UPD, "ADD a :l", NULL, UV,
	    "Invalid UpdateExpression: Incorrect operand type for operator or "
	    "function; operator: ADD, operand type: LIST");
	expect_err(K_UPD, "DELETE a :one", NULL, UV,
	    "Invalid UpdateExpression: Incorrect operand type for operator or "
	    "function; operator: DELETE, operand type: NUMBER");
	expect_err(K_UPD, "ADD a b", NULL, UV,
	    "Invalid UpdateExpression: Syntax error; token: \"b\", near: "
	    "\"a b\"");
}

static void test_update_clauses(void **state)
{
	tc t;
	const rn_expr_update *u;
	cJSON *it, *out;

	(void)state;
	/* Any order, each at most once. */
	upd_ok("DELETE s :ss REMOVE r ADD n :one SET a = :x", NULL, UV,
	    "{'s':{'SS':['a','b']},'r':{'N':'1'}}",
	    "{'s':{'SS':['b']},'n':{'N':'1'},'a':{'S':'x'}}");
	expect_err(K_UPD, "SET a = :x SET b = :x", NULL, UV,
	    "Invalid UpdateExpression: The \"SET\" section can only be used "
	    "once in an update expression;");
	expect_err(K_UPD, "REMOVE a set b = :x remove c", NULL, UV,
	    "Invalid UpdateExpression: The \"REMOVE\" section can only be "
	    "used once in an update expression;");
	expect_err(K_UPD, "SET a = :x REMOVE a", NULL, UV,
	    "Invalid UpdateExpression: Two document paths overlap with each "
	    "other; must remove or rewrite one of these paths; path one: [a], "
	    "path two: [a]");
	expect_err(K_UPD, "SET a.b = :x ADD a :one", NULL, UV,
	    "Invalid UpdateExpression: Two document paths overlap with each "
	    "other; must remove or rewrite one of these paths; path one: "
	    "[a, b], path two: [a]");
	expect_err(K_UPD, "SET a[1] = :x REMOVE a.b", NULL, UV,
	    "Invalid UpdateExpression: Two document paths conflict with each "
	    "other; must remove or rewrite one of these paths; path one: "
	    "[a, [1]], path two: [a, b]");
	expect_ok(K_UPD, "SET a[1] = :x REMOVE a[2], b.c", NULL, UV);

	/* touches() and the projection of updated paths. */
	tc_open(&t, "{'#k':'id'}", UV);
	assert_int_equal(rn_expr_parse_update(t.ctx,
	    "SET m.k = :x, n = n + :one REMOVE l[1]", &u, t.msg), GT_OK);
	assert_int_equal(rn_expr_update_touches(u, "m"), 1);
	assert_int_equal(rn_expr_update_touches(u, "n"), 1);
	assert_int_equal(rn_expr_update_touches(u, "l"), 1);
	assert_int_equal(rn_expr_update_touches(u, "k"), 0);
	assert_int_equal(rn_expr_update_touches(u, "id"), 0);
	it = js("{'id':{'S':'1'},'n':{'N':'1'},'m':{'M':{'j':{'N':'1'},"
	    "'k':{'N':'0'}}},'l':{'L':[{'N':'0'},{'N':'1'}]}}");
	assert_int_equal(rn_expr_update_project(u, it, &out), GT_OK);
	assert_json(out, "{'n':{'N':'1'},'m':{'M':{'k':{'N':'0'}}},"
	    "'l':{'L':[{'N':'1'}]}}");
	cJSON_Delete(out);
	assert_int_equal(rn_expr_update_apply(u, it, t.msg), GT_OK);
	assert_int_equal(rn_expr_update_project(u, it, &out), GT_OK);
	assert_json(out, "{'n':{'N':'2'},'m':{'M':{'k':{'S':'x'}}}}");
	cJSON_Delete(out);
	assert_int_equal(rn_expr_update_project(u, NULL, &out), GT_OK);
	assert_json(out, "{}");
	cJSON_Delete(out);
	cJSON_Delete(it);
	assert_int_equal(rn_expr_parse_update(t.ctx, "REMOVE #k.x", &u,
	    t.msg), GT_OK);
	assert_int_equal(rn_expr_update_touches(u, "id"), 1);
	tc_close(&t);
}

/* ---------------------------------------------------------- key condition */

static void kc_ok(const char *text, const char *range, rn_kc_op op,
    const char *v1, const char *v2)
{
	tc t;
	rn_keycond kc;

	tc_open(&t, "{'#p':'pk','#s':'sk'}",
	    "{':p':{'S':'P'},':a':{'N':'1'},':b':{'N':'2'},':s':{'S':'pre'}}");
	if (rn_expr_parse_keycond(t.ctx, text, "pk", range, &kc, t.msg) !=
	    GT_OK)
		fail_msg("[%s]: %s", text, t.msg);
	assert_string_equal(kc.hash_name, "pk");
	assert_json(kc.hash_value, "{'S':'P'}");
	assert_int_equal(kc.range_op, op);
	if (op == RN_KC_NONE) {
		assert_null(kc.range_name);
		assert_null(kc.range_v1);
	} else {
		assert_string_equal(kc.range_name, "sk");
		assert_json(kc.range_v1, v1);
	}
	if (v2 != NULL)
		assert_json(kc.range_v2, v2);
	else
		assert_null(kc.range_v2);
	tc_close(&t);
}

static void test_keycond(void **state)
{
	(void)state;
	kc_ok("pk = :p", "sk", RN_KC_NONE, NULL, NULL);
	kc_ok("pk = :p", NULL, RN_KC_NONE, NULL, NULL);
	kc_ok("#p = :p", "sk", RN_KC_NONE, NULL, NULL);
	kc_ok(":p = pk", "sk", RN_KC_NONE, NULL, NULL);
	kc_ok("pk = :p AND sk = :a", "sk", RN_KC_EQ, "{'N':'1'}", NULL);
	kc_ok("pk = :p AND sk < :a", "sk", RN_KC_LT, "{'N':'1'}", NULL);
	kc_ok("pk = :p AND sk <= :a", "sk", RN_KC_LE, "{'N':'1'}", NULL);
	kc_ok("pk = :p AND sk > :a", "sk", RN_KC_GT, "{'N':'1'}", NULL);
	kc_ok("pk = :p AND sk >= :a", "sk", RN_KC_GE, "{'N':'1'}", NULL);
	kc_ok("pk = :p AND :a < sk", "sk", RN_KC_GT, "{'N':'1'}", NULL);
	kc_ok("pk = :p AND sk BETWEEN :a AND :b", "sk", RN_KC_BETWEEN,
	    "{'N':'1'}", "{'N':'2'}");
	kc_ok("pk = :p AND begins_with(#s, :s)", "sk", RN_KC_BEGINS_WITH,
	    "{'S':'pre'}", NULL);
	kc_ok("sk >= :a AND pk = :p", "sk", RN_KC_GE, "{'N':'1'}", NULL);
	kc_ok("(pk = :p) AND (sk BETWEEN :a AND :b)", "sk", RN_KC_BETWEEN,
	    "{'N':'1'}", "{'N':'2'}");
	kc_ok("((#p = :p AND #s = :a))", "sk", RN_KC_EQ, "{'N':'1'}", NULL);
}

static void test_keycond_errors(void **state)
{
	const char *v = "{':v':{'N':'1'},':w':{'N':'2'},':s':{'S':'x'}}";

	(void)state;
	expect_err(K_KEY, "pk = :v OR sk = :v", NULL, v,
	    "Invalid KeyConditionExpression: Invalid operator used in "
	    "KeyConditionExpression: OR");
	expect_err(K_KEY, "pk = :v AND NOT sk = :v", NULL, v,
	    "Invalid KeyConditionExpression: Invalid operator used in "
	    "KeyConditionExpression: NOT");
	expect_err(K_KEY, "pk = :v AND sk <> :v", NULL, v,
	    "Invalid KeyConditionExpression: Invalid operator used in "
	    "KeyConditionExpression: <>");
	expect_err(K_KEY, "pk IN (:v)", NULL, v,
	    "Invalid KeyConditionExpression: Invalid operator used in "
	    "KeyConditionExpression: IN");
	expect_err(K_KEY, "pk = :v AND attribute_exists(sk)", NULL, v,
	    "Invalid KeyConditionExpression: Invalid operator used in "
	    "KeyConditionExpression: attribute_exists");
	expect_err(K_KEY, "pk = :v AND size(sk) > :v", NULL, v,
	    "Invalid KeyConditionExpression: Invalid operator used in "
	    "KeyConditionExpression: size");
	expect_err(K_KEY, "pk = :v AND sk = :v AND sk = :w", NULL, v,
	    "Invalid KeyConditionExpression: Conditions can be of length 1 or "
	    "2 only");
	expect_err(K_KEY, "sk = :v", NULL, v,
	    "Query condition missed key schema element: pk");
	expect_err(K_KEY, "foo = :v", NULL, v,
	    "Query condition missed key schema element: pk");
	expect_err(K_KEY, "pk = :v AND foo = :v", NULL, v,
	    "Query key condition not supported");
	expect_err(K_KEY, "pk > :v", NULL, v,
	    "Query key condition not supported");
	expect_err(K_KEY, "begins_with(pk, :s)", NULL, v,
	    "Query key condition not supported");
	expect_err(K_KEY, "pk = sk", NULL, v,
	    "Query key condition not supported");
	expect_err(K_KEY, "pk.x = :v", NULL, v,
	    "Query key condition not supported");
	expect_err(K_KEY, "pk = :v AND pk = :w", NULL, v,
	    "KeyConditionExpressions must only contain one condition per key");
	expect_err(K_KEY, "pk = :v AND sk BETWEEN :w AND :v", NULL, v,
	    "Invalid KeyConditionExpression: The BETWEEN operator requires "
	    "upper bound to be greater than or equal to lower bound; lower "
	    "bound operand: AttributeValue: {N:2}, upper bound operand: "
	    "AttributeValue: {N:1}");
	expect_err(K_KEY, "pk = :v AND begins_with(sk, :v)", NULL, v,
	    "Invalid KeyConditionExpression: Incorrect operand type for "
	    "operator or function; operator or function: begins_with, operand "
	    "type: N");
}

static void test_keycond_match(void **state)
{
	tc t;
	rn_keycond kc;
	cJSON *a, *b, *c;

	(void)state;
	tc_open(&t, NULL, "{':p':{'S':'P'},':lo':{'N':'2'},':hi':{'N':'4'},"
	    "':pre':{'S':'ab'}}");
	a = js("{'pk':{'S':'P'},'sk':{'N':'3'}}");
	b = js("{'pk':{'S':'P'},'sk':{'N':'5'}}");
	c = js("{'pk':{'S':'Q'},'sk':{'N':'3'}}");
	assert_int_equal(rn_expr_parse_keycond(t.ctx,
	    "pk = :p AND sk BETWEEN :lo AND :hi", "pk", "sk", &kc, t.msg),
	    GT_OK);
	assert_int_equal(rn_expr_keycond_match(&kc, a), 1);
	assert_int_equal(rn_expr_keycond_match(&kc, b), 0);
	assert_int_equal(rn_expr_keycond_match(&kc, c), 0);
	assert_int_equal(rn_expr_keycond_match(&kc, NULL), 0);
	assert_int_equal(rn_expr_parse_keycond(t.ctx, "pk = :p AND sk > :hi",
	    "pk", "sk", &kc, t.msg), GT_OK);
	assert_int_equal(rn_expr_keycond_match(&kc, a), 0);
	assert_int_equal(rn_expr_keycond_match(&kc, b), 1);
	assert_int_equal(rn_expr_parse_keycond(t.ctx, "pk = :p", "pk", "sk",
	    &kc, t.msg), GT_OK);
	assert_int_equal(rn_expr_keycond_match(&kc, b), 1);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	a = js("{'pk':{'S':'P'},'sk':{'S':'abc'}}");
	assert_int_equal(rn_expr_parse_keycond(t.ctx,
	    "pk = :p AND begins_with(sk, :pre)", "pk", "sk", &kc, t.msg),
	    GT_OK);
	assert_int_equal(rn_expr_keycond_match(&kc, a), 1);
	cJSON_Delete(a);
	assert_int_equal(rn_expr_ctx_check_unused(t.ctx, t.msg), GT_OK);
	tc_close(&t);
}

/* ------------------------------------------------------------- randomized */

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/*
 * Random token soup from the language's vocabulary (and a little noise):
 * every parser must answer GT_OK or GT_EINVAL with a message, never crash;
 * whatever parses must evaluate, and an update must leave a valid item.
 */
static void test_random_token_soup(void **state)
{
	static const char *const vocab[] = {"a", "b", "m", "l", "n", "s",
	    "ss", "#a", "#m", ":n", ":s", ":l", ":ss", ":m", ":t", "(", ")",
	    "[0]", "[1]", "[7]", ".", ",", "=", "<>", "<", "<=", ">", ">=",
	    "+", "-", "AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE",
	    "ADD", "DELETE", "size", "contains", "begins_with",
	    "attribute_exists", "attribute_not_exists", "attribute_type",
	    "if_not_exists", "list_append", "status", "#zz", ":zz", "!", "x"};
	const char *env = getenv("MERIDIAN_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) :
	    (uint64_t)time(NULL);
	char text[512];
	int ok = 0;

	(void)state;
	printf("test_random_token_soup seed=%llu (MERIDIAN_SEED)\n",
	    (unsigned long long)seed);
	rng_state = seed * 2654435761u + 1;
	for (int iter = 0; iter < 3000; iter++) {
		int ntok = 1 + (int)(rng() % 14);
		tc t;
		const rn_expr_proj *p;
		const rn_expr_cond *c;
		const rn_expr_update *u;
		rn_keycond kc;
		cJSON *item, *out;
		int r;
		gt_err e;

		text[0] = '\0';
		if (rng() % 2 == 0)
			strcat(text, rng() % 2 ? "SET a = " : "a = :n AND ");
		for (int k = 0; k < ntok; k++) {
			strcat(text, vocab[rng() % (sizeof(vocab) /
			    sizeof(vocab[0]))]);
			if (rng() % 3)
				strcat(text, " ");
		}
		tc_open(&t, "{'#a':'a','#m':'m'}",
		    "{':n':{'N':'1'},':s':{'S':'x'},':l':{'L':[{'N':'1'}]},"
		    "':ss':{'SS':['x']},':m':{'M':{}},':t':{'S':'N'}}");
		item = js("{'a':{'N':'1'},'m':{'M':{'a':{'S':'x'}}},"
		    "'l':{'L':[{'N':'1'},{'S':'y'}]},'ss':{'SS':['x','y']},"
		    "'s':{'S':'xyz'}}");
		t.msg[0] = '\0';
		e = rn_expr_parse_projection(t.ctx, text, &p, t.msg);
		assert_true(e == GT_OK || (e == GT_EINVAL && t.msg[0]));
		if (e == GT_OK) {
			assert_int_equal(rn_expr_project(p, item, &out), GT_OK);
			cJSON_Delete(out);
			ok++;
		}
		t.msg[0] = '\0';
		e = rn_expr_parse_condition(t.ctx, "FilterExpression", text,
		    &c, t.msg);
		assert_true(e == GT_OK || (e == GT_EINVAL && t.msg[0]));
		if (e == GT_OK) {
			assert_int_equal(rn_expr_eval(c, item, &r, t.msg),
			    GT_OK);
			assert_true(r == 0 || r == 1);
			ok++;
		}
		t.msg[0] = '\0';
		e = rn_expr_parse_keycond(t.ctx, text, "a", "s", &kc, t.msg);
		assert_true(e == GT_OK || (e == GT_EINVAL && t.msg[0]));
		if (e == GT_OK)
			(void)rn_expr_keycond_match(&kc, item);
		t.msg[0] = '\0';
		e = rn_expr_parse_update(t.ctx, text, &u, t.msg);
		assert_true(e == GT_OK || (e == GT_EINVAL && t.msg[0]));
		if (e == GT_OK) {
			char vmsg[RN_MSG_MAX];

			ok++;
			e = rn_expr_update_apply(u, item, t.msg);
			assert_true(e == GT_OK || e == GT_EINVAL);
			if (rn_item_validate(item, vmsg) != GT_OK)
				fail_msg("[%s] left an invalid item: %s", text,
				    vmsg);
		}
		cJSON_Delete(item);
		tc_close(&t);
	}
	/* The soup must exercise the success paths too. */
	assert_true(ok > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_validation),
		cmocka_unit_test(test_names_values_usage),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_empty_and_limits),
		cmocka_unit_test(test_reserved_words),
		cmocka_unit_test(test_projection),
		cmocka_unit_test(test_comparisons),
		cmocka_unit_test(test_between_in),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_function_errors),
		cmocka_unit_test(test_logic_precedence),
		cmocka_unit_test(test_update_set),
		cmocka_unit_test(test_update_set_errors),
		cmocka_unit_test(test_update_remove_add_delete),
		cmocka_unit_test(test_update_clauses),
		cmocka_unit_test(test_keycond),
		cmocka_unit_test(test_keycond_errors),
		cmocka_unit_test(test_keycond_match),
		cmocka_unit_test(test_random_token_soup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
