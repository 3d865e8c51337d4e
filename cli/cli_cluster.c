/*
 * cli_cluster.c — which regions exist and where their APIs are.
 *
 * Two sources, in this order:
 *   1. The cluster config file (the same file the nodes start with): each
 *      entry of "regions" gives a region name and the API at
 *      http://HOST:PORT.  A node config without "regions" (a single node)
 *      is one region.  Entries with port 0 (the node picks its port) have
 *      no known URL.
 *   2. The runtime membership: GET /admin/cluster on every region the
 *      config can reach, in parallel.  Regions may have joined or left
 *      since the file was written, so when any node answers with a
 *      membership, the one with the highest epoch (ties: the larger
 *      "ChangedBy", the nodes' own rule) replaces the config's list.  A
 *      member whose API URL the membership does not give usably is looked
 *      up in the config by name.
 *
 * The shape of the membership is topology's (topo.h):
 *   {"Epoch": n, "ChangedBy": "r", "Regions": [{"Region": "r",
 *    "Api": "http://..", "Replication": "tcp://.."}, ...]}
 * also accepted when wrapped in a "Membership" or "Cluster" member.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Builds "http://host:port" (bracketing IPv6 literals); a wildcard
 * listen address means "this machine".  Returns 0, or -1 when the URL
 * cannot be formed (port 0: the node picks its port at start). */
static int api_url(const char *host, long port, char *out, size_t len)
{
	int n;

	if (port <= 0 || port > 65535)
		return -1;
	if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (strchr(host, ':') != NULL && host[0] != '[')
		n = snprintf(out, len, "http://[%s]:%ld", host, port);
	else
		n = snprintf(out, len, "http://%s:%ld", host, port);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* 1 when url looks like a usable http(s)://host:port URL. */
static int url_usable(const char *url)
{
	const char *p, *colon;

	if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return 0;
	if (*p == '\0')
		return 0;
	colon = strrchr(p, ':');
	if (colon != NULL && strcmp(colon, ":0") == 0)
		return 0;
	return strlen(url) < CLI_URL_MAX;
}

static int read_file(const char *path, gt_buf *out, char *err, size_t len)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		snprintf(err, len, "%s", strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > CLI_CONFIG_MAX) {
			fclose(f);
			snprintf(err, len, "larger than %u KB",
			    CLI_CONFIG_MAX >> 10);
			return -1;
		}
		gt_buf_append(out, chunk, n);
	}
	if (ferror(f) || !gt_buf_ok(out)) {
		fclose(f);
		snprintf(err, len, "cannot read it");
		return -1;
	}
	fclose(f);
	gt_buf_append(out, "", 0);
	return 0;
}

/* Fills r from one config entry, with defaults from the file's top
 * level (the node applies the same precedence). */
static int region_from_entry(const cJSON *e, const cJSON *top, cli_region *r,
    char *err, size_t len)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "region");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(e, "host");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(e, "port");
	const cJSON *repl = cJSON_GetObjectItemCaseSensitive(e,
	    "replication");

	if (host == NULL)
		host = cJSON_GetObjectItemCaseSensitive(top, "host");
	if (port == NULL)
		port = cJSON_GetObjectItemCaseSensitive(top, "port");
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
	    strlen(name->valuestring) >= CLI_NAME_MAX) {
		snprintf(err, len, "a region entry needs a \"region\" name "
		    "(1 to %d characters)", CLI_NAME_MAX - 1);
		return -1;
	}
	if (host != NULL && !cJSON_IsString(host)) {
		snprintf(err, len, "region %s: \"host\" must be a string",
		    name->valuestring);
		return -1;
	}
	if (port != NULL && (!cJSON_IsNumber(port) || port->valuedouble < 0 ||
	    port->valuedouble > 65535)) {
		snprintf(err, len, "region %s: \"port\" must be a number from "
		    "0 to 65535", name->valuestring);
		return -1;
	}
	if (repl != NULL && !cJSON_IsString(repl)) {
		snprintf(err, len, "region %s: \"replication\" must be a "
		    "string", name->valuestring);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name->valuestring);
	if (api_url(host ? host->valuestring : NULL,
	    port ? (long)port->valuedouble : 8000, r->api, sizeof(r->api)) != 0)
		r->api[0] = '\0';
	if (repl != NULL)
		snprintf(r->repl, sizeof(r->repl), "%s", repl->valuestring);
	return 0;
}

int cli_cluster_load(const cli_opts *o, cli_cluster *c)
{
	gt_buf text = GT_BUF_INIT;
	cJSON *doc = NULL;
	const cJSON *regions, *e;
	char err[512] = "";
	int ret = CLI_EXIT_USAGE;

	memset(c, 0, sizeof(*c));
	if (read_file(o->config_path, &text, err, sizeof(err)) != 0)
		goto out;
	doc = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
	if (!cJSON_IsObject(doc)) {
		snprintf(err, sizeof(err), "not a JSON object");
		goto out;
	}
	regions = cJSON_GetObjectItemCaseSensitive(doc, "regions");
	if (regions == NULL) {
		/* A single node's config: the file itself is the entry. */
		cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "region");
		if (name == NULL) {
			snprintf(err, sizeof(err), "no \"regions\" list");
			goto out;
		}
		if (region_from_entry(doc, doc, &c->r[0], err, sizeof(err)))
			goto out;
		c->n = 1;
	} else {
		if (!cJSON_IsArray(regions) ||
		    cJSON_GetArraySize(regions) < 1) {
			snprintf(err, sizeof(err), "\"regions\" must be a "
			    "non-empty list");
			goto out;
		}
		cJSON_ArrayForEach(e, regions) {
			if (c->n == CLI_REGIONS_MAX) {
				snprintf(err, sizeof(err), "more than %d "
				    "regions", CLI_REGIONS_MAX);
				goto out;
			}
			if (!cJSON_IsObject(e)) {
				snprintf(err, sizeof(err), "every entry of "
				    "\"regions\" must be an object");
				goto out;
			}
			if (region_from_entry(e, doc, &c->r[c->n], err,
			    sizeof(err)) != 0)
				goto out;
			if (cli_cluster_find(c, c->r[c->n].name) != NULL) {
				snprintf(err, sizeof(err), "region %s is "
				    "listed twice", c->r[c->n].name);
				goto out;
			}
			c->n++;
		}
	}
	ret = CLI_EXIT_OK;
out:
	if (ret != CLI_EXIT_OK)
		cli_errorf("%s: %s", o->config_path, err);
	cJSON_Delete(doc);
	gt_buf_free(&text);
	return ret;
}

cli_region *cli_cluster_find(cli_cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->r[i].name, name) == 0)
			return &c->r[i];
	return NULL;
}

void cli_cluster_free(cli_cluster *c)
{
	cJSON_Delete(c->membership);
	c->membership = NULL;
}

/* -------------------------------------------------------------- parallel */

typedef struct par_job {
	void (*fn)(void *);
	void *arg;
} par_job;

static void *par_main(void *arg)
{
	par_job *j = arg;
	j->fn(j->arg);
	return NULL;
}

void cli_parallel(size_t n, void *args, size_t elem_size,
    void (*fn)(void *))
{
	pthread_t th[CLI_REGIONS_MAX * 4];
	par_job jobs[CLI_REGIONS_MAX * 4];
	int started[CLI_REGIONS_MAX * 4];
	char *base = args;

	for (size_t off = 0; off < n; off += GT_ARRAY_LEN(th)) {
		size_t m = GT_MIN(n - off, GT_ARRAY_LEN(th));
		for (size_t i = 0; i < m; i++) {
			jobs[i].fn = fn;
			jobs[i].arg = base + (off + i) * elem_size;
			started[i] = pthread_create(&th[i], NULL, par_main,
			    &jobs[i]) == 0;
			/* Without a thread, do the work here: slower, same
			 * result. */
			if (!started[i])
				fn(jobs[i].arg);
		}
		for (size_t i = 0; i < m; i++)
			if (started[i])
				pthread_join(th[i], NULL);
	}
}

/* ------------------------------------------------------------ membership */

typedef struct probe {
	const cli_opts *o;
	cli_region *r;
	int rc;           /* CLI_EXIT_* of the call */
	cJSON *answer;    /* owned */
	const cJSON *members; /* borrowed from answer: the membership object */
} probe;

/* The membership object inside an answer, or NULL. */
static const cJSON *members_of(const cJSON *a)
{
	static const char *const wrappers[] = {"Membership", "Cluster"};
	const cJSON *w;

	if (!cJSON_IsObject(a))
		return NULL;
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(a, "Regions")))
		return a;
	for (size_t i = 0; i < GT_ARRAY_LEN(wrappers); i++) {
		w = cJSON_GetObjectItemCaseSensitive(a, wrappers[i]);
		if (cJSON_IsObject(w) && cJSON_IsArray(
		    cJSON_GetObjectItemCaseSensitive(w, "Regions")))
			return w;
	}
	return NULL;
}

static void probe_run(void *arg)
{
	probe *p = arg;
	cli_apierr e;

	p->rc = cli_admin(p->o, p->r, "/admin/cluster", 0, NULL, &p->answer,
	    &e);
	if (p->rc == CLI_EXIT_OK)
		p->members = members_of(p->answer);
}

/* 1 when membership a is newer than b (the nodes' rule). */
static int members_newer(const cJSON *a, const cJSON *b)
{
	double ea = cli_json_num(a, "Epoch", 0), eb = cli_json_num(b, "Epoch",
	    0);
	const char *ca = cli_json_str(a, "ChangedBy");
	const char *cb = cli_json_str(b, "ChangedBy");

	if (ea != eb)
		return ea > eb;
	return strcmp(ca ? ca : "", cb ? cb : "") > 0;
}

int cli_cluster_adopt(cli_cluster *c, const cJSON *answer,
    const char *served_by)
{
	const cJSON *m = members_of(answer), *e;
	cli_cluster *old;
	cli_region next[CLI_REGIONS_MAX], sorted[CLI_REGIONS_MAX];
	int used[CLI_REGIONS_MAX] = {0};
	size_t n = 0, k = 0;
	cJSON *copy;

	if (m == NULL)
		return -1;
	old = malloc(sizeof(*old));
	if (old == NULL)
		return -1;
	*old = *c;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(m, "Regions")) {
		const char *name = cli_json_str(e, "Region");
		const char *api = cli_json_str(e, "Api");
		const char *repl = cli_json_str(e, "Replication");
		cli_region *known;

		if (name == NULL || name[0] == '\0' ||
		    strlen(name) >= CLI_NAME_MAX || n == CLI_REGIONS_MAX)
			continue;
		known = cli_cluster_find(old, name);
		memset(&next[n], 0, sizeof(next[n]));
		snprintf(next[n].name, sizeof(next[n].name), "%s", name);
		/* The config's URL wins when it names a real port: it is the
		 * operator's word, while a membership entry can be stale (a
		 * node restarted elsewhere without replication).  Regions the
		 * config lacks (joined at runtime) come from the membership. */
		if (known != NULL && url_usable(known->api))
			snprintf(next[n].api, sizeof(next[n].api), "%s",
			    known->api);
		else if (api != NULL && url_usable(api))
			snprintf(next[n].api, sizeof(next[n].api), "%s", api);
		else if (known != NULL)
			snprintf(next[n].api, sizeof(next[n].api), "%s",
			    known->api);
		if (repl != NULL)
			snprintf(next[n].repl, sizeof(next[n].repl), "%s",
			    repl);
		else if (known != NULL)
			snprintf(next[n].repl, sizeof(next[n].repl), "%s",
			    known->repl);
		/* What discovery learnt about the node carries over when
		 * the URL is the one that was asked. */
		if (known != NULL && strcmp(known->api, next[n].api) == 0) {
			next[n].unreachable = known->unreachable;
			next[n].dead = known->dead;
			snprintf(next[n].err, sizeof(next[n].err), "%s",
			    known->err);
		}
		n++;
	}
	if (n == 0) {
		free(old);
		return -1;
	}
	/* Keep the config's order (the operator's), then new regions in
	 * the membership's order: output reads the same before and after a
	 * membership change. */
	for (size_t i = 0; i < old->n; i++)
		for (size_t j = 0; j < n; j++)
			if (!used[j] && strcmp(old->r[i].name, next[j].name) ==
			    0) {
				sorted[k++] = next[j];
				used[j] = 1;
			}
	for (size_t j = 0; j < n; j++)
		if (!used[j])
			sorted[k++] = next[j];
	free(old);
	copy = cJSON_Duplicate(m, 1);
	if (copy == NULL)
		return -1;
	memcpy(c->r, sorted, n * sizeof(sorted[0]));
	c->n = n;
	c->from_membership = 1;
	c->epoch = (uint64_t)cli_json_num(m, "Epoch", 0);
	snprintf(c->changed_by, sizeof(c->changed_by), "%s",
	    cli_json_str(m, "ChangedBy") ? cli_json_str(m, "ChangedBy") : "");
	snprintf(c->served_by, sizeof(c->served_by), "%s", served_by);
	cJSON_Delete(c->membership);
	c->membership = copy;
	return 0;
}

size_t cli_cluster_discover(const cli_opts *o, cli_cluster *c)
{
	probe pr[CLI_REGIONS_MAX];
	const probe *best = NULL;
	size_t np = 0, answered = 0;
	char served[CLI_NAME_MAX];

	for (size_t i = 0; i < c->n; i++) {
		if (c->r[i].api[0] == '\0')
			continue;
		memset(&pr[np], 0, sizeof(pr[np]));
		pr[np].o = o;
		pr[np].r = &c->r[i];
		np++;
	}
	cli_parallel(np, pr, sizeof(pr[0]), probe_run);
	for (size_t i = 0; i < np; i++) {
		if (pr[i].rc != CLI_EXIT_UNREACHABLE)
			answered++;
		else
			pr[i].r->dead = 1;
		if (pr[i].members == NULL || cJSON_GetArraySize(
		    cJSON_GetObjectItemCaseSensitive(pr[i].members,
		    "Regions")) < 1)
			continue;
		if (best == NULL || members_newer(pr[i].members, best->members))
			best = &pr[i];
	}
	if (best != NULL) {
		/* best->r points into c, which adopting rewrites. */
		snprintf(served, sizeof(served), "%s", best->r->name);
		(void)cli_cluster_adopt(c, best->members, served);
	}
	for (size_t i = 0; i < np; i++)
		cJSON_Delete(pr[i].answer);
	return answered;
}

int cli_cluster_open(cli_opts *o, cli_cluster *c)
{
	int rc = cli_cluster_load(o, c);

	if (rc != CLI_EXIT_OK)
		return rc;
	(void)cli_cluster_discover(o, c);
	return CLI_EXIT_OK;
}
