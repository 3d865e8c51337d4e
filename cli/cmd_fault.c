/*
 * cmd_fault.c — `meridian fault`: inject and clear faults on a running
 * cluster through the nodes' admin API.
 *
 *   fault pause TABLE REGION --duration SECONDS   POST /admin/pause
 *   fault skew REGION MILLISECONDS                POST /admin/fault
 *   fault fail REGION RATE                        POST /admin/fault
 *   fault isolate REGION | fault heal REGION      partition (or clear)
 *                                                 every link into and out
 *                                                 of REGION (POST
 *                                                 /admin/link on each TO)
 *   fault show                                    GET /admin/faults
 *
 * Crashing and restarting a region need its process: `meridian drill`
 * does both for the clusters it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char fault_usage[] =
    "Usage: meridian fault COMMAND ...\n"
    "  pause TABLE REGION --duration SECONDS\n"
    "                     pause replication of TABLE to and from REGION\n"
    "  skew REGION MS     run REGION's clock MS milliseconds ahead (< 0:\n"
    "                     behind); 0 clears\n"
    "  fail REGION RATE   fail that fraction (0..1) of REGION's DynamoDB\n"
    "                     requests with InternalServerError; 0 clears\n"
    "  isolate REGION     cut every replication link into and out of\n"
    "                     REGION (its API stays up)\n"
    "  heal REGION        restore those links\n"
    "  show               the faults in force in every region\n"
    "Crash and restart are steps of `meridian drill`, which runs the\n"
    "processes.\n";

/* POSTs req to path on region r; reports errors; returns an exit code. */
static int post(cli_opts *o, cli_region *r, const char *path, cJSON *req)
{
	cJSON *out = NULL;
	cli_apierr e;
	int rc = cli_admin(o, r, path, 1, req, &out, &e);

	if (rc == CLI_EXIT_UNREACHABLE)
		cli_report_unreachable(r);
	else if (rc != CLI_EXIT_OK)
		cli_report_apierr(r, &e);
	cJSON_Delete(out);
	return rc;
}

static cli_region *region_or_fail(cli_cluster *c, const char *name, int *rc)
{
	cli_region *r = cli_cluster_find(c, name);

	if (r == NULL) {
		cli_errorf("%s is not a region of this cluster", name);
		*rc = CLI_EXIT_USAGE;
	}
	return r;
}

/* Partitions (on) or restores every link into and out of name. */
static int isolate(cli_opts *o, cli_cluster *c, cli_region *victim, int on)
{
	int rc = CLI_EXIT_OK;

	for (size_t i = 0; i < c->n; i++) {
		cli_region *x = &c->r[i];
		cJSON *into, *outof;
		if (x == victim)
			continue;
		into = cJSON_CreateObject();
		outof = cJSON_CreateObject();
		cJSON_AddStringToObject(into, "From", x->name);
		cJSON_AddBoolToObject(into, "Partition", on);
		cJSON_AddStringToObject(outof, "From", victim->name);
		cJSON_AddBoolToObject(outof, "Partition", on);
		rc = cli_exit_worse(rc, post(o, victim, "/admin/link", into));
		rc = cli_exit_worse(rc, post(o, x, "/admin/link", outof));
		cJSON_Delete(into);
		cJSON_Delete(outof);
	}
	return rc;
}

static int show(cli_opts *o, cli_cluster *c)
{
	cJSON *all = cJSON_CreateObject();
	int rc = CLI_EXIT_OK;

	for (size_t i = 0; i < c->n; i++) {
		cli_region *r = &c->r[i];
		cJSON *out = NULL;
		cli_apierr e;
		int one = cli_admin(o, r, "/admin/faults", 0, NULL, &out, &e);
		if (one == CLI_EXIT_UNREACHABLE)
			cli_report_unreachable(r);
		else if (one != CLI_EXIT_OK)
			cli_report_apierr(r, &e);
		rc = cli_exit_worse(rc, one);
		if (out == NULL)
			continue;
		if (!o->json && !o->quiet) {
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(out,
			    "Pauses");
			printf("%-16s skew %6.0f ms  fail rate %.3f  paused "
			    "tables %d  held records %.0f\n", r->name,
			    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
			    out, "ClockSkewMs")),
			    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
			    out, "FailRate")), cJSON_GetArraySize(p),
			    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
			    out, "HeldRecords")));
		}
		cJSON_AddItemToObject(all, r->name, out);
	}
	if (o->json) {
		char *text = cJSON_Print(all);
		if (text != NULL)
			puts(text);
		free(text);
	}
	cJSON_Delete(all);
	return rc;
}

int cli_cmd_fault(cli_opts *o, int argc, char **argv)
{
	const char *pos[4] = {NULL, NULL, NULL, NULL};
	double duration_s = -1;
	size_t npos = 0;
	cli_cluster c;
	cli_region *r = NULL;
	cJSON *req = NULL;
	int rc, i;

	/* argv holds the arguments after the command word. */
	for (i = 0; i < argc; i++) {
		int g;
		if (cli_is_help(argv[i])) {
			fputs(fault_usage, stdout);
			return CLI_EXIT_OK;
		}
		g = cli_global_opt(o, argc, argv, &i);
		if (g < 0)
			return CLI_EXIT_USAGE;
		if (g > 0) {
			i--; /* it advanced past the option; the loop does too */
			continue;
		}
		if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			char *end;
			duration_s = strtod(argv[++i], &end);
			if (*end == 's' && end[1] == '\0')
				end++;
			if (*end != '\0' || duration_s < 0 ||
			    duration_s > 86400)
				return cli_usage_error("fault", "--duration takes "
				    "seconds from 0 to 86400");
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] == '-')
			return cli_usage_error("fault", "unknown option %s",
			    argv[i]);
		if (npos == 4)
			return cli_usage_error("fault", "too many arguments");
		pos[npos++] = argv[i];
	}
	if (npos == 0)
		return cli_usage_error("fault", "a fault command is needed "
		    "(pause, skew, fail, isolate, heal, show)");
	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (strcmp(pos[0], "show") == 0 && npos == 1) {
		rc = show(o, &c);
	} else if (strcmp(pos[0], "pause") == 0 && npos == 3) {
		if (duration_s < 0) {
			rc = cli_usage_error("fault", "pause needs --duration "
			    "SECONDS");
		} else if ((r = region_or_fail(&c, pos[2], &rc)) != NULL) {
			req = cJSON_CreateObject();
			cJSON_AddStringToObject(req, "TableName", pos[1]);
			cJSON_AddNumberToObject(req, "DurationMs",
			    duration_s * 1000.0);
			rc = post(o, r, "/admin/pause", req);
		}
	} else if ((strcmp(pos[0], "skew") == 0 || strcmp(pos[0], "fail") ==
	    0) && npos == 3) {
		char *end;
		double v = strtod(pos[2], &end);
		int skew = pos[0][0] == 's';
		if (*end != '\0' || (skew ? v < -86400000.0 || v > 86400000.0 :
		    v < 0 || v > 1)) {
			rc = cli_usage_error("fault", skew ? "skew takes "
			    "milliseconds within a day" : "fail takes a rate from "
			    "0 to 1");
		} else if ((r = region_or_fail(&c, pos[1], &rc)) != NULL) {
			req = cJSON_CreateObject();
			cJSON_AddNumberToObject(req, skew ? "ClockSkewMs" :
			    "FailRate", v);
			rc = post(o, r, "/admin/fault", req);
		}
	} else if ((strcmp(pos[0], "isolate") == 0 || strcmp(pos[0], "heal") ==
	    0) && npos == 2) {
		if ((r = region_or_fail(&c, pos[1], &rc)) != NULL)
			rc = isolate(o, &c, r, pos[0][0] == 'i');
	} else {
		rc = cli_usage_error("fault", "unknown or incomplete fault "
		    "command '%s'", pos[0]);
	}
	if (rc == CLI_EXIT_OK && !o->quiet && !o->json &&
	    strcmp(pos[0], "show") != 0)
		printf("%s: done\n", pos[0]);
	cJSON_Delete(req);
	cli_cluster_free(&c);
	return rc;
}
