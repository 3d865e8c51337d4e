/*
 * ttl.c — the TTL expiry queue, its tracking jobs and the sweeper (see
 * ttl.h for the layout, the invariants and which region deletes).
 *
 * A sweep round:
 *   1. tracking jobs: each job advances by up to JOB_CHUNKS_PER_ROUND
 *      chunks, each chunk one write transaction of at most
 *      RN_TTL_SCAN_CHUNK items                              [jobs_run]
 *   2. for every table with TTL enabled, in one read transaction: walk
 *      the entries with expiry in [now - 5 years, now), skip what another
 *      region should delete, and collect at most CANDIDATES_MAX
 *      candidates                                          [table_sweep]
 *   3. delete them in write transactions of at most RN_TTL_DELETE_BATCH,
 *      each delete re-checked against the item and the descriptor in
 *      that transaction                                [del_batch_write]
 * Reads never hold the writer, and each write transaction is small, so
 * foreground requests queue behind at most one batch.
 */
#include "ttl.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_write.h"
#include "changelog.h"
#include "cluster.h"
#include "items.h"
#include "value.h"

/* Chunks one job advances per round before tables get their turn. */
#define JOB_CHUNKS_PER_ROUND 10u
/* Jobs looked at per round. */
#define JOBS_PER_ROUND 16u
/* Item body bytes one job chunk parses at most. */
#define SCAN_CHUNK_BYTES (8u << 20)
/* Entries one table's sweep reads per round, and deletes it collects. */
#define EXAMINE_MAX 100000u
#define CANDIDATES_MAX 1000u

/* ------------------------------------------------------------ pure parts */

gt_err rn_ttl_seconds(const cJSON *av, uint64_t *out)
{
	const cJSON *payload = NULL;
	const char *text;
	uint64_t v = 0;
	rn_num num;

	if (av == NULL || rn_av_type_of(av, &payload) != RN_AV_N ||
	    !cJSON_IsString(payload))
		return GT_EINVAL;
	text = payload->valuestring;
	if (rn_num_parse(text, strlen(text), &num, NULL) != GT_OK || num.neg)
		return GT_EINVAL;
	/* value = 0.d1 d2 ... dn * 10^exp: the whole part is the first exp
	 * digits, zero-padded past the last one. */
	for (int i = 0; i < num.exp; i++) {
		unsigned d = i < num.ndigits ? num.digits[i] : 0u;
		if (v > (UINT64_MAX - d) / 10u) {
			v = UINT64_MAX;
			break;
		}
		v = v * 10u + d;
	}
	*out = v;
	return GT_OK;
}

gt_err rn_ttl_item_expiry(const cJSON *item, const char *attr,
    uint64_t *out)
{
	const cJSON *av;

	if (item == NULL)
		return GT_ENOTFOUND;
	av = cJSON_GetObjectItemCaseSensitive(item, attr);
	if (av == NULL)
		return GT_ENOTFOUND;
	return rn_ttl_seconds(av, out);
}

gt_err rn_ttl_key_encode(uint32_t table_id, uint64_t expiry_s,
    const void *item_key, size_t item_key_len,
    uint8_t key_out[RN_TTL_KEY_MAX], size_t *key_len, int *hashed)
{
	if (item_key == NULL || item_key_len == 0 ||
	    item_key_len > RN_TTL_KEY_MAX)
		return GT_EINVAL;
	gt_put_u32be(key_out, table_id);
	gt_put_u64be(key_out + 4, expiry_s);
	if (12u + item_key_len < RN_TTL_KEY_MAX) {
		memcpy(key_out + 12, item_key, item_key_len);
		*key_len = 12u + item_key_len;
		*hashed = 0;
	} else {
		/* Exactly RN_TTL_KEY_MAX bytes, which no plain key has. */
		memcpy(key_out + 12, item_key, RN_TTL_KEY_INLINE);
		SHA256(item_key, item_key_len, key_out + 12 +
		    RN_TTL_KEY_INLINE);
		*key_len = RN_TTL_KEY_MAX;
		*hashed = 1;
	}
	return GT_OK;
}

gt_err rn_ttl_key_decode(const void *k, size_t k_len, const void *v,
    size_t v_len, uint32_t *table_id, uint64_t *expiry_s,
    const uint8_t **item_key, size_t *item_key_len)
{
	const uint8_t *kp = k;

	if (kp == NULL || k_len < 13 || k_len > RN_TTL_KEY_MAX)
		return GT_ECORRUPT;
	if (v_len > 0) {
		/* Hashed form: the value is the item key, and the key keeps
		 * its first RN_TTL_KEY_INLINE bytes. */
		if (v == NULL || k_len != RN_TTL_KEY_MAX ||
		    12u + v_len < RN_TTL_KEY_MAX || v_len > RN_TTL_KEY_MAX ||
		    memcmp(kp + 12, v, RN_TTL_KEY_INLINE) != 0)
			return GT_ECORRUPT;
		*item_key = v;
		*item_key_len = v_len;
	} else {
		if (k_len == RN_TTL_KEY_MAX)
			return GT_ECORRUPT;
		*item_key = kp + 12;
		*item_key_len = k_len - 12u;
	}
	*table_id = gt_get_u32be(kp);
	*expiry_s = gt_get_u64be(kp + 4);
	return GT_OK;
}

int rn_ttl_expired(uint64_t expiry_s, uint64_t now_s)
{
	return expiry_s < now_s && now_s - expiry_s <= RN_TTL_MAX_AGE_S;
}

int rn_ttl_should_delete(const char *self, const char *origin, int sole,
    uint64_t expiry_s, uint64_t now_s, uint32_t takeover_s)
{
	if (!rn_ttl_expired(expiry_s, now_s))
		return 0;
	if (sole || strcmp(self, origin) == 0)
		return 1;
	return now_s - expiry_s > takeover_s;
}

/* ---------------------------------------------------------- the entries */

static gt_err entry_put(MDB_txn *txn, const rn_dbs *dbs, uint32_t id,
    uint64_t expiry_s, const void *item_key, size_t item_key_len)
{
	uint8_t kb[RN_TTL_KEY_MAX];
	size_t kl = 0;
	int hashed = 0;
	MDB_val k, v;

	/* An LMDB item key is always 1..511 bytes, so this cannot fail. */
	if (rn_ttl_key_encode(id, expiry_s, item_key, item_key_len, kb, &kl,
	    &hashed) != GT_OK)
		return GT_OK;
	k.mv_size = kl;
	k.mv_data = kb;
	v.mv_size = hashed ? item_key_len : 0;
	v.mv_data = hashed ? (void *)(uintptr_t)item_key : kb;
	return rn_mdb_err(mdb_put(txn, dbs->expiry, &k, &v, 0));
}

/* Deletes an entry; one that is not there is fine.  *gone (may be NULL)
 * tells whether there was one. */
static gt_err entry_del(MDB_txn *txn, const rn_dbs *dbs, uint32_t id,
    uint64_t expiry_s, const void *item_key, size_t item_key_len, int *gone)
{
	uint8_t kb[RN_TTL_KEY_MAX];
	size_t kl = 0;
	int hashed = 0, rc;
	MDB_val k;

	if (gone != NULL)
		*gone = 0;
	if (rn_ttl_key_encode(id, expiry_s, item_key, item_key_len, kb, &kl,
	    &hashed) != GT_OK)
		return GT_OK;
	k.mv_size = kl;
	k.mv_data = kb;
	rc = mdb_del(txn, dbs->expiry, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	if (rc == MDB_SUCCESS && gone != NULL)
		*gone = 1;
	return rn_mdb_err(rc);
}

static gt_err entry_exists(MDB_txn *txn, const rn_dbs *dbs, uint32_t id,
    uint64_t expiry_s, const void *item_key, size_t item_key_len,
    int *exists)
{
	uint8_t kb[RN_TTL_KEY_MAX];
	size_t kl = 0;
	int hashed = 0, rc;
	MDB_val k, v;

	*exists = 0;
	if (rn_ttl_key_encode(id, expiry_s, item_key, item_key_len, kb, &kl,
	    &hashed) != GT_OK)
		return GT_OK;
	k.mv_size = kl;
	k.mv_data = kb;
	rc = mdb_get(txn, dbs->expiry, &k, &v);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	*exists = rc == MDB_SUCCESS;
	return rn_mdb_err(rc);
}

/* Deletes every entry of table id. */
static gt_err entries_clear(MDB_txn *txn, const rn_dbs *dbs, uint32_t id)
{
	return rn_mdb_del_id(txn, dbs->expiry, id);
}

/* Moves an item's entry from its old expiry to its new one under attr. */
static gt_err track_attr(MDB_txn *txn, const rn_dbs *dbs, uint32_t id,
    const char *attr, const void *key, size_t key_len, const cJSON *old,
    const cJSON *new_)
{
	uint64_t oe = 0, ne = 0;
	int ho = rn_ttl_item_expiry(old, attr, &oe) == GT_OK;
	int hn = rn_ttl_item_expiry(new_, attr, &ne) == GT_OK;
	gt_err err = GT_OK;

	if (ho && hn && oe == ne)
		return GT_OK;
	if (ho)
		err = entry_del(txn, dbs, id, oe, key, key_len, NULL);
	if (err == GT_OK && hn)
		err = entry_put(txn, dbs, id, ne, key, key_len);
	return err;
}

gt_err rn_ttl_track(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const cJSON *old, const cJSON *new_)
{
	if (!t->ttl_enabled)
		return GT_OK;
	return track_attr(txn, rn_store_dbs(n->store), t->id, t->ttl_attr, key,
	    key_len, old, new_);
}

/* ------------------------------------------------------ tracking jobs */

#define JOB_PREFIX "ttl_scan/"

static size_t job_key(char out[32], uint32_t id)
{
	return (size_t)snprintf(out, 32, JOB_PREFIX "%u", id);
}

/* Stores job id: attribute attr, position pos (pos_len 0: from the
 * table's first item). */
static gt_err job_put(MDB_txn *txn, const rn_dbs *dbs, uint32_t id,
    const char *attr, const void *pos, size_t pos_len)
{
	gt_buf val = GT_BUF_INIT;
	char kb[32];
	MDB_val k, v;
	int rc;

	k.mv_size = job_key(kb, id);
	k.mv_data = kb;
	gt_buf_put_u16be(&val, (uint16_t)strlen(attr));
	gt_buf_puts(&val, attr);
	if (pos_len > 0)
		gt_buf_append(&val, pos, pos_len);
	if (!gt_buf_ok(&val)) {
		gt_buf_free(&val);
		return GT_ENOMEM;
	}
	v.mv_size = val.len;
	v.mv_data = val.data;
	rc = mdb_put(txn, dbs->meta, &k, &v, 0);
	gt_buf_free(&val);
	return rn_mdb_err(rc);
}

static gt_err job_del(MDB_txn *txn, const rn_dbs *dbs, uint32_t id)
{
	char kb[32];
	MDB_val k;
	int rc;

	k.mv_size = job_key(kb, id);
	k.mv_data = kb;
	rc = mdb_del(txn, dbs->meta, &k, NULL);
	return rc == MDB_NOTFOUND ? GT_OK : rn_mdb_err(rc);
}

gt_err rn_ttl_table(rn_node *n, MDB_txn *txn, const rn_table *old,
    const rn_table *new_)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	int old_on = old != NULL && old->ttl_enabled;
	int new_on = new_ != NULL && new_->ttl_enabled;
	gt_err err = GT_OK;

	if (old_on && new_on && old->id == new_->id &&
	    strcmp(old->ttl_attr, new_->ttl_attr) == 0)
		return GT_OK; /* the setting did not change */
	if (!old_on && !new_on && new_ != NULL)
		return GT_OK; /* a change of something else */
	/* Disabled, re-targeted, enabled or dropped: what was tracked goes,
	 * stale entries of invariant 4 included. */
	if (old != NULL) {
		err = entries_clear(txn, dbs, old->id);
		if (err == GT_OK)
			err = job_del(txn, dbs, old->id);
	}
	if (err == GT_OK && new_on) {
		if (old == NULL || old->id != new_->id)
			err = entries_clear(txn, dbs, new_->id);
		if (err == GT_OK)
			err = job_put(txn, dbs, new_->id, new_->ttl_attr, NULL,
			    0);
	}
	return err;
}

/* One chunk of a tracking job, run on the writer. */
typedef struct job_chunk {
	uint32_t id;
	int done;      /* out: the job finished, or is gone */
	size_t items;  /* out: items read */
} job_chunk;

static gt_err job_chunk_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	job_chunk *jc = w->arg;
	const rn_dbs *dbs = rn_store_dbs(s);
	char kb[32], attr[RN_ATTR_NAME_MAX + 1];
	uint8_t pos[RN_TTL_KEY_MAX], idb[4];
	size_t pos_len = 0, alen, bytes = 0, seen = 0;
	gt_buf found = GT_BUF_INIT; /* (u16 len | item key | u64 expiry)* */
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	gt_err err = GT_OK;
	int rc, end = 0;

	jc->done = 0;
	jc->items = 0;
	k.mv_size = job_key(kb, jc->id);
	k.mv_data = kb;
	rc = mdb_get(txn, dbs->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		jc->done = 1;
		return GT_OK;
	}
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	alen = v.mv_size >= 2 ? gt_get_u16be(v.mv_data) : 0;
	if (alen == 0 || alen > RN_ATTR_NAME_MAX || 2 + alen > v.mv_size ||
	    v.mv_size - 2 - alen > RN_TTL_KEY_MAX) {
		GT_LOG(GT_LOG_WARN, "ttl", "event=bad_tracking_job "
		    "table_id=%u", jc->id);
		jc->done = 1;
		return job_del(txn, dbs, jc->id);
	}
	/* Copied out: the puts below may move the page. */
	memcpy(attr, (const uint8_t *)v.mv_data + 2, alen);
	attr[alen] = '\0';
	pos_len = v.mv_size - 2 - alen;
	memcpy(pos, (const uint8_t *)v.mv_data + 2 + alen, pos_len);

	rc = mdb_cursor_open(txn, dbs->items, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	gt_put_u32be(idb, jc->id);
	k.mv_size = pos_len > 0 ? pos_len : 4;
	k.mv_data = pos_len > 0 ? pos : idb;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS && pos_len > 0 && k.mv_size == pos_len &&
	    memcmp(k.mv_data, pos, pos_len) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	while (seen < RN_TTL_SCAN_CHUNK && bytes < SCAN_CHUNK_BYTES) {
		rn_itemrec ir;
		if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS &&
		    (k.mv_size < 4 || gt_get_u32be(k.mv_data) != jc->id))) {
			end = 1;
			break;
		}
		if (rc != MDB_SUCCESS) {
			err = rn_mdb_err(rc);
			break;
		}
		if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) == GT_OK &&
		    !(ir.flags & RN_ITEM_F_TOMBSTONE)) {
			cJSON *item = cJSON_ParseWithLength(ir.body,
			    ir.body_len);
			uint64_t e = 0;
			if (rn_ttl_item_expiry(item, attr, &e) == GT_OK) {
				gt_buf_put_u16be(&found, (uint16_t)k.mv_size);
				gt_buf_append(&found, k.mv_data, k.mv_size);
				gt_buf_put_u64be(&found, e);
			}
			cJSON_Delete(item);
		}
		memcpy(pos, k.mv_data, k.mv_size);
		pos_len = k.mv_size;
		seen++;
		bytes += v.mv_size;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (err == GT_OK && !gt_buf_ok(&found))
		err = GT_ENOMEM;
	/* The entries are put after the walk, so no put can disturb it. */
	for (size_t off = 0; err == GT_OK && off + 2 <= found.len;) {
		const uint8_t *p = (const uint8_t *)found.data + off;
		size_t kl = gt_get_u16be(p);
		err = entry_put(txn, dbs, jc->id, gt_get_u64be(p + 2 + kl),
		    p + 2, kl);
		off += 2 + kl + 8;
	}
	if (err == GT_OK) {
		if (end)
			err = job_del(txn, dbs, jc->id);
		else
			err = job_put(txn, dbs, jc->id, attr, pos, pos_len);
	}
	gt_buf_free(&found);
	if (err == GT_OK) {
		jc->done = end;
		jc->items = seen;
	}
	return err;
}

/* Lists up to max recorded jobs' table ids. */
static size_t jobs_list(rn_node *n, uint32_t *ids, size_t max)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t cnt = 0;
	int rc;

	if (rn_store_read_begin(n->store, &txn) != GT_OK)
		return 0;
	if (mdb_cursor_open(txn, rn_store_dbs(n->store)->meta, &cur) !=
	    MDB_SUCCESS)
		goto out;
	k.mv_size = sizeof(JOB_PREFIX) - 1;
	k.mv_data = (void *)(uintptr_t)JOB_PREFIX;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && cnt < max) {
		char num[16];
		size_t pl = sizeof(JOB_PREFIX) - 1;
		char *end = NULL;
		unsigned long id;
		if (k.mv_size <= pl || memcmp(k.mv_data, JOB_PREFIX, pl) != 0 ||
		    k.mv_size - pl >= sizeof(num))
			break;
		memcpy(num, (const char *)k.mv_data + pl, k.mv_size - pl);
		num[k.mv_size - pl] = '\0';
		id = strtoul(num, &end, 10);
		if (end != NULL && *end == '\0' && id > 0 && id <= UINT32_MAX)
			ids[cnt++] = (uint32_t)id;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
out:
	rn_store_read_end(txn);
	return cnt;
}

/* Advances every job a bounded amount; 1 when some job is unfinished. */
static int jobs_run(rn_node *n, const _Atomic int *stop)
{
	uint32_t ids[JOBS_PER_ROUND];
	size_t cnt = jobs_list(n, ids, JOBS_PER_ROUND);
	int more = cnt == JOBS_PER_ROUND;

	for (size_t i = 0; i < cnt; i++) {
		job_chunk jc;
		unsigned c;
		memset(&jc, 0, sizeof(jc));
		jc.id = ids[i];
		for (c = 0; c < JOB_CHUNKS_PER_ROUND; c++) {
			gt_err err;
			if (stop != NULL && atomic_load(stop))
				return 0;
			err = rn_store_write_sync(n->store, job_chunk_write,
			    &jc);
			if (err != GT_OK) {
				GT_LOG(GT_LOG_WARN, "ttl", "event="
				    "tracking_failed table_id=%u err=\"%s\"",
				    jc.id, gt_strerror(err));
				break;
			}
			if (jc.done) {
				GT_LOG(GT_LOG_INFO, "ttl", "event="
				    "tracking_done table_id=%u", jc.id);
				break;
			}
		}
		if (c == JOB_CHUNKS_PER_ROUND)
			more = 1;
	}
	return more;
}

/* ------------------------------------------------------------- sweeping */

/* An expired entry the sweeper means to act on. */
typedef struct cand {
	uint8_t key[RN_TTL_KEY_MAX]; /* the item key */
	size_t key_len;
	uint64_t expiry_s;
	char *key_json; /* the item's key attributes; NULL when the item was
			   not live when read (a stale entry) */
} cand;

/* A batch of deletes for one write transaction. */
typedef struct del_batch {
	rn_node *n;
	rn_table *t;       /* borrowed: the catalog's table */
	const rn_ttl_opts *o;
	uint64_t now_s;    /* the round's time */
	int sole;
	cand *c;
	size_t nc;
	size_t deleted, stale; /* out, valid when the write committed */
} del_batch;

/* Reads t's TTL setting from the descriptor stored in txn, which is
 * exact even while the catalog has not caught up with the transaction. */
static gt_err txn_ttl_setting(MDB_txn *txn, const rn_dbs *dbs,
    const rn_table *t, int *on, char attr[RN_ATTR_NAME_MAX + 1])
{
	MDB_val k = {strlen(t->name), (void *)(uintptr_t)t->name}, v;
	const cJSON *spec, *an, *id;
	cJSON *desc;
	int rc;

	*on = 0;
	rc = mdb_get(txn, dbs->tables, &k, &v);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	desc = cJSON_ParseWithLength(v.mv_data, v.mv_size);
	if (desc == NULL)
		return GT_OK;
	id = cJSON_GetObjectItemCaseSensitive(desc, "Id");
	spec = cJSON_GetObjectItemCaseSensitive(desc,
	    "TimeToLiveSpecification");
	an = cJSON_GetObjectItemCaseSensitive(spec, "AttributeName");
	if (cJSON_IsNumber(id) && id->valuedouble == (double)t->id &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "Enabled")) &&
	    cJSON_IsString(an) && strlen(an->valuestring) > 0 &&
	    strlen(an->valuestring) <= RN_ATTR_NAME_MAX) {
		memcpy(attr, an->valuestring, strlen(an->valuestring) + 1);
		*on = 1;
	}
	cJSON_Delete(desc);
	return GT_OK;
}

static gt_err del_batch_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	del_batch *b = w->arg;
	const rn_dbs *dbs = rn_store_dbs(s);
	char attr[RN_ATTR_NAME_MAX + 1];
	gt_err err;
	int on = 0;

	b->deleted = b->stale = 0;
	err = txn_ttl_setting(txn, dbs, b->t, &on, attr);
	if (err != GT_OK || !on)
		return err;
	for (size_t i = 0; i < b->nc; i++) {
		const cand *c = &b->c[i];
		rn_item_op op;
		rn_item_plan p;
		uint64_t e = 0;
		int exists = 0;

		err = entry_exists(txn, dbs, b->t->id, c->expiry_s, c->key,
		    c->key_len, &exists);
		if (err != GT_OK)
			return err;
		if (!exists)
			continue; /* the item changed since it was read */
		/* The op borrows everything (no rn_item_op_clear). */
		memset(&op, 0, sizeof(op));
		op.kind = RN_ITEM_DELETE;
		op.t = b->t;
		op.key.data = (char *)(uintptr_t)c->key;
		op.key.len = c->key_len;
		op.key_json = c->key_json;
		op.log_flags = RN_LOG_F_SERVICE;
		err = rn_item_plan_make(b->n, txn, &op, &p);
		if (err == GT_ECORRUPT) {
			GT_LOG(GT_LOG_WARN, "ttl", "event=item_undecodable "
			    "table=%s", b->t->name);
			rn_item_plan_clear(&p);
			continue;
		}
		if (err != GT_OK || p.status == RN_PLAN_GONE) {
			rn_item_plan_clear(&p);
			return err; /* GONE: the table was replaced */
		}
		if (!p.live || rn_ttl_item_expiry(p.old_item, attr, &e) !=
		    GT_OK || e != c->expiry_s) {
			/* Invariant 4: an entry the item does not match. */
			rn_item_plan_clear(&p);
			err = entry_del(txn, dbs, b->t->id, c->expiry_s, c->key,
			    c->key_len, NULL);
			if (err != GT_OK)
				return err;
			b->stale++;
			continue;
		}
		if (c->key_json == NULL || !rn_ttl_should_delete(
		    b->n->region, p.ver.stamp.origin, b->sole, e, b->now_s,
		    b->o->takeover_s)) {
			rn_item_plan_clear(&p);
			continue;
		}
		err = rn_item_plan_commit(b->n, txn, &op, &p);
		rn_item_plan_clear(&p);
		/* The commit's derived-data hook removed the entry unless the
		 * catalog's descriptor lagged the transaction's. */
		if (err == GT_OK)
			err = entry_del(txn, dbs, b->t->id, c->expiry_s,
			    c->key, c->key_len, NULL);
		if (err != GT_OK)
			return err;
		b->deleted++;
	}
	return GT_OK;
}

/* The JSON of item's key attributes (malloc'd), or NULL. */
static char *key_json_of(const rn_table *t, const char *body, size_t len)
{
	cJSON *item = cJSON_ParseWithLength(body, len), *key;
	char *out = NULL;

	if (item == NULL)
		return NULL;
	key = rn_table_key_extract(t, item);
	if (key != NULL)
		out = cJSON_PrintUnformatted(key);
	cJSON_Delete(key);
	cJSON_Delete(item);
	return out;
}

/*
 * Collects table t's expired entries this region should act on, then
 * deletes them.  Adds the expired entries it saw to *pending.  Returns 1
 * when it stopped at CANDIDATES_MAX (more to delete at once).
 *
 * Entries are read in expiry order, so those skipped as another region's
 * (expired less than takeover_s ago) are the newest: a backlog of them
 * past EXAMINE_MAX delays this region's own deletes by at most
 * takeover_s, after which they are this region's too.
 */
static int table_sweep(rn_node *n, const rn_ttl_opts *o, rn_table *t,
    uint64_t now_ms, const _Atomic int *stop, uint64_t *pending)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	uint64_t now_s = now_ms / 1000u;
	uint64_t lo = now_s > RN_TTL_MAX_AGE_S ? now_s - RN_TTL_MAX_AGE_S : 0;
	cand *cs = NULL;
	size_t nc = 0, examined = 0, deleted = 0, stale = 0;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	uint8_t kb[12];
	MDB_val k, v;
	topo_rset rs;
	int rc, full = 0, sole;

	rn_table_rset(n, t, &rs);
	sole = rs.n <= 1;
	if (rn_store_read_begin(n->store, &txn) != GT_OK)
		return 0;
	if (mdb_cursor_open(txn, dbs->expiry, &cur) != MDB_SUCCESS)
		goto read_done;
	gt_put_u32be(kb, t->id);
	gt_put_u64be(kb + 4, lo);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (; rc == MDB_SUCCESS && examined < EXAMINE_MAX;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint32_t id;
		uint64_t e;
		const uint8_t *ik;
		size_t il;
		rn_item_cur ic;
		cand *c;

		if (rn_ttl_key_decode(k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size, &id, &e, &ik, &il) != GT_OK) {
			if (k.mv_size >= 4 && gt_get_u32be(k.mv_data) == t->id)
				continue;
			break;
		}
		if (id != t->id || e >= now_s)
			break;
		examined++;
		(*pending)++;
		if (rn_item_read(txn, dbs, ik, il, &ic) != GT_OK)
			continue;
		if (ic.live && !rn_ttl_should_delete(n->region,
		    ic.ver.stamp.origin, sole, e, now_s, o->takeover_s))
			continue; /* another region's to delete, for now */
		/* Allocated at the first candidate: most rounds have none. */
		if (cs == NULL)
			cs = calloc(CANDIDATES_MAX, sizeof(*cs));
		if (cs == NULL)
			break;
		c = &cs[nc];
		memcpy(c->key, ik, il);
		c->key_len = il;
		c->expiry_s = e;
		c->key_json = ic.live ? key_json_of(t, ic.body, ic.body_len) :
		    NULL;
		if (ic.live && c->key_json == NULL)
			continue;
		if (++nc == CANDIDATES_MAX) {
			full = 1;
			break;
		}
	}
	mdb_cursor_close(cur);
read_done:
	rn_store_read_end(txn);
	for (size_t at = 0; at < nc; at += RN_TTL_DELETE_BATCH) {
		del_batch b;
		gt_err err;
		if (stop != NULL && atomic_load(stop))
			break;
		memset(&b, 0, sizeof(b));
		b.n = n;
		b.t = t;
		b.o = o;
		b.now_s = now_s;
		b.sole = sole;
		b.c = cs + at;
		b.nc = GT_MIN(RN_TTL_DELETE_BATCH, nc - at);
		err = rn_store_write_sync(n->store, del_batch_write, &b);
		if (err != GT_OK) {
			GT_LOG(GT_LOG_WARN, "ttl", "event=sweep_failed "
			    "table=%s err=\"%s\"", t->name, gt_strerror(err));
			full = 0;
			break;
		}
		deleted += b.deleted;
		stale += b.stale;
	}
	if (deleted > 0 || stale > 0) {
		atomic_fetch_add(&n->ttl_deleted, deleted);
		GT_LOG(GT_LOG_DEBUG, "ttl", "event=swept table=%s deleted=%zu "
		    "stale=%zu", t->name, deleted, stale);
	}
	*pending -= GT_MIN(*pending, deleted + stale);
	for (size_t i = 0; i < nc; i++)
		free(cs[i].key_json);
	free(cs);
	return full;
}

/* Sweeps every table with TTL enabled; 1 when one has more at once. */
static int tables_sweep(rn_node *n, const rn_ttl_opts *o, uint64_t now_ms,
    const _Atomic int *stop)
{
	rn_table *ts[64];
	char last[RN_TABLE_NAME_MAX + 1] = "";
	uint64_t pending = 0;
	int more = 0, again = 1;

	while (again) {
		size_t cnt = rn_catalog_list(&n->catalog, last[0] ? last :
		    NULL, ts, GT_ARRAY_LEN(ts), &again);
		if (cnt == 0)
			break;
		for (size_t i = 0; i < cnt; i++) {
			if (ts[i]->ttl_enabled && !(stop != NULL &&
			    atomic_load(stop)))
				more |= table_sweep(n, o, ts[i], now_ms, stop,
				    &pending);
			if (i + 1 == cnt)
				memcpy(last, ts[i]->name, strlen(ts[i]->name) +
				    1);
			rn_table_unref(ts[i]);
		}
	}
	atomic_store(&n->ttl_pending, pending);
	return more;
}

static int round_run(rn_node *n, const rn_ttl_opts *o, uint64_t now_ms,
    const _Atomic int *stop)
{
	int more = jobs_run(n, stop);
	more |= tables_sweep(n, o, now_ms, stop);
	return more;
}

int rn_ttl_round(rn_node *n, const rn_ttl_opts *o, uint64_t now_ms)
{
	return round_run(n, o, now_ms, NULL);
}

/* ---------------------------------------------------------- the thread */

struct rn_ttl {
	rn_node *n;
	rn_ttl_opts o;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic int stop;
};

static void *sweeper_main(void *arg)
{
	rn_ttl *s = arg;

	for (;;) {
		int more = round_run(s->n, &s->o, gt_wall_ms(), &s->stop);
		struct timespec ts;
		unsigned wait = s->o.sweep_interval_ms;

		pthread_mutex_lock(&s->mu);
		if (!atomic_load(&s->stop) && !more) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait / 1000u;
			ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
		pthread_mutex_unlock(&s->mu);
		if (atomic_load(&s->stop))
			break;
	}
	return NULL;
}

gt_err rn_ttl_start(rn_node *n, const rn_ttl_opts *o, rn_ttl **out)
{
	rn_ttl *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return GT_ENOMEM;
	s->n = n;
	s->o = *o;
	if (s->o.sweep_interval_ms == 0)
		s->o.sweep_interval_ms = 1000;
	atomic_init(&s->stop, 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->th, NULL, sweeper_main, s) != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return GT_ENOMEM;
	}
	*out = s;
	return GT_OK;
}

void rn_ttl_stop(rn_ttl *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, 1);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
