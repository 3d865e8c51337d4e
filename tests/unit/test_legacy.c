/*
 * test_legacy.c — unit tests for region-node/legacy.c: the rewrite of
 * DynamoDB's legacy request parameters (Expected, AttributeUpdates,
 * KeyConditions, QueryFilter, ScanFilter, AttributesToGet,
 * ConditionalOperator) into expressions, its error messages, and
 * end-to-end checks that parse the produced expressions with expr.h and
 * evaluate them.
 *
 * JSON literals use single quotes for readability; js() turns them into
 * double quotes before parsing.
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
#include "legacy.h"

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

static void assert_json(const cJSON *got, const char *want)
{
	cJSON *w = js(want);

	if (!cJSON_Compare(got, w, 1)) {
		char *g = cJSON_PrintUnformatted(got);

		fail_msg("got  %s\nwant %s", g, want);
	}
	cJSON_Delete(w);
}

/* Rewriting in (op) succeeds and gives exactly want. */
static void ok(const char *op, const char *in, const char *want)
{
	char msg[RN_MSG_MAX] = "";
	cJSON *req = js(in);
	gt_err e = rn_legacy_rewrite(op, req, msg);

	if (e != GT_OK)
		fail_msg("%s %s: error %d: %s", op, in, e, msg);
	assert_json(req, want);
	cJSON_Delete(req);
}

/* Rewriting in (op) fails with err and exactly want, leaving req as it
 * was. */
static void bad_err(const char *op, const char *in, gt_err err,
    const char *want)
{
	char msg[RN_MSG_MAX] = "";
	cJSON *req = js(in);
	gt_err e = rn_legacy_rewrite(op, req, msg);

	if (e != err)
		fail_msg("%s %s: got %d (%s), want %d", op, in, e, msg, err);
	assert_string_equal(msg, want);
	assert_json(req, in);
	cJSON_Delete(req);
}

static void bad(const char *op, const char *in, const char *want)
{
	bad_err(op, in, GT_EINVAL, want);
}

#define INV "One or more parameter values were invalid: "

/* ------------------------------------------------------------ untouched */

static void test_untouched(void **state)
{
	(void)state;
	ok("PutItem", "{'TableName':'t','Item':{'a':{'S':'x'}}}",
	    "{'TableName':'t','Item':{'a':{'S':'x'}}}");
	ok("PutItem", "{'TableName':'t','ConditionExpression':'#a = :v',"
	    "'ExpressionAttributeNames':{'#a':'a'},"
	    "'ExpressionAttributeValues':{':v':{'N':'01'}}}",
	    "{'TableName':'t','ConditionExpression':'#a = :v',"
	    "'ExpressionAttributeNames':{'#a':'a'},"
	    "'ExpressionAttributeValues':{':v':{'N':'01'}}}");
	ok("Query", "{'KeyConditionExpression':'pk = :v',"
	    "'ExpressionAttributeValues':{':v':{'S':'x'}}}",
	    "{'KeyConditionExpression':'pk = :v',"
	    "'ExpressionAttributeValues':{':v':{'S':'x'}}}");
	/* The transactions have no legacy form; unknown ops pass through. */
	ok("TransactWriteItems", "{'Expected':{'a':{'Exists':false}}}",
	    "{'Expected':{'a':{'Exists':false}}}");
	ok("Nope", "{'AttributesToGet':['a']}", "{'AttributesToGet':['a']}");
	/* Members that are not parameters of the op are ignored. */
	ok("GetItem", "{'Expected':{'a':{'Exists':false}},"
	    "'ScanFilter':{}}",
	    "{'Expected':{'a':{'Exists':false}},'ScanFilter':{}}");
	ok("Scan", "{'KeyConditions':{'a':{}}}", "{'KeyConditions':{'a':{}}}");
	/* JSON null is absent; a null legacy member is dropped. */
	ok("PutItem", "{'Expected':null,'ConditionalOperator':null}", "{}");
	ok("GetItem", "{'AttributesToGet':null,'ProjectionExpression':'a'}",
	    "{'ProjectionExpression':'a'}");
	/* Not an object, or no op: nothing to do. */
	{
		char msg[RN_MSG_MAX];
		cJSON *arr = js("[1]");

		assert_int_equal(rn_legacy_rewrite("PutItem", arr, msg), GT_OK);
		assert_int_equal(rn_legacy_rewrite(NULL, arr, msg), GT_OK);
		assert_int_equal(rn_legacy_rewrite("PutItem", NULL, msg),
		    GT_OK);
		assert_json(arr, "[1]");
		cJSON_Delete(arr);
	}
}

/* ------------------------------------------------------------- Expected */

static void test_expected_old_form(void **state)
{
	(void)state;
	ok("PutItem", "{'TableName':'t','Expected':{'a':{'Value':{'S':'x'}}}}",
	    "{'TableName':'t','ConditionExpression':'#lg0 = :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'a'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'x'}}}");
	ok("DeleteItem", "{'Expected':{'a.b':{'Exists':true,"
	    "'Value':{'N':'007.50'}}}}",
	    "{'ConditionExpression':'#lg0 = :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'a.b'},"
	    "'ExpressionAttributeValues':{':lg0':{'N':'7.5'}}}");
	ok("PutItem", "{'Expected':{'a':{'Exists':false}}}",
	    "{'ConditionExpression':'attribute_not_exists(#lg0)',"
	    "'ExpressionAttributeNames':{'#lg0':'a'}}");
	ok("PutItem", "{'Expected':{'a':{'Exists':false},"
	    "'b':{'Value':{'BOOL':true}},'c':{'Exists':false,'Value':null}}}",
	    "{'ConditionExpression':'attribute_not_exists(#lg0) AND "
	    "#lg1 = :lg0 AND attribute_not_exists(#lg2)',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b','#lg2':'c'},"
	    "'ExpressionAttributeValues':{':lg0':{'BOOL':true}}}");
	ok("UpdateItem", "{'Expected':{'a':{'Exists':false},"
	    "'b':{'Value':{'S':'v'}}},'ConditionalOperator':'OR'}",
	    "{'ConditionExpression':'attribute_not_exists(#lg0) OR "
	    "#lg1 = :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'v'}}}");
	ok("PutItem", "{'Expected':{'a':{'Exists':false}},"
	    "'ConditionalOperator':'AND'}",
	    "{'ConditionExpression':'attribute_not_exists(#lg0)',"
	    "'ExpressionAttributeNames':{'#lg0':'a'}}");
	/* An empty Expected is no condition at all. */
	ok("PutItem", "{'Item':{},'Expected':{}}", "{'Item':{}}");
	/* ConditionalOperator alone is accepted and dropped. */
	ok("PutItem", "{'Item':{},'ConditionalOperator':'OR'}", "{'Item':{}}");
}

/* One ComparisonOperator mapping: the condition and the values map. */
typedef struct cmp_case {
	const char *op;
	const char *avl;
	const char *expr;
	const char *values; /* NULL: no value map */
} cmp_case;

static const cmp_case cmp_cases[] = {
	{"EQ", "[{'S':'x'}]", "#lg0 = :lg0", "{':lg0':{'S':'x'}}"},
	{"EQ", "[{'SS':['x','y']}]", "#lg0 = :lg0",
	    "{':lg0':{'SS':['x','y']}}"},
	{"EQ", "[{'M':{'k':{'N':'1'}}}]", "#lg0 = :lg0",
	    "{':lg0':{'M':{'k':{'N':'1'}}}}"},
	{"NE", "[{'N':'1'}]", "#lg0 <> :lg0", "{':lg0':{'N':'1'}}"},
	{"LE", "[{'N':'1'}]", "#lg0 <= :lg0", "{':lg0':{'N':'1'}}"},
	{"LT", "[{'S':'m'}]", "#lg0 < :lg0", "{':lg0':{'S':'m'}}"},
	{"GE", "[{'B':'AQ=='}]", "#lg0 >= :lg0", "{':lg0':{'B':'AQ=='}}"},
	{"GT", "[{'N':'-2'}]", "#lg0 > :lg0", "{':lg0':{'N':'-2'}}"},
	{"NOT_NULL", NULL, "attribute_exists(#lg0)", NULL},
	{"NULL", "[]", "attribute_not_exists(#lg0)", NULL},
	{"CONTAINS", "[{'S':'ell'}]", "contains(#lg0, :lg0)",
	    "{':lg0':{'S':'ell'}}"},
	{"NOT_CONTAINS", "[{'N':'3'}]",
	    "(attribute_exists(#lg0) AND NOT contains(#lg0, :lg0))",
	    "{':lg0':{'N':'3'}}"},
	{"BEGINS_WITH", "[{'S':'he'}]", "begins_with(#lg0, :lg0)",
	    "{':lg0':{'S':'he'}}"},
	{"IN", "[{'S':'a'}]", "#lg0 IN (:lg0)", "{':lg0':{'S':'a'}}"},
	{"IN", "[{'N':'1'},{'N':'2'},{'S':'3'}]",
	    "#lg0 IN (:lg0, :lg1, :lg2)",
	    "{':lg0':{'N':'1'},':lg1':{'N':'2'},':lg2':{'S':'3'}}"},
	{"BETWEEN", "[{'N':'1'},{'N':'1.0'}]", "#lg0 BETWEEN :lg0 AND :lg1",
	    "{':lg0':{'N':'1'},':lg1':{'N':'1'}}"},
};

/* The same mapping in Expected, QueryFilter and ScanFilter. */
static void test_comparison_operators(void **state)
{
	static const struct {
		const char *op, *param, *out;
	} where[] = {
		{"PutItem", "Expected", "ConditionExpression"},
		{"UpdateItem", "Expected", "ConditionExpression"},
		{"Query", "QueryFilter", "FilterExpression"},
		{"Scan", "ScanFilter", "FilterExpression"},
	};
	char in[512], want[512];

	(void)state;
	for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
		for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]);
		    i++) {
			const cmp_case *c = &cmp_cases[i];

			snprintf(in, sizeof(in), "{'%s':{'x.y':{"
			    "'ComparisonOperator':'%s'%s%s}}}",
			    where[w].param, c->op,
			    c->avl ? ",'AttributeValueList':" : "",
			    c->avl ? c->avl : "");
			snprintf(want, sizeof(want), "{'%s':'%s',"
			    "'ExpressionAttributeNames':{'#lg0':'x.y'}%s%s%s}",
			    where[w].out, c->expr,
			    c->values ? ",'ExpressionAttributeValues':" : "",
			    c->values ? c->values : "", "");
			ok(where[w].op, in, want);
		}
	}
}

static void test_expected_errors(void **state)
{
	(void)state;
	bad("PutItem", "{'Expected':{'a':{'Value':{'S':'x'},"
	    "'AttributeValueList':[{'S':'x'}]}}}",
	    INV "Value and AttributeValueList cannot be used together for "
	    "Attribute: a");
	bad("PutItem", "{'Expected':{'a':{'Exists':true,"
	    "'ComparisonOperator':'EQ'}}}",
	    INV "Exists and ComparisonOperator cannot be used together for "
	    "Attribute: a");
	bad("PutItem", "{'Expected':{'a':{'Value':{'S':'x'},"
	    "'ComparisonOperator':'EQ'}}}",
	    INV "Value and ComparisonOperator cannot be used together for "
	    "Attribute: a");
	bad("PutItem", "{'Expected':{'a':{'AttributeValueList':[]}}}",
	    INV "AttributeValueList can only be used with a "
	    "ComparisonOperator for Attribute: a");
	bad("PutItem", "{'Expected':{'a':{'Exists':true}}}",
	    INV "Value must be provided when Exists is true for Attribute: a");
	bad("PutItem", "{'Expected':{'a':{}}}",
	    INV "Value must be provided when Exists is null for Attribute: a");
	bad("DeleteItem", "{'Expected':{'a':{'Exists':false,"
	    "'Value':{'S':'x'}}}}",
	    INV "Value cannot be used when Exists is false for Attribute: a");
	bad("PutItem", "{'Expected':{'':{'Exists':false}}}",
	    INV "An attribute name cannot be empty");
	/* Values are validated with DynamoDB's messages. */
	bad("PutItem", "{'Expected':{'a':{'Value':{}}}}",
	    "Supplied AttributeValue is empty, must contain exactly one of "
	    "the supported datatypes");
	bad("PutItem", "{'Expected':{'a':{'Value':{'SS':[]}}}}",
	    INV "An string set  may not be empty");
	bad("PutItem", "{'Expected':{'a':{'Value':{'N':'x1'}}}}",
	    "The parameter cannot be converted to a numeric value: x1");
	/* The second entry fails: the first one's work is dropped. */
	bad("PutItem", "{'Expected':{'a':{'Exists':false},'b':{}}}",
	    INV "Value must be provided when Exists is null for Attribute: b");
}

static void test_condition_errors(void **state)
{
	(void)state;
	/* Argument counts. */
	bad("PutItem", "{'Expected':{'a':{'ComparisonOperator':'EQ'}}}",
	    INV "Invalid number of argument(s) for the EQ ComparisonOperator");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'NULL',"
	    "'AttributeValueList':[{'S':'x'}]}}}",
	    INV "Invalid number of argument(s) for the NULL "
	    "ComparisonOperator");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'NOT_NULL',"
	    "'AttributeValueList':[{'S':'x'}]}}}",
	    INV "Invalid number of argument(s) for the NOT_NULL "
	    "ComparisonOperator");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'BETWEEN',"
	    "'AttributeValueList':[{'N':'1'}]}}}",
	    INV "Invalid number of argument(s) for the BETWEEN "
	    "ComparisonOperator");
	bad("Query", "{'QueryFilter':{'a':{'ComparisonOperator':'IN',"
	    "'AttributeValueList':[]}}}",
	    INV "Invalid number of argument(s) for the IN ComparisonOperator");
	bad("Query", "{'QueryFilter':{'a':{'ComparisonOperator':'NE',"
	    "'AttributeValueList':[{'S':'x'},{'S':'y'}]}}}",
	    INV "Invalid number of argument(s) for the NE ComparisonOperator");
	/* Argument types. */
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'BEGINS_WITH',"
	    "'AttributeValueList':[{'N':'1'}]}}}",
	    INV "ComparisonOperator BEGINS_WITH is not valid for N "
	    "AttributeValue type");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'CONTAINS',"
	    "'AttributeValueList':[{'SS':['x']}]}}}",
	    INV "ComparisonOperator CONTAINS is not valid for SS "
	    "AttributeValue type");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'NOT_CONTAINS',"
	    "'AttributeValueList':[{'NS':['1']}]}}}",
	    INV "ComparisonOperator NOT_CONTAINS is not valid for NS "
	    "AttributeValue type");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'LT',"
	    "'AttributeValueList':[{'BOOL':true}]}}}",
	    INV "ComparisonOperator LT is not valid for BOOL "
	    "AttributeValue type");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'IN',"
	    "'AttributeValueList':[{'S':'x'},{'L':[]}]}}}",
	    INV "ComparisonOperator IN is not valid for L AttributeValue type");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'BETWEEN',"
	    "'AttributeValueList':[{'S':'x'},{'N':'1'}]}}}",
	    INV "AttributeValues inside AttributeValueList must be of same "
	    "type");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'BETWEEN',"
	    "'AttributeValueList':[{'N':'10'},{'N':'9'}]}}}",
	    "The BETWEEN condition was provided a range where the lower "
	    "bound is greater than the upper bound");
	/* Values are checked before counts. */
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'NULL',"
	    "'AttributeValueList':[{'NULL':false}]}}}",
	    INV "Null attribute value types must have the value of true");
	/* The request validator's enum and required checks. */
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'LIKE',"
	    "'AttributeValueList':[{'S':'x'}]}}}",
	    "1 validation error detected: Value 'LIKE' at "
	    "'scanFilter.a.member.comparisonOperator' failed to satisfy "
	    "constraint: Member must satisfy enum value set: [IN, NULL, "
	    "BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, "
	    "BEGINS_WITH, GE, CONTAINS]");
	bad("Query", "{'QueryFilter':{'a':{'AttributeValueList':"
	    "[{'S':'x'}]}}}",
	    "1 validation error detected: Value null at "
	    "'queryFilter.a.member.comparisonOperator' failed to satisfy "
	    "constraint: Member must not be null");
	bad("Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'EQ',"
	    "'AttributeValueList':[{'S':'x'}]}},'ConditionalOperator':'XOR'}",
	    "1 validation error detected: Value 'XOR' at "
	    "'conditionalOperator' failed to satisfy constraint: Member must "
	    "satisfy enum value set: [AND, OR]");
}

static void test_filters(void **state)
{
	(void)state;
	ok("Scan", "{'TableName':'t','ScanFilter':{"
	    "'a':{'ComparisonOperator':'GT','AttributeValueList':[{'N':'1'}]},"
	    "'b':{'ComparisonOperator':'NOT_CONTAINS',"
	    "'AttributeValueList':[{'S':'z'}]},"
	    "'c':{'ComparisonOperator':'NULL'}},'ConditionalOperator':'OR',"
	    "'Limit':5}",
	    "{'TableName':'t','Limit':5,'FilterExpression':'#lg0 > :lg0 OR "
	    "(attribute_exists(#lg1) AND NOT contains(#lg1, :lg1)) OR "
	    "attribute_not_exists(#lg2)',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b','#lg2':'c'},"
	    "'ExpressionAttributeValues':{':lg0':{'N':'1'},':lg1':{'S':'z'}}}");
	ok("Scan", "{'ScanFilter':{}}", "{}");
	/* Expected's new form mixes with the old one. */
	ok("PutItem", "{'Expected':{'a':{'ComparisonOperator':'BETWEEN',"
	    "'AttributeValueList':[{'S':'a'},{'S':'b'}]},"
	    "'b':{'Value':{'N':'3'}}}}",
	    "{'ConditionExpression':'#lg0 BETWEEN :lg0 AND :lg1 AND "
	    "#lg1 = :lg2','ExpressionAttributeNames':{'#lg0':'a','#lg1':'b'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'a'},':lg1':{'S':'b'},"
	    "':lg2':{'N':'3'}}}");
}

/* ----------------------------------------------------- AttributeUpdates */

static void test_attribute_updates(void **state)
{
	(void)state;
	ok("UpdateItem", "{'Key':{'pk':{'S':'k'}},'AttributeUpdates':{"
	    "'a':{'Action':'PUT','Value':{'S':'x'}},"
	    "'b':{'Value':{'N':'1'}},"
	    "'c':{'Action':'DELETE'},"
	    "'d':{'Action':'ADD','Value':{'N':'2'}},"
	    "'e':{'Action':'DELETE','Value':{'SS':['q']}},"
	    "'f':{'Action':'ADD','Value':{'NS':['1']}},"
	    "'g':{'Action':'ADD','Value':{'L':[{'S':'z'}]}},"
	    "'h':{'Action':'DELETE','Value':null}}}",
	    "{'Key':{'pk':{'S':'k'}},'UpdateExpression':"
	    "'SET #lg0 = :lg0, #lg1 = :lg1, "
	    "#lg6 = list_append(if_not_exists(#lg6, :lg5), :lg6) "
	    "REMOVE #lg2, #lg7 ADD #lg3 :lg2, #lg5 :lg4 DELETE #lg4 :lg3',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b','#lg2':'c',"
	    "'#lg3':'d','#lg4':'e','#lg5':'f','#lg6':'g','#lg7':'h'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'x'},':lg1':{'N':'1'},"
	    "':lg2':{'N':'2'},':lg3':{'SS':['q']},':lg4':{'NS':['1']},"
	    "':lg5':{'L':[]},':lg6':{'L':[{'S':'z'}]}}}");
	/* Two list ADDs share one empty-list value. */
	ok("UpdateItem", "{'AttributeUpdates':{"
	    "'a':{'Action':'ADD','Value':{'L':[]}},"
	    "'b':{'Action':'ADD','Value':{'L':[{'N':'1'}]}}}}",
	    "{'UpdateExpression':'SET "
	    "#lg0 = list_append(if_not_exists(#lg0, :lg0), :lg1), "
	    "#lg1 = list_append(if_not_exists(#lg1, :lg0), :lg2)',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b'},"
	    "'ExpressionAttributeValues':{':lg0':{'L':[]},':lg1':{'L':[]},"
	    "':lg2':{'L':[{'N':'1'}]}}}");
	/* With Expected: both expressions share the maps. */
	ok("UpdateItem", "{'AttributeUpdates':{'a':{'Value':{'S':'new'}}},"
	    "'Expected':{'a':{'Value':{'S':'old'}},'b':{'Exists':false}}}",
	    "{'UpdateExpression':'SET #lg0 = :lg0',"
	    "'ConditionExpression':'#lg0 = :lg1 AND "
	    "attribute_not_exists(#lg1)',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'new'},"
	    "':lg1':{'S':'old'}}}");
	ok("UpdateItem", "{'Key':{},'AttributeUpdates':{}}", "{'Key':{}}");
}

static void test_attribute_updates_errors(void **state)
{
	(void)state;
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'PUT'}}}",
	    INV "Only DELETE action is allowed when no attribute value is "
	    "specified");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{}}}",
	    INV "Only DELETE action is allowed when no attribute value is "
	    "specified");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'ADD'}}}",
	    INV "Only DELETE action is allowed when no attribute value is "
	    "specified");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'ADD',"
	    "'Value':{'S':'x'}}}}",
	    INV "ADD action is not supported for the type S");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'ADD',"
	    "'Value':{'M':{}}}}}",
	    INV "ADD action is not supported for the type M");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'DELETE',"
	    "'Value':{'N':'1'}}}}",
	    INV "DELETE action with value is not supported for the type N");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'DELETE',"
	    "'Value':{'L':[]}}}}",
	    INV "DELETE action with value is not supported for the type L");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Action':'REPLACE',"
	    "'Value':{'S':'x'}}}}",
	    "1 validation error detected: Value 'REPLACE' at "
	    "'attributeUpdates.a.member.action' failed to satisfy constraint: "
	    "Member must satisfy enum value set: [ADD, PUT, DELETE]");
	bad("UpdateItem", "{'AttributeUpdates':{'a':{'Value':{'NS':"
	    "['1','1.0']}}}}",
	    INV "Input collection [1, 1] contains duplicates.");
	bad("UpdateItem", "{'AttributeUpdates':{'':{'Action':'DELETE'}}}",
	    INV "An attribute name cannot be empty");
}

/* -------------------------------------------------------- KeyConditions */

static void test_key_conditions(void **state)
{
	(void)state;
	ok("Query", "{'TableName':'t','KeyConditions':{"
	    "'pk':{'ComparisonOperator':'EQ','AttributeValueList':[{'S':'p'}]},"
	    "'sk':{'ComparisonOperator':'BETWEEN','AttributeValueList':"
	    "[{'N':'1'},{'N':'5'}]}}}",
	    "{'TableName':'t','KeyConditionExpression':"
	    "'#lg0 = :lg0 AND #lg1 BETWEEN :lg1 AND :lg2',"
	    "'ExpressionAttributeNames':{'#lg0':'pk','#lg1':'sk'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'p'},':lg1':{'N':'1'},"
	    "':lg2':{'N':'5'}}}");
	ok("Query", "{'KeyConditions':{"
	    "'sk':{'ComparisonOperator':'BEGINS_WITH',"
	    "'AttributeValueList':[{'S':'ab'}]},"
	    "'pk':{'ComparisonOperator':'EQ','AttributeValueList':[{'N':'1'}]}"
	    "}}",
	    "{'KeyConditionExpression':'begins_with(#lg0, :lg0) AND "
	    "#lg1 = :lg1',"
	    "'ExpressionAttributeNames':{'#lg0':'sk','#lg1':'pk'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'ab'},"
	    "':lg1':{'N':'1'}}}");
	/* Each indexable operator. */
	ok("Query", "{'KeyConditions':{'k':{'ComparisonOperator':'LE',"
	    "'AttributeValueList':[{'N':'1'}]}}}",
	    "{'KeyConditionExpression':'#lg0 <= :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'k'},"
	    "'ExpressionAttributeValues':{':lg0':{'N':'1'}}}");
	ok("Query", "{'KeyConditions':{'k':{'ComparisonOperator':'LT',"
	    "'AttributeValueList':[{'N':'1'}]}}}",
	    "{'KeyConditionExpression':'#lg0 < :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'k'},"
	    "'ExpressionAttributeValues':{':lg0':{'N':'1'}}}");
	ok("Query", "{'KeyConditions':{'k':{'ComparisonOperator':'GE',"
	    "'AttributeValueList':[{'N':'1'}]}}}",
	    "{'KeyConditionExpression':'#lg0 >= :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'k'},"
	    "'ExpressionAttributeValues':{':lg0':{'N':'1'}}}");
	ok("Query", "{'KeyConditions':{'k':{'ComparisonOperator':'GT',"
	    "'AttributeValueList':[{'N':'1'}]}}}",
	    "{'KeyConditionExpression':'#lg0 > :lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'k'},"
	    "'ExpressionAttributeValues':{':lg0':{'N':'1'}}}");
	/* KeyConditions, QueryFilter and AttributesToGet share names. */
	ok("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'EQ',"
	    "'AttributeValueList':[{'S':'p'}]}},"
	    "'QueryFilter':{'a':{'ComparisonOperator':'NE',"
	    "'AttributeValueList':[{'S':'x'}]},"
	    "'b':{'ComparisonOperator':'NOT_NULL'}},"
	    "'ConditionalOperator':'OR',"
	    "'AttributesToGet':['b','pk','a']}",
	    "{'ProjectionExpression':'#lg0, #lg1, #lg2',"
	    "'KeyConditionExpression':'#lg1 = :lg0',"
	    "'FilterExpression':'#lg2 <> :lg1 OR attribute_exists(#lg0)',"
	    "'ExpressionAttributeNames':{'#lg0':'b','#lg1':'pk','#lg2':'a'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'p'},':lg1':{'S':'x'}}}");
}

static void test_key_conditions_errors(void **state)
{
	(void)state;
	bad("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'NE',"
	    "'AttributeValueList':[{'S':'p'}]}}}",
	    "Attempted conditional constraint is not an indexable operation");
	bad("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'IN',"
	    "'AttributeValueList':[{'S':'p'}]}}}",
	    "Attempted conditional constraint is not an indexable operation");
	bad("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'NULL'}}}",
	    "Attempted conditional constraint is not an indexable operation");
	bad("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'EQ'}}}",
	    INV "Invalid number of argument(s) for the EQ ComparisonOperator");
	bad("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':"
	    "'BEGINS_WITH','AttributeValueList':[{'N':'1'}]}}}",
	    INV "ComparisonOperator BEGINS_WITH is not valid for N "
	    "AttributeValue type");
	bad("Query", "{'KeyConditions':{}}",
	    "Conditions can be of length 1 or 2 only");
	bad("Query", "{'KeyConditions':{"
	    "'a':{'ComparisonOperator':'EQ','AttributeValueList':[{'S':'p'}]},"
	    "'b':{'ComparisonOperator':'EQ','AttributeValueList':[{'S':'p'}]},"
	    "'c':{'ComparisonOperator':'EQ','AttributeValueList':[{'S':'p'}]}"
	    "}}",
	    "Conditions can be of length 1 or 2 only");
	bad("Query", "{'KeyConditions':{'pk':{'AttributeValueList':"
	    "[{'S':'p'}]}}}",
	    "1 validation error detected: Value null at "
	    "'keyConditions.pk.member.comparisonOperator' failed to satisfy "
	    "constraint: Member must not be null");
}

/* ------------------------------------------------------ AttributesToGet */

static void test_attributes_to_get(void **state)
{
	(void)state;
	ok("GetItem", "{'TableName':'t','Key':{'k':{'S':'x'}},"
	    "'AttributesToGet':['a','b.c','[0]']}",
	    "{'TableName':'t','Key':{'k':{'S':'x'}},"
	    "'ProjectionExpression':'#lg0, #lg1, #lg2',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'b.c',"
	    "'#lg2':'[0]'}}");
	ok("BatchGetItem", "{'Keys':[],'AttributesToGet':['x'],"
	    "'ConsistentRead':true}",
	    "{'Keys':[],'ConsistentRead':true,'ProjectionExpression':'#lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'x'}}");
	ok("Scan", "{'AttributesToGet':['x'],'Select':'SPECIFIC_ATTRIBUTES'}",
	    "{'Select':'SPECIFIC_ATTRIBUTES','ProjectionExpression':'#lg0',"
	    "'ExpressionAttributeNames':{'#lg0':'x'}}");
	bad("GetItem", "{'AttributesToGet':['a','b','a']}",
	    INV "Duplicate value in attribute name: a");
	bad("BatchGetItem", "{'AttributesToGet':[]}",
	    "1 validation error detected: Value '[]' at 'attributesToGet' "
	    "failed to satisfy constraint: Member must have length greater "
	    "than or equal to 1");
	bad("GetItem", "{'AttributesToGet':['']}",
	    INV "An attribute name cannot be empty");
	bad("Query", "{'AttributesToGet':['a'],'Select':'ALL_ATTRIBUTES'}",
	    "Cannot specify the AttributesToGet when choosing to get "
	    "ALL_ATTRIBUTES");
}

/* ----------------------------------------------------- parameter mixing */

static void test_mixing(void **state)
{
	(void)state;
	bad("GetItem", "{'AttributesToGet':['a'],"
	    "'ProjectionExpression':'a'}",
	    "Can not use both expression and non-expression parameters in "
	    "the same request: Non-expression parameters: {AttributesToGet} "
	    "Expression parameters: {ProjectionExpression}");
	bad("PutItem", "{'Expected':{'a':{'Exists':false}},"
	    "'ConditionalOperator':'OR','ConditionExpression':'a = b'}",
	    "Can not use both expression and non-expression parameters in "
	    "the same request: Non-expression parameters: {Expected, "
	    "ConditionalOperator} Expression parameters: "
	    "{ConditionExpression}");
	bad("UpdateItem", "{'AttributeUpdates':{},'ConditionExpression':'x',"
	    "'UpdateExpression':'SET a = b'}",
	    "Can not use both expression and non-expression parameters in "
	    "the same request: Non-expression parameters: {AttributeUpdates} "
	    "Expression parameters: {UpdateExpression, ConditionExpression}");
	bad("Query", "{'KeyConditions':{},'AttributesToGet':['a'],"
	    "'FilterExpression':'x','KeyConditionExpression':'y'}",
	    "Can not use both expression and non-expression parameters in "
	    "the same request: Non-expression parameters: {AttributesToGet, "
	    "KeyConditions} Expression parameters: {FilterExpression, "
	    "KeyConditionExpression}");
	bad("Query", "{'QueryFilter':{},'ProjectionExpression':'p'}",
	    "Can not use both expression and non-expression parameters in "
	    "the same request: Non-expression parameters: {QueryFilter} "
	    "Expression parameters: {ProjectionExpression}");
	bad("Scan", "{'ConditionalOperator':'AND','FilterExpression':'f'}",
	    "Can not use both expression and non-expression parameters in "
	    "the same request: Non-expression parameters: "
	    "{ConditionalOperator} Expression parameters: {FilterExpression}");
	/* Names and values without an expression that could use them. */
	bad("PutItem", "{'Expected':{'a':{'Exists':false}},"
	    "'ExpressionAttributeNames':{'#a':'a'}}",
	    "ExpressionAttributeNames can only be specified when using "
	    "expressions");
	bad("GetItem", "{'ExpressionAttributeNames':{'#a':'a'}}",
	    "ExpressionAttributeNames can only be specified when using "
	    "expressions");
	bad("PutItem", "{'Expected':{'a':{'Exists':false}},"
	    "'ExpressionAttributeValues':{':a':{'S':'a'}}}",
	    "ExpressionAttributeValues can only be specified when using "
	    "expressions: ConditionExpression is null");
	bad("UpdateItem", "{'AttributeUpdates':{},"
	    "'ExpressionAttributeValues':{':a':{'S':'a'}}}",
	    "ExpressionAttributeValues can only be specified when using "
	    "expressions: UpdateExpression and ConditionExpression are null");
	bad("Scan", "{'ExpressionAttributeValues':{':a':{'S':'a'}}}",
	    "ExpressionAttributeValues can only be specified when using "
	    "expressions: FilterExpression is null");
	bad("Query", "{'KeyConditions':{},'ProjectionExpression':'#a',"
	    "'ExpressionAttributeNames':{'#a':'a'},"
	    "'ExpressionAttributeValues':{':a':{'S':'a'}}}",
	    "ExpressionAttributeValues can only be specified when using "
	    "expressions: FilterExpression and KeyConditionExpression are "
	    "null");
	/* Values with only a projection are fine for the rewrite; the
	 * expression layer reports them unused. */
	ok("UpdateItem", "{'UpdateExpression':'SET a = :v',"
	    "'ExpressionAttributeValues':{':v':{'S':'a'}}}",
	    "{'UpdateExpression':'SET a = :v',"
	    "'ExpressionAttributeValues':{':v':{'S':'a'}}}");
}

/* DynamoDB lets KeyConditions go with a FilterExpression; the generated
 * placeholders join the caller's maps without colliding. */
static void test_key_conditions_with_expressions(void **state)
{
	(void)state;
	ok("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'EQ',"
	    "'AttributeValueList':[{'S':'p'}]}},"
	    "'FilterExpression':'#lg0 = :lg0 AND #lg1 = :lg2',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'pk'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'x'},':lg2':{'N':'2'}}}",
	    "{'KeyConditionExpression':'#lg2 = :lg1',"
	    "'FilterExpression':'#lg0 = :lg0 AND #lg1 = :lg2',"
	    "'ExpressionAttributeNames':{'#lg0':'a','#lg1':'pk','#lg2':'pk'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'x'},':lg2':{'N':'2'},"
	    "':lg1':{'S':'p'}}}");
	ok("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'EQ',"
	    "'AttributeValueList':[{'S':'p'}]}},'ProjectionExpression':'a'}",
	    "{'ProjectionExpression':'a','KeyConditionExpression':"
	    "'#lg0 = :lg0','ExpressionAttributeNames':{'#lg0':'pk'},"
	    "'ExpressionAttributeValues':{':lg0':{'S':'p'}}}");
	bad_err("Query", "{'KeyConditions':{'pk':{'ComparisonOperator':'EQ',"
	    "'AttributeValueList':[{'S':'p'}]}},'FilterExpression':'a',"
	    "'ExpressionAttributeValues':[1]}", GT_ECORRUPT,
	    "Unexpected value type for ExpressionAttributeValues: expected "
	    "an object");
}

/* ------------------------------------------------ serialization errors */

static void test_wrong_json_types(void **state)
{
	static const struct {
		const char *op, *in, *msg;
	} cases[] = {
		{"PutItem", "{'Expected':[]}",
		    "Unexpected value type for Expected: expected an object"},
		{"PutItem", "{'Expected':{'a':1}}", "Unexpected value type for "
		    "Expected: expected a map of objects"},
		{"PutItem", "{'Expected':{'a':{'Exists':'yes'}}}",
		    "Unexpected value type for Exists: expected a boolean"},
		{"PutItem", "{'Expected':{'a':{'Value':'x'}}}",
		    "Unexpected value type for AttributeValue: expected an "
		    "object"},
		{"PutItem", "{'Expected':{'a':{'Value':{'S':1}}}}",
		    "Unexpected value type in payload"},
		{"PutItem", "{'Expected':{'a':{'ComparisonOperator':1}}}",
		    "Unexpected value type for ComparisonOperator: expected "
		    "a string"},
		{"Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'EQ',"
		    "'AttributeValueList':{}}}}", "Unexpected value type for "
		    "AttributeValueList: expected a list"},
		{"Scan", "{'ScanFilter':{'a':{'ComparisonOperator':'EQ',"
		    "'AttributeValueList':['x']}}}", "Unexpected value type "
		    "for AttributeValue: expected an object"},
		{"Scan", "{'ConditionalOperator':true}", "Unexpected value "
		    "type for ConditionalOperator: expected a string"},
		{"UpdateItem", "{'AttributeUpdates':{'a':{'Action':1}}}",
		    "Unexpected value type for Action: expected a string"},
		{"UpdateItem", "{'AttributeUpdates':{'a':[]}}",
		    "Unexpected value type for AttributeUpdates: expected a "
		    "map of objects"},
		{"GetItem", "{'AttributesToGet':'a'}", "Unexpected value type "
		    "for AttributesToGet: expected a list"},
		{"GetItem", "{'AttributesToGet':['a',1]}", "Unexpected value "
		    "type for AttributesToGet: expected a list of strings"},
		{"Query", "{'KeyConditions':'x'}", "Unexpected value type for "
		    "KeyConditions: expected an object"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad_err(cases[i].op, cases[i].in, GT_ECORRUPT, cases[i].msg);
}

static void test_limits(void **state)
{
	char msg[RN_MSG_MAX];
	cJSON *req, *atg;

	(void)state;
	req = cJSON_CreateObject();
	atg = cJSON_AddArrayToObject(req, "AttributesToGet");
	for (int i = 0; i < RN_LEGACY_ENTRIES_MAX + 1; i++) {
		char name[16];

		snprintf(name, sizeof(name), "a%d", i);
		cJSON_AddItemToArray(atg, cJSON_CreateString(name));
	}
	assert_int_equal(rn_legacy_rewrite("GetItem", req, msg), GT_EINVAL);
	assert_string_equal(msg, INV "AttributesToGet has more than 1024 "
	    "entries");
	/* At the limit it works, and every name gets a placeholder. */
	cJSON_DeleteItemFromArray(atg, 0);
	assert_int_equal(rn_legacy_rewrite("GetItem", req, msg), GT_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(req,
	    "ExpressionAttributeNames")), RN_LEGACY_ENTRIES_MAX);
	assert_null(cJSON_GetObjectItem(req, "AttributesToGet"));
	cJSON_Delete(req);
}

/* ------------------------------------------------------------ end to end */

/*
 * A rewritten request with its expression context: the names and values
 * are detached from the request as the API handlers do.
 */
typedef struct e2e {
	cJSON *req;
	cJSON *names;
	cJSON *values;
	rn_expr_ctx *ctx;
	char msg[RN_MSG_MAX];
} e2e;

static void e2e_open(e2e *e, const char *op, const char *in)
{
	memset(e, 0, sizeof(*e));
	e->req = js(in);
	if (rn_legacy_rewrite(op, e->req, e->msg) != GT_OK)
		fail_msg("rewrite %s: %s", in, e->msg);
	e->names = cJSON_DetachItemFromObject(e->req,
	    "ExpressionAttributeNames");
	e->values = cJSON_DetachItemFromObject(e->req,
	    "ExpressionAttributeValues");
	if (rn_expr_ctx_new(e->names, e->values, &e->ctx, e->msg) != GT_OK)
		fail_msg("ctx %s: %s", in, e->msg);
}

static const char *e2e_text(const e2e *e, const char *field)
{
	const cJSON *f = cJSON_GetObjectItem(e->req, field);

	if (!cJSON_IsString(f))
		fail_msg("no %s", field);
	return f->valuestring;
}

static void e2e_close(e2e *e)
{
	rn_expr_ctx_free(e->ctx);
	cJSON_Delete(e->names);
	cJSON_Delete(e->values);
	cJSON_Delete(e->req);
}

/* Evaluates the request's condition (field) against each item; want[i]
 * is the expected result for items[i]. */
static void e2e_cond(const char *op, const char *in, const char *field,
    const char *const *items, const int *want, size_t n)
{
	const rn_expr_cond *c;
	e2e e;

	e2e_open(&e, op, in);
	if (rn_expr_parse_condition(e.ctx, field, e2e_text(&e, field), &c,
	    e.msg) != GT_OK)
		fail_msg("parse %s: %s", e2e_text(&e, field), e.msg);
	assert_int_equal(rn_expr_ctx_check_unused(e.ctx, e.msg), GT_OK);
	for (size_t i = 0; i < n; i++) {
		cJSON *item = js(items[i]);
		int r = -1;

		assert_int_equal(rn_expr_eval(c, item, &r, e.msg), GT_OK);
		if (r != want[i])
			fail_msg("%s on %s: got %d want %d", in, items[i], r,
			    want[i]);
		cJSON_Delete(item);
	}
	e2e_close(&e);
}

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_e2e_expected(void **state)
{
	static const char *const items[] = {
		"{}",
		"{'a':{'S':'hello'}}",
		"{'a':{'S':'world'},'b':{'N':'5'}}",
		"{'a':{'N':'5'},'b':{'N':'10'}}",
		"{'a':{'SS':['x','hello']}}",
	};
	(void)state;

	/* Old form: a = hello. */
	e2e_cond("PutItem", "{'Expected':{'a':{'Value':{'S':'hello'}}}}",
	    "ConditionExpression", items, (const int[]){0, 1, 0, 0, 0},
	    N_ITEMS(items));
	/* Exists false. */
	e2e_cond("PutItem", "{'Expected':{'b':{'Exists':false}}}",
	    "ConditionExpression", items, (const int[]){1, 1, 0, 0, 1},
	    N_ITEMS(items));
	/* NE is true on an absent attribute. */
	e2e_cond("DeleteItem", "{'Expected':{'a':{'ComparisonOperator':'NE',"
	    "'AttributeValueList':[{'S':'hello'}]}}}",
	    "ConditionExpression", items, (const int[]){1, 0, 1, 1, 1},
	    N_ITEMS(items));
	/* CONTAINS: substring and set member; absent is false. */
	e2e_cond("PutItem", "{'Expected':{'a':{'ComparisonOperator':"
	    "'CONTAINS','AttributeValueList':[{'S':'ell'}]}}}",
	    "ConditionExpression", items, (const int[]){0, 1, 0, 0, 0},
	    N_ITEMS(items));
	/* NOT_CONTAINS is false on an absent attribute. */
	e2e_cond("PutItem", "{'Expected':{'a':{'ComparisonOperator':"
	    "'NOT_CONTAINS','AttributeValueList':[{'S':'hello'}]}}}",
	    "ConditionExpression", items, (const int[]){0, 0, 1, 1, 0},
	    N_ITEMS(items));
	/* OR of GT and NULL. */
	e2e_cond("UpdateItem", "{'Expected':{"
	    "'b':{'ComparisonOperator':'GT','AttributeValueList':[{'N':'7'}]},"
	    "'a':{'ComparisonOperator':'NULL'}},'ConditionalOperator':'OR'}",
	    "ConditionExpression", items, (const int[]){1, 0, 0, 1, 0},
	    N_ITEMS(items));
	/* AND of IN and BETWEEN. */
	e2e_cond("PutItem", "{'Expected':{"
	    "'a':{'ComparisonOperator':'IN','AttributeValueList':"
	    "[{'S':'world'},{'N':'5'}]},"
	    "'b':{'ComparisonOperator':'BETWEEN','AttributeValueList':"
	    "[{'N':'5'},{'N':'9'}]}}}",
	    "ConditionExpression", items, (const int[]){0, 0, 1, 0, 0},
	    N_ITEMS(items));
	/* BEGINS_WITH and NOT_NULL in a filter. */
	e2e_cond("Scan", "{'ScanFilter':{"
	    "'a':{'ComparisonOperator':'BEGINS_WITH','AttributeValueList':"
	    "[{'S':'wor'}]},'b':{'ComparisonOperator':'NOT_NULL'}}}",
	    "FilterExpression", items, (const int[]){0, 0, 1, 0, 0},
	    N_ITEMS(items));
	/* Sets compare as sets. */
	e2e_cond("Query", "{'QueryFilter':{'a':{'ComparisonOperator':'EQ',"
	    "'AttributeValueList':[{'SS':['hello','x']}]}}}",
	    "FilterExpression", items, (const int[]){0, 0, 0, 0, 1},
	    N_ITEMS(items));
}

/* Applies the request's UpdateExpression to item; want is the result. */
static void e2e_update(const char *in, const char *item, const char *want)
{
	const rn_expr_update *u;
	cJSON *it = js(item);
	e2e e;

	e2e_open(&e, "UpdateItem", in);
	if (rn_expr_parse_update(e.ctx, e2e_text(&e, "UpdateExpression"), &u,
	    e.msg) != GT_OK)
		fail_msg("parse %s: %s", e2e_text(&e, "UpdateExpression"),
		    e.msg);
	assert_int_equal(rn_expr_ctx_check_unused(e.ctx, e.msg), GT_OK);
	if (rn_expr_update_apply(u, it, e.msg) != GT_OK)
		fail_msg("apply: %s", e.msg);
	assert_json(it, want);
	cJSON_Delete(it);
	e2e_close(&e);
}

static void test_e2e_attribute_updates(void **state)
{
	(void)state;
	e2e_update("{'AttributeUpdates':{"
	    "'a':{'Action':'PUT','Value':{'S':'new'}},"
	    "'n':{'Action':'ADD','Value':{'N':'-2.5'}},"
	    "'c':{'Action':'ADD','Value':{'N':'3'}},"
	    "'ss':{'Action':'ADD','Value':{'SS':['z']}},"
	    "'ns':{'Action':'DELETE','Value':{'NS':['1']}},"
	    "'gone':{'Action':'DELETE'},"
	    "'l':{'Action':'ADD','Value':{'L':[{'N':'3'}]}},"
	    "'l2':{'Action':'ADD','Value':{'L':[{'S':'first'}]}}}}",
	    "{'pk':{'S':'k'},'a':{'S':'old'},'n':{'N':'10'},"
	    "'ss':{'SS':['a']},'ns':{'NS':['1','2']},'gone':{'BOOL':true},"
	    "'l':{'L':[{'N':'1'},{'N':'2'}]}}",
	    "{'pk':{'S':'k'},'a':{'S':'new'},'n':{'N':'7.5'},"
	    "'ss':{'SS':['a','z']},'ns':{'NS':['2']},"
	    "'l':{'L':[{'N':'1'},{'N':'2'},{'N':'3'}]},'c':{'N':'3'},"
	    "'l2':{'L':[{'S':'first'}]}}");
	/* DELETE of the last members removes the set. */
	e2e_update("{'AttributeUpdates':{'s':{'Action':'DELETE',"
	    "'Value':{'SS':['a']}}}}",
	    "{'pk':{'S':'k'},'s':{'SS':['a']}}", "{'pk':{'S':'k'}}");
	/* Names that would need quoting in an expression. */
	e2e_update("{'AttributeUpdates':{'a.b':{'Value':{'N':'1'}},"
	    "'SET':{'Value':{'N':'2'}}}}",
	    "{}", "{'a.b':{'N':'1'},'SET':{'N':'2'}}");
}

static void test_e2e_key_conditions(void **state)
{
	rn_keycond kc;
	e2e e;
	cJSON *in, *out;

	(void)state;
	e2e_open(&e, "Query", "{'KeyConditions':{"
	    "'sk':{'ComparisonOperator':'BETWEEN','AttributeValueList':"
	    "[{'N':'1'},{'N':'5'}]},"
	    "'pk':{'ComparisonOperator':'EQ','AttributeValueList':"
	    "[{'S':'p'}]}}}");
	if (rn_expr_parse_keycond(e.ctx, e2e_text(&e,
	    "KeyConditionExpression"), "pk", "sk", &kc, e.msg) != GT_OK)
		fail_msg("keycond: %s", e.msg);
	assert_int_equal(rn_expr_ctx_check_unused(e.ctx, e.msg), GT_OK);
	assert_string_equal(kc.hash_name, "pk");
	assert_json(kc.hash_value, "{'S':'p'}");
	assert_string_equal(kc.range_name, "sk");
	assert_int_equal(kc.range_op, RN_KC_BETWEEN);
	assert_json(kc.range_v1, "{'N':'1'}");
	assert_json(kc.range_v2, "{'N':'5'}");
	in = js("{'pk':{'S':'p'},'sk':{'N':'3'}}");
	out = js("{'pk':{'S':'p'},'sk':{'N':'6'}}");
	assert_int_equal(rn_expr_keycond_match(&kc, in), 1);
	assert_int_equal(rn_expr_keycond_match(&kc, out), 0);
	cJSON_Delete(in);
	cJSON_Delete(out);
	e2e_close(&e);

	/* BEGINS_WITH on the sort key, with a projection and a filter. */
	{
		const rn_expr_proj *p;
		const rn_expr_cond *f;
		cJSON *item = js("{'pk':{'S':'p'},'sk':{'S':'abc'},"
		    "'x.y':{'N':'1'},'z':{'N':'2'},'w':{'N':'3'}}");
		cJSON *proj = NULL;
		int r = -1;

		e2e_open(&e, "Query", "{'KeyConditions':{"
		    "'pk':{'ComparisonOperator':'EQ','AttributeValueList':"
		    "[{'S':'p'}]},"
		    "'sk':{'ComparisonOperator':'BEGINS_WITH',"
		    "'AttributeValueList':[{'S':'ab'}]}},"
		    "'QueryFilter':{'z':{'ComparisonOperator':'LE',"
		    "'AttributeValueList':[{'N':'2'}]}},"
		    "'AttributesToGet':['x.y','z']}");
		assert_int_equal(rn_expr_parse_keycond(e.ctx, e2e_text(&e,
		    "KeyConditionExpression"), "pk", "sk", &kc, e.msg), GT_OK);
		assert_int_equal(kc.range_op, RN_KC_BEGINS_WITH);
		assert_int_equal(rn_expr_parse_condition(e.ctx,
		    "FilterExpression", e2e_text(&e, "FilterExpression"), &f,
		    e.msg), GT_OK);
		assert_int_equal(rn_expr_parse_projection(e.ctx, e2e_text(&e,
		    "ProjectionExpression"), &p, e.msg), GT_OK);
		assert_int_equal(rn_expr_ctx_check_unused(e.ctx, e.msg), GT_OK);
		assert_int_equal(rn_expr_keycond_match(&kc, item), 1);
		assert_int_equal(rn_expr_eval(f, item, &r, e.msg), GT_OK);
		assert_int_equal(r, 1);
		assert_int_equal(rn_expr_project(p, item, &proj), GT_OK);
		assert_json(proj, "{'x.y':{'N':'1'},'z':{'N':'2'}}");
		cJSON_Delete(proj);
		cJSON_Delete(item);
		e2e_close(&e);
	}
}

/* ---------------------------------------------------------- randomized */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A random scalar value: S from a small alphabet or a small N. */
static cJSON *rand_value(void)
{
	cJSON *v = cJSON_CreateObject();
	char text[8];

	if (rng() % 2) {
		size_t n = rng() % 3;

		for (size_t i = 0; i < n; i++)
			text[i] = (char)('a' + rng() % 3);
		text[n] = '\0';
		cJSON_AddStringToObject(v, "S", text);
	} else {
		snprintf(text, sizeof(text), "%d", (int)(rng() % 5) - 2);
		cJSON_AddStringToObject(v, "N", text);
	}
	return v;
}

/*
 * The legacy semantics, written independently of the rewrite, for one
 * scalar attribute a (NULL when absent).
 */
static int legacy_eval(int op, const cJSON *a, const cJSON *args)
{
	const cJSON *v0 = cJSON_GetArrayItem(args, 0);
	const cJSON *v1 = cJSON_GetArrayItem(args, 1);
	const cJSON *v;
	int c;

	switch (op) {
	case 0: /* EQ */
		return a != NULL && rn_av_equal(a, v0);
	case 1: /* NE */
		return a == NULL || !rn_av_equal(a, v0);
	case 2: /* LT */
		return a != NULL && rn_av_compare(a, v0) == -1;
	case 3: /* GE */
		c = a != NULL ? rn_av_compare(a, v0) : 2;
		return c == 0 || c == 1;
	case 4: /* BETWEEN */
		return a != NULL && (rn_av_compare(a, v0) == 0 ||
		    rn_av_compare(a, v0) == 1) && (rn_av_compare(a, v1) == 0 ||
		    rn_av_compare(a, v1) == -1);
	case 5: /* IN */
		cJSON_ArrayForEach(v, args)
			if (a != NULL && rn_av_equal(a, v))
				return 1;
		return 0;
	case 6: /* BEGINS_WITH */
	case 7: /* CONTAINS */
	case 8: /* NOT_CONTAINS */
		if (a == NULL)
			return 0;
		if (cJSON_GetObjectItem(a, "S") == NULL ||
		    cJSON_GetObjectItem(v0, "S") == NULL)
			return op == 8;
		{
			const char *s =
			    cJSON_GetObjectItem(a, "S")->valuestring;
			const char *t =
			    cJSON_GetObjectItem(v0, "S")->valuestring;

			if (op == 6)
				return strncmp(s, t, strlen(t)) == 0;
			return (strstr(s, t) != NULL) == (op == 7);
		}
	case 9: /* NULL */
		return a == NULL;
	default: /* NOT_NULL */
		return a != NULL;
	}
}

static void test_random_filters_match_legacy(void **state)
{
	static const char *const ops[] = {"EQ", "NE", "LT", "GE", "BETWEEN",
	    "IN", "BEGINS_WITH", "CONTAINS", "NOT_CONTAINS", "NULL",
	    "NOT_NULL"};
	const char *env = getenv("MERIDIAN_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	int checked = 0;

	(void)state;
	printf("test_random_filters_match_legacy seed=%llu (MERIDIAN_SEED)\n",
	    (unsigned long long)seed);
	rng_state = seed * 2654435761u + 1;
	for (int iter = 0; iter < 3000; iter++) {
		int op = (int)(rng() % N_ITEMS(ops));
		int nargs = op == 4 ? 2 : op == 5 ? 1 + (int)(rng() % 3) :
		    op >= 9 ? 0 : 1;
		cJSON *req = cJSON_CreateObject();
		cJSON *f = cJSON_AddObjectToObject(req, "ScanFilter");
		cJSON *cond = cJSON_AddObjectToObject(f, "a");
		cJSON *args = cJSON_AddArrayToObject(cond,
		    "AttributeValueList");
		cJSON *item = cJSON_CreateObject(), *names, *values, *ref;
		char msg[RN_MSG_MAX];
		rn_expr_ctx *ctx = NULL;
		const rn_expr_cond *c;
		int r = -1;
		gt_err e;

		cJSON_AddStringToObject(cond, "ComparisonOperator", ops[op]);
		for (int i = 0; i < nargs; i++)
			cJSON_AddItemToArray(args, rand_value());
		if (rng() % 4 != 0)
			cJSON_AddItemToObject(item, "a", rand_value());
		ref = cJSON_Duplicate(args, 1);
		e = rn_legacy_rewrite("Scan", req, msg);
		if (e != GT_OK) {
			/* Only type rules and BETWEEN bounds may refuse. */
			if (op != 4 && op != 6)
				fail_msg("iter %d %s: %s", iter, ops[op], msg);
			goto next;
		}
		names = cJSON_GetObjectItem(req, "ExpressionAttributeNames");
		values = cJSON_GetObjectItem(req, "ExpressionAttributeValues");
		assert_int_equal(rn_expr_ctx_new(names, values, &ctx, msg),
		    GT_OK);
		if (rn_expr_parse_condition(ctx, "FilterExpression",
		    cJSON_GetObjectItem(req, "FilterExpression")->valuestring,
		    &c, msg) != GT_OK)
			fail_msg("iter %d: %s", iter, msg);
		assert_int_equal(rn_expr_eval(c, item, &r, msg), GT_OK);
		{
			/* Canonical copies for the reference. */
			cJSON *v;

			cJSON_ArrayForEach(v, ref)
				assert_int_equal(rn_av_validate(v, 0, msg),
				    GT_OK);
		}
		if (r != legacy_eval(op, cJSON_GetObjectItem(item, "a"), ref)) {
			char *is = cJSON_PrintUnformatted(item);
			char *as = cJSON_PrintUnformatted(ref);

			fail_msg("seed %llu iter %d: %s %s on %s: got %d",
			    (unsigned long long)seed, iter, ops[op], as, is, r);
		}
		checked++;
next:
		rn_expr_ctx_free(ctx);
		cJSON_Delete(ref);
		cJSON_Delete(item);
		cJSON_Delete(req);
	}
	assert_true(checked > 1500);
}

/* Hostile shapes never crash and leave req as it was on error. */
static void test_random_shapes(void **state)
{
	static const char *const ops[] = {"PutItem", "UpdateItem", "Query",
	    "Scan", "GetItem"};
	static const char *const params[] = {"Expected", "AttributeUpdates",
	    "KeyConditions", "QueryFilter", "ScanFilter", "AttributesToGet",
	    "ConditionalOperator"};
	static const char *const leaves[] = {"1", "'x'", "null", "true", "[]",
	    "{}", "{'S':'x'}", "{'N':'1'}", "['a','b']", "[{'S':'a'}]",
	    "{'ComparisonOperator':'EQ'}", "{'Value':{'S':'v'}}",
	    "{'Action':'ADD','Value':{'N':'1'}}", "'EQ'", "'OR'",
	    "{'ComparisonOperator':'IN','AttributeValueList':[{'S':'a'}]}",
	    "{'Exists':false}", "{'a':{'Exists':false}}",
	    "{'a':{'ComparisonOperator':'BETWEEN','AttributeValueList':"
	    "[{'N':'1'},{'N':'2'}]}}"};
	const char *env = getenv("MERIDIAN_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);

	(void)state;
	printf("test_random_shapes seed=%llu (MERIDIAN_SEED)\n",
	    (unsigned long long)seed);
	rng_state = seed * 11400714819323198485u + 7;
	for (int iter = 0; iter < 2000; iter++) {
		cJSON *req = cJSON_CreateObject(), *copy;
		char msg[RN_MSG_MAX];
		int n = 1 + (int)(rng() % 3);
		gt_err e;

		for (int i = 0; i < n; i++) {
			const char *p = params[rng() % N_ITEMS(params)];
			cJSON *leaf = js(leaves[rng() % N_ITEMS(leaves)]);

			if (rng() % 2 && cJSON_IsObject(leaf)) {
				cJSON *wrap = cJSON_CreateObject();

				cJSON_AddItemToObject(wrap, "k", leaf);
				leaf = wrap;
			}
			/* Repeated keys would defeat cJSON_Compare. */
			if (cJSON_GetObjectItem(req, p) != NULL)
				cJSON_Delete(leaf);
			else
				cJSON_AddItemToObject(req, p, leaf);
		}
		copy = cJSON_Duplicate(req, 1);
		e = rn_legacy_rewrite(ops[rng() % N_ITEMS(ops)], req, msg);
		if (e != GT_OK) {
			assert_true(e == GT_EINVAL || e == GT_ECORRUPT);
			assert_true(strlen(msg) > 0);
			if (!cJSON_Compare(req, copy, 1))
				fail_msg("changed on error: %s -> %s (%s)",
				    cJSON_PrintUnformatted(copy),
				    cJSON_PrintUnformatted(req), msg);
		}
		cJSON_Delete(copy);
		cJSON_Delete(req);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untouched),
		cmocka_unit_test(test_expected_old_form),
		cmocka_unit_test(test_comparison_operators),
		cmocka_unit_test(test_expected_errors),
		cmocka_unit_test(test_condition_errors),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_attribute_updates),
		cmocka_unit_test(test_attribute_updates_errors),
		cmocka_unit_test(test_key_conditions),
		cmocka_unit_test(test_key_conditions_errors),
		cmocka_unit_test(test_attributes_to_get),
		cmocka_unit_test(test_mixing),
		cmocka_unit_test(test_key_conditions_with_expressions),
		cmocka_unit_test(test_wrong_json_types),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_e2e_expected),
		cmocka_unit_test(test_e2e_attribute_updates),
		cmocka_unit_test(test_e2e_key_conditions),
		cmocka_unit_test(test_random_filters_match_legacy),
		cmocka_unit_test(test_random_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
