/*
 * cmd_region.c — "meridian region list|join|leave": the cluster's
 * membership, through the nodes' admin API:
 *   GET  /admin/cluster                 the membership
 *   POST /admin/cluster/join  {"Region", "Api", "Replication"}
 *   POST /admin/cluster/leave {"Region"}
 * Both changes answer with the new membership, which the member that
 * made the change spreads to the others through replication (the highest
 * epoch wins everywhere).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conflict.h"

static const char region_help[] =
"Usage: meridian region list\n"
"       meridian region join NAME --api URL --replication URL "
"[--via REGION]\n"
"       meridian region leave NAME [--via REGION]\n"
"\n"
"list   The cluster's regions: the runtime membership with the highest\n"
"       epoch among the nodes that answer GET /admin/cluster (or the\n"
"       config file's list when none does), with each region's API and\n"
"       replication URLs and whether its node answers now.\n"
"join   Adds region NAME, whose node serves the API at URL\n"
"       (http://HOST:PORT) and replication at URL (tcp://HOST:PORT),\n"
"       through a member (POST /admin/cluster/join), and prints the new\n"
"       membership.  Start the new node with the new membership (or\n"
"       with --join) so that it replicates.\n"
"leave  Removes region NAME (POST /admin/cluster/leave) and prints the\n"
"       new membership.  Its replicas are removed from every table.\n"
"\n"
"  --via REGION  the member that makes the change (default: the first\n"
"                reachable one; for leave, one other than NAME)\n"
"\n"
"Exit status: 0 done; 1 the change was refused; 2 usage error;\n"
"3 no member could be reached.\n";

typedef struct health_job {
	const cli_opts *o;
	cli_region *r;
	int up;
} health_job;

static void health_run(void *arg)
{
	health_job *j = arg;
	cli_resp rs = CLI_RESP_INIT;

	j->up = !j->r->dead && cli_http(j->o, j->r->api, "GET", "/health",
	    NULL, NULL, &rs) == 0;
	if (!j->up) {
		j->r->unreachable = 1;
		if (!j->r->dead)
			snprintf(j->r->err, sizeof(j->r->err), "%s", rs.err);
	} else {
		j->r->unreachable = 0;
	}
	cli_resp_free(&rs);
}

/* Prints a membership (topo_members JSON) as a table. */
static void members_text(const cJSON *m, const health_job *hj, size_t nh)
{
	static const char *const hd[] = {"REGION", "API", "REPLICATION",
	    "STATE"};
	const cJSON *e;
	cli_tab t;

	cli_tab_init(&t, hj != NULL ? 4 : 3, hd);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(m, "Regions")) {
		const char *name = cli_json_str(e, "Region");
		const char *api = cli_json_str(e, "Api");
		const char *repl = cli_json_str(e, "Replication");
		const char *state = "-";
		for (size_t i = 0; hj != NULL && i < nh; i++)
			if (name != NULL && strcmp(hj[i].r->name, name) == 0)
				state = hj[i].up ? "up" : "unreachable";
		{
			const char *row[] = {name ? name : "?",
			    api != NULL && api[0] ? api : "-",
			    repl != NULL && repl[0] ? repl : "-", state};
			cli_tab_row(&t, row);
		}
	}
	cli_tab_print(&t, "");
	cli_tab_free(&t);
}

/* The cluster's list as a membership document (for the config case). */
static cJSON *cluster_doc(const cli_opts *o, const cli_cluster *c)
{
	cJSON *doc = cJSON_CreateObject(), *regs;

	if (doc == NULL)
		return NULL;
	cJSON_AddStringToObject(doc, "Source", c->from_membership ?
	    "membership" : "config");
	if (c->from_membership) {
		cJSON_AddNumberToObject(doc, "Epoch", (double)c->epoch);
		cJSON_AddStringToObject(doc, "ChangedBy", c->changed_by);
		cJSON_AddStringToObject(doc, "ServedBy", c->served_by);
	} else {
		cJSON_AddStringToObject(doc, "ConfigFile", o->config_path);
	}
	regs = cJSON_AddArrayToObject(doc, "Regions");
	for (size_t i = 0; i < c->n; i++) {
		cJSON *e = cJSON_CreateObject();
		if (e == NULL)
			break;
		cJSON_AddStringToObject(e, "Region", c->r[i].name);
		cJSON_AddStringToObject(e, "Api", c->r[i].api);
		cJSON_AddStringToObject(e, "Replication", c->r[i].repl);
		cJSON_AddItemToArray(regs, e);
	}
	return doc;
}

static int region_list(cli_opts *o)
{
	cli_cluster c;
	health_job hj[CLI_REGIONS_MAX];
	cJSON *doc;
	size_t up = 0;
	int rc;

	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	memset(hj, 0, sizeof(hj));
	for (size_t i = 0; i < c.n; i++) {
		hj[i].o = o;
		hj[i].r = &c.r[i];
	}
	cli_parallel(c.n, hj, sizeof(hj[0]), health_run);
	for (size_t i = 0; i < c.n; i++)
		up += hj[i].up != 0;
	doc = cluster_doc(o, &c);
	if (doc == NULL) {
		cli_cluster_free(&c);
		return CLI_EXIT_FAIL;
	}
	if (o->json) {
		cJSON *e;
		size_t i = 0;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc,
		    "Regions"))
			cJSON_AddBoolToObject(e, "Reachable", hj[i++].up);
		cli_json_print(doc);
	} else if (!o->quiet) {
		if (c.from_membership)
			printf("Membership epoch %llu (changed by %s), read "
			    "from %s\n\n", (unsigned long long)c.epoch,
			    c.changed_by[0] ? c.changed_by : "-",
			    c.served_by);
		else
			printf("Regions of %s (no node serves the runtime "
			    "membership)\n\n", o->config_path);
		members_text(doc, hj, c.n);
	}
	cJSON_Delete(doc);
	if (up == 0) {
		for (size_t i = 0; i < c.n; i++)
			cli_report_unreachable(&c.r[i]);
		rc = CLI_EXIT_UNREACHABLE;
	}
	cli_cluster_free(&c);
	return rc;
}

/* Sends a join or leave to the --via member or to the first reachable
 * one (for leave, members other than the leaving region first). */
static int region_change(cli_opts *o, int join, const char *name,
    const char *api, const char *repl, const char *via)
{
	cli_cluster c;
	cli_region *order[CLI_REGIONS_MAX * 2];
	cJSON *req = NULL, *res = NULL;
	cli_apierr e;
	size_t n = 0;
	int rc;

	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (via != NULL) {
		order[n] = cli_cluster_find(&c, via);
		if (order[n] == NULL) {
			rc = cli_usage_error("region", "--via: %s is not a "
			    "region of the cluster", via);
			goto out;
		}
		n++;
	} else {
		for (size_t i = 0; i < c.n; i++)
			if (join || strcmp(c.r[i].name, name) != 0)
				order[n++] = &c.r[i];
		for (size_t i = 0; i < c.n; i++)
			if (!join && strcmp(c.r[i].name, name) == 0)
				order[n++] = &c.r[i];
	}
	req = cJSON_CreateObject();
	if (req == NULL) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	cJSON_AddStringToObject(req, "Region", name);
	if (join) {
		cJSON_AddStringToObject(req, "Api", api);
		cJSON_AddStringToObject(req, "Replication", repl);
	}
	rc = CLI_EXIT_UNREACHABLE;
	for (size_t i = 0; i < n; i++) {
		cli_region *r = order[i];
		rc = cli_admin(o, r, join ? "/admin/cluster/join" :
		    "/admin/cluster/leave", 1, req, &res, &e);
		if (rc == CLI_EXIT_UNREACHABLE) {
			cli_report_unreachable(r);
			continue;
		}
		if (rc != CLI_EXIT_OK) {
			if (e.status == 404 && strstr(e.msg, "member") == NULL)
				cli_report(r, "cluster membership changes are "
				    "not supported by this node");
			else
				cli_report_apierr(r, &e);
			goto out;
		}
		if (o->json) {
			cli_json_print(res);
		} else if (!o->quiet) {
			char via_name[CLI_NAME_MAX];
			cJSON *doc;
			/* r points into c, which adopting rewrites. */
			snprintf(via_name, sizeof(via_name), "%s", r->name);
			printf("%s %s the cluster (through %s).  Membership "
			    "epoch %.0f:\n\n", name, join ? "joined" : "left",
			    via_name, cli_json_num(res, "Epoch", 0));
			/* Shown like "region list": known URLs fill in
			 * what the membership lacks. */
			if (cli_cluster_adopt(&c, res, via_name) == 0 &&
			    (doc = cluster_doc(o, &c)) != NULL) {
				members_text(doc, NULL, 0);
				cJSON_Delete(doc);
			} else {
				members_text(res, NULL, 0);
			}
		}
		goto out;
	}
	if (n == 0)
		cli_errorf("no region to send the change to");
out:
	cJSON_Delete(req);
	cJSON_Delete(res);
	cli_cluster_free(&c);
	return rc;
}

static int url_has_scheme(const char *url, const char *const *schemes,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(schemes[i]);
		if (strncmp(url, schemes[i], k) == 0 && url[k] != '\0')
			return 1;
	}
	return 0;
}

int cli_cmd_region(cli_opts *o, int argc, char **argv)
{
	static const char *const api_schemes[] = {"http://", "https://"};
	static const char *const repl_schemes[] = {"tcp://", "tls+tcp://"};
	const char *sub, *name = NULL, *api = NULL, *repl = NULL, *via = NULL;
	int i = 1, g;

	if (argc < 1 || cli_is_help(argv[0])) {
		fputs(region_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	sub = argv[0];
	if (strcmp(sub, "list") != 0 && strcmp(sub, "join") != 0 &&
	    strcmp(sub, "leave") != 0)
		return cli_usage_error("region", "unknown region command '%s' "
		    "(list, join or leave)", sub);
	while (i < argc) {
		const char **dst = NULL;
		if (cli_is_help(argv[i])) {
			fputs(region_help, stdout);
			return CLI_EXIT_OK;
		}
		g = cli_global_opt(o, argc, argv, &i);
		if (g < 0)
			return CLI_EXIT_USAGE;
		if (g > 0)
			continue;
		if (strcmp(sub, "join") == 0 && strcmp(argv[i], "--api") == 0)
			dst = &api;
		else if (strcmp(sub, "join") == 0 &&
		    strcmp(argv[i], "--replication") == 0)
			dst = &repl;
		else if (strcmp(sub, "list") != 0 &&
		    strcmp(argv[i], "--via") == 0)
			dst = &via;
		if (dst != NULL) {
			if (i + 1 >= argc)
				return cli_usage_error("region", "%s needs a "
				    "value", argv[i]);
			*dst = argv[i + 1];
			i += 2;
			continue;
		}
		if (argv[i][0] == '-')
			return cli_usage_error("region", "unknown option '%s' "
			    "for region %s", argv[i], sub);
		if (name != NULL || strcmp(sub, "list") == 0)
			return cli_usage_error("region", "unexpected argument "
			    "'%s'", argv[i]);
		name = argv[i++];
	}
	if (strcmp(sub, "list") == 0)
		return region_list(o);
	if (name == NULL)
		return cli_usage_error("region", "region %s needs the region "
		    "NAME", sub);
	if (strlen(name) >= CF_REGION_NAME_MAX || !cf_region_name_valid(name))
		return cli_usage_error("region", "'%s' is not a valid region "
		    "name", name);
	if (strcmp(sub, "join") == 0) {
		if (api == NULL || repl == NULL)
			return cli_usage_error("region", "region join needs "
			    "--api URL and --replication URL");
		if (!url_has_scheme(api, api_schemes, 2) ||
		    strlen(api) >= CLI_URL_MAX)
			return cli_usage_error("region", "--api: '%s' is "
			    "not an http://HOST:PORT URL", api);
		if (!url_has_scheme(repl, repl_schemes, 2) ||
		    strlen(repl) >= CLI_URL_MAX)
			return cli_usage_error("region", "--replication: "
			    "'%s' is not a tcp://HOST:PORT URL", repl);
	}
	return region_change(o, strcmp(sub, "join") == 0, name, api, repl,
	    via);
}
