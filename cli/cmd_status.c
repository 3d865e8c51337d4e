/*
 * cmd_status.c — "meridian status": the state of every region at a
 * glance.
 *
 * Each region is asked in parallel (one thread per region, each request
 * bounded by the request timeout) for:
 *   - its tables: ListTables (all pages), then DescribeTable of each:
 *     TableStatus, ItemCount and Replicas (ReplicaStatus and
 *     ReplicaStatusPercentProgress while a replica is CREATING);
 *   - its replication links: GET /admin/replication (per peer it pulls
 *     from: state, applied_seq against the peer's head, pull errors, the
 *     resync flag);
 *   - GET /metrics: meridian_pending_replication_count (kept by the
 *     source, per destination), the meridian_replication_latency_ms
 *     histogram (kept by the destination, per source) and
 *     meridian_conflicts_total.
 * The per-link view joins these by (source, destination): state and
 * cursors from the destination, pending count from the source, latency
 * percentiles computed from the destination's histogram buckets the way
 * Prometheus' histogram_quantile does (linear within a bucket).
 *
 * Exit: 0 when every region answered, 3 when one could not be reached,
 * 1 when one answered with an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char status_help[] =
"Usage: meridian status [--json]\n"
"\n"
"Shows, for every region of the cluster:\n"
"  - whether its node answers, its change-log head and conflict count\n"
"    (meridian_conflicts_total: writes that lost under last-writer-wins);\n"
"  - its tables: status, item count and replicas (with progress while a\n"
"    replica is being created);\n"
"  - every replication link SOURCE -> DESTINATION: the destination's pull\n"
"    state, the source sequence applied against the source's head\n"
"    (BEHIND is the difference), writes not yet acknowledged (PENDING,\n"
"    meridian_pending_replication_count), replication latency p50/p99 in\n"
"    ms (from the meridian_replication_latency_ms histogram), pull\n"
"    errors, and whether the destination must be resynchronised.\n"
"\n"
"With --json, prints one JSON document:\n"
"  {\"Cluster\": {\"Source\": \"membership\"|\"config\", \"Epoch\", ...},\n"
"   \"Regions\": [{\"Region\", \"Api\", \"Reachable\", \"Error\"?,\n"
"                \"LogHeadSeq\", \"Conflicts\", \"Tables\": [{\"TableName\",\n"
"                \"TableStatus\", \"ItemCount\", \"Replicas\"}],\n"
"                \"Replication\": <GET /admin/replication>}],\n"
"   \"Links\": [{\"Source\", \"Destination\", \"State\", \"AppliedSeq\",\n"
"              \"SourceHeadSeq\", \"Behind\", \"PendingReplicationCount\",\n"
"              \"LatencyCount\", \"LatencyP50Ms\", \"LatencyP99Ms\",\n"
"              \"PullErrors\", \"ResyncRequired\"}],\n"
"   \"ConflictsTotal\": n}\n"
"Unknown values are null.\n"
"\n"
"Exit status: 0 every region answered; 1 a node answered with an error;\n"
"3 a node could not be reached (it is shown as unreachable).\n";

/* ---------------------------------------------------------------- metrics */

#define MET_SAMPLES_MAX 20000u

typedef struct sample {
	char name[64];
	char source[CLI_NAME_MAX];
	char destination[CLI_NAME_MAX];
	char region[CLI_NAME_MAX];
	char le[32];
	double v;
} sample;

typedef struct samples {
	sample *s;
	size_t n, cap;
} samples;

static int metric_wanted(const char *name, size_t n)
{
	static const char *const wanted[] = {
	    "meridian_pending_replication_count",
	    "meridian_replication_latency_ms_bucket",
	    "meridian_replication_latency_ms_count",
	    "meridian_conflicts_total",
	    "meridian_log_last_seq",
	};
	for (size_t i = 0; i < GT_ARRAY_LEN(wanted); i++)
		if (strlen(wanted[i]) == n && memcmp(wanted[i], name, n) == 0)
			return 1;
	return 0;
}

/* Copies a label value (with Prometheus escapes) into dst; returns the
 * position after the closing quote, or NULL when malformed. */
static const char *label_value(const char *p, const char *end, char *dst,
    size_t len)
{
	size_t k = 0;

	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end && *p != '"'; p++) {
		char c = *p;
		if (c == '\\' && p + 1 < end) {
			p++;
			c = *p == 'n' ? '\n' : *p;
		}
		if (k + 1 < len)
			dst[k++] = c;
	}
	dst[k] = '\0';
	return p < end ? p + 1 : NULL;
}

/* Parses one exposition line into *s; 0 when it is a wanted sample. */
static int metric_line(const char *p, const char *end, sample *s)
{
	const char *q = p;
	char *vend;
	char buf[64];
	size_t n;

	while (q < end && *q != '{' && *q != ' ' && *q != '\t')
		q++;
	n = (size_t)(q - p);
	if (n == 0 || n >= sizeof(s->name) || !metric_wanted(p, n))
		return -1;
	memset(s, 0, sizeof(*s));
	memcpy(s->name, p, n);
	if (q < end && *q == '{') {
		q++;
		while (q < end && *q != '}') {
			const char *k = q;
			char *dst = NULL;
			size_t dlen = 0, kl;
			while (q < end && *q != '=')
				q++;
			kl = (size_t)(q - k);
			if (q >= end)
				return -1;
			q++;
			if (kl == 6 && memcmp(k, "source", 6) == 0) {
				dst = s->source;
				dlen = sizeof(s->source);
			} else if (kl == 11 && memcmp(k, "destination", 11) ==
			    0) {
				dst = s->destination;
				dlen = sizeof(s->destination);
			} else if (kl == 6 && memcmp(k, "region", 6) == 0) {
				dst = s->region;
				dlen = sizeof(s->region);
			} else if (kl == 2 && memcmp(k, "le", 2) == 0) {
				dst = s->le;
				dlen = sizeof(s->le);
			} else {
				dst = buf;
				dlen = sizeof(buf);
			}
			q = label_value(q, end, dst, dlen);
			if (q == NULL)
				return -1;
			if (q < end && *q == ',')
				q++;
		}
		if (q >= end)
			return -1;
		q++;
	}
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	n = (size_t)(end - q);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, q, n);
	buf[n] = '\0';
	buf[strcspn(buf, " \t\r")] = '\0';
	if (strcmp(buf, "+Inf") == 0)
		s->v = 1e308;
	else {
		s->v = strtod(buf, &vend);
		if (*vend != '\0')
			return -1;
	}
	return 0;
}

static void metrics_parse(const char *text, size_t len, samples *out)
{
	const char *p = text, *end = text + len;

	while (p < end && out->n < MET_SAMPLES_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;
		sample s;

		if (le > p && *p != '#' && metric_line(p, le, &s) == 0) {
			if (out->n == out->cap) {
				size_t cap = out->cap ? out->cap * 2 : 64;
				sample *x = realloc(out->s, cap * sizeof(*x));
				if (x == NULL)
					return;
				out->s = x;
				out->cap = cap;
			}
			out->s[out->n++] = s;
		}
		p = le + 1;
	}
}

/* ------------------------------------------------------------ per region */

typedef struct rstat {
	const cli_opts *o;
	cli_region *r;
	int rc;                 /* worst exit code of its calls */
	int answered;           /* the node answered something */
	cli_apierr err;         /* first error answer */
	char err_what[64];      /* which call got it */
	cJSON *tables;          /* array of DescribeTable "Table" (owned) */
	cJSON *repl;            /* /admin/replication answer (owned) */
	samples met;
	int have_metrics;
} rstat;

int cli_list_tables(const cli_opts *o, cli_region *r, cJSON **names,
    cli_apierr *e)
{
	cJSON *all = cJSON_CreateArray(), *req = NULL, *res = NULL;
	const cJSON *x, *last;
	int rc = CLI_EXIT_OK;

	if (all == NULL) {
		memset(e, 0, sizeof(*e));
		snprintf(e->msg, sizeof(e->msg), "out of memory");
		return CLI_EXIT_FAIL;
	}
	/* 100 pages of 100: DynamoDB's account limit is far below. */
	for (int page = 0; page < 100; page++) {
		if (req == NULL)
			req = cJSON_CreateObject();
		if (req == NULL) {
			rc = CLI_EXIT_FAIL;
			break;
		}
		cJSON_AddNumberToObject(req, "Limit", 100);
		rc = cli_ddb(o, r, "ListTables", req, &res, e);
		cJSON_Delete(req);
		req = NULL;
		if (rc != CLI_EXIT_OK)
			break;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(res,
		    "TableNames"))
			if (cJSON_IsString(x))
				cJSON_AddItemToArray(all, cJSON_CreateString(
				    x->valuestring));
		last = cJSON_GetObjectItemCaseSensitive(res,
		    "LastEvaluatedTableName");
		if (!cJSON_IsString(last)) {
			cJSON_Delete(res);
			res = NULL;
			break;
		}
		req = cJSON_CreateObject();
		if (req != NULL)
			cJSON_AddStringToObject(req, "ExclusiveStartTableName",
			    last->valuestring);
		cJSON_Delete(res);
		res = NULL;
	}
	cJSON_Delete(req);
	if (rc != CLI_EXIT_OK) {
		cJSON_Delete(all);
		return rc;
	}
	*names = all;
	return CLI_EXIT_OK;
}

/* The fields of a table description that status shows. */
static cJSON *table_summary(const cJSON *t)
{
	static const char *const keep[] = {"TableName", "TableStatus",
	    "ItemCount", "TableSizeBytes"};
	static const char *const rkeep[] = {"RegionName", "ReplicaStatus",
	    "ReplicaStatusPercentProgress", "ReplicaStatusDescription"};
	cJSON *o = cJSON_CreateObject(), *reps;
	const cJSON *x, *rep;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < GT_ARRAY_LEN(keep); i++) {
		x = cJSON_GetObjectItemCaseSensitive(t, keep[i]);
		if (x != NULL)
			cJSON_AddItemToObject(o, keep[i],
			    cJSON_Duplicate(x, 1));
	}
	x = cJSON_GetObjectItemCaseSensitive(t, "Replicas");
	if (!cJSON_IsArray(x))
		return o;
	reps = cJSON_AddArrayToObject(o, "Replicas");
	cJSON_ArrayForEach(rep, x) {
		cJSON *e = cJSON_CreateObject();
		if (e == NULL)
			break;
		for (size_t i = 0; i < GT_ARRAY_LEN(rkeep); i++) {
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(rep,
			    rkeep[i]);
			if (f != NULL)
				cJSON_AddItemToObject(e, rkeep[i],
				    cJSON_Duplicate(f, 1));
		}
		cJSON_AddItemToArray(reps, e);
	}
	return o;
}

static void rstat_fail(rstat *s, int rc, const char *what,
    const cli_apierr *e)
{
	s->rc = cli_exit_worse(s->rc, rc);
	if (rc == CLI_EXIT_FAIL && s->err_what[0] == '\0') {
		s->err = *e;
		snprintf(s->err_what, sizeof(s->err_what), "%s", what);
	}
}

static void rstat_run(void *arg)
{
	rstat *s = arg;
	cli_resp rs = CLI_RESP_INIT;
	cJSON *names = NULL, *req, *res;
	const cJSON *nm;
	cli_apierr e;
	int rc;

	rc = cli_list_tables(s->o, s->r, &names, &e);
	if (rc == CLI_EXIT_UNREACHABLE) {
		s->rc = rc;
		return;
	}
	s->answered = 1;
	if (rc != CLI_EXIT_OK)
		rstat_fail(s, rc, "ListTables", &e);
	s->tables = cJSON_CreateArray();
	cJSON_ArrayForEach(nm, names) {
		req = cJSON_CreateObject();
		res = NULL;
		if (req == NULL)
			break;
		cJSON_AddStringToObject(req, "TableName", nm->valuestring);
		rc = cli_ddb(s->o, s->r, "DescribeTable", req, &res, &e);
		cJSON_Delete(req);
		if (rc == CLI_EXIT_OK) {
			cJSON_AddItemToArray(s->tables, table_summary(
			    cJSON_GetObjectItemCaseSensitive(res, "Table")));
		} else if (!(rc == CLI_EXIT_FAIL && strcmp(e.type,
		    "ResourceNotFoundException") == 0)) {
			/* A table deleted since ListTables is not an error. */
			rstat_fail(s, rc, "DescribeTable", &e);
			if (rc == CLI_EXIT_UNREACHABLE)
				break;
		}
		cJSON_Delete(res);
	}
	cJSON_Delete(names);
	rc = cli_admin(s->o, s->r, "/admin/replication", 0, NULL, &s->repl,
	    &e);
	/* A node without replication has no such page (404): not an error. */
	if (rc != CLI_EXIT_OK && !(rc == CLI_EXIT_FAIL && e.status == 404))
		rstat_fail(s, rc, "GET /admin/replication", &e);
	if (s->r->dead || cli_http(s->o, s->r->api, "GET", "/metrics", NULL,
	    NULL, &rs) != 0) {
		s->r->unreachable = 1;
		snprintf(s->r->err, sizeof(s->r->err), "%s", rs.err);
		s->rc = CLI_EXIT_UNREACHABLE;
	} else if (rs.status == 200) {
		metrics_parse(rs.body.data, rs.body.len, &s->met);
		s->have_metrics = 1;
	} else {
		memset(&e, 0, sizeof(e));
		e.status = rs.status;
		snprintf(e.msg, sizeof(e.msg), "GET /metrics answered %ld",
		    rs.status);
		rstat_fail(s, CLI_EXIT_FAIL, "GET /metrics", &e);
	}
	cli_resp_free(&rs);
}

/* ------------------------------------------------------------------ links */

#define BUCKETS_MAX 64

typedef struct rlink {
	char source[CLI_NAME_MAX];
	char destination[CLI_NAME_MAX];
	const cJSON *peer;      /* the destination's peer entry (borrowed) */
	double pending;         /* -1: unknown */
	double count;           /* latency samples; -1: unknown */
	double le[BUCKETS_MAX];
	double cum[BUCKETS_MAX];
	size_t nb;
} rlink;

typedef struct rlinks {
	rlink l[CLI_REGIONS_MAX * CLI_REGIONS_MAX];
	size_t n;
} rlinks;

static rlink *link_get(rlinks *ls, const char *src, const char *dst)
{
	rlink *l;

	if (src[0] == '\0' || dst[0] == '\0')
		return NULL;
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->l[i].source, src) == 0 &&
		    strcmp(ls->l[i].destination, dst) == 0)
			return &ls->l[i];
	if (ls->n == GT_ARRAY_LEN(ls->l))
		return NULL;
	l = &ls->l[ls->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->source, sizeof(l->source), "%s", src);
	snprintf(l->destination, sizeof(l->destination), "%s", dst);
	l->pending = -1;
	l->count = -1;
	return l;
}

/*
 * The q-quantile of a cumulative histogram, as Prometheus'
 * histogram_quantile: find the bucket holding rank q*count and
 * interpolate linearly inside it (from 0 for the first bucket).  A rank in
 * the +Inf bucket gives the largest finite bound.  -1 when empty.
 */
static double quantile(const rlink *l, double q)
{
	double total, rank, lo = 0, prev = 0;
	size_t i;

	if (l->nb == 0)
		return -1;
	total = l->cum[l->nb - 1];
	if (!(total > 0))
		return -1;
	rank = q * total;
	for (i = 0; i < l->nb; i++) {
		if (l->cum[i] >= rank)
			break;
		lo = l->le[i];
		prev = l->cum[i];
	}
	if (i == l->nb)
		i = l->nb - 1;
	if (l->le[i] >= 1e308) {
		/* Above every finite bound: report the largest one. */
		return i > 0 ? l->le[i - 1] : 0;
	}
	if (l->cum[i] - prev <= 0)
		return l->le[i];
	return lo + (l->le[i] - lo) * (rank - prev) / (l->cum[i] - prev);
}

static void links_add_bucket(rlink *l, double le, double cum)
{
	size_t i;

	if (l->nb == BUCKETS_MAX)
		return;
	for (i = l->nb; i > 0 && l->le[i - 1] > le; i--) {
		l->le[i] = l->le[i - 1];
		l->cum[i] = l->cum[i - 1];
	}
	l->le[i] = le;
	l->cum[i] = cum;
	l->nb++;
}

/* The position of region name in the cluster's order (unknown: last). */
static size_t region_rank(const rstat *st, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].r->name, name) == 0)
			return i;
	return n;
}

/* Orders links by source, then destination, in the cluster's order of
 * regions (the config's or the membership's), which reads better than
 * alphabetical.  Insertion sort: at most a few hundred links. */
static void links_sort(const rstat *st, size_t n, rlinks *ls)
{
	for (size_t i = 1; i < ls->n; i++) {
		rlink tmp = ls->l[i];
		size_t ks = region_rank(st, n, tmp.source);
		size_t kd = region_rank(st, n, tmp.destination);
		size_t j = i;
		while (j > 0) {
			const rlink *p = &ls->l[j - 1];
			size_t ps = region_rank(st, n, p->source);
			size_t pd = region_rank(st, n, p->destination);
			if (ps < ks || (ps == ks && pd <= kd))
				break;
			ls->l[j] = ls->l[j - 1];
			j--;
		}
		ls->l[j] = tmp;
	}
}

static void links_build(rstat *st, size_t n, rlinks *ls)
{
	for (size_t i = 0; i < n; i++) {
		const cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(
		    st[i].repl, "peers")) {
			const char *src = cli_json_str(p, "region");
			rlink *l = src ? link_get(ls, src, st[i].r->name) :
			    NULL;
			if (l != NULL)
				l->peer = p;
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < st[i].met.n; k++) {
			const sample *s = &st[i].met.s[k];
			rlink *l;
			if (strcmp(s->name,
			    "meridian_pending_replication_count") == 0) {
				l = link_get(ls, s->source, s->destination);
				if (l != NULL)
					l->pending = s->v;
			} else if (strcmp(s->name,
			    "meridian_replication_latency_ms_bucket") == 0) {
				char *end;
				double le = strcmp(s->le, "+Inf") == 0 ? 1e308 :
				    strtod(s->le, &end);
				l = link_get(ls, s->source, s->destination);
				if (l != NULL)
					links_add_bucket(l, le, s->v);
			} else if (strcmp(s->name,
			    "meridian_replication_latency_ms_count") == 0) {
				l = link_get(ls, s->source, s->destination);
				if (l != NULL)
					l->count = s->v;
			}
		}
	}
}

/* ----------------------------------------------------------------- output */

static double metric_region(const rstat *s, const char *name)
{
	for (size_t k = 0; k < s->met.n; k++)
		if (strcmp(s->met.s[k].name, name) == 0 &&
		    (s->met.s[k].region[0] == '\0' ||
		    strcmp(s->met.s[k].region, s->r->name) == 0))
			return s->met.s[k].v;
	return -1;
}

static void add_num_or_null(cJSON *o, const char *name, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, v);
}

static void add_peer_field(cJSON *o, const char *name, const cJSON *peer,
    const char *field)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(peer, field);

	if (x != NULL)
		cJSON_AddItemToObject(o, name, cJSON_Duplicate(x, 1));
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *status_json(const cli_opts *o, const cli_cluster *c,
    rstat *st, size_t n, const rlinks *ls)
{
	cJSON *doc = cJSON_CreateObject(), *cl, *regs, *lk;
	double conflicts_total = 0;

	if (doc == NULL)
		return NULL;
	cl = cJSON_AddObjectToObject(doc, "Cluster");
	cJSON_AddStringToObject(cl, "Source", c->from_membership ?
	    "membership" : "config");
	cJSON_AddStringToObject(cl, "ConfigFile", o->config_path);
	if (c->from_membership) {
		cJSON_AddNumberToObject(cl, "Epoch", (double)c->epoch);
		cJSON_AddStringToObject(cl, "ChangedBy", c->changed_by);
		cJSON_AddStringToObject(cl, "ServedBy", c->served_by);
		if (c->membership != NULL)
			cJSON_AddItemToObject(cl, "Membership",
			    cJSON_Duplicate(c->membership, 1));
	}
	regs = cJSON_AddArrayToObject(doc, "Regions");
	for (size_t i = 0; i < n; i++) {
		cJSON *r = cJSON_CreateObject();
		double conflicts = metric_region(&st[i],
		    "meridian_conflicts_total");
		if (r == NULL)
			break;
		cJSON_AddItemToArray(regs, r);
		cJSON_AddStringToObject(r, "Region", st[i].r->name);
		cJSON_AddStringToObject(r, "Api", st[i].r->api);
		cJSON_AddBoolToObject(r, "Reachable", st[i].answered);
		if (!st[i].answered)
			cJSON_AddStringToObject(r, "Error", st[i].r->err);
		else if (st[i].err_what[0] != '\0') {
			char msg[700];
			snprintf(msg, sizeof(msg), "%s: %s%s%s", st[i].err_what,
			    st[i].err.type, st[i].err.type[0] ? ": " : "",
			    st[i].err.msg);
			cJSON_AddStringToObject(r, "Error", msg);
		}
		add_num_or_null(r, "LogHeadSeq", metric_region(&st[i],
		    "meridian_log_last_seq"));
		add_num_or_null(r, "Conflicts", conflicts);
		if (conflicts > 0)
			conflicts_total += conflicts;
		if (st[i].tables != NULL)
			cJSON_AddItemToObject(r, "Tables", cJSON_Duplicate(
			    st[i].tables, 1));
		else
			cJSON_AddArrayToObject(r, "Tables");
		if (st[i].repl != NULL)
			cJSON_AddItemToObject(r, "Replication",
			    cJSON_Duplicate(st[i].repl, 1));
		else
			cJSON_AddNullToObject(r, "Replication");
	}
	lk = cJSON_AddArrayToObject(doc, "Links");
	for (size_t i = 0; i < ls->n; i++) {
		const rlink *l = &ls->l[i];
		cJSON *e = cJSON_CreateObject();
		double applied = cli_json_num(l->peer, "applied_seq", -1);
		double head = cli_json_num(l->peer, "peer_head_seq", -1);
		double count = l->count >= 0 ? l->count :
		    (l->nb ? l->cum[l->nb - 1] : -1);
		if (e == NULL)
			break;
		cJSON_AddItemToArray(lk, e);
		cJSON_AddStringToObject(e, "Source", l->source);
		cJSON_AddStringToObject(e, "Destination", l->destination);
		add_peer_field(e, "State", l->peer, "state");
		add_num_or_null(e, "AppliedSeq", applied);
		add_num_or_null(e, "SourceHeadSeq", head);
		add_num_or_null(e, "Behind", applied >= 0 && head >= 0 ?
		    (head > applied ? head - applied : 0) : -1);
		add_peer_field(e, "AckedSeq", l->peer, "acked_seq");
		add_num_or_null(e, "PendingReplicationCount", l->pending);
		add_num_or_null(e, "LatencyCount", count);
		add_num_or_null(e, "LatencyP50Ms", quantile(l, 0.5));
		add_num_or_null(e, "LatencyP99Ms", quantile(l, 0.99));
		add_peer_field(e, "PullErrors", l->peer, "pull_errors");
		add_peer_field(e, "ResyncRequired", l->peer,
		    "resync_required");
		add_peer_field(e, "LastError", l->peer, "last_error");
	}
	cJSON_AddNumberToObject(doc, "ConflictsTotal", conflicts_total);
	return doc;
}

static void fmt_num(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", v);
}

static void fmt_ms(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else if (v < 10)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

static void replicas_text(const cJSON *t, char *buf, size_t len)
{
	const cJSON *reps = cJSON_GetObjectItemCaseSensitive(t, "Replicas");
	const cJSON *rep;
	size_t used = 0;

	buf[0] = '\0';
	if (!cJSON_IsArray(reps)) {
		snprintf(buf, len, "-");
		return;
	}
	cJSON_ArrayForEach(rep, reps) {
		char pct[16];
		const char *name = cli_json_str(rep, "RegionName");
		const char *rs = cli_json_str(rep, "ReplicaStatus");
		int n;
		cli_json_text(rep, "ReplicaStatusPercentProgress", pct,
		    sizeof(pct));
		n = snprintf(buf + used, len - used, "%s%s %s%s%s%s",
		    used ? ", " : "", name ? name : "?", rs ? rs : "?",
		    rs != NULL && strcmp(rs, "CREATING") == 0 && pct[0] ? " " :
		    "", rs != NULL && strcmp(rs, "CREATING") == 0 ? pct : "",
		    rs != NULL && strcmp(rs, "CREATING") == 0 && pct[0] ? "%" :
		    "");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (used == 0)
		snprintf(buf, len, "-");
}

static void status_text(const cli_opts *o, const cli_cluster *c, rstat *st,
    size_t n, const rlinks *ls)
{
	static const char *const rh[] = {"REGION", "API", "STATE", ">TABLES",
	    ">LOG HEAD", ">CONFLICTS"};
	static const char *const th[] = {"TABLE", "REGION", "STATUS",
	    ">ITEMS", "REPLICAS"};
	static const char *const lh[] = {"SOURCE", "", "DESTINATION", "STATE",
	    ">APPLIED", ">SOURCE HEAD", ">BEHIND", ">PENDING", ">P50 MS",
	    ">P99 MS", ">PULL ERRORS", "RESYNC"};
	cli_tab t;
	size_t ntables = 0;

	if (c->from_membership)
		printf("Cluster: %zu region%s (membership epoch %llu, changed "
		    "by %s, read from %s)\n\n", c->n, c->n == 1 ? "" : "s",
		    (unsigned long long)c->epoch, c->changed_by[0] ?
		    c->changed_by : "-", c->served_by);
	else
		printf("Cluster: %zu region%s (from %s)\n\n", c->n,
		    c->n == 1 ? "" : "s",
		    o->config_path);
	cli_tab_init(&t, GT_ARRAY_LEN(rh), rh);
	for (size_t i = 0; i < n; i++) {
		char tables[16], head[32], conf[32];
		const char *state = "up";
		if (!st[i].answered)
			state = st[i].r->api[0] ? "unreachable" : "no API URL";
		else if (st[i].err_what[0] != '\0')
			state = "error";
		if (st[i].tables != NULL)
			snprintf(tables, sizeof(tables), "%d",
			    cJSON_GetArraySize(st[i].tables));
		else
			snprintf(tables, sizeof(tables), "-");
		fmt_num(head, sizeof(head), metric_region(&st[i],
		    "meridian_log_last_seq"));
		fmt_num(conf, sizeof(conf), metric_region(&st[i],
		    "meridian_conflicts_total"));
		{
			const char *row[] = {st[i].r->name, st[i].r->api[0] ?
			    st[i].r->api : "-", state, tables, head, conf};
			cli_tab_row(&t, row);
		}
	}
	cli_tab_print(&t, "");
	cli_tab_free(&t);

	putchar('\n');
	cli_tab_init(&t, GT_ARRAY_LEN(th), th);
	for (size_t i = 0; i < n; i++) {
		const cJSON *tb;
		cJSON_ArrayForEach(tb, st[i].tables) {
			char items[32], reps[1024];
			const char *name = cli_json_str(tb, "TableName");
			const char *ts = cli_json_str(tb, "TableStatus");
			fmt_num(items, sizeof(items), cli_json_num(tb,
			    "ItemCount", -1));
			replicas_text(tb, reps, sizeof(reps));
			{
				const char *row[] = {name ? name : "?",
				    st[i].r->name, ts ? ts : "?", items, reps};
				cli_tab_row(&t, row);
			}
			ntables++;
		}
	}
	if (ntables > 0)
		cli_tab_print(&t, "");
	else
		printf("No tables.\n");
	cli_tab_free(&t);

	putchar('\n');
	cli_tab_init(&t, GT_ARRAY_LEN(lh), lh);
	for (size_t i = 0; i < ls->n; i++) {
		const rlink *l = &ls->l[i];
		char applied[32], head[32], behind[32], pending[32], p50[32],
		    p99[32], errs[32], state[64];
		double a = cli_json_num(l->peer, "applied_seq", -1);
		double h = cli_json_num(l->peer, "peer_head_seq", -1);
		const cJSON *rs = cJSON_GetObjectItemCaseSensitive(l->peer,
		    "resync_required");
		cli_json_text(l->peer, "state", state, sizeof(state));
		fmt_num(applied, sizeof(applied), a);
		fmt_num(head, sizeof(head), h);
		fmt_num(behind, sizeof(behind), a >= 0 && h >= 0 ?
		    (h > a ? h - a : 0) : -1);
		fmt_num(pending, sizeof(pending), l->pending);
		fmt_ms(p50, sizeof(p50), quantile(l, 0.5));
		fmt_ms(p99, sizeof(p99), quantile(l, 0.99));
		fmt_num(errs, sizeof(errs), cli_json_num(l->peer,
		    "pull_errors", -1));
		{
			const char *row[] = {l->source, "->", l->destination,
			    state[0] ? state : "-", applied, head, behind,
			    pending, p50, p99, errs, rs == NULL ? "-" :
			    cJSON_IsTrue(rs) ? "YES" : "no"};
			cli_tab_row(&t, row);
		}
	}
	if (ls->n > 0)
		cli_tab_print(&t, "");
	else
		printf("No replication links.\n");
	cli_tab_free(&t);
}

int cli_cmd_status(cli_opts *o, int argc, char **argv)
{
	cli_cluster c;
	rstat st[CLI_REGIONS_MAX];
	rlinks *ls = NULL;
	int rc, i = 0;

	while (i < argc) {
		if (cli_is_help(argv[i])) {
			fputs(status_help, stdout);
			return CLI_EXIT_OK;
		}
		rc = cli_global_opt(o, argc, argv, &i);
		if (rc < 0)
			return CLI_EXIT_USAGE;
		if (rc == 0)
			return cli_usage_error("status", "status takes no "
			    "argument ('%s')", argv[i]);
	}
	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	memset(st, 0, sizeof(st));
	for (size_t k = 0; k < c.n; k++) {
		st[k].o = o;
		st[k].r = &c.r[k];
	}
	cli_parallel(c.n, st, sizeof(st[0]), rstat_run);
	ls = calloc(1, sizeof(*ls));
	if (ls == NULL) {
		cli_errorf("out of memory");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	links_build(st, c.n, ls);
	links_sort(st, c.n, ls);
	rc = CLI_EXIT_OK;
	for (size_t k = 0; k < c.n; k++) {
		if (!st[k].answered || st[k].rc == CLI_EXIT_UNREACHABLE)
			cli_report_unreachable(st[k].r);
		else if (st[k].err_what[0] != '\0') {
			if (st[k].err.type[0] != '\0')
				cli_report(st[k].r, "%s: %s: %s",
				    st[k].err_what, st[k].err.type,
				    st[k].err.msg);
			else
				cli_report(st[k].r, "%s: %s",
				    st[k].err_what, st[k].err.msg);
		}
		rc = cli_exit_worse(rc, st[k].answered ? st[k].rc :
		    CLI_EXIT_UNREACHABLE);
	}
	if (o->json) {
		cJSON *doc = status_json(o, &c, st, c.n, ls);
		if (doc == NULL) {
			cli_errorf("out of memory");
			rc = cli_exit_worse(rc, CLI_EXIT_FAIL);
		} else {
			cli_json_print(doc);
		}
		cJSON_Delete(doc);
	} else if (!o->quiet) {
		status_text(o, &c, st, c.n, ls);
	}
out:
	for (size_t k = 0; k < c.n; k++) {
		cJSON_Delete(st[k].tables);
		cJSON_Delete(st[k].repl);
		free(st[k].met.s);
	}
	free(ls);
	cli_cluster_free(&c);
	return rc;
}
