/*
 * test_store.c — the LMDB store (group commit, sequence numbers, reopen),
 * change and item records, item-key encoding, the catalog and config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "changelog.h"
#include "config.h"
#include "store.h"
#include "table.h"

/* ----------------------------------------------------------- helpers */

static char *tmpdir_make(void)
{
	char *d = strdup("/tmp/meridian-test-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void tmpdir_remove(char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

static rn_store *store_open_at(const char *dir, rn_durability d)
{
	rn_store_opts o = {dir, d, 64u << 20, 64};
	rn_store *s = NULL;
	assert_int_equal(rn_store_open(&o, &s), GT_OK);
	return s;
}

/* A write that puts key -> value in meta and appends a log record. */
typedef struct kv_write {
	rn_write w;
	char key[32];
	uint64_t seq;
	gt_err done_err;
	int done;
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
} kv_write;

static gt_err kv_put(rn_store *s, MDB_txn *txn, kv_write *kw)
{
	MDB_val k = {strlen(kw->key), kw->key}, v = {3, (void *)(uintptr_t)"val"};
	uint8_t sb[8];
	int rc;

	rc = mdb_put(txn, rn_store_dbs(s)->meta, &k, &v, 0);
	if (rc != MDB_SUCCESS)
		return rn_mdb_err(rc);
	kw->seq = rn_store_seq_next(s);
	gt_put_u64be(sb, kw->seq);
	k.mv_size = 8;
	k.mv_data = sb;
	rc = mdb_put(txn, rn_store_dbs(s)->log, &k, &v, MDB_APPEND);
	return rn_mdb_err(rc);
}

/* Queued writes embed the rn_write; synchronous ones pass arg. */
static gt_err kv_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	return kv_put(s, txn, (kv_write *)w);
}

static gt_err kv_sync_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	return kv_put(s, txn, w->arg);
}

static void kv_done(rn_write *w, gt_err err)
{
	kv_write *kw = (kv_write *)w;
	pthread_mutex_lock(kw->mu);
	kw->done_err = err;
	kw->done = 1;
	pthread_cond_broadcast(kw->cv);
	pthread_mutex_unlock(kw->mu);
}

/* ------------------------------------------------------------- store */

static void test_store_group_commit_and_reopen(void **state)
{
	enum { N = 500 };
	char *dir = tmpdir_make();
	rn_store *s = store_open_at(dir, RN_DURABILITY_NOSYNC);
	static kv_write ws[N];
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	rn_store_stats st;
	MDB_txn *txn;
	int seen[N + 1];

	(void)state;
	(void)kv_sync_fn;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N; i++) {
		memset(&ws[i], 0, sizeof(ws[i]));
		snprintf(ws[i].key, sizeof(ws[i].key), "k%04d", i);
		ws[i].w.fn = kv_fn;
		ws[i].w.done = kv_done;
		ws[i].mu = &mu;
		ws[i].cv = &cv;
		assert_int_equal(rn_store_submit(s, &ws[i].w), GT_OK);
	}
	pthread_mutex_lock(&mu);
	for (int i = 0; i < N; i++)
		while (!ws[i].done)
			pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ws[i].done_err, GT_OK);
		assert_true(ws[i].seq >= 1 && ws[i].seq <= N);
		assert_int_equal(seen[ws[i].seq], 0); /* every seq once */
		seen[ws[i].seq] = 1;
	}
	rn_store_stats_get(s, &st);
	assert_int_equal(st.writes, N);
	assert_int_equal(st.last_seq, N);
	/* Queued writes share commits: fewer commits than writes. */
	assert_true(st.commits >= (N + 63) / 64);
	assert_true(st.commits <= N);
	rn_store_close(s);

	/* Reopen: data and the sequence counter survive. */
	s = store_open_at(dir, RN_DURABILITY_SYNC);
	assert_int_equal(rn_store_seq_committed(s), N);
	assert_int_equal(rn_store_read_begin(s, &txn), GT_OK);
	{
		MDB_val k = {5, (void *)(uintptr_t)"k0123"}, v;
		assert_int_equal(mdb_get(txn, rn_store_dbs(s)->meta, &k, &v),
		    MDB_SUCCESS);
		assert_int_equal(v.mv_size, 3);
		assert_memory_equal(v.mv_data, "val", 3);
	}
	rn_store_read_end(txn);
	rn_store_close(s);
	tmpdir_remove(dir);
}

static gt_err failing_fn(rn_store *s, MDB_txn *txn, rn_write *w)
{
	(void)txn;
	(void)w;
	(void)rn_store_seq_next(s);
	return GT_EIO;
}

static void test_store_abort_rolls_back_seq(void **state)
{
	char *dir = tmpdir_make();
	rn_store *s = store_open_at(dir, RN_DURABILITY_NOSYNC);

	(void)state;
	assert_int_equal(rn_store_write_sync(s, failing_fn, NULL), GT_EIO);
	assert_int_equal(rn_store_seq_committed(s), 0);
	{
		kv_write kw;
		memset(&kw, 0, sizeof(kw));
		snprintf(kw.key, sizeof(kw.key), "after");
		assert_int_equal(rn_store_write_sync(s, kv_sync_fn, &kw), GT_OK);
	}
	/* The aborted write's number was not consumed. */
	assert_int_equal(rn_store_seq_committed(s), 1);
	rn_store_close(s);
	tmpdir_remove(dir);
}

static void test_store_bad_path(void **state)
{
	rn_store_opts o = {"/proc/definitely/not/here", RN_DURABILITY_SYNC,
	    1u << 20, 8};
	rn_store *s = NULL;
	(void)state;
	assert_int_equal(rn_store_open(&o, &s), GT_EIO);
	assert_null(s);
}

/* ------------------------------------------------------------ records */

static void test_logrec_roundtrip_and_corruption(void **state)
{
	rn_logrec r, d;
	gt_buf b = GT_BUF_INIT;
	uint8_t meta[3] = {1, 2, 3};

	(void)state;
	memset(&r, 0, sizeof(r));
	r.op = RN_LOG_PUT;
	r.flags = RN_LOG_F_REPLICATED;
	r.hlc = 0x123456789abcULL;
	r.origin_seq = 42;
	r.table_id = 7;
	r.origin = "eu-west-1";
	r.origin_len = 9;
	r.table = "Music";
	r.table_len = 5;
	r.key = "{\"a\":{\"S\":\"x\"}}";
	r.key_len = strlen(r.key);
	r.new_img = "{\"a\":{\"S\":\"x\"},\"b\":{\"N\":\"1\"}}";
	r.new_len = strlen(r.new_img);
	r.meta = meta;
	r.meta_len = 3;
	rn_logrec_encode(&r, &b);
	assert_true(gt_buf_ok(&b));
	assert_int_equal(rn_logrec_decode((uint8_t *)b.data, b.len, &d), GT_OK);
	assert_int_equal(d.op, RN_LOG_PUT);
	assert_int_equal(d.flags, RN_LOG_F_REPLICATED);
	assert_int_equal(d.hlc, r.hlc);
	assert_int_equal(d.origin_seq, 42);
	assert_int_equal(d.table_id, 7);
	assert_int_equal(d.origin_len, 9);
	assert_memory_equal(d.origin, "eu-west-1", 9);
	assert_int_equal(d.old_len, 0);
	assert_int_equal(d.new_len, r.new_len);
	assert_memory_equal(d.new_img, r.new_img, r.new_len);
	assert_int_equal(d.meta_len, 3);
	/* Every truncation and a trailing byte are rejected. */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(rn_logrec_decode((uint8_t *)b.data, n, &d),
		    GT_ECORRUPT);
	gt_buf_putc(&b, 'x');
	assert_int_equal(rn_logrec_decode((uint8_t *)b.data, b.len, &d),
	    GT_ECORRUPT);
	gt_buf_free(&b);
}

static void test_itemrec_roundtrip(void **state)
{
	rn_itemrec r = {RN_ITEM_F_TOMBSTONE, (const uint8_t *)"mm", 2, NULL, 0},
	    d;
	gt_buf b = GT_BUF_INIT;

	(void)state;
	rn_itemrec_encode(&r, &b);
	assert_int_equal(rn_itemrec_decode((uint8_t *)b.data, b.len, &d), GT_OK);
	assert_int_equal(d.flags, RN_ITEM_F_TOMBSTONE);
	assert_int_equal(d.meta_len, 2);
	assert_int_equal(d.body_len, 0);
	assert_int_equal(rn_itemrec_decode((uint8_t *)b.data, 3, &d),
	    GT_ECORRUPT);
	gt_buf_free(&b);
}

/* ------------------------------------------------------------- tables */

static rn_table *table_make(const char *json)
{
	cJSON *desc = cJSON_Parse(json);
	rn_table *t = NULL;
	assert_non_null(desc);
	assert_int_equal(rn_table_from_json(desc, &t), GT_OK);
	return t;
}

static const char desc_hash_range[] =
    "{\"Id\":3,\"TableName\":\"Events\",\"CreationDateTime\":1,"
    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
    "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
    "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\","
    "\"AttributeType\":\"N\"}]}";

static void encode_key(const rn_table *t, const char *json, gt_buf *out)
{
	cJSON *o = cJSON_Parse(json);
	char msg[RN_MSG_MAX];
	assert_non_null(o);
	gt_buf_reset(out);
	assert_int_equal(rn_table_key_encode(t, o, 1, out, msg), GT_OK);
	cJSON_Delete(o);
}

static void test_table_key_order_and_roundtrip(void **state)
{
	rn_table *t = table_make(desc_hash_range);
	gt_buf a = GT_BUF_INIT, b = GT_BUF_INIT;
	cJSON *back = NULL;
	char *text;

	(void)state;
	assert_int_equal(t->id, 3);
	assert_string_equal(t->hash.name, "pk");
	assert_int_equal(t->range.type, RN_AV_N);
	/* Same partition: numeric sort-key order, -10 < 2 < 10. */
	encode_key(t, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"-10\"}}", &a);
	encode_key(t, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"2\"}}", &b);
	assert_true(memcmp(a.data, b.data, GT_MIN(a.len, b.len)) < 0);
	encode_key(t, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"10\"}}", &a);
	assert_true(memcmp(b.data, a.data, GT_MIN(a.len, b.len)) < 0);
	/* Both keys share the partition prefix: id | hash | "p" 00 01. */
	assert_memory_equal(a.data, b.data, 11);
	assert_int_equal(gt_get_u32be((uint8_t *)a.data), 3);
	/* The key attributes come back out of an item. */
	{
		cJSON *it = cJSON_Parse("{\"pk\":{\"S\":\"p\"},\"x\":"
		    "{\"N\":\"1\"},\"sk\":{\"N\":\"10\"}}");
		back = rn_table_key_extract(t, it);
		text = cJSON_PrintUnformatted(back);
		assert_string_equal(text, "{\"pk\":{\"S\":\"p\"},\"sk\":"
		    "{\"N\":\"10\"}}");
		free(text);
		cJSON_Delete(back);
		cJSON_Delete(it);
	}
	gt_buf_free(&a);
	gt_buf_free(&b);
	rn_table_unref(t);
}

static const char desc_ss[] =
    "{\"Id\":4,\"TableName\":\"Long\",\"CreationDateTime\":1,"
    "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
    "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
    "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\","
    "\"AttributeType\":\"S\"}]}";

/* Keys at DynamoDB's limits fit LMDB's 511 bytes and stay distinct. */
static void test_table_long_keys(void **state)
{
	rn_table *t = table_make(desc_ss);
	static char pk[2049], sk[1025], json[4000];
	gt_buf a = GT_BUF_INIT, b = GT_BUF_INIT, c = GT_BUF_INIT;

	(void)state;
	memset(pk, 'p', 2048);
	memset(sk, 's', 1024);
	snprintf(json, sizeof(json), "{\"pk\":{\"S\":\"%s\"},\"sk\":"
	    "{\"S\":\"%s\"}}", pk, sk);
	encode_key(t, json, &a);
	assert_true(a.len <= 511);
	sk[1023] = 't'; /* differs only in its last byte */
	snprintf(json, sizeof(json), "{\"pk\":{\"S\":\"%s\"},\"sk\":"
	    "{\"S\":\"%s\"}}", pk, sk);
	encode_key(t, json, &b);
	assert_true(b.len <= 511);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.data, b.data, a.len);
	/* A short sort key in the same long partition shares its prefix. */
	snprintf(json, sizeof(json), "{\"pk\":{\"S\":\"%s\"},\"sk\":"
	    "{\"S\":\"a\"}}", pk);
	encode_key(t, json, &c);
	assert_memory_equal(a.data, c.data, 8 + 34);
	/* Sort keys differing early keep their order. */
	assert_true(memcmp(c.data, a.data, GT_MIN(a.len, c.len)) < 0);
	gt_buf_free(&a);
	gt_buf_free(&b);
	gt_buf_free(&c);
	rn_table_unref(t);
}

static void key_error(const rn_table *t, const char *json, int exact,
    const char *want)
{
	cJSON *o = cJSON_Parse(json);
	gt_buf b = GT_BUF_INIT;
	char msg[RN_MSG_MAX];
	assert_non_null(o);
	assert_int_equal(rn_table_key_encode(t, o, exact, &b, msg), GT_EINVAL);
	assert_string_equal(msg, want);
	assert_int_equal(b.len, 0);
	cJSON_Delete(o);
	gt_buf_free(&b);
}

static void test_table_key_errors(void **state)
{
	rn_table *t = table_make(desc_hash_range);
	char big[2100], json[2200];

	(void)state;
	key_error(t, "{\"pk\":{\"S\":\"p\"}}", 1,
	    "The provided key element does not match the schema");
	key_error(t, "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"x\":"
	    "{\"S\":\"y\"}}", 1,
	    "The provided key element does not match the schema");
	key_error(t, "{\"sk\":{\"N\":\"1\"}}", 0, "One or more parameter values "
	    "were invalid: Missing the key pk in the item");
	key_error(t, "{\"pk\":{\"N\":\"1\"},\"sk\":{\"N\":\"1\"}}", 0,
	    "One or more parameter values were invalid: Type mismatch for "
	    "key pk expected: S actual: N");
	memset(big, 'a', 2049);
	big[2049] = '\0';
	snprintf(json, sizeof(json), "{\"pk\":{\"S\":\"%s\"},\"sk\":{\"N\":"
	    "\"1\"}}", big);
	key_error(t, json, 0, "One or more parameter values were invalid: Size "
	    "of hashkey has exceeded the maximum size limit of2048 bytes");
	rn_table_unref(t);
}

static void test_table_names(void **state)
{
	(void)state;
	assert_true(rn_table_name_valid("abc", 3));
	assert_true(rn_table_name_valid("a.b-c_D9", 8));
	assert_false(rn_table_name_valid("ab", 2));
	assert_false(rn_table_name_valid("a b", 3));
	assert_false(rn_table_name_valid("caf\xc3\xa9", 5));
}

static void test_catalog(void **state)
{
	rn_catalog c;
	rn_table *list[4];
	const char *names[] = {"zeta", "alpha", "mid"};
	int more = 0;
	size_t n;

	(void)state;
	rn_catalog_init(&c);
	for (int i = 0; i < 3; i++) {
		char json[512];
		rn_table *t;
		snprintf(json, sizeof(json), "{\"Id\":%d,\"TableName\":\"%s\","
		    "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":"
		    "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":"
		    "\"k\",\"AttributeType\":\"B\"}]}", i + 1, names[i]);
		t = table_make(json);
		assert_int_equal(rn_catalog_put(&c, t), GT_OK);
		rn_table_unref(t);
	}
	n = rn_catalog_list(&c, NULL, list, 2, &more);
	assert_int_equal(n, 2);
	assert_true(more);
	assert_string_equal(list[0]->name, "alpha");
	assert_string_equal(list[1]->name, "mid");
	rn_table_unref(list[0]);
	rn_table_unref(list[1]);
	n = rn_catalog_list(&c, "mid", list, 4, &more);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(list[0]->name, "zeta");
	rn_table_unref(list[0]);
	rn_catalog_remove(&c, "mid");
	assert_null(rn_catalog_get(&c, "mid"));
	{
		rn_table *z = rn_catalog_get(&c, "zeta");
		assert_non_null(z);
		assert_int_equal(z->id, 1);
		rn_table_unref(z);
	}
	rn_catalog_destroy(&c);
}

/* ------------------------------------------------------------- config */

static void test_config(void **state)
{
	rn_config c;
	char err[256];
	int help = 0;
	char path[] = "/tmp/meridian-cfg-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\"region\":\"eu-west-1\",\"port\":8001,"
	    "\"durability\":\"nosync\"}", f);
	fclose(f);
	{
		const char *argv[] = {"region-node", "--config", path, "--port",
		    "9000", NULL};
		assert_int_equal(rn_config_parse(5, argv, &c, &help, err,
		    sizeof(err)), GT_OK);
		assert_string_equal(c.region, "eu-west-1");
		assert_int_equal(c.port, 9000); /* the flag wins */
		assert_string_equal(c.durability, "nosync");
		assert_string_equal(c.data, "./data/eu-west-1");
	}
	{
		const char *argv[] = {"region-node", "--durability", "maybe", NULL};
		assert_int_equal(rn_config_parse(3, argv, &c, &help, err,
		    sizeof(err)), GT_EINVAL);
		assert_non_null(strstr(err, "sync|nosync"));
	}
	{
		const char *argv[] = {"region-node", "--bogus", "1", NULL};
		assert_int_equal(rn_config_parse(3, argv, &c, &help, err,
		    sizeof(err)), GT_EINVAL);
		assert_non_null(strstr(err, "unknown option '--bogus'"));
	}
	f = fopen(path, "w");
	fputs("{\"regoin\":\"x\"}", f);
	fclose(f);
	{
		const char *argv[] = {"region-node", "--config", path, NULL};
		assert_int_equal(rn_config_parse(3, argv, &c, &help, err,
		    sizeof(err)), GT_EINVAL);
		assert_non_null(strstr(err, "unknown key 'regoin'"));
	}
	{
		const char *argv[] = {"region-node", "--port=70000", NULL};
		assert_int_equal(rn_config_parse(2, argv, &c, &help, err,
		    sizeof(err)), GT_EINVAL);
	}
	unlink(path);
}

static void test_config_cluster(void **state)
{
	rn_config c;
	char err[256];
	int help = 0;
	char path[] = "/tmp/meridian-cluster-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\"cluster_key\":\"k\",\"global_tables\":true,\"regions\":["
	    "{\"region\":\"us-east-1\",\"port\":8000,\"replication\":"
	    "\"tcp://127.0.0.1:9000\"},"
	    "{\"region\":\"eu-west-1\",\"port\":8001,\"replication\":"
	    "\"tcp://127.0.0.1:9001\"},"
	    "{\"region\":\"ap-northeast-1\",\"port\":8002,\"replication\":"
	    "\"tcp://127.0.0.1:9002\"}]}", f);
	fclose(f);
	{
		const char *argv[] = {"region-node", "--config", path,
		    "--region", "eu-west-1", NULL};
		assert_int_equal(rn_config_parse(5, argv, &c, &help, err,
		    sizeof(err)), GT_OK);
		assert_int_equal(c.port, 8001);
		assert_string_equal(c.replication, "tcp://127.0.0.1:9001");
		assert_int_equal(c.global_tables, 1);
		assert_string_equal(c.cluster_key, "k");
		assert_int_equal(c.npeers, 2);
		assert_string_equal(c.peers[0].region, "us-east-1");
		assert_string_equal(c.peers[0].replication,
		    "tcp://127.0.0.1:9000");
		assert_int_equal(c.peers[1].port, 8002);
	}
	{
		/* A flag beats the region's entry. */
		const char *argv[] = {"region-node", "--region",
		    "ap-northeast-1", "--port", "0", "--config", path, NULL};
		assert_int_equal(rn_config_parse(7, argv, &c, &help, err,
		    sizeof(err)), GT_OK);
		assert_int_equal(c.port, 0);
		assert_string_equal(c.replication, "tcp://127.0.0.1:9002");
	}
	{
		const char *argv[] = {"region-node", "--config", path,
		    "--region", "sa-east-1", NULL};
		assert_int_equal(rn_config_parse(5, argv, &c, &help, err,
		    sizeof(err)), GT_EINVAL);
		assert_non_null(strstr(err, "sa-east-1 is not in"));
	}
	f = fopen(path, "w");
	fputs("{\"regions\":[{\"region\":\"us-east-1\",\"prot\":1}]}",
	    f);
	fclose(f);
	{
		const char *argv[] = {"region-node", "--config", path, NULL};
		assert_int_equal(rn_config_parse(3, argv, &c, &help, err,
		    sizeof(err)), GT_EINVAL);
		assert_non_null(strstr(err, "unknown key 'prot'"));
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_group_commit_and_reopen),
	    cmocka_unit_test(test_store_abort_rolls_back_seq),
	    cmocka_unit_test(test_store_bad_path),
	    cmocka_unit_test(test_logrec_roundtrip_and_corruption),
	    cmocka_unit_test(test_itemrec_roundtrip),
	    cmocka_unit_test(test_table_key_order_and_roundtrip),
	    cmocka_unit_test(test_table_key_errors),
	    cmocka_unit_test(test_table_long_keys),
	    cmocka_unit_test(test_table_names),
	    cmocka_unit_test(test_catalog),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_config_cluster),
	};
	gt_log_min = GT_LOG_OFF;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
