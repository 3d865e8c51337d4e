/*
 * derived.c — one place where item and table changes reach everything
 * derived from them (see derived.h).
 */
#include "derived.h"

#include <stdlib.h>

#include "index.h"
#include "stream.h"
#include "ttl.h"

int rn_derived_any(const rn_table *t)
{
	return t->ttl_enabled || t->nindexes > 0;
}

gt_err rn_derived_item(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const cJSON *old, const cJSON *new_)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	gt_err err = GT_OK;

	if (t->nindexes > 0)
		err = rn_index_item(txn, dbs, t, key, key_len, old, new_);
	if (err == GT_OK)
		err = rn_ttl_track(n, txn, t, key, key_len, old, new_);
	return err;
}

gt_err rn_derived_item_text(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const char *old, size_t old_len,
    const char *new_, size_t new_len)
{
	cJSON *o = NULL, *nw = NULL;
	gt_err err;

	if (!rn_derived_any(t))
		return GT_OK;
	if (old != NULL && old_len > 0) {
		o = cJSON_ParseWithLength(old, old_len);
		if (o == NULL)
			return GT_ECORRUPT;
	}
	if (new_ != NULL && new_len > 0) {
		nw = cJSON_ParseWithLength(new_, new_len);
		if (nw == NULL) {
			cJSON_Delete(o);
			return GT_ECORRUPT;
		}
	}
	err = rn_derived_item(n, txn, t, key, key_len, o, nw);
	cJSON_Delete(o);
	cJSON_Delete(nw);
	return err;
}

gt_err rn_derived_table(rn_node *n, MDB_txn *txn, const rn_table *old,
    rn_table *new_)
{
	const rn_dbs *dbs = rn_store_dbs(n->store);
	gt_err err;

	err = rn_index_table(txn, dbs, old, new_);
	if (err == GT_OK)
		err = rn_stream_table(n, txn, old, new_);
	if (err == GT_OK)
		err = rn_ttl_table(n, txn, old, new_);
	return err;
}
