/*
 * table.c — table descriptors, item-key encoding and the catalog.
 */
#include "table.h"

#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

/* ------------------------------------------------------------ descriptor */

static gt_err keyattr_from_schema(const cJSON *desc, const char *keytype,
    rn_keyattr *out)
{
	const cJSON *ks = cJSON_GetObjectItemCaseSensitive(desc, "KeySchema");
	const cJSON *ad = cJSON_GetObjectItemCaseSensitive(desc,
	    "AttributeDefinitions");
	const cJSON *e, *a;
	const char *name = NULL;

	out->type = RN_AV_NONE;
	out->name[0] = '\0';
	cJSON_ArrayForEach(e, ks) {
		const cJSON *kt = cJSON_GetObjectItemCaseSensitive(e, "KeyType");
		const cJSON *an = cJSON_GetObjectItemCaseSensitive(e,
		    "AttributeName");
		if (cJSON_IsString(kt) && cJSON_IsString(an) &&
		    strcmp(kt->valuestring, keytype) == 0)
			name = an->valuestring;
	}
	if (name == NULL)
		return strcmp(keytype, "HASH") == 0 ? GT_ECORRUPT : GT_OK;
	if (strlen(name) > RN_ATTR_NAME_MAX)
		return GT_ECORRUPT;
	cJSON_ArrayForEach(a, ad) {
		const cJSON *an = cJSON_GetObjectItemCaseSensitive(a,
		    "AttributeName");
		const cJSON *at = cJSON_GetObjectItemCaseSensitive(a,
		    "AttributeType");
		if (cJSON_IsString(an) && cJSON_IsString(at) &&
		    strcmp(an->valuestring, name) == 0) {
			out->type = rn_av_type_parse(at->valuestring);
			break;
		}
	}
	if (out->type != RN_AV_S && out->type != RN_AV_N &&
	    out->type != RN_AV_B)
		return GT_ECORRUPT;
	memcpy(out->name, name, strlen(name) + 1);
	return GT_OK;
}

gt_err rn_desc_rset(const cJSON *desc, topo_rset *out)
{
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(desc, "ReplicaSet");
	char *text;
	gt_err err;

	if (rs == NULL)
		return GT_ENOTFOUND;
	text = cJSON_PrintUnformatted(rs);
	if (text == NULL)
		return GT_ENOMEM;
	err = topo_rset_parse(text, strlen(text), out);
	free(text);
	return err == GT_ENOMEM ? err : err != GT_OK ? GT_ECORRUPT : GT_OK;
}

gt_err rn_table_from_json(cJSON *desc, rn_table **out)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(desc, "Id");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(desc, "TableName");
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(desc,
	    "CreationDateTime");
	rn_table *t;
	gt_err err;

	if (!cJSON_IsNumber(id) || !cJSON_IsString(nm) ||
	    strlen(nm->valuestring) > RN_TABLE_NAME_MAX || id->valuedouble < 1 ||
	    id->valuedouble > 4294967295.0)
		return GT_ECORRUPT;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return GT_ENOMEM;
	atomic_init(&t->refs, 1);
	t->id = (uint32_t)id->valuedouble;
	memcpy(t->name, nm->valuestring, strlen(nm->valuestring) + 1);
	t->created_ms = cJSON_IsNumber(ct) ? (uint64_t)ct->valuedouble : 0;
	err = keyattr_from_schema(desc, "HASH", &t->hash);
	if (err == GT_OK)
		err = keyattr_from_schema(desc, "RANGE", &t->range);
	if (err != GT_OK) {
		free(t);
		return err;
	}
	err = rn_desc_rset(desc, &t->rset);
	if (err != GT_OK && err != GT_ENOTFOUND) {
		free(t);
		return err;
	}
	t->has_rset = err == GT_OK;
	{
		const cJSON *tl = cJSON_GetObjectItemCaseSensitive(desc,
		    "TimeToLiveSpecification");
		const cJSON *an = cJSON_GetObjectItemCaseSensitive(tl,
		    "AttributeName");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tl,
		    "Enabled")) && cJSON_IsString(an) &&
		    strlen(an->valuestring) <= RN_ATTR_NAME_MAX) {
			t->ttl_enabled = 1;
			memcpy(t->ttl_attr, an->valuestring,
			    strlen(an->valuestring) + 1);
		}
	}
	err = rn_indexes_parse(desc, &t->indexes, &t->nindexes);
	if (err != GT_OK) {
		free(t);
		return err;
	}
	t->desc = desc;
	*out = t;
	return GT_OK;
}

void rn_table_ref(rn_table *t) { atomic_fetch_add(&t->refs, 1); }

void rn_table_unref(rn_table *t)
{
	if (t == NULL)
		return;
	if (atomic_fetch_sub(&t->refs, 1) == 1) {
		rn_indexes_free(t->indexes, t->nindexes);
		cJSON_Delete(t->desc);
		free(t);
	}
}

int rn_table_name_valid(const char *name, size_t len)
{
	if (len < 3 || len > RN_TABLE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------- item keys */

/* FNV-1a followed by a murmur-style finaliser: stable across versions
 * (it is part of the on-disk format) and well spread in the top bits,
 * which is what parallel Scan segments split on. */
uint32_t rn_key_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The raw size of a key value for the 2048/1024-byte limits. */
static size_t key_value_size(const cJSON *av, rn_av_type t)
{
	const cJSON *p = NULL;
	if (rn_av_type_of(av, &p) != t || !cJSON_IsString(p))
		return 0;
	if (t == RN_AV_B)
		return gt_base64_decoded_len(p->valuestring,
		    strlen(p->valuestring));
	return strlen(p->valuestring);
}

static const char msg_schema[] = "The provided key element does not match "
				 "the schema";

static gt_err key_attr(const rn_keyattr *ka, const cJSON *obj, int exact,
    gt_buf *out, char msg[RN_MSG_MAX])
{
	const cJSON *av = cJSON_GetObjectItemCaseSensitive(obj, ka->name);
	const cJSON *p = NULL;
	rn_av_type at;

	if (av == NULL) {
		if (exact)
			snprintf(msg, RN_MSG_MAX, "%s", msg_schema);
		else
			snprintf(msg, RN_MSG_MAX, "One or more parameter values "
			    "were invalid: Missing the key %s in the item",
			    ka->name);
		return GT_EINVAL;
	}
	at = rn_av_type_of(av, &p);
	if (at != ka->type) {
		if (exact)
			snprintf(msg, RN_MSG_MAX, "%s", msg_schema);
		else
			snprintf(msg, RN_MSG_MAX, "One or more parameter values "
			    "were invalid: Type mismatch for key %s expected: "
			    "%s actual: %s", ka->name, rn_av_type_name(ka->type),
			    at == RN_AV_NONE ? "NONE" : rn_av_type_name(at));
		return GT_EINVAL;
	}
	return rn_key_encode_attr(av, ka->type, ka->name, out, msg);
}

/*
 * LMDB keys are at most 511 bytes, DynamoDB keys up to 2048 + 1024.  Long
 * key parts are therefore shortened, keeping identity exact:
 *   - an encoded partition key longer than RN_KEY_PK_INLINE_MAX becomes
 *     0x00 0x02 | SHA-256(encoding).  0x00 0x02 never starts a valid S or B
 *     encoding (0x00 is always followed by 0xFF or 0x01) and numbers are
 *     short, so the two forms cannot collide.  Partitions only need
 *     equality, so nothing is lost.
 *   - an encoded sort key that would overflow the LMDB key keeps its first
 *     T bytes, then 0x00 0x03 | SHA-256(encoding).  Order stays exact
 *     between sort keys that differ within their first T (>= 341) encoded
 *     bytes; beyond that, ties order by digest.  Query compensates with an
 *     exact check of the key condition (rn_table_key_sk_bound).
 */
#define RN_LMDB_KEY_MAX 511u
#define RN_KEY_PK_INLINE_MAX 128u
#define RN_KEY_DIGEST_PART (2u + SHA256_DIGEST_LENGTH)

static void key_digest_part(gt_buf *out, uint8_t marker, const void *p,
    size_t n)
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256(p, n, md);
	gt_buf_put_u8(out, 0x00);
	gt_buf_put_u8(out, marker);
	gt_buf_append(out, md, sizeof(md));
}

/* The room left for the sort key after a partition prefix of len bytes,
 * and the inline part of a sort key that does not fit. */
static size_t key_sk_room(size_t prefix_len)
{
	return RN_LMDB_KEY_MAX - prefix_len;
}

static size_t key_sk_keep(size_t prefix_len)
{
	return key_sk_room(prefix_len) - RN_KEY_DIGEST_PART;
}

gt_err rn_table_key_encode(const rn_table *t, const cJSON *obj, int exact,
    gt_buf *out, char msg[RN_MSG_MAX])
{
	size_t start = out->len, pk_at;
	gt_buf enc = GT_BUF_INIT;
	const cJSON *e;
	int nattrs = 0;
	gt_err err;

	if (!cJSON_IsObject(obj)) {
		snprintf(msg, RN_MSG_MAX, "%s", msg_schema);
		return GT_EINVAL;
	}
	if (exact) {
		cJSON_ArrayForEach(e, obj) nattrs++;
		if (nattrs != (t->range.type != RN_AV_NONE ? 2 : 1)) {
			snprintf(msg, RN_MSG_MAX, "%s", msg_schema);
			return GT_EINVAL;
		}
	}
	err = key_attr(&t->hash, obj, exact, &enc, msg);
	if (err != GT_OK)
		goto fail;
	if (key_value_size(cJSON_GetObjectItemCaseSensitive(obj, t->hash.name),
	    t->hash.type) > RN_PK_BYTES_MAX) {
		snprintf(msg, RN_MSG_MAX, "One or more parameter values were "
		    "invalid: Size of hashkey has exceeded the maximum size "
		    "limit of2048 bytes");
		err = GT_EINVAL;
		goto fail;
	}
	if (!gt_buf_ok(&enc)) {
		err = GT_ENOMEM;
		goto fail;
	}
	gt_buf_put_u32be(out, t->id);
	gt_buf_put_u32be(out, rn_key_hash((const uint8_t *)enc.data, enc.len));
	pk_at = out->len;
	if (enc.len > RN_KEY_PK_INLINE_MAX)
		key_digest_part(out, 0x02, enc.data, enc.len);
	else
		gt_buf_append(out, enc.data, enc.len);
	(void)pk_at;
	if (t->range.type != RN_AV_NONE) {
		gt_buf_reset(&enc);
		err = key_attr(&t->range, obj, exact, &enc, msg);
		if (err != GT_OK)
			goto fail;
		if (key_value_size(cJSON_GetObjectItemCaseSensitive(obj,
		    t->range.name), t->range.type) > RN_SK_BYTES_MAX) {
			snprintf(msg, RN_MSG_MAX, "One or more parameter values "
			    "were invalid: Aggregated size of all range keys has "
			    "exceeded the size limit of 1024 bytes");
			err = GT_EINVAL;
			goto fail;
		}
		if (enc.len <= key_sk_room(out->len - start)) {
			gt_buf_append(out, enc.data, enc.len);
		} else {
			gt_buf_append(out, enc.data,
			    key_sk_keep(out->len - start));
			key_digest_part(out, 0x03, enc.data, enc.len);
		}
	}
	if (!gt_buf_ok(out) || !gt_buf_ok(&enc)) {
		err = GT_ENOMEM;
		goto fail;
	}
	gt_buf_free(&enc);
	return GT_OK;
fail:
	gt_buf_free(&enc);
	out->len = start;
	return err;
}

gt_err rn_table_key_sk_bound(const rn_table *t, const cJSON *av, int upper,
    gt_buf *out, int *inexact, char msg[RN_MSG_MAX])
{
	gt_buf enc = GT_BUF_INIT;
	size_t start = out->len;
	gt_err err;

	*inexact = 0;
	err = rn_key_encode_attr(av, t->range.type, t->range.name, &enc, msg);
	if (err != GT_OK)
		goto out;
	if (enc.len <= key_sk_room(start)) {
		gt_buf_append(out, enc.data, enc.len);
	} else {
		static const uint8_t top[8] = {0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff};
		/* Widen to every key sharing the inline part; the caller
		 * checks the condition exactly on what it finds. */
		gt_buf_append(out, enc.data, key_sk_keep(start));
		if (upper)
			gt_buf_append(out, top, sizeof(top));
		*inexact = 1;
	}
	if (!gt_buf_ok(out) || !gt_buf_ok(&enc))
		err = GT_ENOMEM;
out:
	gt_buf_free(&enc);
	return err;
}

cJSON *rn_table_key_extract(const rn_table *t, const cJSON *obj)
{
	cJSON *k = cJSON_CreateObject();
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(obj, t->hash.name);

	if (k == NULL || h == NULL)
		goto fail;
	cJSON_AddItemToObject(k, t->hash.name, cJSON_Duplicate(h, 1));
	if (t->range.type != RN_AV_NONE) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(obj,
		    t->range.name);
		if (r == NULL)
			goto fail;
		cJSON_AddItemToObject(k, t->range.name, cJSON_Duplicate(r, 1));
	}
	return k;
fail:
	cJSON_Delete(k);
	return NULL;
}

/* ---------------------------------------------------------------- catalog */

void rn_catalog_init(rn_catalog *c)
{
	memset(c, 0, sizeof(*c));
	pthread_rwlock_init(&c->lock, NULL);
}

void rn_catalog_destroy(rn_catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		rn_table_unref(c->tables[i]);
	free(c->tables);
	pthread_rwlock_destroy(&c->lock);
	memset(c, 0, sizeof(*c));
}

/* Index of the first table whose name is >= name. */
static size_t catalog_lower(const rn_catalog *c, const char *name)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(c->tables[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

rn_table *rn_catalog_get(rn_catalog *c, const char *name)
{
	rn_table *t = NULL;
	size_t i;

	pthread_rwlock_rdlock(&c->lock);
	i = catalog_lower(c, name);
	if (i < c->n && strcmp(c->tables[i]->name, name) == 0) {
		t = c->tables[i];
		rn_table_ref(t);
	}
	pthread_rwlock_unlock(&c->lock);
	return t;
}

gt_err rn_catalog_put(rn_catalog *c, rn_table *t)
{
	size_t i;

	pthread_rwlock_wrlock(&c->lock);
	i = catalog_lower(c, t->name);
	rn_table_ref(t);
	if (i < c->n && strcmp(c->tables[i]->name, t->name) == 0) {
		rn_table_unref(c->tables[i]);
		c->tables[i] = t;
		pthread_rwlock_unlock(&c->lock);
		return GT_OK;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		rn_table **p = realloc(c->tables, cap * sizeof(*p));
		if (p == NULL) {
			pthread_rwlock_unlock(&c->lock);
			rn_table_unref(t);
			return GT_ENOMEM;
		}
		c->tables = p;
		c->cap = cap;
	}
	memmove(c->tables + i + 1, c->tables + i,
	    (c->n - i) * sizeof(*c->tables));
	c->tables[i] = t;
	c->n++;
	pthread_rwlock_unlock(&c->lock);
	return GT_OK;
}

void rn_catalog_remove(rn_catalog *c, const char *name)
{
	size_t i;

	pthread_rwlock_wrlock(&c->lock);
	i = catalog_lower(c, name);
	if (i < c->n && strcmp(c->tables[i]->name, name) == 0) {
		rn_table_unref(c->tables[i]);
		memmove(c->tables + i, c->tables + i + 1,
		    (c->n - i - 1) * sizeof(*c->tables));
		c->n--;
	}
	pthread_rwlock_unlock(&c->lock);
}

size_t rn_catalog_list(rn_catalog *c, const char *start, rn_table **out,
    size_t max, int *more)
{
	size_t i, n = 0;

	pthread_rwlock_rdlock(&c->lock);
	i = 0;
	if (start != NULL) {
		i = catalog_lower(c, start);
		if (i < c->n && strcmp(c->tables[i]->name, start) == 0)
			i++;
	}
	for (; i < c->n && n < max; i++, n++) {
		out[n] = c->tables[i];
		rn_table_ref(out[n]);
	}
	*more = i < c->n;
	pthread_rwlock_unlock(&c->lock);
	return n;
}

gt_err rn_catalog_load(rn_catalog *c, MDB_txn *txn, MDB_dbi tables)
{
	MDB_cursor *cur;
	MDB_val k, v;
	gt_err err = GT_OK;
	int rc;

	rc = mdb_cursor_open(txn, tables, &cur);
	if (rc != MDB_SUCCESS)
		return GT_EIO;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		cJSON *desc = cJSON_ParseWithLength(v.mv_data, v.mv_size);
		rn_table *t = NULL;

		if (desc == NULL) {
			err = GT_ECORRUPT;
			break;
		}
		err = rn_table_from_json(desc, &t);
		if (err != GT_OK) {
			cJSON_Delete(desc);
			break;
		}
		err = rn_catalog_put(c, t);
		rn_table_unref(t);
		if (err != GT_OK)
			break;
	}
	mdb_cursor_close(cur);
	if (err == GT_OK && rc != MDB_NOTFOUND)
		err = GT_EIO;
	return err;
}
