/*
 * table.c — table descriptors, item-key encoding and the catalog.
 */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

gt_err rn_table_key_encode(const rn_table *t, const cJSON *obj, int exact,
    gt_buf *out, char msg[RN_MSG_MAX])
{
	size_t start = out->len, pk_at;
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
	gt_buf_put_u32be(out, t->id);
	gt_buf_put_u32be(out, 0); /* the hash, filled in below */
	pk_at = out->len;
	err = key_attr(&t->hash, obj, exact, out, msg);
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
	if (!gt_buf_ok(out)) {
		err = GT_ENOMEM;
		goto fail;
	}
	gt_put_u32be((uint8_t *)out->data + start + 4,
	    rn_key_hash((const uint8_t *)out->data + pk_at, out->len - pk_at));
	if (t->range.type != RN_AV_NONE) {
		err = key_attr(&t->range, obj, exact, out, msg);
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
	}
	if (!gt_buf_ok(out)) {
		err = GT_ENOMEM;
		goto fail;
	}
	return GT_OK;
fail:
	out->len = start;
	return err;
}

size_t rn_table_key_partition_len(const rn_table *t, const uint8_t *key,
    size_t len)
{
	size_t used;
	if (len < 8)
		return 0;
	used = rn_key_attr_len(key + 8, len - 8, t->hash.type);
	return used ? 8 + used : 0;
}

gt_err rn_table_key_decode(const rn_table *t, const uint8_t *key, size_t len,
    cJSON **out)
{
	cJSON *obj, *av = NULL;
	size_t off = 8, used;

	if (len < 8)
		return GT_ECORRUPT;
	obj = cJSON_CreateObject();
	if (obj == NULL)
		return GT_ENOMEM;
	used = rn_key_decode_attr(key + off, len - off, t->hash.type, &av);
	if (used == 0)
		goto corrupt;
	cJSON_AddItemToObject(obj, t->hash.name, av);
	off += used;
	if (t->range.type != RN_AV_NONE) {
		av = NULL;
		used = rn_key_decode_attr(key + off, len - off, t->range.type,
		    &av);
		if (used == 0)
			goto corrupt;
		cJSON_AddItemToObject(obj, t->range.name, av);
		off += used;
	}
	if (off != len)
		goto corrupt;
	*out = obj;
	return GT_OK;
corrupt:
	cJSON_Delete(obj);
	return GT_ECORRUPT;
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
