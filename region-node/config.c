/*
 * config.c — option table, config-file loader and flag parser.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_type { OPT_STR, OPT_UINT, OPT_ENUM, OPT_BOOL } opt_type;

typedef struct opt {
	const char *name;    /* JSON key; the flag is --name with '-' for '_' */
	opt_type type;
	size_t off;
	size_t size;         /* OPT_STR/OPT_ENUM: buffer size */
	unsigned min, max;   /* OPT_UINT bounds */
	const char *deflt;
	const char *choices; /* OPT_ENUM: "a|b|c" */
	const char *help;
	const char *metavar; /* the value's name in --help */
} opt;

#define F(f) offsetof(rn_config, f), sizeof(((rn_config *)0)->f)

static const opt opts[] = {
    {"region", OPT_STR, F(region), 0, 0, "us-east-1", NULL,
     "region this node serves (e.g. eu-west-1)", "NAME"},
    {"host", OPT_STR, F(host), 0, 0, "127.0.0.1", NULL,
     "address the DynamoDB API listens on", "ADDR"},
    {"port", OPT_UINT, F(port), 0, 65535, "8000", NULL,
     "port of the DynamoDB API (0 picks a free port)", "N"},
    {"data", OPT_STR, F(data), 0, 0, "", NULL,
     "data directory (default ./data/<region>)", "DIR"},
    {"port_file", OPT_STR, F(port_file), 0, 0, "", NULL,
     "write the bound API port to this file once listening", "FILE"},
    {"durability", OPT_ENUM, F(durability), 0, 0, "sync", "sync|nosync",
     "sync: fsync every group commit; nosync: survive a process crash, "
     "not a machine crash", "MODE"},
    {"log_level", OPT_ENUM, F(log_level), 0, 0, "info",
     "debug|info|warn|error", "least severe log level written to stderr", "LEVEL"},
    {"map_size_mb", OPT_UINT, F(map_size_mb), 16, 16u * 1024u * 1024u,
     "8192", NULL, "largest size the data file may grow to (MiB); in nosync "
     "mode the file is created at this size, sparse", "N"},
    {"batch_max", OPT_UINT, F(batch_max), 1, 65536, "512", NULL,
     "most writes in one group commit", "N"},
    {"replication", OPT_STR, F(replication), 0, 0, "", NULL,
     "replication listen URL (tcp://host:port); empty: no replication", "URL"},
    {"cluster_key", OPT_STR, F(cluster_key), 0, 0, "", NULL,
     "shared secret authenticating replication frames (HMAC-SHA256)", "KEY"},
    {"global_tables", OPT_BOOL, F(global_tables), 0, 1, "false", NULL,
     "make every table created here a global table in all regions", "BOOL"},
    {"repl_wait_ms", OPT_UINT, F(repl_wait_ms), 10, 60000, "1000", NULL,
     "how long a replication pull waits for new writes (ms)", "N"},
    {"repl_batch_kb", OPT_UINT, F(repl_batch_kb), 16, 4096, "1024", NULL,
     "most change-record data in one replication batch (KiB)", "N"},
    {"join", OPT_STR, F(join), 0, 0, "", NULL,
     "join a running cluster through this member's API URL (first start "
     "only; needs --replication and --cluster-key)", "URL"},
    {"log_keep_max", OPT_UINT, F(log_keep_max), 0, 4000000000u, "10000000",
     NULL, "most change records kept for a peer that has not "
     "acknowledged them; a peer further behind must resynchronise (0: no "
     "limit)", "N"},
    {"stream_retention_s", OPT_UINT, F(stream_retention_s), 1, 31536000,
     "86400", NULL, "while the node has a DynamoDB stream, keep change "
     "records this long (s) for its readers; log_keep_max still caps the "
     "log", "N"},
    {"stream_iterator_ttl_s", OPT_UINT, F(stream_iterator_ttl_s), 1, 86400,
     "900", NULL, "lifetime of a Streams shard iterator (s); DynamoDB's is "
     "900", "N"},
    {"ttl_sweep_interval_ms", OPT_UINT, F(ttl_sweep_interval_ms), 10,
     3600000, "1000", NULL, "pause between two sweeps for expired (TTL) "
     "items (ms)", "N"},
    {"ttl_takeover_s", OPT_UINT, F(ttl_takeover_s), 0, 31536000, "60", NULL,
     "delete an expired item last written in another region once it has "
     "been expired this long (s)", "N"},
};

static int opt_set(const opt *o, rn_config *c, const char *val, char *err,
    size_t errlen)
{
	char *dst = (char *)c + o->off;

	switch (o->type) {
	case OPT_STR:
		if (strlen(val) >= o->size) {
			snprintf(err, errlen, "%s: value too long", o->name);
			return -1;
		}
		memcpy(dst, val, strlen(val) + 1);
		return 0;
	case OPT_ENUM: {
		const char *p = o->choices;
		size_t n = strlen(val);
		while (p != NULL) {
			const char *bar = strchr(p, '|');
			size_t len = bar ? (size_t)(bar - p) : strlen(p);
			if (len == n && memcmp(p, val, n) == 0) {
				memcpy(dst, val, n + 1);
				return 0;
			}
			p = bar ? bar + 1 : NULL;
		}
		snprintf(err, errlen, "%s: '%s' is not one of %s", o->name, val,
		    o->choices);
		return -1;
	}
	case OPT_BOOL:
		if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0) {
			*(unsigned *)(void *)dst = 1;
			return 0;
		}
		if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0) {
			*(unsigned *)(void *)dst = 0;
			return 0;
		}
		snprintf(err, errlen, "%s: '%s' is not true or false", o->name,
		    val);
		return -1;
	case OPT_UINT: {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(val, &end, 10);
		if (errno || end == val || *end != '\0' || val[0] == '-' ||
		    v < o->min || v > o->max) {
			snprintf(err, errlen, "%s: '%s' is not a whole number "
			    "from %u to %u", o->name, val, o->min, o->max);
			return -1;
		}
		*(unsigned *)(void *)dst = (unsigned)v;
		return 0;
	}
	}
	return -1;
}

static const opt *opt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < GT_ARRAY_LEN(opts); i++) {
		const char *n = opts[i].name;
		size_t j;
		if (strlen(n) != len)
			continue;
		for (j = 0; j < len; j++) {
			char a = n[j], b = name[j] == '-' ? '_' : name[j];
			if (a != b)
				break;
		}
		if (j == len)
			return &opts[i];
	}
	return NULL;
}

/* Sets option o from a JSON value: numbers for OPT_UINT, booleans for
 * OPT_BOOL, strings otherwise. */
static int opt_set_json(const opt *o, rn_config *c, const cJSON *e,
    const char *where, char *err, size_t errlen)
{
	char num[32];
	const char *val;

	if (o->type == OPT_UINT && cJSON_IsNumber(e)) {
		snprintf(num, sizeof(num), "%.0f", e->valuedouble);
		if (e->valuedouble != (double)(long long)e->valuedouble)
			num[0] = 'x';
		val = num;
	} else if (o->type == OPT_BOOL && cJSON_IsBool(e)) {
		val = cJSON_IsTrue(e) ? "true" : "false";
	} else if ((o->type == OPT_STR || o->type == OPT_ENUM) &&
	    cJSON_IsString(e)) {
		val = e->valuestring;
	} else {
		snprintf(err, errlen, "%s: '%s' must be a %s", where, e->string,
		    o->type == OPT_UINT ? "number" : o->type == OPT_BOOL ?
		    "boolean" : "string");
		return -1;
	}
	return opt_set(o, c, val, err, errlen);
}

/* Reads the "links" list into c->links. */
static int config_links(const cJSON *links, rn_config *c, const char *where,
    char *err, size_t errlen)
{
	static const char *const keys[] = {"from", "to", "delay_ms",
	    "jitter_ms", "loss_pct", "bandwidth_kbps", "partition"};
	const cJSON *l;

	if (!cJSON_IsArray(links)) {
		snprintf(err, errlen, "%s: 'links' must be a list", where);
		return -1;
	}
	cJSON_ArrayForEach(l, links) {
		rn_link_cfg *lc;
		const cJSON *f, *t, *x;
		if (c->nlinks == RN_LINKS_MAX) {
			snprintf(err, errlen, "%s: more than %d links", where,
			    RN_LINKS_MAX);
			return -1;
		}
		f = cJSON_GetObjectItemCaseSensitive(l, "from");
		t = cJSON_GetObjectItemCaseSensitive(l, "to");
		if (!cJSON_IsString(f) || !cJSON_IsString(t) ||
		    strlen(f->valuestring) >= 32 || strlen(t->valuestring) >= 32) {
			snprintf(err, errlen, "%s: every link needs \"from\" and "
			    "\"to\" region names", where);
			return -1;
		}
		cJSON_ArrayForEach(x, l) {
			size_t i;
			for (i = 0; i < GT_ARRAY_LEN(keys); i++)
				if (strcmp(x->string, keys[i]) == 0)
					break;
			if (i == GT_ARRAY_LEN(keys) || (i >= 2 && i <= 5 &&
			    (!cJSON_IsNumber(x) || x->valuedouble < 0 ||
			    x->valuedouble > (i == 4 ? 100.0 : 1e9))) ||
			    (i == 6 && !cJSON_IsBool(x))) {
				snprintf(err, errlen, "%s: links[%s->%s]: bad key "
				    "or value '%s'", where, f->valuestring,
				    t->valuestring, x->string);
				return -1;
			}
		}
		lc = &c->links[c->nlinks++];
		memset(lc, 0, sizeof(*lc));
		snprintf(lc->from, sizeof(lc->from), "%s", f->valuestring);
		snprintf(lc->to, sizeof(lc->to), "%s", t->valuestring);
		lc->delay_ms = (unsigned)cJSON_GetNumberValue(
		    cJSON_GetObjectItemCaseSensitive(l, "delay_ms"));
		lc->jitter_ms = (unsigned)cJSON_GetNumberValue(
		    cJSON_GetObjectItemCaseSensitive(l, "jitter_ms"));
		x = cJSON_GetObjectItemCaseSensitive(l, "loss_pct");
		lc->loss_ppm = x ? (unsigned)(x->valuedouble * 10000 + 0.5) : 0;
		lc->bandwidth_kbps = (unsigned)cJSON_GetNumberValue(
		    cJSON_GetObjectItemCaseSensitive(l, "bandwidth_kbps"));
		lc->partition = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l,
		    "partition"));
	}
	return 0;
}

/* Loads the file's top-level options into c; hands back its "regions"
 * list (owned by the caller) when there is one. */
static int config_file_load(const char *path, rn_config *c, cJSON **regions,
    char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	gt_buf text = GT_BUF_INIT;
	cJSON *root = NULL, *e;
	char chunk[4096], where[RN_PATH_MAX + 16];
	size_t n;
	int rv = -1;

	if (f == NULL) {
		snprintf(err, errlen, "config %s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
	    text.len < 1024 * 1024)
		gt_buf_append(&text, chunk, n);
	fclose(f);
	snprintf(where, sizeof(where), "config %s", path);
	root = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object", where);
		goto out;
	}
	cJSON_ArrayForEach(e, root) {
		const opt *o;
		if (strcmp(e->string, "links") == 0) {
			if (config_links(e, c, where, err, errlen) != 0)
				goto out;
			continue;
		}
		if (strcmp(e->string, "regions") == 0) {
			if (!cJSON_IsArray(e)) {
				snprintf(err, errlen, "%s: 'regions' must be a "
				    "list", where);
				goto out;
			}
			continue;
		}
		o = opt_find(e->string, strlen(e->string));
		if (o == NULL || strchr(e->string, '-') != NULL) {
			snprintf(err, errlen, "%s: unknown key '%s'", where,
			    e->string);
			goto out;
		}
		if (opt_set_json(o, c, e, where, err, errlen) != 0)
			goto out;
	}
	*regions = cJSON_DetachItemFromObjectCaseSensitive(root, "regions");
	rv = 0;
out:
	cJSON_Delete(root);
	gt_buf_free(&text);
	return rv;
}

/* Applies this node's entry of "regions" (except what flags set) and
 * collects the others as peers. */
static int config_regions(cJSON *regions, rn_config *c,
    const unsigned char *flagged, char *err, size_t errlen)
{
	static const char *const entry_keys[] = {"region", "host", "port",
	    "replication", "data"};
	const cJSON *r;
	int found = 0;

	cJSON_ArrayForEach(r, regions) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "region");
		const cJSON *e;
		rn_config tmp;

		if (!cJSON_IsObject(r) || !cJSON_IsString(nm)) {
			snprintf(err, errlen, "regions: every entry needs a "
			    "\"region\" name");
			return -1;
		}
		/* Every entry is checked the same way, through a scratch
		 * copy, so a typo in any region is reported. */
		tmp = *c;
		cJSON_ArrayForEach(e, r) {
			const opt *o = NULL;
			size_t i;
			for (i = 0; i < GT_ARRAY_LEN(entry_keys); i++)
				if (strcmp(e->string, entry_keys[i]) == 0)
					o = opt_find(e->string,
					    strlen(e->string));
			if (o == NULL) {
				snprintf(err, errlen, "regions[%s]: unknown key "
				    "'%s'", nm->valuestring, e->string);
				return -1;
			}
			if (opt_set_json(o, &tmp, e, "regions", err, errlen) !=
			    0)
				return -1;
		}
		if (strcmp(nm->valuestring, c->region) == 0) {
			found = 1;
			for (size_t i = 0; i < GT_ARRAY_LEN(opts); i++) {
				const opt *o = &opts[i];
				if (flagged[i] || !cJSON_GetObjectItemCaseSensitive(
				    r, o->name))
					continue;
				memcpy((char *)c + o->off, (char *)&tmp + o->off,
				    o->size);
			}
			continue;
		}
		if (c->npeers == RN_PEERS_MAX) {
			snprintf(err, errlen, "regions: more than %d regions",
			    RN_PEERS_MAX + 1);
			return -1;
		}
		{
			rn_peer *p = &c->peers[c->npeers++];
			memset(p, 0, sizeof(*p));
			snprintf(p->region, sizeof(p->region), "%s",
			    tmp.region);
			snprintf(p->host, sizeof(p->host), "%s", tmp.host);
			p->port = tmp.port;
			snprintf(p->replication, sizeof(p->replication), "%s",
			    tmp.replication);
			for (size_t i = 0; i + 1 < c->npeers; i++)
				if (strcmp(c->peers[i].region, p->region) == 0) {
					snprintf(err, errlen, "regions: %s is "
					    "listed twice", p->region);
					return -1;
				}
		}
	}
	if (!found) {
		snprintf(err, errlen, "region %s is not in the config's "
		    "regions list", c->region);
		return -1;
	}
	return 0;
}

gt_err rn_config_parse(int argc, const char *const *argv, rn_config *out,
    int *help, char *err, size_t errlen)
{
	unsigned char flagged[GT_ARRAY_LEN(opts)];
	cJSON *regions = NULL;
	rn_config c;
	const char *file = NULL;
	gt_err rv = GT_EINVAL;

	*help = 0;
	memset(&c, 0, sizeof(c));
	memset(flagged, 0, sizeof(flagged));
	for (size_t i = 0; i < GT_ARRAY_LEN(opts); i++)
		if (opt_set(&opts[i], &c, opts[i].deflt, err, errlen) != 0)
			return GT_EINVAL;
	/* First pass: --help and --config, so the file applies before the
	 * other flags whatever their order. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") ==
		    0) {
			*help = 1;
			return GT_OK;
		}
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "--config needs a file");
				return GT_EINVAL;
			}
			file = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
		}
	}
	if (file != NULL && config_file_load(file, &c, &regions, err, errlen)
	    != 0)
		return GT_EINVAL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		const opt *o;
		size_t len;

		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(a, "--config=", 9) == 0)
			continue;
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			goto out;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		o = opt_find(a, len);
		if (o == NULL || memchr(a, '_', len) != NULL) {
			snprintf(err, errlen, "unknown option '--%.*s' (see "
			    "--help)", (int)len, a);
			goto out;
		}
		if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "--%s needs a value", argv[i] + 2);
			goto out;
		}
		if (opt_set(o, &c, val, err, errlen) != 0)
			goto out;
		flagged[o - opts] = 1;
	}
	if (regions != NULL && config_regions(regions, &c, flagged, err,
	    errlen) != 0)
		goto out;
	if (c.data[0] == '\0' && snprintf(c.data, sizeof(c.data),
	    "./data/%s", c.region) >= (int)sizeof(c.data)) {
		snprintf(err, errlen, "data: path too long");
		goto out;
	}
	*out = c;
	rv = GT_OK;
out:
	cJSON_Delete(regions);
	return rv;
}

void rn_config_usage(FILE *f)
{
	fprintf(f, "usage: region-node [--config FILE] [options]\n\n"
	    "Serves the DynamoDB JSON API for one region of a Meridian "
	    "cluster,\nstoring tables and the change log in LMDB.\n\n"
	    "options (each also a key of the JSON config file, with '_' for "
	    "'-';\nflags override the file; unknown keys are errors):\n"
	    "  --config FILE          JSON config file\n");
	for (size_t i = 0; i < GT_ARRAY_LEN(opts); i++) {
		char flag[64];
		size_t j;
		snprintf(flag, sizeof(flag), "--%s %s", opts[i].name,
		    opts[i].metavar);
		for (j = 0; flag[j] && flag[j] != ' '; j++)
			if (flag[j] == '_')
				flag[j] = '-';
		fprintf(f, "  %-22s %s", flag, opts[i].help);
		if (opts[i].choices)
			fprintf(f, " [%s]", opts[i].choices);
		if (opts[i].deflt[0])
			fprintf(f, " (default %s)", opts[i].deflt);
		fputc('\n', f);
	}
	fprintf(f, "  --help                 this text\n");
}

rn_durability rn_config_durability(const rn_config *c)
{
	return strcmp(c->durability, "nosync") == 0 ? RN_DURABILITY_NOSYNC :
	    RN_DURABILITY_SYNC;
}
