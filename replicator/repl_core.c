/*
 * repl_core.c — the replicator's decisions: the follower's puller state
 * machine, the origin's answer to a PULL, and change-log retention.  Pure:
 * no I/O, no clock reads, no allocation; time and randomness come in with
 * the events.  The driver (NNG, LMDB, threads) and the simulator
 * (tests/sim/sim_repl.c) feed the same functions.
 *
 * Puller states (repl_pstate in repl.h) and transitions, FROM -> TO [event]
 * (the action the step returns in parentheses):
 *
 *              START                  BATCH(records)
 *     IDLE -------------> PULLING ----------------------> APPLYING
 *                          |  ^  ^ \                          |
 *          ERROR, TIMER,   |  |  |  \ BATCH(resync)   APPLIED |
 *          APPLY_FAILED    v  |  |   `-----> RESYNC           |
 *                     BACKOFF |  |             | RESYNCED      |
 *                          |__|  `-------------'---------------'
 *                         TIMER
 *
 *   IDLE     -> PULLING  [START]             (SEND_PULL after cursor)
 *   PULLING  -> APPLYING [BATCH, ours, N>0]  (APPLY)
 *   PULLING  -> PULLING  [BATCH, ours, N=0]  (SEND_PULL) when the answer
 *                                            took >= idle_min_ms
 *   PULLING  -> BACKOFF  [BATCH, ours, N=0]  (timer: sent + idle_min_ms)
 *                                            when it came back sooner
 *   PULLING  -> RESYNC   [BATCH, ours, RESYNC flag] (RESYNC)
 *   PULLING  -> BACKOFF  [BATCH, ours, after_seq != cursor] (timer) a
 *                                            protocol error, counted
 *   PULLING  -> BACKOFF  [ERROR, ours]       (timer: backoff)
 *   PULLING  -> BACKOFF  [TIMER >= deadline] (timer: backoff) timeout
 *   APPLYING -> PULLING  [APPLIED]           (SEND_PULL after new cursor)
 *   APPLYING -> BACKOFF  [APPLY_FAILED]      (timer: backoff)
 *   BACKOFF  -> PULLING  [TIMER >= timer]    (SEND_PULL)
 *   RESYNC   -> PULLING  [RESYNCED]          (SEND_PULL after new cursor)
 *   any      -> IDLE     [STOP]              (NONE, no timer)
 * Every other (state, event) pair is ignored and counted as stale: a
 * BATCH or ERROR whose pull_id is not the one in flight (a duplicate, a
 * reordered answer, an answer to a request that already timed out), an
 * early or stale TIMER, an APPLIED outside APPLYING, a START outside IDLE.
 *
 * Invariants (repl_puller_check; asserted after every step):
 *   1. state is a valid repl_pstate and cfg is valid (repl_puller_init).
 *   2. timer_at_ms != 0 exactly in PULLING and BACKOFF: those are the
 *      states that leave by a TIMER, so neither can hang.  APPLYING and
 *      RESYNC wait for the driver, IDLE for START.
 *   3. pull_id != 0 exactly in PULLING, so an answer can only be taken
 *      while its request is in flight, and never twice: leaving PULLING
 *      clears pull_id, and every send takes a fresh id.
 *   4. In PULLING the request asked for after_seq = cursor and its
 *      deadline is after it was sent.
 *   5. In APPLYING, apply_to > cursor: the batch holds records past the
 *      cursor (the decoder guarantees records > after_seq = cursor).
 *   6. backoff_ms <= backoff_max_ms.
 *
 * Safety does not rest on the puller.  The origin sends only records after
 * the requested seq and the apply skips records at or below the durable
 * cursor and runs cf_resolve, which drops duplicates; so a stale answer
 * that slipped through would still change nothing.  The puller's job is
 * liveness and pacing: exactly one request in flight per origin, retries
 * with bounded backoff, no busy loop against an origin that does not park.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "gt.h"
#include "repl.h"

/* The backoff exponent stops growing here (2^20 * min is past any cap). */
#define BACKOFF_SHIFT_MAX 20u

void repl_puller_cfg_default(repl_puller_cfg *cfg)
{
	cfg->max_bytes = 1u << 20;
	cfg->wait_ms = 5000;
	cfg->rpc_slack_ms = 2000;
	cfg->backoff_min_ms = 50;
	cfg->backoff_max_ms = 2000;
	cfg->idle_min_ms = 20;
}

static int cfg_ok(const repl_puller_cfg *c)
{
	return c->max_bytes > 0 && c->wait_ms > 0 &&
	    c->wait_ms <= REPL_WAIT_MAX_MS && c->rpc_slack_ms > 0 &&
	    c->backoff_min_ms > 0 && c->backoff_max_ms >= c->backoff_min_ms;
}

gt_err repl_puller_init(repl_puller *p, const repl_puller_cfg *cfg)
{
	if (p == NULL || cfg == NULL || !cfg_ok(cfg))
		return GT_EINVAL;
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->state = REPL_PS_IDLE;
	p->next_id = 1;
	p->last_err = GT_OK;
	return GT_OK;
}

const char *repl_pstate_name(repl_pstate s)
{
	switch (s) {
	case REPL_PS_IDLE: return "IDLE";
	case REPL_PS_PULLING: return "PULLING";
	case REPL_PS_APPLYING: return "APPLYING";
	case REPL_PS_BACKOFF: return "BACKOFF";
	case REPL_PS_RESYNC: return "RESYNC";
	case REPL_PS_COUNT_: break;
	}
	return "?";
}

int repl_puller_check(const repl_puller *p)
{
	int timed, pulling;

	if (p == NULL || (unsigned)p->state >= REPL_PS_COUNT_ ||
	    !cfg_ok(&p->cfg))
		return 0;
	timed = p->state == REPL_PS_PULLING || p->state == REPL_PS_BACKOFF;
	pulling = p->state == REPL_PS_PULLING;
	if (timed != (p->timer_at_ms != 0))
		return 0;
	if (pulling != (p->pull_id != 0))
		return 0;
	if (pulling && (p->pull_id == p->next_id ||
	    p->timer_at_ms <= p->sent_ms))
		return 0;
	if (p->state == REPL_PS_APPLYING && p->apply_to <= p->cursor)
		return 0;
	if (p->backoff_ms > p->cfg.backoff_max_ms)
		return 0;
	return 1;
}

uint64_t repl_puller_pending(const repl_puller *p)
{
	return p->head_seq > p->cursor ? p->head_seq - p->cursor : 0;
}

/* ------------------------------------------------------------- actions */

static void send_pull(repl_puller *p, repl_action *act)
{
	p->pull_id = p->next_id;
	p->next_id++;
	if (p->next_id == 0)
		p->next_id = 1;
	p->sent_ms = p->now_ms;
	p->timer_at_ms = p->now_ms + p->cfg.wait_ms + p->cfg.rpc_slack_ms;
	p->state = REPL_PS_PULLING;
	act->kind = REPL_ACT_SEND_PULL;
	act->pull_id = p->pull_id;
	act->after_seq = p->cursor;
	act->max_bytes = p->cfg.max_bytes;
	act->wait_ms = p->cfg.wait_ms;
}

/*
 * Enters BACKOFF after a failure: base = backoff_min * 2^(failures-1),
 * capped at backoff_max; the delay is uniform in [max(min, base/2), base]
 * by rnd, so pullers that failed together do not retry together.
 */
static void backoff(repl_puller *p, gt_err why, uint32_t rnd)
{
	uint64_t base, lo, delay;
	uint32_t shift;

	if (p->failures < UINT32_MAX)
		p->failures++;
	shift = p->failures - 1;
	if (shift > BACKOFF_SHIFT_MAX)
		shift = BACKOFF_SHIFT_MAX;
	base = (uint64_t)p->cfg.backoff_min_ms << shift;
	if (base > p->cfg.backoff_max_ms)
		base = p->cfg.backoff_max_ms;
	lo = base / 2;
	if (lo < p->cfg.backoff_min_ms)
		lo = p->cfg.backoff_min_ms;
	delay = lo + (uint64_t)rnd % (base - lo + 1);
	p->backoff_ms = (uint32_t)base;
	p->last_err = why;
	p->pull_id = 0;
	p->state = REPL_PS_BACKOFF;
	p->timer_at_ms = p->now_ms + delay;
}

/* A BATCH answering the request in flight. */
static void on_batch(repl_puller *p, const repl_batch_info *b,
    uint32_t rnd, repl_action *act)
{
	if (b->after_seq != p->cursor ||
	    (b->count > 0 && b->last_seq <= p->cursor)) {
		/* The origin answered a question we did not ask: never
		 * apply it (a gap could follow), retry later. */
		backoff(p, GT_ECORRUPT, rnd);
		return;
	}
	p->head_seq = b->head_seq;
	p->origin_hlc = b->origin_hlc;
	p->last_ok_ms = p->now_ms;
	p->failures = 0;
	p->backoff_ms = 0;
	p->last_err = GT_OK;
	p->pull_id = 0;
	p->timer_at_ms = 0;
	if (b->flags & REPL_BATCH_F_RESYNC) {
		p->state = REPL_PS_RESYNC;
		act->kind = REPL_ACT_RESYNC;
		return;
	}
	if (b->count > 0) {
		p->state = REPL_PS_APPLYING;
		p->apply_to = b->last_seq;
		act->kind = REPL_ACT_APPLY;
		act->after_seq = p->cursor;
		return;
	}
	if (p->now_ms - p->sent_ms < p->cfg.idle_min_ms) {
		/* An empty answer that came back at once: the origin does
		 * not park (or parks very briefly); pace the next pull. */
		p->state = REPL_PS_BACKOFF;
		p->timer_at_ms = p->sent_ms + p->cfg.idle_min_ms;
		return;
	}
	send_pull(p, act);
}

void repl_puller_step(repl_puller *p, const repl_event *ev,
    repl_action *act)
{
	int taken = 1;

	assert(repl_puller_check(p));
	memset(act, 0, sizeof(*act));
	act->kind = REPL_ACT_NONE;
	if (ev->now_ms > p->now_ms)
		p->now_ms = ev->now_ms;

	switch (ev->kind) {
	case REPL_EV_START:
		if (p->state != REPL_PS_IDLE) {
			taken = 0;
			break;
		}
		p->cursor = ev->cursor;
		p->next_id = ev->pull_id != 0 ? ev->pull_id : 1;
		p->failures = 0;
		p->backoff_ms = 0;
		p->last_err = GT_OK;
		send_pull(p, act);
		break;
	case REPL_EV_BATCH:
		if (p->state != REPL_PS_PULLING ||
		    ev->batch.pull_id != p->pull_id) {
			taken = 0;
			break;
		}
		on_batch(p, &ev->batch, ev->rnd, act);
		break;
	case REPL_EV_ERROR:
		if (p->state != REPL_PS_PULLING || ev->pull_id != p->pull_id) {
			taken = 0;
			break;
		}
		backoff(p, ev->err != GT_OK ? ev->err : GT_EIO, ev->rnd);
		break;
	case REPL_EV_APPLIED:
		if (p->state != REPL_PS_APPLYING) {
			taken = 0;
			break;
		}
		/* The committed cursor only moves forward; a driver that
		 * committed less than the whole batch re-pulls the rest. */
		if (ev->cursor > p->cursor)
			p->cursor = ev->cursor;
		p->apply_to = 0;
		send_pull(p, act);
		break;
	case REPL_EV_APPLY_FAILED:
		if (p->state != REPL_PS_APPLYING) {
			taken = 0;
			break;
		}
		p->apply_to = 0;
		backoff(p, ev->err != GT_OK ? ev->err : GT_EIO, ev->rnd);
		break;
	case REPL_EV_TIMER:
		if (p->timer_at_ms == 0 || p->now_ms < p->timer_at_ms) {
			taken = 0;
			break;
		}
		if (p->state == REPL_PS_PULLING)
			backoff(p, GT_ETIMEOUT, ev->rnd);
		else
			send_pull(p, act);
		break;
	case REPL_EV_RESYNCED:
		if (p->state != REPL_PS_RESYNC) {
			taken = 0;
			break;
		}
		p->cursor = ev->cursor;
		send_pull(p, act);
		break;
	case REPL_EV_STOP:
		p->state = REPL_PS_IDLE;
		p->pull_id = 0;
		p->timer_at_ms = 0;
		p->apply_to = 0;
		break;
	default:
		taken = 0;
		break;
	}
	if (!taken)
		p->stale++;
	act->timer_at_ms = p->timer_at_ms;
	assert(repl_puller_check(p));
}

/* ---------------------------------------------------------------- origin */

void repl_origin_decide(const repl_origin_view *v, const repl_pull *pull,
    uint64_t received_ms, uint64_t now_ms, repl_answer *out)
{
	uint64_t after = pull->after_seq, deadline;
	uint32_t wait = pull->wait_ms, cap;

	memset(out, 0, sizeof(*out));
	if (wait > v->wait_max_ms)
		wait = v->wait_max_ms;
	if (wait > REPL_WAIT_MAX_MS)
		wait = REPL_WAIT_MAX_MS;
	/* An ack can only name a seq this origin has issued. */
	if (after <= v->head_seq) {
		out->ack_valid = 1;
		out->ack_seq = after;
	}
	if (after > v->head_seq || after < v->trunc_seq) {
		out->kind = REPL_ANSWER_RESYNC;
		return;
	}
	if (after < v->head_seq) {
		cap = v->max_bytes != 0 ? v->max_bytes : REPL_FRAME_MAX;
		if (pull->max_bytes < cap)
			cap = pull->max_bytes;
		if (cap < REPL_FRAME_MIN_BATCH)
			cap = REPL_FRAME_MIN_BATCH;
		if (cap > REPL_FRAME_MAX)
			cap = REPL_FRAME_MAX;
		out->kind = REPL_ANSWER_NOW;
		out->max_bytes = cap;
		return;
	}
	deadline = received_ms + wait;
	if (now_ms >= deadline) {
		out->kind = REPL_ANSWER_EMPTY;
		return;
	}
	out->kind = REPL_ANSWER_PARK;
	out->park_until_ms = deadline;
}

/* ------------------------------------------------------------- retention */

gt_err repl_retention_plan(const repl_retention_in *in,
    repl_peer_ack *peers, size_t n, repl_retention_out *out)
{
	uint64_t head, t, gc, floor_seq;
	size_t resync = 0;

	if (in == NULL || out == NULL || (n > 0 && peers == NULL) ||
	    in->trunc_seq > in->head_seq)
		return GT_EINVAL;
	head = in->head_seq;
	/* Wait for the slowest active peer... */
	t = head;
	for (size_t i = 0; i < n; i++) {
		if (peers[i].active && peers[i].acked_seq < t)
			t = peers[i].acked_seq;
	}
	/* ...and for what streams must keep (no peer needs it)... */
	if (in->keep_set && in->keep_seq < t)
		t = in->keep_seq;
	/* ...but not past the configured limits... */
	if (in->keep_max != 0 && head > in->keep_max &&
	    head - in->keep_max > t)
		t = head - in->keep_max;
	floor_seq = in->floor_seq < head ? in->floor_seq : head;
	if (floor_seq > t)
		t = floor_seq;
	/* ...and never give back what is already gone. */
	if (in->trunc_seq > t)
		t = in->trunc_seq;
	gc = head;
	for (size_t i = 0; i < n; i++) {
		peers[i].must_resync = peers[i].active &&
		    peers[i].acked_seq < t;
		if (peers[i].must_resync)
			resync++;
		else if (peers[i].active && peers[i].acked_seq < gc)
			gc = peers[i].acked_seq;
	}
	out->trunc_to = t;
	out->gc_seq = gc;
	out->n_resync = resync;
	return GT_OK;
}
