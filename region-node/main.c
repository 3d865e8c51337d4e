/*
 * main.c — the region-node program: parse options, open the store, serve
 * HTTP until SIGINT/SIGTERM, then stop cleanly (every acknowledged write is
 * already committed; pending ones are committed before exit).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "repl_node.h"

static void ext_metrics(void *arg, gt_buf *out)
{
	repl_node_metrics(arg, out);
}

static void ext_replication(void *arg, gt_buf *out)
{
	repl_node_status_json(arg, out);
}

/* Starts replication with the peers of the cluster config. */
static gt_err start_replication(rn_node *node, const rn_config *cfg,
    repl_node **out)
{
	repl_node_peer peers[RN_PEERS_MAX];
	repl_node_cfg rc;

	memset(&rc, 0, sizeof(rc));
	for (size_t i = 0; i < cfg->npeers; i++) {
		snprintf(peers[i].region, sizeof(peers[i].region), "%s",
		    cfg->peers[i].region);
		snprintf(peers[i].url, sizeof(peers[i].url), "%s",
		    cfg->peers[i].replication);
	}
	rc.listen_url = cfg->replication;
	rc.key = (const uint8_t *)cfg->cluster_key;
	rc.key_len = strlen(cfg->cluster_key);
	rc.peers = peers;
	rc.npeers = cfg->npeers;
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
	if (cfg.replication[0] != '\0') {
		e = start_replication(&node, &cfg, &repl);
		if (e != GT_OK) {
			fprintf(stderr, "region-node: cannot start replication "
			    "on %s: %s%s\n", cfg.replication, gt_strerror(e),
			    cfg.cluster_key[0] ? "" : " (cluster_key is not "
			    "set)");
			rn_node_close(&node);
			return 1;
		}
	}
	e = rn_http_start(&node, cfg.host, (uint16_t)cfg.port, &http);
	if (e != GT_OK) {
		fprintf(stderr, "region-node: cannot listen on %s:%u: %s\n",
		    cfg.host, cfg.port, gt_strerror(e));
		repl_node_stop(repl);
		rn_node_close(&node);
		return 1;
	}
	if (repl != NULL) {
		rn_http_ext ext = {ext_metrics, ext_replication, repl};
		rn_http_set_ext(http, &ext);
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
	repl_node_stop(repl);
	rn_node_close(&node);
	GT_LOG(GT_LOG_INFO, "node", "event=stopped");
	return 0;
}
