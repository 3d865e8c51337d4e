/*
 * simkit.h — what the seeded simulations share (DESIGN.md section 9): a
 * seeded random source and the event queue.  Header-only, since each
 * tests/sim/sim_*.c is a program of its own.
 *
 * The queue is a binary min-heap ordered by time and then by the order
 * events were scheduled, so events due at the same simulated time run
 * first-scheduled first and a seed replays exactly.
 */
#ifndef SIMKIT_H
#define SIMKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ------------------------------------------------------------ randomness */

/* The generator's state: set it to the seed before a run. */
static uint64_t rng_state;

/* SplitMix64: one 64-bit draw. */
static inline uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(uint64_t lo, uint64_t hi)
{
	return lo + rng_next() % (hi - lo + 1);
}

/* 1 with probability per_mille / 1000. */
static inline int rng_chance(unsigned per_mille)
{
	return rng_next() % 1000 < per_mille;
}

/* ----------------------------------------------------------- event queue */

typedef struct sim_event {
	uint64_t at;          /* simulated time due, ms */
	uint64_t order;       /* scheduling order (set by sim_evq_push) */
	int kind, reg, peer;  /* the simulation's event kind; regions */
	uint32_t inc;         /* incarnation of reg this event belongs to */
	uint32_t gen;         /* a generation the event belongs to (a
			       * backfill's), when the simulation has one */
	uint64_t id;          /* pull id (transport context) or slot id */
	uint8_t *bytes;       /* owned frame, or NULL */
	size_t n;
} sim_event;

typedef struct sim_evq {
	sim_event *h;
	size_t n, cap;
	uint64_t order;
} sim_evq;

static inline int sim_event_less(const sim_event *a, const sim_event *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	return a->order < b->order;
}

/* Schedules e (its order is assigned here).  Returns -1, queuing
 * nothing, when memory runs out. */
static inline int sim_evq_push(sim_evq *q, sim_event e)
{
	size_t i;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 1024;
		sim_event *h = realloc(q->h, cap * sizeof(*h));
		if (h == NULL)
			return -1;
		q->h = h;
		q->cap = cap;
	}
	e.order = q->order++;
	i = q->n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (!sim_event_less(&e, &q->h[up]))
			break;
		q->h[i] = q->h[up];
		i = up;
	}
	q->h[i] = e;
	return 0;
}

/* Takes the next event due; the queue must not be empty. */
static inline sim_event sim_evq_pop(sim_evq *q)
{
	sim_event top = q->h[0], last = q->h[--q->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && sim_event_less(&q->h[c + 1], &q->h[c]))
			c++;
		if (!sim_event_less(&q->h[c], &last))
			break;
		q->h[i] = q->h[c];
		i = c;
	}
	if (q->n > 0)
		q->h[i] = last;
	return top;
}

/* Drops every queued event (and its frame) and the queue's memory. */
static inline void sim_evq_free(sim_evq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->h[i].bytes);
	free(q->h);
	q->h = NULL;
	q->n = q->cap = 0;
	q->order = 0;
}

#endif /* SIMKIT_H */
