/*
 * fuzz_expr.c — libFuzzer target for region-node/expr.c.
 *
 * Input: expression text, a NUL byte, then an item as DynamoDB JSON.  When
 * there is no NUL (or the item does not parse and validate) a fixed item is
 * used.  The text is parsed as every kind of expression with a fixed set of
 * ExpressionAttributeNames/Values, and whatever parses is evaluated: the
 * projection, the condition (against the item and against no item), the key
 * condition, and the update (on a copy of the item).
 *
 * Beyond "no crash, no leak, no UB" it checks two properties and traps when
 * they fail: a failed update leaves the item exactly as it was, and a
 * successful one leaves an item that still validates (no empty sets, no
 * malformed values).
 *
 * Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon -Iregion-node \
 *     tests/fuzz/fuzz_expr.c region-node/expr.c region-node/value.c \
 *     common/gt.c -lcjson -lssl -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static cJSON *fz_names;
static cJSON *fz_values;
static cJSON *fz_item;

static const char fz_names_json[] =
    "{\"#a\":\"a\",\"#b\":\"b\",\"#m\":\"m\",\"#l\":\"l\",\"#s\":\"status\","
    "\"#d\":\"a.b\"}";

static const char fz_values_json[] =
    "{\":n\":{\"N\":\"1\"},\":n2\":{\"N\":\"-2.5\"},\":s\":{\"S\":\"x\"},"
    "\":e\":{\"S\":\"\"},\":b\":{\"B\":\"AQ==\"},\":t\":{\"S\":\"N\"},"
    "\":ss\":{\"SS\":[\"x\",\"y\"]},\":ns\":{\"NS\":[\"1\",\"2\"]},"
    "\":bs\":{\"BS\":[\"AQ==\"]},\":l\":{\"L\":[{\"N\":\"1\"}]},"
    "\":el\":{\"L\":[]},\":m\":{\"M\":{\"a\":{\"N\":\"1\"}}},"
    "\":bool\":{\"BOOL\":true},\":null\":{\"NULL\":true},"
    "\":big\":{\"N\":\"9E+125\"}}";

static const char fz_item_json[] =
    "{\"a\":{\"N\":\"1\"},\"b\":{\"S\":\"xyz\"},"
    "\"m\":{\"M\":{\"a\":{\"S\":\"x\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}},"
    "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"y\"},{\"M\":{}}]},"
    "\"ss\":{\"SS\":[\"x\",\"y\"]},\"ns\":{\"NS\":[\"1\",\"3\"]},"
    "\"bs\":{\"BS\":[\"AQ==\",\"Ag==\"]},\"status\":{\"BOOL\":false}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char msg[RN_MSG_MAX];
	rn_expr_ctx *ctx;

	(void)argc;
	(void)argv;
	fz_names = cJSON_Parse(fz_names_json);
	fz_values = cJSON_Parse(fz_values_json);
	fz_item = cJSON_Parse(fz_item_json);
	if (fz_names == NULL || fz_values == NULL || fz_item == NULL ||
	    rn_item_validate(fz_item, msg) != GT_OK)
		abort();
	/* Canonicalises the values once, so later contexts see them as they
	 * will stay. */
	if (rn_expr_ctx_new(fz_names, fz_values, &ctx, msg) != GT_OK)
		abort();
	rn_expr_ctx_free(ctx);
	return 0;
}

static void fz_update(const rn_expr_update *upd, const cJSON *item)
{
	char msg[RN_MSG_MAX];
	cJSON *work, *before, *out = NULL;
	gt_err err;

	work = cJSON_Duplicate(item, 1);
	before = cJSON_Duplicate(item, 1);
	if (work == NULL || before == NULL)
		goto out;
	if (rn_expr_update_project(upd, work, &out) == GT_OK)
		cJSON_Delete(out);
	err = rn_expr_update_apply(upd, work, msg);
	if (err == GT_EINVAL) {
		/* Atomicity: a failed update changes nothing. */
		if (!cJSON_Compare(work, before, 1))
			abort();
	} else if (err == GT_OK) {
		err = rn_item_validate(work, msg);
		if (err == GT_ECORRUPT ||
		    (err == GT_EINVAL && strstr(msg, "Nesting") == NULL))
			abort();
		if (rn_expr_update_project(upd, work, &out) == GT_OK)
			cJSON_Delete(out);
	}
out:
	cJSON_Delete(work);
	cJSON_Delete(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[RN_MSG_MAX];
	const rn_expr_proj *proj;
	const rn_expr_cond *cond;
	const rn_expr_update *upd;
	rn_keycond kc;
	rn_expr_ctx *ctx = NULL;
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
	char *text;
	cJSON *item = NULL, *out;
	const cJSON *use;
	int r;

	if (size > 64 * 1024)
		return 0;
	text = malloc(tlen + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	if (nul != NULL) {
		size_t rest = size - tlen - 1;

		item = cJSON_ParseWithLength((const char *)nul + 1, rest);
		if (item != NULL && rn_item_validate(item, msg) != GT_OK) {
			cJSON_Delete(item);
			item = NULL;
		}
	}
	use = item != NULL ? item : fz_item;
	if (rn_expr_ctx_new(fz_names, fz_values, &ctx, msg) != GT_OK)
		goto out;

	if (rn_expr_parse_projection(ctx, text, &proj, msg) == GT_OK) {
		if (rn_expr_project(proj, use, &out) == GT_OK)
			cJSON_Delete(out);
		if (rn_expr_project(proj, NULL, &out) == GT_OK)
			cJSON_Delete(out);
	}
	if (rn_expr_parse_condition(ctx, "ConditionExpression", text, &cond,
	    msg) == GT_OK) {
		if (rn_expr_eval(cond, use, &r, msg) == GT_OK && r != 0 &&
		    r != 1)
			abort();
		(void)rn_expr_eval(cond, NULL, &r, msg);
	}
	if (rn_expr_parse_keycond(ctx, text, "a", "b", &kc, msg) == GT_OK)
		(void)rn_expr_keycond_match(&kc, use);
	if (rn_expr_parse_keycond(ctx, text, "a", NULL, &kc, msg) == GT_OK)
		(void)rn_expr_keycond_match(&kc, use);
	if (rn_expr_parse_update(ctx, text, &upd, msg) == GT_OK) {
		fz_update(upd, use);
		(void)rn_expr_update_touches(upd, "a");
	}
	(void)rn_expr_ctx_check_unused(ctx, msg);
out:
	rn_expr_ctx_free(ctx);
	cJSON_Delete(item);
	free(text);
	return 0;
}
