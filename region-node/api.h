/*
 * api.h — the DynamoDB JSON API of a region node.
 *
 * A request becomes an rn_call: the HTTP layer fills in the operation name
 * and body and a completion callback, and rn_api_dispatch runs it.  Reads
 * complete before rn_api_dispatch returns; writes complete later, on the
 * store's writer thread, after the group commit that made them durable.
 * Either way call->done is called exactly once, with call->status and
 * call->resp holding the HTTP status and JSON body.
 */
#ifndef RN_API_H
#define RN_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conflict.h"
#include "gt.h"
#include "store.h"
#include "table.h"
#include "topo.h"

/* DynamoDB's error types, as sent in "__type". */
#define RN_ERR_PREFIX "com.amazonaws.dynamodb.v20120810#"
#define RN_E_VALIDATION RN_ERR_PREFIX "ValidationException"
#define RN_E_NOT_FOUND RN_ERR_PREFIX "ResourceNotFoundException"
#define RN_E_IN_USE RN_ERR_PREFIX "ResourceInUseException"
#define RN_E_CONDITION RN_ERR_PREFIX "ConditionalCheckFailedException"
#define RN_E_LIMIT RN_ERR_PREFIX "LimitExceededException"
#define RN_E_INTERNAL RN_ERR_PREFIX "InternalServerError"
#define RN_E_TXN_CANCELED RN_ERR_PREFIX "TransactionCanceledException"
#define RN_E_SERIALIZATION "com.amazon.coral.service#SerializationException"
#define RN_E_UNKNOWN_OP "com.amazon.coral.service#UnknownOperationException"
#define RN_E_CORAL_VALIDATION "com.amazon.coral.validate#ValidationException"
#define RN_E_MISSING_AUTH "com.amazon.coral.service#MissingAuthenticationTokenException"

/* The operations, for dispatch and per-operation metrics. */
typedef enum rn_op {
	RN_OP_UNKNOWN = 0,
	RN_OP_CREATE_TABLE, RN_OP_DESCRIBE_TABLE, RN_OP_LIST_TABLES,
	RN_OP_DELETE_TABLE, RN_OP_UPDATE_TABLE,
	RN_OP_PUT_ITEM, RN_OP_GET_ITEM, RN_OP_DELETE_ITEM, RN_OP_UPDATE_ITEM,
	RN_OP_QUERY, RN_OP_SCAN, RN_OP_BATCH_GET_ITEM, RN_OP_BATCH_WRITE_ITEM,
	RN_OP_DESCRIBE_LIMITS, RN_OP_DESCRIBE_ENDPOINTS,
	RN_OP_TRANSACT_WRITE_ITEMS, RN_OP_TRANSACT_GET_ITEMS,
	/* DynamoDB Streams (X-Amz-Target DynamoDBStreams_20120810.<Op>) */
	RN_OP_LIST_STREAMS, RN_OP_DESCRIBE_STREAM, RN_OP_GET_SHARD_ITERATOR,
	RN_OP_GET_RECORDS,
	RN_OP_UPDATE_TIME_TO_LIVE, RN_OP_DESCRIBE_TIME_TO_LIVE,
	RN_OP_COUNT_
} rn_op;

const char *rn_op_name(rn_op op);

/* Per-operation counters (metrics). */
typedef struct rn_op_stats {
	_Atomic uint64_t requests;
	_Atomic uint64_t errors;   /* 4xx */
	_Atomic uint64_t faults;   /* 5xx */
	_Atomic uint64_t latency_us_sum;
} rn_op_stats;

/*
 * The region node: everything one region needs, with no globals, so tests
 * and simulations can run several in one process.
 */
typedef struct rn_node {
	char region[CF_REGION_NAME_MAX];
	char account[16];
	rn_store *store;
	rn_catalog catalog;
	cf_clock clock;      /* writer thread only */
	uint32_t next_table_id; /* writer thread only */
	int global_tables;   /* CreateTable/DeleteTable replicate (cluster) */
	char api_url[128];   /* this node's API, as peers reach it */
	/* Cluster membership (cluster.h): members is read under topo_mu
	 * anywhere and changed only on the writer thread. */
	pthread_mutex_t topo_mu;
	topo_members members;
	void (*members_hook)(void *arg, const topo_members *m);
	void *members_hook_arg;
	/* Injected faults (drills): a fraction of API requests fail, and
	 * tables whose replication is paused here. */
	_Atomic uint32_t fail_ppm;
	pthread_mutex_t pause_mu;
	struct rn_pause {
		char table[RN_TABLE_NAME_MAX + 1];
		char from[CF_REGION_NAME_MAX]; /* "" : every origin */
		uint64_t until_ms;             /* wall clock */
	} pauses[16];
	size_t npauses;
	/* Wakes the backfill worker (set by the program; may be NULL). */
	void (*backfill_kick)(void *arg);
	void *backfill_arg;
	rn_op_stats ops[RN_OP_COUNT_];
	_Atomic uint64_t bad_requests; /* unparseable before dispatch */
	/* DynamoDB Streams (stream.h): options the program may change
	 * before serving, and the shard-iterator key rn_node_open loads. */
	struct rn_stream_opts {
		uint32_t retention_s;    /* records kept this long (86400) */
		uint32_t iterator_ttl_s; /* shard iterators expire (900) */
		uint8_t key[32];         /* HMAC-SHA256 key of iterators */
		_Atomic uint32_t reads;  /* GetRecords calls running */
	} streams;
	/* The TTL sweeper's counters (ttl.h), for metrics. */
	_Atomic uint64_t ttl_deleted; /* expired items this region deleted */
	_Atomic uint64_t ttl_pending; /* expired items left at the last round */
} rn_node;

/*
 * Opens the node's store and catalog.  region is copied.  Errors: those of
 * rn_store_open, GT_ECORRUPT for an unreadable catalog.
 */
gt_err rn_node_open(rn_node *n, const char *region,
    const rn_store_opts *store_opts);
void rn_node_close(rn_node *n);

typedef struct rn_call rn_call;
typedef void (*rn_call_done_fn)(rn_call *c);

struct rn_call {
	rn_node *node;
	rn_op op;
	const char *body;  /* borrowed until done */
	size_t body_len;
	int status;        /* HTTP status of the answer */
	gt_buf resp;       /* JSON body of the answer */
	rn_call_done_fn done;
	void *arg;         /* the HTTP layer's */
	uint64_t start_ns;
	/* Private to the API. */
	rn_write write;
	void *state;
	void (*state_free)(void *state);
};

/* Looks up an operation by its X-Amz-Target suffix. */
rn_op rn_op_lookup(const char *name, size_t len);

/*
 * Runs the call.  target is the X-Amz-Target header (NULL if absent).  The
 * call (and body) must stay alive until done is called; done may run on
 * this thread before rn_api_dispatch returns or on the writer thread.
 */
void rn_api_dispatch(rn_call *c, const char *target);

/* Is replication of table (from origin) paused here now? */
int rn_node_paused(rn_node *n, const char *table, size_t table_len,
    const char *origin, uint64_t now_ms);
/* Pauses replication of table from `from` ("" or NULL: every origin) for
 * duration_ms.  Errors: GT_ELIMIT (too many pauses at once). */
gt_err rn_node_pause(rn_node *n, const char *table, const char *from,
    uint64_t duration_ms);
/* 1 while some pause has not expired, or held records wait. */
int rn_node_any_pause(rn_node *n, uint64_t now_ms);

/* Releases what the API attached to the call (not the call itself). */
void rn_call_cleanup(rn_call *c);

/* Sets an error answer: status, DynamoDB __type and message. */
void rn_call_error(rn_call *c, int status, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* RN_API_H */
