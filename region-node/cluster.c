/*
 * cluster.c — membership persistence and changes (see cluster.h).
 *
 * Membership lives in the meta database under "cluster" as topo JSON.  A
 * change made here (join, leave) runs as one write: compute the new
 * membership with the topology core, persist it, append a CLUSTER change
 * record; peers adopt it when they apply that record (the newest epoch
 * wins), so a change made while a region is down reaches it when it is
 * back.  After the commit the members hook tells replication.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "items.h"

static const char cluster_key[] = "cluster";

static gt_err members_put(rn_node *n, MDB_txn *txn, const topo_members *m)
{
	gt_buf b = GT_BUF_INIT;
	MDB_val k = {sizeof(cluster_key) - 1, (void *)(uintptr_t)cluster_key};
	MDB_val v;
	gt_err err;

	topo_members_json(m, &b);
	if (!gt_buf_ok(&b)) {
		gt_buf_free(&b);
		return GT_ENOMEM;
	}
	v.mv_size = b.len;
	v.mv_data = b.data;
	err = rn_mdb_err(mdb_put(txn, rn_store_dbs(n->store)->meta, &k, &v, 0));
	gt_buf_free(&b);
	return err;
}

typedef struct open_arg {
	rn_node *n;
	const topo_members *initial;
	topo_members loaded;
	int found;
} open_arg;

static gt_err open_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	open_arg *a = w->arg;
	MDB_val k = {sizeof(cluster_key) - 1, (void *)(uintptr_t)cluster_key};
	MDB_val v;
	int rc;

	rc = mdb_get(txn, rn_store_dbs(s)->meta, &k, &v);
	if (rc == MDB_SUCCESS) {
		if (topo_members_parse(v.mv_data, v.mv_size, &a->loaded) !=
		    GT_OK)
			return GT_ECORRUPT;
		a->found = 1;
		/* A config edited to list more regions than were persisted
		 * is not adopted silently: runtime joins own membership. */
		return GT_OK;
	}
	if (rc != MDB_NOTFOUND)
		return rn_mdb_err(rc);
	if (a->initial == NULL)
		return GT_OK;
	a->loaded = *a->initial;
	a->found = 1;
	return members_put(a->n, txn, a->initial);
}

gt_err rn_cluster_open(rn_node *n, const topo_members *initial)
{
	open_arg a;
	gt_err err;

	memset(&a, 0, sizeof(a));
	a.n = n;
	a.initial = initial;
	err = rn_store_write_sync(n->store, open_fn, &a);
	if (err != GT_OK)
		return err;
	pthread_mutex_lock(&n->topo_mu);
	if (a.found)
		n->members = a.loaded;
	pthread_mutex_unlock(&n->topo_mu);
	if (a.found)
		GT_LOG(GT_LOG_INFO, "cluster", "event=membership epoch=%llu "
		    "regions=%u", (unsigned long long)a.loaded.epoch,
		    a.loaded.n);
	return GT_OK;
}

void rn_cluster_get(rn_node *n, topo_members *out)
{
	pthread_mutex_lock(&n->topo_mu);
	*out = n->members;
	pthread_mutex_unlock(&n->topo_mu);
}

void rn_cluster_set_hook(rn_node *n, rn_members_hook_fn fn, void *arg)
{
	pthread_mutex_lock(&n->topo_mu);
	n->members_hook = fn;
	n->members_hook_arg = arg;
	pthread_mutex_unlock(&n->topo_mu);
}

gt_err rn_cluster_adopt_txn(rn_node *n, MDB_txn *txn, const topo_members *m,
    const rn_logrec *from, int *changed)
{
	topo_members cur;
	gt_buf img = GT_BUF_INIT;
	static const char key[] = "{\"Cluster\":true}";
	rn_logrec r;
	uint64_t seq;
	gt_err err;

	*changed = 0;
	rn_cluster_get(n, &cur);
	if (!topo_members_newer(&cur, m))
		return GT_OK;
	err = members_put(n, txn, m);
	if (err != GT_OK)
		return err;
	topo_members_json(m, &img);
	if (!gt_buf_ok(&img)) {
		gt_buf_free(&img);
		return GT_ENOMEM;
	}
	seq = rn_store_seq_next(n->store);
	memset(&r, 0, sizeof(r));
	if (from != NULL) {
		r = *from;
		r.flags |= RN_LOG_F_REPLICATED;
		r.old_img = NULL;
		r.old_len = 0;
	} else {
		r.hlc = cf_clock_now(&n->clock, gt_wall_ms());
		r.origin = n->region;
		r.origin_len = strlen(n->region);
		r.origin_seq = seq;
	}
	r.op = RN_LOG_CLUSTER;
	r.table = "-cluster-";
	r.table_len = 9;
	r.key = key;
	r.key_len = sizeof(key) - 1;
	r.new_img = img.data;
	r.new_len = img.len;
	r.meta = NULL;
	r.meta_len = 0;
	err = rn_log_put(txn, rn_store_dbs(n->store), seq, &r);
	gt_buf_free(&img);
	if (err == GT_OK)
		*changed = 1;
	return err;
}

void rn_cluster_publish(rn_node *n, const topo_members *m)
{
	rn_members_hook_fn hook;
	void *arg;

	pthread_mutex_lock(&n->topo_mu);
	if (!topo_members_newer(&n->members, m)) {
		pthread_mutex_unlock(&n->topo_mu);
		return;
	}
	n->members = *m;
	hook = n->members_hook;
	arg = n->members_hook_arg;
	pthread_mutex_unlock(&n->topo_mu);
	GT_LOG(GT_LOG_INFO, "cluster", "event=membership_changed epoch=%llu "
	    "regions=%u by=%s", (unsigned long long)m->epoch, m->n,
	    m->changed_by);
	if (hook != NULL)
		hook(arg, m);
}

/* A local change: compute, adopt, publish after commit. */
typedef struct change_arg {
	rn_node *n;
	int leave;
	topo_region join;
	char region[CF_REGION_NAME_MAX];
	topo_members out;
	int changed;
	gt_err logical;
} change_arg;

static gt_err change_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	change_arg *a = w->arg;
	topo_members cur;

	(void)s;
	rn_cluster_get(a->n, &cur);
	a->logical = a->leave ?
	    topo_members_leave(&cur, a->region, a->n->region, &a->out) :
	    topo_members_join(&cur, &a->join, a->n->region, &a->out);
	if (a->logical != GT_OK) {
		w->result = a->logical;
		return GT_OK;
	}
	return rn_cluster_adopt_txn(a->n, txn, &a->out, NULL, &a->changed);
}

static gt_err cluster_change(change_arg *a, topo_members *out)
{
	gt_err err = rn_store_write_sync(a->n->store, change_fn, a);

	if (err != GT_OK)
		return a->logical != GT_OK ? a->logical : err;
	if (a->changed)
		rn_cluster_publish(a->n, &a->out);
	rn_cluster_get(a->n, out);
	return GT_OK;
}

gt_err rn_cluster_join(rn_node *n, const topo_region *r, topo_members *out)
{
	change_arg a;

	memset(&a, 0, sizeof(a));
	a.n = n;
	a.join = *r;
	return cluster_change(&a, out);
}

gt_err rn_cluster_leave(rn_node *n, const char *region, topo_members *out)
{
	change_arg a;

	memset(&a, 0, sizeof(a));
	a.n = n;
	a.leave = 1;
	snprintf(a.region, sizeof(a.region), "%s", region);
	return cluster_change(&a, out);
}

void rn_table_rset(const rn_node *n, const rn_table *t, topo_rset *out)
{
	if (t->has_rset)
		*out = t->rset;
	else
		topo_rset_init(out, n->region);
}

gt_err rn_desc_set_rset(cJSON *desc, const topo_rset *rs)
{
	gt_buf b = GT_BUF_INIT;
	cJSON *o;

	topo_rset_json(rs, &b);
	o = gt_buf_ok(&b) ? cJSON_ParseWithLength(b.data, b.len) : NULL;
	gt_buf_free(&b);
	if (o == NULL)
		return GT_ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(desc, "ReplicaSet");
	cJSON_AddItemToObject(desc, "ReplicaSet", o);
	return GT_OK;
}
