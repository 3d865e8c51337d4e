/*
 * backfill.c — source-side snapshot chunks and the new replica's backfill
 * worker (see backfill.h for the protocol).
 *
 * Why a copy that is not one snapshot is still exact: the source's cursors
 * are taken before the first chunk, and this region's cursors are lowered
 * to them, so every write made anywhere after that point is pulled again
 * from its origin; the chunks may also carry some of those writes.  Both
 * paths merge through cf_resolve, which keeps the maximal stamp and drops
 * what a version vector already covers, so each write ends up applied
 * exactly once in effect, whatever the interleaving.
 */
#include "backfill.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "cluster.h"
#include "derived.h"
#include "httpc.h"
#include "items.h"
#include "replica.h"

#define BF_CHUNK_BYTES (1u << 20)
#define BF_HTTP_TIMEOUT_MS 30000L
#define BF_RESP_MAX (8u << 20)

/* ----------------------------------------------------------- source side */

static void hex_put(gt_buf *b, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		gt_buf_putc(b, hx[p[i] >> 4]);
		gt_buf_putc(b, hx[p[i] & 15]);
	}
}

static int hex_get(const char *s, gt_buf *out)
{
	size_t n = strlen(s);
	if (n % 2 != 0 || n > 1100)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = s[i + (size_t)k];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				v |= ch - 'a' + 10;
			else
				return -1;
		}
		gt_buf_put_u8(out, (uint8_t)v);
	}
	return gt_buf_ok(out) ? 0 : -1;
}

gt_err rn_backfill_start_json(rn_node *n, const rn_table *t, gt_buf *out)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t head = 0, count = 0, bytes = 0;
	int rc, first = 1;
	gt_err err;

	/* One read transaction: the cursors and the head describe the same
	 * moment, which precedes every chunk. */
	err = rn_store_read_begin(n->store, &txn);
	if (err == GT_OK)
		err = rn_log_own_head(txn, dbs, n->region, &head);
	if (err == GT_OK)
		err = rn_stats_read(txn, dbs, t->id, &count, &bytes);
	if (err != GT_OK)
		goto out;
	gt_buf_puts(out, "{\"Source\":");
	gt_buf_json_str(out, n->region, strlen(n->region));
	gt_buf_printf(out, ",\"Head\":%llu,\"Items\":%llu,\"Cursors\":[",
	    (unsigned long long)head, (unsigned long long)count);
	rc = mdb_cursor_open(txn, dbs->cursors, &cur);
	for (rc = rc == MDB_SUCCESS ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) :
	    rc; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size != 8 || k.mv_size == 0 || k.mv_size >= 32)
			continue;
		gt_buf_puts(out, first ? "{\"Region\":" : ",{\"Region\":");
		gt_buf_json_str(out, k.mv_data, k.mv_size);
		gt_buf_printf(out, ",\"Seq\":%llu}",
		    (unsigned long long)gt_get_u64be(v.mv_data));
		first = 0;
	}
	gt_buf_puts(out, "]}");
	if (rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	else if (!gt_buf_ok(out))
		err = GT_ENOMEM;
out:
	if (cur)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
	return err;
}

gt_err rn_backfill_chunk_json(rn_node *n, const rn_table *t,
    const char *after_hex, size_t max_bytes, gt_buf *out)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	gt_buf pos = GT_BUF_INIT, last = GT_BUF_INIT;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t bytes = 0, nrec = 0;
	int rc, done = 1;
	gt_err err;

	gt_buf_put_u32be(&pos, t->id);
	if (after_hex != NULL && hex_get(after_hex, &pos) != 0) {
		gt_buf_free(&pos);
		return GT_EINVAL;
	}
	err = rn_store_read_begin(n->store, &txn);
	if (err != GT_OK)
		goto out;
	rc = mdb_cursor_open(txn, dbs->items, &cur);
	if (rc != MDB_SUCCESS) {
		err = rn_mdb_err(rc);
		goto out;
	}
	gt_buf_puts(out, "{\"Records\":[");
	k.mv_size = pos.len;
	k.mv_data = pos.data;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS && after_hex != NULL && k.mv_size == pos.len &&
	    memcmp(k.mv_data, pos.data, pos.len) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_itemrec ir;
		if (k.mv_size < 4 || gt_get_u32be(k.mv_data) != t->id)
			break;
		if (nrec > 0 && bytes + v.mv_size > max_bytes) {
			done = 0;
			break;
		}
		if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) != GT_OK) {
			err = GT_ECORRUPT;
			goto out;
		}
		gt_buf_puts(out, nrec ? ",{" : "{");
		gt_buf_puts(out, ir.flags & RN_ITEM_F_TOMBSTONE ?
		    "\"Tombstone\":true,\"Key\":" : "\"Item\":");
		gt_buf_append(out, ir.body, ir.body_len);
		gt_buf_puts(out, ",\"Meta\":\"");
		gt_base64_encode(out, ir.meta, ir.meta_len);
		gt_buf_puts(out, "\"}");
		gt_buf_reset(&last);
		gt_buf_append(&last, (const uint8_t *)k.mv_data + 4,
		    k.mv_size - 4);
		bytes += v.mv_size;
		nrec++;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = rn_mdb_err(rc);
		goto out;
	}
	gt_buf_puts(out, "],\"Next\":");
	if (last.len > 0) {
		gt_buf_putc(out, '"');
		hex_put(out, (const uint8_t *)last.data, last.len);
		gt_buf_putc(out, '"');
	} else if (after_hex != NULL) {
		gt_buf_json_str(out, after_hex, strlen(after_hex));
	} else {
		gt_buf_puts(out, "null");
	}
	gt_buf_printf(out, ",\"Done\":%s,\"Count\":%zu}", done ? "true" :
	    "false", nrec);
	if (!gt_buf_ok(out))
		err = GT_ENOMEM;
out:
	if (cur)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
	gt_buf_free(&pos);
	gt_buf_free(&last);
	return err;
}

/* ------------------------------------------------------ new replica side */

struct rn_backfiller {
	rn_node *n;
	rn_rewind_fn rewind;
	void *rewind_arg;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, kicked;
	/* What the metrics show. */
	char table[RN_TABLE_NAME_MAX + 1];
	uint64_t done, total;
	uint64_t chunks, failures;
};

/* A backfill job as kept in meta "backfill/<table>". */
typedef struct bf_job {
	char table[RN_TABLE_NAME_MAX + 1];
	char source[CF_REGION_NAME_MAX];
	char api[TOPO_URL_MAX];
	int primed;
	char after[1100];  /* hex position, "" for the start */
	uint64_t done, total;
	unsigned pct;      /* last progress published */
} bf_job;

static void job_key(const char *table, char *key, size_t len)
{
	snprintf(key, len, "backfill/%s", table);
}

static gt_err job_parse(const char *p, size_t n, bf_job *j)
{
	cJSON *o = cJSON_ParseWithLength(p, n);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "Table");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "Source");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "SourceApi");
	const cJSON *af = cJSON_GetObjectItemCaseSensitive(o, "After");
	gt_err err = GT_OK;

	memset(j, 0, sizeof(*j));
	if (!cJSON_IsString(t) || !cJSON_IsString(s) || !cJSON_IsString(a) ||
	    strlen(t->valuestring) >= sizeof(j->table) ||
	    strlen(s->valuestring) >= sizeof(j->source) ||
	    strlen(a->valuestring) >= sizeof(j->api) ||
	    (cJSON_IsString(af) && strlen(af->valuestring) >=
	    sizeof(j->after))) {
		err = GT_ECORRUPT;
		goto out;
	}
	snprintf(j->table, sizeof(j->table), "%s", t->valuestring);
	snprintf(j->source, sizeof(j->source), "%s", s->valuestring);
	snprintf(j->api, sizeof(j->api), "%s", a->valuestring);
	j->primed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "Primed"));
	if (cJSON_IsString(af))
		snprintf(j->after, sizeof(j->after), "%s", af->valuestring);
	j->done = (uint64_t)cJSON_GetNumberValue(
	    cJSON_GetObjectItemCaseSensitive(o, "Done"));
	j->total = (uint64_t)cJSON_GetNumberValue(
	    cJSON_GetObjectItemCaseSensitive(o, "Total"));
	j->pct = (unsigned)cJSON_GetNumberValue(
	    cJSON_GetObjectItemCaseSensitive(o, "Pct"));
out:
	cJSON_Delete(o);
	return err;
}

static gt_err job_put(MDB_txn *txn, const rn_dbs *dbs, const bf_job *j)
{
	char key[RN_TABLE_NAME_MAX + 16];
	gt_buf v = GT_BUF_INIT;
	MDB_val k, val;
	gt_err err;

	job_key(j->table, key, sizeof(key));
	gt_buf_puts(&v, "{\"Table\":");
	gt_buf_json_str(&v, j->table, strlen(j->table));
	gt_buf_puts(&v, ",\"Source\":");
	gt_buf_json_str(&v, j->source, strlen(j->source));
	gt_buf_puts(&v, ",\"SourceApi\":");
	gt_buf_json_str(&v, j->api, strlen(j->api));
	gt_buf_printf(&v, ",\"Primed\":%s,\"After\":", j->primed ? "true" :
	    "false");
	gt_buf_json_str(&v, j->after, strlen(j->after));
	gt_buf_printf(&v, ",\"Done\":%llu,\"Total\":%llu,\"Pct\":%u}",
	    (unsigned long long)j->done, (unsigned long long)j->total, j->pct);
	if (!gt_buf_ok(&v)) {
		gt_buf_free(&v);
		return GT_ENOMEM;
	}
	k.mv_size = strlen(key);
	k.mv_data = key;
	val.mv_size = v.len;
	val.mv_data = v.data;
	err = rn_mdb_err(mdb_put(txn, dbs->meta, &k, &val, 0));
	gt_buf_free(&v);
	return err;
}

static gt_err job_del(MDB_txn *txn, const rn_dbs *dbs, const char *table)
{
	char key[RN_TABLE_NAME_MAX + 16];
	MDB_val k;
	int rc;

	job_key(table, key, sizeof(key));
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_del(txn, dbs->meta, &k, NULL);
	return rc == MDB_NOTFOUND ? GT_OK : rn_mdb_err(rc);
}

/* A write on the store's writer that publishes a replaced descriptor
 * right after its commit (the catalog follows commits on that thread). */
typedef struct bf_write {
	rn_write w;
	rn_node *n;
	gt_err (*fn)(struct bf_write *bw, MDB_txn *txn);
	bf_job *job;
	cJSON *records;        /* merge: the chunk's records (borrowed) */
	const char *next;      /* merge: the chunk's Next */
	rn_table *t;
	const topo_cursor *src; /* prime: source cursors */
	size_t nsrc;
	uint64_t total;
	rn_table *made;        /* to publish */
	int finished;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	gt_err err;
} bf_write;

static gt_err bf_write_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	bf_write *bw = (bf_write *)w;
	(void)s;
	return bw->fn(bw, txn);
}

static void bf_write_done(rn_write *w, gt_err commit_err)
{
	bf_write *bw = (bf_write *)w;

	if (commit_err == GT_OK && bw->made != NULL)
		(void)rn_catalog_put(&bw->n->catalog, bw->made);
	pthread_mutex_lock(&bw->mu);
	bw->err = commit_err;
	bw->done = 1;
	pthread_cond_signal(&bw->cv);
	pthread_mutex_unlock(&bw->mu);
}

static gt_err bf_run(bf_write *bw)
{
	gt_err err;

	bw->w.fn = bf_write_fn;
	bw->w.done = bf_write_done;
	pthread_mutex_init(&bw->mu, NULL);
	pthread_cond_init(&bw->cv, NULL);
	err = rn_store_submit(bw->n->store, &bw->w);
	if (err == GT_OK) {
		pthread_mutex_lock(&bw->mu);
		while (!bw->done)
			pthread_cond_wait(&bw->cv, &bw->mu);
		pthread_mutex_unlock(&bw->mu);
		err = bw->err;
	}
	pthread_cond_destroy(&bw->cv);
	pthread_mutex_destroy(&bw->mu);
	rn_table_unref(bw->made);
	bw->made = NULL;
	return err;
}

/* Prime: lower every cursor to what the copy will cover. */
static gt_err prime_fn(bf_write *bw, MDB_txn *txn)
{
	const rn_dbs *dbs = rn_store_dbs(bw->n->store);
	topo_cursor local[TOPO_REGIONS_MAX * 2], out[TOPO_REGIONS_MAX * 4];
	size_t nlocal = 0, nout;
	MDB_cursor *cur;
	MDB_val k, v;
	gt_err err = GT_OK;
	int rc;

	rc = mdb_cursor_open(txn, dbs->cursors, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	    rc == MDB_SUCCESS && nlocal < GT_ARRAY_LEN(local);
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size != 8 || k.mv_size == 0 || k.mv_size >=
		    CF_REGION_NAME_MAX)
			continue;
		memcpy(local[nlocal].region, k.mv_data, k.mv_size);
		local[nlocal].region[k.mv_size] = '\0';
		local[nlocal].seq = gt_get_u64be(v.mv_data);
		nlocal++;
	}
	mdb_cursor_close(cur);
	nout = topo_backfill_cursors(local, nlocal, bw->src, bw->nsrc, out,
	    GT_ARRAY_LEN(out));
	for (size_t i = 0; i < nout && err == GT_OK; i++) {
		if (strcmp(out[i].region, bw->n->region) == 0)
			continue; /* no cursor for ourselves */
		err = rn_cursor_put(txn, dbs, out[i].region, out[i].seq);
	}
	if (err != GT_OK)
		return err;
	bw->job->primed = 1;
	bw->job->total = bw->total;
	bw->job->done = 0;
	bw->job->after[0] = '\0';
	return job_put(txn, dbs, bw->job);
}

/* Stores a new replica set for the table, as this region's change. */
static gt_err rset_publish(bf_write *bw, MDB_txn *txn, const topo_rset *rs)
{
	cJSON *desc = cJSON_Duplicate(bw->t->desc, 1);
	gt_err err;

	if (desc == NULL)
		return GT_ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "BackfillSourceApi");
	err = rn_desc_set_rset(desc, rs);
	if (err == GT_OK)
		err = rn_table_replace_txn(bw->n, txn, bw->t, desc,
		    RN_LOG_TABLE_UPDATE, NULL, &bw->made);
	cJSON_Delete(desc);
	return err;
}

/* Merge one chunk of records, then advance the job (and publish progress
 * every 10%, or ACTIVE at the end). */
static gt_err merge_fn(bf_write *bw, MDB_txn *txn)
{
	rn_node *n = bw->n;
	const rn_dbs *dbs = rn_store_dbs(n->store);
	const cJSON *rec;
	size_t count = 0;
	gt_err err = GT_OK;

	if (!rn_table_is_current(n, bw->t))
		return GT_OK; /* dropped meanwhile: the worker notices */
	cJSON_ArrayForEach(rec, bw->records) {
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(rec,
		    "Item");
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(rec, "Key");
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec,
		    "Meta");
		gt_buf k = GT_BUF_INIT, mb = GT_BUF_INIT;
		char msg[RN_MSG_MAX], *body = NULL;
		cf_version in, none;
		cf_decision d;
		rn_item_cur cur;
		size_t used;

		if (!cJSON_IsString(meta) || (item == NULL) == (key == NULL) ||
		    gt_base64_decode(&mb, meta->valuestring,
		    strlen(meta->valuestring)) != GT_OK ||
		    cf_meta_decode((const uint8_t *)mb.data, mb.len, &in,
		    &used) != GT_OK || in.tombstone != (key != NULL) ||
		    rn_table_key_encode(bw->t, item ? item : key, key != NULL,
		    &k, msg) != GT_OK) {
			gt_buf_free(&k);
			gt_buf_free(&mb);
			GT_LOG(GT_LOG_ERROR, "backfill", "event=bad_record "
			    "table=%s", bw->t->name);
			return GT_ECORRUPT;
		}
		err = rn_item_read(txn, dbs, k.data, k.len, &cur);
		memset(&none, 0, sizeof(none));
		if (err == GT_OK)
			err = cf_resolve(cur.found ? &cur.ver : &none, &in, &d);
		if (err == GT_OK && (d.action == CF_TAKE ||
		    d.action == CF_CONFLICT_TAKE || d.action ==
		    CF_CONFLICT_KEEP)) {
			/* The winner's body: incoming, or the local one kept
			 * (copied: the next put invalidates it). */
			int take = d.action != CF_CONFLICT_KEEP;
			const cJSON *src = take ? (item ? item : key) : NULL;
			size_t old_size = 0, new_size = 0;
			int64_t dcount = 0;

			body = take ? cJSON_PrintUnformatted(src) :
			    strndup(cur.body, cur.body_len);
			if (body == NULL) {
				err = GT_ENOMEM;
			} else if (take) {
				if (cur.live) {
					cJSON *o = cJSON_ParseWithLength(
					    cur.body, cur.body_len);
					old_size = o ? rn_item_size(o) : 0;
					cJSON_Delete(o);
				}
				new_size = item ? rn_item_size(item) : 0;
				dcount = (item != NULL) - (int64_t)cur.live;
			}
			if (err == GT_OK)
				err = rn_item_write(txn, dbs, k.data, k.len,
				    &d.store, body, strlen(body));
			if (err == GT_OK && take)
				err = rn_derived_item_text(n, txn, bw->t, k.data,
				    k.len, cur.live ? cur.body : NULL, cur.live ?
				    cur.body_len : 0, body, item ? strlen(body) :
				    0);
			if (err == GT_OK && take)
				err = rn_stats_add(txn, dbs, bw->t->id, dcount,
				    (int64_t)new_size - (int64_t)old_size);
		}
		cf_clock_recv(&n->clock, in.stamp.hlc, gt_wall_ms());
		free(body);
		gt_buf_free(&k);
		gt_buf_free(&mb);
		if (err != GT_OK)
			return err;
		count++;
	}
	bw->job->done += count;
	if (bw->next != NULL)
		snprintf(bw->job->after, sizeof(bw->job->after), "%s",
		    bw->next);
	{
		topo_rset rs, next;
		unsigned pct = bw->job->total ? (unsigned)GT_MIN(99,
		    bw->job->done * 100u / bw->job->total) : 0;

		rn_table_rset(n, bw->t, &rs);
		if (bw->finished) {
			err = topo_rset_activate(&rs, n->region, &next);
			if (err == GT_OK)
				err = rset_publish(bw, txn, &next);
			if (err == GT_OK)
				err = job_del(txn, dbs, bw->job->table);
			return err;
		}
		if (pct / 10 > bw->job->pct / 10 && topo_rset_progress(&rs,
		    n->region, (uint8_t)pct, &next) == GT_OK) {
			err = rset_publish(bw, txn, &next);
			if (err != GT_OK)
				return err;
		}
		if (pct > bw->job->pct)
			bw->job->pct = pct;
	}
	return job_put(txn, dbs, bw->job);
}

/* The source no longer has the table: the replica cannot be created. */
static gt_err fail_fn(bf_write *bw, MDB_txn *txn)
{
	topo_rset rs, next;
	gt_err err = GT_OK;

	rn_table_rset(bw->n, bw->t, &rs);
	if (topo_rset_fail(&rs, bw->n->region, &next) == GT_OK)
		err = rset_publish(bw, txn, &next);
	if (err == GT_OK)
		err = job_del(txn, rn_store_dbs(bw->n->store), bw->job->table);
	return err;
}

static gt_err drop_job_fn(bf_write *bw, MDB_txn *txn)
{
	/* On the writer thread the catalog is exactly the committed state:
	 * delete the job only if its table is really gone. */
	rn_table *t = rn_catalog_get(&bw->n->catalog, bw->job->table);
	if (t != NULL) {
		rn_table_unref(t);
		return GT_OK;
	}
	return job_del(txn, rn_store_dbs(bw->n->store), bw->job->table);
}

/* POSTs body to the source's admin path; the parsed answer is *out. */
static gt_err bf_call(const bf_job *j, const char *path, const char *body,
    long *status, cJSON **out)
{
	char url[TOPO_URL_MAX + 64], why[256] = "";
	gt_buf resp = GT_BUF_INIT;
	gt_err err;

	snprintf(url, sizeof(url), "%s%s", j->api, path);
	err = gt_httpc_request("POST", url, body, strlen(body),
	    BF_HTTP_TIMEOUT_MS, BF_RESP_MAX, status, &resp, why, sizeof(why));
	if (err == GT_OK && *status == 200) {
		*out = cJSON_ParseWithLength(resp.data ? resp.data : "",
		    resp.len);
		if (*out == NULL)
			err = GT_ECORRUPT;
	} else if (err == GT_OK) {
		err = GT_EIO;
	}
	if (err != GT_OK && *status != 404)
		GT_LOG(GT_LOG_WARN, "backfill", "event=source_call_failed "
		    "table=%s source=%s path=%s status=%ld err=\"%s\"",
		    j->table, j->source, path, *status, why[0] ? why :
		    gt_strerror(err));
	gt_buf_free(&resp);
	return err;
}

/* Runs one job to its end or to the first error. */
static gt_err job_run(rn_backfiller *b, bf_job *j)
{
	rn_node *n = b->n;
	rn_table *t = rn_catalog_get(&n->catalog, j->table);
	char body[1400];
	long status = 0;
	cJSON *o = NULL;
	gt_err err = GT_OK;

	if (t == NULL) {
		bf_write bw;
		memset(&bw, 0, sizeof(bw));
		bw.n = n;
		bw.job = j;
		bw.fn = drop_job_fn;
		return bf_run(&bw);
	}
	snprintf(body, sizeof(body), "{\"TableName\":\"%s\"}", j->table);
	if (!j->primed) {
		topo_cursor src[TOPO_REGIONS_MAX * 2];
		size_t nsrc = 0;
		const cJSON *c, *hd, *items;
		bf_write bw;

		err = bf_call(j, "/admin/backfill/start", body, &status, &o);
		if (status == 404)
			goto failed;
		if (err != GT_OK)
			goto out;
		hd = cJSON_GetObjectItemCaseSensitive(o, "Head");
		items = cJSON_GetObjectItemCaseSensitive(o, "Items");
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o,
		    "Cursors")) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(c,
			    "Region");
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(c,
			    "Seq");
			if (!cJSON_IsString(r) || !cJSON_IsNumber(s) ||
			    strlen(r->valuestring) >= CF_REGION_NAME_MAX ||
			    nsrc + 1 >= GT_ARRAY_LEN(src))
				continue;
			snprintf(src[nsrc].region, sizeof(src[nsrc].region),
			    "%s", r->valuestring);
			src[nsrc++].seq = (uint64_t)s->valuedouble;
		}
		/* The source's own writes: from its head at this moment. */
		snprintf(src[nsrc].region, sizeof(src[nsrc].region), "%s",
		    j->source);
		src[nsrc++].seq = cJSON_IsNumber(hd) ? (uint64_t)hd->valuedouble
		    : 0;
		memset(&bw, 0, sizeof(bw));
		bw.n = n;
		bw.job = j;
		bw.fn = prime_fn;
		bw.src = src;
		bw.nsrc = nsrc;
		bw.total = cJSON_IsNumber(items) ? (uint64_t)items->valuedouble :
		    0;
		cJSON_Delete(o);
		o = NULL;
		err = bf_run(&bw);
		if (err != GT_OK)
			goto out;
		GT_LOG(GT_LOG_INFO, "backfill", "event=primed table=%s "
		    "source=%s items=%llu", j->table, j->source,
		    (unsigned long long)j->total);
		if (b->rewind != NULL)
			b->rewind(b->rewind_arg);
	}
	pthread_mutex_lock(&b->mu);
	snprintf(b->table, sizeof(b->table), "%s", j->table);
	b->total = j->total;
	pthread_mutex_unlock(&b->mu);
	for (;;) {
		const cJSON *next, *dn;
		bf_write bw;

		pthread_mutex_lock(&b->mu);
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			break;
		}
		pthread_mutex_unlock(&b->mu);
		if (j->after[0])
			snprintf(body, sizeof(body), "{\"TableName\":\"%s\","
			    "\"After\":\"%s\",\"MaxBytes\":%u}", j->table,
			    j->after, BF_CHUNK_BYTES);
		else
			snprintf(body, sizeof(body), "{\"TableName\":\"%s\","
			    "\"MaxBytes\":%u}", j->table, BF_CHUNK_BYTES);
		err = bf_call(j, "/admin/backfill/chunk", body, &status, &o);
		if (status == 404)
			goto failed;
		if (err != GT_OK)
			goto out;
		next = cJSON_GetObjectItemCaseSensitive(o, "Next");
		dn = cJSON_GetObjectItemCaseSensitive(o, "Done");
		memset(&bw, 0, sizeof(bw));
		bw.n = n;
		bw.job = j;
		bw.t = t;
		bw.fn = merge_fn;
		bw.records = cJSON_GetObjectItemCaseSensitive(o, "Records");
		bw.next = cJSON_IsString(next) ? next->valuestring : NULL;
		bw.finished = cJSON_IsTrue(dn);
		err = bf_run(&bw);
		cJSON_Delete(o);
		o = NULL;
		if (err != GT_OK)
			goto out;
		pthread_mutex_lock(&b->mu);
		b->done = j->done;
		b->chunks++;
		pthread_mutex_unlock(&b->mu);
		if (bw.finished) {
			GT_LOG(GT_LOG_INFO, "backfill", "event=done table=%s "
			    "source=%s items=%llu", j->table, j->source,
			    (unsigned long long)j->done);
			break;
		}
		/* The descriptor may have been replaced (progress): keep
		 * the current one for the next merge. */
		rn_table_unref(t);
		t = rn_catalog_get(&n->catalog, j->table);
		if (t == NULL)
			break;
	}
	goto out;
failed:
	GT_LOG(GT_LOG_ERROR, "backfill", "event=creation_failed table=%s "
	    "source=%s reason=\"the source does not hold the table\"",
	    j->table, j->source);
	{
		bf_write bw;
		memset(&bw, 0, sizeof(bw));
		bw.n = n;
		bw.job = j;
		bw.t = t;
		bw.fn = fail_fn;
		err = bf_run(&bw);
	}
out:
	cJSON_Delete(o);
	rn_table_unref(t);
	if (err != GT_OK) {
		pthread_mutex_lock(&b->mu);
		b->failures++;
		pthread_mutex_unlock(&b->mu);
	}
	return err;
}

/* Reads the recorded jobs (at most max). */
static size_t jobs_list(rn_node *n, bf_job *jobs, size_t max)
{
	static const char prefix[] = "backfill/";
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k = {sizeof(prefix) - 1, (void *)(uintptr_t)prefix}, v;
	size_t count = 0;
	int rc;

	if (rn_store_read_begin(n->store, &txn) != GT_OK)
		return 0;
	if (mdb_cursor_open(txn, rn_store_dbs(n->store)->meta, &cur) !=
	    MDB_SUCCESS)
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == MDB_SUCCESS && count < max;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < sizeof(prefix) - 1 || memcmp(k.mv_data, prefix,
		    sizeof(prefix) - 1) != 0)
			break;
		if (job_parse(v.mv_data, v.mv_size, &jobs[count]) == GT_OK)
			count++;
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
	return count;
}

static void *worker_main(void *arg)
{
	rn_backfiller *b = arg;
	unsigned backoff_ms = 0;

	for (;;) {
		bf_job jobs[8];
		size_t n;
		struct timespec ts;

		pthread_mutex_lock(&b->mu);
		if (!b->stop && !b->kicked) {
			unsigned wait = backoff_ms ? backoff_ms : 1000;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&b->cv, &b->mu, &ts);
		}
		b->kicked = 0;
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			break;
		}
		pthread_mutex_unlock(&b->mu);
		n = jobs_list(b->n, jobs, GT_ARRAY_LEN(jobs));
		backoff_ms = 0;
		for (size_t i = 0; i < n; i++) {
			if (job_run(b, &jobs[i]) != GT_OK)
				backoff_ms = 1000; /* retry soon, not hot */
		}
		if (n == 0) {
			pthread_mutex_lock(&b->mu);
			b->table[0] = '\0';
			pthread_mutex_unlock(&b->mu);
		}
	}
	return NULL;
}

gt_err rn_backfiller_start(rn_node *n, rn_rewind_fn rewind, void *arg,
    rn_backfiller **out)
{
	rn_backfiller *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return GT_ENOMEM;
	b->n = n;
	b->rewind = rewind;
	b->rewind_arg = arg;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->kicked = 1; /* resume recorded jobs at once */
	if (pthread_create(&b->th, NULL, worker_main, b) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		return GT_ENOMEM;
	}
	b->started = 1;
	*out = b;
	return GT_OK;
}

void rn_backfiller_kick(rn_backfiller *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->kicked = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

void rn_backfiller_stop(rn_backfiller *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (b->started)
		pthread_join(b->th, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void rn_backfiller_metrics(rn_backfiller *b, gt_buf *out)
{
	pthread_mutex_lock(&b->mu);
	gt_buf_puts(out, "# HELP meridian_backfill_items Items copied into "
	    "the replica being backfilled, and the source's count.\n"
	    "# TYPE meridian_backfill_items gauge\n");
	if (b->table[0]) {
		gt_buf_printf(out, "meridian_backfill_items{region=\"%s\","
		    "table=\"%s\",kind=\"done\"} %llu\n"
		    "meridian_backfill_items{region=\"%s\",table=\"%s\","
		    "kind=\"total\"} %llu\n", b->n->region, b->table,
		    (unsigned long long)b->done, b->n->region, b->table,
		    (unsigned long long)b->total);
	}
	gt_buf_printf(out, "# HELP meridian_backfill_chunks_total Backfill "
	    "chunks merged.\n# TYPE meridian_backfill_chunks_total counter\n"
	    "meridian_backfill_chunks_total{region=\"%s\"} %llu\n"
	    "# HELP meridian_backfill_failures_total Backfill attempts that "
	    "failed and will be retried.\n"
	    "# TYPE meridian_backfill_failures_total counter\n"
	    "meridian_backfill_failures_total{region=\"%s\"} %llu\n",
	    b->n->region, (unsigned long long)b->chunks, b->n->region,
	    (unsigned long long)b->failures);
	pthread_mutex_unlock(&b->mu);
}
