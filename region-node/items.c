/*
 * items.c — item and change records inside a transaction (see items.h).
 */
#include "items.h"

#include <string.h>

gt_err rn_item_read(MDB_txn *txn, const rn_dbs *dbs, const void *key,
    size_t key_len, rn_item_cur *out)
{
	MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
	rn_itemrec ir;
	size_t used;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mdb_get(txn, dbs->items, &k, &v);
	if (rc == MDB_NOTFOUND)
		return GT_OK;
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (rn_itemrec_decode(v.mv_data, v.mv_size, &ir) != GT_OK)
		return GT_ECORRUPT;
	if (ir.meta_len == 0 || cf_meta_decode(ir.meta, ir.meta_len, &out->ver,
	    &used) != GT_OK)
		return GT_ECORRUPT;
	out->found = 1;
	out->live = !(ir.flags & RN_ITEM_F_TOMBSTONE);
	out->body = ir.body;
	out->body_len = ir.body_len;
	return GT_OK;
}

gt_err rn_item_write(MDB_txn *txn, const rn_dbs *dbs, const void *key,
    size_t key_len, const cf_version *ver, const char *body, size_t len)
{
	uint8_t meta[CF_META_ENCODED_MAX];
	size_t meta_len = 0;
	gt_buf rec = GT_BUF_INIT;
	MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
	gt_err err;
	int rc;

	err = cf_meta_encode_to(ver, meta, sizeof(meta), &meta_len);
	if (err != GT_OK)
		return err;
	{
		rn_itemrec ir = {(uint8_t)(ver->tombstone ?
		    RN_ITEM_F_TOMBSTONE : 0), meta, meta_len, body, len};
		rn_itemrec_encode(&ir, &rec);
	}
	if (!gt_buf_ok(&rec)) {
		gt_buf_free(&rec);
		return GT_ENOMEM;
	}
	v.mv_size = rec.len;
	v.mv_data = rec.data;
	rc = mdb_put(txn, dbs->items, &k, &v, 0);
	gt_buf_free(&rec);
	return rn_mdb_err(rc);
}

gt_err rn_log_put(MDB_txn *txn, const rn_dbs *dbs, uint64_t seq,
    const rn_logrec *r)
{
	gt_buf rec = GT_BUF_INIT;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	rn_logrec_encode(r, &rec);
	if (!gt_buf_ok(&rec)) {
		gt_buf_free(&rec);
		return GT_ENOMEM;
	}
	gt_put_u64be(kb, seq);
	v.mv_size = rec.len;
	v.mv_data = rec.data;
	rc = mdb_put(txn, dbs->log, &k, &v, MDB_APPEND);
	gt_buf_free(&rec);
	return rn_mdb_err(rc);
}

gt_err rn_mdb_del_id(MDB_txn *txn, MDB_dbi dbi, uint32_t id)
{
	MDB_cursor *cur;
	uint8_t kb[4];
	MDB_val k, v;
	gt_err err = GT_OK;
	int rc;

	gt_put_u32be(kb, id);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	/* Seek afresh after each delete: the simplest cursor use that LMDB
	 * defines at every position, including the end of the database.
	 * MDB_NODUPDATA deletes a key's duplicates with it (and is ignored
	 * by databases without them). */
	for (;;) {
		k.mv_size = 4;
		k.mv_data = kb;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != MDB_SUCCESS || k.mv_size < 4 ||
		    memcmp(k.mv_data, kb, 4) != 0)
			break;
		rc = mdb_cursor_del(cur, MDB_NODUPDATA);
		if (rc != MDB_SUCCESS)
			break;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	mdb_cursor_close(cur);
	return err;
}

gt_err rn_mdb_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name,
    uint64_t *out)
{
	MDB_val k = {strlen(name), (void *)(uintptr_t)name}, v;
	int rc = mdb_get(txn, dbi, &k, &v);

	if (rc == MDB_NOTFOUND) {
		*out = 0;
		return GT_OK;
	}
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	if (v.mv_size != 8)
		return GT_ECORRUPT;
	*out = gt_get_u64be(v.mv_data);
	return GT_OK;
}
