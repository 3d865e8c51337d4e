/*
 * drill_load.c — the drill's client load and its operation history.
 *
 * The load is open-loop with bounded concurrency: operation i is due at
 * t0 + i / rate, and each of the threads takes the next operation number,
 * sleeps until it is due and performs it.  When the cluster is slow, the
 * threads fall behind the schedule instead of piling up requests, so at
 * most `threads` requests are ever in flight.
 *
 * What operation i is (region, key, read or write) is a function of the
 * seed and i alone (splitmix64), so a seed replays the same operations
 * whatever the timing.  Writes are PutItem of {"pk": key, "v":
 * "<region>-<i>"}: each value is unique and names its operation, which
 * is how the checker maps every value it finds back to the history.
 * PutItem asks for ReturnValues ALL_OLD, so each acknowledged write also
 * says which write it replaced: the chain of overwrites is part of the
 * history.
 *
 * Results, in Jepsen's terms: ok (2xx), fail (the request certainly did
 * nothing: connection refused, a 4xx answer, or a 500 the node says is an
 * injected fault, which it answers before any work) and info (unknown: a
 * timeout, a reset connection or another 5xx answer — the write may or
 * may not have happened).  As in Jepsen, a thread whose operation ended in
 * info continues as a new process, since the old one may still act.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

#define ERRS_MAX 32

typedef struct err_tally {
	uint8_t region;
	char msg[96];
	uint64_t n;
} err_tally;

struct drill_load {
	drill *d;
	size_t cap;
	drill_op *ops;
	_Atomic size_t next;
	_Atomic int stop;
	uint64_t end_ns;
	_Atomic uint64_t n_ok, n_fail, n_info;
	pthread_t th[DRILL_THREADS_MAX];
	size_t nth;
	pthread_mutex_t mu;
	err_tally errs[ERRS_MAX];
	size_t nerrs;
	uint8_t load_reg[CLI_REGIONS_MAX];
	size_t nload;
};

typedef struct worker {
	drill_load *l;
	unsigned id;
	cli_region regions[CLI_REGIONS_MAX];
} worker;

static worker workers[DRILL_THREADS_MAX];

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A uniform double in [0, 1) from 53 bits of h. */
static double unit(uint64_t h)
{
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

void drill_key_name(uint32_t k, char *buf, size_t len)
{
	snprintf(buf, len, "k%05u", k);
}

int32_t drill_value_op(const drill *d, const char *value)
{
	const char *dash = strrchr(value, '-');
	size_t n;
	char *end;
	unsigned long long i;
	const drill_op *op;
	int ri;
	char name[CLI_NAME_MAX];

	if (d->load == NULL || dash == NULL || dash[1] < '0' || dash[1] > '9')
		return DRILL_SEEN_FOREIGN;
	i = strtoull(dash + 1, &end, 10);
	if (*end != '\0' || i >= d->load->cap)
		return DRILL_SEEN_FOREIGN;
	n = (size_t)(dash - value);
	if (n == 0 || n >= sizeof(name))
		return DRILL_SEEN_FOREIGN;
	memcpy(name, value, n);
	name[n] = '\0';
	ri = drill_region_index(d, name);
	op = &d->load->ops[i];
	/* The acquire pairs with the release that published the op's
	 * fields before its request was sent. */
	if (ri < 0 || atomic_load_explicit(&op->state,
	    memory_order_acquire) == DRILL_OP_FREE ||
	    op->region != (uint8_t)ri || !op->is_write)
		return DRILL_SEEN_FOREIGN;
	return (int32_t)i;
}

static void tally(drill_load *l, uint8_t region, const char *msg)
{
	size_t i;

	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->nerrs; i++)
		if (l->errs[i].region == region &&
		    strncmp(l->errs[i].msg, msg, sizeof(l->errs[i].msg) - 1) ==
		    0)
			break;
	if (i == l->nerrs && l->nerrs < ERRS_MAX) {
		l->errs[i].region = region;
		snprintf(l->errs[i].msg, sizeof(l->errs[i].msg), "%s", msg);
		l->nerrs++;
	}
	if (i < l->nerrs)
		l->errs[i].n++;
	pthread_mutex_unlock(&l->mu);
}

/* Reads attribute "v" (a string) of an item; NULL when absent. */
static const char *item_value(const cJSON *item)
{
	return cli_json_str(cJSON_GetObjectItemCaseSensitive(item, "v"), "S");
}

/* Performs one operation: fills op and publishes it as RUNNING just
 * before sending (the caller publishes DONE). */
static void op_run(worker *w, drill_op *op, size_t i)
{
	drill_load *l = w->l;
	drill *d = l->d;
	cli_region *r = &w->regions[op->region];
	const char *headers[4];
	char target[80], key[16], value[CLI_NAME_MAX + 24];
	cJSON *req = cJSON_CreateObject(), *k, *res = NULL;
	cli_resp rs = CLI_RESP_INIT;
	char *body = NULL;
	int sent;

	drill_key_name(op->key, key, sizeof(key));
	snprintf(value, sizeof(value), "%s-%zu", r->name, i);
	cJSON_AddStringToObject(req, "TableName", d->table);
	k = cJSON_AddObjectToObject(req, op->is_write ? "Item" : "Key");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(k, "pk"), "S", key);
	if (op->is_write) {
		cJSON_AddStringToObject(cJSON_AddObjectToObject(k, "v"), "S",
		    value);
		cJSON_AddStringToObject(req, "ReturnValues", "ALL_OLD");
	}
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	snprintf(target, sizeof(target), "X-Amz-Target: DynamoDB_20120810.%s",
	    op->is_write ? "PutItem" : "GetItem");
	headers[0] = "Content-Type: application/x-amz-json-1.0";
	headers[1] = target;
	headers[2] = "Authorization: AWS4-HMAC-SHA256 Credential=meridian/"
	    "20240101/us-east-1/dynamodb/aws4_request, SignedHeaders="
	    "host;x-amz-target, Signature=0";
	headers[3] = NULL;
	op->seen = DRILL_SEEN_UNKNOWN;
	op->invoke_ns = drill_now_ns(d);
	/* Published before the request leaves: once the value can be seen
	 * in a region, other threads may read the op's fields. */
	atomic_store_explicit(&op->state, DRILL_OP_RUNNING,
	    memory_order_release);
	sent = body != NULL ? cli_http(&d->op_opts, r->api, "POST", "/", body,
	    headers, &rs) : -1;
	op->complete_ns = drill_now_ns(d);
	cJSON_free(body);
	if (sent != 0) {
		/* Refused: the request never reached a server, so it did
		 * nothing.  Anything else (timeout, reset) is unknown.  The
		 * helper reports the reason as text only. */
		op->result = strstr(rs.err, "refused") != NULL ?
		    DRILL_RES_FAIL : DRILL_RES_INFO;
		tally(l, op->region, rs.err[0] ? rs.err : "no answer");
		goto out;
	}
	if (rs.status >= 200 && rs.status <= 299) {
		const cJSON *it;
		const char *v;
		res = cJSON_ParseWithLength(rs.body.data ? rs.body.data : "",
		    rs.body.len);
		op->result = DRILL_RES_OK;
		it = cJSON_GetObjectItemCaseSensitive(res, op->is_write ?
		    "Attributes" : "Item");
		v = item_value(it);
		if (it == NULL)
			op->seen = DRILL_SEEN_NONE;
		else if (v == NULL)
			op->seen = DRILL_SEEN_FOREIGN;
		else
			op->seen = drill_value_op(d, v);
		goto out;
	}
	{
		char msg[96];
		const char *type, *msg_text;
		res = cJSON_ParseWithLength(rs.body.data ? rs.body.data : "",
		    rs.body.len);
		type = cli_json_str(res, "__type");
		if (type != NULL && strchr(type, '#') != NULL)
			type = strchr(type, '#') + 1;
		if (type != NULL)
			snprintf(msg, sizeof(msg), "%s", type);
		else
			snprintf(msg, sizeof(msg), "HTTP %ld", rs.status);
		tally(l, op->region, msg);
		/* A 5xx may come after the write committed, except the
		 * drill's own injected failures, which the node answers
		 * before doing any work and says so. */
		msg_text = cli_json_str(res, "message");
		if (rs.status < 500 || (msg_text != NULL &&
		    strstr(msg_text, "injected fault") != NULL))
			op->result = DRILL_RES_FAIL;
		else
			op->result = DRILL_RES_INFO;
	}
out:
	cJSON_Delete(res);
	cli_resp_free(&rs);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	drill_load *l = w->l;
	drill *d = l->d;
	const drill_scenario *sc = d->sc;
	uint32_t process = w->id;

	for (;;) {
		size_t i = atomic_fetch_add(&l->next, 1);
		drill_op *op;
		uint64_t due, h, now;

		if (i >= l->cap)
			break;
		op = &l->ops[i];
		due = (uint64_t)((double)i * 1e9 / (double)sc->rate_per_s);
		if (due >= l->end_ns || atomic_load(&l->stop)) {
			atomic_store_explicit(&op->state, DRILL_OP_SKIPPED,
			    memory_order_release);
			break;
		}
		while ((now = drill_now_ns(d)) < due &&
		    !atomic_load(&l->stop)) {
			uint64_t wait_ms = (due - now) / 1000000u;
			cli_sleep_ms((unsigned)GT_MIN(GT_MAX(wait_ms, 1), 50));
		}
		if (atomic_load(&l->stop)) {
			atomic_store_explicit(&op->state, DRILL_OP_SKIPPED,
			    memory_order_release);
			break;
		}
		h = splitmix64(sc->seed ^ splitmix64((uint64_t)i));
		op->region = l->load_reg[h % l->nload];
		h = splitmix64(h);
		op->is_write = unit(h) >= sc->read_fraction;
		h = splitmix64(h);
		if (sc->hot_keys > 0 && unit(h) < sc->hot_fraction)
			op->key = (uint32_t)(splitmix64(h) % sc->hot_keys);
		else
			op->key = (uint32_t)(splitmix64(h) % sc->keys);
		op->process = process;
		op_run(w, op, i);
		switch (op->result) {
		case DRILL_RES_OK:
			atomic_fetch_add(&l->n_ok, 1);
			break;
		case DRILL_RES_FAIL:
			atomic_fetch_add(&l->n_fail, 1);
			break;
		default:
			atomic_fetch_add(&l->n_info, 1);
			process += (uint32_t)l->nth;
			break;
		}
		atomic_store_explicit(&op->state, DRILL_OP_DONE,
		    memory_order_release);
	}
	return NULL;
}

int drill_load_start(drill *d)
{
	const drill_scenario *sc = d->sc;
	drill_load *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -1;
	l->d = d;
	l->cap = (size_t)ceil((double)sc->rate_per_s * sc->duration_s) + 1;
	l->ops = calloc(l->cap, sizeof(*l->ops));
	if (l->ops == NULL) {
		free(l);
		return -1;
	}
	l->end_ns = (uint64_t)(sc->duration_s * 1e9);
	pthread_mutex_init(&l->mu, NULL);
	for (size_t i = 0; i < d->nreg; i++)
		if (d->reg[i].in_load)
			l->load_reg[l->nload++] = (uint8_t)i;
	d->load = l;
	l->nth = GT_MIN(sc->threads, DRILL_THREADS_MAX);
	for (size_t t = 0; t < l->nth; t++) {
		worker *w = &workers[t];
		w->l = l;
		w->id = (unsigned)t;
		memcpy(w->regions, d->cluster.r, sizeof(w->regions));
		for (size_t i = 0; i < d->nreg; i++) {
			w->regions[i].dead = 0;
			w->regions[i].unreachable = 0;
		}
		if (pthread_create(&l->th[t], NULL, worker_main, w) != 0) {
			l->nth = t;
			break;
		}
	}
	if (l->nth == 0) {
		pthread_mutex_destroy(&l->mu);
		free(l->ops);
		free(l);
		d->load = NULL;
		return -1;
	}
	return 0;
}

void drill_load_stop(drill *d)
{
	drill_load *l = d->load;

	if (l == NULL)
		return;
	atomic_store(&l->stop, 1);
	for (size_t t = 0; t < l->nth; t++)
		pthread_join(l->th[t], NULL);
	l->nth = 0;
}

drill_op *drill_load_ops(const drill *d, size_t *n)
{
	size_t next;

	if (d->load == NULL) {
		*n = 0;
		return NULL;
	}
	next = atomic_load(&d->load->next);
	*n = GT_MIN(next, d->load->cap);
	return d->load->ops;
}

void drill_load_counts(const drill *d, uint64_t *ok, uint64_t *fail,
    uint64_t *info)
{
	*ok = *fail = *info = 0;
	if (d->load == NULL)
		return;
	*ok = atomic_load(&d->load->n_ok);
	*fail = atomic_load(&d->load->n_fail);
	*info = atomic_load(&d->load->n_info);
}

cJSON *drill_load_errors_json(const drill *d)
{
	cJSON *o = cJSON_CreateObject();
	drill_load *l = d->load;

	if (l == NULL)
		return o;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->nerrs; i++) {
		const char *rn = d->reg[l->errs[i].region].name;
		cJSON *r = cJSON_GetObjectItemCaseSensitive(o, rn);
		if (r == NULL)
			r = cJSON_AddObjectToObject(o, rn);
		cJSON_AddNumberToObject(r, l->errs[i].msg,
		    (double)l->errs[i].n);
	}
	pthread_mutex_unlock(&l->mu);
	return o;
}

void drill_load_free(drill *d)
{
	drill_load *l = d->load;

	if (l == NULL)
		return;
	drill_load_stop(d);
	pthread_mutex_destroy(&l->mu);
	free(l->ops);
	free(l);
	d->load = NULL;
}
