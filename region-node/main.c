/*
 * main.c — the region-node program: parse options, open the store, serve
 * HTTP until SIGINT/SIGTERM, then stop cleanly (every acknowledged write is
 * already committed; pending ones are committed before exit).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <stddef.h>

#include "api.h"
#include "backfill.h"
#include "cluster.h"
#include "config.h"
#include "http.h"
#include "httpc.h"
#include "index.h"
#include "repl_node.h"
#include "stream.h"
#include "ttl.h"

static void members_hook(void *arg, const topo_members *m)
{
	repl_node_set_members(arg, m);
}

/* The membership a cluster config describes: every region, epoch 1. */
static void members_from_config(const rn_config *cfg, topo_members *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i <= cfg->npeers && m->n < TOPO_REGIONS_MAX; i++) {
		topo_region r;
		topo_members next;
		memset(&r, 0, sizeof(r));
		if (i == cfg->npeers) {
			snprintf(r.name, sizeof(r.name), "%s", cfg->region);
			snprintf(r.api_url, sizeof(r.api_url), "http://%.100s:%u",
			    cfg->host, cfg->port);
			snprintf(r.repl_url, sizeof(r.repl_url), "%.127s",
			    cfg->replication);
		} else {
			snprintf(r.name, sizeof(r.name), "%s",
			    cfg->peers[i].region);
			snprintf(r.api_url, sizeof(r.api_url), "http://%.100s:%u",
			    cfg->peers[i].host, cfg->peers[i].port);
			snprintf(r.repl_url, sizeof(r.repl_url), "%.127s",
			    cfg->peers[i].replication);
		}
		if (topo_members_join(m, &r, cfg->region, &next) == GT_OK)
			*m = next;
		else
			GT_LOG(GT_LOG_WARN, "node", "event=bad_region_entry "
			    "region=%s", r.name);
	}
	/* The same value at every region for the same file: epoch 1, made
	 * by the first region by name. */
	if (m->n > 0) {
		m->epoch = 1;
		memset(m->changed_by, 0, sizeof(m->changed_by));
		memcpy(m->changed_by, m->r[0].name, strlen(m->r[0].name));
	}
}

/* Asks a running member to add this region; returns the membership. */
static gt_err join_cluster(const rn_config *cfg, topo_members *m)
{
	gt_buf body = GT_BUF_INIT, resp = GT_BUF_INIT;
	char url[300], api[128], why[256] = "";
	long status = 0;
	gt_err err;

	snprintf(url, sizeof(url), "%s/admin/cluster/join", cfg->join);
	snprintf(api, sizeof(api), "http://%.100s:%u", cfg->host, cfg->port);
	gt_buf_puts(&body, "{\"Region\":");
	gt_buf_json_str(&body, cfg->region, strlen(cfg->region));
	gt_buf_puts(&body, ",\"Api\":");
	gt_buf_json_str(&body, api, strlen(api));
	gt_buf_puts(&body, ",\"Replication\":");
	gt_buf_json_str(&body, cfg->replication, strlen(cfg->replication));
	gt_buf_putc(&body, '}');
	err = gt_httpc_request("POST", url, body.data, body.len, 10000,
	    1u << 20, &status, &resp, why, sizeof(why));
	if (err == GT_OK && status != 200) {
		snprintf(why, sizeof(why), "HTTP %ld: %.200s", status,
		    resp.data ? resp.data : "");
		err = GT_EIO;
	}
	if (err == GT_OK)
		err = topo_members_parse(resp.data, resp.len, m);
	if (err != GT_OK)
		fprintf(stderr, "region-node: cannot join through %s: %s\n",
		    cfg->join, why[0] ? why : gt_strerror(err));
	gt_buf_free(&body);
	gt_buf_free(&resp);
	return err;
}

/* What the HTTP layer's extensions need. */
typedef struct node_ext {
	repl_node *repl;
	rn_backfiller *backfill;
	const char *region;
} node_ext;

static void ext_metrics(void *arg, gt_buf *out)
{
	node_ext *x = arg;
	repl_node_metrics(x->repl, out);
	rn_backfiller_metrics(x->backfill, out);
}

static void ext_replication(void *arg, gt_buf *out)
{
	node_ext *x = arg;
	repl_node_status_json(x->repl, out);
}

/* Reads a link's settings from JSON (the admin API's and the config's
 * shape); missing members keep l's values.  Returns NULL or a reason. */
static const char *link_parse(const cJSON *o, repl_link *l)
{
	static const struct {
		const char *name;
		size_t off;
		double max, scale;
	} f[] = {
	    {"DelayMs", offsetof(repl_link, delay_ms), 600000, 1},
	    {"JitterMs", offsetof(repl_link, jitter_ms), 600000, 1},
	    {"LossPct", offsetof(repl_link, loss_ppm), 100, 10000},
	    {"BandwidthKbps", offsetof(repl_link, bandwidth_kbps), 1e9, 1},
	};
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "Partition");

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f[i].name);
		if (v == NULL)
			continue;
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
		    v->valuedouble > f[i].max)
			return f[i].name;
		*(uint32_t *)(void *)((char *)l + f[i].off) =
		    (uint32_t)(v->valuedouble * f[i].scale + 0.5);
	}
	if (p != NULL) {
		if (!cJSON_IsBool(p))
			return "Partition";
		l->partition = cJSON_IsTrue(p);
	}
	return NULL;
}

static int ext_link_set(void *arg, const cJSON *req, gt_buf *out)
{
	node_ext *x = arg;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(req, "From");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "To");
	const char *bad;
	repl_link l;

	memset(&l, 0, sizeof(l));
	if (!cJSON_IsString(from)) {
		gt_buf_puts(out, "{\"error\":\"From (the source region) is "
		    "required\"}");
		return 400;
	}
	if (cJSON_IsString(to) && strcmp(to->valuestring, x->region) != 0) {
		gt_buf_printf(out, "{\"error\":\"this node is %s; send the "
		    "link to the To region's node\"}", x->region);
		return 400;
	}
	bad = link_parse(req, &l);
	if (bad != NULL) {
		gt_buf_printf(out, "{\"error\":\"%s is out of range\"}", bad);
		return 400;
	}
	if (repl_node_link_set(x->repl, from->valuestring, &l) != GT_OK) {
		gt_buf_puts(out, "{\"error\":\"not a peer of this region\"}");
		return 404;
	}
	repl_node_links_json(x->repl, out);
	return 200;
}

static void ext_links_json(void *arg, gt_buf *out)
{
	node_ext *x = arg;
	repl_node_links_json(x->repl, out);
}

static void rewind_hook(void *arg) { repl_node_rewind(arg); }

static void kick_hook(void *arg) { rn_backfiller_kick(arg); }

/* Starts replication with the other members of m. */
static gt_err start_replication(rn_node *node, const rn_config *cfg,
    const topo_members *m, repl_node **out)
{
	repl_node_peer peers[RN_PEERS_MAX];
	repl_node_cfg rc;
	size_t np = 0;

	memset(&rc, 0, sizeof(rc));
	for (uint32_t i = 0; i < m->n && np < RN_PEERS_MAX; i++) {
		if (strcmp(m->r[i].name, cfg->region) == 0)
			continue;
		snprintf(peers[np].region, sizeof(peers[np].region), "%s",
		    m->r[i].name);
		snprintf(peers[np].url, sizeof(peers[np].url), "%s",
		    m->r[i].repl_url);
		np++;
	}
	rc.listen_url = cfg->replication;
	rc.key = (const uint8_t *)cfg->cluster_key;
	rc.key_len = strlen(cfg->cluster_key);
	rc.peers = peers;
	rc.npeers = np;
	rc.wait_ms = cfg->repl_wait_ms;
	rc.max_bytes = cfg->repl_batch_kb * 1024u;
	rc.log_keep_max = cfg->log_keep_max;
	return repl_node_start(node, &rc, out);
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[RN_PATH_MAX + 8];
	FILE *f;

	/* Write then rename, so a reader never sees a half-written file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	rn_config cfg;
	rn_node node;
	rn_http *http = NULL;
	repl_node *repl = NULL;
	rn_index_worker *ixw = NULL;
	rn_stream_keeper *keeper = NULL;
	rn_ttl *ttl = NULL;
	node_ext ext_state = {NULL, NULL, NULL};
	rn_store_opts so;
	struct sigaction sa;
	sigset_t set;
	char err[512];
	int help = 0;
	gt_err e;

	if (rn_config_parse(argc, (const char *const *)argv, &cfg, &help, err,
	    sizeof(err)) !=
	    GT_OK) {
		fprintf(stderr, "region-node: %s\n", err);
		return 2;
	}
	if (help) {
		rn_config_usage(stdout);
		return 0;
	}
	(void)gt_log_level_parse(cfg.log_level, &gt_log_min);
	if (gt_httpc_global_init() != GT_OK) {
		fprintf(stderr, "region-node: cannot initialise libcurl\n");
		return 1;
	}

	memset(&so, 0, sizeof(so));
	so.path = cfg.data;
	so.durability = rn_config_durability(&cfg);
	so.map_size_bytes = (size_t)cfg.map_size_mb * 1024u * 1024u;
	so.batch_max = cfg.batch_max;
	e = rn_node_open(&node, cfg.region, &so);
	if (e != GT_OK) {
		fprintf(stderr, "region-node: cannot open %s: %s\n", cfg.data,
		    gt_strerror(e));
		return 1;
	}
	node.global_tables = cfg.global_tables != 0;
	node.streams.retention_s = cfg.stream_retention_s;
	node.streams.iterator_ttl_s = cfg.stream_iterator_ttl_s;
	if (cfg.replication[0] != '\0') {
		topo_members initial, m;

		members_from_config(&cfg, &initial);
		e = GT_OK;
		if (cfg.join[0] != '\0')
			e = join_cluster(&cfg, &initial);
		if (e == GT_OK)
			e = rn_cluster_open(&node, &initial);
		if (e != GT_OK) {
			rn_node_close(&node);
			return 1;
		}
		rn_cluster_get(&node, &m);
		e = start_replication(&node, &cfg, &m, &repl);
		if (e != GT_OK) {
			fprintf(stderr, "region-node: cannot start replication "
			    "on %s: %s%s\n", cfg.replication, gt_strerror(e),
			    cfg.cluster_key[0] ? "" : " (cluster_key is not "
			    "set)");
			rn_node_close(&node);
			return 1;
		}
	}
	e = rn_index_worker_start(&node, &ixw);
	if (e != GT_OK) {
		fprintf(stderr, "region-node: cannot start the index worker: "
		    "%s\n", gt_strerror(e));
		repl_node_stop(repl);
		rn_node_close(&node);
		return 1;
	}
	e = rn_http_start(&node, cfg.host, (uint16_t)cfg.port, &http);
	if (e != GT_OK) {
		fprintf(stderr, "region-node: cannot listen on %s:%u: %s\n",
		    cfg.host, cfg.port, gt_strerror(e));
		rn_index_worker_stop(ixw);
		repl_node_stop(repl);
		rn_node_close(&node);
		return 1;
	}
	snprintf(node.api_url, sizeof(node.api_url), "http://%.100s:%u",
	    cfg.host, rn_http_port(http));
	if (repl != NULL) {
		rn_http_ext ext = {ext_metrics, ext_replication, ext_link_set,
		    ext_links_json, &ext_state};
		ext_state.repl = repl;
		ext_state.region = node.region;
		if (rn_backfiller_start(&node, rewind_hook, repl,
		    &ext_state.backfill) != GT_OK) {
			fprintf(stderr, "region-node: cannot start the backfill "
			    "worker\n");
			rn_http_stop(http);
			rn_index_worker_stop(ixw);
			repl_node_stop(repl);
			rn_node_close(&node);
			return 1;
		}
		for (size_t i = 0; i < cfg.nlinks; i++) {
			const rn_link_cfg *lc = &cfg.links[i];
			repl_link l = {lc->delay_ms, lc->jitter_ms, lc->loss_ppm,
			    lc->bandwidth_kbps, lc->partition};
			if (strcmp(lc->to, cfg.region) == 0 &&
			    repl_node_link_set(repl, lc->from, &l) != GT_OK)
				GT_LOG(GT_LOG_WARN, "node", "event=link_ignored "
				    "from=%s reason=\"not a peer\"", lc->from);
		}
		node.backfill_kick = kick_hook;
		node.backfill_arg = ext_state.backfill;
		rn_http_set_ext(http, &ext);
		rn_cluster_set_hook(&node, members_hook, repl);
	}
	/* A node without a replicator has nothing else truncating its log:
	 * the streams keeper trims it to what streams need. */
	if (rn_stream_keeper_start(&node, repl == NULL, &keeper) != GT_OK)
		GT_LOG(GT_LOG_WARN, "node", "event=streams_keeper_failed");
	{
		rn_ttl_opts to = {cfg.ttl_sweep_interval_ms,
		    cfg.ttl_takeover_s};
		if (rn_ttl_start(&node, &to, &ttl) != GT_OK)
			GT_LOG(GT_LOG_ERROR, "node", "event=ttl_start_failed");
	}
	GT_LOG(GT_LOG_INFO, "node", "event=listening region=%s "
	    "url=http://%s:%u data=%s durability=%s", node.region, cfg.host,
	    rn_http_port(http), cfg.data, cfg.durability);
	if (cfg.port_file[0] && write_port_file(cfg.port_file,
	    rn_http_port(http)) != 0)
		GT_LOG(GT_LOG_WARN, "node", "event=port_file_failed path=%s",
		    cfg.port_file);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	while (!stop_signal)
		sigsuspend(&set);

	GT_LOG(GT_LOG_INFO, "node", "event=stopping signal=%d",
	    (int)stop_signal);
	rn_http_stop(http);
	rn_stream_keeper_stop(keeper);
	rn_ttl_stop(ttl);
	rn_cluster_set_hook(&node, NULL, NULL);
	rn_backfiller_stop(ext_state.backfill);
	node.backfill_kick = NULL;
	rn_index_worker_stop(ixw);
	repl_node_stop(repl);
	rn_node_close(&node);
	GT_LOG(GT_LOG_INFO, "node", "event=stopped");
	return 0;
}
