/*
 * topo.h — the topology core: cluster membership and per-table replica
 * sets, as pure functions over small fixed-size values (no I/O, no clock
 * reads, no allocation).  The region node's driver persists these values,
 * ships them through the change log and carries out the actions returned.
 *
 * Membership.  A cluster is a list of regions with an epoch.  Every change
 * (join, leave) is made by one region, which bumps the epoch; regions
 * adopt a membership with a higher epoch (ties broken by the larger
 * change-maker name), so every region converges to the newest.
 *
 * Replica sets.  A table's replica set lists its regions with a status,
 * and carries an epoch bumped by every change.  A change is made by the
 * region that received the UpdateTable, recorded in its log, and applied
 * everywhere with the same epoch rule.  Statuses:
 *
 *   (absent) --add--> CREATING --backfill done--> ACTIVE
 *   ACTIVE --drop--> (absent)            the dropped region deletes its
 *                                        copy (or keeps it detached)
 *   CREATING --drop--> (absent)          an add can be cancelled
 *   CREATING --backfill failed--> CREATION_FAILED --drop--> (absent)
 *
 * While any replica is CREATING the table is UPDATING and a second replica
 * change is refused (DynamoDB's rule).  The core lives in
 * topo.c, whose design comment lists the invariants and transitions.
 *
 * What the driver must do besides.  tests/sim/sim_topo.c models rules 1-6;
 * breaking rule 1, 2, 3 (but the incarnation check, which no seed has
 * needed yet), 5 or 6 there makes seeds fail; rule 4 was needed while
 * leaves were not serialised as rule 6 now asks:
 *  1. Apply the records of a table it holds from every origin (see
 *     topo_rset_accepts); accept client writes only while it holds a
 *     complete copy and is ACTIVE.
 *  2. Keep the last replica set of every table, with or without a copy,
 *     and feed every set through topo_rset_on_incoming (also its own
 *     changes, and a new table's first set).
 *  3. Backfill: capture the source's cursors and copy incarnation in one
 *     read, copy in chunks from that incarnation only (restart from the
 *     capture otherwise; a source answers only from a complete copy,
 *     i.e. not while it backfills itself); the end is one step: cursors
 *     from topo_backfill_cursors, own records re-applied, pullers
 *     restarted, an apply in flight from before commits nothing, then
 *     topo_rset_activate.  Durable, so a crash resumes at the last chunk.
 *  4. Forward: a region that adopts a newer membership appends it to its
 *     own log.  A change lives in its maker's log, and members stop
 *     pulling a region they drop: two concurrent leaves of C at one epoch
 *     (one made by C) otherwise leave the winner in a log nobody pulls.
 *  5. A joining region gets the catalog (membership and every replica
 *     set) in the answer to its join: a change made by a region that has
 *     since left exists only in that region's log.
 *  6. The operator (the CLI, through every node's admin API) adds a
 *     replica only in a region that the settled membership lists (all
 *     members agree, and no change in any region's log, a departed
 *     region's included, is newer than a member's view): a leave of C
 *     racing with an add of C made from a stale membership makes C a
 *     replica nobody pulls, and its writes are lost.  It drops an ACTIVE
 *     replica only while every member holds the same set and no backfill
 *     runs: two drops made concurrently at different regions are both
 *     valid locally and can together delete every complete copy.  A
 *     region leaves only from a settled membership (a region that removed
 *     itself by a change that then loses a tie is a member again, and
 *     must not have missed what the others did), when it holds nothing,
 *     is in no set (or only as CREATION_FAILED), no replica-set change is
 *     in flight anywhere (an add of it that already lost a tie can still
 *     reach it, and it would build on that set), no backfill runs and
 *     every member has applied its whole log (so its late writes are
 *     everywhere).
 *  7. Tombstone GC (not simulated) must also wait for the logs of dropped
 *     replicas to be pulled past the tombstone: their late writes are
 *     applied (rule 1) and could otherwise resurrect a collected delete.
 */
#ifndef TOPO_H
#define TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "conflict.h"
#include "gt.h"

#define TOPO_REGIONS_MAX 16
#define TOPO_URL_MAX 128
/*
 * Epochs stay below 2^53 so that every JSON reader (which may hold numbers
 * as doubles) reads them exactly; a change that would pass it is refused.
 * At one change a millisecond that is 285,000 years.
 */
#define TOPO_EPOCH_MAX (((uint64_t)1 << 53) - 1)
/* Longest JSON text the parse functions read. */
#define TOPO_JSON_MAX (64u << 10)
/* Most cursor entries topo_backfill_cursors reads per side. */
#define TOPO_CURSORS_MAX 64

/* ------------------------------------------------------------ membership */

typedef struct topo_region {
	char name[CF_REGION_NAME_MAX];
	char api_url[TOPO_URL_MAX];  /* http://host:port */
	char repl_url[TOPO_URL_MAX]; /* tcp://host:port */
} topo_region;

typedef struct topo_members {
	uint64_t epoch;                       /* 0: none yet */
	char changed_by[CF_REGION_NAME_MAX];  /* who made the last change */
	uint32_t n;
	topo_region r[TOPO_REGIONS_MAX];      /* sorted by name, unique */
} topo_members;

/*
 * topo_members_check returns 1 when m (borrowed) keeps the membership
 * invariants, else 0: epoch <= TOPO_EPOCH_MAX; epoch 0 only with no
 * regions and an empty changed_by, else changed_by a valid region name;
 * n <= TOPO_REGIONS_MAX; regions sorted strictly ascending by name; every
 * name valid, every URL valid (api "http://" or "https://", replication
 * "tcp://" or "tls+tcp://", followed by 1.. bytes of 0x21..0x7e); every
 * unused byte of the name and URL arrays zero (so equal values compare
 * equal with memcmp).  Every function below leaves out satisfying it.
 */
int topo_members_check(const topo_members *m);

/*
 * A region joins (or updates its URLs): a new membership made by `by`,
 * epoch + 1.  Errors: GT_EINVAL (invalid name or URLs, or m fails
 * topo_members_check), GT_ELIMIT (full, or the epoch would pass
 * TOPO_EPOCH_MAX).  Joining with identical URLs changes nothing (returns
 * GT_OK, *out = *m).  All pointers borrowed; out may alias m and is
 * untouched on error (the same holds for every function that fills out).
 */
gt_err topo_members_join(const topo_members *m, const topo_region *r,
    const char *by, topo_members *out);

/* A region leaves.  Errors: GT_ENOTFOUND when it is not a member,
 * GT_EINVAL (invalid names or m), GT_ELIMIT (epoch exhausted). */
gt_err topo_members_leave(const topo_members *m, const char *name,
    const char *by, topo_members *out);

/* 1 when incoming should replace local (higher epoch, or equal epoch and
 * larger changed_by, bytewise), else 0.  A NULL or invalid local is older
 * than any valid incoming; a NULL or invalid incoming is never newer. */
int topo_members_newer(const topo_members *local,
    const topo_members *incoming);

/* The member named name, or NULL. */
const topo_region *topo_members_find(const topo_members *m,
    const char *name);

/* JSON (for the log, the admin API and persistence):
 *   {"Epoch": n, "ChangedBy": "r", "Regions": [{"Region": "r",
 *    "Api": "http://..", "Replication": "tcp://.."}, ...]}
 * topo_members_json appends to out (borrowed; check gt_buf_ok).  The parse
 * reads len bytes (at most TOPO_JSON_MAX; no NUL needed) and accepts
 * exactly that shape: every key present once, no other key, regions in
 * any order (stored sorted), nothing but white space after the object,
 * no \u0000 escape anywhere.
 * Errors: GT_EINVAL for anything else (malformed JSON, wrong types, a
 * fractional or negative epoch, invalid names or URLs, duplicate regions,
 * a result failing topo_members_check), GT_ELIMIT for more than
 * TOPO_REGIONS_MAX regions or len above TOPO_JSON_MAX.  out untouched on
 * error.  Allocates only inside cJSON, freed before returning. */
void topo_members_json(const topo_members *m, gt_buf *out);
gt_err topo_members_parse(const char *json, size_t len, topo_members *out);

/* ----------------------------------------------------------- replica sets */

typedef enum topo_rstatus {
	TOPO_CREATING = 1,
	TOPO_ACTIVE,
	TOPO_CREATION_FAILED
} topo_rstatus;

typedef struct topo_replica {
	char region[CF_REGION_NAME_MAX];
	topo_rstatus status;
	uint8_t progress_pct;  /* CREATING: backfill progress, 0..100 */
} topo_replica;

typedef struct topo_rset {
	uint64_t epoch;
	char changed_by[CF_REGION_NAME_MAX];
	char source[CF_REGION_NAME_MAX]; /* CREATING: the backfill source */
	uint32_t n;
	topo_replica r[TOPO_REGIONS_MAX];  /* sorted by region, unique */
} topo_rset;

/* A new table's replica set: just `self`, ACTIVE, epoch 1; or, for a global
 * table, every member ACTIVE (epoch 1, changed_by = by).  Invalid names
 * are skipped, so a bad argument gives a set failing topo_rset_check
 * rather than undefined behaviour.  ACTIVE replicas have progress 100.
 *
 * Route a new table through topo_rset_on_incoming at every region but
 * its creator: listed ACTIVE without a copy, a region backfills it, which
 * picks up writes other replicas made before it learned of the table. */
void topo_rset_init(topo_rset *rs, const char *self);
void topo_rset_init_all(topo_rset *rs, const topo_members *m,
    const char *by);

/*
 * topo_rset_check returns 1 when rs (borrowed) keeps the replica-set
 * invariants (numbered in topo.c), else 0.  Every mutator checks its
 * input with it and asserts it on its output.
 */
int topo_rset_check(const topo_rset *rs);

/* The replica named region, or NULL (borrowed from rs). */
const topo_replica *topo_rset_find(const topo_rset *rs, const char *region);
/* 1 when some replica is CREATING (the table is UPDATING). */
int topo_rset_updating(const topo_rset *rs);

/* Why a replica change was refused, so the API can answer as DynamoDB. */
typedef enum topo_refusal {
	TOPO_OK = 0,
	TOPO_REFUSE_UNKNOWN_REGION,  /* not a cluster member: ValidationException */
	TOPO_REFUSE_SELF,            /* adding the region that got the request */
	TOPO_REFUSE_ALREADY_REPLICA, /* add of an existing replica */
	TOPO_REFUSE_NOT_REPLICA,     /* drop of a region that is not one */
	TOPO_REFUSE_BUSY,            /* another replica change in progress:
				      * ResourceInUseException */
	TOPO_REFUSE_LAST_REPLICA,    /* dropping the last ACTIVE replica */
	TOPO_REFUSE_INVALID          /* rs, m or a name is invalid, or the
				      * epoch is exhausted: InternalServerError
				      * (or ValidationException for a name) */
} topo_refusal;

/*
 * UpdateTable ReplicaUpdates Create: region `add` joins rs as CREATING,
 * backfilled from `by` (the region handling the request).  Returns TOPO_OK
 * and *out, or a refusal (out untouched).  Checks, in order: INVALID (rs,
 * m or by invalid; epoch exhausted), UNKNOWN_REGION (add not in m,
 * including an invalid name), SELF, ALREADY_REPLICA (in any status; a
 * CREATION_FAILED replica must be dropped first), BUSY, NOT_REPLICA (by
 * is not an ACTIVE replica: only a full copy can be a source).  The
 * driver must also refuse while its own copy is incomplete (it is
 * backfilling after an ACTIVE-without-copy rebuild, see on_incoming).
 */
topo_refusal topo_rset_add(const topo_rset *rs, const topo_members *m,
    const char *by, const char *add, topo_rset *out);

/* ReplicaUpdates Delete: region `drop` leaves rs (epoch + 1, changed_by =
 * by).  Checks, in order: INVALID, NOT_REPLICA, BUSY (some replica is
 * CREATING and drop is not it: dropping the CREATING replica cancels the
 * add and is always allowed), LAST_REPLICA (drop is the only ACTIVE
 * replica).  The driver should also refuse to drop the last replica that
 * holds a complete copy (an ACTIVE replica may be rebuilding). */
topo_refusal topo_rset_drop(const topo_rset *rs, const char *by,
    const char *drop, topo_rset *out);

/* The backfilling region reports progress or completion (ACTIVE, progress
 * 100) or failure (CREATION_FAILED), as a change made by `region` itself
 * (epoch + 1).  Errors: GT_EINVAL (invalid rs or region, pct > 100),
 * GT_ENOTFOUND (region not in rs), GT_ECONFLICT (region is not CREATING:
 * e.g. its add was cancelled, or a concurrent set already activated it;
 * then there is nothing to log), GT_ELIMIT (epoch exhausted). */
gt_err topo_rset_progress(const topo_rset *rs, const char *region,
    uint8_t pct, topo_rset *out);
gt_err topo_rset_activate(const topo_rset *rs, const char *region,
    topo_rset *out);
gt_err topo_rset_fail(const topo_rset *rs, const char *region,
    topo_rset *out);

/*
 * A membership change removes departed regions from the set: epoch + 1,
 * changed_by = m->changed_by.  A CREATING replica whose source departed
 * becomes CREATION_FAILED.  Returns 1 with *out set when a listed region
 * is not in m, else 0 (nothing to remove, or invalid input; out
 * untouched).
 *
 * The result is a replica-set change like any other: only the region
 * that made the membership change may compute it, and it logs the pruned
 * sets BEFORE the membership record (so a follower that adopts the
 * membership, and may stop pulling a departed changer, has them).  It
 * must not be applied locally at every region: two regions holding
 * different sets would produce different sets with the same (epoch,
 * changed_by), which the epoch rule can never reconcile.
 */
int topo_rset_prune(const topo_rset *rs, const topo_members *m,
    topo_rset *out);

/* The same, made by `by` (e.g. a region that adopts a set listing a region
 * its membership no longer has, and logs the pruned set itself). */
int topo_rset_prune_by(const topo_rset *rs, const topo_members *m,
    const char *by, topo_rset *out);

/*
 * What region `self` must do when a replica set arrives (from the log, or
 * a change self made) for a table.  local is the last set self stored for
 * the table, or NULL when it never saw one; has_local says whether self
 * holds a copy.  A region keeps the last set of every table it has heard
 * of, also when it holds no copy (after a drop, or for a table it never
 * held): without it a stale set that lists self would make it create a
 * copy nobody ships to.  Stale sets (not newer by epoch, ties by
 * changed_by) are ignored.  Every other answer also means: store
 * incoming as the table's set.
 *
 * The answer reconciles self with incoming whatever the history, because
 * sets made concurrently at one epoch are decided by changed_by, and a
 * region may have acted on the losing one first:
 *   self not listed, or CREATION_FAILED: DROP with a copy, else UPDATE;
 *   CREATING: UPDATE when self already backfills from the same source
 *     (local lists it CREATING with that source and it has a copy), else
 *     CREATE_AND_BACKFILL (a new add, or a new source: start again,
 *     merging into any copy it has);
 *   ACTIVE: UPDATE with a copy (a backfill in progress goes on to its
 *     end; activate then answers GT_ECONFLICT and nothing is logged);
 *     without one CREATE_AND_BACKFILL (it dropped its copy for a set
 *     that lost, or it learns of a new table): it rebuilds from
 *     topo_rset_backfill_source, stays ACTIVE, takes no client writes
 *     until done, and does not call activate.
 * Any ACTIVE replica with a complete copy can serve a backfill; the
 * capture of cursors and every chunk must come from the same one, and
 * the same incarnation of its copy (restart from the capture otherwise).
 * Invalid incoming or self: IGNORE.
 */
typedef enum topo_action {
	TOPO_IGNORE = 0,   /* stale, or invalid */
	TOPO_UPDATE,       /* store the new set (statuses, progress) */
	TOPO_CREATE_AND_BACKFILL, /* create the table (or keep the copy)
				   * and backfill it from
				   * topo_rset_backfill_source */
	TOPO_DROP          /* self was removed or its creation failed:
			    * delete (or detach) the copy */
} topo_action;

topo_action topo_rset_on_incoming(const topo_rset *local, int has_local,
    const topo_rset *incoming, const char *self);

/*
 * Where to backfill from: attempt 0, 1, 2, ... cycle through the
 * candidates (pass the number of failed attempts, so a source that is not
 * ready does not stall the backfill): incoming->source when self is
 * CREATING; then changed_by when it is an ACTIVE replica (the maker of a
 * change holds a copy); then every other ACTIVE replica by name.  Never
 * self.  Returns a name borrowed from rs, or NULL when there is none.
 */
const char *topo_rset_backfill_source(const topo_rset *rs, const char *self,
    unsigned attempt);

/*
 * 1 when origin is a replica of the table (in any status), else 0.
 *
 * Do NOT use it to refuse the item records of a table one holds.  Which
 * records of a dropped origin a region would refuse depends on whether
 * the drop reached it before the records did, so replicas diverge: C
 * writes k; A applies it; A then drops C; B learns the drop from A's log
 * before it pulls C's log, and refuses the write; A keeps k, B never gets
 * it (tests/sim/sim_topo.c with MERIDIAN_TOPO_REFUSE=1 shows it).  The
 * sound rule: a region accepts client writes to a table only while it
 * holds a complete copy and is ACTIVE in its set; every region that holds
 * a copy applies the table's records from every origin.  A dropped region
 * deletes its copy, so its log holds no later records of the table; a
 * detached copy must not log its writes under the table's name.
 */
int topo_rset_accepts(const topo_rset *rs, const char *origin);

/* JSON, as kept in the table descriptor under "ReplicaSet":
 *   {"Epoch": n, "ChangedBy": "r", "Source": "r"?, "Replicas":
 *    [{"RegionName": "r", "ReplicaStatus": "ACTIVE", "Progress": 0}]}
 * "Source" appears exactly when a replica is CREATING.  Rules and errors
 * of the parse as for topo_members_parse (an unknown status is
 * GT_EINVAL; the result must pass topo_rset_check). */
void topo_rset_json(const topo_rset *rs, gt_buf *out);
gt_err topo_rset_parse(const char *json, size_t len, topo_rset *out);
const char *topo_rstatus_name(topo_rstatus s); /* "CREATING", ...;
						* "UNKNOWN" otherwise */

/* ---------------------------------------------------------------- backfill */

/*
 * Where a new replica starts tailing each origin after a backfill from
 * source: the source's cursors captured BEFORE the copy began (its cursor
 * for every other origin, and its own head for itself), never above what
 * the new replica already applied (a lower cursor only re-delivers
 * records, which the apply rule drops).  Writes from any region during the
 * copy therefore arrive exactly once in effect.
 *
 * out[origin] = min(local, source), an origin missing on either side
 * counting as 0 (nothing applied there, or nothing guaranteed by the
 * snapshot).  Cursors are per origin, for every table, so the result is
 * never above local: it only rewinds (records of other tables are
 * re-delivered and dropped by the apply rule).  The driver sets the
 * cursors, stops its pullers and starts them again from the new cursors,
 * and must make an apply that was in flight before the rewind commit
 * nothing (else it moves a cursor forward again).
 *
 * Pass the new replica itself in local with its own head seq: out's entry
 * for it is the seq after which it must re-apply its own log records of
 * the table.  Those are writes it made while it held an earlier copy,
 * which it deleted when dropped; the source may not have pulled them yet,
 * and no puller ever delivers a region its own records.
 *
 * local / source: arrays of {region, seq} (n <= TOPO_CURSORS_MAX entries
 * each, any order, borrowed); out (max entries, owned by the caller) gets
 * one entry per origin in either, sorted by region.  Returns the number of
 * entries written; 0 when out cannot hold them all, an input is NULL with
 * n > 0, holds an invalid or duplicate region, or n > TOPO_CURSORS_MAX
 * (size out for nlocal + nsource entries).
 */
typedef struct topo_cursor {
	char region[CF_REGION_NAME_MAX];
	uint64_t seq;
} topo_cursor;

size_t topo_backfill_cursors(const topo_cursor *local, size_t nlocal,
    const topo_cursor *source, size_t nsource, topo_cursor *out,
    size_t max);

#endif /* TOPO_H */
