/*
 * repl_node.h — the replication driver of a region node: the NNG transport
 * around the pure core in repl.h, applying batches through the node's
 * store (region-node/replica.h).
 *
 * Threads.  The origin side listens on a REP socket; a fixed pool of
 * workers, each with its own NNG context, answers PULLs and parks them
 * (long-poll) until a local commit or their deadline.  The follower side
 * runs one thread per peer with a REQ socket, stepping a repl_puller and
 * carrying out its actions; applying a batch is one write on the store's
 * writer thread.  A peer that is down costs its own thread retries with
 * backoff and nothing else: local writes never wait for replication.
 */
#ifndef REPL_NODE_H
#define REPL_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "gt.h"
#include "topo.h"

#define REPL_PEERS_MAX 16

typedef struct repl_node_peer {
	char region[CF_REGION_NAME_MAX];
	char url[256]; /* its replication URL */
} repl_node_peer;

typedef struct repl_node_cfg {
	const char *listen_url;  /* this node's replication URL */
	const uint8_t *key;      /* cluster key (borrowed during start) */
	size_t key_len;
	const repl_node_peer *peers; /* borrowed during start */
	size_t npeers;
	uint32_t wait_ms;        /* long-poll wait asked of peers */
	uint32_t max_bytes;      /* batch size asked of peers */
	/* Keep at most this many of our sequence numbers behind the head,
	 * even for a peer that has not acknowledged them (0: no cap).  A
	 * peer left behind must resynchronise. */
	uint64_t log_keep_max;
	uint32_t maint_interval_ms; /* how often to truncate (0: 1000) */
} repl_node_cfg;

/*
 * Shaping of one source -> destination link, applied where the data
 * arrives (the destination's follower of that source): one-way delay and
 * jitter (uniform in delay +- jitter, order kept), a loss rate (a lost
 * batch is pulled again after the puller's timeout and backoff), a
 * bandwidth cap, and partition (nothing crosses in that direction).
 */
typedef struct repl_link {
	uint32_t delay_ms;
	uint32_t jitter_ms;
	uint32_t loss_ppm;       /* parts per million: 0.5% = 5000 */
	uint32_t bandwidth_kbps; /* 0: unlimited */
	int partition;
} repl_link;

typedef struct repl_node repl_node;

/*
 * Starts serving the node's log to peers and pulling from each peer.
 * Errors: GT_EINVAL (bad URL or key), GT_EIO (cannot listen; logged),
 * GT_ENOMEM.  *out is owned by the caller (repl_node_stop).
 */
gt_err repl_node_start(rn_node *node, const repl_node_cfg *cfg,
    repl_node **out);

/*
 * Follows a new membership: links to new regions start, links to departed
 * ones stop (done by the driver's maintenance thread; safe to call from
 * the store's writer thread, e.g. as the members hook).
 */
void repl_node_set_members(repl_node *r, const topo_members *m);

/* Sets the shaping of the link from region `from` to this node.  Errors:
 * GT_ENOTFOUND when from is not a peer. */
gt_err repl_node_link_set(repl_node *r, const char *from,
    const repl_link *l);
/* {"Links": [{"From","To","DelayMs","JitterMs","LossPct",
 *   "BandwidthKbps","Partition","LostBatches","HeldBatches"}]} */
void repl_node_links_json(repl_node *r, gt_buf *out);

/* Every peer link re-reads its durable cursor and pulls from there (after
 * a backfill lowered cursors). */
void repl_node_rewind(repl_node *r);

/* Stops every thread and closes the sockets; pending applies finish. */
void repl_node_stop(repl_node *r);

/* Appends the replication metrics (Prometheus text) to out. */
void repl_node_metrics(repl_node *r, gt_buf *out);

/* Appends a JSON object describing each peer link to out. */
void repl_node_status_json(repl_node *r, gt_buf *out);

#endif /* REPL_NODE_H */
