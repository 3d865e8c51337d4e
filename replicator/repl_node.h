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

typedef struct repl_node repl_node;

/*
 * Starts serving the node's log to peers and pulling from each peer.
 * Errors: GT_EINVAL (bad URL or key), GT_EIO (cannot listen; logged),
 * GT_ENOMEM.  *out is owned by the caller (repl_node_stop).
 */
gt_err repl_node_start(rn_node *node, const repl_node_cfg *cfg,
    repl_node **out);

/* Stops every thread and closes the sockets; pending applies finish. */
void repl_node_stop(repl_node *r);

/* Appends the replication metrics (Prometheus text) to out. */
void repl_node_metrics(repl_node *r, gt_buf *out);

/* Appends a JSON object describing each peer link to out. */
void repl_node_status_json(repl_node *r, gt_buf *out);

#endif /* REPL_NODE_H */
