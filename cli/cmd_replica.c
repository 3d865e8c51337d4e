/*
 * cmd_replica.c — "meridian replica add|drop": change a table's replica
 * set through the global tables API (UpdateTable ReplicaUpdates, version
 * 2019.11.21) and follow the change to its end.
 *
 * The request goes to a region that holds the table (the source).  The
 * source records the change; for an add, the new region backfills from
 * it and reports progress, which the source shows in DescribeTable as
 * the replica's ReplicaStatus (CREATING, ReplicaStatusPercentProgress
 * "NN") until ACTIVE or CREATION_FAILED.  The wait polls the source's
 * DescribeTable every REPLICA_POLL_MS, bounded by the wait timeout;
 * a failed poll (the source briefly unreachable) is retried until then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define REPLICA_POLL_MS 500u
#define BAR_WIDTH 30

static const char replica_help[] =
"Usage: meridian replica add TABLE REGION [--no-wait]\n"
"       meridian replica drop TABLE REGION [--keep-detached] [--no-wait]\n"
"\n"
"add   Adds a replica of TABLE in REGION: sends UpdateTable with\n"
"      ReplicaUpdates [{\"Create\": {\"RegionName\": REGION}}] to a region\n"
"      that holds TABLE, then waits until the new replica is ACTIVE,\n"
"      showing its backfill progress (a progress bar on a terminal, a\n"
"      line per change otherwise, nothing with --quiet).\n"
"      Fails (exit 1) when the replica ends in CREATION_FAILED.\n"
"drop  Drops REGION's replica of TABLE (UpdateTable ReplicaUpdates\n"
"      [{\"Delete\": {\"RegionName\": REGION}}]) and waits until the\n"
"      replica is gone from the table's description.\n"
"      --keep-detached: REGION keeps its copy as a regional table that\n"
"      no longer replicates (POST /admin/replica/drop).\n"
"\n"
"  --no-wait    return once the change is accepted\n"
"  --timeout S  give up waiting after S seconds (default 600)\n"
"\n"
"DynamoDB errors (e.g. ValidationException for a region that is not in\n"
"the cluster, ResourceInUseException while another replica is being\n"
"created) are printed with their message.\n"
"\n"
"Exit status: 0 done; 1 refused, failed or timed out; 2 usage error;\n"
"3 no region holding TABLE could be reached.\n";

typedef struct rep_args {
	int add;
	const char *table;
	const char *region;
	int no_wait;
	int keep_detached;
} rep_args;

/* DescribeTable of table on r: *desc is the "Table" object (owned). */
static int describe(const cli_opts *o, cli_region *r, const char *table,
    cJSON **desc, cli_apierr *e)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	int rc;

	if (req == NULL) {
		memset(e, 0, sizeof(*e));
		snprintf(e->msg, sizeof(e->msg), "out of memory");
		return CLI_EXIT_FAIL;
	}
	cJSON_AddStringToObject(req, "TableName", table);
	rc = cli_ddb(o, r, "DescribeTable", req, &res, e);
	cJSON_Delete(req);
	if (rc != CLI_EXIT_OK)
		return rc;
	*desc = cJSON_DetachItemFromObjectCaseSensitive(res, "Table");
	cJSON_Delete(res);
	if (*desc == NULL) {
		memset(e, 0, sizeof(*e));
		snprintf(e->msg, sizeof(e->msg), "DescribeTable answered "
		    "without \"Table\"");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int is_not_found(const cli_apierr *e)
{
	return strcmp(e->type, "ResourceNotFoundException") == 0;
}

/*
 * Picks the region to send the change to: a reachable region other than
 * `avoid` that holds the table (an ACTIVE table preferred), or `avoid`
 * itself when it is the only holder.  Prints what went wrong and returns
 * an exit code when there is none.
 */
static int find_source(const cli_opts *o, cli_cluster *c, const char *table,
    const char *avoid, int allow_avoid, cli_region **src)
{
	cli_region *best = NULL, *fallback = NULL;
	int best_active = 0, unreachable = 0, failed = 0;

	for (size_t i = 0; i < c->n; i++) {
		cli_region *r = &c->r[i];
		cJSON *d = NULL;
		cli_apierr e;
		int rc, self = strcmp(r->name, avoid) == 0;
		const char *st;

		if (self && !allow_avoid)
			continue;
		rc = describe(o, r, table, &d, &e);
		if (rc == CLI_EXIT_UNREACHABLE) {
			unreachable = 1;
			continue;
		}
		if (rc != CLI_EXIT_OK) {
			if (!is_not_found(&e)) {
				cli_report_apierr(r, &e);
				failed = 1;
			}
			continue;
		}
		st = cli_json_str(d, "TableStatus");
		if (self) {
			fallback = r;
		} else if (best == NULL || (!best_active && st != NULL &&
		    strcmp(st, "ACTIVE") == 0)) {
			best = r;
			best_active = st != NULL && strcmp(st, "ACTIVE") == 0;
		}
		cJSON_Delete(d);
	}
	*src = best != NULL ? best : fallback;
	if (*src != NULL)
		return CLI_EXIT_OK;
	if (unreachable) {
		for (size_t i = 0; i < c->n; i++)
			if (c->r[i].unreachable)
				cli_report_unreachable(&c->r[i]);
		cli_errorf("table %s was not found in any reachable region",
		    table);
		return CLI_EXIT_UNREACHABLE;
	}
	if (!failed)
		cli_errorf("table %s does not exist in any region%s%s", table,
		    allow_avoid ? "" : " other than ",
		    allow_avoid ? "" : avoid);
	return CLI_EXIT_FAIL;
}

/* The Replicas entry for region in a table description, or NULL. */
static const cJSON *replica_of(const cJSON *desc, const char *region)
{
	const cJSON *rep;

	cJSON_ArrayForEach(rep, cJSON_GetObjectItemCaseSensitive(desc,
	    "Replicas")) {
		const char *n = cli_json_str(rep, "RegionName");
		if (n != NULL && strcmp(n, region) == 0)
			return rep;
	}
	return NULL;
}

static void progress_show(const cli_opts *o, const rep_args *a,
    const char *status, int pct, int *last_pct, char *last_status,
    size_t last_len)
{
	if (o->quiet || o->json)
		return;
	if (o->stdout_tty) {
		char bar[BAR_WIDTH + 1];
		int fill = pct < 0 ? 0 : pct * BAR_WIDTH / 100;
		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		printf("\r%s -> %s  [%s] %3d%%  %-16s", a->table, a->region,
		    bar, pct < 0 ? 0 : pct, status);
		fflush(stdout);
	} else if (pct != *last_pct || strcmp(status, last_status) != 0) {
		if (pct >= 0)
			printf("%s: replica %s %s %d%%\n", a->table, a->region,
			    status, pct);
		else
			printf("%s: replica %s %s\n", a->table, a->region,
			    status);
		fflush(stdout);
	}
	*last_pct = pct;
	snprintf(last_status, last_len, "%s", status);
}

static void progress_end(const cli_opts *o, int drawn)
{
	if (drawn && o->stdout_tty && !o->quiet && !o->json) {
		putchar('\n');
		fflush(stdout);
	}
}

static void result_json(const rep_args *a, const cli_region *src,
    const char *status, double secs)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc == NULL)
		return;
	cJSON_AddStringToObject(doc, "TableName", a->table);
	cJSON_AddStringToObject(doc, "RegionName", a->region);
	cJSON_AddStringToObject(doc, "Action", a->add ? "Create" : "Delete");
	cJSON_AddStringToObject(doc, "Source", src->name);
	cJSON_AddStringToObject(doc, "ReplicaStatus", status);
	cJSON_AddNumberToObject(doc, "Seconds", secs);
	cli_json_print(doc);
	cJSON_Delete(doc);
}

/* Polls until the change is done.  Returns the exit code. */
static int replica_wait(const cli_opts *o, const rep_args *a,
    cli_region *src, uint64_t t0)
{
	uint64_t deadline = t0 + o->wait_timeout_ms;
	char last_status[32] = "", shown[32] = "";
	int last_pct = -2, seen = 0, drawn = 0, warned = 0, last_rc = 0;
	cli_apierr e;

	memset(&e, 0, sizeof(e));
	for (;;) {
		cJSON *d = NULL;
		const cJSON *rep;
		const char *st = NULL;
		int rc, pct = -1;

		/* A source that stopped answering may come back. */
		src->dead = 0;
		rc = describe(o, src, a->table, &d, &e);

		last_rc = rc;
		if (rc == CLI_EXIT_OK) {
			rep = replica_of(d, a->region);
			st = cli_json_str(rep, "ReplicaStatus");
			pct = (int)cli_json_num(rep,
			    "ReplicaStatusPercentProgress", -1);
			if (!a->add && rep == NULL) {
				cJSON_Delete(d);
				progress_end(o, drawn);
				return CLI_EXIT_OK;
			}
			if (a->add && rep != NULL)
				seen = 1;
			if (a->add && st != NULL &&
			    strcmp(st, "ACTIVE") == 0) {
				cJSON_Delete(d);
				/* Complete the bar; lines need no "100%". */
				if (drawn && o->stdout_tty)
					progress_show(o, a, "ACTIVE", 100,
					    &last_pct, shown, sizeof(shown));
				progress_end(o, drawn);
				return CLI_EXIT_OK;
			}
			if (a->add && st != NULL &&
			    strcmp(st, "CREATION_FAILED") == 0) {
				const char *why = cli_json_str(rep,
				    "ReplicaStatusDescription");
				progress_end(o, drawn);
				cli_report(src, "creating the replica of %s in "
				    "%s failed (CREATION_FAILED)%s%s", a->table,
				    a->region, why ? ": " : "", why ? why : "");
				cJSON_Delete(d);
				return CLI_EXIT_FAIL;
			}
			if (a->add && rep == NULL && seen) {
				cJSON_Delete(d);
				progress_end(o, drawn);
				cli_report(src, "the replica of %s in %s was "
				    "removed before it became ACTIVE", a->table,
				    a->region);
				return CLI_EXIT_FAIL;
			}
			if (st != NULL) {
				snprintf(last_status, sizeof(last_status), "%s",
				    st);
				progress_show(o, a, st, a->add ? pct : -1,
				    &last_pct, shown, sizeof(shown));
				drawn = 1;
			}
			cJSON_Delete(d);
		} else if (rc == CLI_EXIT_FAIL && !a->add && is_not_found(&e)) {
			/* The source was the dropped region itself. */
			progress_end(o, drawn);
			return CLI_EXIT_OK;
		} else if (!warned && !o->quiet) {
			progress_end(o, drawn);
			drawn = 0;
			if (rc == CLI_EXIT_UNREACHABLE)
				cli_report(src, "is unreachable (%s); still "
				    "waiting", src->err);
			else
				cli_report(src, "DescribeTable failed (%s); "
				    "still waiting", e.msg);
			warned = 1;
		}
		if (cli_now_ms() + REPLICA_POLL_MS > deadline)
			break;
		cli_sleep_ms(REPLICA_POLL_MS);
	}
	progress_end(o, drawn);
	if (last_rc == CLI_EXIT_UNREACHABLE) {
		src->reported = 0;
		cli_report_unreachable(src);
		return CLI_EXIT_UNREACHABLE;
	}
	cli_report(src, "timed out after %.0f s waiting for the replica of %s "
	    "in %s to %s (last status: %s)", (double)o->wait_timeout_ms /
	    1000.0, a->table, a->region, a->add ? "become ACTIVE" :
	    "disappear", last_status[0] ? last_status : "not listed");
	return CLI_EXIT_FAIL;
}

static int replica_run(cli_opts *o, const rep_args *a)
{
	cli_cluster c;
	cli_region *src = NULL;
	cJSON *req = NULL, *res = NULL, *ru, *act, *spec;
	cli_apierr e;
	uint64_t t0 = cli_now_ms();
	int rc;

	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = find_source(o, &c, a->table, a->region, !a->add, &src);
	if (rc != CLI_EXIT_OK)
		goto out;
	req = cJSON_CreateObject();
	if (req == NULL) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	cJSON_AddStringToObject(req, "TableName", a->table);
	if (a->keep_detached) {
		cJSON_AddStringToObject(req, "RegionName", a->region);
		cJSON_AddBoolToObject(req, "KeepDetached", 1);
		rc = cli_admin(o, src, "/admin/replica/drop", 1, req, &res, &e);
		if (rc == CLI_EXIT_FAIL && e.status == 404 &&
		    e.type[0] == '\0' && strstr(e.msg, "table") == NULL) {
			cli_report(src, "dropping a replica but keeping it "
			    "detached is not supported by this node");
			goto out;
		}
	} else {
		ru = cJSON_AddArrayToObject(req, "ReplicaUpdates");
		act = cJSON_CreateObject();
		cJSON_AddItemToArray(ru, act);
		spec = cJSON_AddObjectToObject(act, a->add ? "Create" :
		    "Delete");
		cJSON_AddStringToObject(spec, "RegionName", a->region);
		rc = cli_ddb(o, src, "UpdateTable", req, &res, &e);
	}
	if (rc == CLI_EXIT_UNREACHABLE) {
		cli_report_unreachable(src);
		goto out;
	}
	if (rc != CLI_EXIT_OK) {
		cli_report_apierr(src, &e);
		goto out;
	}
	if (!o->quiet && !o->json)
		printf("%s: %s the replica in %s (request sent to %s)\n",
		    a->table, a->add ? "adding" : "dropping", a->region,
		    src->name);
	if (a->no_wait) {
		if (o->json)
			result_json(a, src, a->add ? "CREATING" : "DELETING",
			    (double)(cli_now_ms() - t0) / 1000.0);
		goto out;
	}
	fflush(stdout);
	rc = replica_wait(o, a, src, t0);
	if (rc != CLI_EXIT_OK)
		goto out;
	if (o->json)
		result_json(a, src, a->add ? "ACTIVE" : "DELETED",
		    (double)(cli_now_ms() - t0) / 1000.0);
	else if (!o->quiet)
		printf("%s: the replica in %s is %s (%.1f s)%s\n", a->table,
		    a->region, a->add ? "ACTIVE" : "dropped",
		    (double)(cli_now_ms() - t0) / 1000.0, a->keep_detached ?
		    "; its copy is kept as a regional table" : "");
out:
	cJSON_Delete(req);
	cJSON_Delete(res);
	cli_cluster_free(&c);
	return rc;
}

int cli_cmd_replica(cli_opts *o, int argc, char **argv)
{
	rep_args a;
	const char *pos[2];
	size_t np = 0;
	int i = 1, g;

	memset(&a, 0, sizeof(a));
	if (argc < 1 || cli_is_help(argv[0])) {
		if (argc < 1) {
			fputs(replica_help, stderr);
			return CLI_EXIT_USAGE;
		}
		fputs(replica_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[0], "add") == 0)
		a.add = 1;
	else if (strcmp(argv[0], "drop") != 0)
		return cli_usage_error("replica", "unknown replica command "
		    "'%s' (add or drop)", argv[0]);
	while (i < argc) {
		if (cli_is_help(argv[i])) {
			fputs(replica_help, stdout);
			return CLI_EXIT_OK;
		}
		g = cli_global_opt(o, argc, argv, &i);
		if (g < 0)
			return CLI_EXIT_USAGE;
		if (g > 0)
			continue;
		if (strcmp(argv[i], "--no-wait") == 0) {
			a.no_wait = 1;
		} else if (!a.add && strcmp(argv[i], "--keep-detached") == 0) {
			a.keep_detached = 1;
		} else if (argv[i][0] == '-') {
			return cli_usage_error("replica", "unknown option '%s' "
			    "for replica %s", argv[i], argv[0]);
		} else if (np == 2) {
			return cli_usage_error("replica", "unexpected argument "
			    "'%s'", argv[i]);
		} else {
			pos[np++] = argv[i];
		}
		i++;
	}
	if (np != 2)
		return cli_usage_error("replica", "replica %s needs TABLE and "
		    "REGION", argv[0]);
	a.table = pos[0];
	a.region = pos[1];
	if (strlen(a.table) < 3 || strlen(a.table) > 255)
		return cli_usage_error("replica", "'%s' is not a table name "
		    "(3 to 255 characters)", a.table);
	if (a.region[0] == '\0' || strlen(a.region) >= CLI_NAME_MAX)
		return cli_usage_error("replica", "'%s' is not a region name",
		    a.region);
	return replica_run(o, &a);
}
