/*
 * stream.h — DynamoDB Streams on every replica.
 *
 * A stream is a view of the node's change log (changelog.h): the item
 * records (PUT, DELETE) of one table, by its local table id, with log
 * sequence numbers in the stream's range.  Nothing is copied: the log
 * already holds every change the node's tables saw, local and replicated,
 * committed with the change, with this replica's own old image.
 *
 * Rules:
 *  1. A stream is opened and closed only inside the transaction that
 *     changes its table's descriptor (rn_stream_table, called from
 *     rn_derived_table), on every replica alike.  Its range starts past
 *     the last sequence number assigned before it opened and ends at the
 *     last one assigned before it closed, so a write belongs to a stream
 *     exactly when it committed while the stream was open.
 *  2. A stream has one shard for its whole life.  Sequence numbers are
 *     log sequence numbers, written as 21 decimal digits.
 *  3. A closed stream (disabled, or its table dropped) stays listed and
 *     readable, as DISABLED, until stream_retention_s has passed since it
 *     closed; then it is forgotten, as DynamoDB deletes a disabled stream
 *     after 24 hours.
 *  4. While any stream exists, log retention keeps every record younger
 *     than stream_retention_s (measured on the record's hybrid timestamp)
 *     unless log_keep_max forces it out; a position at or below the log's
 *     floor ("log_floor") is trimmed.
 *  5. A shard iterator is opaque and authenticated (HMAC-SHA256 under a
 *     key the node makes once, meta "stream_key"); it names the stream,
 *     its shard, the next sequence number to read and when it was issued,
 *     and expires after stream_iterator_ttl_s.
 *
 * The stream record layout is in store.h ("streams").
 */
#ifndef RN_STREAM_H
#define RN_STREAM_H

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "changelog.h"
#include "gt.h"

/* Streams' own error types (the service shares DynamoDB's namespace). */
#define RN_E_EXPIRED_ITERATOR RN_ERR_PREFIX "ExpiredIteratorException"
#define RN_E_TRIMMED RN_ERR_PREFIX "TrimmedDataAccessException"

#define RN_STREAM_SEQ_LEN 21         /* digits of a sequence number */
#define RN_STREAM_LABEL_MAX 40
#define RN_STREAM_KEY_LEN 32         /* the iterator key */
#define RN_STREAM_SHARD_ID_LEN 37    /* "shardId-" 20 digits "-" 8 hex */
#define RN_STREAM_KEYSCHEMA_MAX 1024
#define RN_STREAM_SCAN_MAX 10000u    /* log records one GetRecords reads */
#define RN_STREAM_RECORDS_MAX 1000   /* GetRecords Limit */
#define RN_STREAM_WALK_MAX 100000u   /* log records a retention round reads */
#define RN_STREAM_RETENTION_S_DEFAULT 86400u
#define RN_STREAM_ITERATOR_TTL_S_DEFAULT 900u

/* StreamViewType. */
enum {
	RN_SVT_NONE = 0,
	RN_SVT_KEYS_ONLY = 1,
	RN_SVT_NEW_IMAGE = 2,
	RN_SVT_OLD_IMAGE = 3,
	RN_SVT_NEW_AND_OLD_IMAGES = 4
};

/* RN_SVT_* of a view type name, RN_SVT_NONE when s is not one (or NULL). */
int rn_stream_view_parse(const char *s);
/* The name of an RN_SVT_* value (static), "" for an unknown one. */
const char *rn_stream_view_name(int view);

/* A stream record, decoded (store.h, database "streams"). */
typedef struct rn_stream {
	uint32_t table_id;
	char label[RN_STREAM_LABEL_MAX + 1];
	int view;               /* RN_SVT_* */
	int closed;
	uint64_t start_seq;     /* first log seq that can belong */
	uint64_t end_seq;       /* closed: last log seq that can belong */
	uint64_t created_ms, closed_ms;
	char table[RN_TABLE_NAME_MAX + 1];
	char key_schema[RN_STREAM_KEYSCHEMA_MAX]; /* KeySchema JSON */
} rn_stream;

/* Appends the LMDB key and value of st to key and val (their oom flags
 * report failure). */
void rn_stream_encode(const rn_stream *st, gt_buf *key, gt_buf *val);
/* Errors: GT_ECORRUPT. */
gt_err rn_stream_decode(const void *key, size_t key_len, const void *val,
    size_t val_len, rn_stream *out);

/* Writes seq as RN_STREAM_SEQ_LEN zero-padded digits and a NUL. */
void rn_stream_seq_format(uint64_t seq, char out[RN_STREAM_SEQ_LEN + 1]);
/* Parses a sequence number: 21..40 decimal digits with a value that fits
 * 64 bits.  Errors: GT_EINVAL. */
gt_err rn_stream_seq_parse(const char *s, uint64_t *out);

/* The id of st's one shard and a NUL. */
void rn_stream_shard_id(const rn_stream *st,
    char out[RN_STREAM_SHARD_ID_LEN + 1]);

/* Appends "arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>"
 * to out. */
void rn_stream_arn(const char *region, const char *account,
    const rn_stream *st, gt_buf *out);

/* A stream ARN, taken apart. */
typedef struct rn_stream_arn_parts {
	char region[CF_REGION_NAME_MAX];
	char account[16];
	char table[RN_TABLE_NAME_MAX + 1];
	char label[RN_STREAM_LABEL_MAX + 1];
} rn_stream_arn_parts;

/* Splits a stream ARN.  Errors: GT_EINVAL (not a stream ARN). */
gt_err rn_stream_arn_parse(const char *arn, rn_stream_arn_parts *out);

/* What a shard iterator carries. */
typedef struct rn_stream_iter {
	uint32_t table_id;
	char label[RN_STREAM_LABEL_MAX + 1];
	uint64_t shard;      /* the stream's start_seq: names its shard */
	uint64_t pos;        /* the next log seq to read */
	uint64_t issued_ms;  /* wall clock */
} rn_stream_iter;

/* Appends the iterator's text (base64 of its fields and their
 * HMAC-SHA256 under key) to out. */
void rn_stream_iter_encode(const uint8_t key[RN_STREAM_KEY_LEN],
    const rn_stream_iter *it, gt_buf *out);

/* 1 when an iterator issued at it->issued_ms has expired at now_ms. */
int rn_stream_iter_expired(const rn_stream_iter *it, uint64_t now_ms,
    uint64_t ttl_ms);

/*
 * Checks and decodes an iterator's text (n bytes at s).  Errors:
 * GT_EINVAL (malformed, or made with another key or altered),
 * GT_ETIMEOUT (issued more than ttl_ms before now_ms).
 */
gt_err rn_stream_iter_decode(const uint8_t key[RN_STREAM_KEY_LEN],
    const char *s, size_t n, uint64_t now_ms, uint64_t ttl_ms,
    rn_stream_iter *out);

/*
 * Appends the Streams record of change record r (log seq seq) as a stream
 * of view type view shows it; region is this node's (it makes eventID
 * unique).  Sets *skip, appending nothing, when r is no stream record: a
 * table or cluster record, or a delete that removed nothing here.
 * Errors: GT_ECORRUPT (an image or key is not JSON), GT_ENOMEM; out may
 * hold part of the record then.
 */
gt_err rn_stream_record_render(const rn_logrec *r, uint64_t seq, int view,
    const char *region, gt_buf *out, int *skip);

/* ------------------------------------------------------- the node's side */

/*
 * At node open: loads (or makes, once) the iterator key into
 * n->streams.key, and opens a stream for any table whose descriptor has
 * one enabled but no stream record (a store written before streams were
 * recorded).  Errors: LMDB errors, GT_EIO (no randomness).
 */
gt_err rn_stream_init(rn_node *n);

/*
 * A table descriptor changes inside txn (writer thread; see
 * rn_derived_table): closes old's stream when new_ no longer has it
 * (disabled, replaced by a new stream, or the table dropped: new_ NULL)
 * and opens new_'s when old did not have it (old NULL: created).
 * Errors: GT_ENOMEM, LMDB errors; the caller aborts the group.
 */
gt_err rn_stream_table(rn_node *n, MDB_txn *txn, const rn_table *old,
    const rn_table *new_);

/* The log's floor (meta "log_floor"): it holds no record <= this. */
uint64_t rn_stream_log_floor(MDB_txn *txn, const rn_dbs *dbs);

/* Reads the stream (table_id, label).  Errors: GT_ENOTFOUND,
 * GT_ECORRUPT, LMDB errors. */
gt_err rn_stream_get(MDB_txn *txn, const rn_dbs *dbs, uint32_t table_id,
    const char *label, rn_stream *out);

/*
 * What log retention must keep for streams at now_ms: *any is 1 when the
 * node has a stream (open or closed), and then every record with seq >
 * *keep_above must stay (rule 4).  Walks at most walk_max records from
 * the log's first.  Errors: LMDB errors.
 */
gt_err rn_stream_retention(rn_node *n, uint64_t now_ms, size_t walk_max,
    int *any, uint64_t *keep_above);

/* Forgets closed streams past retention (rule 3).  Errors: LMDB errors. */
gt_err rn_stream_gc(rn_node *n, uint64_t now_ms);

/*
 * The streams housekeeper: a thread that forgets expired streams every
 * second and, when trim_log is set (a node with no replicator, whose log
 * nothing else truncates), trims the log to what streams still need.
 * Errors: GT_ENOMEM.  *out is owned by the caller: rn_stream_keeper_stop.
 */
typedef struct rn_stream_keeper rn_stream_keeper;
gt_err rn_stream_keeper_start(rn_node *n, int trim_log,
    rn_stream_keeper **out);
void rn_stream_keeper_stop(rn_stream_keeper *k);

/* The Streams API (api_stream.c): ListStreams, DescribeStream,
 * GetShardIterator, GetRecords.  Each completes the call. */
void rn_op_list_streams(rn_call *c, cJSON *req);
void rn_op_describe_stream(rn_call *c, cJSON *req);
void rn_op_get_shard_iterator(rn_call *c, cJSON *req);
void rn_op_get_records(rn_call *c, cJSON *req);

#endif /* RN_STREAM_H */
