/*
 * cmd_verify.c — "meridian verify": prove that every region holds the
 * same contents of a table, or name what differs.
 *
 * The nodes compute the digests (POST /admin/digest, replica.h): the
 * partition-hash space is cut into VERIFY_RANGES equal ranges, each
 * range has a SHA-256 over its live items with their stamps, and the
 * table digest covers the ranges.  So:
 *   1. Ask every region for the table's digest (in parallel).  A region
 *      answering 404 "no such table" does not hold it.
 *   2. Equal table digests everywhere: equal.
 *   3. Otherwise, for every range whose digests differ, ask the holders
 *      to list that range's keys with a per-key digest ("ListRange") and
 *      diff the lists: keys missing from some regions, and keys whose
 *      versions differ.
 * A region that the table's replica list (DescribeTable "Replicas") names
 * as ACTIVE but that lacks the table is a difference too.
 *
 * Digests include each item's stamp, so a key written in two regions
 * with the same value but never replicated shows up as different: that
 * is the point (replicas must converge to the same version).  Writes in
 * flight show as differences; verify a quiescent table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define VERIFY_RANGES 64
#define VERIFY_TABLES_MAX 4096
#define VERIFY_KEYS_PRINTED 50

static const char verify_help[] =
"Usage: meridian verify [TABLE...] [--json]\n"
"\n"
"Compares each TABLE (every table of every region when none is named)\n"
"across the regions that hold it, using the nodes' digests\n"
"(POST /admin/digest, 64 key ranges).  When the digests differ, lists\n"
"the keys of the differing ranges in each region and prints which key\n"
"ranges and which keys differ: keys present in some regions but not in\n"
"others, and keys whose versions (value and write stamp) differ.\n"
"A region that the table lists as an ACTIVE replica but that does not\n"
"hold the table is reported as missing.  Each region's secondary\n"
"indexes are also checked against a rebuild from its own items\n"
"(POST /admin/index-check); entries missing or extra make the table\n"
"DIFFERENT.\n"
"\n"
"Output, per table:\n"
"  TABLE: equal in N regions (M items)\n"
"  TABLE: DIFFERENT in N regions (REGION: M items, ...)\n"
"    range I/64 (partition hash LO-HI): K keys differ\n"
"      KEY: only in REGIONS; missing in REGIONS\n"
"      KEY: different versions: REGIONS DIGEST; REGIONS DIGEST\n"
"    indexes in REGION: N entries missing, M extra (...)\n"
"KEY is the item's key in DynamoDB JSON, e.g. {\"pk\":{\"S\":\"a\"}}.\n"
"\n"
"With --json: {\"Equal\": bool, \"Tables\": [{\"TableName\", \"Equal\",\n"
"  \"Regions\": [{\"Region\", \"Items\", \"Digest\", \"IndexCheck\"}],\n"
"  \"Missing\": [...],\n"
"  \"Unreachable\": [...], \"Ranges\": [{\"Range\", \"HashLo\", \"HashHi\",\n"
"  \"Keys\": [{\"Key\", \"PresentIn\", \"MissingIn\", \"Digests\"}]}]}]}\n"
"\n"
"Writes still replicating show up as differences: verify when the\n"
"cluster is quiet (meridian status shows nothing pending).\n"
"\n"
"Exit status: 0 every table is equal in every region that holds it;\n"
"1 a difference was found (or a table does not exist anywhere);\n"
"3 a region could not be reached (the result is incomplete).\n";

/* One region's part in verifying one table. */
typedef struct vreg {
	const cli_opts *o;
	cli_region *r;
	const char *table;
	int list_range;         /* -1: whole-table digest */
	int rc;
	cli_apierr e;
	int holds;
	cJSON *dig;             /* digest answer (owned) */
	cJSON *desc;            /* DescribeTable "Table" (owned) */
	cJSON *keys;            /* ListRange answer (owned) */
	cJSON *ixchk;           /* /admin/index-check answer (owned) */
} vreg;

static int not_held(const cli_apierr *e)
{
	return e->status == 404 && strstr(e->msg, "table") != NULL;
}

static void vreg_digest(void *arg)
{
	vreg *v = arg;
	cJSON *req = cJSON_CreateObject(), *res = NULL;

	if (req == NULL) {
		v->rc = CLI_EXIT_FAIL;
		snprintf(v->e.msg, sizeof(v->e.msg), "out of memory");
		return;
	}
	cJSON_AddStringToObject(req, "TableName", v->table);
	cJSON_AddNumberToObject(req, "Ranges", VERIFY_RANGES);
	if (v->list_range >= 0)
		cJSON_AddNumberToObject(req, "ListRange", v->list_range);
	v->rc = cli_admin(v->o, v->r, "/admin/digest", 1, req, &res, &v->e);
	cJSON_Delete(req);
	if (v->rc == CLI_EXIT_FAIL && not_held(&v->e)) {
		v->rc = CLI_EXIT_OK;
		v->holds = 0;
		return;
	}
	if (v->rc != CLI_EXIT_OK)
		return;
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(res, "Digest"))
	    || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(res,
	    "Ranges"))) {
		cJSON_Delete(res);
		v->rc = CLI_EXIT_FAIL;
		memset(&v->e, 0, sizeof(v->e));
		snprintf(v->e.msg, sizeof(v->e.msg), "POST /admin/digest "
		    "answered without \"Digest\" and \"Ranges\"");
		return;
	}
	v->holds = 1;
	if (v->list_range >= 0) {
		v->keys = res;
		return;
	}
	v->dig = res;
	/* Its secondary indexes against a rebuild from its items. */
	req = cJSON_CreateObject();
	if (req == NULL)
		return;
	cJSON_AddStringToObject(req, "TableName", v->table);
	res = NULL;
	if (cli_admin(v->o, v->r, "/admin/index-check", 1, req, &res,
	    &v->e) == CLI_EXIT_OK)
		v->ixchk = res;
	cJSON_Delete(req);
	/* The replica list, to notice a replica that lacks the table. */
	req = cJSON_CreateObject();
	if (req == NULL)
		return;
	cJSON_AddStringToObject(req, "TableName", v->table);
	res = NULL;
	if (cli_ddb(v->o, v->r, "DescribeTable", req, &res, &v->e) ==
	    CLI_EXIT_OK) {
		v->desc = cJSON_DetachItemFromObjectCaseSensitive(res, "Table");
		cJSON_Delete(res);
	}
	cJSON_Delete(req);
}

static const cJSON *range_of(const cJSON *dig, int i)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(dig, "Ranges"))
		if ((int)cli_json_num(x, "Range", -1) == i)
			return x;
	return NULL;
}

/* One key as seen by one region, for sorting. */
typedef struct kent {
	char *key;              /* canonical JSON of the key (owned) */
	const cJSON *keyobj;    /* borrowed from the listing */
	size_t reg;             /* index into the holders */
	const char *digest;     /* borrowed */
} kent;

static int kent_cmp(const void *a, const void *b)
{
	const kent *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->reg < y->reg ? -1 : x->reg > y->reg;
}

typedef struct vout {
	cJSON *tdoc;            /* this table's JSON result */
	gt_buf text;            /* human output of the differences */
	size_t printed;         /* keys printed so far */
	size_t ndiff_keys;
} vout;

static void names_text(gt_buf *b, vreg *const *h, const int *in,
    size_t nh, int want)
{
	int first = 1;

	for (size_t i = 0; i < nh; i++) {
		if (in[i] != want)
			continue;
		gt_buf_printf(b, "%s%s", first ? "" : ", ", h[i]->r->name);
		first = 0;
	}
}

/*
 * Diffs the key listings of range `range` from the holders (lists[i] is
 * holder i's answer, or NULL when it failed).  Appends the range's JSON to
 * ranges and text to out->text.
 */
static void diff_range(vreg *const *h, size_t nh, cJSON *const *lists,
    int range, const cJSON *rinfo, cJSON *ranges, vout *out)
{
	kent *ke = NULL;
	size_t nk = 0, cap = 0, ndiff = 0;
	cJSON *rj = cJSON_CreateObject(), *kj;
	gt_buf lines = GT_BUF_INIT;

	if (rj == NULL)
		return;
	cJSON_AddNumberToObject(rj, "Range", range);
	cJSON_AddNumberToObject(rj, "HashLo", cli_json_num(rinfo, "HashLo",
	    0));
	cJSON_AddNumberToObject(rj, "HashHi", cli_json_num(rinfo, "HashHi",
	    0));
	kj = cJSON_AddArrayToObject(rj, "Keys");
	for (size_t i = 0; i < nh; i++) {
		const cJSON *k, *ks = NULL;
		const cJSON *rr = range_of(lists[i], range);
		if (rr != NULL)
			ks = cJSON_GetObjectItemCaseSensitive(rr, "Keys");
		cJSON_ArrayForEach(k, ks) {
			const cJSON *key = cJSON_GetObjectItemCaseSensitive(k,
			    "Key");
			char *s = cJSON_PrintUnformatted(key);
			if (s == NULL)
				continue;
			if (nk == cap) {
				size_t nc = cap ? cap * 2 : 256;
				kent *x = realloc(ke, nc * sizeof(*x));
				if (x == NULL) {
					cJSON_free(s);
					break;
				}
				ke = x;
				cap = nc;
			}
			ke[nk].key = s;
			ke[nk].keyobj = key;
			ke[nk].reg = i;
			ke[nk].digest = cli_json_str(k, "Digest");
			nk++;
		}
	}
	if (nk > 1)
		qsort(ke, nk, sizeof(*ke), kent_cmp);
	for (size_t a = 0; a < nk;) {
		size_t b = a;
		int in[CLI_REGIONS_MAX] = {0};
		const char *dg[CLI_REGIONS_MAX] = {0};
		size_t present = 0;
		int same = 1;
		while (b < nk && strcmp(ke[a].key, ke[b].key) == 0) {
			if (!in[ke[b].reg])
				present++;
			in[ke[b].reg] = 1;
			dg[ke[b].reg] = ke[b].digest;
			if (ke[b].digest == NULL || ke[a].digest == NULL ||
			    strcmp(ke[b].digest, ke[a].digest) != 0)
				same = 0;
			b++;
		}
		if (present != nh || !same) {
			cJSON *e = cJSON_CreateObject(), *pi, *mi, *ds;
			ndiff++;
			if (e != NULL) {
				cJSON_AddItemToObject(e, "Key", cJSON_Duplicate(
				    ke[a].keyobj, 1));
				pi = cJSON_AddArrayToObject(e, "PresentIn");
				mi = cJSON_AddArrayToObject(e, "MissingIn");
				ds = cJSON_AddObjectToObject(e, "Digests");
				for (size_t i = 0; i < nh; i++) {
					cJSON_AddItemToArray(in[i] ? pi : mi,
					    cJSON_CreateString(h[i]->r->name));
					if (in[i] && dg[i] != NULL)
						cJSON_AddStringToObject(ds,
						    h[i]->r->name, dg[i]);
				}
				cJSON_AddItemToArray(kj, e);
			}
			if (out->printed < VERIFY_KEYS_PRINTED) {
				out->printed++;
				gt_buf_printf(&lines, "      %s: ", ke[a].key);
				if (present != nh) {
					gt_buf_puts(&lines, "only in ");
					names_text(&lines, h, in, nh, 1);
					gt_buf_puts(&lines, "; missing in ");
					names_text(&lines, h, in, nh, 0);
				}
				if (present > 1 && !same) {
					int done[CLI_REGIONS_MAX] = {0};
					gt_buf_puts(&lines, present != nh ?
					    "; and " : "");
					const char *sep = " ";
					gt_buf_puts(&lines,
					    "different versions:");
					for (size_t i = 0; i < nh; i++) {
						int first = 1;
						if (!in[i] || done[i])
							continue;
						gt_buf_puts(&lines, sep);
						sep = "; ";
						for (size_t j = i; j < nh;
						    j++) {
							if (!in[j] || done[j]
							    || strcmp(dg[j] ?
							    dg[j] : "", dg[i] ?
							    dg[i] : "") != 0)
								continue;
							done[j] = 1;
							gt_buf_printf(&lines,
							    "%s%s", first ?
							    "" : ", ",
							    h[j]->r->name);
							first = 0;
						}
						gt_buf_printf(&lines,
						    " %.8s", dg[i] ? dg[i] :
						    "?");
					}
				}
				gt_buf_putc(&lines, '\n');
			}
		}
		a = b;
	}
	out->ndiff_keys += ndiff;
	gt_buf_printf(&out->text, "    range %d/%d (partition hash "
	    "0x%08llx-0x%08llx): ", range, VERIFY_RANGES,
	    (unsigned long long)cli_json_num(rinfo, "HashLo", 0),
	    (unsigned long long)cli_json_num(rinfo, "HashHi", 0));
	if (ndiff == 0)
		gt_buf_puts(&out->text, "the range digests differ but its "
		    "keys now match (writes in flight?)\n");
	else
		gt_buf_printf(&out->text, "%zu key%s differ%s\n", ndiff,
		    ndiff == 1 ? "" : "s", ndiff == 1 ? "s" : "");
	if (lines.len > 0)
		gt_buf_append(&out->text, lines.data, lines.len);
	gt_buf_free(&lines);
	cJSON_AddItemToArray(ranges, rj);
	for (size_t i = 0; i < nk; i++)
		cJSON_free(ke[i].key);
	free(ke);
}

/* Verifies one table; returns its exit code and appends to docs. */
static int verify_table(const cli_opts *o, cli_cluster *c, const char *t,
    int named, cJSON *tables_doc)
{
	vreg v[CLI_REGIONS_MAX];
	vreg *h[CLI_REGIONS_MAX];
	size_t nh = 0, nmissing = 0;
	const char *missing[CLI_REGIONS_MAX];
	cJSON *td, *regs, *ranges, *un, *mj;
	vout out;
	int rc = CLI_EXIT_OK, equal = 1, any_unreachable = 0;
	double items0 = -1;

	memset(v, 0, sizeof(v));
	memset(&out, 0, sizeof(out));
	for (size_t i = 0; i < c->n; i++) {
		v[i].o = o;
		v[i].r = &c->r[i];
		v[i].table = t;
		v[i].list_range = -1;
	}
	cli_parallel(c->n, v, sizeof(v[0]), vreg_digest);
	td = cJSON_CreateObject();
	cJSON_AddItemToArray(tables_doc, td);
	cJSON_AddStringToObject(td, "TableName", t);
	regs = cJSON_AddArrayToObject(td, "Regions");
	mj = cJSON_AddArrayToObject(td, "Missing");
	un = cJSON_AddArrayToObject(td, "Unreachable");
	ranges = cJSON_AddArrayToObject(td, "Ranges");
	for (size_t i = 0; i < c->n; i++) {
		if (v[i].rc == CLI_EXIT_UNREACHABLE) {
			cli_report_unreachable(v[i].r);
			cJSON_AddItemToArray(un, cJSON_CreateString(
			    v[i].r->name));
			any_unreachable = 1;
		} else if (v[i].rc != CLI_EXIT_OK) {
			cli_report(v[i].r, "digest of %s: %s", t, v[i].e.msg);
			rc = cli_exit_worse(rc, CLI_EXIT_FAIL);
		} else if (v[i].holds) {
			cJSON *e = cJSON_CreateObject();
			h[nh++] = &v[i];
			cJSON_AddStringToObject(e, "Region", v[i].r->name);
			cJSON_AddNumberToObject(e, "Items", cli_json_num(
			    v[i].dig, "Items", 0));
			cJSON_AddStringToObject(e, "Digest", cli_json_str(
			    v[i].dig, "Digest"));
			if (v[i].ixchk != NULL)
				cJSON_AddItemToObject(e, "IndexCheck",
				    cJSON_Duplicate(v[i].ixchk, 1));
			cJSON_AddItemToArray(regs, e);
		}
	}
	/* Regions the replica list names as ACTIVE but that lack it. */
	for (size_t i = 0; i < c->n; i++) {
		int listed = 0;
		if (v[i].rc != CLI_EXIT_OK || v[i].holds)
			continue;
		for (size_t k = 0; k < nh && !listed; k++) {
			const cJSON *rep;
			const cJSON *reps = cJSON_GetObjectItemCaseSensitive(
			    h[k]->desc, "Replicas");
			cJSON_ArrayForEach(rep, reps) {
				const char *rn = cli_json_str(rep,
				    "RegionName");
				const char *rs = cli_json_str(rep,
				    "ReplicaStatus");
				if (rn != NULL && rs != NULL &&
				    strcmp(rn, v[i].r->name) == 0 &&
				    strcmp(rs, "ACTIVE") == 0)
					listed = 1;
			}
		}
		if (listed) {
			missing[nmissing++] = v[i].r->name;
			cJSON_AddItemToArray(mj, cJSON_CreateString(
			    v[i].r->name));
		}
	}
	if (nh == 0) {
		cJSON_AddBoolToObject(td, "Equal", 0);
		if (!any_unreachable && rc == CLI_EXIT_OK) {
			if (named || !o->quiet)
				cli_errorf("table %s does not exist in any "
				    "region", t);
			rc = CLI_EXIT_FAIL;
		}
		goto out;
	}
	for (size_t k = 1; k < nh; k++)
		if (strcmp(cli_json_str(h[k]->dig, "Digest"),
		    cli_json_str(h[0]->dig, "Digest")) != 0)
			equal = 0;
	items0 = cli_json_num(h[0]->dig, "Items", 0);
	if (!equal) {
		/* The ranges that differ, then their key listings. */
		for (int r = 0; r < VERIFY_RANGES; r++) {
			vreg lv[CLI_REGIONS_MAX];
			vreg *lh[CLI_REGIONS_MAX];
			cJSON *lists[CLI_REGIONS_MAX];
			const cJSON *r0 = range_of(h[0]->dig, r);
			size_t nl;
			int differs = 0;
			for (size_t k = 1; k < nh; k++) {
				const cJSON *rk = range_of(h[k]->dig, r);
				const char *a = cli_json_str(r0, "Digest");
				const char *b = cli_json_str(rk, "Digest");
				if (a == NULL || b == NULL || strcmp(a, b) != 0)
					differs = 1;
			}
			if (!differs)
				continue;
			memset(lv, 0, sizeof(lv));
			for (size_t k = 0; k < nh; k++) {
				lv[k].o = o;
				lv[k].r = h[k]->r;
				lv[k].table = t;
				lv[k].list_range = r;
			}
			cli_parallel(nh, lv, sizeof(lv[0]), vreg_digest);
			/* Only regions whose listing arrived take part, so
			 * that a failed listing does not read as missing
			 * keys. */
			nl = 0;
			for (size_t k = 0; k < nh; k++) {
				if (lv[k].rc == CLI_EXIT_OK && lv[k].holds) {
					lh[nl] = h[k];
					lists[nl++] = lv[k].keys;
				} else if (lv[k].rc == CLI_EXIT_UNREACHABLE) {
					cli_report_unreachable(lv[k].r);
					any_unreachable = 1;
				} else {
					cli_report(lv[k].r, "key listing of "
					    "%s: %s", t, lv[k].rc ==
					    CLI_EXIT_OK ? "the table is gone" :
					    lv[k].e.msg);
					rc = cli_exit_worse(rc, CLI_EXIT_FAIL);
				}
			}
			diff_range(lh, nl, lists, r, r0, ranges, &out);
			for (size_t k = 0; k < nh; k++)
				cJSON_Delete(lv[k].keys);
		}
	}
	if (nmissing > 0)
		equal = 0;
	for (size_t k = 0; k < nh; k++) {
		double miss = cli_json_num(h[k]->ixchk, "Missing", 0);
		double extra = cli_json_num(h[k]->ixchk, "Extra", 0);
		if (miss == 0 && extra == 0)
			continue;
		equal = 0;
		gt_buf_printf(&out.text, "    indexes in %s: %.0f entr%s "
		    "missing, %.0f extra (a rebuild from its items differs)\n",
		    h[k]->r->name, miss, miss == 1 ? "y" : "ies", extra);
	}
	cJSON_AddBoolToObject(td, "Equal", equal);
	if (!equal)
		rc = cli_exit_worse(rc, CLI_EXIT_FAIL);
	if (o->json || o->quiet)
		goto out;
	if (equal) {
		printf("%s: equal in %zu region%s (%.0f item%s)\n", t, nh,
		    nh == 1 ? "" : "s", items0, items0 == 1 ? "" : "s");
		goto out;
	}
	printf("%s: DIFFERENT in %zu region%s (", t, nh, nh == 1 ? "" : "s");
	for (size_t k = 0; k < nh; k++)
		printf("%s%s: %.0f items", k ? ", " : "", h[k]->r->name,
		    cli_json_num(h[k]->dig, "Items", 0));
	printf(")\n");
	for (size_t k = 0; k < nmissing; k++)
		printf("    missing in %s (an ACTIVE replica of the table)\n",
		    missing[k]);
	if (out.text.len > 0)
		fwrite(out.text.data, 1, out.text.len, stdout);
	if (out.ndiff_keys > out.printed)
		printf("    ... and %zu more differing keys (--json lists "
		    "them all)\n", out.ndiff_keys - out.printed);
out:
	if (any_unreachable)
		rc = CLI_EXIT_UNREACHABLE;
	for (size_t i = 0; i < c->n; i++) {
		cJSON_Delete(v[i].dig);
		cJSON_Delete(v[i].desc);
		cJSON_Delete(v[i].keys);
		cJSON_Delete(v[i].ixchk);
	}
	gt_buf_free(&out.text);
	return rc;
}

typedef struct lt_job {
	const cli_opts *o;
	cli_region *r;
	int rc;
	cli_apierr e;
	cJSON *names;
} lt_job;

static void lt_run(void *arg)
{
	lt_job *j = arg;
	j->rc = cli_list_tables(j->o, j->r, &j->names, &j->e);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cli_cmd_verify(cli_opts *o, int argc, char **argv)
{
	cli_cluster c;
	const char **tables = NULL;
	size_t nt = 0;
	lt_job lj[CLI_REGIONS_MAX];
	cJSON *doc = NULL, *tdoc;
	int rc = CLI_EXIT_OK, named, i = 0, all_equal = 1;

	memset(lj, 0, sizeof(lj));
	tables = calloc((size_t)argc + 1, sizeof(*tables));
	if (tables == NULL)
		return CLI_EXIT_FAIL;
	while (i < argc) {
		int g;
		if (cli_is_help(argv[i])) {
			fputs(verify_help, stdout);
			free(tables);
			return CLI_EXIT_OK;
		}
		g = cli_global_opt(o, argc, argv, &i);
		if (g < 0) {
			free(tables);
			return CLI_EXIT_USAGE;
		}
		if (g > 0)
			continue;
		if (argv[i][0] == '-') {
			free(tables);
			return cli_usage_error("verify", "unknown option '%s'",
			    argv[i]);
		}
		if (strlen(argv[i]) < 3 || strlen(argv[i]) > 255) {
			free(tables);
			return cli_usage_error("verify", "'%s' is not a table "
			    "name (3 to 255 characters)", argv[i]);
		}
		tables[nt++] = argv[i++];
	}
	named = nt > 0;
	rc = cli_cluster_open(o, &c);
	if (rc != CLI_EXIT_OK) {
		free(tables);
		return rc;
	}
	if (!named) {
		/* Every table of every region. */
		size_t cap = 0;
		for (size_t k = 0; k < c.n; k++) {
			lj[k].o = o;
			lj[k].r = &c.r[k];
		}
		cli_parallel(c.n, lj, sizeof(lj[0]), lt_run);
		free(tables);
		tables = NULL;
		for (size_t k = 0; k < c.n; k++) {
			const cJSON *x;
			if (lj[k].rc == CLI_EXIT_UNREACHABLE) {
				cli_report_unreachable(lj[k].r);
				rc = cli_exit_worse(rc, CLI_EXIT_UNREACHABLE);
				continue;
			}
			if (lj[k].rc != CLI_EXIT_OK) {
				cli_report_apierr(lj[k].r, &lj[k].e);
				rc = cli_exit_worse(rc, CLI_EXIT_FAIL);
				continue;
			}
			cJSON_ArrayForEach(x, lj[k].names) {
				if (nt == cap) {
					size_t ncap = cap ? cap * 2 : 64;
					const char **p;
					if (ncap > VERIFY_TABLES_MAX)
						break;
					p = realloc(tables, ncap *
					    sizeof(*p));
					if (p == NULL)
						break;
					tables = p;
					cap = ncap;
				}
				tables[nt++] = x->valuestring;
			}
		}
		if (nt > 1)
			qsort(tables, nt, sizeof(*tables), str_cmp);
		{
			size_t w = 0;
			for (size_t k = 0; k < nt; k++)
				if (w == 0 || strcmp(tables[w - 1], tables[k]))
					tables[w++] = tables[k];
			nt = w;
		}
	}
	doc = cJSON_CreateObject();
	tdoc = cJSON_AddArrayToObject(doc, "Tables");
	for (size_t k = 0; k < nt; k++) {
		int trc = verify_table(o, &c, tables[k], named, tdoc);
		if (trc != CLI_EXIT_OK)
			all_equal = 0;
		rc = cli_exit_worse(rc, trc);
	}
	if (nt == 0 && !o->json && !o->quiet)
		printf("No tables.\n");
	cJSON_AddBoolToObject(doc, "Equal", all_equal && rc == CLI_EXIT_OK);
	if (o->json)
		cli_json_print(doc);
	cJSON_Delete(doc);
	free(tables);
	for (size_t k = 0; k < c.n; k++)
		cJSON_Delete(lj[k].names);
	cli_cluster_free(&c);
	return rc;
}
