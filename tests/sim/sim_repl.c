/*
 * sim_repl.c — deterministic simulation of replication between 3-5
 * regions in one thread (DESIGN.md section 9).
 *
 * Each seed builds a small cluster and runs it on a simulated clock:
 *   - every region has a durable in-memory store (a hot key space of
 *     SIM_KEYS keys -> cf_version + value), its own change log (the
 *     records it originated, truncated by repl_retention_plan), its
 *     cursors and acks, and an HLC with a per-region skew;
 *   - clients write and delete random hot keys in every region
 *     (cf_version_write), so there are real conflicts;
 *   - each region runs one repl_puller per peer; PULL, BATCH and ERROR
 *     travel as real frames (repl_frame.c, HMAC and all) over a simulated
 *     network with per-link delay and jitter, loss, duplication, bit
 *     corruption and partitions; origins answer with repl_origin_decide,
 *     parking pulls until a write commits (long-poll);
 *   - followers apply batches exactly as the region node does: one atomic
 *     step that cf_clock_recv's and cf_resolve's every record past the
 *     cursor and moves the cursor; applies can fail;
 *   - regions crash (losing parked pulls, pullers, timers, in-flight
 *     messages and applies; keeping store, log, cursors, acks) and
 *     restart; a follower told RESYNC backfills from the origin's store;
 *   - then writes stop, partitions heal, every region comes back, and the
 *     cluster runs until every cursor has reached its origin's head.
 * It then asserts that every store is identical (value, stamp, tombstone,
 * vector) and equals the ground truth from the history of acknowledged
 * writes: for each key, the write with the largest stamp, and for each
 * region the largest seq it wrote to that key in the vector.  So every
 * acknowledged write is either the final value of its key or superseded
 * by a larger stamp.
 *
 * Secondary indexes.  The simulated table ("t", partition key "pk" S) has
 * two global secondary indexes built by rn_table_from_json from a real
 * descriptor: "by_g_n" (hash "g" S, range "n" N) and "by_n" (hash "n" N
 * only), so both a composite and a hash-only index key are covered.  GSIs
 * rather than an LSI because the sim's items are keyed by partition key
 * alone (the replicated key is {"pk":...}), and an LSI needs a table sort
 * key.  Every stored write id has a real item body, a pure function of the
 * id: {"pk", "v": the id, "g": "a"|"b"|"c", "n": 0..9}, where "g" or "n"
 * is sometimes missing, so both indexes are sparse.  It is that body which
 * travels as the replicated image (each apply checks it byte for byte).
 * Each region keeps its index entries, the pairs (rn_index_entry_key
 * bytes, item key bytes from rn_table_key_encode), as a sorted set beside
 * its store, durable like the store (a crash keeps it).  Every change of a
 * stored item goes through store_set, which moves the item's entries from
 * its old body to its new one with rn_index_entry_key exactly as
 * rn_index_item does in the node's write transaction: local writes,
 * replicated applies, backfill after RESYNC; tombstones hold no entries.
 * After convergence the sim asserts, for every region, that this
 * incrementally kept index equals a rebuild from the region's final store,
 * and that all regions' indexes are equal (index.h rule 2).
 *
 * Environment: MERIDIAN_SEED=N runs exactly seed N (and prints its trace
 * summary); MERIDIAN_SIM_SEEDS=K runs K seeds (default 1000) starting
 * from a seed derived from the time, printed first.  A failure prints the
 * seed and the command that replays it, and the program exits 1.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conflict.h"
#include "gt.h"
#include "index.h"
#include "repl.h"
#include "simkit.h"
#include "table.h"

#define SIM_REGIONS_MAX 5
#define SIM_KEYS 6
#define SIM_PARKED_MAX (SIM_REGIONS_MAX * 4)
#define SIM_META_MAX 128
#define SIM_WALL_BASE_MS UINT64_C(1700000000000)
#define SIM_DRAIN_MAX_MS 120000u
#define SIM_TABLE "t"
#define SIM_NIX 2           /* secondary indexes of the table */
#define SIM_IX_CAP (SIM_KEYS * SIM_NIX * 2) /* room for stale entries */
#define SIM_IXKEY_MAX 64    /* index key bytes */
#define SIM_TKEY_MAX 48     /* item key bytes */

/* ------------------------------------------------------------ randomness */

/* rng_next, rng_range, rng_chance and rng_state: simkit.h */

/* --------------------------------------------------------------- failure */

static uint64_t cur_seed;
static int verbose;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sim_repl: seed %" PRIu64 " FAILED: ", cur_seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nreplay: MERIDIAN_SEED=%" PRIu64
	    " build/tests/sim_repl\n", cur_seed);
	exit(1);
}

#define CHECK(cond, ...)                                                \
	do {                                                            \
		if (!(cond))                                            \
			fail(__VA_ARGS__);                              \
	} while (0)

/* ----------------------------------------------------------------- model */

typedef struct item {
	cf_version ver;   /* exists = 0: never seen */
	int64_t val;      /* the write id whose body is stored */
} item;

/*
 * One index entry, as the node's "index" database holds it: the index key
 * (u32 index id | u32 h | enc(index keys)) and the item's key in the items
 * database.  key and ix only name the entry in failure messages.
 */
typedef struct ixent {
	uint8_t ik[SIM_IXKEY_MAX];
	size_t ik_len;
	uint8_t tk[SIM_TKEY_MAX];
	size_t tk_len;
	int key, ix;
} ixent;

/* A sorted set of entries, in LMDB's order (a duplicate-key database
 * compares keys, then data, bytewise with the shorter first). */
typedef struct simix {
	ixent e[SIM_IX_CAP];
	size_t n;
} simix;

typedef struct logrec {
	uint64_t seq, hlc;
	int key;
	int del;
	int64_t val;
	uint8_t meta[SIM_META_MAX];
	size_t meta_len;
} logrec;

typedef struct parked {
	int used;
	uint64_t id;       /* to recognise this slot's PARK_CHECK */
	repl_pull req;
	uint64_t recv_ms;
	int from;
	uint32_t from_inc; /* the requester incarnation (its socket) */
} parked;

typedef struct region {
	char name[CF_REGION_NAME_MAX];
	int up;
	uint32_t inc;            /* incarnation: bumped by a crash */
	int64_t skew_ms;
	/* durable */
	item store[SIM_KEYS];
	simix ix;                /* index entries, committed with store */
	logrec *log;             /* own records, ascending seq */
	size_t log_n, log_cap;
	uint64_t last_seq;       /* last local log seq (own + replicated) */
	uint64_t head_seq;       /* last seq of an own record */
	uint64_t trunc_seq;
	uint64_t cursor[SIM_REGIONS_MAX];
	uint64_t acked[SIM_REGIONS_MAX];
	cf_clock clock;
	/* volatile */
	repl_puller pull[SIM_REGIONS_MAX];
	uint64_t timer_armed[SIM_REGIONS_MAX];
	parked park[SIM_PARKED_MAX];
} region;

typedef struct hist {
	int key, origin, del;
	uint64_t seq;
	cf_stamp stamp;
	int64_t val;
} hist;

enum ev_kind {
	EV_REQ = 1,     /* a PULL frame arrives at an origin */
	EV_RESP,        /* a BATCH/ERROR frame arrives at a follower */
	EV_NETERR,      /* the follower's transport reports a failure */
	EV_TIMER,       /* a puller timer */
	EV_APPLY,       /* a batch apply commits (or fails) */
	EV_PARK,        /* a parked pull's deadline */
	EV_WRITE,       /* a client write */
	EV_CRASH,
	EV_RESTART,
	EV_BACKFILL,
	EV_PARTITION,   /* toggles the link (reg, peer) */
	EV_HEAL,        /* end of the fault phase */
	EV_CHECK        /* convergence check during the drain */
};

typedef sim_event event; /* simkit.h */

typedef struct sim {
	int nreg;
	region r[SIM_REGIONS_MAX];
	uint64_t now;
	sim_evq q;
	hist *h;
	size_t h_n, h_cap;
	int64_t next_val;
	uint64_t next_park_id;
	repl_key key;
	repl_puller_cfg pcfg;
	/* per-seed knobs */
	uint32_t link_ms[SIM_REGIONS_MAX][SIM_REGIONS_MAX];
	int cut[SIM_REGIONS_MAX][SIM_REGIONS_MAX];
	unsigned drop_pm, dup_pm, corrupt_pm, refuse_pm, apply_fail_pm;
	uint32_t origin_max_bytes;
	uint64_t keep_max;
	uint64_t write_until;
	int healed;
	/* statistics */
	uint64_t n_msgs, n_conflicts, n_resyncs, n_crashes, n_applied;
	uint64_t n_stale_drop, n_auth_fail, n_events;
	uint64_t n_ix_entries, n_ix_absent;
} sim;

static sim S;

/* The simulated table, shared by every seed (built once in main). */
static struct {
	rn_table *t;
	uint8_t tk[SIM_KEYS][SIM_TKEY_MAX]; /* each key's item key bytes */
	size_t tk_len[SIM_KEYS];
	gt_buf kb;                          /* scratch for entry keys */
} T;

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

/* --------------------------------------------------------------- network */

static uint64_t wall_ms(void)
{
	return SIM_WALL_BASE_MS + S.now;
}

static uint64_t link_delay(int a, int b)
{
	return S.link_ms[a][b] + rng_range(0, 15);
}

/*
 * Sends a frame from region src to dst.  kind is EV_REQ or EV_RESP; inc is
 * the incarnation of the requester (src for a request, dst for a reply),
 * which stands for its socket: a restarted region never sees replies to
 * the requests of its previous life.  Loss, duplication and corruption
 * apply per copy; a partitioned link loses everything.
 */
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

/* --------------------------------------------------------- store helpers */

static void key_json(int key, char *buf, size_t cap)
{
	snprintf(buf, cap, "{\"pk\":{\"S\":\"k%d\"}}", key);
}

/*
 * The index attributes of write id val's body, mixed from the id so that
 * successive writes to a key move it around the indexes: *g is 0..2
 * ("a".."c") or -1 when missing (1 in 4), *n is 0..9 or -1 (1 in 6).
 */
static void item_attrs(int64_t val, int *g, int *n)
{
	uint64_t h = (uint64_t)val * UINT64_C(0x9e3779b97f4a7c15);

	h = (h ^ (h >> 29)) * UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 32;
	*g = (int)(h % 4) - 1;
	*n = (int)((h >> 8) % 12);
	if (*n >= 10)
		*n = -1;
}

/* Appends s at *p, advancing it. */
static void put_str(char **p, const char *s)
{
	size_t n = strlen(s);

	memcpy(*p, s, n);
	*p += n;
}

/* Appends the decimal form of v (>= 0) at *p, advancing it. */
static void put_dec(char **p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0)
		*(*p)++ = tmp[--n];
}

/*
 * The body of write id val (>= 0) to key: the replicated image, and what
 * the indexes are computed from.  Formatted by hand rather than with
 * snprintf: it is built for every record sent and every index change, and
 * the sim must stay fast.
 */
static void image_json(int key, int64_t val, char *buf, size_t cap)
{
	char *p = buf;
	int g, n;

	CHECK(cap >= 128 && key >= 0 && val >= 0, "image of key %d", key);
	item_attrs(val, &g, &n);
	put_str(&p, "{\"pk\":{\"S\":\"k");
	put_dec(&p, (uint64_t)key);
	put_str(&p, "\"},\"v\":{\"N\":\"");
	put_dec(&p, (uint64_t)val);
	put_str(&p, "\"}");
	if (g >= 0) {
		put_str(&p, ",\"g\":{\"S\":\"");
		*p++ = (char)('a' + g);
		put_str(&p, "\"}");
	}
	if (n >= 0) {
		put_str(&p, ",\"n\":{\"N\":\"");
		put_dec(&p, (uint64_t)n);
		put_str(&p, "\"}");
	}
	put_str(&p, "}");
	*p = '\0';
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

/* ---------------------------------------------------------------- indexes */

/* The write id whose body is live under it, or -1: never written, or a
 * tombstone.  A live item always has a body, a tombstone never. */
static int64_t live_val(const item *it)
{
	if (!it->ver.exists)
		return -1;
	CHECK(it->ver.tombstone ? it->val == -1 : it->val >= 0,
	    "stored value %" PRId64 " disagrees with tombstone %d", it->val,
	    (int)it->ver.tombstone);
	return it->ver.tombstone ? -1 : it->val;
}

/*
 * The entries of key's item with body val (-1: not live) in each index:
 * in[i] says whether it belongs in index i, e[i] is then its entry.  The
 * membership rule is rn_index_entry_key's, as in the node.
 */
static void item_entries(int key, int64_t val, ixent e[SIM_NIX],
    int in[SIM_NIX])
{
	cJSON *body = NULL;

	if (val >= 0) {
		char buf[128];

		image_json(key, val, buf, sizeof(buf));
		body = cJSON_Parse(buf);
		CHECK(body != NULL, "body of key %d does not parse", key);
	}
	for (int i = 0; i < SIM_NIX; i++) {
		gt_buf_reset(&T.kb);
		in[i] = rn_index_entry_key(&T.t->indexes[i], body, &T.kb);
		CHECK(in[i] >= 0, "rn_index_entry_key: out of memory");
		if (!in[i])
			continue;
		CHECK(T.kb.len <= SIM_IXKEY_MAX, "index key of %zu bytes",
		    T.kb.len);
		memcpy(e[i].ik, T.kb.data, T.kb.len);
		e[i].ik_len = T.kb.len;
		memcpy(e[i].tk, T.tk[key], T.tk_len[key]);
		e[i].tk_len = T.tk_len[key];
		e[i].key = key;
		e[i].ix = i;
	}
	cJSON_Delete(body);
}

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b,
    size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

static int ixent_cmp(const ixent *a, const ixent *b)
{
	int c = bytes_cmp(a->ik, a->ik_len, b->ik, b->ik_len);

	return c != 0 ? c : bytes_cmp(a->tk, a->tk_len, b->tk, b->tk_len);
}

/* The position of the first entry of x not below e. */
static size_t ix_lower(const simix *x, const ixent *e)
{
	size_t i = 0;

	while (i < x->n && ixent_cmp(&x->e[i], e) < 0)
		i++;
	return i;
}

/* Adds e unless present (MDB_NODUPDATA: an existing entry stays). */
static void ix_add(simix *x, const ixent *e)
{
	size_t i = ix_lower(x, e);

	if (i < x->n && ixent_cmp(&x->e[i], e) == 0)
		return;
	CHECK(x->n < SIM_IX_CAP, "index holds %d entries for %d items in "
	    "%d indexes: stale entries (adding one of k%d)", SIM_IX_CAP,
	    SIM_KEYS, SIM_NIX, e->key);
	memmove(&x->e[i + 1], &x->e[i], (x->n - i) * sizeof(x->e[0]));
	x->e[i] = *e;
	x->n++;
}

/* Removes e when present (mdb_del of a missing entry is no error). */
static void ix_del(simix *x, const ixent *e)
{
	size_t i = ix_lower(x, e);

	if (i == x->n || ixent_cmp(&x->e[i], e) != 0)
		return;
	memmove(&x->e[i], &x->e[i + 1], (x->n - i - 1) * sizeof(x->e[0]));
	x->n--;
}

/*
 * Moves key's entries from body old_val to body new_val (-1: not live),
 * index by index as rn_index_item does: an entry that stays in place is
 * left alone, otherwise the old one goes and the new one comes.  Equal
 * bodies have equal entries, so then there is nothing to compute.
 */
static void index_move(simix *x, int key, int64_t old_val, int64_t new_val)
{
	ixent eo[SIM_NIX], en[SIM_NIX];
	int io[SIM_NIX], in[SIM_NIX];

	if (old_val == new_val)
		return;
	item_entries(key, old_val, eo, io);
	item_entries(key, new_val, en, in);
	for (int i = 0; i < SIM_NIX; i++) {
		if (io[i] && in[i] && ixent_cmp(&eo[i], &en[i]) == 0)
			continue;
		if (io[i])
			ix_del(x, &eo[i]);
		if (in[i])
			ix_add(x, &en[i]);
	}
}

/*
 * The one way a region's stored item changes: version and body together
 * with its index entries, as the node does in one write transaction.
 */
static void store_set(int r, int key, const cf_version *ver, int64_t val)
{
	region *R = &S.r[r];
	item *it = &R->store[key];
	int64_t old_val = live_val(it);

	it->ver = *ver;
	it->val = val;
	index_move(&R->ix, key, old_val, live_val(it));
}

/* Formats e for a failure message. */
static const char *ixent_str(const simix *x, size_t i, char *buf,
    size_t cap)
{
	const ixent *e;
	size_t len;

	if (i >= x->n)
		return "(no entry)";
	e = &x->e[i];
	len = (size_t)snprintf(buf, cap, "%s key ",
	    T.t->indexes[e->ix].kt->name);
	for (size_t j = 0; j < e->ik_len && len + 3 < cap; j++)
		len += (size_t)snprintf(buf + len, cap - len, "%02x", e->ik[j]);
	if (len < cap)
		snprintf(buf + len, cap - len, " -> k%d", e->key);
	return buf;
}

/* Fails at the first entry where a (named an) and b (named bn) differ. */
static void ix_expect_equal(const simix *a, const char *an, const simix *b,
    const char *bn)
{
	size_t n = a->n > b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		char sa[256], sb[256];

		if (i < a->n && i < b->n && ixent_cmp(&a->e[i], &b->e[i]) == 0)
			continue;
		fail("index entry %zu differs: %s has %s, %s has %s", i, an,
		    ixent_str(a, i, sa, sizeof(sa)), bn,
		    ixent_str(b, i, sb, sizeof(sb)));
	}
}

/* Builds the simulated table from its descriptor, and the item keys. */
static void table_setup(void)
{
	static const char desc_json[] =
	    "{\"Id\":1,\"TableName\":\"" SIM_TABLE "\","
	    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
	    "\"AttributeDefinitions\":["
	    "{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
	    "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"},"
	    "{\"AttributeName\":\"n\",\"AttributeType\":\"N\"}],"
	    "\"GlobalSecondaryIndexes\":["
	    "{\"IndexName\":\"by_g_n\",\"KeySchema\":["
	    "{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"},"
	    "{\"AttributeName\":\"n\",\"KeyType\":\"RANGE\"}],"
	    "\"Projection\":{\"ProjectionType\":\"ALL\"},\"Id\":2},"
	    "{\"IndexName\":\"by_n\",\"KeySchema\":["
	    "{\"AttributeName\":\"n\",\"KeyType\":\"HASH\"}],"
	    "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"},\"Id\":3}]}";
	cJSON *desc = cJSON_Parse(desc_json);
	char msg[RN_MSG_MAX];
	gt_err err;

	CHECK(desc != NULL, "table descriptor does not parse");
	err = rn_table_from_json(desc, &T.t);
	if (err != GT_OK) {
		cJSON_Delete(desc);
		fail("rn_table_from_json: %s", gt_strerror(err));
	}
	CHECK(T.t->nindexes == SIM_NIX && T.t->indexes[0].kt->id == 2 &&
	    T.t->indexes[1].kt->id == 3 && !rn_table_backfilling(T.t) &&
	    T.t->indexes[0].kt->range.type == RN_AV_N &&
	    T.t->indexes[1].kt->range.type == RN_AV_NONE,
	    "table indexes not as described");
	for (int k = 0; k < SIM_KEYS; k++) {
		char kbuf[64];
		cJSON *key;

		key_json(k, kbuf, sizeof(kbuf));
		key = cJSON_Parse(kbuf);
		CHECK(key != NULL, "key does not parse");
		gt_buf_reset(&T.kb);
		err = rn_table_key_encode(T.t, key, 1, &T.kb, msg);
		cJSON_Delete(key);
		CHECK(err == GT_OK && T.kb.len <= SIM_TKEY_MAX,
		    "item key of k%d: %s", k, gt_strerror(err));
		memcpy(T.tk[k], T.kb.data, T.kb.len);
		T.tk_len[k] = T.kb.len;
	}
}

static void table_free(void)
{
	rn_table_unref(T.t);
	gt_buf_free(&T.kb);
	memset(&T, 0, sizeof(T));
}

/* Runs retention at origin o: truncates its log and notes resyncs. */
static void retention(int o)
{
	region *R = &S.r[o];
	repl_peer_ack peers[SIM_REGIONS_MAX];
	repl_retention_in in;
	repl_retention_out out;
	size_t np = 0, cut = 0;

	for (int i = 0; i < S.nreg; i++) {
		if (i == o)
			continue;
		peers[np].acked_seq = R->acked[i];
		peers[np].active = 1;
		peers[np].must_resync = 0;
		np++;
	}
	memset(&in, 0, sizeof(in));
	in.head_seq = R->head_seq;
	in.trunc_seq = R->trunc_seq;
	in.keep_max = S.keep_max;
	CHECK(repl_retention_plan(&in, peers, np, &out) == GT_OK,
	    "retention plan failed");
	CHECK(out.trunc_to >= R->trunc_seq && out.trunc_to <= R->head_seq,
	    "retention out of range");
	if (S.keep_max == 0)
		CHECK(out.n_resync == 0, "unlimited retention forced resync");
	while (cut < R->log_n && R->log[cut].seq <= out.trunc_to)
		cut++;
	if (cut > 0) {
		memmove(R->log, R->log + cut, (R->log_n - cut) *
		    sizeof(*R->log));
		R->log_n -= cut;
	}
	R->trunc_seq = out.trunc_to;
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

/* Builds and sends the BATCH that answers req (kind from decide). */
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
	info.trunc_seq = R->trunc_seq;
	info.origin_hlc = cf_clock_now(&R->clock, wall_ms());
	if (a->kind == REPL_ANSWER_RESYNC)
		info.flags = REPL_BATCH_F_RESYNC;
	CHECK(repl_batch_enc_begin(&e, &b, R->name, &info, a->max_bytes) ==
	    GT_OK, "batch begin");
	if (a->kind == REPL_ANSWER_NOW) {
		while (i < R->log_n && R->log[i].seq <= req->after_seq)
			i++;
		CHECK(i < R->log_n, "NOW answer without records");
		for (; i < R->log_n; i++) {
			const logrec *L = &R->log[i];
			repl_rec rec;
			gt_err err;

			memset(&rec, 0, sizeof(rec));
			key_json(L->key, kbuf, sizeof(kbuf));
			rec.origin_seq = L->seq;
			rec.hlc = L->hlc;
			rec.op = L->del ? REPL_OP_DELETE : REPL_OP_PUT;
			rec.table = SIM_TABLE;
			rec.table_len = strlen(SIM_TABLE);
			rec.key = kbuf;
			rec.key_len = strlen(kbuf);
			if (!L->del) {
				image_json(L->key, L->val, ibuf, sizeof(ibuf));
				rec.image = ibuf;
				rec.image_len = strlen(ibuf);
			}
			rec.meta = L->meta;
			rec.meta_len = L->meta_len;
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

static repl_origin_view origin_view(int o)
{
	repl_origin_view v;

	v.head_seq = S.r[o].head_seq;
	v.trunc_seq = S.r[o].trunc_seq;
	v.max_bytes = S.origin_max_bytes;
	v.wait_max_ms = 3000;
	return v;
}

/* Decides for one pull; returns 1 when it was answered (not parked). */
static int origin_handle(int o, int f, uint32_t f_inc, uint64_t ctx_id,
    const repl_pull *req, uint64_t recv_ms, int already_parked)
{
	region *R = &S.r[o];
	repl_origin_view v = origin_view(o);
	repl_answer a;

	repl_origin_decide(&v, req, recv_ms, S.now, &a);
	if (a.ack_valid && !already_parked) {
		/* Record the ack (never backwards: a duplicated or delayed
		 * PULL carries an old after_seq) and truncate, then decide
		 * against the log as it now is: retention may have moved
		 * past after_seq. */
		if (a.ack_seq > R->acked[f])
			R->acked[f] = a.ack_seq;
		retention(o);
		v = origin_view(o);
		repl_origin_decide(&v, req, recv_ms, S.now, &a);
	}
	if (a.kind != REPL_ANSWER_RESYNC)
		CHECK(req->after_seq >= R->trunc_seq, "answering below the "
		    "truncation point");
	if (a.kind == REPL_ANSWER_PARK) {
		if (already_parked)
			return 0;
		for (int i = 0; i < SIM_PARKED_MAX; i++) {
			parked *P = &R->park[i];

			if (P->used)
				continue;
			P->used = 1;
			P->id = ++S.next_park_id;
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
	gt_err err;
	int f = e->peer;

	if (!R->up) {
		/* A down origin: the connection is refused or times out. */
		if (rng_chance(S.refuse_pm)) {
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
	err = repl_pull_decode(e->bytes, e->n, &S.key, &req);
	if (err != GT_OK) {
		S.n_auth_fail++;
		send_error(e->reg, f, e->inc, e->id, REPL_ERR_BAD_REQUEST,
		    gt_strerror(err));
		return;
	}
	CHECK(strcmp(req.to, R->name) == 0 &&
	    strcmp(req.from, S.r[f].name) == 0, "misrouted pull");
	origin_handle(e->reg, f, e->inc, e->id, &req, S.now, 0);
}

/* After a commit at o (or at a park deadline): answer what can be. */
static void wake_parked(int o)
{
	region *R = &S.r[o];

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

	ev->now_ms = S.now;
	repl_puller_step(&S.r[f].pull[o], ev, &a);
	CHECK(repl_puller_check(&S.r[f].pull[o]), "puller invariants");
	do_action(f, o, &a, frame, n);
}

static void do_action(int f, int o, const repl_action *a,
    const uint8_t *frame, size_t n)
{
	region *F = &S.r[f];

	if (a->timer_at_ms != 0 && a->timer_at_ms != F->timer_armed[o])
		ev_at(a->timer_at_ms, EV_TIMER, f, o, 0);
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
		e.bytes = malloc(n);
		if (e.bytes == NULL)
			fail("out of memory");
		memcpy(e.bytes, frame, n);
		e.n = n;
		ev_push(e);
		break;
	}
	case REPL_ACT_RESYNC:
		S.n_resyncs++;
		ev_at(S.now + rng_range(10, 100), EV_BACKFILL, f, o, 0);
		break;
	}
}

static void on_response(const event *e)
{
	region *F = &S.r[e->reg];
	int o = e->peer;
	uint8_t type = 0;
	repl_event ev;

	if (!F->up || e->inc != F->inc) {
		S.n_stale_drop++;
		return;
	}
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
		S.n_auth_fail++;
		ev.err = err;
	} else if (type == REPL_FRAME_ERROR) {
		repl_error er;
		gt_err err = repl_error_decode(e->bytes, e->n, &S.key, &er);

		if (err != GT_OK)
			S.n_auth_fail++;
		ev.err = err == GT_OK ? GT_EIO : err;
	} else {
		S.n_auth_fail++;
		ev.err = GT_ECORRUPT;
	}
	/* Whatever failed, the transport knows which request it answers. */
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

	if (!F->up || e->inc != F->inc)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_TIMER;
	ev.rnd = (uint32_t)rng_next();
	puller_event(e->reg, e->peer, &ev, NULL, 0);
}

/*
 * Applies one incoming version to follower f's store exactly as the
 * region node does: HLC receive rule, then cf_resolve.  snapshot is 1 for
 * a backfilled store version rather than a change record: its vector also
 * holds the writes its winner beat, so both sides can hold the same winner
 * with different vectors.  cf_resolve then keeps that winner, merges the
 * vectors and flags an anomaly (equal stamps, concurrent vectors); for a
 * snapshot that is the expected case, not a conflict.
 */
static void apply_version(int f, int key, const cf_version *in,
    int64_t val, int snapshot)
{
	region *F = &S.r[f];
	const item *it = &F->store[key];
	cf_decision d;
	gt_err err;

	cf_clock_recv(&F->clock, in->stamp.hlc, wall_ms());
	err = cf_resolve(&it->ver, in, &d);
	CHECK(err == GT_OK, "cf_resolve: %s", gt_strerror(err));
	if (snapshot && it->ver.exists &&
	    cf_stamp_cmp(&it->ver.stamp, &in->stamp) == 0) {
		CHECK(d.action == CF_DROP || d.action == CF_CONFLICT_KEEP,
		    "snapshot of the same winner replaced it");
		store_set(f, key, &d.store, it->val);
		return;
	}
	CHECK(!d.anomaly, "clock anomaly on key %d", key);
	switch (d.action) {
	case CF_DROP:
		break;
	case CF_TAKE:
	case CF_CONFLICT_TAKE:
		store_set(f, key, &d.store, val);
		break;
	case CF_CONFLICT_KEEP:
		store_set(f, key, &d.store, it->val);
		break;
	}
	if (d.action == CF_CONFLICT_TAKE || d.action == CF_CONFLICT_KEEP)
		S.n_conflicts++;
}

static void on_apply(const event *e)
{
	region *F = &S.r[e->reg];
	int f = e->reg, o = e->peer;
	repl_batch b;
	repl_rec rec;
	repl_event ev;

	if (!F->up || e->inc != F->inc)
		return; /* crashed mid-transaction: nothing committed */
	memset(&ev, 0, sizeof(ev));
	ev.rnd = (uint32_t)rng_next();
	if (rng_chance(S.apply_fail_pm)) {
		ev.kind = REPL_EV_APPLY_FAILED;
		ev.err = GT_EIO;
		puller_event(f, o, &ev, NULL, 0);
		return;
	}
	CHECK(repl_batch_decode(e->bytes, e->n, &S.key, &b) == GT_OK,
	    "re-decode of an accepted batch");
	/* One atomic step: records, then the cursor. */
	while (repl_batch_next(&b, &rec)) {
		cf_version v;
		int64_t val;
		int key;

		if (rec.origin_seq <= F->cursor[o])
			continue;
		CHECK(rec.op == REPL_OP_PUT || rec.op == REPL_OP_DELETE,
		    "unexpected op");
		CHECK(cf_meta_decode(rec.meta, rec.meta_len, &v, NULL) ==
		    GT_OK, "meta of a decoded batch");
		key = parse_key(rec.key, rec.key_len);
		val = -1;
		if (rec.op == REPL_OP_PUT) {
			char ibuf[128];

			val = parse_val(rec.image, rec.image_len);
			image_json(key, val, ibuf, sizeof(ibuf));
			CHECK(rec.image_len == strlen(ibuf) &&
			    memcmp(rec.image, ibuf, rec.image_len) == 0,
			    "key %d: replicated image is not the body of "
			    "write %" PRId64, key, val);
		}
		apply_version(f, key, &v, val, 0);
		F->last_seq++; /* the replicated log record */
		S.n_applied++;
	}
	if (b.info.last_seq > F->cursor[o])
		F->cursor[o] = b.info.last_seq;
	ev.kind = REPL_EV_APPLIED;
	ev.cursor = F->cursor[o];
	puller_event(f, o, &ev, NULL, 0);
}

/*
 * Backfill after RESYNC: merge the origin's store into the follower's
 * (as a snapshot stream would, item by item through cf_resolve) and take
 * the origin's head as the new cursor.  The origin's store includes every
 * write it originated up to its head in its vectors, so nothing the
 * follower skips is lost.
 */
static void on_backfill(const event *e)
{
	region *F = &S.r[e->reg];
	region *O = &S.r[e->peer];
	int f = e->reg, o = e->peer;
	repl_event ev;

	if (!F->up || e->inc != F->inc)
		return;
	if (!O->up || S.cut[f][o] || S.cut[o][f]) {
		ev_at(S.now + 200, EV_BACKFILL, f, o, 0);
		return;
	}
	for (int k = 0; k < SIM_KEYS; k++) {
		if (O->store[k].ver.exists)
			apply_version(f, k, &O->store[k].ver,
			    O->store[k].val, 1);
	}
	F->cursor[o] = O->head_seq;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REPL_EV_RESYNCED;
	ev.cursor = F->cursor[o];
	puller_event(f, o, &ev, NULL, 0);
}

/* --------------------------------------------------------------- clients */

static void local_write(int r)
{
	region *R = &S.r[r];
	int key = (int)rng_range(0, SIM_KEYS - 1);
	int del = rng_chance(200);
	const item *it = &R->store[key];
	cf_version nv;
	logrec *L;
	hist *H;
	uint64_t seq = R->last_seq + 1;
	gt_err err;

	err = cf_version_write(&R->clock, wall_ms(), &it->ver, R->name, seq,
	    del, &nv);
	CHECK(err == GT_OK, "cf_version_write: %s", gt_strerror(err));
	R->last_seq = seq;
	R->head_seq = seq;
	store_set(r, key, &nv, del ? -1 : S.next_val);
	if (R->log_n == R->log_cap) {
		R->log_cap = R->log_cap ? R->log_cap * 2 : 64;
		R->log = realloc(R->log, R->log_cap * sizeof(*R->log));
		if (R->log == NULL)
			fail("out of memory");
	}
	L = &R->log[R->log_n++];
	L->seq = seq;
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
	H->key = key;
	H->origin = r;
	H->del = del;
	H->seq = seq;
	H->stamp = nv.stamp;
	H->val = it->val;
	S.next_val++;
	retention(r);
	wake_parked(r);
}

/* ------------------------------------------------------- crash / restart */

static void start_pullers(int f)
{
	region *F = &S.r[f];

	for (int o = 0; o < S.nreg; o++) {
		repl_event ev;

		if (o == f)
			continue;
		CHECK(repl_puller_init(&F->pull[o], &S.pcfg) == GT_OK,
		    "puller init");
		F->timer_armed[o] = 0;
		memset(&ev, 0, sizeof(ev));
		ev.kind = REPL_EV_START;
		ev.cursor = F->cursor[o];
		ev.pull_id = rng_next() | 1;
		puller_event(f, o, &ev, NULL, 0);
	}
}

static void crash(int r)
{
	region *R = &S.r[r];

	if (!R->up)
		return;
	S.n_crashes++;
	R->up = 0;
	R->inc++;
	memset(R->park, 0, sizeof(R->park));
	memset(R->pull, 0, sizeof(R->pull));
	memset(R->timer_armed, 0, sizeof(R->timer_armed));
}

static void restart(int r)
{
	region *R = &S.r[r];
	uint64_t max = 0;

	if (R->up)
		return;
	R->up = 1;
	/* Seed the clock from the durable stamps, as the node does. */
	for (int k = 0; k < SIM_KEYS; k++) {
		if (R->store[k].ver.exists && R->store[k].ver.stamp.hlc > max)
			max = R->store[k].ver.stamp.hlc;
	}
	R->clock.last = 0;
	R->clock.skew_ms = R->skew_ms;
	cf_clock_recv(&R->clock, max, wall_ms());
	start_pullers(r);
}

/* ------------------------------------------------------------- the run */

static int converged(void)
{
	for (int f = 0; f < S.nreg; f++) {
		if (!S.r[f].up)
			return 0;
		for (int o = 0; o < S.nreg; o++) {
			if (o != f && S.r[f].cursor[o] != S.r[o].head_seq)
				return 0;
		}
	}
	return 1;
}

static void sim_free(void)
{
	sim_evq_free(&S.q);
	for (int i = 0; i < SIM_REGIONS_MAX; i++)
		free(S.r[i].log);
	free(S.h);
	repl_key_free(&S.key);
	memset(&S, 0, sizeof(S));
}

static void sim_setup(uint64_t seed)
{
	uint8_t key[32];

	memset(&S, 0, sizeof(S));
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
	S.pcfg.backoff_max_ms = 2000;
	S.pcfg.idle_min_ms = 20;
	S.origin_max_bytes = (uint32_t)rng_range(1, 4) * 4096;
	S.drop_pm = (unsigned)rng_range(0, 50);
	S.dup_pm = (unsigned)rng_range(0, 50);
	S.corrupt_pm = (unsigned)rng_range(0, 10);
	S.refuse_pm = 500;
	S.apply_fail_pm = (unsigned)rng_range(0, 30);
	{
		static const uint64_t keeps[] = {0, 40, 150, 600};

		S.keep_max = keeps[rng_next() % GT_ARRAY_LEN(keeps)];
	}
	S.write_until = rng_range(500, 2000);
	for (int a = 0; a < S.nreg; a++) {
		for (int b = a + 1; b < S.nreg; b++) {
			uint32_t d = (uint32_t)rng_range(1, 80);

			S.link_ms[a][b] = S.link_ms[b][a] = d;
		}
	}
	for (int i = 0; i < S.nreg; i++) {
		region *R = &S.r[i];

		snprintf(R->name, sizeof(R->name), "region-%c", 'a' + i);
		R->skew_ms = (int64_t)rng_range(0, 400) - 200;
		if (rng_chance(100))
			R->skew_ms *= 50;  /* a badly skewed clock */
		R->clock.skew_ms = R->skew_ms;
		R->up = 1;
	}
	for (int i = 0; i < S.nreg; i++) {
		start_pullers(i);
		ev_at(rng_range(0, 20), EV_WRITE, i, 0, 0);
	}
	/* Faults inside the write phase. */
	for (int c = (int)rng_range(0, 3); c > 0; c--) {
		uint64_t at = rng_range(0, S.write_until);

		ev_at(at, EV_CRASH, (int)rng_range(0, (uint64_t)S.nreg - 1),
		    0, 0);
	}
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

static void check_final(void)
{
	for (int k = 0; k < SIM_KEYS; k++) {
		const hist *best = NULL;
		uint64_t maxseq[SIM_REGIONS_MAX] = {0};
		const item *ref = &S.r[0].store[k];

		for (size_t i = 0; i < S.h_n; i++) {
			const hist *H = &S.h[i];

			if (H->key != k)
				continue;
			if (best == NULL ||
			    cf_stamp_cmp(&H->stamp, &best->stamp) > 0)
				best = H;
			if (H->seq > maxseq[H->origin])
				maxseq[H->origin] = H->seq;
		}
		for (int r = 0; r < S.nreg; r++) {
			const item *it = &S.r[r].store[k];

			CHECK(it->ver.exists == ref->ver.exists,
			    "key %d: exists differs at %s", k, S.r[r].name);
			if (!it->ver.exists)
				continue;
			CHECK(cf_stamp_cmp(&it->ver.stamp, &ref->ver.stamp) ==
			    0 && it->ver.tombstone == ref->ver.tombstone &&
			    it->val == ref->val &&
			    cf_vv_compare(&it->ver.vv, &ref->ver.vv) ==
			    CF_VV_EQUAL, "key %d: %s and %s differ", k,
			    S.r[r].name, S.r[0].name);
		}
		if (best == NULL) {
			CHECK(!ref->ver.exists, "key %d exists unwritten", k);
			continue;
		}
		CHECK(ref->ver.exists, "key %d lost", k);
		CHECK(cf_stamp_cmp(&ref->ver.stamp, &best->stamp) == 0,
		    "key %d: final stamp is not the largest written", k);
		CHECK(ref->ver.tombstone == best->del && ref->val == best->val,
		    "key %d: final value is not the winner's", k);
		for (int r = 0; r < S.nreg; r++) {
			CHECK(cf_vv_get(&ref->ver.vv, S.r[r].name) ==
			    maxseq[r], "key %d: vv[%s] = %" PRIu64
			    ", want %" PRIu64, k, S.r[r].name,
			    cf_vv_get(&ref->ver.vv, S.r[r].name), maxseq[r]);
		}
		CHECK(ref->ver.vv.n <= (uint32_t)S.nreg, "key %d: extra vv", k);
	}
}

/*
 * Every region's incrementally kept index equals a rebuild from its final
 * store, and all regions' indexes are equal.  Also counts entries and
 * live items an index leaves out, so a run shows the check is not empty.
 */
static void check_indexes(void)
{
	for (int r = 0; r < S.nreg; r++) {
		simix rb;
		char an[64], bn[64];

		rb.n = 0;
		for (int k = 0; k < SIM_KEYS; k++) {
			int64_t val = live_val(&S.r[r].store[k]);
			ixent e[SIM_NIX];
			int in[SIM_NIX];

			item_entries(k, val, e, in);
			for (int i = 0; i < SIM_NIX; i++) {
				if (in[i])
					ix_add(&rb, &e[i]);
				else if (r == 0 && val >= 0)
					S.n_ix_absent++;
			}
		}
		snprintf(an, sizeof(an), "%s (kept)", S.r[r].name);
		snprintf(bn, sizeof(bn), "%s (rebuilt)", S.r[r].name);
		ix_expect_equal(&S.r[r].ix, an, &rb, bn);
		if (r > 0)
			ix_expect_equal(&S.r[r].ix, S.r[r].name, &S.r[0].ix,
			    S.r[0].name);
	}
	S.n_ix_entries += S.r[0].ix.n;
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
		case EV_BACKFILL:
			on_backfill(&e);
			break;
		case EV_PARTITION:
			if (!S.healed)
				S.cut[e.reg][e.peer] = S.cut[e.peer][e.reg] =
				    (int)e.id;
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
	/* Applies still in flight must not change anything either. */
	check_final();
	check_indexes();
	if (verbose)
		printf("seed %" PRIu64 ": regions %d writes %zu events %"
		    PRIu64 " msgs %" PRIu64 " applied %" PRIu64
		    " conflicts %" PRIu64 " resyncs %" PRIu64 " crashes %"
		    PRIu64 " bad frames %" PRIu64 " index entries %" PRIu64
		    " (%" PRIu64 " live items left out) sim_ms %" PRIu64 "\n",
		    seed, S.nreg, S.h_n, S.n_events, S.n_msgs, S.n_applied,
		    S.n_conflicts, S.n_resyncs, S.n_crashes, S.n_auth_fail,
		    S.n_ix_entries, S.n_ix_absent, S.now);
}

int main(void)
{
	const char *one = getenv("MERIDIAN_SEED");
	const char *cnt = getenv("MERIDIAN_SIM_SEEDS");
	uint64_t first, count = 1000;
	uint64_t tot_conf = 0, tot_resync = 0, tot_crash = 0, tot_w = 0;
	uint64_t tot_ent = 0, tot_absent = 0;
	struct timespec t0, t1;

	gt_log_min = GT_LOG_OFF;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	table_setup();
	if (one != NULL && *one != '\0') {
		verbose = 1;
		run_seed(strtoull(one, NULL, 10));
		sim_free();
		table_free();
		printf("sim_repl: seed %s passed\n", one);
		return 0;
	}
	if (cnt != NULL && *cnt != '\0')
		count = strtoull(cnt, NULL, 10);
	first = (uint64_t)time(NULL) * 1000003u;
	printf("sim_repl: seeds %" PRIu64 "..%" PRIu64 "\n", first,
	    first + count - 1);
	fflush(stdout);
	for (uint64_t i = 0; i < count; i++) {
		run_seed(first + i);
		tot_conf += S.n_conflicts;
		tot_resync += S.n_resyncs;
		tot_crash += S.n_crashes;
		tot_w += S.h_n;
		tot_ent += S.n_ix_entries;
		tot_absent += S.n_ix_absent;
		sim_free();
	}
	table_free();
	/* Both index outcomes must occur, or the index check proves little. */
	if (count >= 100 && (tot_ent == 0 || tot_absent == 0)) {
		fprintf(stderr, "sim_repl: index check vacuous (%" PRIu64
		    " entries, %" PRIu64 " items left out)\n", tot_ent,
		    tot_absent);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sim_repl: %" PRIu64 " seeds passed (%" PRIu64 " writes, %"
	    PRIu64 " conflicts, %" PRIu64 " resyncs, %" PRIu64
	    " crashes, %" PRIu64 " index entries, %" PRIu64 " live items "
	    "left out of an index) in %.1f s\n", count, tot_w, tot_conf,
	    tot_resync, tot_crash, tot_ent, tot_absent,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
