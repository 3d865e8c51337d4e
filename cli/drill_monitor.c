/*
 * drill_monitor.c — replication latency, backlog and conflicts over time.
 *
 * Every sample_ms the monitor thread reads GET /metrics of every region
 * (in parallel) and keeps, per source -> destination pair:
 *   - meridian_replication_latency_ms, a cumulative histogram at the
 *     destination.  The difference between two scrapes is the histogram
 *     of the records applied in that interval, from which the interval's
 *     p50 and p99 are estimated the way Prometheus' histogram_quantile
 *     does (linear within the bucket).  A count that went down means the
 *     node restarted: the new counts are the interval's.
 *   - meridian_pending_replication_count, reported by the source.
 * and per region meridian_conflicts_total.
 *
 * Bucket bounds are learnt from the first scrape that has any (the node
 * publishes one fixed set).  Samples are kept for the whole run (the
 * chart and the report use them); the progress line reads the latest.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

#define R CLI_REGIONS_MAX
#define B DRILL_BUCKETS_MAX

struct drill_monitor {
	drill *d;
	pthread_t th;
	int started;
	_Atomic int stop;
	size_t n;
	cli_region regions[R];
	double bounds[B];
	size_t nb;
	uint64_t prev[R][R][B];
	int have_prev[R][R];
	uint64_t total[R][R][B];
	int64_t conflicts[R];
	pthread_mutex_t mu;
	uint64_t *t_ms;
	drill_pairstat *ps;       /* nsamples x n x n */
	size_t ns, cap;
	double last_max_p99;
	int64_t last_max_pending;
};

/* One scrape of one region, parsed. */
typedef struct scrape {
	drill_monitor *m;
	const cli_opts *o;
	cli_region *r;
	size_t self;
	int ok;
	gt_buf text;
	uint64_t cum[R][B];       /* [source][bucket], cumulative */
	int have[R];
	int64_t pending[R];       /* [destination] */
	int64_t conflicts;
} scrape;

double drill_hist_quantile(const double *bounds, const uint64_t *counts,
    size_t nb, double q)
{
	uint64_t total = 0, cum = 0;
	double rank;

	for (size_t b = 0; b < nb; b++)
		total += counts[b];
	if (total == 0)
		return -1;
	rank = q * (double)total;
	for (size_t b = 0; b < nb; b++) {
		double lo = b == 0 ? 0 : bounds[b - 1];
		double hi = bounds[b];
		if (counts[b] == 0 || (double)(cum + counts[b]) < rank) {
			cum += counts[b];
			continue;
		}
		if (isinf(hi))
			return lo;
		if (b == 0 && hi > 0 && lo == 0)
			lo = 0;
		return lo + (hi - lo) * (rank - (double)cum) /
		    (double)counts[b];
	}
	/* q = 1 with rounding: the highest non-empty bucket's bound. */
	for (size_t b = nb; b-- > 0;)
		if (counts[b] > 0)
			return isinf(bounds[b]) && b > 0 ? bounds[b - 1] :
			    bounds[b];
	return -1;
}

/* Finds label name's value in a label list ("a=\"x\",b=\"y\""). */
static int label(const char *labels, size_t len, const char *name,
    char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = labels, *end = labels + len;

	while (p < end) {
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *q, *close;
		if (eq == NULL || eq + 1 >= end || eq[1] != '"')
			return -1;
		q = eq + 2;
		close = memchr(q, '"', (size_t)(end - q));
		if (close == NULL)
			return -1;
		if ((size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
			size_t vl = (size_t)(close - q);
			if (vl >= outlen)
				return -1;
			memcpy(out, q, vl);
			out[vl] = '\0';
			return 0;
		}
		p = close + 1;
		if (p < end && *p == ',')
			p++;
	}
	return -1;
}

static int region_of(const drill_monitor *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->regions[i].name, name) == 0)
			return (int)i;
	return -1;
}

static double parse_le(const char *s)
{
	if (strcmp(s, "+Inf") == 0)
		return INFINITY;
	return strtod(s, NULL);
}

/* Calls fn for every sample line of a metrics text. */
static void metrics_each(const char *text, size_t len,
    void (*fn)(void *arg, const char *name, size_t nlen, const char *labels,
    size_t llen, double v), void *arg)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *ls = NULL, *le = NULL, *ne, *vs;
		if (eol == NULL)
			eol = end;
		if (*p != '#' && eol > p) {
			ne = p;
			while (ne < eol && *ne != '{' && *ne != ' ')
				ne++;
			vs = ne;
			if (ne < eol && *ne == '{') {
				ls = ne + 1;
				le = memchr(ls, '}', (size_t)(eol - ls));
				vs = le != NULL ? le + 1 : eol;
			}
			while (vs < eol && *vs == ' ')
				vs++;
			if (vs < eol && (ls == NULL || le != NULL)) {
				char num[48];
				size_t vl = GT_MIN((size_t)(eol - vs),
				    sizeof(num) - 1);
				memcpy(num, vs, vl);
				num[vl] = '\0';
				fn(arg, p, (size_t)(ne - p), ls ? ls : "",
				    ls ? (size_t)(le - ls) : 0,
				    strcmp(num, "+Inf") == 0 ? INFINITY :
				    strtod(num, NULL));
			}
		}
		p = eol + 1;
	}
}

#define NAME_IS(n, nl, lit) ((nl) == sizeof(lit) - 1 && \
	memcmp((n), (lit), (nl)) == 0)

static void learn_bounds(void *arg, const char *name, size_t nlen,
    const char *labels, size_t llen, double v)
{
	drill_monitor *m = arg;
	char le[32];
	double b;
	size_t i;

	(void)v;
	if (!NAME_IS(name, nlen, "meridian_replication_latency_ms_bucket") ||
	    label(labels, llen, "le", le, sizeof(le)) != 0)
		return;
	b = parse_le(le);
	for (i = 0; i < m->nb; i++)
		if (m->bounds[i] == b)
			return;
	if (m->nb == B)
		return;
	i = m->nb;
	while (i > 0 && m->bounds[i - 1] > b) {
		m->bounds[i] = m->bounds[i - 1];
		i--;
	}
	m->bounds[i] = b;
	m->nb++;
}

static void take_sample(void *arg, const char *name, size_t nlen,
    const char *labels, size_t llen, double v)
{
	scrape *s = arg;
	char src[CLI_NAME_MAX], dst[CLI_NAME_MAX], le[32];
	int si, di;

	if (NAME_IS(name, nlen, "meridian_conflicts_total")) {
		s->conflicts = (int64_t)v;
		return;
	}
	if (NAME_IS(name, nlen, "meridian_pending_replication_count")) {
		if (label(labels, llen, "destination", dst, sizeof(dst)) == 0 &&
		    (di = region_of(s->m, dst)) >= 0)
			s->pending[di] = (int64_t)v;
		return;
	}
	if (!NAME_IS(name, nlen, "meridian_replication_latency_ms_bucket") ||
	    label(labels, llen, "source", src, sizeof(src)) != 0 ||
	    label(labels, llen, "le", le, sizeof(le)) != 0)
		return;
	si = region_of(s->m, src);
	if (si < 0 || (size_t)si == s->self)
		return;
	for (size_t b = 0; b < s->m->nb; b++)
		if (s->m->bounds[b] == parse_le(le)) {
			s->cum[si][b] = (uint64_t)v;
			s->have[si] = 1;
			break;
		}
}

static void scrape_run(void *arg)
{
	scrape *s = arg;
	cli_resp rs = CLI_RESP_INIT;

	s->ok = 0;
	s->conflicts = -1;
	for (size_t i = 0; i < R; i++)
		s->pending[i] = -1;
	if (cli_http(s->o, s->r->api, "GET", "/metrics", NULL, NULL, &rs) != 0
	    || rs.status != 200) {
		cli_resp_free(&rs);
		return;
	}
	s->text = rs.body;
	s->ok = 1;
}

/* Parses a fetched scrape (the bounds need the monitor's lock). */
static void scrape_parse(scrape *s)
{
	if (!s->ok || s->text.data == NULL)
		return;
	if (s->m->nb == 0)
		metrics_each(s->text.data, s->text.len, learn_bounds, s->m);
	metrics_each(s->text.data, s->text.len, take_sample, s);
}

static int64_t pending_of(const scrape *sc, size_t src, size_t dst)
{
	return sc[src].ok ? sc[src].pending[dst] : -1;
}

static void monitor_tick(drill_monitor *m, scrape *sc)
{
	drill *d = m->d;
	size_t n = m->n;
	uint64_t now_ms = drill_now_ns(d) / 1000000u;
	double max_p99 = -1;
	int64_t max_pending = -1;
	drill_pairstat *row;

	cli_parallel(n, sc, sizeof(sc[0]), scrape_run);
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < n; i++)
		scrape_parse(&sc[i]);
	if (m->ns == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		uint64_t *t = realloc(m->t_ms, cap * sizeof(*t));
		drill_pairstat *p;
		if (t == NULL)
			goto out;
		m->t_ms = t;
		p = realloc(m->ps, cap * n * n * sizeof(*p));
		if (p == NULL)
			goto out;
		m->ps = p;
		m->cap = cap;
	}
	row = &m->ps[m->ns * n * n];
	for (size_t s = 0; s < n; s++)
		for (size_t t = 0; t < n; t++) {
			drill_pairstat *x = &row[s * n + t];
			uint64_t delta[B], cnt[B];
			int reset = 0;

			x->p50 = x->p99 = -1;
			x->n = 0;
			x->pending = s == t ? -1 : pending_of(sc, s, t);
			if (s == t || !sc[t].ok || !sc[t].have[s])
				continue;
			for (size_t b = 0; b < m->nb; b++)
				if (sc[t].cum[s][b] < m->prev[s][t][b])
					reset = 1;
			for (size_t b = 0; b < m->nb; b++) {
				delta[b] = sc[t].cum[s][b] - (reset ||
				    !m->have_prev[s][t] ? 0 :
				    m->prev[s][t][b]);
				m->prev[s][t][b] = sc[t].cum[s][b];
			}
			/* The first scrape is the baseline, not an
			 * interval. */
			if (!m->have_prev[s][t] && m->ns == 0) {
				m->have_prev[s][t] = 1;
				continue;
			}
			m->have_prev[s][t] = 1;
			for (size_t b = 0; b < m->nb; b++) {
				cnt[b] = b == 0 ? delta[0] :
				    delta[b] >= delta[b - 1] ?
				    delta[b] - delta[b - 1] : 0;
				m->total[s][t][b] += cnt[b];
				x->n += cnt[b];
			}
			x->p50 = drill_hist_quantile(m->bounds, cnt, m->nb,
			    0.5);
			x->p99 = drill_hist_quantile(m->bounds, cnt, m->nb,
			    0.99);
			if (x->p99 > max_p99)
				max_p99 = x->p99;
			if (x->pending > max_pending)
				max_pending = x->pending;
		}
	for (size_t s = 0; s < n; s++)
		for (size_t t = 0; t < n; t++)
			if (s != t && row[s * n + t].pending > max_pending)
				max_pending = row[s * n + t].pending;
	for (size_t i = 0; i < n; i++)
		if (sc[i].ok && sc[i].conflicts >= 0)
			m->conflicts[i] = sc[i].conflicts;
	m->t_ms[m->ns++] = now_ms;
	m->last_max_p99 = max_p99;
	m->last_max_pending = max_pending;
out:
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < n; i++) {
		gt_buf_free(&sc[i].text);
		memset(sc[i].cum, 0, sizeof(sc[i].cum));
		memset(sc[i].have, 0, sizeof(sc[i].have));
	}
}

static void *monitor_main(void *arg)
{
	drill_monitor *m = arg;
	drill *d = m->d;
	scrape *sc = calloc(m->n, sizeof(*sc));
	cli_opts so = d->ctl_opts;
	uint64_t next = 0;

	if (sc == NULL)
		return NULL;
	so.request_timeout_ms = GT_MIN(2000u, d->sc->sample_ms * 2);
	for (size_t i = 0; i < m->n; i++) {
		sc[i].m = m;
		sc[i].o = &so;
		sc[i].r = &m->regions[i];
		sc[i].self = i;
	}
	while (!atomic_load(&m->stop)) {
		uint64_t now = drill_now_ns(d) / 1000000u;
		if (now < next) {
			cli_sleep_ms((unsigned)GT_MIN(next - now, 50u));
			continue;
		}
		monitor_tick(m, sc);
		next += d->sc->sample_ms;
		if (next < now)
			next = now + d->sc->sample_ms;
	}
	free(sc);
	return NULL;
}

int drill_monitor_start(drill *d)
{
	drill_monitor *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -1;
	m->d = d;
	m->n = d->nreg;
	memcpy(m->regions, d->cluster.r, sizeof(m->regions));
	for (size_t i = 0; i < m->n; i++) {
		m->regions[i].dead = 0;
		m->conflicts[i] = -1;
	}
	m->last_max_p99 = -1;
	m->last_max_pending = -1;
	pthread_mutex_init(&m->mu, NULL);
	d->mon = m;
	if (pthread_create(&m->th, NULL, monitor_main, m) != 0) {
		pthread_mutex_destroy(&m->mu);
		free(m);
		d->mon = NULL;
		return -1;
	}
	m->started = 1;
	return 0;
}

void drill_monitor_stop(drill *d)
{
	drill_monitor *m = d->mon;

	if (m == NULL || !m->started)
		return;
	atomic_store(&m->stop, 1);
	pthread_join(m->th, NULL);
	m->started = 0;
	/* One last sample, so the chart ends where the drill ended. */
	{
		scrape *sc = calloc(m->n, sizeof(*sc));
		cli_opts so = d->ctl_opts;
		if (sc == NULL)
			return;
		so.request_timeout_ms = 2000;
		for (size_t i = 0; i < m->n; i++) {
			sc[i].m = m;
			sc[i].o = &so;
			sc[i].r = &m->regions[i];
			sc[i].self = i;
		}
		monitor_tick(m, sc);
		free(sc);
	}
}

void drill_monitor_free(drill *d)
{
	drill_monitor *m = d->mon;

	if (m == NULL)
		return;
	drill_monitor_stop(d);
	pthread_mutex_destroy(&m->mu);
	free(m->t_ms);
	free(m->ps);
	free(m);
	d->mon = NULL;
}

void drill_monitor_latest(const drill *d, double *max_p99,
    int64_t *max_pending)
{
	drill_monitor *m = d->mon;

	*max_p99 = -1;
	*max_pending = -1;
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	*max_p99 = m->last_max_p99;
	*max_pending = m->last_max_pending;
	pthread_mutex_unlock(&m->mu);
}

typedef struct pend_arg {
	drill_monitor *m;
	int64_t sum, max;
	int any;
	const char *self;
} pend_arg;

static void pend_each(void *arg, const char *name, size_t nlen,
    const char *labels, size_t llen, double v)
{
	pend_arg *p = arg;
	char src[CLI_NAME_MAX];

	if (!NAME_IS(name, nlen, "meridian_pending_replication_count") ||
	    label(labels, llen, "source", src, sizeof(src)) != 0 ||
	    strcmp(src, p->self) != 0)
		return;
	p->any = 1;
	p->sum += (int64_t)v;
	if ((int64_t)v > p->max)
		p->max = (int64_t)v;
}

int drill_pending_now(drill *d, size_t i, int64_t *sum, int64_t *max)
{
	cli_resp rs = CLI_RESP_INIT;
	cli_opts so = d->ctl_opts;
	pend_arg p = {d->mon, 0, 0, 0, d->reg[i].name};

	so.request_timeout_ms = 1000;
	if (cli_http(&so, d->cluster.r[i].api, "GET", "/metrics", NULL, NULL,
	    &rs) != 0 || rs.status != 200 || rs.body.data == NULL) {
		cli_resp_free(&rs);
		return -1;
	}
	metrics_each(rs.body.data, rs.body.len, pend_each, &p);
	cli_resp_free(&rs);
	if (!p.any)
		return -1;
	*sum = p.sum;
	*max = p.max;
	return 0;
}

size_t drill_monitor_nsamples(const drill *d)
{
	return d->mon != NULL ? d->mon->ns : 0;
}

uint64_t drill_monitor_sample_ms(const drill *d, size_t s)
{
	return d->mon->t_ms[s];
}

const drill_pairstat *drill_monitor_pair(const drill *d, size_t s,
    size_t src, size_t dst)
{
	size_t n = d->mon->n;

	return &d->mon->ps[(s * n + src) * n + dst];
}

void drill_monitor_pair_total(const drill *d, size_t src, size_t dst,
    double *p50, double *p99, uint64_t *n)
{
	drill_monitor *m = d->mon;

	*n = 0;
	*p50 = *p99 = -1;
	if (m == NULL)
		return;
	for (size_t b = 0; b < m->nb; b++)
		*n += m->total[src][dst][b];
	*p50 = drill_hist_quantile(m->bounds, m->total[src][dst], m->nb, 0.5);
	*p99 = drill_hist_quantile(m->bounds, m->total[src][dst], m->nb, 0.99);
}

int64_t drill_monitor_conflicts(const drill *d, size_t i)
{
	return d->mon != NULL ? d->mon->conflicts[i] : -1;
}
