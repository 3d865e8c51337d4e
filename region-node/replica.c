/*
 * replica.c — applying replicated records, cursors, own-log scans and the
 * conflict ledger (see replica.h).
 *
 * Applying one item record r from origin O onto local state l:
 *   1. HLC receive rule: the local clock moves past r's stamp, so every
 *      later local write outranks r.
 *   2. cf_resolve(l, r) decides DROP / TAKE / CONFLICT_TAKE / CONFLICT_KEEP
 *      and the metadata to store (winner's stamp, merged vector).
 *   3. TAKE and CONFLICT_TAKE write r's image and append a REPLICATED
 *      change record (origin O, O's sequence number), so the local log
 *      shows every change the table saw; CONFLICT_KEEP rewrites only the
 *      metadata (the value did not change, so nothing is logged).
 *   4. A conflict records its loser in the ledger.
 * All in the caller's transaction, which also advances cursor[O].
 */
#include "replica.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "cluster.h"
#include "derived.h"
#include "index.h"
#include "items.h"

/* --------------------------------------------------------------- cursors */

static gt_err u64_put(MDB_txn *txn, MDB_dbi dbi, const char *name,
    uint64_t val)
{
	uint8_t vb[8];
	MDB_val k = {strlen(name), (void *)(uintptr_t)name}, v = {8, vb};

	gt_put_u64be(vb, val);
	return rn_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

gt_err rn_cursor_get(MDB_txn *txn, const rn_dbs *dbs, const char *origin,
    uint64_t *seq)
{
	return rn_mdb_get_u64(txn, dbs->cursors, origin, seq);
}

gt_err rn_cursor_put(MDB_txn *txn, const rn_dbs *dbs, const char *origin,
    uint64_t seq)
{
	return u64_put(txn, dbs->cursors, origin, seq);
}

void rn_apply_result_clear(rn_apply_result *r)
{
	for (size_t i = 0; i < r->ncreated; i++)
		rn_table_unref(r->created[i]);
	free(r->latency_ms);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- ledger */

static void stamp_json(gt_buf *b, const cf_version *v)
{
	gt_buf_printf(b, "{\"origin\":");
	gt_buf_json_str(b, v->stamp.origin, strlen(v->stamp.origin));
	gt_buf_printf(b, ",\"hlc\":%llu,\"wall_ms\":%llu,\"logical\":%u,"
	    "\"tombstone\":%s}", (unsigned long long)v->stamp.hlc,
	    (unsigned long long)cf_hlc_wall_ms(v->stamp.hlc),
	    (unsigned)cf_hlc_logical(v->stamp.hlc),
	    v->tombstone ? "true" : "false");
}

/* Records that loser lost to winner on key (JSON) of table t. */
static gt_err ledger_add(rn_node *n, MDB_txn *txn, const rn_table *t,
    const char *key, size_t key_len, const cf_version *winner,
    const cf_version *loser, const char *loser_body, size_t loser_len,
    uint64_t now_ms)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	gt_buf e = GT_BUF_INIT;
	uint64_t seq;
	uint8_t kb[12];
	MDB_val k = {12, kb}, v;
	gt_err err;

	err = rn_mdb_get_u64(txn, dbs->meta, "ledger_seq", &seq);
	if (err == GT_OK)
		err = u64_put(txn, dbs->meta, "ledger_seq", ++seq);
	if (err != GT_OK)
		return err;
	gt_buf_printf(&e, "{\"seq\":%llu,\"table\":", (unsigned long long)seq);
	gt_buf_json_str(&e, t->name, strlen(t->name));
	gt_buf_puts(&e, ",\"key\":");
	gt_buf_append(&e, key, key_len);
	gt_buf_printf(&e, ",\"detected_at_ms\":%llu,\"region\":",
	    (unsigned long long)now_ms);
	gt_buf_json_str(&e, n->region, strlen(n->region));
	gt_buf_puts(&e, ",\"winner\":");
	stamp_json(&e, winner);
	gt_buf_puts(&e, ",\"loser\":");
	stamp_json(&e, loser);
	if (loser_body != NULL && loser_len > 0) {
		gt_buf_puts(&e, ",\"loser_item\":");
		gt_buf_append(&e, loser_body, loser_len);
	}
	gt_buf_putc(&e, '}');
	if (!gt_buf_ok(&e)) {
		gt_buf_free(&e);
		return GT_ENOMEM;
	}
	gt_put_u32be(kb, t->id);
	gt_put_u64be(kb + 4, seq);
	v.mv_size = e.len;
	v.mv_data = e.data;
	err = rn_mdb_err(mdb_put(txn, dbs->ledger, &k, &v, 0));
	gt_buf_free(&e);
	return err;
}

gt_err rn_ledger_json(MDB_txn *txn, const rn_dbs *dbs, const rn_table *table,
    uint64_t start, size_t max, gt_buf *out)
{
	MDB_cursor *cur;
	uint8_t kb[12];
	MDB_val k, v;
	size_t n = 0;
	int rc;

	rc = mdb_cursor_open(txn, dbs->ledger, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	gt_put_u32be(kb, table ? table->id : 0);
	gt_put_u64be(kb + 4, start + 1);
	k.mv_size = 12;
	k.mv_data = kb;
	gt_buf_putc(out, '[');
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == MDB_SUCCESS && n < max;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12)
			continue;
		if (table != NULL && gt_get_u32be(k.mv_data) != table->id)
			break;
		if (table == NULL && gt_get_u64be((uint8_t *)k.mv_data + 4) <=
		    start)
			continue;
		if (n++)
			gt_buf_putc(out, ',');
		gt_buf_append(out, v.mv_data, v.mv_size);
	}
	gt_buf_putc(out, ']');
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	return gt_buf_ok(out) ? GT_OK : GT_ENOMEM;
}

gt_err rn_ledger_count(MDB_txn *txn, const rn_dbs *dbs, uint64_t *count)
{
	MDB_stat st;
	int rc = mdb_stat(txn, dbs->ledger, &st);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	*count = st.ms_entries;
	return GT_OK;
}

/* ----------------------------------------------------------------- apply */

/* Finds a table by name: one this batch created, or the catalog's. */
static rn_table *apply_table(rn_node *n, rn_apply_result *res,
    const char *name, size_t len)
{
	char buf[RN_TABLE_NAME_MAX + 1];

	if (len > RN_TABLE_NAME_MAX)
		return NULL;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (size_t i = 0; i < res->ndropped; i++)
		if (strcmp(res->dropped_tables[i], buf) == 0)
			return NULL;
	for (size_t i = res->ncreated; i > 0; i--)
		if (strcmp(res->created[i - 1]->name, buf) == 0) {
			rn_table_ref(res->created[i - 1]);
			return res->created[i - 1];
		}
	return rn_catalog_get(&n->catalog, buf);
}

/* Did origin detach its copy of t (KeepDetached drop)? */
static int origin_detached(const rn_table *t, const char *origin)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(t->desc, "Detach");
	return cJSON_IsString(d) && strcmp(d->valuestring, origin) == 0;
}

static size_t item_size_of(const char *body, size_t len)
{
	cJSON *it;
	size_t sz;

	if (body == NULL || len == 0)
		return 0;
	it = cJSON_ParseWithLength(body, len);
	sz = it ? rn_item_size(it) : len;
	cJSON_Delete(it);
	return sz;
}

static gt_err apply_item(rn_node *n, MDB_txn *txn, const rn_logrec *r,
    uint64_t now_ms, rn_apply_result *res)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	rn_table *t;
	cJSON *key = NULL;
	gt_buf k = GT_BUF_INIT;
	rn_item_cur cur;
	cf_version in, none;
	cf_decision d;
	char msg[RN_MSG_MAX], *old_body = NULL;
	size_t used;
	gt_err err;

	t = apply_table(n, res, r->table, r->table_len);
	if (t == NULL || origin_detached(t, r->origin)) {
		/* Not a table this region holds (dropped, or regional), or
		 * the origin kept a detached copy under the same name: its
		 * writes stay out.  Records of a dropped origin are applied
		 * like any other: refusing them would split the regions that
		 * learned of the drop before the record from those that
		 * learned after it. */
		rn_table_unref(t);
		res->skipped++;
		return GT_OK;
	}
	if (cf_meta_decode(r->meta, r->meta_len, &in, &used) != GT_OK ||
	    in.tombstone != (r->op == RN_LOG_DELETE)) {
		err = GT_ECORRUPT;
		goto out;
	}
	key = cJSON_ParseWithLength(r->key, r->key_len);
	if (key == NULL || rn_table_key_encode(t, key, 1, &k, msg) != GT_OK) {
		err = GT_ECORRUPT;
		goto out;
	}
	err = rn_item_read(txn, dbs, k.data, k.len, &cur);
	if (err != GT_OK)
		goto out;
	/* LMDB values die at the next update in the txn (the ledger, the
	 * log): work from a copy of the old body. */
	if (cur.found && cur.body_len > 0) {
		old_body = malloc(cur.body_len);
		if (old_body == NULL) {
			err = GT_ENOMEM;
			goto out;
		}
		memcpy(old_body, cur.body, cur.body_len);
		cur.body = old_body;
	}
	memset(&none, 0, sizeof(none));
	cf_clock_recv(&n->clock, r->hlc, now_ms);
	err = cf_resolve(cur.found ? &cur.ver : &none, &in, &d);
	if (err != GT_OK) {
		/* A vector past its capacity: keep the local version. */
		GT_LOG(GT_LOG_WARN, "repl", "event=resolve_failed table=%s "
		    "err=\"%s\"", t->name, gt_strerror(err));
		res->dropped++;
		err = GT_OK;
		goto out;
	}
	switch (d.action) {
	case CF_DROP:
		res->dropped++;
		break;
	case CF_CONFLICT_KEEP:
		/* Local value stays; its vector now covers the loser. */
		res->conflicts++;
		err = ledger_add(n, txn, t, r->key, r->key_len, &d.store, &in,
		    r->new_img, r->new_len, now_ms);
		if (err == GT_OK)
			err = rn_item_write(txn, dbs, k.data, k.len, &d.store,
			    cur.body_len ? cur.body : r->key, cur.body_len ?
			    cur.body_len : r->key_len);
		break;
	case CF_TAKE:
	case CF_CONFLICT_TAKE: {
		rn_logrec lr = *r;
		int64_t dcount = (r->op == RN_LOG_PUT) - (int64_t)cur.live;
		int64_t dbytes = (int64_t)item_size_of(r->new_img, r->new_len) -
		    (int64_t)(cur.live ? item_size_of(cur.body, cur.body_len) :
		    0);
		uint8_t meta[CF_META_ENCODED_MAX];
		size_t meta_len = 0;

		if (d.action == CF_CONFLICT_TAKE) {
			res->conflicts++;
			err = ledger_add(n, txn, t, r->key, r->key_len, &d.store,
			    &cur.ver, cur.live ? cur.body : NULL, cur.body_len,
			    now_ms);
			if (err != GT_OK)
				break;
		}
		err = cf_meta_encode_to(&d.store, meta, sizeof(meta), &meta_len);
		if (err != GT_OK)
			break;
		lr.flags = (uint8_t)(r->flags | RN_LOG_F_REPLICATED);
		lr.table_id = t->id;
		lr.old_img = cur.live ? cur.body : NULL;
		lr.old_len = cur.live ? cur.body_len : 0;
		lr.meta = meta;
		lr.meta_len = meta_len;
		err = rn_log_put(txn, dbs, rn_store_seq_next(n->store), &lr);
		if (err == GT_OK)
			err = rn_item_write(txn, dbs, k.data, k.len, &d.store,
			    r->op == RN_LOG_PUT ? r->new_img : r->key,
			    r->op == RN_LOG_PUT ? r->new_len : r->key_len);
		if (err == GT_OK)
			err = rn_derived_item_text(n, txn, t, k.data, k.len,
			    cur.live ? cur.body : NULL, cur.live ?
			    cur.body_len : 0, r->op == RN_LOG_PUT ? r->new_img :
			    NULL, r->op == RN_LOG_PUT ? r->new_len : 0);
		if (err == GT_OK)
			err = rn_stats_add(txn, dbs, t->id, dcount, dbytes);
		if (err != GT_OK)
			break;
		res->applied++;
		if (res->nlatency < res->latency_cap)
			res->latency_ms[res->nlatency++] = (uint32_t)(now_ms >
			    cf_hlc_wall_ms(r->hlc) ? GT_MIN(now_ms -
			    cf_hlc_wall_ms(r->hlc), UINT32_MAX) : 0);
		break;
	}
	}
out:
	free(old_body);
	cJSON_Delete(key);
	gt_buf_free(&k);
	rn_table_unref(t);
	return err;
}

/* Records a backfill this region must run (meta "backfill/<table>"). */
static gt_err backfill_job_put(rn_node *n, MDB_txn *txn, const char *table,
    const cJSON *desc)
{
	const cJSON *api = cJSON_GetObjectItemCaseSensitive(desc,
	    "BackfillSourceApi");
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(desc, "ReplicaSet");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(rs, "Source");
	char key[RN_TABLE_NAME_MAX + 16];
	gt_buf v = GT_BUF_INIT;
	MDB_val k, val;
	gt_err err;

	if (!cJSON_IsString(api) || !cJSON_IsString(src))
		return GT_ECORRUPT;
	snprintf(key, sizeof(key), "backfill/%s", table);
	gt_buf_puts(&v, "{\"Table\":");
	gt_buf_json_str(&v, table, strlen(table));
	gt_buf_puts(&v, ",\"Source\":");
	gt_buf_json_str(&v, src->valuestring, strlen(src->valuestring));
	gt_buf_puts(&v, ",\"SourceApi\":");
	gt_buf_json_str(&v, api->valuestring, strlen(api->valuestring));
	gt_buf_puts(&v, ",\"Primed\":false}");
	if (!gt_buf_ok(&v)) {
		gt_buf_free(&v);
		return GT_ENOMEM;
	}
	k.mv_size = strlen(key);
	k.mv_data = key;
	val.mv_size = v.len;
	val.mv_data = v.data;
	err = rn_mdb_err(mdb_put(txn, rn_store_dbs(n->store)->meta, &k, &val,
	    0));
	gt_buf_free(&v);
	return err;
}

/*
 * Table settings (UpdateTable, UpdateTimeToLive) travel in TABLE_UPDATE
 * records too, stamped with "SettingsStamp" {"Hlc", "Origin"}: the newest
 * stamp wins, whatever the replica set does.
 */
static const char *const settings_members[] = {
	"AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
	"LastUpdateToPayPerRequestDateTime", "StreamSpecification",
	"StreamLabel", "TableClass", "DeletionProtectionEnabled",
	"GlobalSecondaryIndexes", "TimeToLiveSpecification", "SettingsStamp"
};

static int settings_cmp(const cJSON *a, const cJSON *b)
{
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(a, "SettingsStamp");
	const cJSON *sb = cJSON_GetObjectItemCaseSensitive(b, "SettingsStamp");
	const cJSON *ha = cJSON_GetObjectItemCaseSensitive(sa, "Hlc");
	const cJSON *hb = cJSON_GetObjectItemCaseSensitive(sb, "Hlc");
	const cJSON *oa = cJSON_GetObjectItemCaseSensitive(sa, "Origin");
	const cJSON *ob = cJSON_GetObjectItemCaseSensitive(sb, "Origin");
	unsigned long long x = cJSON_IsString(ha) ?
	    strtoull(ha->valuestring, NULL, 10) : 0;
	unsigned long long y = cJSON_IsString(hb) ?
	    strtoull(hb->valuestring, NULL, 10) : 0;

	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(cJSON_IsString(oa) ? oa->valuestring : "",
	    cJSON_IsString(ob) ? ob->valuestring : "");
}

/* Replaces dst's settings by src's. */
static gt_err settings_copy(cJSON *dst, const cJSON *src)
{
	for (size_t i = 0; i < GT_ARRAY_LEN(settings_members); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(src,
		    settings_members[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(dst,
		    settings_members[i]);
		if (v == NULL)
			continue;
		v = cJSON_Duplicate(v, 1);
		if (v == NULL)
			return GT_ENOMEM;
		cJSON_AddItemToObject(dst, settings_members[i], (cJSON *)(
		    uintptr_t)v);
	}
	return GT_OK;
}

/* A TABLE_UPDATE: a new replica set, decided on by the topology core. */
static gt_err apply_table_update(rn_node *n, MDB_txn *txn,
    const rn_logrec *r, cJSON *desc, rn_table *t, rn_apply_result *res)
{
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(desc, "Detach");
	rn_table *tmp = NULL;
	topo_rset local, in;
	topo_action act;
	gt_err err = GT_OK;
	int newer;

	if (rn_desc_rset(desc, &in) != GT_OK)
		return GT_ECORRUPT;
	if (t != NULL)
		rn_table_rset(n, t, &local);
	act = topo_rset_on_incoming(t ? &local : NULL, t != NULL, &in,
	    n->region);
	if (act == TOPO_UPDATE && t == NULL)
		act = TOPO_IGNORE; /* not ours to hold: nothing to update */
	newer = t != NULL && settings_cmp(desc, t->desc) > 0;
	if (t != NULL && !newer && act != TOPO_IGNORE) {
		/* The replica set moves on; the settings here are newer. */
		err = settings_copy(desc, t->desc);
		if (err != GT_OK)
			return err;
	}
	if (act == TOPO_IGNORE && newer) {
		/* Same replica set, newer settings. */
		cJSON *merged = cJSON_Duplicate(t->desc, 1);
		if (merged == NULL)
			return GT_ENOMEM;
		err = settings_copy(merged, desc);
		if (err == GT_OK)
			err = rn_table_replace_txn(n, txn, t, merged,
			    RN_LOG_TABLE_UPDATE, r, &tmp);
		cJSON_Delete(merged);
		if (err == GT_OK) {
			res->created[res->ncreated++] = tmp;
			res->applied++;
		} else {
			rn_table_unref(tmp);
		}
		return err;
	}
	switch (act) {
	case TOPO_IGNORE:
		res->dropped++;
		return GT_OK;
	case TOPO_UPDATE:
		err = rn_table_replace_txn(n, txn, t, desc, RN_LOG_TABLE_UPDATE,
		    r, &tmp);
		break;
	case TOPO_CREATE_AND_BACKFILL:
		if (t != NULL && !t->has_rset)
			return GT_OK; /* a regional table of that name is there */
		if (t != NULL) {
			/* Listed again without a complete copy (a tie at one
			 * epoch went the other way): backfill again into the
			 * copy it has; the merge keeps what is newer. */
			err = rn_table_replace_txn(n, txn, t, desc,
			    RN_LOG_TABLE_UPDATE, r, &tmp);
			if (err == GT_OK)
				err = backfill_job_put(n, txn, tmp->name, desc);
			if (err == GT_OK)
				res->backfill_started = 1;
			break;
		}
		err = rn_table_create_txn(n, txn, desc, RN_LOG_TABLE_UPDATE, r,
		    &tmp);
		if (err == GT_OK)
			err = backfill_job_put(n, txn, tmp->name, desc);
		if (err == GT_OK)
			res->backfill_started = 1;
		break;
	case TOPO_DROP:
		if (cJSON_IsString(det) && strcmp(det->valuestring, n->region) ==
		    0) {
			/* Kept as a regional table, out of the replica set. */
			cJSON *reg = cJSON_Duplicate(t->desc, 1);
			if (reg == NULL)
				return GT_ENOMEM;
			cJSON_DeleteItemFromObjectCaseSensitive(reg,
			    "ReplicaSet");
			cJSON_DeleteItemFromObjectCaseSensitive(reg,
			    "BackfillSourceApi");
			err = rn_table_replace_txn(n, txn, t, reg,
			    RN_LOG_TABLE_UPDATE, r, &tmp);
			cJSON_Delete(reg);
			GT_LOG(GT_LOG_INFO, "topology", "event=replica_detached "
			    "table=%s", t->name);
			break;
		}
		err = rn_table_drop_txn(n, txn, t, RN_LOG_TABLE_UPDATE, r);
		if (err == GT_OK) {
			snprintf(res->dropped_tables[res->ndropped++],
			    RN_TABLE_NAME_MAX + 1, "%s", t->name);
			GT_LOG(GT_LOG_INFO, "topology", "event=replica_dropped "
			    "table=%s", t->name);
		}
		res->applied++;
		return err;
	}
	if (err == GT_OK && tmp != NULL) {
		res->created[res->ncreated++] = tmp;
		res->applied++;
	} else {
		rn_table_unref(tmp);
	}
	return err;
}

static gt_err apply_table_rec(rn_node *n, MDB_txn *txn, const rn_logrec *r,
    rn_apply_result *res)
{
	cJSON *desc = cJSON_ParseWithLength(r->new_img, r->new_len);
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(desc, "TableName");
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(desc,
	    "CreationDateTime");
	rn_table *t = NULL;
	gt_err err = GT_OK;

	if (!cJSON_IsString(nm) || !cJSON_IsNumber(ct)) {
		cJSON_Delete(desc);
		return GT_ECORRUPT;
	}
	/* Index ids and backfill state are the origin's own (index.h). */
	rn_index_desc_strip(desc);
	t = apply_table(n, res, nm->valuestring, strlen(nm->valuestring));
	if (r->op == RN_LOG_TABLE_UPDATE) {
		err = apply_table_update(n, txn, r, desc, t, res);
	} else if (r->op == RN_LOG_TABLE_CREATE) {
		if (t == NULL) {
			rn_table *made = NULL;
			err = rn_table_create_txn(n, txn, desc,
			    RN_LOG_TABLE_CREATE, r, &made);
			if (err == GT_OK) {
				res->created[res->ncreated++] = made;
				res->applied++;
			}
		} else {
			res->dropped++; /* the table exists here already */
		}
	} else if (t != NULL && (double)t->created_ms <= ct->valuedouble) {
		/* Only the incarnation the delete saw (or an older one). */
		err = rn_table_drop_txn(n, txn, t, RN_LOG_TABLE_DELETE, r);
		if (err == GT_OK) {
			snprintf(res->dropped_tables[res->ndropped++],
			    RN_TABLE_NAME_MAX + 1, "%s", t->name);
			res->applied++;
		}
	} else {
		res->dropped++;
	}
	rn_table_unref(t);
	cJSON_Delete(desc);
	return err;
}

/* Appends r to the held records. */
static gt_err held_put(rn_node *n, MDB_txn *txn, const rn_logrec *r)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t next = 1;
	uint8_t kb[8];
	gt_buf b = GT_BUF_INIT;
	gt_err err;
	int rc;

	rc = mdb_cursor_open(txn, dbs->held, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == MDB_SUCCESS &&
	    k.mv_size == 8)
		next = gt_get_u64be(k.mv_data) + 1;
	mdb_cursor_close(cur);
	rn_logrec_encode(r, &b);
	if (!gt_buf_ok(&b)) {
		gt_buf_free(&b);
		return GT_ENOMEM;
	}
	gt_put_u64be(kb, next);
	k.mv_size = 8;
	k.mv_data = kb;
	v.mv_size = b.len;
	v.mv_data = b.data;
	err = rn_mdb_err(mdb_put(txn, dbs->held, &k, &v, MDB_APPEND));
	gt_buf_free(&b);
	return err;
}

gt_err rn_held_release(rn_node *n, MDB_txn *txn, size_t max,
    uint64_t now_ms, rn_apply_result *res, int *left)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	MDB_cursor *cur;
	MDB_val k, v;
	size_t done = 0;
	gt_err err = GT_OK;
	int rc;

	*left = 0;
	rc = mdb_cursor_open(txn, dbs->held, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) {
		rn_logrec r;
		char origin[CF_REGION_NAME_MAX];
		uint8_t *copy;

		if (done == max) {
			*left = 1;
			break;
		}
		/* The record is applied from a copy: the apply writes, and
		 * LMDB values die at the next write. */
		copy = malloc(v.mv_size);
		if (copy == NULL) {
			err = GT_ENOMEM;
			break;
		}
		memcpy(copy, v.mv_data, v.mv_size);
		err = rn_logrec_decode(copy, v.mv_size, &r);
		if (err == GT_OK) {
			snprintf(origin, sizeof(origin), "%.*s",
			    (int)r.origin_len, r.origin);
			if (rn_node_paused(n, r.table, r.table_len, origin,
			    now_ms)) {
				free(copy);
				*left = 1;
				break; /* still paused: keep the order */
			}
			r.origin = origin;
			err = mdb_cursor_del(cur, 0) == MDB_SUCCESS ?
			    apply_item(n, txn, &r, now_ms, res) : GT_EIO;
		}
		free(copy);
		if (err != GT_OK)
			break;
		done++;
	}
	mdb_cursor_close(cur);
	if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	return err;
}

gt_err rn_repl_apply(rn_node *n, MDB_txn *txn, const char *origin,
    uint64_t after_seq, const rn_logrec *recs, size_t nrecs,
    uint64_t now_ms, rn_apply_result *res)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	uint64_t cursor;
	gt_err err;

	err = rn_cursor_get(txn, dbs, origin, &cursor);
	if (err != GT_OK)
		return err;
	if (after_seq > cursor) {
		res->cursor = cursor;
		res->dropped += nrecs;
		return GT_OK;
	}
	if (res->latency_cap < nrecs) {
		uint32_t *p = realloc(res->latency_ms, nrecs * sizeof(*p));
		if (p == NULL)
			return GT_ENOMEM;
		res->latency_ms = p;
		res->latency_cap = nrecs;
	}
	for (size_t i = 0; i < nrecs; i++) {
		const rn_logrec *r = &recs[i];

		if (r->origin_seq <= cursor) {
			res->dropped++;
			continue;
		}
		if (r->origin_len != strlen(origin) ||
		    memcmp(r->origin, origin, r->origin_len) != 0)
			return GT_ECORRUPT;
		if (r->op == RN_LOG_CLUSTER) {
			topo_members m;
			int changed = 0;
			if (topo_members_parse(r->new_img, r->new_len, &m) !=
			    GT_OK)
				return GT_ECORRUPT;
			err = rn_cluster_adopt_txn(n, txn, &m, r, &changed);
			if (err == GT_OK && changed) {
				res->members_changed = 1;
				res->members = m;
			}
			res->control++;
		} else if (r->op == RN_LOG_TABLE_CREATE || r->op ==
		    RN_LOG_TABLE_DELETE || r->op == RN_LOG_TABLE_UPDATE) {
			if (res->ncreated == GT_ARRAY_LEN(res->created) ||
			    res->ndropped == GT_ARRAY_LEN(res->dropped_tables))
				break; /* the rest comes with the next pull */
			err = apply_table_rec(n, txn, r, res);
		} else if (rn_node_paused(n, r->table, r->table_len, origin,
		    now_ms)) {
			/* Replication of the table is paused: keep the record
			 * (durably) and move on; rn_held_release applies it. */
			err = held_put(n, txn, r);
			if (err == GT_OK)
				res->held++;
		} else {
			err = apply_item(n, txn, r, now_ms, res);
		}
		if (err != GT_OK)
			return err;
		cursor = r->origin_seq;
	}
	res->cursor = cursor;
	return rn_cursor_put(txn, dbs, origin, cursor);
}

/* -------------------------------------------------------------- log scan */

gt_err rn_repl_log_scan(MDB_txn *txn, const rn_dbs *dbs, const char *self,
    uint64_t after_seq, rn_log_visit_fn fn, void *arg, int *truncated)
{
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	size_t self_len = strlen(self);
	gt_err err = GT_OK;
	int rc;

	*truncated = 0;
	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	gt_put_u64be(kb, after_seq + 1);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS && k.mv_size == 8 && after_seq + 1 <
	    gt_get_u64be(k.mv_data)) {
		/* A gap before the first record kept: truncated past it. */
		uint64_t floor = 0;
		if (rn_mdb_get_u64(txn, dbs->meta, "log_floor", &floor) == GT_OK &&
		    floor > after_seq)
			*truncated = 1;
	}
	for (; rc == MDB_SUCCESS && !*truncated;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_logrec r;
		if (k.mv_size != 8 || rn_logrec_decode(v.mv_data, v.mv_size,
		    &r) != GT_OK) {
			err = GT_ECORRUPT;
			break;
		}
		if (r.flags & RN_LOG_F_REPLICATED || r.origin_len != self_len ||
		    memcmp(r.origin, self, self_len) != 0)
			continue;
		if (fn(arg, gt_get_u64be(k.mv_data), &r))
			break;
	}
	mdb_cursor_close(cur);
	if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	return err;
}

/* ---------------------------------------------------------------- digest */

static void hex_put(gt_buf *b, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		gt_buf_putc(b, hx[p[i] >> 4]);
		gt_buf_putc(b, hx[p[i] & 15]);
	}
}

gt_err rn_table_digest_json(MDB_txn *txn, const rn_dbs *dbs,
    const rn_table *t, unsigned nranges, int list_range, gt_buf *out)
{
	EVP_MD_CTX *all = NULL, *rng = NULL, *one = NULL;
	MDB_cursor *cur = NULL;
	uint8_t kb[8], md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	uint64_t total = 0;
	gt_err err = GT_OK;
	int rc = MDB_SUCCESS;

	if (nranges < 1 || nranges > 4096)
		return GT_EINVAL;
	all = EVP_MD_CTX_new();
	rng = EVP_MD_CTX_new();
	one = EVP_MD_CTX_new();
	if (all == NULL || rng == NULL || one == NULL ||
	    EVP_DigestInit_ex(all, EVP_sha256(), NULL) != 1) {
		err = GT_ENOMEM;
		goto out;
	}
	rc = mdb_cursor_open(txn, dbs->items, &cur);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto out;
	}
	gt_buf_puts(out, "{\"TableName\":");
	gt_buf_json_str(out, t->name, strlen(t->name));
	gt_buf_puts(out, ",\"Ranges\":[");
	for (unsigned i = 0; i < nranges; i++) {
		uint64_t lo = ((uint64_t)i << 32) / nranges;
		uint64_t hi = ((uint64_t)(i + 1) << 32) / nranges;
		uint64_t items = 0;
		int listing = list_range == (int)i, nkeys = 0;
		MDB_val k = {8, kb}, v;
		gt_buf keys = GT_BUF_INIT;

		if (EVP_DigestInit_ex(rng, EVP_sha256(), NULL) != 1) {
			err = GT_ENOMEM;
			goto out;
		}
		gt_put_u32be(kb, t->id);
		gt_put_u32be(kb + 4, (uint32_t)lo);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		    rc == MDB_SUCCESS;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *kp = k.mv_data;
			rn_itemrec ir;
			cf_version ver;
			size_t used;
			uint8_t st[8];

			if (k.mv_size < 8 || gt_get_u32be(kp) != t->id ||
			    gt_get_u32be(kp + 4) >= hi)
				break;
			if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) !=
			    GT_OK || cf_meta_decode(ir.meta, ir.meta_len, &ver,
			    &used) != GT_OK) {
				err = GT_ECORRUPT;
				break;
			}
			if (ir.flags & RN_ITEM_F_TOMBSTONE)
				continue;
			gt_put_u64be(st, ver.stamp.hlc);
			EVP_DigestUpdate(rng, kp + 4, k.mv_size - 4);
			EVP_DigestUpdate(rng, ir.body, ir.body_len);
			EVP_DigestUpdate(rng, st, 8);
			EVP_DigestUpdate(rng, ver.stamp.origin,
			    strlen(ver.stamp.origin) + 1);
			items++;
			if (listing) {
				cJSON *it = cJSON_ParseWithLength(ir.body,
				    ir.body_len);
				cJSON *key = it ? rn_table_key_extract(t, it) :
				    NULL;
				EVP_DigestInit_ex(one, EVP_sha256(), NULL);
				EVP_DigestUpdate(one, ir.body, ir.body_len);
				EVP_DigestUpdate(one, st, 8);
				EVP_DigestUpdate(one, ver.stamp.origin,
				    strlen(ver.stamp.origin) + 1);
				EVP_DigestFinal_ex(one, md, &mdlen);
				gt_buf_puts(&keys, nkeys++ ? "," : "");
				gt_buf_puts(&keys, "{\"Key\":");
				if (key != NULL)
					rn_buf_json(&keys, key);
				else
					gt_buf_puts(&keys, "null");
				gt_buf_puts(&keys, ",\"Digest\":\"");
				hex_put(&keys, md, 16);
				gt_buf_puts(&keys, "\"}");
				cJSON_Delete(key);
				cJSON_Delete(it);
			}
		}
		if (err != GT_OK || (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)) {
			gt_buf_free(&keys);
			if (err == GT_OK)
				err = rn_mdb_err(rc);
			goto out;
		}
		EVP_DigestFinal_ex(rng, md, &mdlen);
		EVP_DigestUpdate(all, md, mdlen);
		total += items;
		gt_buf_printf(out, "%s{\"Range\":%u,\"HashLo\":%llu,\"HashHi\":"
		    "%llu,\"Items\":%llu,\"Digest\":\"", i ? "," : "", i,
		    (unsigned long long)lo, (unsigned long long)hi - 1,
		    (unsigned long long)items);
		hex_put(out, md, mdlen);
		gt_buf_putc(out, '"');
		if (listing) {
			gt_buf_puts(out, ",\"Keys\":[");
			gt_buf_append(out, keys.data, keys.len);
			gt_buf_putc(out, ']');
		}
		gt_buf_putc(out, '}');
		gt_buf_free(&keys);
	}
	EVP_DigestFinal_ex(all, md, &mdlen);
	gt_buf_printf(out, "],\"Items\":%llu,\"Digest\":\"",
	    (unsigned long long)total);
	hex_put(out, md, mdlen);
	gt_buf_puts(out, "\"}");
	if (!gt_buf_ok(out))
		err = GT_ENOMEM;
out:
	if (cur)
		mdb_cursor_close(cur);
	EVP_MD_CTX_free(all);
	EVP_MD_CTX_free(rng);
	EVP_MD_CTX_free(one);
	return err;
}

gt_err rn_log_own_head(MDB_txn *txn, const rn_dbs *dbs, const char *self,
    uint64_t *head)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t floor = 0;
	size_t self_len = strlen(self);
	gt_err err;
	int rc;

	err = rn_mdb_get_u64(txn, dbs->meta, "own_head", &floor);
	if (err != GT_OK)
		return err;
	*head = floor;
	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == MDB_SUCCESS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		rn_logrec r;
		uint64_t seq = k.mv_size == 8 ? gt_get_u64be(k.mv_data) : 0;
		if (seq <= floor)
			break;
		if (rn_logrec_decode(v.mv_data, v.mv_size, &r) == GT_OK &&
		    !(r.flags & RN_LOG_F_REPLICATED) && r.origin_len ==
		    self_len && memcmp(r.origin, self, self_len) == 0) {
			*head = seq;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? GT_OK :
	    rn_mdb_err(rc);
}
