/*
 * api_stream.c — the DynamoDB Streams API: ListStreams, DescribeStream,
 * GetShardIterator and GetRecords, served from the node's change log
 * (stream.h).  Every operation is a read: it runs on the request's thread
 * in one LMDB read transaction and completes before returning.
 *
 * GetRecords bounds its work: it looks at most RN_STREAM_SCAN_MAX log
 * records per call (records of other tables included), answers at most
 * Limit records and about 1 MB, and hands back an iterator past whatever
 * it looked at, so a reader far behind makes progress in steps of bounded
 * cost even through long runs of other tables' records.
 */
#include "api_int.h"
#include "stream.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_MAX 100
#define SHARDS_MAX 100
#define READS_MAX 16u /* GetRecords calls running at once */

/* ------------------------------------------------------------- helpers */

/* Checks a string member's length as the service's model bounds it. */
static int check_len(rn_call *c, const char *v, const char *member,
    size_t min, size_t max)
{
	size_t n = strlen(v);

	if (n < min) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at '%s' failed to satisfy "
		    "constraint: Member must have length greater than or equal "
		    "to %zu", v, member, min);
		return -1;
	}
	if (n > max) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%.64s...' at '%s' failed to "
		    "satisfy constraint: Member must have length less than or "
		    "equal to %zu", v, member, max);
		return -1;
	}
	return 0;
}

static int check_arn(rn_call *c, const char *arn, const char *member)
{
	return check_len(c, arn, member, 37, 1024);
}

/* The log's newest sequence number as txn sees it (the floor when the
 * log is empty). */
static uint64_t log_last(MDB_txn *txn, const rn_dbs *dbs)
{
	uint64_t last = rn_stream_log_floor(txn, dbs);
	MDB_cursor *cur;
	MDB_val k, v;

	if (mdb_cursor_open(txn, dbs->log, &cur) != MDB_SUCCESS)
		return last;
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == MDB_SUCCESS &&
	    k.mv_size == 8 && gt_get_u64be(k.mv_data) > last)
		last = gt_get_u64be(k.mv_data);
	mdb_cursor_close(cur);
	return last;
}

static void stream_not_found(rn_call *c, const char *arn)
{
	rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not found: "
	    "Stream: %s not found", arn);
}

/*
 * Finds the stream an ARN names in txn.  Of two streams with the same
 * table name and label (a table dropped and made again within one
 * millisecond), the newer table's wins.  Returns 0, or -1 with the
 * answer set (ValidationException, ResourceNotFoundException).
 */
static int stream_by_arn(rn_call *c, MDB_txn *txn, const char *arn,
    rn_stream *out)
{
	rn_node *n = c->node;
	rn_stream_arn_parts a;
	MDB_cursor *cur;
	MDB_val k, v;
	int found = 0, rc;

	if (rn_stream_arn_parse(arn, &a) != GT_OK) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Invalid StreamArn");
		return -1;
	}
	if (strcmp(a.region, n->region) != 0 ||
	    strcmp(a.account, n->account) != 0) {
		stream_not_found(c, arn);
		return -1;
	}
	rc = mdb_cursor_open(txn, rn_store_dbs(n->store)->streams, &cur);
	if (rc != MDB_SUCCESS) {
		rn_call_fail_err(c, rn_mdb_err(rc), "");
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_stream st;
		if (rn_stream_decode(k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size, &st) != GT_OK)
			continue;
		if (strcmp(st.table, a.table) == 0 &&
		    strcmp(st.label, a.label) == 0) {
			*out = st;
			found = 1;
		}
	}
	mdb_cursor_close(cur);
	if (!found) {
		stream_not_found(c, arn);
		return -1;
	}
	return 0;
}

/* Opens the call's read transaction, answering on failure. */
static int read_begin(rn_call *c, MDB_txn **txn)
{
	gt_err err = rn_store_read_begin(c->node->store, txn);

	if (err != GT_OK) {
		rn_call_fail_err(c, err, "");
		return -1;
	}
	return 0;
}

static void put_arn(rn_call *c, const rn_stream *st)
{
	gt_buf arn = GT_BUF_INIT;

	rn_stream_arn(c->node->region, c->node->account, st, &arn);
	if (!gt_buf_ok(&arn))
		c->resp.oom = 1;
	else
		gt_buf_json_str(&c->resp, arn.data, arn.len);
	gt_buf_free(&arn);
}

/* ---------------------------------------------------------- ListStreams */

void rn_op_list_streams(rn_call *c, cJSON *req)
{
	const rn_dbs *dbs = rn_store_dbs(c->node->store);
	const char *table = NULL, *start = NULL;
	long long limit = LIST_MAX;
	rn_stream from, last;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	gt_buf sk = GT_BUF_INIT, sv = GT_BUF_INIT;
	MDB_val k, v;
	int count = 0, more = 0, rc;

	if (rn_req_str(c, req, "TableName", "tableName", 0, &table) != 0 ||
	    (table != NULL && rn_check_table_name(c, table, "tableName") !=
	    0) ||
	    rn_req_int(c, req, "Limit", "limit", 1, INT_MAX, &limit) != 0 ||
	    rn_req_str(c, req, "ExclusiveStartStreamArn",
	    "exclusiveStartStreamArn", 0, &start) != 0 ||
	    (start != NULL && check_arn(c, start, "exclusiveStartStreamArn") !=
	    0))
		goto done;
	/* The service returns at most 100 however many are asked for. */
	if (limit > LIST_MAX)
		limit = LIST_MAX;
	if (read_begin(c, &txn) != 0)
		goto done;
	if (start != NULL && stream_by_arn(c, txn, start, &from) != 0)
		goto done;
	rc = mdb_cursor_open(txn, dbs->streams, &cur);
	if (rc != MDB_SUCCESS) {
		rn_call_fail_err(c, rn_mdb_err(rc), "");
		goto done;
	}
	if (start != NULL) {
		rn_stream_encode(&from, &sk, &sv);
		if (!gt_buf_ok(&sk)) {
			rn_call_fail_err(c, GT_ENOMEM, "");
			goto done;
		}
		k.mv_size = sk.len;
		k.mv_data = sk.data;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_SUCCESS && k.mv_size == sk.len &&
		    memcmp(k.mv_data, sk.data, sk.len) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"Streams\":[");
	for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rn_stream st;
		if (rn_stream_decode(k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size, &st) != GT_OK ||
		    (table != NULL && strcmp(st.table, table) != 0))
			continue;
		if (count == limit) {
			more = 1;
			break;
		}
		gt_buf_puts(&c->resp, count > 0 ? ",{\"StreamArn\":" :
		    "{\"StreamArn\":");
		put_arn(c, &st);
		gt_buf_puts(&c->resp, ",\"TableName\":");
		gt_buf_json_str(&c->resp, st.table, strlen(st.table));
		gt_buf_printf(&c->resp, ",\"StreamLabel\":\"%s\"}", st.label);
		last = st;
		count++;
	}
	gt_buf_putc(&c->resp, ']');
	if (more) {
		gt_buf_puts(&c->resp, ",\"LastEvaluatedStreamArn\":");
		put_arn(c, &last);
	}
	gt_buf_putc(&c->resp, '}');
	if (count == 0 && start == NULL && table != NULL) {
		rn_table *t = rn_catalog_get(&c->node->catalog, table);
		if (t == NULL)
			rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested "
			    "resource not found: Table: %s not found", table);
		rn_table_unref(t);
	}
done:
	if (cur != NULL)
		mdb_cursor_close(cur);
	rn_store_read_end(txn);
	gt_buf_free(&sk);
	gt_buf_free(&sv);
	rn_call_finish(c);
}

/* ------------------------------------------------------- DescribeStream */

void rn_op_describe_stream(rn_call *c, cJSON *req)
{
	const char *arn = NULL, *after = NULL, *ftype = NULL;
	long long limit = SHARDS_MAX;
	cJSON *filter = NULL;
	char shard[RN_STREAM_SHARD_ID_LEN + 1], sn[RN_STREAM_SEQ_LEN + 1];
	MDB_txn *txn = NULL;
	rn_stream st;
	int show;

	if (rn_req_str(c, req, "StreamArn", "streamArn", 1, &arn) != 0 ||
	    check_arn(c, arn, "streamArn") != 0 ||
	    rn_req_int(c, req, "Limit", "limit", 1, INT_MAX, &limit) != 0 ||
	    rn_req_str(c, req, "ExclusiveStartShardId",
	    "exclusiveStartShardId", 0, &after) != 0 ||
	    (after != NULL && check_len(c, after, "exclusiveStartShardId", 28,
	    65) != 0) ||
	    rn_req_obj(c, req, "ShardFilter", "shardFilter", 0, &filter) != 0)
		goto done;
	if (filter != NULL) {
		const char *fid = NULL;
		if (rn_req_str(c, filter, "Type", "shardFilter.type", 0,
		    &ftype) != 0 || rn_req_str(c, filter, "ShardId",
		    "shardFilter.shardId", 0, &fid) != 0 ||
		    (fid != NULL && check_len(c, fid, "shardFilter.shardId", 28,
		    65) != 0))
			goto done;
		if (ftype != NULL && strcmp(ftype, "CHILD_SHARDS") != 0) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value '%s' at "
			    "'shardFilter.type' failed to satisfy constraint: "
			    "Member must satisfy enum value set: "
			    "[CHILD_SHARDS]",
			    ftype);
			goto done;
		}
	}
	if (read_begin(c, &txn) != 0 || stream_by_arn(c, txn, arn, &st) != 0)
		goto done;
	rn_stream_shard_id(&st, shard);
	/* One shard, which has no children; shards list in id order. */
	show = ftype == NULL && (after == NULL || strcmp(shard, after) > 0);
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"StreamDescription\":{\"StreamArn\":");
	put_arn(c, &st);
	gt_buf_printf(&c->resp, ",\"StreamLabel\":\"%s\",\"StreamStatus\":"
	    "\"%s\",\"StreamViewType\":\"%s\",\"CreationRequestDateTime\":"
	    "%.3f,\"TableName\":", st.label, st.closed ? "DISABLED" :
	    "ENABLED", rn_stream_view_name(st.view),
	    (double)st.created_ms / 1000.0);
	gt_buf_json_str(&c->resp, st.table, strlen(st.table));
	gt_buf_puts(&c->resp, ",\"KeySchema\":");
	gt_buf_puts(&c->resp, st.key_schema[0] ? st.key_schema : "[]");
	gt_buf_puts(&c->resp, ",\"Shards\":[");
	if (show) {
		rn_stream_seq_format(st.start_seq, sn);
		gt_buf_printf(&c->resp, "{\"ShardId\":\"%s\","
		    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":"
		    "\"%s\"", shard, sn);
		if (st.closed) {
			/* An empty closed shard ends where it starts. */
			rn_stream_seq_format(GT_MAX(st.end_seq, st.start_seq),
			    sn);
			gt_buf_printf(&c->resp, ",\"EndingSequenceNumber\":"
			    "\"%s\"", sn);
		}
		gt_buf_puts(&c->resp, "}}");
	}
	gt_buf_puts(&c->resp, "]}}");
done:
	rn_store_read_end(txn);
	rn_call_finish(c);
}

/* ----------------------------------------------------- GetShardIterator */

enum { IT_TRIM_HORIZON, IT_LATEST, IT_AT, IT_AFTER };

void rn_op_get_shard_iterator(rn_call *c, cJSON *req)
{
	rn_node *n = c->node;
	const rn_dbs *dbs = rn_store_dbs(n->store);
	const char *arn = NULL, *shard = NULL, *type = NULL, *seqs = NULL;
	char want[RN_STREAM_SHARD_ID_LEN + 1];
	uint64_t seq = 0, floor, last, hi, top;
	MDB_txn *txn = NULL;
	rn_stream_iter it;
	rn_stream st;
	int kind;

	if (rn_req_str(c, req, "StreamArn", "streamArn", 1, &arn) != 0 ||
	    rn_req_str(c, req, "ShardId", "shardId", 1, &shard) != 0 ||
	    rn_req_str(c, req, "ShardIteratorType", "shardIteratorType", 1,
	    &type) != 0 ||
	    rn_req_str(c, req, "SequenceNumber", "sequenceNumber", 0, &seqs) !=
	    0 ||
	    check_arn(c, arn, "streamArn") != 0 ||
	    check_len(c, shard, "shardId", 28, 65) != 0 ||
	    (seqs != NULL && check_len(c, seqs, "sequenceNumber", 21, 40) !=
	    0))
		goto done;
	if (strcmp(type, "TRIM_HORIZON") == 0) {
		kind = IT_TRIM_HORIZON;
	} else if (strcmp(type, "LATEST") == 0) {
		kind = IT_LATEST;
	} else if (strcmp(type, "AT_SEQUENCE_NUMBER") == 0) {
		kind = IT_AT;
	} else if (strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0) {
		kind = IT_AFTER;
	} else {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at 'shardIteratorType' failed "
		    "to satisfy constraint: Member must satisfy enum value "
		    "set: "
		    "[TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, "
		    "AFTER_SEQUENCE_NUMBER]", type);
		goto done;
	}
	if ((kind == IT_AT || kind == IT_AFTER) && seqs == NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "The SequenceNumber "
		    "parameter is required for ShardIteratorType %s", type);
		goto done;
	}
	if ((kind == IT_AT || kind == IT_AFTER) &&
	    rn_stream_seq_parse(seqs, &seq) != GT_OK) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Invalid "
		    "SequenceNumber: %s", seqs);
		goto done;
	}
	if (read_begin(c, &txn) != 0 || stream_by_arn(c, txn, arn, &st) != 0)
		goto done;
	rn_stream_shard_id(&st, want);
	if (strcmp(want, shard) != 0) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Shard does not exist");
		goto done;
	}
	floor = rn_stream_log_floor(txn, dbs);
	last = log_last(txn, dbs);
	hi = st.closed ? st.end_seq : last;
	/* An empty closed shard shows its start as its end: that number is
	 * a valid position too. */
	top = st.closed ? GT_MAX(st.end_seq, st.start_seq) : last;
	memset(&it, 0, sizeof(it));
	switch (kind) {
	case IT_TRIM_HORIZON:
		it.pos = GT_MAX(st.start_seq, floor + 1);
		break;
	case IT_LATEST:
		it.pos = hi + 1;
		break;
	default:
		if (seq < st.start_seq || seq > top) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Invalid "
			    "SequenceNumber: %s is not in the range of shard "
			    "%s",
			    seqs, shard);
			goto done;
		}
		it.pos = kind == IT_AT ? seq : seq + 1;
		/* Only a position whose records were removed is trimmed:
		 * AFTER the last trimmed record is the horizon itself. */
		if (it.pos <= floor && floor >= st.start_seq) {
			rn_call_error(c, 400, RN_E_TRIMMED, "The operation "
			    "attempted to read past the oldest stream record "
			    "in a shard: sequence number %s is older than the "
			    "stream's trim horizon", seqs);
			goto done;
		}
	}
	it.table_id = st.table_id;
	memcpy(it.label, st.label, sizeof(it.label));
	it.shard = st.start_seq;
	it.issued_ms = gt_wall_ms();
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"ShardIterator\":\"");
	rn_stream_iter_encode(n->streams.key, &it, &c->resp);
	gt_buf_puts(&c->resp, "\"}");
done:
	rn_store_read_end(txn);
	rn_call_finish(c);
}

/* ----------------------------------------------------------- GetRecords */

/* A wall-clock time as the service's messages show it:
 * "Tue Mar 01 19:36:18 UTC 2016". */
static void java_date(uint64_t ms, char out[40])
{
	time_t sec = (time_t)(ms / 1000u);
	struct tm tm;

	gmtime_r(&sec, &tm);
	if (strftime(out, 40, "%a %b %d %H:%M:%S UTC %Y", &tm) == 0)
		out[0] = '\0';
}

/* Reads the records of st from it->pos into the answer; see the top of
 * the file for the bounds. */
static void records_read(rn_call *c, MDB_txn *txn, const rn_stream *st,
    const rn_stream_iter *it, size_t limit)
{
	rn_node *n = c->node;
	const rn_dbs *dbs = rn_store_dbs(n->store);
	uint64_t hi = st->closed ? st->end_seq : UINT64_MAX, next = it->pos;
	gt_buf one = GT_BUF_INIT;
	MDB_cursor *cur = NULL;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	size_t nrec = 0, scanned = 0;
	int at_end = 0, rc;
	gt_err err = GT_OK;

	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS) {
		rn_call_fail_err(c, rn_mdb_err(rc), "");
		return;
	}
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"Records\":[");
	gt_put_u64be(kb, it->pos);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t seq;
		rn_logrec r;
		int skip = 1;
		if (k.mv_size != 8) {
			err = GT_ECORRUPT;
			break;
		}
		seq = gt_get_u64be(k.mv_data);
		if (seq > hi) {
			at_end = 1;
			break;
		}
		if (scanned == RN_STREAM_SCAN_MAX || nrec == limit)
			break;
		err = rn_logrec_decode(v.mv_data, v.mv_size, &r);
		if (err == GT_OK && r.table_id == st->table_id) {
			gt_buf_reset(&one);
			err = rn_stream_record_render(&r, seq, st->view,
			    n->region, &one, &skip);
		}
		if (err != GT_OK)
			break;
		if (!skip) {
			/* The page limit, as DynamoDB's 1 MB: the record that
			 * would cross it starts the next call. */
			if (nrec > 0 && c->resp.len + one.len + 512 >
			    RN_PAGE_BYTES_MAX)
				break;
			if (nrec > 0)
				gt_buf_putc(&c->resp, ',');
			gt_buf_append(&c->resp, one.data, one.len);
			nrec++;
		}
		scanned++;
		next = seq + 1;
	}
	/* The log's end: a closed stream's records all committed before it
	 * closed, so it has none left. */
	if (rc == MDB_NOTFOUND && st->closed)
		at_end = 1;
	if (err == GT_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = rn_mdb_err(rc);
	mdb_cursor_close(cur);
	gt_buf_free(&one);
	if (err != GT_OK) {
		GT_LOG(GT_LOG_ERROR, "stream", "event=read_failed table=%s "
		    "err=\"%s\"", st->table, gt_strerror(err));
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", gt_strerror(err));
		return;
	}
	gt_buf_putc(&c->resp, ']');
	if (!at_end) {
		rn_stream_iter nx = *it;
		nx.pos = next;
		nx.issued_ms = gt_wall_ms();
		gt_buf_puts(&c->resp, ",\"NextShardIterator\":\"");
		rn_stream_iter_encode(n->streams.key, &nx, &c->resp);
		gt_buf_putc(&c->resp, '"');
	}
	gt_buf_putc(&c->resp, '}');
}

void rn_op_get_records(rn_call *c, cJSON *req)
{
	rn_node *n = c->node;
	const char *its = NULL;
	long long limit = RN_STREAM_RECORDS_MAX;
	uint64_t floor, now = gt_wall_ms();
	uint64_t ttl_ms = (uint64_t)n->streams.iterator_ttl_s * 1000u;
	MDB_txn *txn = NULL;
	rn_stream_iter it;
	rn_stream st;
	int counted = 0;
	gt_err err;

	if (rn_req_str(c, req, "ShardIterator", "shardIterator", 1, &its) !=
	    0 || check_len(c, its, "shardIterator", 1, 2048) != 0 ||
	    rn_req_int(c, req, "Limit", "limit", 1, RN_STREAM_RECORDS_MAX,
	    &limit) != 0)
		goto done;
	/* Expiry is checked here, to name the times as DynamoDB does. */
	err = rn_stream_iter_decode(n->streams.key, its, strlen(its), now,
	    UINT64_MAX, &it);
	if (err != GT_OK) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Invalid ShardIterator");
		goto done;
	}
	if (rn_stream_iter_expired(&it, now, ttl_ms)) {
		char made[40], at[40];
		java_date(it.issued_ms, made);
		java_date(now, at);
		rn_call_error(c, 400, RN_E_EXPIRED_ITERATOR, "Iterator "
		    "expired. The iterator was created at time %s while right "
		    "now it is %s which is further in the future than the "
		    "tolerated delay of %llu milliseconds.", made, at,
		    (unsigned long long)ttl_ms);
		goto done;
	}
	/* Each call may scan many records: only so many at once. */
	counted = 1;
	if (atomic_fetch_add(&n->streams.reads, 1) >= READS_MAX) {
		rn_call_error(c, 400, RN_E_LIMIT, "Too many GetRecords "
		    "requests at once on this node; retry after a short wait");
		goto done;
	}
	if (read_begin(c, &txn) != 0)
		goto done;
	err = rn_stream_get(txn, rn_store_dbs(n->store), it.table_id,
	    it.label, &st);
	if (err == GT_OK && st.start_seq != it.shard)
		err = GT_ENOTFOUND;
	if (err == GT_ENOTFOUND) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: the iterator's stream (label %s) no longer exists",
		    it.label);
		goto done;
	}
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "");
		goto done;
	}
	floor = rn_stream_log_floor(txn, rn_store_dbs(n->store));
	if (it.pos <= floor && floor >= st.start_seq &&
	    (!st.closed || it.pos <= st.end_seq)) {
		rn_call_error(c, 400, RN_E_TRIMMED, "The operation attempted "
		    "to read past the oldest stream record in a shard: records "
		    "from this iterator's position were removed by retention");
		goto done;
	}
	records_read(c, txn, &st, &it, (size_t)limit);
done:
	if (counted)
		atomic_fetch_sub(&n->streams.reads, 1);
	rn_store_read_end(txn);
	rn_call_finish(c);
}
