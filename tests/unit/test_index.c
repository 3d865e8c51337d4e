/*
 * test_index.c — secondary indexes: descriptor parsing, entry keys,
 * write-time validation, projections, and on a real store the entry
 * maintenance of rn_index_item, the rebuild check, local ids with
 * rn_index_table, and the replication-boundary strip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "changelog.h"
#include "index.h"
#include "store.h"
#include "table.h"

/* ------------------------------------------------------------ helpers */

/*
 * The table every test uses: pk (S) / sk (N), with
 *   ByG   GSI gh (S) / gr (N), INCLUDE color, size
 *   AllG  GSI gh (S), ALL
 *   ByL   LSI pk / lr (S), KEYS_ONLY
 * ByG and ByL carry local state ("Id", "Backfilling"); AllG none.
 */
static const char desc_text[] =
    "{\"Id\":100,\"TableName\":\"Orders\","
    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
    "\"AttributeDefinitions\":["
    "{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"},"
    "{\"AttributeName\":\"gh\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"gr\",\"AttributeType\":\"N\"},"
    "{\"AttributeName\":\"lr\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"color\",\"AttributeType\":\"S\"}],"
    "\"GlobalSecondaryIndexes\":["
    "{\"IndexName\":\"ByG\",\"KeySchema\":["
    "{\"AttributeName\":\"gh\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"gr\",\"KeyType\":\"RANGE\"}],"
    "\"Projection\":{\"ProjectionType\":\"INCLUDE\","
    "\"NonKeyAttributes\":[\"color\",\"size\"]},"
    "\"Id\":7,\"Backfilling\":true},"
    "{\"IndexName\":\"AllG\",\"KeySchema\":["
    "{\"AttributeName\":\"gh\",\"KeyType\":\"HASH\"}],"
    "\"Projection\":{\"ProjectionType\":\"ALL\"}}],"
    "\"LocalSecondaryIndexes\":["
    "{\"IndexName\":\"ByL\",\"KeySchema\":["
    "{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"lr\",\"KeyType\":\"RANGE\"}],"
    "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"},"
    "\"Id\":8,\"Backfilling\":false}]}";

static cJSON *js(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	return j;
}

static rn_table *table_make(const char *text)
{
	rn_table *t = NULL;
	cJSON *d = js(text);
	assert_int_equal(rn_table_from_json(d, &t), GT_OK);
	assert_non_null(t);
	return t;
}

/* The desc with its indexes' local members removed (a fresh table). */
static rn_table *table_make_stripped(void)
{
	cJSON *d = js(desc_text);
	rn_table *t = NULL;
	rn_index_desc_strip(d);
	assert_int_equal(rn_table_from_json(d, &t), GT_OK);
	return t;
}

static const rn_index *ix_get(const rn_table *t, const char *name)
{
	const rn_index *ix = rn_index_find(t, name);
	assert_non_null(ix);
	return ix;
}

/* The desc object of index name (GSI or LSI). */
static const cJSON *desc_ix(const cJSON *desc, const char *name)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	const cJSON *o;

	for (int m = 0; m < 2; m++) {
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m])) {
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o,
			    "IndexName");
			if (cJSON_IsString(nm) &&
			    strcmp(nm->valuestring, name) == 0)
				return o;
		}
	}
	return NULL;
}

/* Asserts that desc's index name holds "Id": id, "Backfilling": bf. */
static void assert_desc_local(const cJSON *desc, const char *name,
    uint32_t id, int bf)
{
	const cJSON *o = desc_ix(desc, name);
	const cJSON *i, *b;

	assert_non_null(o);
	i = cJSON_GetObjectItemCaseSensitive(o, "Id");
	b = cJSON_GetObjectItemCaseSensitive(o, "Backfilling");
	assert_true(cJSON_IsNumber(i));
	assert_true(i->valuedouble == (double)id);
	assert_true(cJSON_IsBool(b));
	assert_int_equal(cJSON_IsTrue(b), bf);
}

/* rn_index_entry_key of text; returns its result, key in *out. */
static int entry_key(const rn_index *ix, const char *text, gt_buf *out)
{
	cJSON *item = js(text);
	int r;

	gt_buf_reset(out);
	r = rn_index_entry_key(ix, item, out);
	cJSON_Delete(item);
	return r;
}

static int obj_size(const cJSON *o)
{
	return cJSON_GetArraySize(o);
}

static int has(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name) != NULL;
}

/* ----------------------------------------------------------- parsing */

static void test_parse_descriptor(void **state)
{
	rn_table *t = table_make(desc_text);
	const rn_index *g, *a, *l;
	const cJSON *na;

	(void)state;
	assert_int_equal(t->nindexes, 3);
	/* GSIs first, in descriptor order, then LSIs. */
	assert_string_equal(t->indexes[0].kt->name, "ByG");
	assert_string_equal(t->indexes[1].kt->name, "AllG");
	assert_string_equal(t->indexes[2].kt->name, "ByL");

	g = ix_get(t, "ByG");
	assert_ptr_equal(g, &t->indexes[0]);
	assert_int_equal(g->local, 0);
	assert_int_equal(g->kt->id, 7);
	assert_int_equal(g->backfilling, 1);
	assert_string_equal(g->kt->hash.name, "gh");
	assert_int_equal(g->kt->hash.type, RN_AV_S);
	assert_string_equal(g->kt->range.name, "gr");
	assert_int_equal(g->kt->range.type, RN_AV_N);
	assert_int_equal(g->proj, RN_PROJ_INCLUDE);
	assert_non_null(g->include);
	assert_int_equal(cJSON_GetArraySize(g->include), 2);
	na = cJSON_GetArrayItem(g->include, 0);
	assert_string_equal(na->valuestring, "color");
	na = cJSON_GetArrayItem(g->include, 1);
	assert_string_equal(na->valuestring, "size");
	/* Borrowed from the table's own descriptor. */
	assert_ptr_equal(g->include, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(desc_ix(t->desc, "ByG"),
	    "Projection"), "NonKeyAttributes"));

	a = ix_get(t, "AllG");
	assert_int_equal(a->local, 0);
	assert_int_equal(a->kt->id, 0); /* no "Id" yet */
	assert_int_equal(a->backfilling, 0);
	assert_string_equal(a->kt->hash.name, "gh");
	assert_int_equal(a->kt->range.type, RN_AV_NONE);
	assert_string_equal(a->kt->range.name, "");
	assert_int_equal(a->proj, RN_PROJ_ALL);
	assert_null(a->include);

	l = ix_get(t, "ByL");
	assert_int_equal(l->local, 1);
	assert_int_equal(l->kt->id, 8);
	assert_int_equal(l->backfilling, 0);
	assert_string_equal(l->kt->hash.name, "pk");
	assert_int_equal(l->kt->hash.type, RN_AV_S);
	assert_string_equal(l->kt->range.name, "lr");
	assert_int_equal(l->kt->range.type, RN_AV_S);
	assert_int_equal(l->proj, RN_PROJ_KEYS_ONLY);
	assert_null(l->include);

	assert_null(rn_index_find(t, "Nope"));
	assert_null(rn_index_find(t, "byg")); /* case-sensitive */
	assert_int_equal(rn_table_backfilling(t), 1);
	rn_table_unref(t);
}

static void test_parse_direct_and_empty(void **state)
{
	cJSON *d = js(desc_text);
	cJSON *plain = js("{\"AttributeDefinitions\":[]}");
	rn_index *ix = (rn_index *)(uintptr_t)1;
	size_t n = 99;

	(void)state;
	assert_int_equal(rn_indexes_parse(d, &ix, &n), GT_OK);
	assert_int_equal(n, 3);
	assert_string_equal(ix[2].kt->name, "ByL");
	assert_int_equal(ix[2].local, 1);
	rn_indexes_free(ix, n);

	/* No index members: nothing, and nothing to free. */
	assert_int_equal(rn_indexes_parse(plain, &ix, &n), GT_OK);
	assert_null(ix);
	assert_int_equal(n, 0);
	rn_indexes_free(ix, n);
	cJSON_Delete(plain);
	cJSON_Delete(d);
}

/* rn_table_from_json of desc_text after replacing from with to. */
static gt_err from_json_edit(const char *from, const char *to)
{
	char text[sizeof(desc_text) + 256];
	const char *p = strstr(desc_text, from);
	rn_table *t = NULL;
	cJSON *d;
	gt_err err;

	assert_non_null(p);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - desc_text),
	    desc_text, to, p + strlen(from));
	d = js(text);
	err = rn_table_from_json(d, &t);
	if (err == GT_OK) {
		rn_table_unref(t); /* consumed d */
	} else {
		assert_null(t);
		cJSON_Delete(d);
	}
	return err;
}

static void test_parse_corrupt(void **state)
{
	(void)state;
	/* Sanity: an identity edit parses. */
	assert_int_equal(from_json_edit("\"ByG\"", "\"ByG\""), GT_OK);
	/* An index key attribute without an AttributeDefinition. */
	assert_int_equal(from_json_edit(
	    "{\"AttributeName\":\"gr\",\"KeyType\":\"RANGE\"}",
	    "{\"AttributeName\":\"nodef\",\"KeyType\":\"RANGE\"}"),
	    GT_ECORRUPT);
	assert_int_equal(from_json_edit(
	    "{\"AttributeName\":\"lr\",\"KeyType\":\"RANGE\"}",
	    "{\"AttributeName\":\"nodef\",\"KeyType\":\"RANGE\"}"),
	    GT_ECORRUPT);
	/* An index without IndexName. */
	assert_int_equal(from_json_edit("\"IndexName\":\"AllG\",",
	    "\"Name\":\"AllG\","), GT_ECORRUPT);
	assert_int_equal(from_json_edit("\"IndexName\":\"ByL\",",
	    "\"IndexName\":5,"), GT_ECORRUPT);
	/* An index without a HASH key, or without a KeySchema. */
	assert_int_equal(from_json_edit(
	    "{\"AttributeName\":\"gh\",\"KeyType\":\"HASH\"},"
	    "{\"AttributeName\":\"gr\"",
	    "{\"AttributeName\":\"gr\""), GT_ECORRUPT);
	assert_int_equal(from_json_edit("\"KeySchema\":[{\"AttributeName\":"
	    "\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"lr\"",
	    "\"KS\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
	    "{\"AttributeName\":\"lr\""), GT_ECORRUPT);
	/* A key attribute of a type a key cannot have. */
	assert_int_equal(from_json_edit(
	    "{\"AttributeName\":\"lr\",\"AttributeType\":\"S\"}",
	    "{\"AttributeName\":\"lr\",\"AttributeType\":\"BOOL\"}"),
	    GT_ECORRUPT);
}

/* ------------------------------------------------------------- entries */

static void test_entry_key_sparse_and_types(void **state)
{
	rn_table *t = table_make(desc_text);
	const rn_index *g = ix_get(t, "ByG"), *a = ix_get(t, "AllG");
	gt_buf out = GT_BUF_INIT;
	cJSON *item;

	(void)state;
	/* Sparse: a missing hash or range attribute keeps it out. */
	assert_int_equal(entry_key(g, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gr\":{\"N\":\"5\"}}", &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(entry_key(g, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"x\"}}", &out), 0);
	assert_int_equal(out.len, 0);
	/* ... but a hash-only index takes it. */
	assert_int_equal(entry_key(a, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"x\"}}", &out), 1);
	assert_true(out.len > 8);
	/* Another type than the defined one. */
	assert_int_equal(entry_key(g, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"N\":\"3\"},"
	    "\"gr\":{\"N\":\"5\"}}", &out), 0);
	assert_int_equal(entry_key(g, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"x\"},"
	    "\"gr\":{\"S\":\"5\"}}", &out), 0);
	assert_int_equal(entry_key(g, "{\"gh\":{\"SS\":[\"x\"]},"
	    "\"gr\":{\"N\":\"5\"}}", &out), 0);
	/* A value the key encoding refuses (empty string) stays out. */
	assert_int_equal(entry_key(g, "{\"gh\":{\"S\":\"\"},"
	    "\"gr\":{\"N\":\"5\"}}", &out), 0);
	assert_int_equal(out.len, 0);
	/* NULL: not live. */
	assert_int_equal(rn_index_entry_key(g, NULL, &out), 0);

	/* Out is left as it was when the item is not in the index. */
	gt_buf_puts(&out, "pre");
	item = js("{\"gh\":{\"S\":\"x\"}}");
	assert_int_equal(rn_index_entry_key(g, item, &out), 0);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "pre", 3);
	cJSON_Delete(item);

	gt_buf_free(&out);
	rn_table_unref(t);
}

static void test_entry_key_layout(void **state)
{
	rn_table *t = table_make(desc_text);
	const rn_index *g = ix_get(t, "ByG");
	const char *text = "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},"
	    "\"gh\":{\"S\":\"hello\"},\"gr\":{\"N\":\"42\"},"
	    "\"color\":{\"S\":\"red\"}}";
	gt_buf out = GT_BUF_INIT, ref = GT_BUF_INIT, pk = GT_BUF_INIT,
	    sk = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	cJSON *item = js(text);
	const cJSON *av;

	(void)state;
	assert_int_equal(entry_key(g, text, &out), 1);
	/* Exactly an item key of the index's key layout. */
	assert_int_equal(rn_table_key_encode(g->kt, item, 0, &ref, msg),
	    GT_OK);
	assert_int_equal(out.len, ref.len);
	assert_memory_equal(out.data, ref.data, ref.len);
	/* u32 index id | u32 h | enc(gh) | enc(gr). */
	assert_int_equal(gt_get_u32be((const uint8_t *)out.data), 7);
	av = cJSON_GetObjectItemCaseSensitive(item, "gh");
	assert_int_equal(rn_key_encode_attr(av, RN_AV_S, "gh", &pk, msg),
	    GT_OK);
	av = cJSON_GetObjectItemCaseSensitive(item, "gr");
	assert_int_equal(rn_key_encode_attr(av, RN_AV_N, "gr", &sk, msg),
	    GT_OK);
	assert_int_equal(out.len, 8 + pk.len + sk.len);
	assert_int_equal(gt_get_u32be((const uint8_t *)out.data + 4),
	    rn_key_hash((const uint8_t *)pk.data, pk.len));
	assert_memory_equal(out.data + 8, pk.data, pk.len);
	assert_memory_equal(out.data + 8 + pk.len, sk.data, sk.len);

	/* Appends after what out holds. */
	gt_buf_reset(&out);
	gt_buf_puts(&out, "pre");
	assert_int_equal(rn_index_entry_key(g, item, &out), 1);
	assert_int_equal(out.len, 3 + ref.len);
	assert_memory_equal(out.data, "pre", 3);
	assert_memory_equal(out.data + 3, ref.data, ref.len);

	cJSON_Delete(item);
	gt_buf_free(&out);
	gt_buf_free(&ref);
	gt_buf_free(&pk);
	gt_buf_free(&sk);
	rn_table_unref(t);
}

static void test_entry_key_equal_and_order(void **state)
{
	rn_table *t = table_make(desc_text);
	const rn_index *g = ix_get(t, "ByG"), *l = ix_get(t, "ByL");
	gt_buf a = GT_BUF_INIT, b = GT_BUF_INIT;
	static const char *const nums[] = {"-100", "-9.5", "0", "0.001",
	    "9", "10", "10.5", "100", "1E+3"};
	gt_buf keys[GT_ARRAY_LEN(nums)];

	(void)state;
	/* Different table keys, other attributes differ: same index key. */
	assert_int_equal(entry_key(g, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"5\"},"
	    "\"color\":{\"S\":\"red\"}}", &a), 1);
	assert_int_equal(entry_key(g, "{\"pk\":{\"S\":\"b\"},"
	    "\"sk\":{\"N\":\"2\"},\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"5.0\"},"
	    "\"color\":{\"S\":\"blue\"}}", &b), 1);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	/* Another index, same values: another id, so other bytes. */
	assert_int_equal(entry_key(l, "{\"pk\":{\"S\":\"x\"},"
	    "\"lr\":{\"S\":\"x\"}}", &b), 1);
	assert_int_equal(gt_get_u32be((const uint8_t *)b.data), 8);
	/* Another partition: another key. */
	assert_int_equal(entry_key(g, "{\"gh\":{\"S\":\"y\"},"
	    "\"gr\":{\"N\":\"5\"}}", &b), 1);
	assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);

	/* Numeric sort keys order numerically in the bytes. */
	for (size_t i = 0; i < GT_ARRAY_LEN(nums); i++) {
		char text[128];
		gt_buf init = GT_BUF_INIT;
		keys[i] = init;
		snprintf(text, sizeof(text), "{\"gh\":{\"S\":\"p\"},"
		    "\"gr\":{\"N\":\"%s\"}}", nums[i]);
		assert_int_equal(entry_key(g, text, &keys[i]), 1);
		/* One partition: the same 8 + enc(pk) prefix. */
		if (i > 0)
			assert_memory_equal(keys[i].data, keys[0].data, 8);
	}
	for (size_t i = 1; i < GT_ARRAY_LEN(nums); i++) {
		size_t n = keys[i - 1].len < keys[i].len ? keys[i - 1].len :
		    keys[i].len;
		int c = memcmp(keys[i - 1].data, keys[i].data, n);
		if (c == 0)
			c = keys[i - 1].len < keys[i].len ? -1 : 1;
		if (c >= 0)
			fail_msg("%s does not sort before %s", nums[i - 1],
			    nums[i]);
	}
	for (size_t i = 0; i < GT_ARRAY_LEN(nums); i++)
		gt_buf_free(&keys[i]);
	gt_buf_free(&a);
	gt_buf_free(&b);
	rn_table_unref(t);
}

/* ---------------------------------------------------------- validation */

static gt_err validate(const rn_table *t, const char *text, char *msg)
{
	cJSON *item = js(text);
	gt_err err;

	msg[0] = '\0';
	err = rn_index_validate(t, item, msg);
	cJSON_Delete(item);
	return err;
}

static void test_validate(void **state)
{
	rn_table *t = table_make(desc_text);
	char msg[RN_MSG_MAX];

	(void)state;
	/* Absent index attributes are fine (sparse). */
	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"}}", msg), GT_OK);
	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"0\"},"
	    "\"lr\":{\"S\":\"q\"},\"color\":{\"S\":\"\"}}", msg), GT_OK);

	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"N\":\"5\"}}", msg), GT_EINVAL);
	assert_string_equal(msg, "One or more parameter values were invalid: "
	    "Type mismatch for Index Key gh Expected: S Actual: N "
	    "IndexName: ByG");
	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gr\":{\"S\":\"5\"}}", msg), GT_EINVAL);
	assert_string_equal(msg, "One or more parameter values were invalid: "
	    "Type mismatch for Index Key gr Expected: N Actual: S "
	    "IndexName: ByG");
	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"lr\":{\"BOOL\":true}}", msg), GT_EINVAL);
	assert_string_equal(msg, "One or more parameter values were invalid: "
	    "Type mismatch for Index Key lr Expected: S Actual: BOOL "
	    "IndexName: ByL");

	/* An empty string index key is refused, naming index and key. */
	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"\"}}", msg), GT_EINVAL);
	assert_non_null(strstr(msg, "empty string"));
	assert_non_null(strstr(msg, "IndexName: ByG, IndexKey: gh"));
	assert_int_equal(validate(t, "{\"pk\":{\"S\":\"a\"},"
	    "\"sk\":{\"N\":\"1\"},\"lr\":{\"S\":\"\"}}", msg), GT_EINVAL);
	assert_non_null(strstr(msg, "IndexName: ByL, IndexKey: lr"));

	/* Index keys obey the table's key size limits, so no accepted write
	 * is left out of an index it belongs in. */
	{
		char big[1200 + 2048 + 256];
		char q[2101];
		memset(q, 'q', 2100);
		q[2100] = '\0';
		snprintf(big, sizeof(big), "{\"pk\":{\"S\":\"a\"},"
		    "\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"%s\"},"
		    "\"gr\":{\"N\":\"1\"}}", q);
		assert_int_equal(validate(t, big, msg), GT_EINVAL);
		assert_non_null(strstr(msg, "Size of hashkey has exceeded"));
		q[1100] = '\0';
		snprintf(big, sizeof(big), "{\"pk\":{\"S\":\"a\"},"
		    "\"sk\":{\"N\":\"1\"},\"lr\":{\"S\":\"%s\"}}", q);
		assert_int_equal(validate(t, big, msg), GT_EINVAL);
		assert_non_null(strstr(msg, "Aggregated size of all range "
		    "keys"));
	}
	rn_table_unref(t);
}

/* ---------------------------------------------------------- projection */

static const char item_full[] =
    "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"gh\":{\"S\":\"x\"},"
    "\"gr\":{\"N\":\"5\"},\"lr\":{\"S\":\"m\"},\"color\":{\"S\":\"red\"},"
    "\"size\":{\"S\":\"L\"},\"extra\":{\"S\":\"zzz\"}}";

static void test_project_and_extract(void **state)
{
	rn_table *t = table_make(desc_text);
	const rn_index *g = ix_get(t, "ByG"), *a = ix_get(t, "AllG"),
	    *l = ix_get(t, "ByL");
	cJSON *item = js(item_full);
	cJSON *nosize = js(item_full);
	cJSON *p;

	(void)state;
	/* ALL keeps everything. */
	p = rn_index_project(t, a, item);
	assert_non_null(p);
	assert_true(cJSON_Compare(p, item, 1));
	assert_ptr_not_equal(p, item);
	cJSON_Delete(p);

	/* KEYS_ONLY: the table's keys and the index's, nothing else. */
	p = rn_index_project(t, l, item);
	assert_non_null(p);
	assert_int_equal(obj_size(p), 3);
	assert_true(has(p, "pk") && has(p, "sk") && has(p, "lr"));
	assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(p, "lr"),
	    cJSON_GetObjectItemCaseSensitive(item, "lr"), 1));
	cJSON_Delete(p);

	/* INCLUDE adds the listed attributes the item holds. */
	p = rn_index_project(t, g, item);
	assert_non_null(p);
	assert_int_equal(obj_size(p), 6);
	assert_true(has(p, "pk") && has(p, "sk") && has(p, "gh") &&
	    has(p, "gr") && has(p, "color") && has(p, "size"));
	assert_false(has(p, "extra"));
	assert_false(has(p, "lr"));
	cJSON_Delete(p);
	cJSON_DeleteItemFromObjectCaseSensitive(nosize, "size");
	p = rn_index_project(t, g, nosize);
	assert_non_null(p);
	assert_int_equal(obj_size(p), 5);
	assert_false(has(p, "size"));
	assert_true(has(p, "color"));
	cJSON_Delete(p);

	/* Key extraction: table keys + index keys, each once. */
	p = rn_index_key_extract(t, g, item);
	assert_non_null(p);
	assert_int_equal(obj_size(p), 4);
	assert_true(has(p, "pk") && has(p, "sk") && has(p, "gh") &&
	    has(p, "gr"));
	cJSON_Delete(p);
	p = rn_index_key_extract(t, a, item);
	assert_non_null(p);
	assert_int_equal(obj_size(p), 3);
	assert_true(has(p, "pk") && has(p, "sk") && has(p, "gh"));
	cJSON_Delete(p);
	p = rn_index_key_extract(t, l, item);
	assert_non_null(p);
	assert_int_equal(obj_size(p), 3);
	assert_true(has(p, "pk") && has(p, "sk") && has(p, "lr"));
	cJSON_Delete(p);

	cJSON_Delete(nosize);
	cJSON_Delete(item);
	rn_table_unref(t);
}

/* --------------------------------------------------------------- strip */

static void test_desc_strip(void **state)
{
	cJSON *d = js(desc_text);
	cJSON *ref = js(desc_text);
	const cJSON *o;
	int seen = 0;

	(void)state;
	rn_index_desc_strip(d);
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d,
	    "GlobalSecondaryIndexes")) {
		assert_false(has(o, "Id"));
		assert_false(has(o, "Backfilling"));
		assert_true(has(o, "IndexName") && has(o, "KeySchema") &&
		    has(o, "Projection"));
		seen++;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d,
	    "LocalSecondaryIndexes")) {
		assert_false(has(o, "Id"));
		assert_false(has(o, "Backfilling"));
		seen++;
	}
	assert_int_equal(seen, 3);
	/* The table's own "Id" is not an index's: it stays. */
	assert_true(cJSON_GetObjectItemCaseSensitive(d, "Id")->valuedouble ==
	    100.0);
	/* Nothing else changed: put the members back and compare. */
	cJSON_AddNumberToObject((cJSON *)(uintptr_t)desc_ix(d, "ByG"), "Id",
	    7);
	cJSON_AddBoolToObject((cJSON *)(uintptr_t)desc_ix(d, "ByG"),
	    "Backfilling", 1);
	cJSON_AddNumberToObject((cJSON *)(uintptr_t)desc_ix(d, "ByL"), "Id",
	    8);
	cJSON_AddBoolToObject((cJSON *)(uintptr_t)desc_ix(d, "ByL"),
	    "Backfilling", 0);
	assert_true(cJSON_Compare(d, ref, 1));
	/* A descriptor without indexes is left alone. */
	{
		cJSON *p = js("{\"Id\":3,\"TableName\":\"T\"}");
		rn_index_desc_strip(p);
		assert_int_equal(obj_size(p), 2);
		cJSON_Delete(p);
	}
	cJSON_Delete(ref);
	cJSON_Delete(d);
}

/* ---------------------------------------------------- on a real store */

typedef struct fixture {
	char dir[64];
	rn_store *s;
	const rn_dbs *dbs;
} fixture;

static int fixture_setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	rn_store_opts o;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/meridian-index-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.path = f->dir;
	o.durability = RN_DURABILITY_NOSYNC;
	o.map_size_bytes = 64u << 20;
	o.batch_max = 16;
	if (rn_store_open(&o, &f->s) != GT_OK) {
		free(f);
		return -1;
	}
	f->dbs = rn_store_dbs(f->s);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	rn_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/*
 * A function run inside one write transaction.  It runs on the writer
 * thread, so it must not assert: it reports through its return value.
 */
typedef struct txn_job {
	fixture *f;
	gt_err (*fn)(struct txn_job *j, MDB_txn *txn);
	const rn_table *t;
	const rn_table *old;
	rn_table *new_;
	const char *old_item, *new_item;
	const gt_buf *k, *v; /* raw index entry */
} txn_job;

static gt_err txn_job_run(rn_store *s, MDB_txn *txn, rn_write *w)
{
	txn_job *j = w->arg;
	(void)s;
	return j->fn(j, txn);
}

static gt_err run_job(txn_job *j)
{
	return rn_store_write_sync(j->f->s, txn_job_run, j);
}

/* Writes the item change old_item -> new_item (either NULL) the way a
 * write does: the item record, then its index entries. */
static gt_err item_fn(txn_job *j, MDB_txn *txn)
{
	cJSON *old = j->old_item ? cJSON_Parse(j->old_item) : NULL;
	cJSON *new_ = j->new_item ? cJSON_Parse(j->new_item) : NULL;
	const char *body = j->new_item ? j->new_item : j->old_item;
	gt_buf key = GT_BUF_INIT, rec = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	rn_itemrec ir;
	MDB_val k, v;
	gt_err err;

	if ((j->old_item && !old) || (j->new_item && !new_)) {
		err = GT_EINVAL;
		goto out;
	}
	err = rn_table_key_encode(j->t, new_ ? new_ : old, 0, &key, msg);
	if (err != GT_OK)
		goto out;
	memset(&ir, 0, sizeof(ir));
	ir.flags = new_ ? 0 : RN_ITEM_F_TOMBSTONE;
	ir.body = body;
	ir.body_len = strlen(body);
	rn_itemrec_encode(&ir, &rec);
	k.mv_size = key.len;
	k.mv_data = key.data;
	v.mv_size = rec.len;
	v.mv_data = rec.data;
	err = rn_mdb_err(mdb_put(txn, j->f->dbs->items, &k, &v, 0));
	if (err == GT_OK)
		err = rn_index_item(txn, j->f->dbs, j->t, key.data, key.len,
		    old, new_);
out:
	gt_buf_free(&key);
	gt_buf_free(&rec);
	cJSON_Delete(old);
	cJSON_Delete(new_);
	return err;
}

static void item_change(fixture *f, const rn_table *t, const char *old,
    const char *new_)
{
	txn_job j;

	memset(&j, 0, sizeof(j));
	j.f = f;
	j.fn = item_fn;
	j.t = t;
	j.old_item = old;
	j.new_item = new_;
	assert_int_equal(run_job(&j), GT_OK);
}

static gt_err table_fn(txn_job *j, MDB_txn *txn)
{
	return rn_index_table(txn, j->f->dbs, j->old, j->new_);
}

static void index_table(fixture *f, const rn_table *old, rn_table *new_)
{
	txn_job j;

	memset(&j, 0, sizeof(j));
	j.f = f;
	j.fn = table_fn;
	j.old = old;
	j.new_ = new_;
	assert_int_equal(run_job(&j), GT_OK);
}

static gt_err entry_del_fn(txn_job *j, MDB_txn *txn)
{
	MDB_val k = {j->k->len, j->k->data}, v = {j->v->len, j->v->data};
	return rn_mdb_err(mdb_del(txn, j->f->dbs->index, &k, &v));
}

static gt_err entry_put_fn(txn_job *j, MDB_txn *txn)
{
	MDB_val k = {j->k->len, j->k->data}, v = {j->v->len, j->v->data};
	return rn_mdb_err(mdb_put(txn, j->f->dbs->index, &k, &v,
	    MDB_NODUPDATA));
}

static void entry_raw(fixture *f, int put, const gt_buf *k, const gt_buf *v)
{
	txn_job j;

	memset(&j, 0, sizeof(j));
	j.f = f;
	j.fn = put ? entry_put_fn : entry_del_fn;
	j.k = k;
	j.v = v;
	assert_int_equal(run_job(&j), GT_OK);
}

static void check(fixture *f, const rn_table *t, uint64_t entries,
    uint64_t missing, uint64_t extra)
{
	MDB_txn *txn = NULL;
	uint64_t e = 99, m = 99, x = 99;

	assert_int_equal(rn_store_read_begin(f->s, &txn), GT_OK);
	assert_int_equal(rn_index_check(txn, f->dbs, t, &e, &m, &x), GT_OK);
	rn_store_read_end(txn);
	if (e != entries || m != missing || x != extra)
		fail_msg("check: entries/missing/extra = %llu/%llu/%llu, "
		    "expected %llu/%llu/%llu", (unsigned long long)e,
		    (unsigned long long)m, (unsigned long long)x,
		    (unsigned long long)entries, (unsigned long long)missing,
		    (unsigned long long)extra);
}

/* The table key and index key of an item, for direct lookups. */
static void keys_of(const rn_table *t, const rn_index *ix, const char *text,
    gt_buf *ik, gt_buf *tk)
{
	char msg[RN_MSG_MAX];
	cJSON *item = js(text);

	gt_buf_reset(ik);
	gt_buf_reset(tk);
	assert_int_equal(rn_index_entry_key(ix, item, ik), 1);
	assert_int_equal(rn_table_key_encode(t, item, 0, tk, msg), GT_OK);
	cJSON_Delete(item);
}

/* Is (ik -> tk) stored?  How many entries under ik (*dups)? */
static int entry_there(fixture *f, const gt_buf *ik, const gt_buf *tk,
    size_t *dups)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k = {ik->len, ik->data}, v = {tk->len, tk->data};
	int rc, there;

	assert_int_equal(rn_store_read_begin(f->s, &txn), GT_OK);
	assert_int_equal(mdb_cursor_open(txn, f->dbs->index, &cur),
	    MDB_SUCCESS);
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
	assert_true(rc == MDB_SUCCESS || rc == MDB_NOTFOUND);
	there = rc == MDB_SUCCESS;
	if (dups != NULL) {
		*dups = 0;
		k.mv_size = ik->len;
		k.mv_data = ik->data;
		if (mdb_cursor_get(cur, &k, &v, MDB_SET) == MDB_SUCCESS) {
			size_t c = 0;
			assert_int_equal(mdb_cursor_count(cur, &c),
			    MDB_SUCCESS);
			*dups = c;
		}
	}
	mdb_cursor_close(cur);
	rn_store_read_end(txn);
	return there;
}

/* Entries stored under index id (any key). */
static size_t entries_of(fixture *f, uint32_t id)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	uint8_t kb[4];
	MDB_val k = {4, kb}, v;
	size_t n = 0;
	int rc;

	gt_put_u32be(kb, id);
	assert_int_equal(rn_store_read_begin(f->s, &txn), GT_OK);
	assert_int_equal(mdb_cursor_open(txn, f->dbs->index, &cur),
	    MDB_SUCCESS);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == MDB_SUCCESS && k.mv_size >= 4 &&
	    memcmp(k.mv_data, kb, 4) == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n++;
	mdb_cursor_close(cur);
	rn_store_read_end(txn);
	return n;
}

static void stats_of(fixture *f, uint32_t id, uint64_t *count,
    uint64_t *bytes)
{
	MDB_txn *txn = NULL;

	assert_int_equal(rn_store_read_begin(f->s, &txn), GT_OK);
	assert_int_equal(rn_stats_read(txn, f->dbs, id, count, bytes), GT_OK);
	rn_store_read_end(txn);
}

/* What the statistics of ix must say for the live items texts[]. */
static void stats_expect(const rn_table *t, const rn_index *ix,
    const char *const *texts, size_t n, uint64_t *count, uint64_t *bytes)
{
	gt_buf k = GT_BUF_INIT;

	*count = *bytes = 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *item = js(texts[i]);
		gt_buf_reset(&k);
		if (rn_index_entry_key(ix, item, &k) == 1) {
			cJSON *p = rn_index_project(t, ix, item);
			assert_non_null(p);
			(*count)++;
			*bytes += rn_item_size(p);
			cJSON_Delete(p);
		}
		cJSON_Delete(item);
	}
	gt_buf_free(&k);
}

#define IT_A "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}," \
    "\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"5\"},\"lr\":{\"S\":\"m\"}," \
    "\"color\":{\"S\":\"red\"}}"
#define IT_A2 "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}," \
    "\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"6\"},\"lr\":{\"S\":\"m\"}," \
    "\"color\":{\"S\":\"red\"}}"
#define IT_B "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}," \
    "\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"5\"},\"lr\":{\"S\":\"n\"}}"
#define IT_B2 "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}," \
    "\"gh\":{\"S\":\"x\"},\"gr\":{\"N\":\"5\"},\"lr\":{\"S\":\"n\"}," \
    "\"color\":{\"S\":\"a much longer colour name\"}}"
#define IT_C "{\"pk\":{\"S\":\"c\"},\"sk\":{\"N\":\"1\"}," \
    "\"gh\":{\"S\":\"y\"}}"
#define IT_C2 "{\"pk\":{\"S\":\"c\"},\"sk\":{\"N\":\"1\"}," \
    "\"gh\":{\"S\":\"y\"},\"gr\":{\"N\":\"1\"}}"
#define IT_D "{\"pk\":{\"S\":\"d\"},\"sk\":{\"N\":\"2\"}," \
    "\"gh\":{\"S\":\"z\"},\"gr\":{\"S\":\"7\"},\"lr\":{\"S\":\"o\"}}"

/* A fresh table with ids from the store: ByG 1, AllG 2, ByL 3. */
static rn_table *fresh_table(fixture *f)
{
	rn_table *t = table_make_stripped();

	index_table(f, NULL, t);
	return t;
}

static void test_store_new_table_ids(void **state)
{
	fixture *f = *state;
	rn_table *t = table_make_stripped();

	assert_int_equal(ix_get(t, "ByG")->kt->id, 0);
	index_table(f, NULL, t);
	/* Allocated in order from the table id space; a new table is
	 * empty, so nothing is backfilling. */
	assert_int_equal(ix_get(t, "ByG")->kt->id, 1);
	assert_int_equal(ix_get(t, "AllG")->kt->id, 2);
	assert_int_equal(ix_get(t, "ByL")->kt->id, 3);
	assert_int_equal(rn_table_backfilling(t), 0);
	assert_desc_local(t->desc, "ByG", 1, 0);
	assert_desc_local(t->desc, "AllG", 2, 0);
	assert_desc_local(t->desc, "ByL", 3, 0);
	rn_table_unref(t);

	/* A new table never takes Ids from its descriptor: ids are local
	 * and never reused. */
	t = table_make(desc_text);
	assert_int_equal(ix_get(t, "ByG")->kt->id, 7);
	assert_int_equal(ix_get(t, "ByG")->backfilling, 1);
	index_table(f, NULL, t);
	assert_int_equal(ix_get(t, "ByG")->kt->id, 4);
	assert_int_equal(ix_get(t, "AllG")->kt->id, 5);
	assert_int_equal(ix_get(t, "ByL")->kt->id, 6);
	assert_int_equal(rn_table_backfilling(t), 0);
	assert_desc_local(t->desc, "ByG", 4, 0);
	assert_desc_local(t->desc, "ByL", 6, 0);
	rn_table_unref(t);
}

static void test_store_item_entries(void **state)
{
	fixture *f = *state;
	rn_table *t = fresh_table(f);
	const rn_index *g = ix_get(t, "ByG"), *a = ix_get(t, "AllG"),
	    *l = ix_get(t, "ByL");
	gt_buf ik = GT_BUF_INIT, tk = GT_BUF_INIT, ik2 = GT_BUF_INIT,
	    bogus = GT_BUF_INIT;
	static const char *const live[] = {IT_A2, IT_C2, IT_D};
	uint64_t c, b, ec, eb;
	size_t dups;

	check(f, t, 0, 0, 0);
	/* A, B: in all three; C: only AllG (no gr, no lr); D: gr is not a
	 * number, so AllG and ByL. */
	item_change(f, t, NULL, IT_A);
	item_change(f, t, NULL, IT_B);
	item_change(f, t, NULL, IT_C);
	item_change(f, t, NULL, IT_D);
	check(f, t, 9, 0, 0);
	assert_int_equal(entries_of(f, g->kt->id), 2);
	assert_int_equal(entries_of(f, a->kt->id), 4);
	assert_int_equal(entries_of(f, l->kt->id), 3);
	/* A and B share their ByG key: two entries under one key. */
	keys_of(t, g, IT_A, &ik, &tk);
	assert_true(entry_there(f, &ik, &tk, &dups));
	assert_int_equal(dups, 2);
	stats_of(f, g->kt->id, &c, &b);
	assert_int_equal(c, 2);

	/* An update that moves A's ByG key: the old entry goes. */
	item_change(f, t, IT_A, IT_A2);
	check(f, t, 9, 0, 0);
	assert_false(entry_there(f, &ik, &tk, &dups));
	assert_int_equal(dups, 1); /* B's */
	keys_of(t, g, IT_A2, &ik2, &tk);
	assert_true(entry_there(f, &ik2, &tk, &dups));
	assert_int_equal(dups, 1);
	assert_int_equal(entries_of(f, g->kt->id), 2);
	/* ... while its AllG and ByL entries stay where they were. */
	keys_of(t, a, IT_A2, &ik2, &tk);
	assert_true(entry_there(f, &ik2, &tk, NULL));
	keys_of(t, l, IT_A2, &ik2, &tk);
	assert_true(entry_there(f, &ik2, &tk, NULL));

	/* An update that keeps every index key moves nothing. */
	item_change(f, t, IT_B, IT_B2);
	check(f, t, 9, 0, 0);
	keys_of(t, g, IT_B2, &ik2, &tk);
	assert_true(entry_there(f, &ik2, &tk, NULL));
	assert_int_equal(entries_of(f, g->kt->id), 2);

	/* An update that brings C into ByG. */
	item_change(f, t, IT_C, IT_C2);
	check(f, t, 10, 0, 0);
	assert_int_equal(entries_of(f, g->kt->id), 3);

	/* A delete takes B out of every index. */
	item_change(f, t, IT_B2, NULL);
	check(f, t, 7, 0, 0);
	assert_int_equal(entries_of(f, g->kt->id), 2);
	assert_int_equal(entries_of(f, a->kt->id), 3);
	assert_int_equal(entries_of(f, l->kt->id), 2);

	/* Statistics follow every move, in the projected size. */
	for (size_t i = 0; i < t->nindexes; i++) {
		const rn_index *ix = &t->indexes[i];
		stats_of(f, ix->kt->id, &c, &b);
		stats_expect(t, ix, live, GT_ARRAY_LEN(live), &ec, &eb);
		assert_int_equal(c, ec);
		assert_int_equal(b, eb);
	}

	/* A lost entry is missing... */
	keys_of(t, g, IT_A2, &ik, &tk);
	entry_raw(f, 0, &ik, &tk);
	check(f, t, 7, 1, 0);
	entry_raw(f, 1, &ik, &tk);
	check(f, t, 7, 0, 0);
	/* ... an entry no item explains is extra: one for a deleted item,
	 * one under a wrong key ... */
	keys_of(t, l, IT_B, &ik2, &bogus);
	entry_raw(f, 1, &ik2, &bogus);
	check(f, t, 7, 0, 1);
	gt_buf_reset(&bogus);
	gt_buf_put_u32be(&bogus, a->kt->id);
	gt_buf_puts(&bogus, "garbage");
	entry_raw(f, 1, &bogus, &tk);
	check(f, t, 7, 0, 2);
	/* ... and both at once. */
	entry_raw(f, 0, &ik, &tk);
	check(f, t, 7, 1, 2);

	gt_buf_free(&ik);
	gt_buf_free(&tk);
	gt_buf_free(&ik2);
	gt_buf_free(&bogus);
	rn_table_unref(t);
}

/* desc of t with edit applied: a new GSI ByColor, AllG removed. */
static rn_table *replaced(const rn_table *t, int strip)
{
	cJSON *d = cJSON_Duplicate(t->desc, 1);
	cJSON *gsis, *o, *nx;
	rn_table *n = NULL;

	assert_non_null(d);
	gsis = cJSON_GetObjectItemCaseSensitive(d, "GlobalSecondaryIndexes");
	for (o = gsis->child; o != NULL; o = nx) {
		nx = o->next;
		if (strcmp(cJSON_GetObjectItemCaseSensitive(o,
		    "IndexName")->valuestring, "AllG") == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(gsis, o));
	}
	if (desc_ix(d, "ByColor") == NULL)
		cJSON_AddItemToArray(gsis, js("{\"IndexName\":\"ByColor\","
		    "\"KeySchema\":[{\"AttributeName\":\"color\","
		    "\"KeyType\":\"HASH\"}],"
		    "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}"));
	if (strip)
		rn_index_desc_strip(d);
	assert_int_equal(rn_table_from_json(d, &n), GT_OK);
	return n;
}

static gt_err meta_put_fn(txn_job *j, MDB_txn *txn)
{
	MDB_val k = {j->k->len, j->k->data}, v = {4, (void *)(uintptr_t)"abcd"};
	return rn_mdb_err(mdb_put(txn, j->f->dbs->meta, &k, &v, 0));
}

static int meta_has(fixture *f, const char *key)
{
	MDB_txn *txn = NULL;
	MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
	int rc;

	assert_int_equal(rn_store_read_begin(f->s, &txn), GT_OK);
	rc = mdb_get(txn, f->dbs->meta, &k, &v);
	rn_store_read_end(txn);
	assert_true(rc == MDB_SUCCESS || rc == MDB_NOTFOUND);
	return rc == MDB_SUCCESS;
}

/* While an index backfills, an update that keeps an item's index key
 * must not count bytes for an entry the backfill has not added yet. */
static void test_store_backfilling_stats(void **state)
{
	fixture *f = *state;
	rn_table *t = fresh_table(f);
	const rn_index *g = ix_get(t, "ByG");
	uint64_t c = 1, b = 1;

	for (size_t i = 0; i < t->nindexes; i++)
		t->indexes[i].backfilling = 1;
	item_change(f, t, IT_B, IT_B2);
	stats_of(f, g->kt->id, &c, &b);
	assert_int_equal(c, 0);
	assert_int_equal(b, 0);
	rn_table_unref(t);
}

static void test_store_index_table_replace(void **state)
{
	fixture *f = *state;
	rn_table *t = fresh_table(f), *t2, *t3, *t4;
	uint32_t all_id;
	uint64_t c, b;
	txn_job j;
	gt_buf mk = GT_BUF_INIT;

	item_change(f, t, NULL, IT_A);
	item_change(f, t, NULL, IT_C2);
	item_change(f, t, NULL, IT_D);
	check(f, t, 7, 0, 0);
	all_id = ix_get(t, "AllG")->kt->id;
	assert_int_equal(all_id, 2);
	assert_int_equal(entries_of(f, all_id), 3);
	stats_of(f, all_id, &c, &b);
	assert_int_equal(c, 3);
	/* A backfill position the drop must remove with the index. */
	gt_buf_printf(&mk, "ixfill/%u", all_id);
	memset(&j, 0, sizeof(j));
	j.f = f;
	j.fn = meta_put_fn;
	j.k = &mk;
	assert_int_equal(run_job(&j), GT_OK);
	assert_true(meta_has(f, mk.data));

	/* UpdateTable: ByColor is added, AllG deleted. */
	t2 = replaced(t, 0);
	assert_int_equal(t2->nindexes, 3);
	index_table(f, t, t2);
	assert_int_equal(ix_get(t2, "ByG")->kt->id, 1);
	assert_int_equal(ix_get(t2, "ByG")->backfilling, 0);
	assert_int_equal(ix_get(t2, "ByL")->kt->id, 3);
	/* Fresh id (never 2 again), backfilling: the table has items. */
	assert_int_equal(ix_get(t2, "ByColor")->kt->id, 4);
	assert_int_equal(ix_get(t2, "ByColor")->backfilling, 1);
	assert_int_equal(rn_table_backfilling(t2), 1);
	assert_desc_local(t2->desc, "ByColor", 4, 1);
	assert_desc_local(t2->desc, "ByG", 1, 0);
	assert_desc_local(t2->desc, "ByL", 3, 0);
	assert_null(desc_ix(t2->desc, "AllG"));
	/* AllG's entries, statistics and backfill position are gone. */
	assert_int_equal(entries_of(f, all_id), 0);
	stats_of(f, all_id, &c, &b);
	assert_int_equal(c, 0);
	assert_int_equal(b, 0);
	assert_false(meta_has(f, mk.data));
	/* The old descriptor now misses AllG's three entries; the new one
	 * misses only A's ByColor entry, until the backfill adds it. */
	check(f, t, 7, 3, 0);
	check(f, t2, 5, 1, 0);
	/* The kept indexes are untouched. */
	assert_int_equal(entries_of(f, 1), 2);
	assert_int_equal(entries_of(f, 3), 2);

	/* The same indexes described from another region (no local
	 * members): local ids and state stay as they were. */
	t3 = replaced(t2, 1);
	assert_int_equal(ix_get(t3, "ByColor")->kt->id, 0);
	index_table(f, t2, t3);
	assert_int_equal(ix_get(t3, "ByG")->kt->id, 1);
	assert_int_equal(ix_get(t3, "ByL")->kt->id, 3);
	assert_int_equal(ix_get(t3, "ByColor")->kt->id, 4);
	assert_int_equal(ix_get(t3, "ByColor")->backfilling, 1);
	assert_int_equal(ix_get(t3, "ByG")->backfilling, 0);
	assert_desc_local(t3->desc, "ByColor", 4, 1);
	assert_desc_local(t3->desc, "ByG", 1, 0);
	assert_int_equal(entries_of(f, 1), 2);
	assert_int_equal(entries_of(f, 3), 2);
	check(f, t3, 5, 1, 0);

	/* An index recreated under the same name with another key schema
	 * is a new index: new id, old entries dropped. */
	{
		cJSON *d = cJSON_Duplicate(t3->desc, 1);
		cJSON *o = (cJSON *)(uintptr_t)desc_ix(d, "ByG");
		cJSON *ks = cJSON_GetObjectItemCaseSensitive(o, "KeySchema");
		cJSON_DeleteItemFromArray(ks, 1); /* drop the RANGE key */
		assert_int_equal(rn_table_from_json(d, &t4), GT_OK);
	}
	assert_int_equal(ix_get(t4, "ByG")->kt->range.type, RN_AV_NONE);
	index_table(f, t3, t4);
	assert_int_equal(ix_get(t4, "ByG")->kt->id, 5);
	assert_int_equal(ix_get(t4, "ByG")->backfilling, 1);
	assert_desc_local(t4->desc, "ByG", 5, 1);
	assert_int_equal(entries_of(f, 1), 0);
	assert_int_equal(entries_of(f, 3), 2);
	assert_int_equal(entries_of(f, 4), 0);

	/* A dropped table loses every index entry. */
	index_table(f, t4, NULL);
	assert_int_equal(entries_of(f, 3), 0);
	stats_of(f, 3, &c, &b);
	assert_int_equal(c, 0);
	check(f, t4, 6, 6, 0);

	gt_buf_free(&mk);
	rn_table_unref(t);
	rn_table_unref(t2);
	rn_table_unref(t3);
	rn_table_unref(t4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_descriptor),
		cmocka_unit_test(test_parse_direct_and_empty),
		cmocka_unit_test(test_parse_corrupt),
		cmocka_unit_test(test_entry_key_sparse_and_types),
		cmocka_unit_test(test_entry_key_layout),
		cmocka_unit_test(test_entry_key_equal_and_order),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_project_and_extract),
		cmocka_unit_test(test_desc_strip),
		cmocka_unit_test_setup_teardown(test_store_new_table_ids,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_store_item_entries,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_store_backfilling_stats,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_store_index_table_replace,
		    fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
