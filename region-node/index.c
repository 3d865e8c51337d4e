/*
 * index.c — secondary indexes: entries, projection, maintenance on every
 * item change, local ids, backfill and the rebuild check.  The layout and
 * the rules are in index.h.
 */
#include "index.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "changelog.h"
#include "items.h"
#include "table.h"

/* ---------------------------------------------------------- descriptors */

/* The type of attribute name in desc's AttributeDefinitions. */
static rn_av_type attr_type(const cJSON *desc, const char *name)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(desc,
	    "AttributeDefinitions")) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(a,
		    "AttributeName");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(a,
		    "AttributeType");
		if (!cJSON_IsString(n) || !cJSON_IsString(t) ||
		    strcmp(n->valuestring, name) != 0)
			continue;
		if (strcmp(t->valuestring, "S") == 0)
			return RN_AV_S;
		if (strcmp(t->valuestring, "N") == 0)
			return RN_AV_N;
		if (strcmp(t->valuestring, "B") == 0)
			return RN_AV_B;
	}
	return RN_AV_NONE;
}

/* Fills ka from the KeySchema element of role ("HASH"/"RANGE"); a
 * missing RANGE leaves ka->type RN_AV_NONE. */
static gt_err index_keyattr(const cJSON *desc, const cJSON *ks,
    const char *role, rn_keyattr *ka)
{
	const cJSON *e;

	memset(ka, 0, sizeof(*ka));
	ka->type = RN_AV_NONE;
	cJSON_ArrayForEach(e, ks) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e,
		    "AttributeName");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "KeyType");
		if (!cJSON_IsString(n) || !cJSON_IsString(r) ||
		    strcmp(r->valuestring, role) != 0)
			continue;
		if (strlen(n->valuestring) > RN_ATTR_NAME_MAX)
			return GT_ECORRUPT;
		memcpy(ka->name, n->valuestring, strlen(n->valuestring) + 1);
		ka->type = attr_type(desc, n->valuestring);
		return ka->type == RN_AV_NONE ? GT_ECORRUPT : GT_OK;
	}
	return strcmp(role, "HASH") == 0 ? GT_ECORRUPT : GT_OK;
}

static gt_err index_parse_one(const cJSON *desc, const cJSON *o, int local,
    rn_index *ix)
{
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "IndexName");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "Id");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "Projection");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(pr,
	    "ProjectionType");
	const cJSON *ks = cJSON_GetObjectItemCaseSensitive(o, "KeySchema");
	rn_table *kt;
	gt_err err;

	if (!cJSON_IsString(nm) || strlen(nm->valuestring) >
	    RN_TABLE_NAME_MAX || !cJSON_IsArray(ks))
		return GT_ECORRUPT;
	kt = calloc(1, sizeof(*kt));
	if (kt == NULL)
		return GT_ENOMEM;
	atomic_init(&kt->refs, 1);
	kt->id = cJSON_IsNumber(id) && id->valuedouble >= 1 &&
	    id->valuedouble <= 4294967295.0 ? (uint32_t)id->valuedouble : 0;
	memcpy(kt->name, nm->valuestring, strlen(nm->valuestring) + 1);
	err = index_keyattr(desc, ks, "HASH", &kt->hash);
	if (err == GT_OK)
		err = index_keyattr(desc, ks, "RANGE", &kt->range);
	if (err != GT_OK) {
		rn_table_unref(kt);
		return err;
	}
	ix->kt = kt;
	ix->local = local;
	ix->backfilling = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "Backfilling"));
	ix->proj = RN_PROJ_ALL;
	ix->include = NULL;
	if (cJSON_IsString(pt) && strcmp(pt->valuestring, "KEYS_ONLY") == 0)
		ix->proj = RN_PROJ_KEYS_ONLY;
	else if (cJSON_IsString(pt) && strcmp(pt->valuestring, "INCLUDE") ==
	    0) {
		ix->proj = RN_PROJ_INCLUDE;
		ix->include = cJSON_GetObjectItemCaseSensitive(pr,
		    "NonKeyAttributes");
	}
	return GT_OK;
}

gt_err rn_indexes_parse(const cJSON *desc, rn_index **out, size_t *n)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	size_t total = 0, k = 0;
	rn_index *ix;
	gt_err err = GT_OK;

	for (int m = 0; m < 2; m++)
		total += (size_t)cJSON_GetArraySize(
		    cJSON_GetObjectItemCaseSensitive(desc, member[m]));
	if (total > RN_GSI_MAX + RN_LSI_MAX)
		return GT_ECORRUPT;
	if (total == 0) {
		*out = NULL;
		*n = 0;
		return GT_OK;
	}
	ix = calloc(total, sizeof(*ix));
	if (ix == NULL)
		return GT_ENOMEM;
	for (int m = 0; m < 2 && err == GT_OK; m++) {
		const cJSON *o;
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m])) {
			err = index_parse_one(desc, o, m == 1, &ix[k]);
			if (err != GT_OK)
				break;
			k++;
		}
	}
	if (err != GT_OK) {
		rn_indexes_free(ix, k);
		return err;
	}
	*out = ix;
	*n = k;
	return GT_OK;
}

void rn_indexes_free(rn_index *ix, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rn_table_unref(ix[i].kt);
	free(ix);
}

int rn_table_backfilling(const rn_table *t)
{
	int n = 0;
	for (size_t i = 0; i < t->nindexes; i++)
		n += t->indexes[i].backfilling;
	return n;
}

const rn_index *rn_index_find(const rn_table *t, const char *name)
{
	for (size_t i = 0; i < t->nindexes; i++)
		if (strcmp(t->indexes[i].kt->name, name) == 0)
			return &t->indexes[i];
	return NULL;
}

/* --------------------------------------------------------------- entries */

/* Does item hold ka with its defined type? */
static int has_keyattr(const rn_keyattr *ka, const cJSON *item)
{
	const cJSON *av = cJSON_GetObjectItemCaseSensitive(item, ka->name);
	return av != NULL && rn_av_type_of(av, NULL) == ka->type;
}

int rn_index_entry_key(const rn_index *ix, const cJSON *item, gt_buf *out)
{
	char msg[RN_MSG_MAX];
	gt_err err;

	if (item == NULL || !has_keyattr(&ix->kt->hash, item) ||
	    (ix->kt->range.type != RN_AV_NONE &&
	    !has_keyattr(&ix->kt->range, item)))
		return 0;
	err = rn_table_key_encode(ix->kt, item, 0, out, msg);
	if (err == GT_ENOMEM)
		return -1;
	/* A key value over DynamoDB's size limits cannot be written here,
	 * and one that came from elsewhere stays out of the index. */
	return err == GT_OK;
}

/* Index and attribute names are up to 255 bytes each, so a message is
 * cut to RN_MSG_MAX the way every other message is. */
static void msg_set(char msg[RN_MSG_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void msg_set(char msg[RN_MSG_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, RN_MSG_MAX, fmt, ap);
	va_end(ap);
}

gt_err rn_index_validate(const rn_table *t, const cJSON *item,
    char msg[RN_MSG_MAX])
{
	for (size_t i = 0; i < t->nindexes; i++) {
		const rn_index *ix = &t->indexes[i];
		const rn_keyattr *ka[2] = {&ix->kt->hash, &ix->kt->range};
		for (int j = 0; j < 2; j++) {
			const cJSON *av, *p = NULL;
			rn_av_type at;
			if (ka[j]->type == RN_AV_NONE)
				continue;
			av = cJSON_GetObjectItemCaseSensitive(item,
			    ka[j]->name);
			if (av == NULL)
				continue;
			at = rn_av_type_of(av, &p);
			if (at != ka[j]->type) {
				msg_set(msg, "One or more "
				    "parameter values were invalid: Type "
				    "mismatch for Index Key %s Expected: %s "
				    "Actual: %s IndexName: %s", ka[j]->name,
				    rn_av_type_name(ka[j]->type),
				    rn_av_type_name(at), ix->kt->name);
				return GT_EINVAL;
			}
			if (at != RN_AV_N && cJSON_IsString(p) &&
			    p->valuestring[0] == '\0') {
				msg_set(msg, "One or more "
				    "parameter values are not valid. A value "
				    "specified for a secondary index key is not "
				    "supported. The AttributeValue for a key "
				    "attribute cannot contain an empty string "
				    "value. IndexName: %s, IndexKey: %s",
				    ix->kt->name, ka[j]->name);
				return GT_EINVAL;
			}
		}
		/* Index keys obey the table's key size limits. */
		if (has_keyattr(&ix->kt->hash, item) && (ix->kt->range.type ==
		    RN_AV_NONE || has_keyattr(&ix->kt->range, item))) {
			gt_buf k = GT_BUF_INIT;
			gt_err err = rn_table_key_encode(ix->kt, item, 0, &k,
			    msg);
			gt_buf_free(&k);
			if (err != GT_OK)
				return err;
		}
	}
	return GT_OK;
}

static void copy_attr(cJSON *dst, const cJSON *item, const char *name)
{
	const cJSON *av;

	if (name[0] == '\0' || cJSON_GetObjectItemCaseSensitive(dst, name))
		return;
	av = cJSON_GetObjectItemCaseSensitive(item, name);
	if (av != NULL)
		cJSON_AddItemToObject(dst, name, cJSON_Duplicate(av, 1));
}

cJSON *rn_index_key_extract(const rn_table *table_t, const rn_index *ix,
    const cJSON *item)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	copy_attr(o, item, table_t->hash.name);
	copy_attr(o, item, table_t->range.name);
	copy_attr(o, item, ix->kt->hash.name);
	copy_attr(o, item, ix->kt->range.name);
	return o;
}

cJSON *rn_index_project(const rn_table *table_t, const rn_index *ix,
    const cJSON *item)
{
	const cJSON *a;
	cJSON *o;

	if (ix->proj == RN_PROJ_ALL)
		return cJSON_Duplicate(item, 1);
	o = rn_index_key_extract(table_t, ix, item);
	if (o == NULL || ix->proj != RN_PROJ_INCLUDE)
		return o;
	cJSON_ArrayForEach(a, ix->include) {
		if (cJSON_IsString(a))
			copy_attr(o, item, a->valuestring);
	}
	return o;
}

/* DynamoDB's IndexSizeBytes counts what the index holds: the projection. */
static size_t projected_size(const rn_table *t, const rn_index *ix,
    const cJSON *item)
{
	cJSON *p;
	size_t n;

	if (ix->proj == RN_PROJ_ALL)
		return rn_item_size(item);
	p = rn_index_project(t, ix, item);
	n = p ? rn_item_size(p) : 0;
	cJSON_Delete(p);
	return n;
}

/* Is the entry (ik, key) stored? */
static gt_err entry_exists(MDB_txn *txn, const rn_dbs *dbs, const gt_buf *ik,
    const void *key, size_t key_len, int *there)
{
	MDB_val k = {ik->len, ik->data};
	MDB_val v = {key_len, (void *)(uintptr_t)key};
	MDB_cursor *cur;
	int rc;

	rc = mdb_cursor_open(txn, dbs->index, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
	mdb_cursor_close(cur);
	*there = rc == MDB_SUCCESS;
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? GT_OK :
	    rn_mdb_err(rc);
}

/* Adds (add = 1) or removes one entry; *changed tells whether it was not
 * there / was there, for the statistics. */
static gt_err entry_put(MDB_txn *txn, const rn_dbs *dbs, const gt_buf *ik,
    const void *key, size_t key_len, int add, int *changed)
{
	MDB_val k = {ik->len, ik->data};
	MDB_val v = {key_len, (void *)(uintptr_t)key};
	int rc;

	*changed = 0;
	if (add) {
		rc = mdb_put(txn, dbs->index, &k, &v, MDB_NODUPDATA);
		if (rc == MDB_KEYEXIST)
			return GT_OK;
	} else {
		rc = mdb_del(txn, dbs->index, &k, &v);
		if (rc == MDB_NOTFOUND)
			return GT_OK;
	}
	*changed = rc == MDB_SUCCESS;
	return rn_mdb_err(rc);
}

gt_err rn_index_item(MDB_txn *txn, const rn_dbs *dbs, const rn_table *t,
    const void *key, size_t key_len, const cJSON *old, const cJSON *new_)
{
	gt_buf ko = GT_BUF_INIT, kn = GT_BUF_INIT;
	gt_err err = GT_OK;

	for (size_t i = 0; i < t->nindexes && err == GT_OK; i++) {
		const rn_index *ix = &t->indexes[i];
		int in_o, in_n, ch_o = 0, ch_n = 0;
		int64_t dcount = 0, dbytes = 0;

		gt_buf_reset(&ko);
		gt_buf_reset(&kn);
		in_o = rn_index_entry_key(ix, old, &ko);
		in_n = rn_index_entry_key(ix, new_, &kn);
		if (in_o < 0 || in_n < 0) {
			err = GT_ENOMEM;
			break;
		}
		if (in_o && in_n && ko.len == kn.len &&
		    memcmp(ko.data, kn.data, ko.len) == 0) {
			/* Same place in the index: only the size moves, if
			 * the entry is there (a backfill may not have reached
			 * it yet, and adds it at its full size). */
			if (ix->backfilling) {
				int there = 0;
				err = entry_exists(txn, dbs, &ko, key, key_len,
				    &there);
				if (err != GT_OK || !there)
					continue;
			}
			err = rn_stats_add(txn, dbs, ix->kt->id, 0,
			    (int64_t)projected_size(t, ix, new_) -
			    (int64_t)projected_size(t, ix, old));
			continue;
		}
		if (in_o)
			err = entry_put(txn, dbs, &ko, key, key_len, 0, &ch_o);
		if (err == GT_OK && in_n)
			err = entry_put(txn, dbs, &kn, key, key_len, 1, &ch_n);
		if (ch_o) {
			dcount--;
			dbytes -= (int64_t)projected_size(t, ix, old);
		}
		if (ch_n) {
			dcount++;
			dbytes += (int64_t)projected_size(t, ix, new_);
		}
		if (err == GT_OK && (dcount || dbytes))
			err = rn_stats_add(txn, dbs, ix->kt->id, dcount,
			    dbytes);
	}
	gt_buf_free(&ko);
	gt_buf_free(&kn);
	return err;
}

/* ------------------------------------------------------------- local ids */

static void ixfill_key(char out[32], uint32_t id)
{
	snprintf(out, 32, "ixfill/%u", id);
}

/* Deletes every entry, the statistics and the backfill position of the
 * index with local id `id`. */
static gt_err index_drop(MDB_txn *txn, const rn_dbs *dbs, uint32_t id)
{
	uint8_t kb[4];
	MDB_val k;
	char mk[32];
	gt_err err;
	int rc;

	gt_put_u32be(kb, id);
	err = rn_mdb_del_id(txn, dbs->index, id);
	if (err != GT_OK)
		return err;
	k.mv_size = 4;
	k.mv_data = kb;
	rc = mdb_del(txn, dbs->stats, &k, NULL);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	ixfill_key(mk, id);
	k.mv_size = strlen(mk);
	k.mv_data = mk;
	rc = mdb_del(txn, dbs->meta, &k, NULL);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	return GT_OK;
}

static int keyattr_eq(const rn_keyattr *a, const rn_keyattr *b)
{
	return a->type == b->type && strcmp(a->name, b->name) == 0;
}

/* The index of t with ix's name, kind and key schema, or NULL. */
static const rn_index *index_match(const rn_table *t, const rn_index *ix)
{
	const rn_index *o;

	if (t == NULL)
		return NULL;
	o = rn_index_find(t, ix->kt->name);
	if (o == NULL || o->local != ix->local ||
	    !keyattr_eq(&o->kt->hash, &ix->kt->hash) ||
	    !keyattr_eq(&o->kt->range, &ix->kt->range))
		return NULL;
	return o;
}

/* The descriptor object of index `name` in desc. */
static cJSON *desc_index(cJSON *desc, const char *name)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	cJSON *o;

	for (int m = 0; m < 2; m++) {
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m])) {
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o,
			    "IndexName");
			if (cJSON_IsString(nm) && strcmp(nm->valuestring,
			    name) == 0)
				return o;
		}
	}
	return NULL;
}

static void desc_set_local(cJSON *o, uint32_t id, int backfilling)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, "Id");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "Backfilling");
	cJSON_AddNumberToObject(o, "Id", (double)id);
	cJSON_AddBoolToObject(o, "Backfilling", backfilling);
}

gt_err rn_index_table(MDB_txn *txn, const rn_dbs *dbs, const rn_table *old,
    rn_table *new_)
{
	gt_err err = GT_OK;

	for (size_t i = 0; new_ != NULL && i < new_->nindexes; i++) {
		rn_index *ix = &new_->indexes[i];
		const rn_index *o = index_match(old, ix);
		cJSON *d = desc_index(new_->desc, ix->kt->name);

		if (d == NULL)
			return GT_ECORRUPT;
		if (o != NULL && ix->kt->id != o->kt->id) {
			/* The same index, described from elsewhere: its
			 * local state stays. */
			ix->kt->id = o->kt->id;
			ix->backfilling = o->backfilling;
		} else if (o == NULL) {
			err = rn_table_id_next(txn, dbs, &ix->kt->id);
			if (err != GT_OK)
				return err;
			/* A new table is empty; an existing one has items
			 * the index must take in. */
			ix->backfilling = old != NULL;
		}
		desc_set_local(d, ix->kt->id, ix->backfilling);
	}
	for (size_t i = 0; old != NULL && i < old->nindexes; i++) {
		const rn_index *ix = &old->indexes[i];
		int kept = 0;
		for (size_t j = 0; new_ != NULL && j < new_->nindexes; j++)
			kept |= new_->indexes[j].kt->id == ix->kt->id;
		if (!kept) {
			err = index_drop(txn, dbs, ix->kt->id);
			if (err != GT_OK)
				return err;
		}
	}
	return err;
}

void rn_index_desc_strip(cJSON *desc)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	cJSON *o;

	for (int m = 0; m < 2; m++) {
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m])) {
			cJSON_DeleteItemFromObjectCaseSensitive(o, "Id");
			cJSON_DeleteItemFromObjectCaseSensitive(o,
			    "Backfilling");
		}
	}
}

/* --------------------------------------------------------------- backfill */

#define IXFILL_CHUNK 1000

struct rn_index_worker {
	rn_node *n;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, kicked;
};

typedef struct ixfill_job {
	rn_node *n;
	rn_table *t;        /* the table as the worker saw it (a reference) */
	uint32_t ix_id;
	rn_table *made;     /* the descriptor once the index is complete */
	size_t items;
} ixfill_job;

/* Takes in up to IXFILL_CHUNK items after the saved position. */
static gt_err ixfill_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	ixfill_job *job = w->arg;
	const rn_dbs *dbs = rn_store_dbs(s);
	const rn_index *ix = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v, mk, mv;
	uint8_t prefix[4];
	char mkey[32];
	gt_buf ik = GT_BUF_INIT, pos = GT_BUF_INIT;
	int rc, end = 0;
	gt_err err = GT_OK;

	if (!rn_table_is_latest(job->n, job->t))
		return GT_OK; /* changed meanwhile: the next round sees it */
	for (size_t i = 0; i < job->t->nindexes; i++)
		if (job->t->indexes[i].kt->id == job->ix_id)
			ix = &job->t->indexes[i];
	if (ix == NULL || !ix->backfilling)
		return GT_OK;
	gt_put_u32be(prefix, job->t->id);
	ixfill_key(mkey, ix->kt->id);
	mk.mv_size = strlen(mkey);
	mk.mv_data = mkey;
	rc = mdb_get(txn, dbs->meta, &mk, &mv);
	if (rc == MDB_SUCCESS)
		gt_buf_append(&pos, mv.mv_data, mv.mv_size);
	else if (rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	else
		gt_buf_append(&pos, prefix, 4);
	rc = mdb_cursor_open(txn, dbs->items, &cur);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto out;
	}
	k.mv_size = pos.len;
	k.mv_data = pos.data;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	/* The saved position is the last key done: step past it. */
	if (rc == MDB_SUCCESS && pos.len > 4 && k.mv_size == pos.len &&
	    memcmp(k.mv_data, pos.data, pos.len) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	while (err == GT_OK && job->items < IXFILL_CHUNK) {
		rn_itemrec ir;
		cJSON *item;
		int in, ch;

		if (rc != MDB_SUCCESS || k.mv_size < 4 ||
		    memcmp(k.mv_data, prefix, 4) != 0) {
			end = 1;
			break;
		}
		if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) != GT_OK) {
			err = GT_ECORRUPT;
			break;
		}
		gt_buf_reset(&pos);
		gt_buf_append(&pos, k.mv_data, k.mv_size);
		if (!(ir.flags & RN_ITEM_F_TOMBSTONE)) {
			item = cJSON_ParseWithLength(ir.body, ir.body_len);
			if (item == NULL) {
				err = GT_ECORRUPT;
				break;
			}
			gt_buf_reset(&ik);
			in = rn_index_entry_key(ix, item, &ik);
			if (in < 0)
				err = GT_ENOMEM;
			else if (in > 0)
				err = entry_put(txn, dbs, &ik, pos.data,
				    pos.len, 1, &ch);
			if (err == GT_OK && in > 0 && ch)
				err = rn_stats_add(txn, dbs, ix->kt->id, 1,
				    (int64_t)projected_size(job->t, ix, item));
			cJSON_Delete(item);
			job->items++;
		}
		/* Cursor reads stay valid: nothing was written to items. */
		if (err == GT_OK)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	mdb_cursor_close(cur);
	cur = NULL;
	if (err != GT_OK || !gt_buf_ok(&pos) || !gt_buf_ok(&ik)) {
		err = err != GT_OK ? err : GT_ENOMEM;
		goto out;
	}
	if (!end) {
		mv.mv_size = pos.len;
		mv.mv_data = pos.data;
		err = rn_mdb_err(mdb_put(txn, dbs->meta, &mk, &mv, 0));
		goto out;
	}
	/* Every item is in: the index becomes ACTIVE here (a local change:
	 * each region backfills its own copy). */
	{
		cJSON *desc = cJSON_Duplicate(job->t->desc, 1);
		cJSON *d = desc ? desc_index(desc, ix->kt->name) : NULL;
		if (d == NULL) {
			cJSON_Delete(desc);
			err = desc ? GT_ECORRUPT : GT_ENOMEM;
			goto out;
		}
		desc_set_local(d, ix->kt->id, 0);
		err = rn_table_replace_txn(job->n, txn, job->t, desc, 0, NULL,
		    &job->made);
		cJSON_Delete(desc);
		rc = mdb_del(txn, dbs->meta, &mk, NULL);
		if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
			err = rn_mdb_err(rc);
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	gt_buf_free(&ik);
	gt_buf_free(&pos);
	return err;
}

static void ixfill_after(void *arg, gt_err commit_err)
{
	ixfill_job *job = arg;

	if (commit_err == GT_OK && job->made != NULL) {
		(void)rn_catalog_put(&job->n->catalog, job->made);
		GT_LOG(GT_LOG_INFO, "index", "event=index_active table=%s "
		    "index_id=%u", job->t->name, job->ix_id);
	}
}

/* Runs one chunk for the first backfilling index of t; 1 when there is
 * more to do. */
static int ixfill_table(rn_index_worker *w, rn_table *t)
{
	ixfill_job job;
	gt_err err;

	memset(&job, 0, sizeof(job));
	for (size_t i = 0; i < t->nindexes && job.ix_id == 0; i++)
		if (t->indexes[i].backfilling)
			job.ix_id = t->indexes[i].kt->id;
	if (job.ix_id == 0)
		return 0;
	job.n = w->n;
	job.t = t;
	err = rn_store_write_sync_then(w->n->store, ixfill_fn, &job,
	    ixfill_after);
	rn_table_unref(job.made);
	if (err != GT_OK) {
		GT_LOG(GT_LOG_WARN, "index", "event=backfill_failed table=%s "
		    "err=\"%s\"", t->name, gt_strerror(err));
		return 0;
	}
	return job.made == NULL && job.items > 0;
}

static void *ixfill_main(void *arg)
{
	rn_index_worker *w = arg;

	for (;;) {
		rn_table *tables[RN_LIST_TABLES_MAX];
		char after[RN_TABLE_NAME_MAX + 1] = "";
		int more = 1, busy = 0;

		pthread_mutex_lock(&w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		w->kicked = 0;
		pthread_mutex_unlock(&w->mu);
		while (more) {
			size_t n = rn_catalog_list(&w->n->catalog, after[0] ?
			    after : NULL, tables, GT_ARRAY_LEN(tables), &more);
			for (size_t i = 0; i < n; i++) {
				for (int r = 0; r < 8 && ixfill_table(w,
				    tables[i]); r++)
					busy = 1;
				snprintf(after, sizeof(after), "%s",
				    tables[i]->name);
				rn_table_unref(tables[i]);
			}
			if (n == 0)
				break;
		}
		pthread_mutex_lock(&w->mu);
		if (!busy && !w->stop && !w->kicked) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 250 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

gt_err rn_index_worker_start(rn_node *n, rn_index_worker **out)
{
	rn_index_worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return GT_ENOMEM;
	w->n = n;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, ixfill_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return GT_EIO;
	}
	*out = w;
	return GT_OK;
}

void rn_index_worker_kick(rn_index_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->kicked = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void rn_index_worker_stop(rn_index_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* ----------------------------------------------------------------- check */

gt_err rn_index_check(MDB_txn *txn, const rn_dbs *dbs, const rn_table *t,
    uint64_t *entries, uint64_t *missing, uint64_t *extra)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t prefix[4];
	gt_buf ik = GT_BUF_INIT;
	gt_err err = GT_OK;
	int rc;

	*entries = *missing = *extra = 0;
	/* Every live item's expected entries must be there... */
	gt_put_u32be(prefix, t->id);
	rc = mdb_cursor_open(txn, dbs->items, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	k.mv_size = 4;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == MDB_SUCCESS && err == GT_OK && k.mv_size >= 4 &&
	    memcmp(k.mv_data, prefix, 4) == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_itemrec ir;
		cJSON *item;
		if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) != GT_OK) {
			err = GT_ECORRUPT;
			break;
		}
		if (ir.flags & RN_ITEM_F_TOMBSTONE)
			continue;
		item = cJSON_ParseWithLength(ir.body, ir.body_len);
		if (item == NULL) {
			err = GT_ECORRUPT;
			break;
		}
		for (size_t i = 0; i < t->nindexes && err == GT_OK; i++) {
			int in, there;
			gt_buf_reset(&ik);
			in = rn_index_entry_key(&t->indexes[i], item, &ik);
			if (in < 0) {
				err = GT_ENOMEM;
				break;
			}
			if (in == 0)
				continue;
			(*entries)++;
			err = entry_exists(txn, dbs, &ik, k.mv_data, k.mv_size,
			    &there);
			if (err == GT_OK && !there)
				(*missing)++;
		}
		cJSON_Delete(item);
	}
	mdb_cursor_close(cur);
	if (err != GT_OK)
		goto out;
	/* ... and every stored entry must be one of them. */
	{
		uint64_t stored = 0;
		rc = mdb_cursor_open(txn, dbs->index, &cur);
		if (rc != MDB_SUCCESS) {
			err = rn_mdb_err(rc);
			goto out;
		}
		for (size_t i = 0; i < t->nindexes; i++) {
			uint8_t ip[4];
			gt_put_u32be(ip, t->indexes[i].kt->id);
			k.mv_size = 4;
			k.mv_data = ip;
			for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
			    rc == MDB_SUCCESS && k.mv_size >= 4 &&
			    memcmp(k.mv_data, ip, 4) == 0;
			    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
				stored++;
		}
		mdb_cursor_close(cur);
		/* stored = entries - missing + extra. */
		*extra = stored + *missing - *entries;
	}
out:
	gt_buf_free(&ik);
	return err;
}
