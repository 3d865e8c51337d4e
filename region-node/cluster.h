/*
 * cluster.h — the region node's view of cluster membership and its replica
 * sets: persistence, changes through the change log, and the hook that
 * lets replication follow membership changes.  The decisions themselves
 * are the topology core's (topology/topo.h).
 */
#ifndef RN_CLUSTER_H
#define RN_CLUSTER_H

#include "api.h"
#include "changelog.h"
#include "topo.h"

/*
 * Loads the persisted membership (meta "cluster"), or, when there is none,
 * takes initial (the config's regions, epoch 1) and persists it.  initial
 * may be NULL for a node without a cluster.
 */
gt_err rn_cluster_open(rn_node *n, const topo_members *initial);

/* A copy of the current membership. */
void rn_cluster_get(rn_node *n, topo_members *out);

/* Called on the writer thread after a commit changed the membership. */
typedef void (*rn_members_hook_fn)(void *arg, const topo_members *m);
void rn_cluster_set_hook(rn_node *n, rn_members_hook_fn fn, void *arg);

/*
 * Adopts membership m inside a write transaction if it is newer than the
 * current one: persists it and appends a CLUSTER change record (a local one
 * when from is NULL, else a replicated copy of from).  *changed tells
 * whether it was adopted; the caller publishes it after the commit with
 * rn_cluster_publish.  Writer thread only.
 */
gt_err rn_cluster_adopt_txn(rn_node *n, MDB_txn *txn, const topo_members *m,
    const rn_logrec *from, int *changed);
void rn_cluster_publish(rn_node *n, const topo_members *m);

/* Joins or removes a region, made by this node (synchronous write). */
gt_err rn_cluster_join(rn_node *n, const topo_region *r, topo_members *out);
gt_err rn_cluster_leave(rn_node *n, const char *region, topo_members *out);

/* The replica set of a table descriptor ("ReplicaSet"); a table without
 * one is regional: just the node's own region. */
void rn_table_rset(const rn_node *n, const rn_table *t, topo_rset *out);

/* Stores rs into desc's "ReplicaSet" (replacing it).  Errors: GT_ENOMEM. */
gt_err rn_desc_set_rset(cJSON *desc, const topo_rset *rs);

#endif /* RN_CLUSTER_H */
