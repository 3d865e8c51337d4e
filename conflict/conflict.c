/*
 * conflict.c — hybrid logical clock, version vectors, the apply rule and the
 * metadata encoding (DESIGN.md section 4).  Pure functions: no I/O, no clock
 * reads, no allocation.
 *
 * Terms.  A write w is made by one region, its origin o, which gives it the
 * next sequence number s of its change log and a stamp (hlc, o).  Its
 * vector w.vv is the vector of the version it overwrote at o (which includes
 * every remote record o had applied to the key) with vv[o] = s.  The pair
 * (o, s) is w's "dot".  A vector V "includes" w when V[o] >= s; the set of
 * writes a vector includes is written D(V), and past(w) = D(w.vv), which
 * contains w itself.
 *
 * Invariants.  Rules 1-3 are kept by the callers (the region node and the
 * replicator) through this module's functions; rules 4-9 follow.
 *
 *  1. Per-origin order.  One region's writes to a key get increasing seqs
 *     and increasing stamps (cf_clock_now is strictly monotonic), and each
 *     one's vector includes all earlier ones, because the origin's stored
 *     vector always holds its own latest dot.
 *
 *  2. Causality implies a larger stamp.  If u is in past(w) and u != w then
 *     u.hlc < w.hlc.  Two mechanisms keep it, either one sufficient:
 *     (a) cf_version_write passes the stamp of the version it overwrites
 *     through cf_clock_recv before cf_clock_now, and that stamp is the
 *     largest in the overwritten version's history (rule 4, by induction
 *     over the writes made so far); (b) the replicator calls cf_clock_recv
 *     for every record it applies, so the clock is past every stamp the
 *     region has heard of, on any key.  Skew changes only the physical
 *     part, and the max() in both clock functions keeps the rule whatever
 *     the skew of each region.  Stamps are therefore a total order that
 *     extends the causal order.
 *
 *  3. Vectors are downward closed.  If V includes w it includes all of
 *     past(w): every stored vector is a pointwise max of write vectors, and
 *     each write's vector is downward closed by induction.
 *
 *  4. The store holds the maximum.  At every replica, with D the writes its
 *     stored vector includes, the stored stamp is the largest stamp in D and
 *     the stored body is that write's.  A local write w is the largest in
 *     D + {w} by rule 2.  Applying a record i makes the stored vector the
 *     pointwise max, so D becomes D + past(i), whose largest stamp is
 *     max(local stamp, i.stamp) (rule 2 applied to i), and cf_resolve
 *     stores exactly the larger of the two.
 *
 *  5. Convergence.  Union and max are commutative, associative and
 *     idempotent, so once a replica has applied every write, in any order
 *     and with any number of duplicates, it stores the write with the
 *     largest stamp of all and the pointwise max of all vectors.  Every
 *     replica ends in the same state.  Note that this needs only that
 *     cf_resolve always keeps the larger stamp: it holds even if rules 1-3
 *     are broken (a clock reset on restart, a bug, hand-made records),
 *     which is why cf_resolve never lets the vectors pick the winner.
 *
 *  6. The winner's dot.  If the stored winner w has origin o, the stored
 *     vector's entry for o is exactly w's seq: a later write from o in D
 *     would carry a larger stamp (rules 1 and 4).  So an incoming record i
 *     causally follows the winner iff i.vv[o] >= local.vv[o].
 *
 *  7. The vectors classify, the stamps agree.  DROP: D(i.vv) within D, so
 *     i.stamp <= local stamp (rule 4).  TAKE: the winner is in past(i) and
 *     is not i (else DROP), so i.stamp is larger (rule 2).  Otherwise i is
 *     not in D (rule 3) and the winner is not in past(i) (rule 6): the two
 *     are concurrent, a true conflict, and the larger stamp wins.  When a
 *     classification and the stamps disagree, rules 1-3 were broken; the
 *     stamp still decides (rule 5), the action becomes a conflict so the
 *     loser is recorded, and the decision carries anomaly = 1.
 *
 *  8. A redelivered loser is dropped.  After a conflict the stored vector
 *     is the pointwise max, which includes both writes, so a later copy of
 *     either compares EQUAL or BEFORE and is dropped.  A write w3 that
 *     causally follows only the loser does not include the winner, so it is
 *     a new conflict against the winner and the stamps decide (w3 beats the
 *     loser by rule 2 but may still lose to the winner).
 *
 *  9. The ledger misses no lost head.  A write that no other write causally
 *     follows, and that is not the final winner, is recorded as a loser at
 *     least at its origin: it is stored there when written and can leave
 *     the store only by CF_CONFLICT_TAKE (CF_TAKE would need a record that
 *     includes it, which would follow it).  Every ledger record pairs two
 *     concurrent writes (rule 7).  A pair of concurrent writes that are
 *     both overwritten causally before they meet is not recorded: its data
 *     was overwritten, not lost to a conflict.
 *
 * Tombstones are versions like any other: the stamp and vector decide and
 * the flag travels with the winner.  Storage must keep a tombstone until
 * every replica has acknowledged it; dropping it earlier would let a late
 * copy of an older put resurrect the item.
 */
#include "conflict.h"

#include <string.h>

/* ------------------------------------------------------------ region names */

/*
 * Returns the length of a valid region name, or 0 when it is not one.  The
 * name is read at most CF_REGION_NAME_MAX bytes far, so an unterminated
 * array is rejected rather than overrun.
 */
static size_t cf_name_len(const char *name)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < CF_REGION_NAME_MAX; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '\0')
			return i;
		if (ch < 0x21 || ch > 0x7e)
			return 0;
	}
	return 0;
}

int cf_region_name_valid(const char *name)
{
	return cf_name_len(name) != 0;
}

/* Bytewise order of two names; strncmp compares as unsigned char. */
static int cf_name_cmp(const char *a, const char *b)
{
	return strncmp(a, b, CF_REGION_NAME_MAX);
}

/* Copies a valid name of length len into a NUL-padded array. */
static void cf_name_copy(char dst[CF_REGION_NAME_MAX], const char *src,
    size_t len)
{
	memset(dst, 0, CF_REGION_NAME_MAX);
	memcpy(dst, src, len);
}

/* ------------------------------------------------------------------- clock */

/* The skewed physical time, clamped to [0, CF_HLC_WALL_MS_MAX], as an HLC. */
static uint64_t cf_clock_phys(const cf_clock *c, uint64_t wall_ms)
{
	uint64_t ms;

	if (c->skew_ms >= 0) {
		uint64_t add = (uint64_t)c->skew_ms;

		ms = wall_ms > UINT64_MAX - add ? UINT64_MAX : wall_ms + add;
	} else {
		/* -(skew + 1) + 1 avoids negating INT64_MIN. */
		uint64_t sub = (uint64_t)(-(c->skew_ms + 1)) + 1;

		ms = wall_ms < sub ? 0 : wall_ms - sub;
	}
	return cf_hlc_make(ms, 0);
}

uint64_t cf_clock_now(cf_clock *c, uint64_t wall_ms)
{
	uint64_t phys = cf_clock_phys(c, wall_ms);
	uint64_t next = c->last == UINT64_MAX ? UINT64_MAX : c->last + 1;

	/*
	 * last + 1 carries a full logical counter into the wall part, which
	 * is the safe overflow: the stamp stays strictly increasing.
	 */
	c->last = phys > next ? phys : next;
	return c->last;
}

void cf_clock_recv(cf_clock *c, uint64_t remote_hlc, uint64_t wall_ms)
{
	uint64_t phys = cf_clock_phys(c, wall_ms);

	if (remote_hlc > c->last)
		c->last = remote_hlc;
	if (phys > c->last)
		c->last = phys;
}

/* ------------------------------------------------------------------ stamps */

int cf_stamp_cmp(const cf_stamp *a, const cf_stamp *b)
{
	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	return cf_name_cmp(a->origin, b->origin);
}

gt_err cf_stamp_set(cf_stamp *out, uint64_t hlc, const char *origin)
{
	size_t len = cf_name_len(origin);

	if (out == NULL || len == 0 || hlc == 0)
		return GT_EINVAL;
	out->hlc = hlc;
	cf_name_copy(out->origin, origin, len);
	return GT_OK;
}

static int cf_stamp_valid(const cf_stamp *s)
{
	return s->hlc != 0 && cf_name_len(s->origin) != 0;
}

/* --------------------------------------------------------- version vectors */

int cf_vv_valid(const cf_vv *vv)
{
	uint32_t i;

	if (vv == NULL || vv->n > CF_VV_MAX)
		return 0;
	for (i = 0; i < vv->n; i++) {
		size_t len = cf_name_len(vv->e[i].region);

		if (len == 0 || vv->e[i].seq == 0)
			return 0;
		if (i > 0 && cf_name_cmp(vv->e[i - 1].region,
		    vv->e[i].region) >= 0)
			return 0;
	}
	return 1;
}

/* The entry count, clamped so a corrupt n can never index out of bounds. */
static uint32_t cf_vv_len(const cf_vv *vv)
{
	return vv->n > CF_VV_MAX ? CF_VV_MAX : vv->n;
}

/*
 * Binary search for region: returns 1 and its index when present, else 0
 * and the index where it would be inserted.
 */
static int cf_vv_find(const cf_vv *vv, const char *region, uint32_t *at)
{
	uint32_t lo = 0, hi = cf_vv_len(vv);

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = cf_name_cmp(vv->e[mid].region, region);

		if (c == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

uint64_t cf_vv_get(const cf_vv *vv, const char *region)
{
	uint32_t at;

	if (vv == NULL || cf_name_len(region) == 0)
		return 0;
	return cf_vv_find(vv, region, &at) ? vv->e[at].seq : 0;
}

gt_err cf_vv_set(cf_vv *vv, const char *region, uint64_t seq)
{
	size_t len = cf_name_len(region);
	uint32_t at;

	if (len == 0 || !cf_vv_valid(vv))
		return GT_EINVAL;
	if (cf_vv_find(vv, region, &at)) {
		if (seq != 0) {
			vv->e[at].seq = seq;
			return GT_OK;
		}
		/* seq 0 is the same as absent: keep the vector canonical. */
		memmove(&vv->e[at], &vv->e[at + 1],
		    (vv->n - at - 1) * sizeof(vv->e[0]));
		vv->n--;
		memset(&vv->e[vv->n], 0, sizeof(vv->e[0]));
		return GT_OK;
	}
	if (seq == 0)
		return GT_OK;
	if (vv->n == CF_VV_MAX)
		return GT_ELIMIT;
	memmove(&vv->e[at + 1], &vv->e[at], (vv->n - at) * sizeof(vv->e[0]));
	cf_name_copy(vv->e[at].region, region, len);
	vv->e[at].seq = seq;
	vv->n++;
	return GT_OK;
}

gt_err cf_vv_merge(cf_vv *dst, const cf_vv *src)
{
	cf_vv tmp;
	uint32_t i = 0, j = 0, k = 0;

	if (!cf_vv_valid(dst) || !cf_vv_valid(src))
		return GT_EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	while (i < dst->n || j < src->n) {
		const cf_vv_entry *pick;
		uint64_t seq;
		int c;

		if (i == dst->n)
			c = 1;
		else if (j == src->n)
			c = -1;
		else
			c = cf_name_cmp(dst->e[i].region, src->e[j].region);
		if (c < 0) {
			pick = &dst->e[i++];
			seq = pick->seq;
		} else if (c > 0) {
			pick = &src->e[j++];
			seq = pick->seq;
		} else {
			pick = &dst->e[i];
			seq = GT_MAX(dst->e[i].seq, src->e[j].seq);
			i++;
			j++;
		}
		if (k == CF_VV_MAX)
			return GT_ELIMIT;
		memcpy(tmp.e[k].region, pick->region, CF_REGION_NAME_MAX);
		tmp.e[k].seq = seq;
		k++;
	}
	tmp.n = k;
	*dst = tmp;
	return GT_OK;
}

cf_vv_order cf_vv_compare(const cf_vv *a, const cf_vv *b)
{
	uint32_t na = cf_vv_len(a), nb = cf_vv_len(b);
	uint32_t i = 0, j = 0;
	int a_more = 0, b_more = 0;

	/* A region missing from one side counts as seq 0 there. */
	while (i < na || j < nb) {
		int c;

		if (i == na)
			c = 1;
		else if (j == nb)
			c = -1;
		else
			c = cf_name_cmp(a->e[i].region, b->e[j].region);
		if (c < 0) {
			if (a->e[i].seq > 0)
				a_more = 1;
			i++;
		} else if (c > 0) {
			if (b->e[j].seq > 0)
				b_more = 1;
			j++;
		} else {
			if (a->e[i].seq > b->e[j].seq)
				a_more = 1;
			else if (a->e[i].seq < b->e[j].seq)
				b_more = 1;
			i++;
			j++;
		}
		if (a_more && b_more)
			return CF_VV_CONCURRENT;
	}
	if (a_more)
		return CF_VV_AFTER;
	if (b_more)
		return CF_VV_BEFORE;
	return CF_VV_EQUAL;
}

int cf_vv_dominates(const cf_vv *a, const cf_vv *b)
{
	cf_vv_order o = cf_vv_compare(a, b);

	return o == CF_VV_EQUAL || o == CF_VV_AFTER;
}

/* ---------------------------------------------------------------- versions */

int cf_version_valid(const cf_version *v)
{
	if (v == NULL || !v->exists)
		return 0;
	if (!cf_stamp_valid(&v->stamp) || !cf_vv_valid(&v->vv))
		return 0;
	/* The winner's own dot is always in its vector (invariant 6). */
	return cf_vv_get(&v->vv, v->stamp.origin) != 0;
}

gt_err cf_version_write(cf_clock *c, uint64_t wall_ms, const cf_version *old,
    const char *self, uint64_t seq, int tombstone, cf_version *out)
{
	cf_version v;
	cf_clock next;
	gt_err err;

	if (c == NULL || old == NULL || out == NULL || seq == 0 ||
	    !cf_region_name_valid(self))
		return GT_EINVAL;
	memset(&v, 0, sizeof(v));
	next = *c;
	if (old->exists) {
		if (!cf_version_valid(old) || seq <= cf_vv_get(&old->vv, self))
			return GT_EINVAL;
		v.vv = old->vv;
		cf_clock_recv(&next, old->stamp.hlc, wall_ms);
	}
	err = cf_vv_set(&v.vv, self, seq);
	if (err != GT_OK)
		return err;
	v.exists = 1;
	v.tombstone = tombstone ? 1 : 0;
	err = cf_stamp_set(&v.stamp, cf_clock_now(&next, wall_ms), self);
	if (err != GT_OK)
		return err;
	*c = next;
	*out = v;
	return GT_OK;
}

/* ------------------------------------------------------------ apply rule */

gt_err cf_resolve(const cf_version *local, const cf_version *incoming,
    cf_decision *out)
{
	cf_decision d;
	cf_vv_order order;
	int in_wins;
	gt_err err;

	if (local == NULL || out == NULL || !cf_version_valid(incoming))
		return GT_EINVAL;
	memset(&d, 0, sizeof(d));
	if (!local->exists) {
		d.action = CF_TAKE;
		d.store = *incoming;
		d.store.exists = 1;
		d.store.tombstone = incoming->tombstone ? 1 : 0;
		*out = d;
		return GT_OK;
	}
	if (!cf_version_valid(local))
		return GT_EINVAL;

	/* The stored vector is always the pointwise max (invariant 4). */
	d.store.vv = local->vv;
	err = cf_vv_merge(&d.store.vv, &incoming->vv);
	if (err != GT_OK)
		return err;

	/* The larger stamp always wins (invariant 5). */
	in_wins = cf_stamp_cmp(&incoming->stamp, &local->stamp) > 0;
	order = cf_vv_compare(&incoming->vv, &local->vv);

	if (order == CF_VV_EQUAL || order == CF_VV_BEFORE) {
		/* Already included: a duplicate or a stale record. */
		if (!in_wins) {
			d.action = CF_DROP;
		} else {
			d.action = CF_CONFLICT_TAKE;
			d.anomaly = 1;
		}
	} else if (cf_vv_get(&incoming->vv, local->stamp.origin) >=
	    cf_vv_get(&local->vv, local->stamp.origin)) {
		/* Incoming causally follows the local winner (invariant 6). */
		if (in_wins) {
			d.action = CF_TAKE;
		} else {
			d.action = CF_CONFLICT_KEEP;
			d.anomaly = 1;
		}
	} else {
		/* Neither includes the other's winner: a true conflict. */
		d.action = in_wins ? CF_CONFLICT_TAKE : CF_CONFLICT_KEEP;
		/* Two concurrent writes cannot share a stamp (invariant 1). */
		if (cf_stamp_cmp(&incoming->stamp, &local->stamp) == 0)
			d.anomaly = 1;
	}

	d.store.exists = 1;
	if (in_wins) {
		d.store.stamp = incoming->stamp;
		d.store.tombstone = incoming->tombstone ? 1 : 0;
	} else {
		d.store.stamp = local->stamp;
		d.store.tombstone = local->tombstone ? 1 : 0;
	}
	*out = d;
	return GT_OK;
}

/* --------------------------------------------------------- meta encoding */

size_t cf_meta_encoded_len(const cf_version *v)
{
	size_t len;
	uint32_t i;

	if (!cf_version_valid(v))
		return 0;
	len = 1 + 1 + 8 + 1 + cf_name_len(v->stamp.origin) + 1;
	for (i = 0; i < v->vv.n; i++)
		len += 1 + cf_name_len(v->vv.e[i].region) + 8;
	return len;
}

/* Writes a length-prefixed valid name at p, returns the bytes written. */
static size_t cf_meta_put_name(uint8_t *p, const char *name)
{
	size_t len = cf_name_len(name);

	p[0] = (uint8_t)len;
	memcpy(p + 1, name, len);
	return 1 + len;
}

gt_err cf_meta_encode_to(const cf_version *v, uint8_t *dst, size_t cap,
    size_t *len)
{
	size_t need = cf_meta_encoded_len(v), off = 0;
	uint32_t i;

	if (need == 0 || len == NULL)
		return GT_EINVAL;
	if (dst == NULL || cap < need)
		return GT_ELIMIT;
	dst[off++] = CF_META_FORMAT_VERSION;
	dst[off++] = v->tombstone ? CF_META_FLAG_TOMBSTONE : 0;
	gt_put_u64be(dst + off, v->stamp.hlc);
	off += 8;
	off += cf_meta_put_name(dst + off, v->stamp.origin);
	dst[off++] = (uint8_t)v->vv.n;
	for (i = 0; i < v->vv.n; i++) {
		off += cf_meta_put_name(dst + off, v->vv.e[i].region);
		gt_put_u64be(dst + off, v->vv.e[i].seq);
		off += 8;
	}
	*len = off;
	return GT_OK;
}

gt_err cf_meta_encode(const cf_version *v, gt_buf *out)
{
	uint8_t tmp[CF_META_ENCODED_MAX];
	size_t len;
	gt_err err;

	if (out == NULL)
		return GT_EINVAL;
	err = cf_meta_encode_to(v, tmp, sizeof(tmp), &len);
	if (err != GT_OK)
		return err;
	gt_buf_append(out, tmp, len);
	return gt_buf_ok(out) ? GT_OK : GT_ENOMEM;
}

/*
 * Reads a length-prefixed region name into a NUL-padded array.  Returns 0
 * on success, -1 when the bytes run out or the name breaks a rule.
 */
static int cf_meta_get_name(gt_rd *r, char dst[CF_REGION_NAME_MAX])
{
	uint8_t len = gt_rd_u8(r);
	const uint8_t *p;
	uint8_t i;

	if (r->err || len == 0 || len > CF_REGION_NAME_LEN_MAX)
		return -1;
	p = gt_rd_bytes(r, len);
	if (p == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x21 || p[i] > 0x7e)
			return -1;
	}
	memset(dst, 0, CF_REGION_NAME_MAX);
	memcpy(dst, p, len);
	return 0;
}

gt_err cf_meta_decode(const uint8_t *p, size_t n, cf_version *out,
    size_t *consumed)
{
	cf_version v;
	gt_rd r;
	uint8_t flags, count, i;

	if (out == NULL || (p == NULL && n > 0))
		return GT_EINVAL;
	memset(&v, 0, sizeof(v));
	r.p = p;
	r.n = n;
	r.err = 0;
	if (gt_rd_u8(&r) != CF_META_FORMAT_VERSION || r.err)
		return GT_ECORRUPT;
	flags = gt_rd_u8(&r);
	if (r.err || (flags & ~CF_META_FLAG_TOMBSTONE) != 0)
		return GT_ECORRUPT;
	v.tombstone = (flags & CF_META_FLAG_TOMBSTONE) ? 1 : 0;
	v.stamp.hlc = gt_rd_u64be(&r);
	if (r.err || v.stamp.hlc == 0)
		return GT_ECORRUPT;
	if (cf_meta_get_name(&r, v.stamp.origin) != 0)
		return GT_ECORRUPT;
	count = gt_rd_u8(&r);
	if (r.err || count > CF_VV_MAX)
		return GT_ECORRUPT;
	for (i = 0; i < count; i++) {
		cf_vv_entry *e = &v.vv.e[i];

		if (cf_meta_get_name(&r, e->region) != 0)
			return GT_ECORRUPT;
		e->seq = gt_rd_u64be(&r);
		if (r.err || e->seq == 0)
			return GT_ECORRUPT;
		if (i > 0 && cf_name_cmp(v.vv.e[i - 1].region,
		    e->region) >= 0)
			return GT_ECORRUPT;
	}
	v.vv.n = count;
	v.exists = 1;
	/* The remaining rule: the origin has an entry in the vector. */
	if (!cf_version_valid(&v))
		return GT_ECORRUPT;
	*out = v;
	if (consumed != NULL)
		*consumed = n - r.n;
	return GT_OK;
}
