/*
 * stream.c — stream records, sequence numbers, shard iterators, record
 * rendering, stream lifecycle and retention (see stream.h for the rules).
 */
#include "stream.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "items.h"
#include "value.h"

#define STREAM_FORMAT 1u
#define STREAM_F_CLOSED 1u
#define STREAM_VAL_FIXED 35u
#define ITER_VERSION 1u
#define ITER_FIXED 30u
#define ITER_MAC_LEN 32u
#define GC_BATCH_MAX 64u
#define TRIM_BATCH_MAX 1000u

static const char *const view_names[] = {
	[RN_SVT_KEYS_ONLY] = "KEYS_ONLY",
	[RN_SVT_NEW_IMAGE] = "NEW_IMAGE",
	[RN_SVT_OLD_IMAGE] = "OLD_IMAGE",
	[RN_SVT_NEW_AND_OLD_IMAGES] = "NEW_AND_OLD_IMAGES",
};

int rn_stream_view_parse(const char *s)
{
	if (s == NULL)
		return RN_SVT_NONE;
	for (int i = RN_SVT_KEYS_ONLY; i <= RN_SVT_NEW_AND_OLD_IMAGES; i++)
		if (strcmp(view_names[i], s) == 0)
			return i;
	return RN_SVT_NONE;
}

const char *rn_stream_view_name(int view)
{
	if (view < RN_SVT_KEYS_ONLY || view > RN_SVT_NEW_AND_OLD_IMAGES)
		return "";
	return view_names[view];
}

/* ------------------------------------------------------- stream records */

void rn_stream_encode(const rn_stream *st, gt_buf *key, gt_buf *val)
{
	size_t tn = strlen(st->table), kn = strlen(st->key_schema);

	gt_buf_put_u32be(key, st->table_id);
	gt_buf_append(key, st->label, strlen(st->label));
	gt_buf_put_u8(val, STREAM_FORMAT);
	gt_buf_put_u8(val, (uint8_t)st->view);
	gt_buf_put_u8(val, st->closed ? STREAM_F_CLOSED : 0);
	gt_buf_put_u64be(val, st->start_seq);
	gt_buf_put_u64be(val, st->closed ? st->end_seq : 0);
	gt_buf_put_u64be(val, st->created_ms);
	gt_buf_put_u64be(val, st->closed ? st->closed_ms : 0);
	gt_buf_put_u16be(val, (uint16_t)tn);
	gt_buf_append(val, st->table, tn);
	gt_buf_put_u16be(val, (uint16_t)kn);
	gt_buf_append(val, st->key_schema, kn);
}

gt_err rn_stream_decode(const void *key, size_t key_len, const void *val,
    size_t val_len, rn_stream *out)
{
	gt_rd r = {val, val_len, 0};
	rn_stream st;
	const uint8_t *p;
	uint8_t fmt, flags;
	uint16_t n;

	if (key_len <= 4 || key_len - 4 > RN_STREAM_LABEL_MAX)
		return GT_ECORRUPT;
	memset(&st, 0, sizeof(st));
	st.table_id = gt_get_u32be(key);
	memcpy(st.label, (const uint8_t *)key + 4, key_len - 4);
	fmt = gt_rd_u8(&r);
	st.view = gt_rd_u8(&r);
	flags = gt_rd_u8(&r);
	st.closed = (flags & STREAM_F_CLOSED) != 0;
	st.start_seq = gt_rd_u64be(&r);
	st.end_seq = gt_rd_u64be(&r);
	st.created_ms = gt_rd_u64be(&r);
	st.closed_ms = gt_rd_u64be(&r);
	n = gt_rd_u16be(&r);
	p = gt_rd_bytes(&r, n);
	if (p == NULL || n == 0 || n > RN_TABLE_NAME_MAX)
		return GT_ECORRUPT;
	memcpy(st.table, p, n);
	n = gt_rd_u16be(&r);
	p = gt_rd_bytes(&r, n);
	if (p == NULL || n >= sizeof(st.key_schema))
		return GT_ECORRUPT;
	memcpy(st.key_schema, p, n);
	if (r.err || r.n != 0 || fmt != STREAM_FORMAT ||
	    rn_stream_view_name(st.view)[0] == '\0')
		return GT_ECORRUPT;
	*out = st;
	return GT_OK;
}

/* ----------------------------------------------------- sequence numbers */

void rn_stream_seq_format(uint64_t seq, char out[RN_STREAM_SEQ_LEN + 1])
{
	snprintf(out, RN_STREAM_SEQ_LEN + 1, "%021llu",
	    (unsigned long long)seq);
}

gt_err rn_stream_seq_parse(const char *s, uint64_t *out)
{
	size_t n = s != NULL ? strlen(s) : 0;
	uint64_t v = 0;

	if (n < RN_STREAM_SEQ_LEN || n > 40)
		return GT_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return GT_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10u)
			return GT_EINVAL;
		v = v * 10u + d;
	}
	*out = v;
	return GT_OK;
}

static uint32_t fnv32(const void *p, size_t n, uint32_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

void rn_stream_shard_id(const rn_stream *st,
    char out[RN_STREAM_SHARD_ID_LEN + 1])
{
	uint8_t id[4];
	uint32_t h;

	gt_put_u32be(id, st->table_id);
	h = fnv32(id, sizeof(id), 2166136261u);
	h = fnv32(st->label, strlen(st->label), h);
	snprintf(out, RN_STREAM_SHARD_ID_LEN + 1, "shardId-%020llu-%08x",
	    (unsigned long long)st->start_seq, (unsigned)h);
}

/* ------------------------------------------------------------------ ARNs */

void rn_stream_arn(const char *region, const char *account,
    const rn_stream *st, gt_buf *out)
{
	gt_buf_printf(out, "arn:aws:dynamodb:%s:%s:table/%s/stream/%s", region,
	    account, st->table, st->label);
}

/* Copies the n bytes at p into dst (size cap) when 1 <= n < cap. */
static int part_copy(char *dst, size_t cap, const char *p, size_t n)
{
	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

gt_err rn_stream_arn_parse(const char *arn, rn_stream_arn_parts *out)
{
	static const char pfx[] = "arn:aws:dynamodb:";
	rn_stream_arn_parts a;
	const char *p, *e;

	memset(&a, 0, sizeof(a));
	if (arn == NULL || strncmp(arn, pfx, sizeof(pfx) - 1) != 0)
		return GT_EINVAL;
	p = arn + sizeof(pfx) - 1;
	e = strchr(p, ':');
	if (e == NULL || part_copy(a.region, sizeof(a.region), p,
	    (size_t)(e - p)) != 0 || !cf_region_name_valid(a.region))
		return GT_EINVAL;
	p = e + 1;
	e = strchr(p, ':');
	if (e == NULL || part_copy(a.account, sizeof(a.account), p,
	    (size_t)(e - p)) != 0)
		return GT_EINVAL;
	p = e + 1;
	if (strncmp(p, "table/", 6) != 0)
		return GT_EINVAL;
	p += 6;
	e = strchr(p, '/');
	if (e == NULL || part_copy(a.table, sizeof(a.table), p,
	    (size_t)(e - p)) != 0 || !rn_table_name_valid(a.table,
	    strlen(a.table)))
		return GT_EINVAL;
	p = e;
	if (strncmp(p, "/stream/", 8) != 0)
		return GT_EINVAL;
	p += 8;
	if (part_copy(a.label, sizeof(a.label), p, strlen(p)) != 0 ||
	    strchr(a.label, '/') != NULL)
		return GT_EINVAL;
	*out = a;
	return GT_OK;
}

/* ------------------------------------------------------- shard iterators */

/*
 * Iterator bytes, version 1 (then base64):
 *   0   1  version (1)
 *   1   4  table_id
 *   5   8  shard (the stream's start seq)
 *   13  8  pos
 *   21  8  issued_ms
 *   29  1  L  label length; L bytes: the label
 *   .   32 HMAC-SHA256 of everything before it, under the node's key
 */
static int iter_mac(const uint8_t key[RN_STREAM_KEY_LEN], const void *p,
    size_t n, uint8_t mac[ITER_MAC_LEN])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key, RN_STREAM_KEY_LEN, p, n, mac, &len) ==
	    NULL || len != ITER_MAC_LEN)
		return -1;
	return 0;
}

void rn_stream_iter_encode(const uint8_t key[RN_STREAM_KEY_LEN],
    const rn_stream_iter *it, gt_buf *out)
{
	gt_buf b = GT_BUF_INIT;
	uint8_t mac[ITER_MAC_LEN];
	size_t ln = strlen(it->label);

	gt_buf_put_u8(&b, ITER_VERSION);
	gt_buf_put_u32be(&b, it->table_id);
	gt_buf_put_u64be(&b, it->shard);
	gt_buf_put_u64be(&b, it->pos);
	gt_buf_put_u64be(&b, it->issued_ms);
	gt_buf_put_u8(&b, (uint8_t)ln);
	gt_buf_append(&b, it->label, ln);
	if (!gt_buf_ok(&b) || iter_mac(key, b.data, b.len, mac) != 0) {
		out->oom = 1;
		gt_buf_free(&b);
		return;
	}
	gt_buf_append(&b, mac, sizeof(mac));
	if (!gt_buf_ok(&b))
		out->oom = 1;
	else
		gt_base64_encode(out, (const uint8_t *)b.data, b.len);
	gt_buf_free(&b);
}

int rn_stream_iter_expired(const rn_stream_iter *it, uint64_t now_ms,
    uint64_t ttl_ms)
{
	/* A clock that stepped back expires nothing. */
	return now_ms > it->issued_ms && now_ms - it->issued_ms > ttl_ms;
}

gt_err rn_stream_iter_decode(const uint8_t key[RN_STREAM_KEY_LEN],
    const char *s, size_t n, uint64_t now_ms, uint64_t ttl_ms,
    rn_stream_iter *out)
{
	gt_buf b = GT_BUF_INIT;
	uint8_t mac[ITER_MAC_LEN];
	rn_stream_iter it;
	gt_rd r;
	const uint8_t *lp;
	size_t body;
	uint8_t ln;
	gt_err err = GT_EINVAL;

	/* Anything longer than the largest iterator is no iterator. */
	if (n > 4 * ((ITER_FIXED + RN_STREAM_LABEL_MAX + ITER_MAC_LEN + 2) /
	    3) || gt_base64_decode(&b, s, n) != GT_OK || !gt_buf_ok(&b) ||
	    b.len < ITER_FIXED + ITER_MAC_LEN)
		goto out;
	body = b.len - ITER_MAC_LEN;
	if (iter_mac(key, b.data, body, mac) != 0 ||
	    CRYPTO_memcmp(mac, b.data + body, ITER_MAC_LEN) != 0)
		goto out;
	memset(&it, 0, sizeof(it));
	r.p = (const uint8_t *)b.data;
	r.n = body;
	r.err = 0;
	if (gt_rd_u8(&r) != ITER_VERSION)
		goto out;
	it.table_id = gt_rd_u32be(&r);
	it.shard = gt_rd_u64be(&r);
	it.pos = gt_rd_u64be(&r);
	it.issued_ms = gt_rd_u64be(&r);
	ln = gt_rd_u8(&r);
	lp = gt_rd_bytes(&r, ln);
	if (lp == NULL || r.err || r.n != 0 || ln == 0 ||
	    ln > RN_STREAM_LABEL_MAX)
		goto out;
	memcpy(it.label, lp, ln);
	if (rn_stream_iter_expired(&it, now_ms, ttl_ms)) {
		err = GT_ETIMEOUT;
		goto out;
	}
	*out = it;
	err = GT_OK;
out:
	gt_buf_free(&b);
	return err;
}

/* ------------------------------------------------------------- records */

/* Adds the DynamoDB size of the item JSON at p (n bytes) to *size. */
static gt_err size_add(const char *p, size_t n, uint64_t *size)
{
	cJSON *it = cJSON_ParseWithLength(p, n);

	if (it == NULL)
		return GT_ECORRUPT;
	*size += rn_item_size(it);
	cJSON_Delete(it);
	return GT_OK;
}

gt_err rn_stream_record_render(const rn_logrec *r, uint64_t seq, int view,
    const char *region, gt_buf *out, int *skip)
{
	int has_old = r->old_len > 0;
	int has_new = r->op == RN_LOG_PUT && r->new_len > 0;
	int show_old, show_new;
	const char *name;
	char sn[RN_STREAM_SEQ_LEN + 1];
	uint64_t size = 0;
	uint32_t h;
	gt_err err;

	if (r->op == RN_LOG_PUT && has_new)
		name = has_old ? "MODIFY" : "INSERT";
	else if (r->op == RN_LOG_DELETE && has_old)
		name = "REMOVE";
	else {
		*skip = 1;
		return GT_OK;
	}
	*skip = 0;
	show_new = has_new && (view == RN_SVT_NEW_IMAGE ||
	    view == RN_SVT_NEW_AND_OLD_IMAGES);
	show_old = has_old && (view == RN_SVT_OLD_IMAGE ||
	    view == RN_SVT_NEW_AND_OLD_IMAGES);
	/* SizeBytes: what the record carries (keys and images shown). */
	err = size_add(r->key, r->key_len, &size);
	if (err == GT_OK && show_new)
		err = size_add(r->new_img, r->new_len, &size);
	if (err == GT_OK && show_old)
		err = size_add(r->old_img, r->old_len, &size);
	if (err != GT_OK)
		return err;
	/* eventID: unique among this node's records; another replica's
	 * record of the same write has another. */
	h = fnv32(region, strlen(region), 2166136261u);
	rn_stream_seq_format(seq, sn);
	gt_buf_printf(out, "{\"eventID\":\"%08x%08x%016llx\",\"eventName\":"
	    "\"%s\",\"eventVersion\":\"1.1\",\"eventSource\":\"aws:dynamodb\","
	    "\"awsRegion\":", h, fnv32(&seq, sizeof(seq), h),
	    (unsigned long long)seq, name);
	gt_buf_json_str(out, r->origin, r->origin_len);
	gt_buf_printf(out, ",\"dynamodb\":{\"ApproximateCreationDateTime\":"
	    "%llu,\"Keys\":", (unsigned long long)(cf_hlc_wall_ms(r->hlc) /
	    1000u));
	gt_buf_append(out, r->key, r->key_len);
	if (show_new) {
		gt_buf_puts(out, ",\"NewImage\":");
		gt_buf_append(out, r->new_img, r->new_len);
	}
	if (show_old) {
		gt_buf_puts(out, ",\"OldImage\":");
		gt_buf_append(out, r->old_img, r->old_len);
	}
	gt_buf_printf(out, ",\"SequenceNumber\":\"%s\",\"SizeBytes\":%llu,"
	    "\"StreamViewType\":\"%s\"}", sn, (unsigned long long)(size > 0 ?
	    size : 1), rn_stream_view_name(view));
	if (r->flags & RN_LOG_F_SERVICE)
		gt_buf_puts(out, ",\"userIdentity\":{\"Type\":\"Service\","
		    "\"PrincipalId\":\"dynamodb.amazonaws.com\"}");
	gt_buf_putc(out, '}');
	return gt_buf_ok(out) ? GT_OK : GT_ENOMEM;
}

/* ------------------------------------------------------------ lifecycle */

gt_err rn_stream_get(MDB_txn *txn, const rn_dbs *dbs, uint32_t table_id,
    const char *label, rn_stream *out)
{
	uint8_t kb[4 + RN_STREAM_LABEL_MAX];
	size_t ln = strlen(label);
	MDB_val k = {4 + ln, kb}, v;
	int rc;

	if (ln == 0 || ln > RN_STREAM_LABEL_MAX)
		return GT_ENOTFOUND;
	gt_put_u32be(kb, table_id);
	memcpy(kb + 4, label, ln);
	rc = mdb_get(txn, dbs->streams, &k, &v);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	return rn_stream_decode(k.mv_data, k.mv_size, v.mv_data, v.mv_size,
	    out);
}

static gt_err stream_put(MDB_txn *txn, const rn_dbs *dbs,
    const rn_stream *st)
{
	gt_buf k = GT_BUF_INIT, v = GT_BUF_INIT;
	MDB_val mk, mv;
	gt_err err = GT_ENOMEM;

	rn_stream_encode(st, &k, &v);
	if (gt_buf_ok(&k) && gt_buf_ok(&v)) {
		mk.mv_size = k.len;
		mk.mv_data = k.data;
		mv.mv_size = v.len;
		mv.mv_data = v.data;
		err = rn_mdb_err(mdb_put(txn, dbs->streams, &mk, &mv, 0));
	}
	gt_buf_free(&k);
	gt_buf_free(&v);
	return err;
}

/* The enabled stream a descriptor declares: its label and view type, or
 * 0 when it has none. */
static int desc_stream(const cJSON *desc, const char **label, int *view)
{
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(desc,
	    "StreamSpecification");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(ss,
	    "StreamEnabled");
	const cJSON *vt = cJSON_GetObjectItemCaseSensitive(ss,
	    "StreamViewType");
	const cJSON *sl = cJSON_GetObjectItemCaseSensitive(desc,
	    "StreamLabel");
	int v;

	if (!cJSON_IsTrue(en) || !cJSON_IsString(sl) ||
	    sl->valuestring[0] == '\0' ||
	    strlen(sl->valuestring) > RN_STREAM_LABEL_MAX)
		return 0;
	v = rn_stream_view_parse(cJSON_IsString(vt) ? vt->valuestring : NULL);
	if (v == RN_SVT_NONE)
		return 0;
	*label = sl->valuestring;
	*view = v;
	return 1;
}

static gt_err stream_open(rn_node *n, MDB_txn *txn, uint32_t table_id,
    const char *name, const cJSON *desc, const char *label, int view)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	rn_stream st;
	char *ks;
	gt_err err;

	err = rn_stream_get(txn, dbs, table_id, label, &st);
	if (err != GT_ENOTFOUND)
		return err; /* GT_OK: it is open already */
	memset(&st, 0, sizeof(st));
	st.table_id = table_id;
	snprintf(st.label, sizeof(st.label), "%s", label);
	snprintf(st.table, sizeof(st.table), "%s", name);
	st.view = view;
	st.start_seq = rn_store_seq_last(n->store) + 1;
	st.created_ms = gt_wall_ms();
	ks = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(desc,
	    "KeySchema"));
	if (ks == NULL)
		return GT_ENOMEM;
	if (strlen(ks) >= sizeof(st.key_schema)) {
		free(ks);
		return GT_ECORRUPT;
	}
	memcpy(st.key_schema, ks, strlen(ks) + 1);
	free(ks);
	err = stream_put(txn, dbs, &st);
	if (err == GT_OK)
		GT_LOG(GT_LOG_INFO, "stream", "event=stream_opened table=%s "
		    "label=%s view=%s start=%llu", name, label,
		    rn_stream_view_name(view),
		    (unsigned long long)st.start_seq);
	return err;
}

static gt_err stream_close(rn_node *n, MDB_txn *txn, uint32_t table_id,
    const char *label)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	rn_stream st;
	gt_err err;

	err = rn_stream_get(txn, dbs, table_id, label, &st);
	if (err == GT_ENOTFOUND)
		return GT_OK;
	if (err != GT_OK || st.closed)
		return err;
	st.closed = 1;
	st.end_seq = rn_store_seq_last(n->store);
	st.closed_ms = gt_wall_ms();
	err = stream_put(txn, dbs, &st);
	if (err == GT_OK)
		GT_LOG(GT_LOG_INFO, "stream", "event=stream_closed table=%s "
		    "label=%s end=%llu", st.table, label,
		    (unsigned long long)st.end_seq);
	return err;
}

gt_err rn_stream_table(rn_node *n, MDB_txn *txn, const rn_table *old,
    const rn_table *new_)
{
	const char *ol = NULL, *nl = NULL;
	int ov = 0, nv = 0, oh, nh, same;
	gt_err err = GT_OK;

	oh = old != NULL && desc_stream(old->desc, &ol, &ov);
	nh = new_ != NULL && desc_stream(new_->desc, &nl, &nv);
	same = oh && nh && old->id == new_->id && strcmp(ol, nl) == 0;
	if (oh && !same)
		err = stream_close(n, txn, old->id, ol);
	if (err == GT_OK && nh && !same)
		err = stream_open(n, txn, new_->id, new_->name, new_->desc, nl,
		    nv);
	return err;
}

/* Reads meta "stream_key", making it first when absent; then opens the
 * stream of every table that declares one and has no record. */
static gt_err init_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_node *n = w->arg;
	const rn_dbs *dbs = rn_store_dbs(s);
	MDB_val k = {10, (void *)(uintptr_t)"stream_key"}, v;
	uint8_t key[RN_STREAM_KEY_LEN];
	MDB_cursor *cur = NULL;
	gt_err err = GT_OK;
	int rc;

	rc = mdb_get(txn, dbs->meta, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == RN_STREAM_KEY_LEN) {
		memcpy(key, v.mv_data, RN_STREAM_KEY_LEN);
	} else if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) {
		if (RAND_bytes(key, sizeof(key)) != 1)
			return GT_EIO;
		v.mv_size = sizeof(key);
		v.mv_data = key;
		rc = mdb_put(txn, dbs->meta, &k, &v, 0);
		if (rc != MDB_SUCCESS)
			return rn_mdb_err(rc);
	} else {
		return rn_mdb_err(rc);
	}
	memcpy(n->streams.key, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));

	rc = mdb_cursor_open(txn, dbs->tables, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	    rc == MDB_SUCCESS && err == GT_OK;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		cJSON *d = cJSON_ParseWithLength(v.mv_data, v.mv_size);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "Id");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(d,
		    "TableName");
		const char *label = NULL;
		int view = 0;
		if (cJSON_IsNumber(id) && cJSON_IsString(nm) &&
		    desc_stream(d, &label, &view))
			err = stream_open(n, txn, (uint32_t)id->valuedouble,
			    nm->valuestring, d, label, view);
		cJSON_Delete(d);
		/* The cursor may not survive a put into another database of
		 * the same write txn under every LMDB version: position it
		 * again. */
		if (err == GT_OK) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
			if (rc != MDB_SUCCESS)
				break;
		}
	}
	mdb_cursor_close(cur);
	if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	return err;
}

gt_err rn_stream_init(rn_node *n)
{
	if (n->streams.retention_s == 0)
		n->streams.retention_s = RN_STREAM_RETENTION_S_DEFAULT;
	if (n->streams.iterator_ttl_s == 0)
		n->streams.iterator_ttl_s = RN_STREAM_ITERATOR_TTL_S_DEFAULT;
	return rn_store_write_sync(n->store, init_fn, n);
}

/* ------------------------------------------------------------ retention */

/* A meta counter; 0 when absent or unreadable. */
static uint64_t meta_u64(MDB_txn *txn, const rn_dbs *dbs, const char *name)
{
	uint64_t v = 0;

	if (rn_mdb_get_u64(txn, dbs->meta, name, &v) != GT_OK)
		return 0;
	return v;
}

uint64_t rn_stream_log_floor(MDB_txn *txn, const rn_dbs *dbs)
{
	return meta_u64(txn, dbs, "log_floor");
}

gt_err rn_stream_retention(rn_node *n, uint64_t now_ms, size_t walk_max,
    int *any, uint64_t *keep_above)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	uint64_t ret_ms = (uint64_t)n->streams.retention_s * 1000u;
	uint64_t cutoff = now_ms > ret_ms ? now_ms - ret_ms : 0;
	uint64_t keep = UINT64_MAX;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_stat st;
	MDB_val k, v;
	size_t walked = 0;
	gt_err err;
	int rc;

	err = rn_store_read_begin(n->store, &txn);
	if (err != GT_OK)
		return err;
	rc = mdb_stat(txn, dbs->streams, &st);
	if (rc != MDB_SUCCESS || st.ms_entries == 0) {
		rn_store_read_end(txn);
		if (rc != MDB_SUCCESS)
			return rn_mdb_err(rc);
		*any = 0;
		return GT_OK;
	}
	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		goto out;
	/* Records are in commit order, and their stamps nearly so: the walk
	 * stops at the first young one. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t seq;
		rn_logrec r;
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		seq = gt_get_u64be(k.mv_data);
		if (rn_logrec_decode(v.mv_data, v.mv_size, &r) != GT_OK) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (cf_hlc_wall_ms(r.hlc) >= cutoff || walked >= walk_max) {
			keep = seq - 1;
			break;
		}
		keep = seq;
		walked++;
	}
	mdb_cursor_close(cur);
	/* The end of the log: every record in it may go. */
	if (rc == MDB_NOTFOUND)
		rc = MDB_SUCCESS;
out:
	rn_store_read_end(txn);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	*any = 1;
	*keep_above = keep;
	return GT_OK;
}

/* Deletes the stream records named by keys (each u32 | label). */
typedef struct gc_job {
	uint8_t keys[GC_BATCH_MAX][4 + RN_STREAM_LABEL_MAX];
	size_t lens[GC_BATCH_MAX];
	size_t n;
} gc_job;

static gt_err gc_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	gc_job *job = w->arg;

	for (size_t i = 0; i < job->n; i++) {
		MDB_val k = {job->lens[i], job->keys[i]};
		int rc = mdb_del(txn, rn_store_dbs(s)->streams, &k, NULL);
		if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
			return rn_mdb_err(rc);
	}
	return GT_OK;
}

gt_err rn_stream_gc(rn_node *n, uint64_t now_ms)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	uint64_t ret_ms = (uint64_t)n->streams.retention_s * 1000u;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	gc_job *job;
	gt_err err;
	int rc;

	job = calloc(1, sizeof(*job));
	if (job == NULL)
		return GT_ENOMEM;
	err = rn_store_read_begin(n->store, &txn);
	if (err != GT_OK) {
		free(job);
		return err;
	}
	/* As in DynamoDB, a closed stream goes stream_retention_s after it
	 * closed, whether or not the log still holds its records (a log
	 * kept for a lagging peer would otherwise keep it forever). */
	rc = mdb_cursor_open(txn, dbs->streams, &cur);
	for (rc = rc != MDB_SUCCESS ? rc : mdb_cursor_get(cur, &k, &v,
	    MDB_FIRST); rc == MDB_SUCCESS && job->n < GC_BATCH_MAX;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_stream st;
		if (rn_stream_decode(k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size, &st) != GT_OK || !st.closed ||
		    st.closed_ms + ret_ms > now_ms)
			continue;
		memcpy(job->keys[job->n], k.mv_data, k.mv_size);
		job->lens[job->n++] = k.mv_size;
		GT_LOG(GT_LOG_INFO, "stream", "event=stream_forgotten table=%s "
		    "label=%s", st.table, st.label);
	}
	if (cur != NULL)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	else if (job->n > 0)
		err = rn_store_write_sync(n->store, gc_fn, job);
	free(job);
	return err;
}

/* ------------------------------------------------------------- keeper */

/* Deletes log records with seq <= upto (at most TRIM_BATCH_MAX) and
 * raises the floor; runs on the writer.  The newest own record deleted
 * raises meta "own_head", as the replicator's truncation does, so a node
 * that later replicates knows its head. */
typedef struct trim_job {
	rn_node *n;
	uint64_t upto;
	uint64_t done_to;
	size_t deleted;
} trim_job;

static gt_err trim_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	trim_job *job = w->arg;
	const rn_dbs *dbs = rn_store_dbs(s);
	const char *self = job->n->region;
	uint64_t own = 0, floor;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t fb[8];
	MDB_val fv = {8, fb};
	int rc;

	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	while (job->deleted < TRIM_BATCH_MAX) {
		rn_logrec r;
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		if (rc != MDB_SUCCESS || k.mv_size != 8 ||
		    gt_get_u64be(k.mv_data) > job->upto)
			break;
		job->done_to = gt_get_u64be(k.mv_data);
		if (rn_logrec_decode(v.mv_data, v.mv_size, &r) == GT_OK &&
		    !(r.flags & RN_LOG_F_REPLICATED) &&
		    r.origin_len == strlen(self) &&
		    memcmp(r.origin, self, r.origin_len) == 0)
			own = job->done_to;
		rc = mdb_cursor_del(cur, 0);
		if (rc != MDB_SUCCESS)
			break;
		job->deleted++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	if (job->deleted < TRIM_BATCH_MAX)
		job->done_to = job->upto;
	floor = meta_u64(txn, dbs, "log_floor");
	if (job->done_to <= floor)
		return GT_OK;
	gt_put_u64be(fb, job->done_to);
	k.mv_size = 9;
	k.mv_data = (void *)(uintptr_t)"log_floor";
	rc = mdb_put(txn, dbs->meta, &k, &fv, 0);
	if (rc == MDB_SUCCESS && own > meta_u64(txn, dbs, "own_head")) {
		gt_put_u64be(fb, own);
		k.mv_size = 8;
		k.mv_data = (void *)(uintptr_t)"own_head";
		rc = mdb_put(txn, dbs->meta, &k, &fv, 0);
	}
	return rn_mdb_err(rc);
}

static void keeper_trim(rn_node *n, uint64_t now_ms)
{
	uint64_t keep = 0, upto, last = rn_store_seq_committed(n->store);
	uint64_t until = gt_mono_ns() + 200000000u;
	int any = 0;

	if (rn_stream_retention(n, now_ms, RN_STREAM_WALK_MAX, &any, &keep) !=
	    GT_OK || !any)
		return;
	upto = GT_MIN(keep, last);
	{
		MDB_txn *txn = NULL;
		uint64_t floor;
		if (rn_store_read_begin(n->store, &txn) != GT_OK)
			return;
		floor = meta_u64(txn, rn_store_dbs(n->store), "log_floor");
		rn_store_read_end(txn);
		if (upto <= floor)
			return;
	}
	/* Small writes, so local writes never wait long behind trimming. */
	while (gt_mono_ns() < until) {
		trim_job job = {n, upto, 0, 0};
		if (rn_store_write_sync(n->store, trim_fn, &job) != GT_OK ||
		    job.deleted < TRIM_BATCH_MAX)
			break;
	}
}

struct rn_stream_keeper {
	rn_node *n;
	int trim;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void *keeper_main(void *arg)
{
	rn_stream_keeper *k = arg;

	pthread_mutex_lock(&k->mu);
	while (!k->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&k->cv, &k->mu, &ts);
		if (k->stop)
			break;
		pthread_mutex_unlock(&k->mu);
		if (k->trim)
			keeper_trim(k->n, gt_wall_ms());
		(void)rn_stream_gc(k->n, gt_wall_ms());
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

gt_err rn_stream_keeper_start(rn_node *n, int trim_log,
    rn_stream_keeper **out)
{
	rn_stream_keeper *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return GT_ENOMEM;
	k->n = n;
	k->trim = trim_log;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->th, NULL, keeper_main, k) != 0) {
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k);
		return GT_ENOMEM;
	}
	*out = k;
	return GT_OK;
}

void rn_stream_keeper_stop(rn_stream_keeper *k)
{
	if (k == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
}
