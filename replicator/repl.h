/*
 * repl.h — the replicator's pure parts (DESIGN.md sections 3, 4 and 7): the
 * replication frames on the wire, the follower's puller state machine, the
 * origin's answer to a pull, and change-log retention.
 *
 * Prefix: repl_.  Nothing here does I/O, reads a clock, sleeps or keeps
 * global state: time and randomness come in as arguments, so the same code
 * runs under the NNG/LMDB driver and in the single-threaded simulator
 * (tests/sim/sim_repl.c).  Only the frame functions allocate, and only by
 * growing a caller's gt_buf.
 *
 * The protocol, in one paragraph.  Full mesh, pull with long-poll; each
 * region ships only the changes it originated.  Follower F keeps, durably,
 * cursor[O] = the last origin seq of region O it has applied, and sends O a
 * PULL{after_seq = cursor[O], max_bytes, wait_ms}.  O answers with a BATCH
 * of the records it originated with origin_seq > after_seq, in ascending
 * order, plus its head seq and clock; when it has none it parks the pull up
 * to wait_ms and answers as soon as it commits one, or with an empty BATCH
 * at the deadline.  When O's log no longer holds after_seq + 1 the BATCH
 * carries REPL_BATCH_F_RESYNC and F must backfill.  F applies a batch in
 * ONE transaction that also sets cursor[O] to the batch's last origin_seq;
 * the next PULL's after_seq is the acknowledgement (O records acked[F]),
 * which drives log truncation, tombstone GC and PendingReplicationCount.
 * A redelivered batch is harmless: records at or below the cursor are
 * skipped and cf_resolve drops duplicates anyway.
 *
 * Sequence numbers.  An origin seq is the local log seq the origin gave the
 * record (the region node sets origin_seq = seq and vv[self] = seq for its
 * own writes), so one origin's seqs are increasing but have gaps where its
 * log holds replicated records.  head_seq is the seq of the latest record
 * the region ORIGINATED (not the latest log seq); with head = latest log
 * seq an origin would answer "records available" forever for a follower
 * that has them all.
 */
#ifndef REPL_H
#define REPL_H

#include <stddef.h>
#include <stdint.h>

#include "conflict.h"
#include "gt.h"

/* ================================================================ limits */

#define REPL_FRAME_MAGIC "MRDN"
#define REPL_FRAME_VERSION 1u
#define REPL_FRAME_HDR_LEN 12u     /* magic, version, type, flags, length */
#define REPL_FRAME_MAC_LEN 32u     /* HMAC-SHA256 */
#define REPL_FRAME_OVERHEAD (REPL_FRAME_HDR_LEN + REPL_FRAME_MAC_LEN)
#define REPL_FRAME_MAX (4u << 20)  /* whole frame, header and MAC included */
#define REPL_FRAME_MIN_BATCH 4096u /* smallest batch size an origin honours */
#define REPL_BATCH_RECORDS_MAX 4096u
#define REPL_TABLE_NAME_MAX 255u
#define REPL_KEY_JSON_MAX (16u << 10)  /* an item key as DynamoDB JSON */
/*
 * An item image as JSON: 400 KB of item with JSON escaping can grow to
 * about six times that; 3 MiB keeps the largest record under one frame,
 * so a record is never too big to ship (checked at compile time).
 */
#define REPL_IMAGE_MAX (3u << 20)
#define REPL_ERROR_MSG_MAX 256u
#define REPL_WAIT_MAX_MS 60000u    /* longest long-poll a PULL may ask for */
#define REPL_KEY_LEN_MIN 16u       /* cluster key length bounds, bytes */
#define REPL_KEY_LEN_MAX 64u

/* ================================================================ frames */

/*
 * Every frame, format version 1, all integers big-endian, no padding:
 *
 *   offset  size  field
 *   ------  ----  ----------------------------------------------------
 *   0       4     magic "MRDN" (0x4d 0x52 0x44 0x4e)
 *   4       1     format version, 0x01
 *   5       1     type: 1 PULL, 2 BATCH, 3 ERROR
 *   6       2     flags, per type; bits not defined for the type must be 0
 *                   BATCH: bit 0 RESYNC_REQUIRED
 *   8       4     B = body length; 12 + B + 32 <= REPL_FRAME_MAX
 *   12      B     body, per type (below)
 *   12+B    32    HMAC-SHA256 under the cluster key of bytes 0 .. 12+B-1
 *
 * A frame is exactly 12 + B + 32 bytes: trailing or missing bytes are
 * rejected.  Decoding checks the framing (length, magic, version; else
 * GT_ECORRUPT), then the MAC (else GT_EAUTH, compared in constant time),
 * and only then parses the body, which must follow every rule below and
 * end exactly at the MAC (else GT_ECORRUPT).  Names are 1..31 bytes of
 * 0x21..0x7e (cf_region_name_valid).
 *
 * PULL body (type 1), follower -> origin:
 *   1     F = follower region name length; F bytes: the name
 *   1     T = addressed origin name length; T bytes: the name
 *   8     pull_id, >= 1: echoed in the answer, to match it to the request
 *   8     after_seq: the follower's cursor for this origin (0: nothing yet)
 *   8     topo_epoch: the follower's topology epoch (0: unknown)
 *   8     ack_seq, <= after_seq: what the follower has durably applied.
 *         It trails after_seq on a shaped link, whose received batches
 *         wait before they are applied; retention waits for ack_seq
 *   4     max_bytes: the largest BATCH frame the follower wants
 *   4     wait_ms, <= REPL_WAIT_MAX_MS: how long the origin may park it
 *
 * BATCH body (type 2), origin -> follower:
 *   1     O = origin name length; O bytes: the name
 *   8     pull_id: the answered PULL's
 *   8     after_seq: the answered PULL's
 *   8     head_seq: latest seq the origin originated, at answer time
 *   8     trunc_seq, <= head_seq: the origin's log holds no seq <= it
 *   8     origin_hlc: the origin's clock at answer time (lag metrics)
 *   4     N = record count, <= REPL_BATCH_RECORDS_MAX; 0 with RESYNC
 *   N records, each:
 *     8   origin_seq: > after_seq, <= head_seq, strictly ascending
 *     1   op: 1 PUT, 2 DELETE, 3 TABLE_CREATE, 4 TABLE_DELETE,
 *           5 TABLE_UPDATE (a new replica set), 6 CLUSTER (a new
 *           membership) (the values of RN_LOG_* in changelog.h)
 *     1   flags: bit 1 SERVICE (a TTL delete); other bits 0
 *     8   hlc, >= 1
 *     1   T = table name length, 1..255; T bytes
 *     4   K = key JSON length, 1..REPL_KEY_JSON_MAX; K bytes
 *     4   I = new image JSON length, 0..REPL_IMAGE_MAX; I bytes.
 *           PUT: I >= 1; DELETE: I = 0; table ops: the descriptor (any)
 *     2   M = meta length; M bytes: cf_meta encoding (conflict.h).
 *           PUT/DELETE: M >= 1 and the meta must decode to exactly M
 *           bytes, with tombstone = (op == DELETE), stamp.hlc = hlc,
 *           stamp.origin = the batch's origin and vv[origin] =
 *           origin_seq.  Control records (ops 3..6): M = 0.
 *
 * ERROR body (type 3), origin -> follower, instead of a BATCH:
 *   2     code, one of repl_errcode (1..REPL_ERR_COUNT_-1)
 *   1     O = answering region name length; O bytes: the name
 *   8     pull_id: the answered PULL's (0 when it could not be read)
 *   2     L = message length, 0..REPL_ERROR_MSG_MAX; L bytes 0x20..0x7e
 */
enum {
	REPL_FRAME_PULL = 1,
	REPL_FRAME_BATCH = 2,
	REPL_FRAME_ERROR = 3
};

#define REPL_BATCH_F_RESYNC 0x0001u

enum {
	REPL_OP_PUT = 1,
	REPL_OP_DELETE = 2,
	REPL_OP_TABLE_CREATE = 3,
	REPL_OP_TABLE_DELETE = 4,
	REPL_OP_TABLE_UPDATE = 5,
	REPL_OP_CLUSTER = 6
};

#define REPL_REC_F_SERVICE 0x02u

typedef enum repl_errcode {
	REPL_ERR_NOT_MEMBER = 1,   /* the follower is not in the cluster */
	REPL_ERR_WRONG_ORIGIN = 2, /* the PULL was meant for another region */
	REPL_ERR_BAD_REQUEST = 3,  /* the PULL did not decode or authenticate */
	REPL_ERR_BUSY = 4,         /* too many parked pulls; retry later */
	REPL_ERR_INTERNAL = 5,     /* the origin failed to read its log */
	REPL_ERR_COUNT_
} repl_errcode;

/*
 * repl_key is the cluster key for frame MACs.  repl_key_init copies the
 * n bytes at p (borrowed) and fetches the HMAC implementation once.  The
 * key may then be shared by any number of threads for encode and decode
 * (they only read it).  Errors: GT_EINVAL when n is outside
 * [REPL_KEY_LEN_MIN, REPL_KEY_LEN_MAX] or p is NULL; GT_ENOMEM when
 * OpenSSL cannot provide HMAC-SHA256.  k is untouched on error.
 * repl_key_free releases it (safe on a zeroed or freed key).
 */
typedef struct repl_key {
	uint8_t bytes[REPL_KEY_LEN_MAX];
	size_t len;
	void *mac; /* EVP_MAC *, owned */
} repl_key;

gt_err repl_key_init(repl_key *k, const uint8_t *p, size_t n);
void repl_key_free(repl_key *k);

/*
 * repl_frame_peek reads the type of the frame at f (n bytes, borrowed)
 * without authenticating it, so a receiver can pick the decoder.  Errors:
 * GT_ECORRUPT when the framing (size, magic, version, length) is wrong.
 * *type is untouched on error.
 */
gt_err repl_frame_peek(const uint8_t *f, size_t n, uint8_t *type);

/* ------------------------------------------------------------------ PULL */

typedef struct repl_pull {
	char from[CF_REGION_NAME_MAX]; /* follower, NUL-terminated */
	char to[CF_REGION_NAME_MAX];   /* origin addressed, NUL-terminated */
	uint64_t pull_id;
	uint64_t after_seq;
	uint64_t topo_epoch;
	uint64_t ack_seq;   /* durably applied, <= after_seq */
	uint32_t max_bytes;
	uint32_t wait_ms;
} repl_pull;

/*
 * repl_pull_encode appends the PULL frame for p (borrowed) to out
 * (borrowed; on error out has its old length back, or is in its oom
 * state).  Errors: GT_EINVAL for an invalid name, pull_id 0 or wait_ms
 * above REPL_WAIT_MAX_MS; GT_ENOMEM.
 */
gt_err repl_pull_encode(const repl_pull *p, const repl_key *key,
    gt_buf *out);

/*
 * repl_pull_decode decodes and authenticates the n-byte frame at f
 * (borrowed) into *out (all fields copied).  Errors: GT_ECORRUPT
 * (malformed, or not a PULL), GT_EAUTH (MAC mismatch), GT_EINVAL (key or
 * out NULL), GT_ENOMEM (OpenSSL could not compute the MAC).  out untouched
 * on error.  The same errors apply to the other decoders.
 */
gt_err repl_pull_decode(const uint8_t *f, size_t n, const repl_key *key,
    repl_pull *out);

/* ----------------------------------------------------------------- BATCH */

/* One record of a batch.  Byte fields are borrowed (see each function). */
typedef struct repl_rec {
	uint64_t origin_seq;
	uint64_t hlc;
	uint8_t op;    /* REPL_OP_* */
	uint8_t flags; /* REPL_REC_F_* */
	const char *table; size_t table_len;
	const char *key; size_t key_len;
	const char *image; size_t image_len;   /* new image; 0 for DELETE */
	const uint8_t *meta; size_t meta_len;  /* cf_meta; 0 for table ops */
} repl_rec;

/*
 * The header of a batch: what the puller needs to decide (it carries no
 * record bytes, so it can be copied into an event).
 */
typedef struct repl_batch_info {
	uint64_t pull_id;
	uint64_t after_seq;
	uint64_t head_seq;
	uint64_t trunc_seq;
	uint64_t origin_hlc;
	uint16_t flags;    /* REPL_BATCH_F_* */
	uint32_t count;    /* records in the batch */
	uint64_t last_seq; /* origin_seq of the last record; 0 when none */
} repl_batch_info;

/*
 * repl_batch_enc builds a BATCH frame record by record, straight from the
 * origin's log cursor, into a caller's gt_buf.  Usage:
 *
 *   repl_batch_enc e;
 *   repl_batch_enc_begin(&e, &buf, self, &info, answer.max_bytes);
 *   for each own log record with seq > after_seq, ascending:
 *       err = repl_batch_enc_add(&e, &rec);
 *       if (err == GT_ELIMIT) break;        (the batch is full)
 *       if (err != GT_OK) fail;
 *   repl_batch_enc_finish(&e, &key);
 *
 * Of info, begin uses pull_id, after_seq, head_seq, trunc_seq, origin_hlc
 * and flags; count and last_seq are computed.  All fields are private.
 */
typedef struct repl_batch_enc {
	gt_buf *out;
	size_t start;      /* offset of the frame in out */
	size_t count_off;  /* offset of the record count in out */
	size_t max_bytes;  /* frame size the batch should stay within */
	uint32_t count;
	uint64_t after_seq, head_seq, last_seq;
	char origin[CF_REGION_NAME_MAX];
	int resync;
	gt_err err;        /* sticky: the first non-ELIMIT failure */
} repl_batch_enc;

/*
 * repl_batch_enc_begin starts a BATCH frame from origin (borrowed) at the
 * end of out (borrowed until finish).  max_bytes is the frame size to
 * stay within; it is raised to REPL_FRAME_MIN_BATCH and capped at
 * REPL_FRAME_MAX.  Errors: GT_EINVAL (invalid origin, trunc_seq >
 * head_seq, unknown flags), GT_ENOMEM; on error out is unchanged (or
 * oom) and the encoder is unusable.
 */
gt_err repl_batch_enc_begin(repl_batch_enc *e, gt_buf *out,
    const char *origin, const repl_batch_info *info, size_t max_bytes);

/*
 * repl_batch_enc_add appends r (borrowed; bytes copied).  The first record
 * is always accepted when it fits REPL_FRAME_MAX (every valid record
 * does), so one large record never stalls replication; later ones must
 * keep the frame within max_bytes.  Errors: GT_ELIMIT when the batch is
 * full (bytes, REPL_BATCH_RECORDS_MAX, or a RESYNC batch): r was not
 * added, the batch is still good to finish; GT_EINVAL when r breaks a rule
 * of the format (the encoder produces nothing the decoder rejects);
 * GT_ENOMEM.  After EINVAL/ENOMEM, finish fails too.
 */
gt_err repl_batch_enc_add(repl_batch_enc *e, const repl_rec *r);

/*
 * repl_batch_enc_finish writes the count and length and appends the MAC.
 * On success out holds the complete frame from its old length on.
 * Errors: the sticky error of begin/add (GT_EINVAL, GT_ENOMEM); on error
 * out is truncated back to where begin found it.
 */
gt_err repl_batch_enc_finish(repl_batch_enc *e, const repl_key *key);

/*
 * A decoded BATCH.  info, origin are copies; the record bytes stay in the
 * frame (borrowed: valid while the frame bytes are, unmodified).  Read the
 * records with repl_batch_next.
 */
typedef struct repl_batch {
	repl_batch_info info;
	char origin[CF_REGION_NAME_MAX];
	const uint8_t *next; /* private iterator state */
	size_t left;
	uint32_t remaining;
} repl_batch;

/*
 * repl_batch_decode authenticates the n-byte frame at f (borrowed) and
 * checks every record against every rule of the format, including each
 * meta (so the apply loop cannot meet a malformed record halfway), then
 * fills *out.  Errors: GT_ECORRUPT (malformed, not a BATCH), GT_EAUTH;
 * out untouched on error.
 */
gt_err repl_batch_decode(const uint8_t *f, size_t n, const repl_key *key,
    repl_batch *out);

/*
 * repl_batch_next sets *rec to the next record (byte fields point into
 * the frame) and returns 1, or returns 0 after the last.  Records come in
 * ascending origin_seq.  For PUT/DELETE, cf_meta_decode(rec->meta,
 * rec->meta_len, &ver, NULL) is guaranteed to succeed.
 */
int repl_batch_next(repl_batch *b, repl_rec *rec);

/* ----------------------------------------------------------------- ERROR */

typedef struct repl_error {
	uint16_t code; /* repl_errcode */
	char origin[CF_REGION_NAME_MAX];
	uint64_t pull_id;
	char msg[REPL_ERROR_MSG_MAX + 1]; /* NUL-terminated copy */
} repl_error;

/*
 * repl_error_encode appends an ERROR frame answering pull_id to out.
 * msg (borrowed, may be NULL) is cut to REPL_ERROR_MSG_MAX bytes and
 * bytes outside 0x20..0x7e become '?'.  Errors: GT_EINVAL (unknown code,
 * invalid origin name), GT_ENOMEM; out as for repl_pull_encode.
 */
gt_err repl_error_encode(uint16_t code, const char *origin,
    uint64_t pull_id, const char *msg, const repl_key *key, gt_buf *out);

/* Errors: GT_ECORRUPT, GT_EAUTH; out untouched on error. */
gt_err repl_error_decode(const uint8_t *f, size_t n, const repl_key *key,
    repl_error *out);

/* ======================================================== puller (core) */

/*
 * One puller per (follower, origin) pair, run by the follower.  It never
 * blocks: each event goes through repl_puller_step, which returns the one
 * action the driver must take.  States (the transition list is at the top
 * of repl_core.c):
 */
typedef enum repl_pstate {
	/* Not started, or stopped.  Nothing in flight, no timer.  Answers to
	 * earlier requests are ignored. */
	REPL_PS_IDLE = 0,
	/* One PULL (id pull_id, after_seq = cursor) is in flight; the timer
	 * is its deadline (now + wait_ms + rpc_slack_ms).  Only a BATCH or
	 * ERROR carrying this pull_id is taken; anything else is stale. */
	REPL_PS_PULLING,
	/* A batch with records after the cursor was handed to the driver for
	 * apply; waiting for APPLIED or APPLY_FAILED.  No timer: apply is
	 * local and always ends. */
	REPL_PS_APPLYING,
	/* Waiting for the timer before the next PULL: after an error
	 * (exponential backoff with jitter) or, without counting a failure,
	 * after an empty answer that came back sooner than idle_min_ms (an
	 * origin that does not park must not make us spin). */
	REPL_PS_BACKOFF,
	/* The origin's log no longer holds cursor + 1.  Parked until the
	 * driver has backfilled and reports RESYNCED with the new cursor. */
	REPL_PS_RESYNC,
	REPL_PS_COUNT_
} repl_pstate;

typedef enum repl_event_kind {
	REPL_EV_START = 1, /* cursor: the durable cursor[O]; pull_id: a seed
			    * for request ids (random, so answers to an
			    * earlier incarnation's requests cannot match) */
	REPL_EV_BATCH,     /* batch: the decoded BATCH header (the driver
			    * first checks that repl_batch.origin is this
			    * puller's origin; else it reports ERROR) */
	REPL_EV_ERROR,     /* pull_id: the request that failed; err: why
			    * (transport error, ERROR frame, undecodable
			    * answer, timeout); rnd: jitter */
	REPL_EV_APPLIED,   /* cursor: the cursor committed with the batch */
	REPL_EV_APPLY_FAILED, /* err; rnd: jitter */
	REPL_EV_TIMER,     /* the puller's timer fired (early firings and
			    * stale timers are ignored) */
	REPL_EV_RESYNCED,  /* cursor: the cursor the backfill established */
	REPL_EV_STOP       /* back to IDLE; in-flight answers become stale */
} repl_event_kind;

typedef struct repl_event {
	repl_event_kind kind;
	uint64_t now_ms;        /* the driver's monotonic clock, ms */
	uint64_t pull_id;
	uint64_t cursor;
	repl_batch_info batch;
	gt_err err;
	uint32_t rnd;           /* uniformly random (driver's source) */
} repl_event;

typedef enum repl_action_kind {
	REPL_ACT_NONE = 0,  /* nothing to do (the event may have been stale) */
	/* Send PULL{pull_id, after_seq, max_bytes, wait_ms} to the origin.
	 * If no answer came by timer_at_ms, the TIMER event times it out;
	 * the driver may also set its transport timeout to timer_at_ms. */
	REPL_ACT_SEND_PULL,
	/* Apply the batch just delivered, in ONE transaction: skip records
	 * with origin_seq <= after_seq (the cursor), cf_clock_recv every
	 * record's hlc, cf_resolve each, append replicated log records, set
	 * cursor[O] = max(cursor, batch last_seq) in the same transaction.
	 * Then report APPLIED(cursor) or APPLY_FAILED. */
	REPL_ACT_APPLY,
	/* The origin truncated past our cursor: backfill from a replica that
	 * has the data (the topology module), then report RESYNCED. */
	REPL_ACT_RESYNC
} repl_action_kind;

typedef struct repl_action {
	repl_action_kind kind;
	uint64_t pull_id;   /* SEND_PULL */
	uint64_t after_seq; /* SEND_PULL, APPLY: the cursor */
	uint32_t max_bytes; /* SEND_PULL */
	uint32_t wait_ms;   /* SEND_PULL */
	/*
	 * Every action carries the puller's one timer: 0 means no timer,
	 * otherwise deliver TIMER at (or after) this time.  It replaces any
	 * timer armed before; re-arming the same value is harmless.
	 */
	uint64_t timer_at_ms;
} repl_action;

typedef struct repl_puller_cfg {
	uint32_t max_bytes;      /* BATCH size asked for */
	uint32_t wait_ms;        /* long-poll time asked for */
	uint32_t rpc_slack_ms;   /* deadline = send + wait_ms + slack */
	uint32_t backoff_min_ms; /* first retry delay */
	uint32_t backoff_max_ms; /* cap on the retry delay */
	uint32_t idle_min_ms;    /* minimum time between two empty answers */
} repl_puller_cfg;

/* Defaults: 1 MiB, 5000 ms, 2000 ms, 50 ms, 2000 ms, 20 ms. */
void repl_puller_cfg_default(repl_puller_cfg *cfg);

typedef struct repl_puller {
	repl_puller_cfg cfg;
	repl_pstate state;
	uint64_t cursor;       /* last applied origin seq (durable copy) */
	uint64_t pull_id;      /* PULLING: the request in flight */
	uint64_t next_id;      /* id of the next request */
	uint64_t sent_ms;      /* PULLING: when it was sent */
	uint64_t timer_at_ms;  /* 0: none */
	uint64_t apply_to;     /* APPLYING: the batch's last_seq */
	uint32_t failures;     /* consecutive failures (backoff exponent) */
	uint32_t backoff_ms;   /* the last backoff base delay */
	gt_err last_err;       /* GT_OK after a success */
	/* What the origin last told us (metrics: lag, pending). */
	uint64_t head_seq;
	uint64_t origin_hlc;
	uint64_t last_ok_ms;   /* time of the last good answer */
	uint64_t stale;        /* events ignored as stale (counter) */
	uint64_t now_ms;       /* the latest event time seen */
} repl_puller;

/*
 * repl_puller_init sets p to IDLE with a copy of cfg (borrowed).  Errors:
 * GT_EINVAL when a value is 0 (except idle_min_ms), wait_ms exceeds
 * REPL_WAIT_MAX_MS or backoff_min_ms > backoff_max_ms; p untouched.
 */
gt_err repl_puller_init(repl_puller *p, const repl_puller_cfg *cfg);

/*
 * repl_puller_step feeds one event (borrowed) to p and fills *act (owned
 * by the caller) with what to do.  Never fails: an event that does not fit
 * the state is ignored (action NONE, current timer) and counted in stale.
 * Time never goes backwards for the puller: now_ms below an earlier
 * event's is treated as that earlier time.
 */
void repl_puller_step(repl_puller *p, const repl_event *ev,
    repl_action *act);

/*
 * repl_puller_check returns 1 when p satisfies its invariants (the
 * numbered rules in repl_core.c), else 0; repl_puller_step asserts it.
 */
int repl_puller_check(const repl_puller *p);

/* Origin seqs known to exist but not yet applied: head_seq - cursor. */
uint64_t repl_puller_pending(const repl_puller *p);

/* A static name for a state ("PULLING"), for logs and metrics. */
const char *repl_pstate_name(repl_pstate s);

/* ======================================================== origin (core) */

/* What the origin knows when it answers a PULL. */
typedef struct repl_origin_view {
	uint64_t head_seq;     /* latest committed seq it ORIGINATED */
	uint64_t trunc_seq;    /* its log holds no record with seq <= this */
	uint32_t max_bytes;    /* its own cap on a BATCH frame */
	uint32_t wait_max_ms;  /* its own cap on parking */
} repl_origin_view;

typedef enum repl_answer_kind {
	/* Records exist after after_seq: read the own records with seq >
	 * after_seq in order into a BATCH of at most max_bytes. */
	REPL_ANSWER_NOW = 1,
	/* Nothing yet: keep the request (volatile) and decide again when a
	 * local write commits or at park_until_ms. */
	REPL_ANSWER_PARK,
	/* Nothing and the wait is over: send an empty BATCH. */
	REPL_ANSWER_EMPTY,
	/* The log no longer holds after_seq + 1 (after_seq < trunc_seq), or
	 * the follower claims seqs never issued (after_seq > head_seq, a lost
	 * log): send an empty BATCH with REPL_BATCH_F_RESYNC. */
	REPL_ANSWER_RESYNC
} repl_answer_kind;

/*
 * When ack_valid, the origin records acked[from] = max(acked[from],
 * ack_seq) (durably, lazily is fine): a duplicated or delayed PULL carries
 * an old after_seq and must not move the ack back.  Then it runs
 * retention, and if that truncated anything it decides again, because the
 * answer must be computed against the log the batch is read from (read
 * head_seq and trunc_seq in the same read transaction as the records).
 */
typedef struct repl_answer {
	repl_answer_kind kind;
	int ack_valid;          /* 1: after_seq is a seq this origin issued */
	uint64_t ack_seq;
	uint32_t max_bytes;     /* NOW: the BATCH frame size to stay within */
	uint64_t park_until_ms; /* PARK: when to answer empty */
} repl_answer;

/*
 * repl_origin_decide answers pull (borrowed) given the origin's view v
 * (borrowed).  received_ms is when the PULL arrived, now_ms the current
 * time (same clock); the origin calls it on arrival, again for every
 * parked pull after each local commit, and at park_until_ms.  The answer
 * to a PULL whose from/to do not name a member/this region is the
 * driver's (an ERROR frame) and is not checked here.  *out owned by the
 * caller.
 */
void repl_origin_decide(const repl_origin_view *v, const repl_pull *pull,
    uint64_t received_ms, uint64_t now_ms, repl_answer *out);

/* ===================================================== retention (core) */

/* One peer of the origin, for retention.  acked_seq and active are input,
 * must_resync is output. */
typedef struct repl_peer_ack {
	uint64_t acked_seq;  /* acked[peer]: the after_seq of its last PULL */
	int active;          /* 0: dropped replica, not waited for */
	int must_resync;     /* set: the plan truncates past its ack */
} repl_peer_ack;

typedef struct repl_retention_in {
	uint64_t head_seq;   /* latest seq this region originated */
	uint64_t trunc_seq;  /* current truncation point */
	uint64_t keep_max;   /* retain at most this many seqs behind head
			      * (0: unlimited) */
	uint64_t floor_seq;  /* the driver's byte/age limits, converted to a
			      * seq that must be truncated (0: none) */
	int keep_set;        /* 1: every record with seq > keep_seq must
			      * stay (streams' retention), unless keep_max
			      * or floor_seq forces it out */
	uint64_t keep_seq;
} repl_retention_in;

typedef struct repl_retention_out {
	uint64_t trunc_to;   /* delete every log record with seq <= this */
	uint64_t gc_seq;     /* own tombstones with seq <= this are known
			      * to every active peer not forced to resync */
	size_t n_resync;     /* peers with must_resync set */
} repl_retention_out;

/*
 * repl_retention_plan computes the truncation point: the smallest acked
 * seq over active peers (head_seq when there are none), lowered to
 * keep_seq when keep_set, raised to
 * head_seq - keep_max and to floor_seq (both capped at head_seq), never
 * below trunc_seq.  Every active peer whose ack is below it gets
 * must_resync = 1 (inactive peers 0).  peers (n entries, borrowed) may be
 * NULL when n is 0.  Errors: GT_EINVAL when peers is NULL with n > 0 or
 * trunc_seq > head_seq; nothing written on error.
 */
gt_err repl_retention_plan(const repl_retention_in *in,
    repl_peer_ack *peers, size_t n, repl_retention_out *out);

#endif /* REPL_H */
