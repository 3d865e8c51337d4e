/*
 * drill_cluster.c — the cluster a drill runs against, and the actions it
 * takes on it.
 *
 * Spawned mode (the default) builds a private copy of the scenario's
 * cluster:
 *   1. Every region of the source config gets two free loopback ports
 *      (bind 127.0.0.1:0, read the port, and keep all the sockets open
 *      until every port is picked, so no port is handed out twice).
 *   2. The generated config keeps the source's node options (cluster key,
 *      durability, links, ...) and replaces "regions" with those ports;
 *      "global_tables" is on when the table starts in every region.  It is
 *      written as OUT/cluster.json, so the run can be repeated by hand.
 *   3. One `region-node --config OUT/cluster.json --region R --data
 *      TMP/R` per region, stdout and stderr to OUT/logs/R.log.  Children
 *      get PR_SET_PDEATHSIG so that they die with the drill even if it is
 *      killed; a restart reuses the same ports and data.
 * Attach mode uses the running cluster of --config and never starts or
 * kills processes.
 *
 * Links: link_now mirrors what the nodes were told, link_base is the
 * baseline read at the start (config links plus the scenario's "links")
 * that "heal" restores.  A node that restarts has lost what it was told
 * at runtime, so its inbound links and faults are sent again.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "drill.h"

#define NODE_START_TIMEOUT_MS 20000u
#define NODE_STOP_GRACE_MS 5000u
#define TABLE_WAIT_MS 60000u

int drill_region_index(const drill *d, const char *name)
{
	for (size_t i = 0; i < d->nreg; i++)
		if (strcmp(d->reg[i].name, name) == 0)
			return (int)i;
	return -1;
}

int drill_pathf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

uint64_t drill_now_ns(const drill *d)
{
	uint64_t now = gt_mono_ns();

	return now > d->t0_ns ? now - d->t0_ns : 0;
}

/* ---------------------------------------------------------------- files */

static int read_json_file(const char *path, cJSON **out, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	gt_buf b = GT_BUF_INIT;
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
	    b.len < CLI_CONFIG_MAX)
		gt_buf_append(&b, chunk, n);
	fclose(f);
	if (b.len >= CLI_CONFIG_MAX || !gt_buf_ok(&b)) {
		gt_buf_free(&b);
		snprintf(err, errlen, "%s: too large", path);
		return -1;
	}
	*out = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
	gt_buf_free(&b);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		snprintf(err, errlen, "%s: not a JSON object", path);
		return -1;
	}
	return 0;
}

static int write_text_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : -1;
}

/* Picks n distinct free loopback ports. */
static int free_ports(uint16_t *ports, size_t n)
{
	int fds[2 * CLI_REGIONS_MAX];
	size_t k;
	int rc = 0;

	for (k = 0; k < n; k++) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);

		fds[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[k] < 0) {
			rc = -1;
			break;
		}
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fds[k], (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fds[k], (struct sockaddr *)&a, &len) != 0) {
			close(fds[k]);
			rc = -1;
			break;
		}
		ports[k] = ntohs(a.sin_port);
	}
	for (size_t i = 0; i < k; i++)
		close(fds[i]);
	return rc;
}

/* The region-node binary: $MERIDIAN_NODE, else next to this program,
 * else bin/region-node. */
static void find_node_bin(drill *d)
{
	const char *env = getenv("MERIDIAN_NODE");
	char self[DRILL_PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(d->node_bin, sizeof(d->node_bin), "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (snprintf(d->node_bin, sizeof(d->node_bin),
			    "%s/region-node", self) < (int)sizeof(d->node_bin)
			    && access(d->node_bin, X_OK) == 0)
				return;
		}
	}
	snprintf(d->node_bin, sizeof(d->node_bin), "bin/region-node");
}

/* Copies the last lines of a log file into buf (for start-up failures). */
static void log_tail(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	long size, from;
	size_t n;
	char *p;

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		size = ftell(f);
		from = size > (long)len - 1 ? size - (long)len + 1 : 0;
		if (fseek(f, from, SEEK_SET) == 0) {
			n = fread(buf, 1, len - 1, f);
			buf[n] = '\0';
		}
	}
	fclose(f);
	/* Keep whole lines only. */
	p = strchr(buf, '\n');
	if (p != NULL && p[1] != '\0' && strlen(buf) >= len - 2)
		memmove(buf, p + 1, strlen(p + 1) + 1);
}

/* ------------------------------------------------------------ processes */

int drill_node_start(drill *d, size_t i, char *err, size_t errlen)
{
	drill_region *r = &d->reg[i];
	cli_resp rs = CLI_RESP_INIT;
	char *argv[10];
	pid_t parent = getpid(), pid;
	uint64_t deadline;
	int status;

	argv[0] = d->node_bin;
	argv[1] = (char *)(uintptr_t)"--config";
	argv[2] = d->config_path;
	argv[3] = (char *)(uintptr_t)"--region";
	argv[4] = r->name;
	argv[5] = (char *)(uintptr_t)"--data";
	argv[6] = r->data_dir;
	argv[7] = NULL;
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until exec. */
		int fd;
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			(void)dup2(fd, 0);
			if (fd > 2)
				(void)close(fd);
		}
		fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
			if (fd > 2)
				(void)close(fd);
		}
		closefrom(3);
		execv(d->node_bin, argv);
		_exit(127);
	}
	r->pid = pid;
	r->alive = 1;
	deadline = cli_now_ms() + NODE_START_TIMEOUT_MS;
	for (;;) {
		cli_opts ho = d->ctl_opts;
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			char tail[600];
			r->alive = 0;
			r->pid = 0;
			log_tail(r->log_path, tail, sizeof(tail));
			snprintf(err, errlen, "region-node for %s exited during "
			    "start-up (%s %d); log %s: %s", r->name,
			    WIFEXITED(status) ? "status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status), r->log_path, tail);
			return -1;
		}
		ho.request_timeout_ms = 1000;
		if (cli_http(&ho, d->cluster.r[i].api, "GET", "/health", NULL,
		    NULL, &rs) == 0 && rs.status == 200) {
			cli_resp_free(&rs);
			d->cluster.r[i].dead = 0;
			d->cluster.r[i].unreachable = 0;
			return 0;
		}
		cli_resp_free(&rs);
		if (cli_now_ms() > deadline) {
			(void)drill_node_kill(d, i);
			snprintf(err, errlen, "region-node for %s did not answer "
			    "/health within %u s (log %s)", r->name,
			    NODE_START_TIMEOUT_MS / 1000, r->log_path);
			return -1;
		}
		cli_sleep_ms(25);
	}
}

int drill_node_kill(drill *d, size_t i)
{
	drill_region *r = &d->reg[i];
	int status;

	if (!r->alive || r->pid <= 0)
		return -1;
	(void)kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	r->alive = 0;
	r->pid = 0;
	return 0;
}

void drill_nodes_stop(drill *d)
{
	uint64_t deadline = cli_now_ms() + NODE_STOP_GRACE_MS;
	int left;

	for (size_t i = 0; i < d->nreg; i++)
		if (d->reg[i].alive && d->reg[i].pid > 0)
			(void)kill(d->reg[i].pid, SIGTERM);
	do {
		left = 0;
		for (size_t i = 0; i < d->nreg; i++) {
			drill_region *r = &d->reg[i];
			int status;
			if (!r->alive || r->pid <= 0)
				continue;
			if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
				r->alive = 0;
				r->pid = 0;
			} else {
				left++;
			}
		}
		if (left > 0)
			cli_sleep_ms(20);
	} while (left > 0 && cli_now_ms() < deadline);
	for (size_t i = 0; i < d->nreg; i++) {
		if (drill_node_kill(d, i) == 0 && !d->o->quiet)
			cli_errorf("warning: region-node for %s did not stop "
			    "within %u s of SIGTERM and was killed (log %s)",
			    d->reg[i].name, NODE_STOP_GRACE_MS / 1000,
			    d->reg[i].log_path);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

void drill_cluster_cleanup(drill *d)
{
	if (d->attach || d->keep_data || d->data_dir[0] == '\0')
		return;
	(void)nftw(d->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --------------------------------------------------------------- spawn */

/* Reads the region names of a cluster config. */
static int config_regions(const cJSON *doc, drill *d, char *err,
    size_t errlen)
{
	const cJSON *regions = cJSON_GetObjectItemCaseSensitive(doc,
	    "regions"), *e;

	if (!cJSON_IsArray(regions) || cJSON_GetArraySize(regions) < 1) {
		snprintf(err, errlen, "%s: no \"regions\" list (a drill needs "
		    "a cluster config)", d->source_config);
		return -1;
	}
	d->nreg = 0;
	cJSON_ArrayForEach(e, regions) {
		const char *name = cli_json_str(e, "region");
		if (name == NULL || name[0] == '\0' ||
		    strlen(name) >= CLI_NAME_MAX) {
			snprintf(err, errlen, "%s: a region entry has no "
			    "usable \"region\" name", d->source_config);
			return -1;
		}
		if (d->nreg == CLI_REGIONS_MAX) {
			snprintf(err, errlen, "%s: more than %d regions",
			    d->source_config, CLI_REGIONS_MAX);
			return -1;
		}
		if (drill_region_index(d, name) >= 0) {
			snprintf(err, errlen, "%s: region %s is listed twice",
			    d->source_config, name);
			return -1;
		}
		memset(&d->reg[d->nreg], 0, sizeof(d->reg[0]));
		snprintf(d->reg[d->nreg].name, CLI_NAME_MAX, "%s", name);
		d->nreg++;
	}
	return 0;
}

/* 1 when the table starts in every region of the cluster. */
static int table_everywhere(const drill *d)
{
	return d->sc->nreplicas == 0 || d->sc->nreplicas == d->nreg;
}

int drill_cluster_spawn(drill *d)
{
	static const char *const node_only[] = {"regions", "region", "host",
	    "port", "port_file", "data", "join", "global_tables"};
	uint16_t ports[2 * CLI_REGIONS_MAX];
	cJSON *doc = NULL, *regs;
	char err[1200] = "", path[DRILL_PATH_MAX + 32];
	char *text = NULL;
	cli_opts lo;
	int rc = CLI_EXIT_FAIL;

	find_node_bin(d);
	if (access(d->node_bin, X_OK) != 0) {
		cli_errorf("region-node binary not found: %s (build it with "
		    "'make', or set MERIDIAN_NODE)", d->node_bin);
		return CLI_EXIT_FAIL;
	}
	if (read_json_file(d->source_config, &doc, err, sizeof(err)) != 0 ||
	    config_regions(doc, d, err, sizeof(err)) != 0) {
		cli_errorf("%s", err);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (free_ports(ports, 2 * d->nreg) != 0) {
		cli_errorf("cannot find free ports on 127.0.0.1: %s",
		    strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < GT_ARRAY_LEN(node_only); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(doc, node_only[i]);
	cJSON_AddBoolToObject(doc, "global_tables", table_everywhere(d));
	regs = cJSON_AddArrayToObject(doc, "regions");
	for (size_t i = 0; i < d->nreg; i++) {
		drill_region *r = &d->reg[i];
		cJSON *e = cJSON_CreateObject();
		char url[64];

		r->api_port = ports[2 * i];
		r->repl_port = ports[2 * i + 1];
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", r->repl_port);
		cJSON_AddStringToObject(e, "region", r->name);
		cJSON_AddStringToObject(e, "host", "127.0.0.1");
		cJSON_AddNumberToObject(e, "port", r->api_port);
		cJSON_AddStringToObject(e, "replication", url);
		cJSON_AddItemToArray(regs, e);
		if (drill_pathf(r->data_dir, sizeof(r->data_dir), "%s/%s",
		    d->data_dir, r->name) != 0 || drill_pathf(r->log_path,
		    sizeof(r->log_path), "%s/logs/%s.log", d->out_dir,
		    r->name) != 0) {
			cli_errorf("%s: path too long", d->out_dir);
			goto out;
		}
	}
	text = cJSON_Print(doc);
	(void)drill_pathf(d->config_path, sizeof(d->config_path),
	    "%s/cluster.json", d->out_dir);
	(void)drill_pathf(path, sizeof(path), "%s/logs", d->out_dir);
	if (text == NULL || (mkdir(path, 0755) != 0 && errno != EEXIST) ||
	    write_text_file(d->config_path, text) != 0) {
		cli_errorf("cannot write %s: %s", d->config_path,
		    strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < d->nreg; i++)
		if (mkdir(d->reg[i].data_dir, 0755) != 0 && errno != EEXIST) {
			cli_errorf("cannot create %s: %s", d->reg[i].data_dir,
			    strerror(errno));
			goto out;
		}
	lo = *d->o;
	lo.config_path = d->config_path;
	if (cli_cluster_load(&lo, &d->cluster) != CLI_EXIT_OK)
		goto out;
	if (d->cluster.n != d->nreg) {
		cli_errorf("%s: unexpected region list", d->config_path);
		goto out;
	}
	for (size_t i = 0; i < d->nreg; i++) {
		if (drill_node_start(d, i, err, sizeof(err)) != 0) {
			cli_errorf("%s", err);
			goto out;
		}
	}
	rc = CLI_EXIT_OK;
out:
	cJSON_free(text);
	cJSON_Delete(doc);
	return rc;
}

int drill_cluster_attach(drill *d)
{
	int rc;

	snprintf(d->config_path, sizeof(d->config_path), "%s",
	    d->o->config_path);
	rc = cli_cluster_open(d->o, &d->cluster);
	if (rc != CLI_EXIT_OK)
		return rc;
	d->nreg = d->cluster.n;
	for (size_t i = 0; i < d->nreg; i++) {
		memset(&d->reg[i], 0, sizeof(d->reg[i]));
		snprintf(d->reg[i].name, CLI_NAME_MAX, "%s",
		    d->cluster.r[i].name);
		d->reg[i].alive = 1;
		if (d->cluster.r[i].dead || d->cluster.r[i].api[0] == '\0') {
			cli_report_unreachable(&d->cluster.r[i]);
			rc = CLI_EXIT_UNREACHABLE;
		}
	}
	return rc;
}

/* --------------------------------------------------------------- table */

/* 1 when DescribeTable in region i says the table is ACTIVE. */
static int table_active_in(drill *d, size_t i)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	cli_apierr e;
	const char *st;
	int ok = 0;

	cJSON_AddStringToObject(req, "TableName", d->table);
	if (cli_ddb(&d->ctl_opts, &d->cluster.r[i], "DescribeTable", req,
	    &res, &e) == CLI_EXIT_OK) {
		st = cli_json_str(cJSON_GetObjectItemCaseSensitive(res,
		    "Table"), "TableStatus");
		ok = st != NULL && strcmp(st, "ACTIVE") == 0;
	}
	cJSON_Delete(res);
	cJSON_Delete(req);
	return ok;
}

static int wait_active(drill *d, size_t i, unsigned timeout_ms)
{
	uint64_t deadline = cli_now_ms() + timeout_ms;

	while (!table_active_in(d, i)) {
		if (cli_now_ms() > deadline || atomic_load(&d->interrupted))
			return -1;
		cli_sleep_ms(50);
	}
	return 0;
}

int drill_table_create(drill *d)
{
	drill_scenario *sc = d->sc;
	size_t first;
	cJSON *req, *ad, *ks, *x, *res = NULL;
	cli_apierr e;
	int rc;

	if (d->attach)
		snprintf(d->table, sizeof(d->table), "%s-%llu", sc->table,
		    (unsigned long long)(gt_wall_ms() / 1000));
	else
		snprintf(d->table, sizeof(d->table), "%s", sc->table);
	for (size_t i = 0; i < d->nreg; i++)
		d->reg[i].holds = sc->nreplicas == 0;
	for (size_t k = 0; k < sc->nreplicas; k++)
		d->reg[drill_region_index(d, sc->replicas[k])].holds = 1;
	first = (size_t)(sc->nreplicas ? drill_region_index(d,
	    sc->replicas[0]) : 0);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "TableName", d->table);
	ad = cJSON_AddArrayToObject(req, "AttributeDefinitions");
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "AttributeName", "pk");
	cJSON_AddStringToObject(x, "AttributeType", "S");
	cJSON_AddItemToArray(ad, x);
	ks = cJSON_AddArrayToObject(req, "KeySchema");
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "AttributeName", "pk");
	cJSON_AddStringToObject(x, "KeyType", "HASH");
	cJSON_AddItemToArray(ks, x);
	cJSON_AddStringToObject(req, "BillingMode", "PAY_PER_REQUEST");
	rc = cli_ddb(&d->ctl_opts, &d->cluster.r[first], "CreateTable", req,
	    &res, &e);
	cJSON_Delete(req);
	cJSON_Delete(res);
	if (rc == CLI_EXIT_UNREACHABLE) {
		cli_report_unreachable(&d->cluster.r[first]);
		return rc;
	}
	if (rc != CLI_EXIT_OK) {
		cli_report_apierr(&d->cluster.r[first], &e);
		return rc;
	}
	if (wait_active(d, first, TABLE_WAIT_MS) != 0) {
		cli_report(&d->cluster.r[first], "table %s did not become "
		    "ACTIVE", d->table);
		return CLI_EXIT_FAIL;
	}
	for (size_t i = 0; i < d->nreg; i++) {
		char err[CLI_ERR_MAX];
		uint64_t deadline;
		int done = 0;

		if (i == first || !d->reg[i].holds)
			continue;
		/* A global table appears by itself; otherwise add it. */
		if ((table_everywhere(d) && !d->attach) ||
		    wait_active(d, i, d->attach ? 2000 : 0) == 0) {
			if (wait_active(d, i, TABLE_WAIT_MS) != 0) {
				cli_report(&d->cluster.r[i], "table %s did not "
				    "become ACTIVE", d->table);
				return CLI_EXIT_FAIL;
			}
			continue;
		}
		if (drill_replica_change(d, first, i, 1, err,
		    sizeof(err)) != 0) {
			cli_report(&d->cluster.r[first], "adding a replica in "
			    "%s: %s", d->reg[i].name, err);
			return CLI_EXIT_FAIL;
		}
		deadline = cli_now_ms() + TABLE_WAIT_MS;
		while ((done = drill_replica_done(d, first, i, 1)) == 0 &&
		    cli_now_ms() < deadline && !atomic_load(&d->interrupted))
			cli_sleep_ms(50);
		if (done != 1 || wait_active(d, i, TABLE_WAIT_MS) != 0) {
			cli_report(&d->cluster.r[i], "the replica of %s did "
			    "not become ACTIVE", d->table);
			return CLI_EXIT_FAIL;
		}
	}
	return CLI_EXIT_OK;
}

/* --------------------------------------------------------------- links */

static int link_eq(const drill_link *a, const drill_link *b)
{
	return a->delay_ms == b->delay_ms && a->jitter_ms == b->jitter_ms &&
	    a->bandwidth_kbps == b->bandwidth_kbps &&
	    a->loss_pct == b->loss_pct && a->partition == b->partition;
}

/* Makes the answer of a failed admin call one line. */
static int admin_err(int rc, const cli_region *r, const cli_apierr *e,
    char *err, size_t errlen)
{
	if (rc == CLI_EXIT_UNREACHABLE)
		snprintf(err, errlen, "%s is unreachable: %s", r->name,
		    r->err);
	else if (e->type[0] != '\0')
		snprintf(err, errlen, "%s: %s: %s", r->name, e->type, e->msg);
	else
		snprintf(err, errlen, "%s: HTTP %ld: %s", r->name, e->status,
		    e->msg);
	return -1;
}

int drill_link_apply(drill *d, size_t from, size_t to, const drill_link *l,
    char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	cli_apierr e;
	int rc;

	cJSON_AddStringToObject(req, "From", d->reg[from].name);
	cJSON_AddStringToObject(req, "To", d->reg[to].name);
	cJSON_AddNumberToObject(req, "DelayMs", l->delay_ms);
	cJSON_AddNumberToObject(req, "JitterMs", l->jitter_ms);
	cJSON_AddNumberToObject(req, "LossPct", l->loss_pct);
	cJSON_AddNumberToObject(req, "BandwidthKbps", l->bandwidth_kbps);
	cJSON_AddBoolToObject(req, "Partition", l->partition);
	rc = cli_admin(&d->ctl_opts, &d->cluster.r[to], "/admin/link", 1, req,
	    &res, &e);
	cJSON_Delete(req);
	cJSON_Delete(res);
	/* What the drill meant holds even when the node was down: a restart
	 * sends it again. */
	d->link_now[from][to] = *l;
	d->link_touched[from][to] = 1;
	if (rc != CLI_EXIT_OK)
		return admin_err(rc, &d->cluster.r[to], &e, err, errlen);
	return 0;
}

int drill_links_init(drill *d)
{
	int rc = CLI_EXIT_OK;

	memset(d->link_now, 0, sizeof(d->link_now));
	for (size_t i = 0; i < d->nreg; i++) {
		cJSON *res = NULL;
		const cJSON *l;
		cli_apierr e;

		if (cli_admin(&d->ctl_opts, &d->cluster.r[i], "/admin/links", 0,
		    NULL, &res, &e) != CLI_EXIT_OK)
			continue;
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res,
		    "Links")) {
			const char *f = cli_json_str(l, "From");
			int fi = f != NULL ? drill_region_index(d, f) : -1;
			drill_link *x;
			if (fi < 0 || (size_t)fi == i)
				continue;
			x = &d->link_now[fi][i];
			x->delay_ms = (unsigned)cli_json_num(l, "DelayMs", 0);
			x->jitter_ms = (unsigned)cli_json_num(l, "JitterMs", 0);
			x->loss_pct = cli_json_num(l, "LossPct", 0);
			x->bandwidth_kbps = (unsigned)cli_json_num(l,
			    "BandwidthKbps", 0);
			x->partition = cJSON_IsTrue(
			    cJSON_GetObjectItemCaseSensitive(l, "Partition"));
		}
		cJSON_Delete(res);
	}
	for (size_t k = 0; k < d->sc->nlinks; k++) {
		const drill_named_link *nl = &d->sc->links[k];
		char err[CLI_ERR_MAX];
		int f = drill_region_index(d, nl->from);
		int t = drill_region_index(d, nl->to);

		if (drill_link_apply(d, (size_t)f, (size_t)t, &nl->l, err,
		    sizeof(err)) != 0) {
			cli_errorf("baseline link %s -> %s: %s", nl->from,
			    nl->to, err);
			rc = CLI_EXIT_FAIL;
		}
	}
	memcpy(d->link_base, d->link_now, sizeof(d->link_base));
	memset(d->link_touched, 0, sizeof(d->link_touched));
	return rc;
}

int drill_links_heal(drill *d, char *err, size_t errlen)
{
	int failures = 0;

	err[0] = '\0';
	for (size_t f = 0; f < d->nreg; f++)
		for (size_t t = 0; t < d->nreg; t++) {
			char e1[CLI_ERR_MAX];
			if (f == t || (!d->link_touched[f][t] &&
			    link_eq(&d->link_now[f][t], &d->link_base[f][t])))
				continue;
			if (!d->reg[t].alive) {
				/* Restored when it restarts. */
				d->link_now[f][t] = d->link_base[f][t];
				continue;
			}
			if (drill_link_apply(d, f, t, &d->link_base[f][t], e1,
			    sizeof(e1)) != 0) {
				if (failures++ == 0)
					snprintf(err, errlen, "%s", e1);
			} else {
				d->link_touched[f][t] = 0;
			}
		}
	return failures;
}

int drill_fault_apply(drill *d, size_t i, const long *skew_ms,
    const double *fail_rate, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	cli_apierr e;
	int rc;

	if (skew_ms != NULL) {
		cJSON_AddNumberToObject(req, "ClockSkewMs", (double)*skew_ms);
		d->reg[i].skew_ms = *skew_ms;
		if (*skew_ms > d->skew_max_ms)
			d->skew_max_ms = *skew_ms;
		if (*skew_ms < d->skew_min_ms)
			d->skew_min_ms = *skew_ms;
	}
	if (fail_rate != NULL) {
		cJSON_AddNumberToObject(req, "FailRate", *fail_rate);
		d->reg[i].fail_rate = *fail_rate;
	}
	d->reg[i].faults_touched = 1;
	rc = cli_admin(&d->ctl_opts, &d->cluster.r[i], "/admin/fault", 1, req,
	    &res, &e);
	cJSON_Delete(req);
	cJSON_Delete(res);
	if (rc != CLI_EXIT_OK)
		return admin_err(rc, &d->cluster.r[i], &e, err, errlen);
	return 0;
}

int drill_pause_apply(drill *d, size_t i, unsigned duration_ms, char *err,
    size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	cli_apierr e;
	int rc;

	cJSON_AddStringToObject(req, "TableName", d->table);
	cJSON_AddNumberToObject(req, "DurationMs", duration_ms);
	rc = cli_admin(&d->ctl_opts, &d->cluster.r[i], "/admin/pause", 1, req,
	    &res, &e);
	cJSON_Delete(req);
	cJSON_Delete(res);
	d->reg[i].paused = duration_ms > 0;
	if (rc != CLI_EXIT_OK)
		return admin_err(rc, &d->cluster.r[i], &e, err, errlen);
	return 0;
}

void drill_region_reapply(drill *d, size_t i)
{
	char err[CLI_ERR_MAX];

	for (size_t f = 0; f < d->nreg; f++)
		if (f != i && (d->link_touched[f][i] ||
		    !link_eq(&d->link_now[f][i], &d->link_base[f][i]) ||
		    d->sc->nlinks > 0))
			(void)drill_link_apply(d, f, i, &d->link_now[f][i], err,
			    sizeof(err));
	if (d->reg[i].skew_ms != 0 || d->reg[i].fail_rate > 0) {
		long s = d->reg[i].skew_ms;
		double fr = d->reg[i].fail_rate;
		(void)drill_fault_apply(d, i, &s, &fr, err, sizeof(err));
	}
}

/* ------------------------------------------------------------- replicas */

int drill_replica_change(drill *d, size_t via, size_t target, int add,
    char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL, *ups, *u, *x;
	cli_apierr e;
	int rc;

	cJSON_AddStringToObject(req, "TableName", d->table);
	ups = cJSON_AddArrayToObject(req, "ReplicaUpdates");
	u = cJSON_CreateObject();
	x = cJSON_AddObjectToObject(u, add ? "Create" : "Delete");
	cJSON_AddStringToObject(x, "RegionName", d->reg[target].name);
	cJSON_AddItemToArray(ups, u);
	rc = cli_ddb(&d->ctl_opts, &d->cluster.r[via], "UpdateTable", req,
	    &res, &e);
	cJSON_Delete(req);
	cJSON_Delete(res);
	if (rc != CLI_EXIT_OK)
		return admin_err(rc, &d->cluster.r[via], &e, err, errlen);
	return 0;
}

int drill_replica_done(drill *d, size_t via, size_t target, int add)
{
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	const cJSON *rep;
	cli_apierr e;
	int rc, found = 0, active = 0;

	cJSON_AddStringToObject(req, "TableName", d->table);
	rc = cli_ddb(&d->ctl_opts, &d->cluster.r[via], "DescribeTable", req,
	    &res, &e);
	cJSON_Delete(req);
	if (rc != CLI_EXIT_OK) {
		cJSON_Delete(res);
		return rc == CLI_EXIT_UNREACHABLE ? 0 : -1;
	}
	cJSON_ArrayForEach(rep, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(res, "Table"), "Replicas")) {
		const char *n = cli_json_str(rep, "RegionName");
		const char *s = cli_json_str(rep, "ReplicaStatus");
		if (n == NULL || strcmp(n, d->reg[target].name) != 0)
			continue;
		found = 1;
		active = s != NULL && strcmp(s, "ACTIVE") == 0;
	}
	cJSON_Delete(res);
	return add ? active : !found;
}

/* ---------------------------------------------------------- convergence */

typedef struct dig_job {
	const cli_opts *o;
	cli_region r;            /* a copy: jobs run in parallel */
	const char *table;
	int rc;
	int holds;
	char digest[80];
	double items;
	int busy;                /* a replica is still being created */
	char active[CLI_REGIONS_MAX][CLI_NAME_MAX];
	size_t nactive;
} dig_job;

static void dig_run(void *arg)
{
	dig_job *j = arg;
	cJSON *req = cJSON_CreateObject(), *res = NULL;
	const cJSON *rep;
	cli_apierr e;

	cJSON_AddStringToObject(req, "TableName", j->table);
	j->rc = cli_admin(j->o, &j->r, "/admin/digest", 1, req, &res, &e);
	if (j->rc == CLI_EXIT_FAIL && e.status == 404) {
		j->rc = CLI_EXIT_OK;
		j->holds = 0;
		goto out;
	}
	if (j->rc != CLI_EXIT_OK || cli_json_str(res, "Digest") == NULL) {
		if (j->rc == CLI_EXIT_OK)
			j->rc = CLI_EXIT_FAIL;
		goto out;
	}
	j->holds = 1;
	snprintf(j->digest, sizeof(j->digest), "%s", cli_json_str(res,
	    "Digest"));
	j->items = cli_json_num(res, "Items", 0);
	cJSON_Delete(res);
	res = NULL;
	if (cli_ddb(j->o, &j->r, "DescribeTable", req, &res, &e) !=
	    CLI_EXIT_OK)
		goto out;
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "Table");
		const char *ts = cli_json_str(t, "TableStatus");
		if (ts != NULL && strcmp(ts, "ACTIVE") != 0)
			j->busy = 1;
		cJSON_ArrayForEach(rep, cJSON_GetObjectItemCaseSensitive(t,
		    "Replicas")) {
			const char *n = cli_json_str(rep, "RegionName");
			const char *s = cli_json_str(rep, "ReplicaStatus");
			if (n == NULL || s == NULL)
				continue;
			if (strcmp(s, "ACTIVE") != 0)
				j->busy = 1;
			else if (j->nactive < CLI_REGIONS_MAX)
				snprintf(j->active[j->nactive++],
				    CLI_NAME_MAX, "%s", n);
		}
	}
out:
	cJSON_Delete(res);
	cJSON_Delete(req);
}

int drill_wait_converged(drill *d, unsigned timeout_ms)
{
	uint64_t deadline = cli_now_ms() + timeout_ms;
	dig_job jobs[CLI_REGIONS_MAX];
	cli_opts qo = d->ctl_opts;

	qo.request_timeout_ms = 5000;
	for (;;) {
		size_t n = 0, nh = 0, first = 0;
		int ok = 1;

		for (size_t i = 0; i < d->nreg; i++) {
			if (!d->reg[i].alive)
				continue;
			memset(&jobs[n], 0, sizeof(jobs[n]));
			jobs[n].o = &qo;
			jobs[n].r = d->cluster.r[i];
			jobs[n].r.dead = 0;
			jobs[n].table = d->table;
			n++;
		}
		cli_parallel(n, jobs, sizeof(jobs[0]), dig_run);
		for (size_t k = 0; k < n; k++) {
			if (jobs[k].rc != CLI_EXIT_OK) {
				ok = 0;
				continue;
			}
			if (!jobs[k].holds)
				continue;
			if (nh++ == 0)
				first = k;
			else if (strcmp(jobs[k].digest, jobs[first].digest) != 0)
				ok = 0;
			if (jobs[k].busy)
				ok = 0;
			/* An ACTIVE replica must hold the table. */
			for (size_t a = 0; a < jobs[k].nactive; a++) {
				int holder = 0;
				for (size_t m = 0; m < n; m++)
					if (strcmp(jobs[m].r.name,
					    jobs[k].active[a]) == 0 &&
					    jobs[m].holds)
						holder = 1;
				if (!holder)
					ok = 0;
			}
		}
		if (nh == 0)
			ok = 0;
		if (ok) {
			d->converged = 1;
			d->nholders = nh;
			d->final_items = (size_t)jobs[first].items;
			snprintf(d->final_digest, sizeof(d->final_digest), "%s",
			    jobs[first].digest);
			for (size_t i = 0; i < d->nreg; i++)
				d->reg[i].holds = 0;
			for (size_t k = 0; k < n; k++)
				if (jobs[k].holds)
					d->reg[drill_region_index(d,
					    jobs[k].r.name)].holds = 1;
			return 1;
		}
		if (cli_now_ms() >= deadline || atomic_load(&d->interrupted)) {
			d->converged = 0;
			d->nholders = nh;
			for (size_t k = 0; k < n; k++)
				d->reg[drill_region_index(d,
				    jobs[k].r.name)].holds = jobs[k].holds;
			return 0;
		}
		cli_sleep_ms(100);
	}
}
