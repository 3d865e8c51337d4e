/*
 * sim_topo.c — deterministic simulation of the topology protocol (adding
 * and dropping replicas at runtime, with backfill; regions joining and
 * leaving) on top of replication, 3-5 regions in one thread (DESIGN.md
 * sections 8 and 9).
 *
 * The model, per region:
 *   - durable: a membership view (topo_members); per table (two tables)
 *     the last replica set it heard of (kept also without a copy), whether
 *     it holds a copy and that copy's incarnation, the copy itself (a hot
 *     key space of SIM_KEYS keys -> cf_version + value), and the state of
 *     a backfill in progress (source, captured cursors, next chunk); one
 *     change log of the records it originated (item writes, replica-set
 *     changes, membership changes); per-origin cursors; an HLC;
 *   - volatile: one repl_puller per member origin, parked pulls, timers,
 *     the backfill request in flight.
 * Replication is the real protocol: PULL/BATCH/ERROR frames (repl_frame.c,
 * with MACs), repl_puller_step, repl_origin_decide, long-poll parking,
 * over a simulated network with per-link delay and jitter (reordering),
 * loss, duplication, bit flips and partitions.  A batch applies in one
 * step: items of a table the region holds go through cf_resolve; a
 * replica-set record goes through topo_rset_on_incoming; a membership
 * record is adopted when topo_members_newer.
 *
 * The topology rules, as a region node follows them:
 *   - A change (UpdateTable add/drop at a region that holds a complete
 *     copy; progress, activate, fail by the backfilling region; a prune)
 *     is made from the region's own set, appended to its log and adopted
 *     at once through topo_rset_on_incoming; others adopt it from the log.
 *   - CREATE_AND_BACKFILL: create the copy (or keep it) and backfill: ask a
 *     source (topo_rset_backfill_source, rotating on failures) to capture
 *     its cursors and copy incarnation, then copy its items in chunks over
 *     several steps while writes go on everywhere, merging with
 *     cf_resolve; a source answers only from a complete copy of the same
 *     incarnation, else the backfill starts again.  At the end, in one
 *     step: cursors = topo_backfill_cursors(own, captured) (a rewind),
 *     re-apply own log records of the table past the captured cursor for
 *     self, restart the pullers (an apply in flight commits nothing), and
 *     topo_rset_activate.  The state survives crashes.
 *   - DROP: delete the copy.  A region accepts client writes to a table
 *     only while it holds a complete copy and is ACTIVE in its set; every
 *     region holding a copy applies the table's records from every origin
 *     (MERIDIAN_TOPO_REFUSE=1 instead refuses records from origins that
 *     are not in the set, as topo.h first proposed: replicas diverge).
 *   - Membership: join/leave made by a member, logged and adopted; the
 *     joining region adopts the answer of its admin call.  A member pulls
 *     from every member; an origin answers a non-member with NOT_MEMBER,
 *     upon which the two exchange memberships (each adopts the newer); a
 *     PULL carrying a newer topology epoch starts the same exchange.
 *     When a set lists a region its membership lacks, the smallest listed
 *     ACTIVE member prunes it (topo_rset_prune_by) and logs the result.
 *   - The operator (what the CLI must check through the admin API):
 *     adds a replica only in a region the settled membership lists (see
 *     members_settled; asking a non-member is refused by the core);
 *     drops an ACTIVE replica only while the table is quiet (every member
 *     holds the same set, no backfill runs); cancels (drops a CREATING
 *     replica) or removes a failed one any time; a region leaves only
 *     from a settled membership, when it holds nothing, is in no set
 *     (but as CREATION_FAILED, which the pruner removes), no replica-set
 *     change is in flight, no backfill runs and every member has applied
 *     its whole log.  Membership records are forwarded by every adopter
 *     (see adopt_members); a joining region gets the catalog (membership
 *     and replica sets) with its answer.
 *
 * Faults: crashes (volatile state lost), partitions, loss, duplication,
 * reordering, corrupted frames, backfills that fail.  Then writes and
 * admin stop, partitions heal, every region comes back, and the cluster
 * runs to quiescence.  The checks: all members hold the same membership,
 * every region knows whether it is a member; for each table all members
 * hold the same set, no replica is CREATING, every ACTIVE replica holds a
 * complete copy and every other region (dropped, failed, departed,
 * returned) holds nothing; all ACTIVE copies are identical (value, stamp,
 * tombstone, vector) and equal to the ground truth: per key the write
 * with the largest stamp among all client writes (each made by a region
 * that was an ACTIVE replica with a complete copy), and for each region
 * the largest seq it wrote to that key in the vector.
 *
 * Environment: MERIDIAN_SEED=N runs exactly seed N (with a summary);
 * MERIDIAN_SIM_SEEDS=K runs K seeds (default 1000) from a seed derived
 * from the time, printed first.  A failure prints the seed and the replay
 * command and exits 1.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conflict.h"
#include "gt.h"
#include "repl.h"
#include "simkit.h"
#include "topo.h"

#define SIM_REGIONS_MAX 5
#define SIM_TABLES 2
#define SIM_KEYS 8
#define SIM_PARKED_MAX (SIM_REGIONS_MAX * 4)
#define SIM_META_MAX 160
#define SIM_JSON_MAX 4096
#define SIM_WALL_BASE_MS UINT64_C(1700000000000)
#define SIM_DRAIN_MAX_MS 300000u
#define SIM_BF_TIMEOUT_MS 700u
#define SIM_MEMBERS_TABLE "meridian.members"

/* ------------------------------------------------------------ randomness */

/* rng_next, rng_range, rng_chance and rng_state: simkit.h */

/* --------------------------------------------------------------- failure */

static uint64_t cur_seed;
static int verbose;
static int refuse_mode;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sim_topo: seed %" PRIu64 " FAILED: ", cur_seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nreplay: %sMERIDIAN_SEED=%" PRIu64
	    " build/tests/sim_topo\n", refuse_mode ?
	    "MERIDIAN_TOPO_REFUSE=1 " : "", cur_seed);
	exit(1);
}

#define CHECK(cond, ...)                                                \
	do {                                                            \
		if (!(cond))                                            \
			fail(__VA_ARGS__);                              \
	} while (0)

/* ----------------------------------------------------------------- model */

typedef struct item {
	cf_version ver;   /* exists = 0: no version */
	int64_t val;      /* the write id whose body is stored; -1 deleted */
} item;

enum { BF_START = 1, BF_COPY };

typedef struct tstate {
	/* durable */
	int have_set;
	topo_rset set;
	int holds;
	uint32_t copy_gen;      /* incarnation of the copy */
	item store[SIM_KEYS];
	int bf_active;
	int bf_phase;
	uint32_t bf_attempt;
	char bf_source[CF_REGION_NAME_MAX];
	uint32_t bf_src_gen;
	topo_cursor bf_cur[SIM_REGIONS_MAX + 1];
	size_t bf_ncur;
	int bf_next_key;
	/* volatile */
	uint64_t bf_req_id;     /* request in flight, 0: none */
	uint64_t bf_tok;        /* the one live EV_BF */
} tstate;

enum { LR_ITEM = 1, LR_RSET, LR_MEMB };

typedef struct logrec {
	uint64_t seq, hlc;
	int kind, table, key, del;
	int64_t val;
	uint8_t meta[SIM_META_MAX];
	size_t meta_len;
	char *json;             /* LR_RSET, LR_MEMB: owned */
	size_t json_len;
	uint64_t epoch;         /* LR_RSET, LR_MEMB: the change's */
	char by[CF_REGION_NAME_MAX];
} logrec;

typedef struct parked {
	int used;
	uint64_t id;
	repl_pull req;
	uint64_t recv_ms;
	int from;
	uint32_t from_inc;
} parked;

typedef struct region {
	char name[CF_REGION_NAME_MAX];
	topo_region addr;
	int up;
	uint32_t inc;
	int64_t skew_ms;
	/* durable */
	topo_members mem;
	tstate t[SIM_TABLES];
	logrec *log;
	size_t log_n, log_cap;
	uint64_t last_seq, head_seq;
	uint64_t cursor[SIM_REGIONS_MAX];
	cf_clock clock;
	/* volatile */
	repl_puller pull[SIM_REGIONS_MAX];
	int pulling[SIM_REGIONS_MAX];
	uint32_t pgen[SIM_REGIONS_MAX];
	uint64_t timer_armed[SIM_REGIONS_MAX];
	uint64_t last_x_ms[SIM_REGIONS_MAX];
	parked park[SIM_PARKED_MAX];
} region;

typedef struct hist {
	int table, key, origin, del;
	uint64_t seq;
	cf_stamp stamp;
	int64_t val;
} hist;

enum ev_kind {
	EV_REQ = 1,     /* a PULL frame arrives at an origin */
	EV_RESP,        /* a BATCH/ERROR frame arrives at a follower */
	EV_NETERR,      /* the follower's transport reports a failure */
	EV_TIMER,       /* a puller timer */
	EV_APPLY,       /* a batch apply commits */
	EV_PARK,        /* a parked pull's deadline */
	EV_WRITE,       /* a client write */
	EV_CRASH,
	EV_RESTART,
	EV_PARTITION,
	EV_HEAL,
	EV_CHECK,
	EV_ADMIN,       /* an operator action */
	EV_MSG,         /* a backfill or membership message arrives */
	EV_BF,          /* a backfill step is due */
	EV_BF_TIMEOUT   /* a backfill request timed out */
};

typedef sim_event event; /* simkit.h */

/* Backfill and membership messages (the admin API between nodes). */
enum {
	M_BF_START = 1,  /* capture: table */
	M_BF_START_OK,   /* gen, cursors */
	M_BF_CHUNK,      /* table, gen, from_key, nkeys */
	M_BF_CHUNK_OK,   /* items */
	M_BF_NOT_READY,  /* no complete copy of that incarnation */
	M_MEMB_X,        /* json: the sender's membership */
	M_MEMB_X_REPLY   /* json: the answerer's membership */
};

typedef struct smsg {
	int kind, table;
	uint64_t id;
	uint32_t req_inc;
	uint32_t gen;
	int from_key, nkeys;
	size_t ncur;
	topo_cursor cur[SIM_REGIONS_MAX + 1];
	item items[SIM_KEYS];
	size_t json_len;
	char json[SIM_JSON_MAX];
} smsg;

typedef struct sim {
	int nreg;
	region r[SIM_REGIONS_MAX];
	uint64_t now;
	sim_evq q;
	hist *h;
	size_t h_n, h_cap;
	int64_t next_val;
	uint64_t next_id;
	repl_key key;
	repl_puller_cfg pcfg;
	uint32_t link_ms[SIM_REGIONS_MAX][SIM_REGIONS_MAX];
	int cut[SIM_REGIONS_MAX][SIM_REGIONS_MAX];
	unsigned drop_pm, dup_pm, corrupt_pm, bf_fail_pm, burst_pm;
	uint32_t origin_max_bytes;
	int chunk_keys;
	uint64_t write_until;
	int healed;
	int in_apply;           /* region applying a batch, -1: none */
	int sync_pending;       /* its pullers must follow the membership */
	/* statistics */
	uint64_t n_events, n_msgs, n_conflicts, n_crashes;
	uint64_t n_add, n_drop, n_cancel, n_join, n_leave, n_refused;
	uint64_t n_bf_done, n_rebuild, n_bf_restart, n_fail, n_prune;
	uint64_t n_rset_recs, n_replayed, n_refused_recs;
} sim;

static sim S;

static const char *const TABLES[SIM_TABLES] = {"t0", "t1"};

/* ----------------------------------------------------- events (simkit.h) */

static void ev_push(event e)
{
	if (sim_evq_push(&S.q, e) != 0)
		fail("out of memory");
}

static event ev_pop(void)
{
	return sim_evq_pop(&S.q);
}

static void ev_at(uint64_t at, int kind, int reg, int peer, uint64_t id)
{
	event e;

	memset(&e, 0, sizeof(e));
	e.at = at;
	e.kind = kind;
	e.reg = reg;
	e.peer = peer;
	e.inc = S.r[reg].inc;
	e.id = id;
	ev_push(e);
}

/* --------------------------------------------------------------- helpers */

static uint64_t wall_ms(void)
{
	return SIM_WALL_BASE_MS + S.now;
}

static int ridx(const char *name)
{
	for (int i = 0; i < S.nreg; i++) {
		if (strcmp(S.r[i].name, name) == 0)
			return i;
	}
	fail("unknown region %s", name);
}

static int tidx(const char *p, size_t n)
{
	for (int t = 0; t < SIM_TABLES; t++) {
		if (strlen(TABLES[t]) == n && memcmp(TABLES[t], p, n) == 0)
			return t;
	}
	return -1;
}

/* Whether r's own membership lists region i. */
static int knows_member(int r, int i)
{
	return topo_members_find(&S.r[r].mem, S.r[i].name) != NULL;
}

static int self_member(int r)
{
	return knows_member(r, r);
}

/* The status of region i in r's set of table t, 0 when not listed. */
static int status_in(int r, int t, int i)
{
	const topo_replica *p;

	if (!S.r[r].t[t].have_set)
		return 0;
	p = topo_rset_find(&S.r[r].t[t].set, S.r[i].name);
	return p == NULL ? 0 : (int)p->status;
}

static void key_json(int key, char *buf, size_t cap)
{
	snprintf(buf, cap, "{\"pk\":{\"S\":\"k%d\"}}", key);
}

static void image_json(int key, int64_t val, char *buf, size_t cap)
{
	snprintf(buf, cap, "{\"pk\":{\"S\":\"k%d\"},\"v\":{\"N\":\"%" PRId64
	    "\"}}", key, val);
}

static int parse_key(const char *p, size_t n)
{
	char buf[64];
	int k = -1;

	CHECK(n < sizeof(buf), "key too long");
	memcpy(buf, p, n);
	buf[n] = '\0';
	CHECK(sscanf(buf, "{\"pk\":{\"S\":\"k%d\"}}", &k) == 1 && k >= 0 &&
	    k < SIM_KEYS, "bad key %s", buf);
	return k;
}

static int64_t parse_val(const char *p, size_t n)
{
	char buf[128];
	int k;
	int64_t v = -1;

	CHECK(n < sizeof(buf), "image too long");
	memcpy(buf, p, n);
	buf[n] = '\0';
	CHECK(sscanf(buf, "{\"pk\":{\"S\":\"k%d\"},\"v\":{\"N\":\"%" SCNd64,
	    &k, &v) == 2, "bad image %s", buf);
	return v;
}

/* --------------------------------------------------------------- network */

static uint64_t link_delay(int a, int b)
{
	return S.link_ms[a][b] + rng_range(0, 15);
}

/* A frame (PULL, BATCH, ERROR) from src to dst; see sim_repl.c. */
static void net_send(int src, int dst, int kind, uint64_t pull_id,
    uint32_t inc, const uint8_t *bytes, size_t n)
{
	int copies = 1 + rng_chance(S.dup_pm);

	S.n_msgs++;
	for (int c = 0; c < copies; c++) {
		event e;

		if (S.cut[src][dst] || rng_chance(S.drop_pm))
			continue;
		memset(&e, 0, sizeof(e));
		e.at = S.now + link_delay(src, dst);
		e.kind = kind;
		e.reg = dst;
		e.peer = src;
		e.inc = inc;
		e.id = pull_id;
		e.bytes = malloc(n);
		if (e.bytes == NULL)
			fail("out of memory");
		memcpy(e.bytes, bytes, n);
		e.n = n;
		if (rng_chance(S.corrupt_pm)) {
			size_t i = rng_next() % n;

			e.bytes[i] ^= (uint8_t)(1u << (rng_next() % 8));
		}
		ev_push(e);
	}
}

/* A backfill or membership message; lost, duplicated, delayed, never
 * corrupted (a checksum would catch it; sim_repl covers frames). */
static void msg_send(int src, int dst, const smsg *m)
{
	int copies = 1 + rng_chance(S.dup_pm);

	S.n_msgs++;
	for (int c = 0; c < copies; c++) {
		event e;

		if (S.cut[src][dst] || rng_chance(S.drop_pm))
			continue;
		memset(&e, 0, sizeof(e));
		e.at = S.now + link_delay(src, dst);
		e.kind = EV_MSG;
		e.reg = dst;
		e.peer = src;
		e.bytes = malloc(sizeof(*m));
		if (e.bytes == NULL)
			fail("out of memory");
		memcpy(e.bytes, m, sizeof(*m));
		e.n = sizeof(*m);
		ev_push(e);
	}
}

/* ------------------------------------------------------------------- log */

static logrec *log_append(int r, uint64_t seq)
{
	region *R = &S.r[r];
	logrec *L;

	if (R->log_n == R->log_cap) {
		R->log_cap = R->log_cap ? R->log_cap * 2 : 64;
		R->log = realloc(R->log, R->log_cap * sizeof(*R->log));
		if (R->log == NULL)
			fail("out of memory");
	}
	CHECK(seq > R->last_seq, "log seq goes backwards");
	R->last_seq = seq;
	R->head_seq = seq;
	L = &R->log[R->log_n++];
	memset(L, 0, sizeof(*L));
	L->seq = seq;
	return L;
}

static void wake_parked(int o);

static void log_json(int r, int kind, int table, uint64_t epoch,
    const char *by, gt_buf *b)
{
	region *R = &S.r[r];
	logrec *L;

	CHECK(gt_buf_ok(b), "json out of memory");
	L = log_append(r, R->last_seq + 1);
	L->kind = kind;
	L->table = table;
	L->epoch = epoch;
	memcpy(L->by, by, sizeof(L->by));
	L->hlc = cf_clock_now(&R->clock, wall_ms());
	L->json = gt_buf_steal(b, &L->json_len);
	wake_parked(r);
}

/* ------------------------------------------------------- topology state */

static void handle_rset(int f, int t, const topo_rset *in);
static void adopt_members(int r, const topo_members *m, int forward);
static void bf_begin(int f, int t);
static void sync_pullers(int f);

static void store_clear(tstate *T)
{
	memset(T->store, 0, sizeof(T->store));
}

static void bf_clear(tstate *T)
{
	T->bf_active = 0;
	T->bf_phase = 0;
	T->bf_attempt = 0;
	memset(T->bf_source, 0, sizeof(T->bf_source));
	T->bf_src_gen = 0;
	T->bf_ncur = 0;
	T->bf_next_key = 0;
	T->bf_req_id = 0;
	T->bf_tok++;
}

static void drop_copy(int f, int t)
{
	tstate *T = &S.r[f].t[t];

	T->holds = 0;
	store_clear(T);
	bf_clear(T);
}

/* A change made by region f to table t: log it, then adopt it. */
static void make_change(int f, int t, const topo_rset *rs)
{
	gt_buf b = GT_BUF_INIT;

	CHECK(topo_rset_check(rs), "a change breaks the set invariants");
	topo_rset_json(rs, &b);
	log_json(f, LR_RSET, t, rs->epoch, rs->changed_by, &b);
	handle_rset(f, t, rs);
}

static void make_members_change(int r, const topo_members *m)
{
	gt_buf b = GT_BUF_INIT;

	CHECK(topo_members_check(m), "a membership breaks its invariants");
	topo_members_json(m, &b);
	log_json(r, LR_MEMB, -1, m->epoch, m->changed_by, &b);
	adopt_members(r, m, 0);
}

/*
 * When f's set of a table lists a region its membership lacks, the
 * smallest listed ACTIVE member (or, with none, the smallest member)
 * prunes the set as a change of its own.
 */
static void maybe_prune(int f)
{
	region *F = &S.r[f];

	if (!F->up || !self_member(f))
		return;
	for (int t = 0; t < SIM_TABLES; t++) {
		tstate *T = &F->t[t];
		const char *designated = NULL;
		int stale = 0;
		topo_rset out;

		if (!T->have_set)
			continue;
		for (uint32_t i = 0; i < T->set.n; i++) {
			const topo_replica *p = &T->set.r[i];

			if (topo_members_find(&F->mem, p->region) == NULL)
				stale = 1;
			else if (designated == NULL &&
			    p->status == TOPO_ACTIVE)
				designated = p->region;
		}
		if (!stale)
			continue;
		if (designated == NULL)
			designated = F->mem.r[0].name;
		if (strcmp(designated, F->name) != 0)
			continue;
		if (topo_rset_prune_by(&T->set, &F->mem, F->name, &out)) {
			S.n_prune++;
			make_change(f, t, &out);
		}
	}
}

/* Region f adopts set `in` of table t (from the log or its own change). */
static void handle_rset(int f, int t, const topo_rset *in)
{
	region *F = &S.r[f];
	tstate *T = &F->t[t];
	topo_action act;

	CHECK(topo_rset_check(in), "received set breaks the invariants");
	act = topo_rset_on_incoming(T->have_set ? &T->set : NULL, T->holds,
	    in, F->name);
	switch (act) {
	case TOPO_IGNORE:
		return;
	case TOPO_UPDATE:
		T->set = *in;
		T->have_set = 1;
		if (status_in(f, t, f) == TOPO_CREATING)
			CHECK(T->bf_active, "%s CREATING in %s without a "
			    "backfill", F->name, TABLES[t]);
		break;
	case TOPO_DROP:
		T->set = *in;
		T->have_set = 1;
		drop_copy(f, t);
		break;
	case TOPO_CREATE_AND_BACKFILL:
		T->set = *in;
		T->have_set = 1;
		if (!T->holds) {
			T->holds = 1;
			T->copy_gen++;
			store_clear(T);
		}
		if (status_in(f, t, f) == TOPO_ACTIVE)
			S.n_rebuild++;
		bf_begin(f, t);
		break;
	}
	maybe_prune(f);
}

/*
 * Region r adopts membership m when it is newer.  forward: r also appends
 * it to its own log.  A change lives in its maker's log, and a member
 * stops pulling a region its membership drops: when two changes at one
 * epoch both remove their makers' region (two concurrent leaves of c,
 * one made by c itself), the winner may sit in a log nobody pulls any
 * more.  Every adopter forwarding it makes it reach every member.
 */
static void adopt_members(int r, const topo_members *m, int forward)
{
	region *R = &S.r[r];

	CHECK(topo_members_check(m), "received membership is invalid");
	if (!topo_members_newer(&R->mem, m))
		return;
	if (forward) {
		gt_buf b = GT_BUF_INIT;

		topo_members_json(m, &b);
		log_json(r, LR_MEMB, -1, m->epoch, m->changed_by, &b);
	}
	R->mem = *m;
	if (!self_member(r)) {
		/* Out of the cluster: no copy of any table stays. */
		for (int t = 0; t < SIM_TABLES; t++) {
			if (R->t[t].holds)
				drop_copy(r, t);
		}
	}
	sync_pullers(r);
	maybe_prune(r);
}

/* --------------------------------------------------------------- origins */

static void send_error(int o, int f, uint32_t f_inc, uint64_t ctx_id,
    uint16_t code, const char *msg)
{
	gt_buf b = GT_BUF_INIT;

	CHECK(repl_error_encode(code, S.r[o].name, 0, msg, &S.key, &b) ==
	    GT_OK, "error encode");
	net_send(o, f, EV_RESP, ctx_id, f_inc, (uint8_t *)b.data, b.len);
	gt_buf_free(&b);
}

/* Fills rec from log record L (the string buffers are the caller's). */
static void rec_of(const logrec *L, repl_rec *rec, char *kbuf, size_t kcap,
    char *ibuf, size_t icap)
{
	memset(rec, 0, sizeof(*rec));
	rec->origin_seq = L->seq;
	rec->hlc = L->hlc;
	if (L->kind == LR_ITEM) {
		key_json(L->key, kbuf, kcap);
		rec->op = L->del ? REPL_OP_DELETE : REPL_OP_PUT;
		rec->table = TABLES[L->table];
		rec->key = kbuf;
		rec->key_len = strlen(kbuf);
		if (!L->del) {
			image_json(L->key, L->val, ibuf, icap);
			rec->image = ibuf;
			rec->image_len = strlen(ibuf);
		}
		rec->meta = L->meta;
		rec->meta_len = L->meta_len;
	} else {
		/* A table op carrying a replica set or the membership. */
		rec->op = REPL_OP_TABLE_CREATE;
		rec->table = L->kind == LR_RSET ? TABLES[L->table] :
		    SIM_MEMBERS_TABLE;
		rec->key = "{}";
		rec->key_len = 2;
		rec->image = L->json;
		rec->image_len = L->json_len;
	}
	rec->table_len = strlen(rec->table);
}

static void answer(int o, int f, uint32_t f_inc, uint64_t ctx_id,
    const repl_pull *req, const repl_answer *a)
{
	region *R = &S.r[o];
	repl_batch_info info;
	repl_batch_enc e;
	gt_buf b = GT_BUF_INIT;
	char kbuf[64], ibuf[128];
	size_t i = 0;

	memset(&info, 0, sizeof(info));
	info.pull_id = req->pull_id;
	info.after_seq = req->after_seq;
	info.head_seq = R->head_seq;
	info.trunc_seq = 0;
	info.origin_hlc = cf_clock_now(&R->clock, wall_ms());
	CHECK(a->kind != REPL_ANSWER_RESYNC, "resync without truncation");
	CHECK(repl_batch_enc_begin(&e, &b, R->name, &info, a->max_bytes) ==
	    GT_OK, "batch begin");
	if (a->kind == REPL_ANSWER_NOW) {
		while (i < R->log_n && R->log[i].seq <= req->after_seq)
			i++;
		CHECK(i < R->log_n, "NOW answer without records");
		for (; i < R->log_n; i++) {
			repl_rec rec;
			gt_err err;

			rec_of(&R->log[i], &rec, kbuf, sizeof(kbuf), ibuf,
			    sizeof(ibuf));
			err = repl_batch_enc_add(&e, &rec);
			if (err == GT_ELIMIT)
				break;
			CHECK(err == GT_OK, "batch add: %s",
			    gt_strerror(err));
		}
	}
	CHECK(repl_batch_enc_finish(&e, &S.key) == GT_OK, "batch finish");
	net_send(o, f, EV_RESP, ctx_id, f_inc, (uint8_t *)b.data, b.len);
	gt_buf_free(&b);
}

static void memb_exchange(int a, int b)
{
	region *A = &S.r[a];
	smsg *m;
	gt_buf buf = GT_BUF_INIT;

	if (A->last_x_ms[b] != 0 && S.now < A->last_x_ms[b] + 100)
		return;
	A->last_x_ms[b] = S.now;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		fail("out of memory");
	topo_members_json(&A->mem, &buf);
	CHECK(gt_buf_ok(&buf) && buf.len < SIM_JSON_MAX, "members json");
	m->kind = M_MEMB_X;
	memcpy(m->json, buf.data, buf.len);
	m->json_len = buf.len;
	msg_send(a, b, m);
	gt_buf_free(&buf);
	free(m);
}

static int origin_handle(int o, int f, uint32_t f_inc, uint64_t ctx_id,
    const repl_pull *req, uint64_t recv_ms, int already_parked)
{
	region *R = &S.r[o];
	repl_origin_view v;
	repl_answer a;

	v.head_seq = R->head_seq;
	v.trunc_seq = 0;
	v.max_bytes = S.origin_max_bytes;
	v.wait_max_ms = 3000;
	repl_origin_decide(&v, req, recv_ms, S.now, &a);
	if (a.kind == REPL_ANSWER_PARK) {
		if (already_parked)
			return 0;
		for (int i = 0; i < SIM_PARKED_MAX; i++) {
			parked *P = &R->park[i];

			if (P->used)
				continue;
			P->used = 1;
			P->id = ++S.next_id;
			P->req = *req;
			P->recv_ms = recv_ms;
			P->from = f;
			P->from_inc = f_inc;
			ev_at(a.park_until_ms, EV_PARK, o, i, P->id);
			return 0;
		}
		send_error(o, f, f_inc, ctx_id, REPL_ERR_BUSY, "too many");
		return 1;
	}
	answer(o, f, f_inc, ctx_id, req, &a);
	return 1;
}

static void on_request(const event *e)
{
	region *R = &S.r[e->reg];
	repl_pull req;
	int f = e->peer;

	if (!R->up) {
		if (rng_chance(500)) {
			event x;

			memset(&x, 0, sizeof(x));
			x.at = S.now + link_delay(e->reg, f);
			x.kind = EV_NETERR;
			x.reg = f;
			x.peer = e->reg;
			x.inc = e->inc;
			x.id = e->id;
			ev_push(x);
		}
		return;
	}
	if (repl_pull_decode(e->bytes, e->n, &S.key, &req) != GT_OK) {
		send_error(e->reg, f, e->inc, e->id, REPL_ERR_BAD_REQUEST,
		    "bad pull");
		return;
	}
	CHECK(strcmp(req.to, R->name) == 0 &&
	    strcmp(req.from, S.r[f].name) == 0, "misrouted pull");
	if (req.topo_epoch > R->mem.epoch)
		memb_exchange(e->reg, f);
	if (!self_member(e->reg) || !knows_member(e->reg, f)) {
		send_error(e->reg, f, e->inc, e->id, REPL_ERR_NOT_MEMBER,
		    "not a member");
		return;
	}
	origin_handle(e->reg, f, e->inc, e->id, &req, S.now, 0);
}

static void wake_parked(int o)
{
	region *R = &S.r[o];

	if (!R->up)
		return;
	for (int i = 0; i < SIM_PARKED_MAX; i++) {
		parked *P = &R->park[i];

		if (!P->used)
			continue;
		if (origin_handle(o, P->from, P->from_inc, P->req.pull_id,
		    &P->req, P->recv_ms, 1))
			P->used = 0;
	}
}

static void on_park(const event *e)
{
	region *R = &S.r[e->reg];
	parked *P = &R->park[e->peer];

	if (!R->up || e->inc != R->inc || !P->used || P->id != e->id)
		return;
	if (origin_handle(e->reg, P->from, P->from_inc, P->req.pull_id,
	    &P->req, P->recv_ms, 1))
		P->used = 0;
	else
		fail("parked pull not answered at its deadline");
}

/* ------------------------------------------------------------- followers */

static void do_action(int f, int o, const repl_action *a,
    const uint8_t *frame, size_t n);

static void puller_event(int f, int o, repl_event *ev,
    const uint8_t *frame, size_t n)
{
	repl_action a;

	if (!S.r[f].pulling[o])
		return;
	ev->now_ms = S.now;
	repl_puller_step(&S.r[f].pull[o], ev, &a);
	CHECK(repl_puller_check(&S.r[f].pull[o]), "puller invariants");
	do_action(f, o, &a, frame, n);
}

static void start_puller(int f, int o)
{
	region *F = &S.r[f];
	repl_event ev;

	CHECK(repl_puller_init(&F->pull[o], &S.pcfg) == GT_OK, "puller init");
	F->pulling[o] = 1;
	F->pgen[o]++;
	F->timer_armed[o] = 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_START;
	ev.cursor = F->cursor[o];
	ev.pull_id = rng_next() | 1;
	puller_event(f, o, &ev, NULL, 0);
}

static void stop_puller(int f, int o)
{
	region *F = &S.r[f];

	F->pulling[o] = 0;
	F->pgen[o]++;
	F->timer_armed[o] = 0;
	memset(&F->pull[o], 0, sizeof(F->pull[o]));
}

/*
 * A member pulls from every other member of its own view.  While f
 * applies a batch this waits for the end of the transaction: a puller
 * must start from the cursor the batch commits.
 */
static void sync_pullers(int f)
{
	region *F = &S.r[f];

	if (S.in_apply == f) {
		S.sync_pending = 1;
		return;
	}

	for (int o = 0; o < S.nreg; o++) {
		int want = F->up && o != f && self_member(f) &&
		    knows_member(f, o);

		if (want && !F->pulling[o])
			start_puller(f, o);
		else if (!want && F->pulling[o])
			stop_puller(f, o);
	}
}

static void do_action(int f, int o, const repl_action *a,
    const uint8_t *frame, size_t n)
{
	region *F = &S.r[f];

	if (a->timer_at_ms != 0 && a->timer_at_ms != F->timer_armed[o]) {
		event e;

		memset(&e, 0, sizeof(e));
		e.at = a->timer_at_ms;
		e.kind = EV_TIMER;
		e.reg = f;
		e.peer = o;
		e.inc = F->inc;
		e.gen = F->pgen[o];
		ev_push(e);
	}
	F->timer_armed[o] = a->timer_at_ms;
	switch (a->kind) {
	case REPL_ACT_NONE:
		break;
	case REPL_ACT_SEND_PULL: {
		repl_pull req;
		gt_buf b = GT_BUF_INIT;

		CHECK(a->after_seq == F->cursor[o],
		    "pull after %" PRIu64 " != cursor %" PRIu64,
		    a->after_seq, F->cursor[o]);
		memset(&req, 0, sizeof(req));
		strcpy(req.from, F->name);
		strcpy(req.to, S.r[o].name);
		req.pull_id = a->pull_id;
		req.after_seq = a->after_seq;
		req.topo_epoch = F->mem.epoch;
		req.max_bytes = a->max_bytes;
		req.wait_ms = a->wait_ms;
		CHECK(repl_pull_encode(&req, &S.key, &b) == GT_OK,
		    "pull encode");
		net_send(f, o, EV_REQ, a->pull_id, F->inc,
		    (uint8_t *)b.data, b.len);
		gt_buf_free(&b);
		break;
	}
	case REPL_ACT_APPLY: {
		event e;

		CHECK(frame != NULL, "apply without a frame");
		memset(&e, 0, sizeof(e));
		e.at = S.now + rng_range(0, 8);
		e.kind = EV_APPLY;
		e.reg = f;
		e.peer = o;
		e.inc = F->inc;
		e.gen = F->pgen[o];
		e.bytes = malloc(n);
		if (e.bytes == NULL)
			fail("out of memory");
		memcpy(e.bytes, frame, n);
		e.n = n;
		ev_push(e);
		break;
	}
	case REPL_ACT_RESYNC:
		fail("resync requested, but no log is ever truncated");
	}
}

static void on_response(const event *e)
{
	region *F = &S.r[e->reg];
	int o = e->peer;
	uint8_t type = 0;
	repl_event ev;

	if (!F->up || e->inc != F->inc)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.rnd = (uint32_t)rng_next();
	if (repl_frame_peek(e->bytes, e->n, &type) == GT_OK &&
	    type == REPL_FRAME_BATCH) {
		repl_batch b;
		gt_err err = repl_batch_decode(e->bytes, e->n, &S.key, &b);

		if (err == GT_OK) {
			CHECK(strcmp(b.origin, S.r[o].name) == 0,
			    "batch from the wrong origin");
			ev.kind = REPL_EV_BATCH;
			ev.batch = b.info;
			puller_event(e->reg, o, &ev, e->bytes, e->n);
			return;
		}
		ev.err = err;
	} else if (type == REPL_FRAME_ERROR) {
		repl_error er;
		gt_err err = repl_error_decode(e->bytes, e->n, &S.key, &er);

		if (err == GT_OK && er.code == REPL_ERR_NOT_MEMBER)
			memb_exchange(e->reg, o);
		ev.err = err == GT_OK ? GT_EIO : err;
	} else {
		ev.err = GT_ECORRUPT;
	}
	ev.kind = REPL_EV_ERROR;
	ev.pull_id = e->id;
	puller_event(e->reg, o, &ev, NULL, 0);
}

static void on_neterr(const event *e)
{
	region *F = &S.r[e->reg];
	repl_event ev;

	if (!F->up || e->inc != F->inc)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_ERROR;
	ev.pull_id = e->id;
	ev.err = GT_EIO;
	ev.rnd = (uint32_t)rng_next();
	puller_event(e->reg, e->peer, &ev, NULL, 0);
}

static void on_timer(const event *e)
{
	region *F = &S.r[e->reg];
	repl_event ev;

	if (!F->up || e->inc != F->inc || e->gen != F->pgen[e->peer])
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_TIMER;
	ev.rnd = (uint32_t)rng_next();
	puller_event(e->reg, e->peer, &ev, NULL, 0);
}

enum { AP_RECORD = 0, AP_SNAPSHOT, AP_REPLAY };

/*
 * Applies one version to f's copy of table t as the region node does:
 * HLC receive rule, then cf_resolve.  A snapshot item's vector also holds
 * the writes its winner beat, so both sides may hold the same winner with
 * different vectors; cf_resolve keeps it and merges (an expected
 * "anomaly" there).
 */
static void apply_version(int f, int t, int key, const cf_version *in,
    int64_t val, int mode)
{
	region *F = &S.r[f];
	item *it = &F->t[t].store[key];
	cf_decision d;
	gt_err err;

	CHECK(F->t[t].holds, "apply to a table %s does not hold", F->name);
	cf_clock_recv(&F->clock, in->stamp.hlc, wall_ms());
	err = cf_resolve(&it->ver, in, &d);
	CHECK(err == GT_OK, "cf_resolve: %s", gt_strerror(err));
	if (mode == AP_SNAPSHOT && it->ver.exists &&
	    cf_stamp_cmp(&it->ver.stamp, &in->stamp) == 0) {
		CHECK(d.action == CF_DROP || d.action == CF_CONFLICT_KEEP,
		    "snapshot of the same winner replaced it");
		it->ver = d.store;
		return;
	}
	CHECK(!d.anomaly, "clock anomaly on %s key %d at %s", TABLES[t], key,
	    F->name);
	switch (d.action) {
	case CF_DROP:
		break;
	case CF_TAKE:
	case CF_CONFLICT_TAKE:
		it->ver = d.store;
		it->val = val;
		break;
	case CF_CONFLICT_KEEP:
		it->ver = d.store;
		break;
	}
	if (mode == AP_RECORD && (d.action == CF_CONFLICT_TAKE ||
	    d.action == CF_CONFLICT_KEEP))
		S.n_conflicts++;
}

static void apply_rec(int f, int o, const repl_rec *rec)
{
	region *F = &S.r[f];

	if (rec->op == REPL_OP_PUT || rec->op == REPL_OP_DELETE) {
		int t = tidx(rec->table, rec->table_len);
		cf_version v;

		CHECK(t >= 0, "record of an unknown table");
		CHECK(cf_meta_decode(rec->meta, rec->meta_len, &v, NULL) ==
		    GT_OK, "meta of a decoded batch");
		cf_clock_recv(&F->clock, v.stamp.hlc, wall_ms());
		if (!F->t[t].holds)
			return;
		if (refuse_mode && !topo_rset_accepts(&F->t[t].set,
		    S.r[o].name)) {
			S.n_refused_recs++;
			return;
		}
		apply_version(f, t, parse_key(rec->key, rec->key_len), &v,
		    rec->op == REPL_OP_PUT ?
		    parse_val(rec->image, rec->image_len) : -1, AP_RECORD);
		return;
	}
	CHECK(rec->op == REPL_OP_TABLE_CREATE, "unexpected op %u", rec->op);
	if (tidx(rec->table, rec->table_len) >= 0) {
		topo_rset rs;

		CHECK(topo_rset_parse(rec->image, rec->image_len, &rs) ==
		    GT_OK, "replica set record does not parse");
		S.n_rset_recs++;
		handle_rset(f, tidx(rec->table, rec->table_len), &rs);
	} else {
		topo_members m;

		CHECK(rec->table_len == strlen(SIM_MEMBERS_TABLE) &&
		    memcmp(rec->table, SIM_MEMBERS_TABLE,
		    rec->table_len) == 0, "unknown table op");
		CHECK(topo_members_parse(rec->image, rec->image_len, &m) ==
		    GT_OK, "membership record does not parse");
		adopt_members(f, &m, 1);
	}
}

static void on_apply(const event *e)
{
	region *F = &S.r[e->reg];
	int f = e->reg, o = e->peer;
	repl_batch b;
	repl_rec rec;
	repl_event ev;
	uint32_t gen = e->gen;

	/* Crashed, or the puller was restarted (a cursor rewind, a
	 * membership change): the transaction commits nothing. */
	if (!F->up || e->inc != F->inc || gen != F->pgen[o])
		return;
	CHECK(repl_batch_decode(e->bytes, e->n, &S.key, &b) == GT_OK,
	    "re-decode of an accepted batch");
	S.in_apply = f;
	S.sync_pending = 0;
	while (repl_batch_next(&b, &rec)) {
		if (rec.origin_seq <= F->cursor[o])
			continue;
		apply_rec(f, o, &rec);
		F->last_seq++;
	}
	if (b.info.last_seq > F->cursor[o])
		F->cursor[o] = b.info.last_seq;
	S.in_apply = -1;
	if (S.sync_pending)
		sync_pullers(f);
	if (!F->pulling[o] || gen != F->pgen[o])
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_APPLIED;
	ev.cursor = F->cursor[o];
	puller_event(f, o, &ev, NULL, 0);
}

/* --------------------------------------------------------------- backfill */

static void bf_schedule(int f, int t, uint64_t delay_ms)
{
	tstate *T = &S.r[f].t[t];

	T->bf_tok++;
	ev_at(S.now + delay_ms, EV_BF, f, t, T->bf_tok);
}

static void bf_begin(int f, int t)
{
	tstate *T = &S.r[f].t[t];

	bf_clear(T);
	T->bf_active = 1;
	T->bf_phase = BF_START;
	/* Mostly the preferred source first; sometimes anywhere in the
	 * rotation (any complete ACTIVE copy may serve). */
	if (rng_chance(300))
		T->bf_attempt = (uint32_t)rng_range(1, 4);
	bf_schedule(f, t, rng_range(1, 20));
}

/* Starts over from the capture with the next candidate source. */
static void bf_restart(int f, int t)
{
	tstate *T = &S.r[f].t[t];

	S.n_bf_restart++;
	T->bf_phase = BF_START;
	T->bf_attempt++;
	T->bf_req_id = 0;
	T->bf_ncur = 0;
	T->bf_next_key = 0;
	bf_schedule(f, t, rng_range(50, 300));
}

/* A backfill that cannot go on is given up (fault phase only). */
static int bf_maybe_fail(int f, int t, unsigned per_mille)
{
	region *F = &S.r[f];
	topo_rset out;

	if (S.healed || !rng_chance(per_mille))
		return 0;
	if (topo_rset_fail(&F->t[t].set, F->name, &out) != GT_OK)
		return 0; /* an ACTIVE rebuild cannot fail: it goes on */
	S.n_fail++;
	make_change(f, t, &out);
	CHECK(!F->t[t].holds, "a failed replica keeps its copy");
	return 1;
}

static void on_bf(const event *e)
{
	int f = e->reg, t = e->peer;
	region *F = &S.r[f];
	tstate *T = &F->t[t];
	smsg *m;
	int src;

	if (!F->up || e->inc != F->inc || e->id != T->bf_tok ||
	    !T->bf_active || T->bf_req_id != 0)
		return;
	if (bf_maybe_fail(f, t, S.bf_fail_pm / 4))
		return;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		fail("out of memory");
	if (T->bf_phase == BF_START) {
		const char *s = topo_rset_backfill_source(&T->set, F->name,
		    T->bf_attempt);

		if (s == NULL) {
			T->bf_attempt++;
			bf_schedule(f, t, 300);
			free(m);
			return;
		}
		snprintf(T->bf_source, sizeof(T->bf_source), "%s", s);
		m->kind = M_BF_START;
	} else {
		m->kind = M_BF_CHUNK;
		m->gen = T->bf_src_gen;
		m->from_key = T->bf_next_key;
		m->nkeys = GT_MIN(S.chunk_keys, SIM_KEYS - T->bf_next_key);
	}
	src = ridx(T->bf_source);
	m->table = t;
	m->id = ++S.next_id;
	m->req_inc = F->inc;
	T->bf_req_id = m->id;
	msg_send(f, src, m);
	free(m);
	ev_at(S.now + SIM_BF_TIMEOUT_MS, EV_BF_TIMEOUT, f, t, T->bf_req_id);
}

static void on_bf_timeout(const event *e)
{
	int f = e->reg, t = e->peer;
	region *F = &S.r[f];
	tstate *T = &F->t[t];

	if (!F->up || e->inc != F->inc || !T->bf_active ||
	    T->bf_req_id != e->id)
		return;
	T->bf_req_id = 0;
	if (bf_maybe_fail(f, t, S.bf_fail_pm))
		return;
	if (T->bf_phase == BF_START)
		T->bf_attempt++;
	bf_schedule(f, t, rng_range(10, 100));
}

/* Source side: answer from a complete copy, else NOT_READY. */
static void bf_serve(int s, int f, const smsg *req)
{
	region *R = &S.r[s];
	tstate *T = &R->t[req->table];
	smsg *m;
	int ready = R->up && T->holds && !T->bf_active &&
	    status_in(s, req->table, s) == TOPO_ACTIVE;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		fail("out of memory");
	m->table = req->table;
	m->id = req->id;
	m->req_inc = req->req_inc;
	if (ready && req->kind == M_BF_START) {
		/* Cursors and store at one instant (one read transaction). */
		m->kind = M_BF_START_OK;
		m->gen = T->copy_gen;
		for (int o = 0; o < S.nreg; o++) {
			uint64_t c = o == s ? R->head_seq : R->cursor[o];

			if (c == 0)
				continue;
			snprintf(m->cur[m->ncur].region,
			    sizeof(m->cur[0].region), "%s", S.r[o].name);
			m->cur[m->ncur++].seq = c;
		}
	} else if (ready && req->kind == M_BF_CHUNK &&
	    req->gen == T->copy_gen) {
		m->kind = M_BF_CHUNK_OK;
		m->from_key = req->from_key;
		m->nkeys = req->nkeys;
		for (int k = 0; k < req->nkeys; k++)
			m->items[k] = T->store[req->from_key + k];
	} else {
		m->kind = M_BF_NOT_READY;
	}
	msg_send(s, f, m);
	free(m);
}

/*
 * The end of a backfill, in one step: rewind the cursors, re-apply own
 * records the source may lack, restart the pullers, activate.
 */
static void bf_finish(int f, int t)
{
	region *F = &S.r[f];
	tstate *T = &F->t[t];
	topo_cursor local[SIM_REGIONS_MAX], out[2 * SIM_REGIONS_MAX + 2];
	size_t nl = 0, n;
	topo_rset ns;

	for (int o = 0; o < S.nreg; o++) {
		uint64_t c = o == f ? F->head_seq : F->cursor[o];

		if (c == 0)
			continue;
		memset(&local[nl], 0, sizeof(local[nl]));
		snprintf(local[nl].region, sizeof(local[nl].region), "%s",
		    S.r[o].name);
		local[nl++].seq = c;
	}
	n = topo_backfill_cursors(local, nl, T->bf_cur, T->bf_ncur, out,
	    GT_ARRAY_LEN(out));
	CHECK(n > 0 || nl + T->bf_ncur == 0, "backfill cursors failed");
	for (size_t i = 0; i < n; i++) {
		int o = ridx(out[i].region);

		if (o == f) {
			/* Own writes from an earlier copy the source has not
			 * pulled yet: no puller brings them back. */
			for (size_t j = 0; j < F->log_n; j++) {
				const logrec *L = &F->log[j];
				cf_version v;

				if (L->seq <= out[i].seq ||
				    L->kind != LR_ITEM || L->table != t)
					continue;
				CHECK(cf_meta_decode(L->meta, L->meta_len, &v,
				    NULL) == GT_OK, "own meta");
				apply_version(f, t, L->key, &v, L->val,
				    AP_REPLAY);
				S.n_replayed++;
			}
			continue;
		}
		CHECK(out[i].seq <= F->cursor[o], "backfill moved a cursor "
		    "forward");
		F->cursor[o] = out[i].seq;
	}
	for (int o = 0; o < S.nreg; o++) {
		if (F->pulling[o]) {
			stop_puller(f, o);
			start_puller(f, o);
		}
	}
	bf_clear(T);
	S.n_bf_done++;
	if (topo_rset_activate(&T->set, F->name, &ns) == GT_OK)
		make_change(f, t, &ns);
}

static void bf_on_reply(int f, int src, const smsg *m)
{
	region *F = &S.r[f];
	tstate *T = &F->t[m->table];
	int t = m->table;

	if (!F->up || m->req_inc != F->inc || !T->bf_active ||
	    m->id != T->bf_req_id || ridx(T->bf_source) != src)
		return;
	T->bf_req_id = 0;
	switch (m->kind) {
	case M_BF_NOT_READY:
		if (!bf_maybe_fail(f, t, S.bf_fail_pm))
			bf_restart(f, t);
		return;
	case M_BF_START_OK:
		CHECK(T->bf_phase == BF_START, "capture outside START");
		T->bf_phase = BF_COPY;
		T->bf_src_gen = m->gen;
		T->bf_ncur = m->ncur;
		memcpy(T->bf_cur, m->cur, sizeof(T->bf_cur));
		T->bf_next_key = 0;
		bf_schedule(f, t, rng_range(1, 40));
		return;
	case M_BF_CHUNK_OK: {
		topo_rset ns;
		uint8_t pct;

		CHECK(T->bf_phase == BF_COPY &&
		    m->from_key == T->bf_next_key, "chunk out of order");
		for (int k = 0; k < m->nkeys; k++) {
			if (m->items[k].ver.exists)
				apply_version(f, t, m->from_key + k,
				    &m->items[k].ver, m->items[k].val,
				    AP_SNAPSHOT);
		}
		T->bf_next_key += m->nkeys;
		if (T->bf_next_key >= SIM_KEYS) {
			bf_finish(f, t);
			return;
		}
		pct = (uint8_t)(T->bf_next_key * 100 / SIM_KEYS);
		if (rng_chance(500) &&
		    topo_rset_progress(&T->set, F->name, pct, &ns) == GT_OK)
			make_change(f, t, &ns);
		if (T->bf_active)
			bf_schedule(f, t, rng_range(1, 60));
		return;
	}
	default:
		fail("unexpected backfill reply %d", m->kind);
	}
}

static void on_msg(const event *e)
{
	const smsg *m = (const smsg *)(const void *)e->bytes;
	int to = e->reg, from = e->peer;
	region *R = &S.r[to];

	if (!R->up)
		return;
	switch (m->kind) {
	case M_BF_START:
	case M_BF_CHUNK:
		bf_serve(to, from, m);
		break;
	case M_BF_START_OK:
	case M_BF_CHUNK_OK:
	case M_BF_NOT_READY:
		bf_on_reply(to, from, m);
		break;
	case M_MEMB_X:
	case M_MEMB_X_REPLY: {
		topo_members mm;
		smsg *r;
		gt_buf b = GT_BUF_INIT;

		CHECK(topo_members_parse(m->json, m->json_len, &mm) == GT_OK,
		    "exchanged membership does not parse");
		adopt_members(to, &mm, 1);
		if (m->kind == M_MEMB_X_REPLY)
			break;
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			fail("out of memory");
		topo_members_json(&R->mem, &b);
		CHECK(gt_buf_ok(&b) && b.len < SIM_JSON_MAX, "members json");
		r->kind = M_MEMB_X_REPLY;
		memcpy(r->json, b.data, b.len);
		r->json_len = b.len;
		msg_send(to, from, r);
		gt_buf_free(&b);
		free(r);
		break;
	}
	default:
		fail("unknown message %d", m->kind);
	}
}

/* --------------------------------------------------------------- clients */

/* A table r may take client writes to: a complete copy, ACTIVE. */
static int writable(int r, int t)
{
	const tstate *T = &S.r[r].t[t];

	return T->holds && !T->bf_active && self_member(r) &&
	    status_in(r, t, r) == TOPO_ACTIVE;
}

static void local_write(int r)
{
	region *R = &S.r[r];
	int t = (int)rng_range(0, SIM_TABLES - 1);
	int key = (int)rng_range(0, SIM_KEYS - 1);
	int del = rng_chance(200);
	item *it;
	cf_version nv;
	logrec *L;
	hist *H;
	uint64_t seq = R->last_seq + 1;
	gt_err err;

	if (!writable(r, t)) {
		t = 1 - t;
		if (!writable(r, t))
			return;
	}
	it = &R->t[t].store[key];
	err = cf_version_write(&R->clock, wall_ms(), &it->ver, R->name, seq,
	    del, &nv);
	CHECK(err == GT_OK, "cf_version_write: %s", gt_strerror(err));
	it->ver = nv;
	it->val = del ? -1 : S.next_val;
	L = log_append(r, seq);
	L->kind = LR_ITEM;
	L->table = t;
	L->hlc = nv.stamp.hlc;
	L->key = key;
	L->del = del;
	L->val = it->val;
	CHECK(cf_meta_encode_to(&nv, L->meta, sizeof(L->meta),
	    &L->meta_len) == GT_OK, "meta encode");
	if (S.h_n == S.h_cap) {
		S.h_cap = S.h_cap ? S.h_cap * 2 : 256;
		S.h = realloc(S.h, S.h_cap * sizeof(*S.h));
		if (S.h == NULL)
			fail("out of memory");
	}
	H = &S.h[S.h_n++];
	H->table = t;
	H->key = key;
	H->origin = r;
	H->del = del;
	H->seq = seq;
	H->stamp = nv.stamp;
	H->val = it->val;
	S.next_val++;
	wake_parked(r);
}

/* -------------------------------------------------------------- operator */

/* Every member holds the same set of t and no backfill of t runs. */
static int table_quiet(int t, const topo_rset *ref)
{
	for (int i = 0; i < S.nreg; i++) {
		const tstate *T = &S.r[i].t[t];

		if (T->bf_active)
			return 0;
		if (!self_member(i))
			continue;
		if (!T->have_set || memcmp(&T->set, ref, sizeof(*ref)) != 0)
			return 0;
	}
	return 1;
}

/*
 * The membership is settled and lists target: every member holds the same
 * membership, target is one of them and knows it, and every member has
 * applied every membership record in every member's log (so no change
 * made concurrently can still win a tie and drop target).  The operator
 * adds a replica only then: a region removed from the cluster while a
 * replica add of it is in flight (made from a membership that still
 * listed it) becomes a replica nobody pulls, and its writes are lost.
 */
/* 1 when a change (epoch, by) is newer than the view (e2, by2). */
static int change_newer(uint64_t epoch, const char *by, uint64_t e2,
    const char *by2)
{
	if (epoch != e2)
		return epoch > e2;
	return strncmp(by, by2, CF_REGION_NAME_MAX) > 0;
}

/*
 * No change of this kind is in flight: no record in any region's log
 * (departed regions included: a change that lost nothing yet may still
 * win a tie) is newer than what some member holds.
 */
static int records_settled(int kind)
{
	for (int o = 0; o < S.nreg; o++) {
		const region *O = &S.r[o];

		for (size_t j = 0; j < O->log_n; j++) {
			const logrec *L = &O->log[j];

			if (L->kind != kind)
				continue;
			for (int i = 0; i < S.nreg; i++) {
				const region *I = &S.r[i];

				if (!self_member(i))
					continue;
				if (kind == LR_MEMB && change_newer(L->epoch,
				    L->by, I->mem.epoch, I->mem.changed_by))
					return 0;
				if (kind == LR_RSET && change_newer(L->epoch,
				    L->by, I->t[L->table].set.epoch,
				    I->t[L->table].set.changed_by))
					return 0;
			}
		}
	}
	return 1;
}

/*
 * The membership is settled: every member holds the same membership and
 * no membership change is in flight.  The operator adds a replica only
 * in a region the settled membership lists, and removes a region only
 * from a settled membership: a region removed from the cluster while an
 * add of it is in flight (made from a membership that still listed it)
 * becomes a replica nobody pulls, and its writes are lost; a region that
 * removed itself by a change that later loses a tie is a member again,
 * and must have applied what the others did meanwhile.
 */
static int members_settled(void)
{
	int ref = -1;

	for (int i = 0; i < S.nreg; i++) {
		if (!self_member(i))
			continue;
		if (ref < 0)
			ref = i;
		if (memcmp(&S.r[i].mem, &S.r[ref].mem, sizeof(S.r[i].mem)))
			return 0;
	}
	return ref >= 0 && records_settled(LR_MEMB);
}

/* A random up member holding a complete copy of t, or -1. */
static int pick_holder(int t)
{
	int c[SIM_REGIONS_MAX], n = 0;

	for (int i = 0; i < S.nreg; i++) {
		if (S.r[i].up && self_member(i) && S.r[i].t[t].holds &&
		    !S.r[i].t[t].bf_active)
			c[n++] = i;
	}
	return n == 0 ? -1 : c[rng_next() % (uint64_t)n];
}

static void admin_add(void)
{
	int t = (int)rng_range(0, SIM_TABLES - 1);
	int x = pick_holder(t), target;
	region *X;
	tstate *T;
	topo_rset out;
	topo_refusal ref;

	if (x < 0)
		return;
	X = &S.r[x];
	T = &X->t[t];
	/* Mostly a region that is not a replica yet; sometimes anyone, to
	 * meet the refusals. */
	target = (int)rng_range(0, (uint64_t)S.nreg - 1);
	for (int tries = 0; tries < 8 && rng_chance(850) &&
	    (topo_rset_find(&T->set, S.r[target].name) != NULL ||
	    !knows_member(x, target)); tries++)
		target = (int)rng_range(0, (uint64_t)S.nreg - 1);
	if (knows_member(x, target) && (!self_member(target) ||
	    !members_settled()))
		return;
	ref = topo_rset_add(&T->set, &X->mem, X->name, S.r[target].name,
	    &out);
	if (ref != TOPO_OK) {
		CHECK(ref != TOPO_REFUSE_INVALID, "add refused as invalid");
		S.n_refused++;
		return;
	}
	S.n_add++;
	make_change(x, t, &out);
}

static void admin_drop(void)
{
	int t = (int)rng_range(0, SIM_TABLES - 1);
	int x = pick_holder(t);
	region *X;
	tstate *T;
	const topo_replica *p;
	const char *target;
	topo_rset out;
	topo_refusal ref;

	if (x < 0)
		return;
	X = &S.r[x];
	T = &X->t[t];
	if (rng_chance(900) && T->set.n > 0)
		target = T->set.r[rng_next() % T->set.n].region;
	else
		target = S.r[rng_next() % (uint64_t)S.nreg].name;
	p = topo_rset_find(&T->set, target);
	/* The operator drops an ACTIVE replica only from a quiet table, so
	 * a complete copy always survives (two drops made concurrently at
	 * different regions could otherwise delete every copy). */
	if (p != NULL && p->status == TOPO_ACTIVE && !table_quiet(t, &T->set))
		return;
	ref = topo_rset_drop(&T->set, X->name, target, &out);
	if (ref != TOPO_OK) {
		CHECK(ref != TOPO_REFUSE_INVALID, "drop refused as invalid");
		S.n_refused++;
		return;
	}
	if (p->status == TOPO_CREATING)
		S.n_cancel++;
	else
		S.n_drop++;
	make_change(x, t, &out);
}

static void admin_join(void)
{
	int x = (int)rng_range(0, (uint64_t)S.nreg - 1);
	int j = (int)rng_range(0, (uint64_t)S.nreg - 1);
	region *X = &S.r[x];
	topo_members out;

	for (int i = 0; i < S.nreg; i++) {
		if (!self_member(i))
			j = i;
	}
	if (!X->up || !self_member(x) || knows_member(x, j) ||
	    !S.r[j].up || S.cut[x][j] || S.cut[j][x])
		return;
	CHECK(topo_members_join(&X->mem, &S.r[j].addr, X->name, &out) ==
	    GT_OK, "join failed");
	S.n_join++;
	make_members_change(x, &out);
	/* The joining region adopts the answer of its admin call: the
	 * membership and the catalog (every table's replica set).  A change
	 * made by a region that has left lives only in that region's log,
	 * which a later member never pulls; the leave waited until every
	 * member had applied it, so the catalog of any member holds it. */
	adopt_members(j, &out, 1);
	for (int t = 0; t < SIM_TABLES; t++) {
		if (X->t[t].have_set)
			handle_rset(j, t, &X->t[t].set);
	}
}

/*
 * The operator's checks before c leaves: c holds nothing and is in no
 * set (but as CREATION_FAILED, which the sets' pruner then removes), no
 * replica-set change is in flight (an add of c that already lost a tie
 * can still reach c, which would build on it), the membership is
 * settled, no backfill runs, and every member has applied c's whole log.
 */
static int may_leave(int c)
{
	if (!members_settled() || !records_settled(LR_RSET))
		return 0;
	for (int i = 0; i < S.nreg; i++) {
		for (int t = 0; t < SIM_TABLES; t++) {
			int st = status_in(i, t, c);

			if (S.r[i].t[t].bf_active)
				return 0;
			if (self_member(i) && st != 0 &&
			    st != TOPO_CREATION_FAILED)
				return 0;
		}
		if (self_member(i) && i != c &&
		    S.r[i].cursor[c] < S.r[c].head_seq)
			return 0;
	}
	for (int t = 0; t < SIM_TABLES; t++) {
		if (S.r[c].t[t].holds)
			return 0;
	}
	return 1;
}

static void admin_leave(void)
{
	int x = (int)rng_range(0, (uint64_t)S.nreg - 1);
	int first = (int)rng_range(0, (uint64_t)S.nreg - 1);
	region *X = &S.r[x];
	topo_members out;

	if (!X->up || !self_member(x) || X->mem.n < 3)
		return;
	for (int k = 0; k < S.nreg; k++) {
		int c = (first + k) % S.nreg;

		if (!knows_member(x, c) || !may_leave(c))
			continue;
		CHECK(topo_members_leave(&X->mem, S.r[c].name, X->name,
		    &out) == GT_OK, "leave failed");
		S.n_leave++;
		make_members_change(x, &out);
		return;
	}
}

static void on_admin(void)
{
	unsigned op = (unsigned)rng_range(0, 99);

	if (op < 40)
		admin_add();
	else if (op < 72)
		admin_drop();
	else if (op < 85)
		admin_join();
	else
		admin_leave();
}

/* ------------------------------------------------------- crash / restart */

static void crash(int r)
{
	region *R = &S.r[r];

	if (!R->up)
		return;
	S.n_crashes++;
	R->up = 0;
	R->inc++;
	memset(R->park, 0, sizeof(R->park));
	for (int o = 0; o < S.nreg; o++) {
		if (R->pulling[o])
			stop_puller(r, o);
	}
	for (int t = 0; t < SIM_TABLES; t++) {
		R->t[t].bf_req_id = 0;
		R->t[t].bf_tok++;
	}
}

static void restart(int r)
{
	region *R = &S.r[r];
	uint64_t max = 0;

	if (R->up)
		return;
	R->up = 1;
	/* Seed the clock from the durable stamps, as the node does. */
	for (int t = 0; t < SIM_TABLES; t++) {
		for (int k = 0; k < SIM_KEYS; k++) {
			const item *it = &R->t[t].store[k];

			if (it->ver.exists && it->ver.stamp.hlc > max)
				max = it->ver.stamp.hlc;
		}
	}
	if (R->log_n > 0 && R->log[R->log_n - 1].hlc > max)
		max = R->log[R->log_n - 1].hlc;
	R->clock.last = 0;
	R->clock.skew_ms = R->skew_ms;
	cf_clock_recv(&R->clock, max, wall_ms());
	memset(R->last_x_ms, 0, sizeof(R->last_x_ms));
	sync_pullers(r);
	/* A backfill resumes where its durable state says. */
	for (int t = 0; t < SIM_TABLES; t++) {
		if (R->t[t].bf_active)
			bf_schedule(r, t, rng_range(1, 50));
	}
}

/* ------------------------------------------------------------- the run */

static int converged(void)
{
	int ref = -1;

	for (int i = 0; i < S.nreg; i++) {
		if (!S.r[i].up)
			return 0;
		for (int t = 0; t < SIM_TABLES; t++) {
			if (S.r[i].t[t].bf_active)
				return 0;
		}
		if (!self_member(i))
			continue;
		if (ref < 0)
			ref = i;
		if (memcmp(&S.r[i].mem, &S.r[ref].mem, sizeof(S.r[i].mem)))
			return 0;
	}
	if (ref < 0)
		return 0;
	for (int i = 0; i < S.nreg; i++) {
		/* Whoever the agreed membership lists must know it. */
		if (knows_member(ref, i) != self_member(i))
			return 0;
		if (!self_member(i))
			continue;
		for (int t = 0; t < SIM_TABLES; t++) {
			const topo_rset *rs = &S.r[i].t[t].set;

			if (memcmp(rs, &S.r[ref].t[t].set, sizeof(*rs)) ||
			    topo_rset_updating(rs))
				return 0;
			for (uint32_t k = 0; k < rs->n; k++) {
				if (topo_members_find(&S.r[ref].mem,
				    rs->r[k].region) == NULL)
					return 0;
			}
		}
		for (int o = 0; o < S.nreg; o++) {
			if (o != i && knows_member(ref, o) &&
			    S.r[i].cursor[o] != S.r[o].head_seq)
				return 0;
		}
	}
	return 1;
}

static void check_table(int t, int ref)
{
	const topo_rset *fs = &S.r[ref].t[t].set;
	int live = -1;

	for (int i = 0; i < S.nreg; i++) {
		const tstate *T = &S.r[i].t[t];
		int st = status_in(ref, t, i);

		CHECK(topo_rset_check(&T->set), "%s: invalid set of %s",
		    S.r[i].name, TABLES[t]);
		if (st == TOPO_ACTIVE) {
			CHECK(T->holds && !T->bf_active, "%s: ACTIVE replica "
			    "of %s without a complete copy", S.r[i].name,
			    TABLES[t]);
			if (live < 0)
				live = i;
			continue;
		}
		CHECK(st != TOPO_CREATING, "%s still CREATING", S.r[i].name);
		/* Dropped, failed, departed or never added: nothing. */
		CHECK(!T->holds, "%s holds %s without being a replica",
		    S.r[i].name, TABLES[t]);
		for (int k = 0; k < SIM_KEYS; k++)
			CHECK(!T->store[k].ver.exists, "%s holds an item of "
			    "%s without being a replica", S.r[i].name,
			    TABLES[t]);
	}
	CHECK(live >= 0, "%s has no ACTIVE replica (set epoch %" PRIu64 ")",
	    TABLES[t], fs->epoch);
	for (int k = 0; k < SIM_KEYS; k++) {
		const hist *best = NULL;
		uint64_t maxseq[SIM_REGIONS_MAX] = {0};
		const item *it0 = &S.r[live].t[t].store[k];

		for (size_t i = 0; i < S.h_n; i++) {
			const hist *H = &S.h[i];

			if (H->table != t || H->key != k)
				continue;
			if (best == NULL ||
			    cf_stamp_cmp(&H->stamp, &best->stamp) > 0)
				best = H;
			if (H->seq > maxseq[H->origin])
				maxseq[H->origin] = H->seq;
		}
		for (int i = 0; i < S.nreg; i++) {
			const item *it = &S.r[i].t[t].store[k];

			if (status_in(ref, t, i) != TOPO_ACTIVE)
				continue;
			CHECK(it->ver.exists == it0->ver.exists,
			    "%s key %d: exists differs at %s and %s",
			    TABLES[t], k, S.r[i].name, S.r[live].name);
			if (!it->ver.exists)
				continue;
			CHECK(cf_stamp_cmp(&it->ver.stamp, &it0->ver.stamp) ==
			    0 && it->ver.tombstone == it0->ver.tombstone &&
			    it->val == it0->val &&
			    cf_vv_compare(&it->ver.vv, &it0->ver.vv) ==
			    CF_VV_EQUAL, "%s key %d: %s and %s differ",
			    TABLES[t], k, S.r[i].name, S.r[live].name);
		}
		if (best == NULL) {
			CHECK(!it0->ver.exists, "%s key %d exists unwritten",
			    TABLES[t], k);
			continue;
		}
		CHECK(it0->ver.exists, "%s key %d lost (last write by %s)",
		    TABLES[t], k, S.r[best->origin].name);
		CHECK(cf_stamp_cmp(&it0->ver.stamp, &best->stamp) == 0,
		    "%s key %d: final stamp is not the largest written "
		    "(winner by %s seq %" PRIu64 ")", TABLES[t], k,
		    S.r[best->origin].name, best->seq);
		CHECK(it0->ver.tombstone == best->del && it0->val == best->val,
		    "%s key %d: final value is not the winner's", TABLES[t],
		    k);
		for (int r = 0; r < S.nreg; r++)
			CHECK(cf_vv_get(&it0->ver.vv, S.r[r].name) ==
			    maxseq[r], "%s key %d: vv[%s] = %" PRIu64
			    ", want %" PRIu64, TABLES[t], k, S.r[r].name,
			    cf_vv_get(&it0->ver.vv, S.r[r].name), maxseq[r]);
	}
}

static void check_final(void)
{
	int ref = -1;

	for (int i = 0; i < S.nreg; i++) {
		CHECK(topo_members_check(&S.r[i].mem), "%s: invalid "
		    "membership", S.r[i].name);
		if (self_member(i) && ref < 0)
			ref = i;
	}
	CHECK(ref >= 0, "no member left");
	for (int i = 0; i < S.nreg; i++) {
		if (!self_member(i))
			continue;
		CHECK(S.r[i].mem.epoch == S.r[ref].mem.epoch &&
		    memcmp(&S.r[i].mem, &S.r[ref].mem, sizeof(S.r[i].mem)) ==
		    0, "memberships differ at %s and %s", S.r[i].name,
		    S.r[ref].name);
		for (int t = 0; t < SIM_TABLES; t++)
			CHECK(memcmp(&S.r[i].t[t].set, &S.r[ref].t[t].set,
			    sizeof(topo_rset)) == 0, "sets of %s differ at "
			    "%s and %s", TABLES[t], S.r[i].name,
			    S.r[ref].name);
	}
	for (int t = 0; t < SIM_TABLES; t++)
		check_table(t, ref);
}

static void sim_free(void)
{
	sim_evq_free(&S.q);
	for (int i = 0; i < SIM_REGIONS_MAX; i++) {
		for (size_t j = 0; j < S.r[i].log_n; j++)
			free(S.r[i].log[j].json);
		free(S.r[i].log);
	}
	free(S.h);
	repl_key_free(&S.key);
	memset(&S, 0, sizeof(S));
}

/* A replica set of table t over the regions whose bit is set in mask. */
static void initial_set(topo_rset *rs, unsigned mask, const char *by)
{
	topo_members m;

	memset(&m, 0, sizeof(m));
	for (int i = 0; i < S.nreg; i++) {
		if (mask & (1u << i))
			CHECK(topo_members_join(&m, &S.r[i].addr, by, &m) ==
			    GT_OK, "initial join");
	}
	topo_rset_init_all(rs, &m, by);
	CHECK(topo_rset_check(rs), "initial set");
}

static void sim_setup(uint64_t seed)
{
	uint8_t key[32];
	topo_members m;
	unsigned members_mask;
	int outsider = -1;

	memset(&S, 0, sizeof(S));
	S.in_apply = -1;
	rng_state = seed;
	S.nreg = (int)rng_range(3, SIM_REGIONS_MAX);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rng_next();
	if (repl_key_init(&S.key, key, sizeof(key)) != GT_OK)
		fail("key init");
	repl_puller_cfg_default(&S.pcfg);
	S.pcfg.max_bytes = (uint32_t)rng_range(1, 3) * 4096;
	S.pcfg.wait_ms = (uint32_t)rng_range(200, 2000);
	S.pcfg.rpc_slack_ms = 300;
	S.pcfg.backoff_min_ms = 50;
	S.pcfg.backoff_max_ms = 1000;
	S.pcfg.idle_min_ms = 20;
	S.origin_max_bytes = (uint32_t)rng_range(1, 4) * 4096;
	S.drop_pm = (unsigned)rng_range(0, 50);
	S.dup_pm = (unsigned)rng_range(0, 50);
	S.corrupt_pm = (unsigned)rng_range(0, 5);
	S.bf_fail_pm = (unsigned)rng_range(0, 100);
	S.burst_pm = (unsigned)rng_range(0, 600);
	S.chunk_keys = (int)rng_range(1, 3);
	S.write_until = rng_range(1500, 4000);
	for (int a = 0; a < S.nreg; a++) {
		for (int b = a + 1; b < S.nreg; b++) {
			uint32_t d = (uint32_t)rng_range(1, 80);

			S.link_ms[a][b] = S.link_ms[b][a] = d;
		}
	}
	/* Maybe one region starts outside the cluster, to join later. */
	if (rng_chance(500))
		outsider = (int)rng_range(0, (uint64_t)S.nreg - 1);
	members_mask = ((1u << S.nreg) - 1) & ~(outsider >= 0 ?
	    1u << outsider : 0u);
	for (int i = 0; i < S.nreg; i++) {
		region *R = &S.r[i];

		snprintf(R->name, sizeof(R->name), "region-%c", 'a' + i);
		memcpy(R->addr.name, R->name, sizeof(R->addr.name));
		snprintf(R->addr.api_url, sizeof(R->addr.api_url),
		    "http://127.0.0.1:%d", 8000 + i);
		snprintf(R->addr.repl_url, sizeof(R->addr.repl_url),
		    "tcp://127.0.0.1:%d", 9000 + i);
		R->skew_ms = (int64_t)rng_range(0, 400) - 200;
		if (rng_chance(100))
			R->skew_ms *= 50;
		R->clock.skew_ms = R->skew_ms;
		R->up = 1;
	}
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < S.nreg; i++) {
		if (members_mask & (1u << i))
			CHECK(topo_members_join(&m, &S.r[i].addr,
			    S.r[0].name, &m) == GT_OK, "initial join");
	}
	for (int t = 0; t < SIM_TABLES; t++) {
		unsigned mask;
		topo_rset rs;

		do {
			mask = (unsigned)rng_next() & members_mask;
		} while (mask == 0);
		initial_set(&rs, mask, S.r[0].name);
		for (int i = 0; i < S.nreg; i++) {
			tstate *T = &S.r[i].t[t];

			T->have_set = 1;
			T->set = rs;
			if (mask & (1u << i)) {
				T->holds = 1;
				T->copy_gen = 1;
			}
		}
	}
	for (int i = 0; i < S.nreg; i++) {
		if (members_mask & (1u << i))
			S.r[i].mem = m;
	}
	for (int i = 0; i < S.nreg; i++) {
		sync_pullers(i);
		ev_at(rng_range(0, 20), EV_WRITE, i, 0, 0);
	}
	for (uint64_t at = rng_range(20, 200); at < S.write_until;
	    at += rng_range(40, 250))
		ev_at(at, EV_ADMIN, 0, 0, 0);
	for (int c = (int)rng_range(0, 3); c > 0; c--)
		ev_at(rng_range(0, S.write_until), EV_CRASH,
		    (int)rng_range(0, (uint64_t)S.nreg - 1), 0, 0);
	for (int c = (int)rng_range(0, 3); c > 0; c--) {
		int a = (int)rng_range(0, (uint64_t)S.nreg - 1);
		int b = (int)rng_range(0, (uint64_t)S.nreg - 1);
		uint64_t at = rng_range(0, S.write_until);

		if (a != b) {
			ev_at(at, EV_PARTITION, a, b, 1);
			ev_at(at + rng_range(100, 3000), EV_PARTITION, a, b,
			    0);
		}
	}
	ev_at(S.write_until, EV_HEAL, 0, 0, 0);
}

static void run_seed(uint64_t seed)
{
	uint64_t drain_end = 0;

	cur_seed = seed;
	sim_setup(seed);
	for (;;) {
		event e;

		CHECK(S.q.n > 0, "event queue ran dry");
		e = ev_pop();
		CHECK(e.at >= S.now, "time went backwards");
		S.now = e.at;
		S.n_events++;
		switch (e.kind) {
		case EV_REQ:
			on_request(&e);
			break;
		case EV_RESP:
			on_response(&e);
			break;
		case EV_NETERR:
			on_neterr(&e);
			break;
		case EV_TIMER:
			on_timer(&e);
			break;
		case EV_APPLY:
			on_apply(&e);
			break;
		case EV_PARK:
			on_park(&e);
			break;
		case EV_WRITE:
			if (S.now >= S.write_until)
				break;
			if (S.r[e.reg].up)
				local_write(e.reg);
			ev_at(S.now + rng_range(2, 30), EV_WRITE, e.reg, 0, 0);
			break;
		case EV_CRASH:
			if (S.healed)
				break;
			crash(e.reg);
			ev_at(S.now + rng_range(50, 3000), EV_RESTART, e.reg,
			    0, 0);
			break;
		case EV_RESTART:
			restart(e.reg);
			break;
		case EV_PARTITION:
			if (!S.healed)
				S.cut[e.reg][e.peer] = S.cut[e.peer][e.reg] =
				    (int)e.id;
			break;
		case EV_ADMIN:
			if (S.healed)
				break;
			on_admin();
			/* Bursts: a second operator acts before the first
			 * change has spread (changes tie on their epoch). */
			if (e.id == 0 && rng_chance(S.burst_pm))
				ev_at(S.now + rng_range(0, 40), EV_ADMIN, 0, 0,
				    1);
			break;
		case EV_MSG:
			on_msg(&e);
			break;
		case EV_BF:
			on_bf(&e);
			break;
		case EV_BF_TIMEOUT:
			on_bf_timeout(&e);
			break;
		case EV_HEAL:
			S.healed = 1;
			memset(S.cut, 0, sizeof(S.cut));
			for (int i = 0; i < S.nreg; i++)
				restart(i);
			drain_end = S.now + SIM_DRAIN_MAX_MS;
			ev_at(S.now + 50, EV_CHECK, 0, 0, 0);
			break;
		case EV_CHECK:
			if (converged())
				goto done;
			CHECK(S.now < drain_end, "no convergence %u ms after "
			    "healing", SIM_DRAIN_MAX_MS);
			ev_at(S.now + 50, EV_CHECK, 0, 0, 0);
			break;
		default:
			fail("unknown event %d", e.kind);
		}
		free(e.bytes);
	}
done:
	check_final();
	if (verbose)
		printf("seed %" PRIu64 ": regions %d writes %zu events %"
		    PRIu64 " msgs %" PRIu64 " conflicts %" PRIu64
		    " adds %" PRIu64 " drops %" PRIu64 " cancels %" PRIu64
		    " joins %" PRIu64 " leaves %" PRIu64 " refused %" PRIu64
		    " backfills %" PRIu64 " rebuilds %" PRIu64
		    " bf-restarts %" PRIu64 " failed %" PRIu64 " prunes %"
		    PRIu64 " replayed %" PRIu64 " crashes %" PRIu64
		    " sim_ms %" PRIu64 "\n", seed, S.nreg, S.h_n, S.n_events,
		    S.n_msgs, S.n_conflicts, S.n_add, S.n_drop, S.n_cancel,
		    S.n_join, S.n_leave, S.n_refused, S.n_bf_done,
		    S.n_rebuild, S.n_bf_restart, S.n_fail, S.n_prune,
		    S.n_replayed, S.n_crashes, S.now);
}

int main(void)
{
	const char *one = getenv("MERIDIAN_SEED");
	const char *cnt = getenv("MERIDIAN_SIM_SEEDS");
	const char *rf = getenv("MERIDIAN_TOPO_REFUSE");
	uint64_t first, count = 1000;
	uint64_t tot_w = 0, tot_add = 0, tot_drop = 0, tot_bf = 0;
	uint64_t tot_mem = 0, tot_crash = 0, tot_rebuild = 0, tot_fail = 0;
	uint64_t tot_prune = 0;
	struct timespec t0, t1;

	gt_log_min = GT_LOG_OFF;
	refuse_mode = rf != NULL && *rf != '\0' && *rf != '0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (one != NULL && *one != '\0') {
		verbose = 1;
		run_seed(strtoull(one, NULL, 10));
		sim_free();
		printf("sim_topo: seed %s passed\n", one);
		return 0;
	}
	if (cnt != NULL && *cnt != '\0')
		count = strtoull(cnt, NULL, 10);
	first = (uint64_t)time(NULL) * 1000003u;
	printf("sim_topo: seeds %" PRIu64 "..%" PRIu64 "%s\n", first,
	    first + count - 1, refuse_mode ? " (refuse mode)" : "");
	fflush(stdout);
	for (uint64_t i = 0; i < count; i++) {
		run_seed(first + i);
		tot_w += S.h_n;
		tot_add += S.n_add;
		tot_drop += S.n_drop + S.n_cancel;
		tot_bf += S.n_bf_done;
		tot_rebuild += S.n_rebuild;
		tot_mem += S.n_join + S.n_leave;
		tot_crash += S.n_crashes;
		tot_fail += S.n_fail;
		tot_prune += S.n_prune;
		sim_free();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sim_topo: %" PRIu64 " seeds passed (%" PRIu64 " writes, %"
	    PRIu64 " adds, %" PRIu64 " drops, %" PRIu64 " backfills, %"
	    PRIu64 " failed, %" PRIu64 " rebuilds, %" PRIu64
	    " joins/leaves, %" PRIu64 " prunes, %" PRIu64
	    " crashes) in %.1f s\n", count, tot_w, tot_add, tot_drop, tot_bf,
	    tot_fail, tot_rebuild, tot_mem, tot_prune, tot_crash,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
