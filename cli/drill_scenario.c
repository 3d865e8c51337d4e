/*
 * drill_scenario.c — reading a drill scenario file.
 *
 * The format is documented at the top of cmd_drill.c and in
 * configs/drills/README.md.  Parsing is strict, like the node's config:
 * an unknown key, a value of the wrong type or out of its bounds is an
 * error naming the key, so a typo never silently turns into a default.
 * Region names are only checked for shape here; whether they exist is
 * checked against the cluster once it is known.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

static const char *const action_names[DA_COUNT_] = {
	[DA_LINK] = "link",
	[DA_PARTITION] = "partition",
	[DA_ISOLATE] = "isolate",
	[DA_HEAL] = "heal",
	[DA_PAUSE] = "pause",
	[DA_CRASH] = "crash",
	[DA_RESTART] = "restart",
	[DA_SKEW] = "skew",
	[DA_FAIL_REQUESTS] = "fail_requests",
	[DA_CLEAR_FAULTS] = "clear_faults",
	[DA_ADD_REPLICA] = "add_replica",
	[DA_DROP_REPLICA] = "drop_replica",
};

const char *drill_action_name(drill_action a)
{
	return (unsigned)a < DA_COUNT_ ? action_names[a] : "?";
}

int drill_action_is_fault(drill_action a)
{
	switch (a) {
	case DA_LINK:
	case DA_PARTITION:
	case DA_ISOLATE:
	case DA_PAUSE:
	case DA_CRASH:
	case DA_SKEW:
	case DA_FAIL_REQUESTS:
		return 1;
	default:
		return 0;
	}
}

/* A parse context: the error line and where we are. */
typedef struct pctx {
	char *err;
	size_t errlen;
	char where[64];
} pctx;

static int fail(pctx *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(pctx *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->where[0] != '\0')
		snprintf(p->err, p->errlen, "%s: %s", p->where, msg);
	else
		snprintf(p->err, p->errlen, "%s", msg);
	return -1;
}

/* Checks that every member of o is one of the names (NULL-terminated). */
static int keys_known(pctx *p, const cJSON *o, const char *const *names)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o) {
		size_t i;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(m->string, names[i]) == 0)
				break;
		if (names[i] == NULL)
			return fail(p, "unknown key \"%s\"", m->string);
	}
	return 0;
}

/* Reads number member name into *v when present, bounded to [lo, hi].
 * Returns 1 when present, 0 when absent, -1 on error. */
static int get_num(pctx *p, const cJSON *o, const char *name, double lo,
    double hi, double *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);

	if (x == NULL)
		return 0;
	if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
		return fail(p, "\"%s\" must be a number", name);
	if (x->valuedouble < lo || x->valuedouble > hi)
		return fail(p, "\"%s\" must be from %g to %g", name, lo, hi);
	*v = x->valuedouble;
	return 1;
}

static int get_uint(pctx *p, const cJSON *o, const char *name, double lo,
    double hi, unsigned *v)
{
	double d;
	int rc = get_num(p, o, name, lo, hi, &d);

	if (rc <= 0)
		return rc;
	if (d != floor(d))
		return fail(p, "\"%s\" must be a whole number", name);
	*v = (unsigned)d;
	return 1;
}

static int get_str(pctx *p, const cJSON *o, const char *name, char *buf,
    size_t len, int required)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);

	if (x == NULL) {
		if (required)
			return fail(p, "\"%s\" is required", name);
		return 0;
	}
	if (!cJSON_IsString(x))
		return fail(p, "\"%s\" must be a string", name);
	if (strlen(x->valuestring) >= len)
		return fail(p, "\"%s\" is longer than %zu characters", name,
		    len - 1);
	snprintf(buf, len, "%s", x->valuestring);
	return 1;
}

static int get_region(pctx *p, const cJSON *o, const char *name, char *buf,
    int required)
{
	int rc = get_str(p, o, name, buf, CLI_NAME_MAX, required);

	if (rc == 1 && buf[0] == '\0')
		return fail(p, "\"%s\" must name a region", name);
	return rc;
}

static int get_regions(pctx *p, const cJSON *o, const char *name,
    char (*out)[CLI_NAME_MAX], size_t *n)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name), *e;

	if (x == NULL)
		return 0;
	if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) < 1)
		return fail(p, "\"%s\" must be a non-empty list of region "
		    "names", name);
	*n = 0;
	cJSON_ArrayForEach(e, x) {
		if (!cJSON_IsString(e) || e->valuestring[0] == '\0' ||
		    strlen(e->valuestring) >= CLI_NAME_MAX)
			return fail(p, "\"%s\" must list region names", name);
		if (*n == CLI_REGIONS_MAX)
			return fail(p, "\"%s\" lists more than %d regions",
			    name, CLI_REGIONS_MAX);
		for (size_t i = 0; i < *n; i++)
			if (strcmp(out[i], e->valuestring) == 0)
				return fail(p, "\"%s\" lists %s twice", name,
				    e->valuestring);
		snprintf(out[(*n)++], CLI_NAME_MAX, "%s", e->valuestring);
	}
	return 1;
}

static int get_bool(pctx *p, const cJSON *o, const char *name, int *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);

	if (x == NULL)
		return 0;
	if (!cJSON_IsBool(x))
		return fail(p, "\"%s\" must be true or false", name);
	*v = cJSON_IsTrue(x);
	return 1;
}

/* The shaping members shared by "links" entries and "link" steps. */
static int parse_shaping(pctx *p, const cJSON *o, drill_link *l)
{
	double d;

	memset(l, 0, sizeof(*l));
	if (get_uint(p, o, "delay_ms", 0, 600000, &l->delay_ms) < 0 ||
	    get_uint(p, o, "jitter_ms", 0, 600000, &l->jitter_ms) < 0 ||
	    get_uint(p, o, "bandwidth_kbps", 0, 1e9, &l->bandwidth_kbps) < 0 ||
	    get_bool(p, o, "partition", &l->partition) < 0)
		return -1;
	switch (get_num(p, o, "loss_pct", 0, 100, &d)) {
	case -1:
		return -1;
	case 1:
		l->loss_pct = d;
		break;
	default:
		break;
	}
	return 0;
}

static int parse_step(pctx *p, const cJSON *o, drill_step *st)
{
	static const char *const common[] = {"at_s", "action", "note", NULL};
	const char *const *extra;
	const char *keys[24];
	char action[32] = "";
	size_t nk = 0;
	int a;
	double d;

	static const char *const k_link[] = {"from", "to", "delay_ms",
	    "jitter_ms", "loss_pct", "bandwidth_kbps", "partition", NULL};
	static const char *const k_pair[] = {"region", "peer", NULL};
	static const char *const k_region[] = {"region", NULL};
	static const char *const k_none[] = {NULL};
	static const char *const k_pause[] = {"region", "duration_ms", NULL};
	static const char *const k_skew[] = {"region", "skew_ms", NULL};
	static const char *const k_fail[] = {"region", "fail_rate", NULL};
	static const char *const k_replica[] = {"region", "via", NULL};

	if (!cJSON_IsObject(o))
		return fail(p, "a step must be an object");
	memset(st, 0, sizeof(*st));
	if (get_num(p, o, "at_s", 0, DRILL_DURATION_S_MAX, &st->at_s) != 1)
		return p->err[0] ? -1 : fail(p, "\"at_s\" (seconds after the "
		    "start of the load) is required");
	if (get_str(p, o, "action", action, sizeof(action), 1) < 0)
		return -1;
	for (a = 0; a < DA_COUNT_; a++)
		if (strcmp(action, action_names[a]) == 0)
			break;
	if (a == DA_COUNT_)
		return fail(p, "unknown action \"%s\" (link, partition, "
		    "isolate, heal, pause, crash, restart, skew, "
		    "fail_requests, clear_faults, add_replica, drop_replica)",
		    action);
	st->action = (drill_action)a;
	snprintf(p->where + strlen(p->where), sizeof(p->where) -
	    strlen(p->where), " (%s)", action);
	if (get_str(p, o, "note", st->note, sizeof(st->note), 0) < 0)
		return -1;
	switch (st->action) {
	case DA_LINK:
		extra = k_link;
		break;
	case DA_PARTITION:
		extra = k_pair;
		break;
	case DA_HEAL:
		extra = k_none;
		break;
	case DA_PAUSE:
		extra = k_pause;
		break;
	case DA_SKEW:
		extra = k_skew;
		break;
	case DA_FAIL_REQUESTS:
		extra = k_fail;
		break;
	case DA_ADD_REPLICA:
	case DA_DROP_REPLICA:
		extra = k_replica;
		break;
	default:
		extra = k_region;
		break;
	}
	for (size_t i = 0; common[i] != NULL; i++)
		keys[nk++] = common[i];
	for (size_t i = 0; extra[i] != NULL; i++)
		keys[nk++] = extra[i];
	keys[nk] = NULL;
	if (keys_known(p, o, keys) < 0)
		return -1;
	switch (st->action) {
	case DA_LINK:
		if (get_region(p, o, "from", st->region, 1) < 0 ||
		    get_region(p, o, "to", st->peer, 1) < 0 ||
		    parse_shaping(p, o, &st->link) < 0)
			return -1;
		if (strcmp(st->region, st->peer) == 0)
			return fail(p, "\"from\" and \"to\" must differ");
		break;
	case DA_PARTITION:
		if (get_region(p, o, "region", st->region, 1) < 0 ||
		    get_region(p, o, "peer", st->peer, 1) < 0)
			return -1;
		if (strcmp(st->region, st->peer) == 0)
			return fail(p, "\"region\" and \"peer\" must differ");
		break;
	case DA_HEAL:
		break;
	case DA_CLEAR_FAULTS:
		/* Without a region: every region. */
		if (get_region(p, o, "region", st->region, 0) < 0)
			return -1;
		break;
	case DA_PAUSE:
		st->duration_ms = 5000;
		if (get_region(p, o, "region", st->region, 1) < 0 ||
		    get_uint(p, o, "duration_ms", 1, 86400000,
		    &st->duration_ms) < 0)
			return -1;
		break;
	case DA_SKEW:
		if (get_region(p, o, "region", st->region, 1) < 0)
			return -1;
		if (get_num(p, o, "skew_ms", -86400000, 86400000, &d) != 1)
			return p->err[0] ? -1 : fail(p, "\"skew_ms\" is "
			    "required");
		if (d != floor(d))
			return fail(p, "\"skew_ms\" must be a whole number");
		st->skew_ms = (long)d;
		break;
	case DA_FAIL_REQUESTS:
		st->fail_rate = 0.3;
		if (get_region(p, o, "region", st->region, 1) < 0 ||
		    get_num(p, o, "fail_rate", 0, 1, &st->fail_rate) < 0)
			return -1;
		break;
	case DA_ADD_REPLICA:
	case DA_DROP_REPLICA:
		if (get_region(p, o, "region", st->region, 1) < 0 ||
		    get_region(p, o, "via", st->peer, 0) < 0)
			return -1;
		break;
	default:
		if (get_region(p, o, "region", st->region, 1) < 0)
			return -1;
		break;
	}
	return 0;
}

static int parse_load(pctx *p, const cJSON *o, drill_scenario *sc)
{
	static const char *const keys[] = {"rate_per_s", "keys", "hot_keys",
	    "hot_fraction", "regions", "read_fraction", "threads",
	    "timeout_ms", NULL};

	snprintf(p->where, sizeof(p->where), "load");
	if (!cJSON_IsObject(o))
		return fail(p, "must be an object");
	if (keys_known(p, o, keys) < 0 ||
	    get_uint(p, o, "rate_per_s", 1, DRILL_RATE_MAX,
	    &sc->rate_per_s) < 0 ||
	    get_uint(p, o, "keys", 1, DRILL_KEYS_MAX, &sc->keys) < 0 ||
	    get_uint(p, o, "hot_keys", 0, DRILL_KEYS_MAX, &sc->hot_keys) < 0 ||
	    get_num(p, o, "hot_fraction", 0, 1, &sc->hot_fraction) < 0 ||
	    get_num(p, o, "read_fraction", 0, 1, &sc->read_fraction) < 0 ||
	    get_uint(p, o, "threads", 1, DRILL_THREADS_MAX, &sc->threads) < 0 ||
	    get_uint(p, o, "timeout_ms", 50, 60000, &sc->op_timeout_ms) < 0 ||
	    get_regions(p, o, "regions", sc->load, &sc->nload) < 0)
		return -1;
	if (sc->hot_keys > sc->keys)
		return fail(p, "\"hot_keys\" (%u) is more than \"keys\" (%u)",
		    sc->hot_keys, sc->keys);
	p->where[0] = '\0';
	return 0;
}

static int parse_links(pctx *p, const cJSON *a, drill_scenario *sc)
{
	static const char *const keys[] = {"from", "to", "delay_ms",
	    "jitter_ms", "loss_pct", "bandwidth_kbps", "partition", NULL};
	const cJSON *e;
	size_t i = 0;

	if (!cJSON_IsArray(a))
		return fail(p, "\"links\" must be a list");
	cJSON_ArrayForEach(e, a) {
		drill_named_link *l = &sc->links[sc->nlinks];
		snprintf(p->where, sizeof(p->where), "links[%zu]", i++);
		if (sc->nlinks == DRILL_LINKS_MAX)
			return fail(p, "more than %d links", DRILL_LINKS_MAX);
		if (!cJSON_IsObject(e))
			return fail(p, "must be an object");
		if (keys_known(p, e, keys) < 0 ||
		    get_region(p, e, "from", l->from, 1) < 0 ||
		    get_region(p, e, "to", l->to, 1) < 0 ||
		    parse_shaping(p, e, &l->l) < 0)
			return -1;
		if (strcmp(l->from, l->to) == 0)
			return fail(p, "\"from\" and \"to\" must differ");
		sc->nlinks++;
	}
	p->where[0] = '\0';
	return 0;
}

static int read_text(const char *path, gt_buf *b, pctx *p)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return fail(p, "%s", strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > DRILL_SCENARIO_MAX) {
			fclose(f);
			return fail(p, "larger than %u KB",
			    DRILL_SCENARIO_MAX >> 10);
		}
		gt_buf_append(b, chunk, n);
	}
	if (ferror(f) || !gt_buf_ok(b)) {
		fclose(f);
		return fail(p, "cannot read it");
	}
	fclose(f);
	gt_buf_append(b, "", 0);
	return 0;
}

static int step_cmp(const void *a, const void *b)
{
	const drill_step *x = a, *y = b;

	return x->at_s < y->at_s ? -1 : x->at_s > y->at_s;
}

int drill_scenario_load(const char *path, drill_scenario *sc, char *err,
    size_t errlen)
{
	static const char *const keys[] = {"name", "description", "cluster",
	    "duration_s", "table", "seed", "load", "steps", "replicas",
	    "links", "converge_timeout_s", "sample_ms", NULL};
	pctx p = {err, errlen, ""};
	gt_buf text = GT_BUF_INIT;
	cJSON *doc = NULL;
	const cJSON *x, *e;
	double seed;
	int rc = -1;
	size_t i = 0;

	err[0] = '\0';
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->path, sizeof(sc->path), "%s", path);
	snprintf(sc->cluster, sizeof(sc->cluster), "%s", CLI_DEFAULT_CONFIG);
	snprintf(sc->table, sizeof(sc->table), "drill");
	sc->duration_s = 20;
	sc->converge_timeout_s = 60;
	sc->sample_ms = 1000;
	sc->rate_per_s = 200;
	sc->keys = 1000;
	sc->hot_keys = 5;
	sc->hot_fraction = 0.2;
	sc->read_fraction = 0.2;
	sc->threads = 8;
	sc->op_timeout_ms = 2000;
	if (read_text(path, &text, &p) < 0)
		goto out;
	doc = cJSON_ParseWithLength(text.data, text.len);
	if (!cJSON_IsObject(doc)) {
		fail(&p, "not a JSON object");
		goto out;
	}
	if (keys_known(&p, doc, keys) < 0 ||
	    get_str(&p, doc, "name", sc->name, sizeof(sc->name), 0) < 0 ||
	    get_str(&p, doc, "description", sc->description,
	    sizeof(sc->description), 0) < 0 ||
	    get_str(&p, doc, "cluster", sc->cluster, sizeof(sc->cluster),
	    0) < 0 ||
	    get_str(&p, doc, "table", sc->table, sizeof(sc->table), 0) < 0 ||
	    get_num(&p, doc, "duration_s", 1, DRILL_DURATION_S_MAX,
	    &sc->duration_s) < 0 ||
	    get_uint(&p, doc, "converge_timeout_s", 1, 3600,
	    &sc->converge_timeout_s) < 0 ||
	    get_uint(&p, doc, "sample_ms", 100, 60000, &sc->sample_ms) < 0 ||
	    get_regions(&p, doc, "replicas", sc->replicas,
	    &sc->nreplicas) < 0)
		goto out;
	switch (get_num(&p, doc, "seed", 0, 9007199254740991.0, &seed)) {
	case -1:
		goto out;
	case 1:
		sc->seed = (uint64_t)seed;
		sc->seed_given = 1;
		break;
	default:
		break;
	}
	if (sc->name[0] == '\0') {
		/* The file name without directory and extension. */
		const char *base = strrchr(path, '/');
		base = base != NULL ? base + 1 : path;
		snprintf(sc->name, sizeof(sc->name), "%s", base);
		sc->name[strcspn(sc->name, ".")] = '\0';
	}
	if (strlen(sc->table) < 3 || strspn(sc->table,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "_-.") != strlen(sc->table) || strlen(sc->table) > 200) {
		fail(&p, "\"table\" must be a table name (3 to 200 of "
		    "a-z A-Z 0-9 _ - .)");
		goto out;
	}
	x = cJSON_GetObjectItemCaseSensitive(doc, "load");
	if (x != NULL && parse_load(&p, x, sc) < 0)
		goto out;
	x = cJSON_GetObjectItemCaseSensitive(doc, "links");
	if (x != NULL && parse_links(&p, x, sc) < 0)
		goto out;
	x = cJSON_GetObjectItemCaseSensitive(doc, "steps");
	if (x != NULL && !cJSON_IsArray(x)) {
		fail(&p, "\"steps\" must be a list");
		goto out;
	}
	cJSON_ArrayForEach(e, x) {
		snprintf(p.where, sizeof(p.where), "steps[%zu]", i++);
		if (sc->nsteps == DRILL_STEPS_MAX) {
			fail(&p, "more than %d steps", DRILL_STEPS_MAX);
			goto out;
		}
		if (parse_step(&p, e, &sc->steps[sc->nsteps]) < 0)
			goto out;
		if (sc->steps[sc->nsteps].at_s >= sc->duration_s) {
			fail(&p, "\"at_s\" %g is not before the end of the "
			    "drill (duration_s %g)",
			    sc->steps[sc->nsteps].at_s, sc->duration_s);
			goto out;
		}
		sc->nsteps++;
	}
	p.where[0] = '\0';
	if ((double)sc->rate_per_s * sc->duration_s > DRILL_OPS_MAX) {
		fail(&p, "rate_per_s x duration_s is more than %u operations",
		    DRILL_OPS_MAX);
		goto out;
	}
	/* Steps run in time order; equal times keep the file's order. */
	for (size_t k = 0; k < sc->nsteps; k++)
		sc->steps[k].took_ms = k; /* stable sort key, reset below */
	qsort(sc->steps, sc->nsteps, sizeof(sc->steps[0]), step_cmp);
	for (size_t k = 1; k < sc->nsteps; k++) {
		/* qsort is not stable: restore file order among ties. */
		size_t j = k;
		while (j > 0 && sc->steps[j - 1].at_s == sc->steps[j].at_s &&
		    sc->steps[j - 1].took_ms > sc->steps[j].took_ms) {
			drill_step t = sc->steps[j];
			sc->steps[j] = sc->steps[j - 1];
			sc->steps[j - 1] = t;
			j--;
		}
	}
	for (size_t k = 0; k < sc->nsteps; k++)
		sc->steps[k].took_ms = 0;
	sc->duration_s_file = sc->duration_s;
	rc = 0;
out:
	cJSON_Delete(doc);
	gt_buf_free(&text);
	return rc;
}

void drill_scenario_set_duration(drill_scenario *sc, double duration_s)
{
	double k = duration_s / sc->duration_s_file;

	for (size_t i = 0; i < sc->nsteps; i++) {
		drill_step *st = &sc->steps[i];
		st->at_s *= k;
		if (st->action == DA_PAUSE)
			st->duration_ms = (unsigned)GT_MAX(1.0,
			    (double)st->duration_ms * k + 0.5);
	}
	sc->duration_s = duration_s;
}
