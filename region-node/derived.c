/*
 * derived.c — one place where item and table changes reach everything
 * derived from them (see derived.h).
 */
#include "derived.h"

#include <stdint.h>
#include <stdlib.h>

#include "index.h"
#include "stream.h"
#include "ttl.h"

int rn_derived_any(const rn_table *t)
{
	return t->ttl_enabled || t->nindexes > 0;
}

/*
 * The descriptor whose indexes and TTL setting an item change must
 * follow: the catalog's, not the one the request looked up, which may
 * predate an index or TTL change that committed since (a backfill that
 * has already passed the item would then never see it).  The catalog
 * takes a descriptor right after its commit, before the writer's next
 * group, so on the writer thread it is exact.  A new reference.
 */
static rn_table *derived_current(rn_node *n, const rn_table *t)
{
	rn_table *cur = rn_catalog_get(&n->catalog, t->name);

	if (cur != NULL && cur->id == t->id)
		return cur;
	rn_table_unref(cur);
	rn_table_ref((rn_table *)(uintptr_t)t);
	return (rn_table *)(uintptr_t)t;
}

static gt_err derived_item(rn_node *n, MDB_txn *txn, const rn_table *t,
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

gt_err rn_derived_item(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const cJSON *old, const cJSON *new_)
{
	rn_table *cur = derived_current(n, t);
	gt_err err = derived_item(n, txn, cur, key, key_len, old, new_);

	rn_table_unref(cur);
	return err;
}

gt_err rn_derived_item_text(rn_node *n, MDB_txn *txn, const rn_table *t,
    const void *key, size_t key_len, const char *old, size_t old_len,
    const char *new_, size_t new_len)
{
	rn_table *cur = derived_current(n, t);
	cJSON *o = NULL, *nw = NULL;
	gt_err err = GT_OK;

	if (!rn_derived_any(cur))
		goto out;
	if (old != NULL && old_len > 0) {
		o = cJSON_ParseWithLength(old, old_len);
		if (o == NULL) {
			err = GT_ECORRUPT;
			goto out;
		}
	}
	if (new_ != NULL && new_len > 0) {
		nw = cJSON_ParseWithLength(new_, new_len);
		if (nw == NULL) {
			err = GT_ECORRUPT;
			goto out;
		}
	}
	err = derived_item(n, txn, cur, key, key_len, o, nw);
out:
	cJSON_Delete(o);
	cJSON_Delete(nw);
	rn_table_unref(cur);
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
