/*
 * cmd_link.c — "meridian link set|show": shaping of the replication link
 * from one region to another (delay, jitter, loss, bandwidth, partition).
 *
 * A link FROM -> TO carries FROM's changes to TO.  TO pulls them, so TO's
 * node applies the shaping and owns the setting:
 *   GET  /admin/links   {"Links": [{"From", "To", "DelayMs", "JitterMs",
 *                        "LossPct", "BandwidthKbps", "Partition"}]}
 *   POST /admin/link    {"From", "To", "DelayMs", "JitterMs", "LossPct",
 *                        "BandwidthKbps", "Partition"}
 * "link set" reads the link's current setting from TO, changes only the
 * options given on the command line (all of them back to none with
 * --clear) and posts the whole setting, so the node needs no notion of a
 * partial update.  A node that answers 404 does not support shaping.
 *
 * Units: delay and jitter in ms or s; loss in percent; bandwidth in
 * bit/kbit/mbit/gbit per second (kbps, mbps and gbps are the same units:
 * bits, as in the field name BandwidthKbps; 0 = unlimited).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

#define LINK_DELAY_MS_MAX 600000.0      /* ten minutes, as the nodes */
#define LINK_BANDWIDTH_KBPS_MAX 100000000.0 /* 100 gbit/s */

static const char link_help[] =
"Usage: meridian link show\n"
"       meridian link set FROM TO [--delay D] [--jitter D] [--loss P]\n"
"                                 [--bandwidth B] [--partition on|off]\n"
"                                 [--clear]\n"
"\n"
"The link FROM -> TO carries FROM's writes to TO; TO's node applies the\n"
"shaping (POST /admin/link there).\n"
"\n"
"show  Every link's shaping, as reported by every node\n"
"      (GET /admin/links).\n"
"set   Changes the shaping of FROM -> TO.  Options not given keep their\n"
"      current value; --clear first resets everything to none.\n"
"  --delay D        one-way delay: 38ms, 1.5s (a bare number is ms;\n"
"                   at most 600s)\n"
"  --jitter D       random variation of the delay, same units\n"
"  --loss P         share of batches lost: 0.5%, 2 (percent)\n"
"  --bandwidth B    cap: 512kbit, 10mbit, 1gbit (also kbps, mbps, gbps:\n"
"                   bits, not bytes, per second; a bare number is kbit;\n"
"                   0 or unlimited removes the cap)\n"
"  --partition on|off  cut the link entirely, or restore it\n"
"  --clear          no delay, jitter, loss, cap or partition\n"
"\n"
"Exit status: 0 done; 1 refused, or a node does not support link\n"
"shaping (\"link shaping is not supported by REGION\"); 2 usage error;\n"
"3 a node could not be reached.\n";

typedef struct link_cfg {
	double delay_ms, jitter_ms, loss_pct, bandwidth_kbps;
	int partition;
} link_cfg;

/* Parses a decimal number at s; *end after it.  -1 when there is none
 * or it is not finite and non-negative. */
static int num_prefix(const char *s, double *v, const char **end)
{
	char *e;

	if (s == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '+' ||
	    s[0] == ' ')
		return -1;
	*v = strtod(s, &e);
	if (e == s || !isfinite(*v) || *v < 0)
		return -1;
	*end = e;
	return 0;
}

/* "38ms", "1.5s", "250us", "38" (ms) -> milliseconds. */
static int parse_duration_ms(const char *s, double *ms)
{
	const char *u;
	double v;

	if (num_prefix(s, &v, &u) != 0)
		return -1;
	if (strcmp(u, "") == 0 || strcmp(u, "ms") == 0)
		;
	else if (strcmp(u, "s") == 0 || strcmp(u, "sec") == 0)
		v *= 1000.0;
	else if (strcmp(u, "us") == 0)
		v /= 1000.0;
	else
		return -1;
	if (v > LINK_DELAY_MS_MAX)
		return -1;
	/* The nodes keep whole milliseconds. */
	*ms = floor(v + 0.5);
	return 0;
}

/* "0.5%", "2" -> percent, 0..100. */
static int parse_loss_pct(const char *s, double *pct)
{
	const char *u;
	double v;

	if (num_prefix(s, &v, &u) != 0)
		return -1;
	if (strcmp(u, "%") != 0 && strcmp(u, "") != 0)
		return -1;
	if (v > 100.0)
		return -1;
	*pct = v;
	return 0;
}

/* "10mbit", "512kbit", "100kbps", "1gbit", "800" (kbit) -> kbit/s. */
static int parse_bandwidth_kbps(const char *s, double *kbps)
{
	static const struct {
		const char *unit;
		double kbit;
	} units[] = {
		{"", 1}, {"bit", 0.001}, {"bps", 0.001},
		{"kbit", 1}, {"kbps", 1}, {"k", 1},
		{"mbit", 1000}, {"mbps", 1000}, {"m", 1000},
		{"gbit", 1000000}, {"gbps", 1000000}, {"g", 1000000},
	};
	const char *u;
	double v;

	if (s != NULL && (strcmp(s, "unlimited") == 0 ||
	    strcmp(s, "off") == 0 || strcmp(s, "none") == 0)) {
		*kbps = 0;
		return 0;
	}
	if (num_prefix(s, &v, &u) != 0)
		return -1;
	for (size_t i = 0; i < GT_ARRAY_LEN(units); i++) {
		if (strcasecmp(u, units[i].unit) != 0)
			continue;
		v *= units[i].kbit;
		if (v > LINK_BANDWIDTH_KBPS_MAX)
			return -1;
		/* Whole kbit/s, and a positive cap never rounds to none. */
		*kbps = v > 0 && v < 1 ? 1 : floor(v + 0.5);
		return 0;
	}
	return -1;
}

static int parse_onoff(const char *s, int *on)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "1") == 0)
		*on = 1;
	else if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0)
		*on = 0;
	else
		return -1;
	return 0;
}

static void link_from_json(const cJSON *j, link_cfg *l)
{
	l->delay_ms = cli_json_num(j, "DelayMs", l->delay_ms);
	l->jitter_ms = cli_json_num(j, "JitterMs", l->jitter_ms);
	l->loss_pct = cli_json_num(j, "LossPct", l->loss_pct);
	l->bandwidth_kbps = cli_json_num(j, "BandwidthKbps",
	    l->bandwidth_kbps);
	if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "Partition")))
		l->partition = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j,
		    "Partition"));
}

static void fmt_ms(char *buf, size_t len, double ms)
{
	if (ms <= 0)
		snprintf(buf, len, "-");
	else if (ms >= 1000 && fmod(ms, 1000) == 0)
		snprintf(buf, len, "%.0f s", ms / 1000);
	else
		snprintf(buf, len, "%.0f ms", ms);
}

static void fmt_bw(char *buf, size_t len, double kbps)
{
	if (kbps <= 0)
		snprintf(buf, len, "unlimited");
	else if (kbps >= 1000000 && fmod(kbps, 1000000) == 0)
		snprintf(buf, len, "%.0f gbit/s", kbps / 1000000);
	else if (kbps >= 1000 && fmod(kbps, 1000) == 0)
		snprintf(buf, len, "%.0f mbit/s", kbps / 1000);
	else
		snprintf(buf, len, "%.0f kbit/s", kbps);
}

static void fmt_loss(char *buf, size_t len, double pct)
{
	if (pct <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%g%%", pct);
}

static void fmt_count(char *buf, size_t len, const cJSON *o,
    const char *name)
{
	double v = cli_json_num(o, name, -1);

	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", v);
}

/* 1 when an error answer means "no such endpoint" rather than a refusal
 * of this request (the admin API's own 404s carry a JSON "error"). */
static int endpoint_missing(const cli_apierr *e)
{
	return e->status == 404 || e->status == 405;
}

/* -------------------------------------------------------------------- show */

typedef struct show_job {
	const cli_opts *o;
	cli_region *r;
	int rc;
	cli_apierr e;
	cJSON *res;
} show_job;

static void show_run(void *arg)
{
	show_job *j = arg;
	j->rc = cli_admin(j->o, j->r, "/admin/links", 0, NULL, &j->res, &j->e);
}

static int link_show(cli_opts *o)
{
	static const char *const hd[] = {"FROM", "", "TO", ">DELAY",
	    ">JITTER", ">LOSS", ">BANDWIDTH", "PARTITION", ">LOST",
	    ">HELD"};
	cli_cluster c;
	show_job sj[CLI_REGIONS_MAX];
	cJSON *doc, *all, *unsup, *unr;
	cli_tab t;
	size_t nlinks = 0;
	int rc;

	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	memset(sj, 0, sizeof(sj));
	for (size_t i = 0; i < c.n; i++) {
		sj[i].o = o;
		sj[i].r = &c.r[i];
	}
	cli_parallel(c.n, sj, sizeof(sj[0]), show_run);
	doc = cJSON_CreateObject();
	all = cJSON_AddArrayToObject(doc, "Links");
	unsup = cJSON_AddArrayToObject(doc, "Unsupported");
	unr = cJSON_AddArrayToObject(doc, "Unreachable");
	cli_tab_init(&t, GT_ARRAY_LEN(hd), hd);
	for (size_t i = 0; i < c.n; i++) {
		const cJSON *l;
		if (sj[i].rc == CLI_EXIT_UNREACHABLE) {
			cli_report_unreachable(sj[i].r);
			cJSON_AddItemToArray(unr, cJSON_CreateString(
			    sj[i].r->name));
			rc = cli_exit_worse(rc, CLI_EXIT_UNREACHABLE);
			continue;
		}
		if (sj[i].rc != CLI_EXIT_OK) {
			if (endpoint_missing(&sj[i].e)) {
				cli_errorf("link shaping is not supported by "
				    "%s", sj[i].r->name);
				cJSON_AddItemToArray(unsup, cJSON_CreateString(
				    sj[i].r->name));
			} else {
				cli_report_apierr(sj[i].r, &sj[i].e);
			}
			rc = cli_exit_worse(rc, CLI_EXIT_FAIL);
			continue;
		}
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(
		    sj[i].res, "Links")) {
			link_cfg lc;
			char d[32], jt[32], ls[32], bw[32], lost[32], held[32];
			const char *from = cli_json_str(l, "From");
			const char *to = cli_json_str(l, "To");
			cJSON *copy = cJSON_Duplicate(l, 1);
			memset(&lc, 0, sizeof(lc));
			link_from_json(l, &lc);
			if (copy != NULL) {
				cJSON_AddStringToObject(copy, "ReportedBy",
				    sj[i].r->name);
				cJSON_AddItemToArray(all, copy);
			}
			fmt_ms(d, sizeof(d), lc.delay_ms);
			fmt_ms(jt, sizeof(jt), lc.jitter_ms);
			fmt_loss(ls, sizeof(ls), lc.loss_pct);
			fmt_bw(bw, sizeof(bw), lc.bandwidth_kbps);
			/* Batches the shaping dropped, and holds now. */
			fmt_count(lost, sizeof(lost), l, "LostBatches");
			fmt_count(held, sizeof(held), l, "HeldBatches");
			{
				const char *row[] = {from ? from : "?", "->",
				    to ? to : "?", d, jt, ls, bw,
				    lc.partition ? "ON" : "off", lost, held};
				cli_tab_row(&t, row);
			}
			nlinks++;
		}
	}
	if (o->json)
		cli_json_print(doc);
	else if (!o->quiet) {
		if (nlinks > 0)
			cli_tab_print(&t, "");
		else
			printf("No link shaping reported.\n");
	}
	cli_tab_free(&t);
	cJSON_Delete(doc);
	for (size_t i = 0; i < c.n; i++)
		cJSON_Delete(sj[i].res);
	cli_cluster_free(&c);
	return rc;
}

/* --------------------------------------------------------------------- set */

typedef struct set_args {
	const char *from, *to;
	int clear;
	int has_delay, has_jitter, has_loss, has_bw, has_part;
	link_cfg v;
} set_args;

static int link_set(cli_opts *o, const set_args *a)
{
	cli_cluster c;
	cli_region *to;
	cJSON *cur = NULL, *req = NULL, *res = NULL;
	const cJSON *l, *echo;
	cli_apierr e;
	link_cfg lc;
	int rc;

	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli_cluster_find(&c, a->from) == NULL ||
	    cli_cluster_find(&c, a->to) == NULL) {
		rc = cli_usage_error("link", "%s is not a region of the "
		    "cluster", cli_cluster_find(&c, a->from) == NULL ? a->from :
		    a->to);
		goto out;
	}
	to = cli_cluster_find(&c, a->to);
	memset(&lc, 0, sizeof(lc));
	rc = cli_admin(o, to, "/admin/links", 0, NULL, &cur, &e);
	if (rc == CLI_EXIT_UNREACHABLE) {
		cli_report_unreachable(to);
		goto out;
	}
	if (rc != CLI_EXIT_OK) {
		if (endpoint_missing(&e))
			cli_errorf("link shaping is not supported by %s",
			    to->name);
		else
			cli_report_apierr(to, &e);
		goto out;
	}
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(cur, "Links")) {
		const char *f = cli_json_str(l, "From");
		const char *t = cli_json_str(l, "To");
		if (f != NULL && t != NULL && strcmp(f, a->from) == 0 &&
		    strcmp(t, a->to) == 0)
			link_from_json(l, &lc);
	}
	if (a->clear)
		memset(&lc, 0, sizeof(lc));
	if (a->has_delay)
		lc.delay_ms = a->v.delay_ms;
	if (a->has_jitter)
		lc.jitter_ms = a->v.jitter_ms;
	if (a->has_loss)
		lc.loss_pct = a->v.loss_pct;
	if (a->has_bw)
		lc.bandwidth_kbps = a->v.bandwidth_kbps;
	if (a->has_part)
		lc.partition = a->v.partition;
	req = cJSON_CreateObject();
	if (req == NULL) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	cJSON_AddStringToObject(req, "From", a->from);
	cJSON_AddStringToObject(req, "To", a->to);
	cJSON_AddNumberToObject(req, "DelayMs", lc.delay_ms);
	cJSON_AddNumberToObject(req, "JitterMs", lc.jitter_ms);
	cJSON_AddNumberToObject(req, "LossPct", lc.loss_pct);
	cJSON_AddNumberToObject(req, "BandwidthKbps", lc.bandwidth_kbps);
	cJSON_AddBoolToObject(req, "Partition", lc.partition);
	rc = cli_admin(o, to, "/admin/link", 1, req, &res, &e);
	if (rc == CLI_EXIT_UNREACHABLE) {
		cli_report_unreachable(to);
		goto out;
	}
	if (rc != CLI_EXIT_OK) {
		if (endpoint_missing(&e) && strstr(e.msg, "region") == NULL)
			cli_errorf("link shaping is not supported by %s",
			    to->name);
		else
			cli_report_apierr(to, &e);
		goto out;
	}
	/* Show what the node says it applied: it answers with its links
	 * ({"Links": [...]}), or with the one link. */
	echo = NULL;
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res, "Links")) {
		const char *f = cli_json_str(l, "From");
		const char *t = cli_json_str(l, "To");
		if (f != NULL && t != NULL && strcmp(f, a->from) == 0 &&
		    strcmp(t, a->to) == 0)
			echo = l;
	}
	if (echo == NULL && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(
	    res, "Link")))
		echo = cJSON_GetObjectItemCaseSensitive(res, "Link");
	if (echo != NULL) {
		memset(&lc, 0, sizeof(lc));
		link_from_json(echo, &lc);
	}
	if (o->json) {
		cli_json_print(echo != NULL ? echo : req);
	} else if (!o->quiet) {
		char d[32], j[32], ls[32], bw[32];
		fmt_ms(d, sizeof(d), lc.delay_ms);
		fmt_ms(j, sizeof(j), lc.jitter_ms);
		fmt_loss(ls, sizeof(ls), lc.loss_pct);
		fmt_bw(bw, sizeof(bw), lc.bandwidth_kbps);
		printf("%s -> %s: delay %s, jitter %s, loss %s, bandwidth %s, "
		    "partition %s\n", a->from, a->to, d, j, ls, bw,
		    lc.partition ? "ON" : "off");
	}
out:
	cJSON_Delete(cur);
	cJSON_Delete(req);
	cJSON_Delete(res);
	cli_cluster_free(&c);
	return rc;
}

int cli_cmd_link(cli_opts *o, int argc, char **argv)
{
	set_args a;
	const char *pos[2];
	size_t np = 0;
	int i = 1, g, set;

	memset(&a, 0, sizeof(a));
	if (argc < 1 || cli_is_help(argv[0])) {
		fputs(link_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[0], "set") != 0 && strcmp(argv[0], "show") != 0)
		return cli_usage_error("link", "unknown link command '%s' (set "
		    "or show)", argv[0]);
	set = strcmp(argv[0], "set") == 0;
	while (i < argc) {
		const char *opt = argv[i], *val;
		int bad = 0;
		if (cli_is_help(opt)) {
			fputs(link_help, stdout);
			return CLI_EXIT_OK;
		}
		g = cli_global_opt(o, argc, argv, &i);
		if (g < 0)
			return CLI_EXIT_USAGE;
		if (g > 0)
			continue;
		if (set && strcmp(opt, "--clear") == 0) {
			a.clear = 1;
			i++;
			continue;
		}
		if (opt[0] != '-') {
			if (!set || np == 2)
				return cli_usage_error("link", "unexpected "
				    "argument '%s'", opt);
			pos[np++] = opt;
			i++;
			continue;
		}
		if (!set || (strcmp(opt, "--delay") != 0 &&
		    strcmp(opt, "--jitter") != 0 &&
		    strcmp(opt, "--loss") != 0 &&
		    strcmp(opt, "--bandwidth") != 0 &&
		    strcmp(opt, "--partition") != 0))
			return cli_usage_error("link", "unknown option '%s' "
			    "for link %s", opt, argv[0]);
		if (i + 1 >= argc)
			return cli_usage_error("link", "%s needs a value", opt);
		val = argv[i + 1];
		if (strcmp(opt, "--delay") == 0) {
			bad = parse_duration_ms(val, &a.v.delay_ms);
			a.has_delay = 1;
		} else if (strcmp(opt, "--jitter") == 0) {
			bad = parse_duration_ms(val, &a.v.jitter_ms);
			a.has_jitter = 1;
		} else if (strcmp(opt, "--loss") == 0) {
			bad = parse_loss_pct(val, &a.v.loss_pct);
			a.has_loss = 1;
		} else if (strcmp(opt, "--bandwidth") == 0) {
			bad = parse_bandwidth_kbps(val, &a.v.bandwidth_kbps);
			a.has_bw = 1;
		} else {
			bad = parse_onoff(val, &a.v.partition);
			a.has_part = 1;
		}
		if (bad)
			return cli_usage_error("link", "%s: cannot read '%s' "
			    "(e.g. --delay 38ms, --loss 0.5%%, --bandwidth "
			    "10mbit, --partition on)", opt, val);
		i += 2;
	}
	if (!set)
		return link_show(o);
	if (np != 2)
		return cli_usage_error("link", "link set needs FROM and TO");
	a.from = pos[0];
	a.to = pos[1];
	if (strcmp(a.from, a.to) == 0)
		return cli_usage_error("link", "FROM and TO are the same "
		    "region (%s)", a.from);
	if (!a.clear && !a.has_delay && !a.has_jitter && !a.has_loss &&
	    !a.has_bw && !a.has_part)
		return cli_usage_error("link", "link set needs at least one "
		    "of --delay, --jitter, --loss, --bandwidth, --partition, "
		    "--clear");
	return link_set(o, &a);
}
