/*
 * conflict.h — the conflict rule of Meridian (DESIGN.md section 4): the
 * hybrid logical clock, version vectors, the apply rule for remote records
 * (puts and tombstones) and the binary encoding of version metadata.
 *
 * Prefix: cf_.  Everything here is a pure function of its arguments: no I/O,
 * no clock reads (wall time is passed in), no allocation except where a
 * caller-owned gt_buf is handed in.  All types are fixed-size so that
 * storage and the replicator can embed them by value.
 *
 * The rule, in one paragraph: every stored item version carries a stamp
 * (hlc, origin) and a version vector.  The stored value at every replica is
 * the write with the largest stamp among all writes that replica has heard
 * of; the vectors do not choose the winner, they classify each apply as a
 * duplicate (drop), a causal overwrite (take) or a true conflict (ledger).
 * conflict.c explains, as numbered invariants, why that converges.
 */
#ifndef CF_CONFLICT_H
#define CF_CONFLICT_H

#include <stddef.h>
#include <stdint.h>

#include "gt.h"

/* ----------------------------------------------------------- region names */

/*
 * A region name ("ap-northeast-1") is 1..31 bytes of printable ASCII other
 * than space (0x21..0x7e), stored NUL-terminated and NUL-padded in a
 * CF_REGION_NAME_MAX array.  Names compare bytewise (unsigned).
 */
#define CF_REGION_NAME_MAX 32
#define CF_REGION_NAME_LEN_MAX (CF_REGION_NAME_MAX - 1)

/*
 * cf_region_name_valid returns 1 when name (borrowed, NUL-terminated within
 * CF_REGION_NAME_MAX bytes) is a valid region name, else 0.  NULL gives 0.
 */
int cf_region_name_valid(const char *name);

/* ----------------------------------------------------- hybrid logical clock */

/*
 * An HLC timestamp is a uint64_t: the high 48 bits are wall-clock
 * milliseconds since the Unix epoch (good until the year 10889), the low 16
 * bits a logical counter that orders stamps within one millisecond.  When
 * the counter overflows it carries into the wall part: the stamp then runs
 * at most a millisecond ahead of real time per 65536 stamps, and monotonicity
 * (the only property the conflict rule needs) is kept.
 */
#define CF_HLC_LOGICAL_BITS 16
#define CF_HLC_LOGICAL_MASK ((uint64_t)0xffff)
#define CF_HLC_WALL_MS_MAX (((uint64_t)1 << 48) - 1)

static inline uint64_t cf_hlc_wall_ms(uint64_t h)
{
	return h >> CF_HLC_LOGICAL_BITS;
}

static inline uint16_t cf_hlc_logical(uint64_t h)
{
	return (uint16_t)(h & CF_HLC_LOGICAL_MASK);
}

/* ms above CF_HLC_WALL_MS_MAX is clamped to it. */
static inline uint64_t cf_hlc_make(uint64_t ms, uint16_t logical)
{
	if (ms > CF_HLC_WALL_MS_MAX)
		ms = CF_HLC_WALL_MS_MAX;
	return (ms << CF_HLC_LOGICAL_BITS) | logical;
}

/*
 * cf_clock is one region's HLC.  last is the largest stamp issued or
 * received; skew_ms is added to the wall time passed in, so a drill can run
 * a region's clock ahead (positive) or behind (negative).  Zero-initialise,
 * then set skew_ms.  A node that restarts must seed last from the largest
 * stamp it has stored (cf_clock_recv with each stored stamp, or last = max),
 * or a clock that went backwards could issue a stamp smaller than one it
 * already issued.
 */
typedef struct cf_clock {
	uint64_t last;
	int64_t skew_ms;
} cf_clock;

/*
 * cf_clock_now issues a stamp for a local write at wall time wall_ms:
 * max(phys(wall_ms + skew_ms) << 16, last + 1), stores it in c->last and
 * returns it.  phys clamps to [0, CF_HLC_WALL_MS_MAX].  Every stamp is
 * strictly greater than every stamp issued or received before, except in
 * the unreachable case last == UINT64_MAX, where it stays at UINT64_MAX.
 * c is borrowed.
 */
uint64_t cf_clock_now(cf_clock *c, uint64_t wall_ms);

/*
 * cf_clock_recv applies the HLC receive rule for a remote stamp remote_hlc
 * seen at wall time wall_ms: last = max(last, remote_hlc, phys(now) << 16),
 * so the next cf_clock_now is greater than any stamp received.  The caller
 * must call it for every remote record it applies (whatever cf_resolve
 * decides) before its next local write.  c is borrowed.
 */
void cf_clock_recv(cf_clock *c, uint64_t remote_hlc, uint64_t wall_ms);

/* ------------------------------------------------------------------ stamps */

/*
 * cf_stamp totally orders writes: by hlc, then by origin region name
 * (bytewise).  Two different writes never share a stamp, because one
 * region's clock never issues the same hlc twice.
 */
typedef struct cf_stamp {
	uint64_t hlc;
	char origin[CF_REGION_NAME_MAX];
} cf_stamp;

/* Returns <0, 0 or >0 as a orders before, equal to or after b (borrowed). */
int cf_stamp_cmp(const cf_stamp *a, const cf_stamp *b);

/*
 * cf_stamp_set fills *out with hlc and origin (borrowed), NUL-padding the
 * name.  Errors: GT_EINVAL when origin is not a valid region name or hlc is
 * 0 (0 is never issued by cf_clock_now and means "no stamp").
 */
gt_err cf_stamp_set(cf_stamp *out, uint64_t hlc, const char *origin);

/* --------------------------------------------------------- version vectors */

#define CF_VV_MAX 32

typedef struct cf_vv_entry {
	char region[CF_REGION_NAME_MAX];
	uint64_t seq;
} cf_vv_entry;

/*
 * cf_vv maps region -> seq: the origin log sequence number of the latest
 * write from that region this version includes.  A region absent from the
 * vector has seq 0.  Invariants (checked by cf_vv_valid): n <= CF_VV_MAX,
 * entries sorted strictly ascending by region (so no duplicates), every
 * region valid and NUL-padded, every seq >= 1.  Zero-initialise (CF_VV_INIT
 * or memset) to get the empty vector.
 */
typedef struct cf_vv {
	uint32_t n;
	cf_vv_entry e[CF_VV_MAX];
} cf_vv;

#define CF_VV_INIT {0, {{{0}, 0}}}

typedef enum cf_vv_order {
	CF_VV_EQUAL = 0,  /* a == b pointwise */
	CF_VV_BEFORE,     /* a < b: a happened before b */
	CF_VV_AFTER,      /* a > b: a happened after b */
	CF_VV_CONCURRENT  /* neither dominates */
} cf_vv_order;

/* Returns 1 when vv (borrowed) satisfies the invariants above, else 0. */
int cf_vv_valid(const cf_vv *vv);

/* Returns vv[region], 0 when absent.  Both arguments borrowed. */
uint64_t cf_vv_get(const cf_vv *vv, const char *region);

/*
 * cf_vv_set sets vv[region] = seq, keeping the entries sorted; seq 0
 * removes the entry.  Errors: GT_EINVAL for an invalid region name or an
 * invalid vv, GT_ELIMIT when the vector is full and region is new.  vv is
 * untouched on error.  Both arguments borrowed.
 */
gt_err cf_vv_set(cf_vv *vv, const char *region, uint64_t seq);

/*
 * cf_vv_merge sets dst to the pointwise maximum of dst and src.  Errors:
 * GT_EINVAL when either vector is invalid, GT_ELIMIT when the union of
 * their regions exceeds CF_VV_MAX; dst is untouched on error.  dst and src
 * are borrowed and may be the same vector.
 */
gt_err cf_vv_merge(cf_vv *dst, const cf_vv *src);

/*
 * cf_vv_compare orders a against b (both borrowed and assumed valid; an
 * invalid vector is read only up to CF_VV_MAX entries and gives some
 * answer, never a crash).
 */
cf_vv_order cf_vv_compare(const cf_vv *a, const cf_vv *b);

/* Returns 1 when a >= b pointwise (EQUAL or AFTER), else 0. */
int cf_vv_dominates(const cf_vv *a, const cf_vv *b);

/* ---------------------------------------------------------------- versions */

/*
 * cf_version describes one stored version of an item: exists is 0 when the
 * key was never seen locally (the other fields are then ignored), tombstone
 * is 1 for a delete.  A valid existing version has a valid stamp (hlc >= 1,
 * valid origin), a valid vv, and vv[stamp.origin] >= 1.
 */
typedef struct cf_version {
	int exists;
	int tombstone;
	cf_stamp stamp;
	cf_vv vv;
} cf_version;

/* Returns 1 when v (borrowed) is an existing, valid version, else 0. */
int cf_version_valid(const cf_version *v);

/*
 * cf_version_write builds the version of a local write (a put, or a delete
 * when tombstone is 1) by region self with log sequence number seq, over
 * the stored version old (exists = 0 for a new key):
 *   stamp = (cf_clock_now(c, wall_ms), self), vv = old.vv with vv[self] = seq.
 * It first passes old's stamp through cf_clock_recv, so the new stamp is
 * larger than the one it overwrites even when c was not seeded after a
 * restart: a local write always wins over the version it read.
 * c is borrowed and advanced only on success; old and self are borrowed;
 * out is owned by the caller and may alias old.  Errors: GT_EINVAL for an
 * invalid self, seq 0, an invalid existing old, or seq <= old.vv[self] (an
 * origin's seqs only grow); GT_ELIMIT when self is new to a full vector.
 * out is untouched on error.
 */
gt_err cf_version_write(cf_clock *c, uint64_t wall_ms, const cf_version *old,
    const char *self, uint64_t seq, int tombstone, cf_version *out);

/* ------------------------------------------------------------ apply rule */

typedef enum cf_action {
	/* The incoming record is already included in the local version
	 * (duplicate or stale): nothing to write. */
	CF_DROP = 0,
	/* The incoming record causally follows the local winner (or there is
	 * no local version): store it. */
	CF_TAKE,
	/* The incoming record and the local winner are concurrent and the
	 * incoming stamp is larger: store incoming; local is the loser for
	 * the conflict ledger. */
	CF_CONFLICT_TAKE,
	/* Concurrent and the local stamp is larger: keep the local data with
	 * the merged vector; incoming is the loser for the ledger. */
	CF_CONFLICT_KEEP
} cf_action;

/*
 * cf_decision is what to store.  store is the complete version metadata to
 * write (exists = 1; winner's stamp and tombstone flag; vv = pointwise max
 * of both vectors).  With CF_TAKE and CF_CONFLICT_TAKE the caller writes the
 * incoming item body, with CF_CONFLICT_KEEP it keeps the local body but must
 * still write store (the vector grew), with CF_DROP store equals local and
 * nothing needs writing.
 *
 * anomaly is 1 when the stamps contradict the vectors: a record that the
 * vectors say causally follows another carries a smaller stamp.  It cannot
 * happen while every region follows the clock rules (see conflict.c); when
 * it does (a clock reset on restart, a bug, hand-made records) the larger
 * stamp still wins, so replicas still converge, and the action becomes a
 * conflict so that the losing write is recorded in the ledger.  The caller
 * should log or count it.
 */
typedef struct cf_decision {
	cf_action action;
	int anomaly;
	cf_version store;
} cf_decision;

/*
 * cf_resolve applies the conflict rule to an incoming remote record (a put
 * or a tombstone) against the local version of the same key.
 *
 * The winner is always the version with the larger stamp (cf_stamp_cmp);
 * the action only says how the vectors relate:
 *   - incoming.vv <= local.vv                 -> CF_DROP
 *   - no local version                        -> CF_TAKE
 *   - incoming.vv includes the local winner's
 *     own write (incoming.vv[o] >= local.vv[o],
 *     o = local.stamp.origin)                  -> CF_TAKE
 *   - otherwise (true concurrency)            -> CF_CONFLICT_TAKE or
 *                                                CF_CONFLICT_KEEP by stamp
 * except that when the stamps contradict the first or third line (see
 * anomaly above) the larger stamp wins and the action is a conflict.
 * The third line matters after an earlier conflict: the local vector then
 * also holds the loser's entries, so a write that causally follows the
 * winner alone compares CONCURRENT with the whole vector, yet it overwrites
 * the winner causally and is not a new conflict.
 *
 * local and incoming are borrowed; out is owned by the caller and may not
 * alias either input.  Errors: GT_EINVAL when incoming is not a valid
 * existing version or local exists but is invalid; GT_ELIMIT when the
 * merged vector would exceed CF_VV_MAX regions.  out is untouched on error.
 */
gt_err cf_resolve(const cf_version *local, const cf_version *incoming,
    cf_decision *out);

/* --------------------------------------------------------- meta encoding */

/*
 * The metadata of a version (stamp, tombstone flag, vector) is stored in
 * LMDB next to the item body and sent in every change record.  Format
 * version 1, all integers big-endian, no padding, no alignment:
 *
 *   offset  size  field
 *   ------  ----  -----------------------------------------------------
 *   0       1     format version, 0x01
 *   1       1     flags: bit 0 = tombstone; bits 1..7 must be 0
 *   2       8     stamp.hlc, must be >= 1
 *   10      1     L = length of the origin name, 1..31
 *   11      L     origin name: bytes 0x21..0x7e, no NUL
 *   11+L    1     N = number of vector entries, 0..32
 *   12+L    ...   N entries, each:
 *                   1    R = length of the region name, 1..31
 *                   R    region name: bytes 0x21..0x7e, no NUL
 *                   8    seq, must be >= 1
 *
 * Entries appear in strictly ascending bytewise order of region name (no
 * duplicates), and the origin must have an entry.  Every rule is checked on
 * decode; the encoder produces nothing the decoder rejects.  A later format
 * gets a new version byte; a decoder rejects versions it does not know.
 * The smallest encoding is 1+1+8+1+1+1+(1+1+8) = 23 bytes, the largest
 * CF_META_ENCODED_MAX.  The encoding is not self-delimiting beyond its own
 * fields: it may be followed by other bytes, and decode reports how many
 * it consumed.
 */
#define CF_META_FORMAT_VERSION 1
#define CF_META_FLAG_TOMBSTONE 0x01
#define CF_META_ENCODED_MAX \
	(1 + 1 + 8 + 1 + CF_REGION_NAME_LEN_MAX + 1 + \
	    CF_VV_MAX * (1 + CF_REGION_NAME_LEN_MAX + 8))

/*
 * cf_meta_encoded_len returns the size in bytes of v's encoding, or 0 when
 * v is not a valid existing version.  v borrowed.
 */
size_t cf_meta_encoded_len(const cf_version *v);

/*
 * cf_meta_encode_to writes v's encoding into dst (cap bytes, owned by the
 * caller) and sets *len to its size.  Allocates nothing.  Errors: GT_EINVAL
 * when v is not a valid existing version, GT_ELIMIT when cap is too small;
 * dst and *len are untouched on error.
 */
gt_err cf_meta_encode_to(const cf_version *v, uint8_t *dst, size_t cap,
    size_t *len);

/*
 * cf_meta_encode appends v's encoding to out (borrowed; its memory stays
 * owned by the caller).  Errors: GT_EINVAL when v is not a valid existing
 * version (out untouched), GT_ENOMEM when the buffer could not grow (out is
 * then in its oom state).
 */
gt_err cf_meta_encode(const cf_version *v, gt_buf *out);

/*
 * cf_meta_decode decodes one encoding from the n bytes at p (borrowed) into
 * *out (exists = 1) and sets *consumed (may be NULL) to the bytes used.
 * Errors: GT_ECORRUPT for truncated, malformed or hostile bytes (any rule
 * of the format broken), GT_EINVAL when p is NULL with n > 0 or out is
 * NULL.  out and *consumed are untouched on error.
 */
gt_err cf_meta_decode(const uint8_t *p, size_t n, cf_version *out,
    size_t *consumed);

#endif /* CF_CONFLICT_H */
