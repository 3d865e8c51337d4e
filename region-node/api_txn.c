/*
 * api_txn.c — TransactWriteItems and TransactGetItems.
 *
 * A write transaction is up to 100 actions (Put, Update, Delete,
 * ConditionCheck) on distinct items, prepared on the request's thread like
 * single writes (api_write.h) and run by one rn_write on the writer thread,
 * inside the group's one LMDB transaction:
 *
 *   1. plan every action (read, copy out, evaluate its condition, build the
 *      new item) — nothing is written and no sequence number is taken;
 *   2. if any condition is false or any update cannot apply, answer
 *      TransactionCanceledException with one reason per action, in request
 *      order, and stop: the cancelled transaction leaves no item, no change
 *      record and no gap in the log's sequence numbers;
 *   3. otherwise commit every plan: consecutive change records in the same
 *      LMDB transaction, so readers and peers see all of it or none of it.
 *      An LMDB failure here aborts the whole group (store.h).
 *
 * Because one writer runs every write of the region, a transaction is
 * serialisable against every other write without locks.
 *
 * Idempotency.  A ClientRequestToken names a transaction for 10 minutes:
 * the same token with the same request answers the first success again
 * without applying anything; with a different request it is
 * IdempotentParameterMismatchException.  Only successes are remembered (a
 * cancelled transaction may be retried with its token).  The token table
 * is bounded: expired entries are reused first, and when every slot is
 * live the entry closest to expiry is dropped, which shortens that token's
 * window but never breaks correctness of a first attempt.  Entries are
 * recorded "pending" by the write and confirmed or dropped after the
 * group's commit, so a token never outlives an aborted group.  The table
 * is shared by the nodes of a process, keyed by node, under a mutex: the
 * node structure has no slot for it.
 *
 * A read transaction is up to 100 Get actions answered from one LMDB read
 * transaction, i.e. one consistent snapshot.
 */
#include "api_write.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RN_E_IDEMPOTENT RN_ERR_PREFIX "IdempotentParameterMismatchException"

#define TXN_ACTIONS_MAX 100
#define TXN_BYTES_MAX (4u * 1024u * 1024u)
#define TXN_TOKEN_LEN_MAX 36
#define TXN_TOKENS_MAX 4096
#define TXN_TOKEN_TTL_MS (10u * 60u * 1000u)
#define TXN_DIGEST_LEN 32

/* ------------------------------------------------------------- tokens */

typedef struct txn_token {
	const rn_node *node;   /* NULL: a free slot */
	uint64_t expires_ms;
	int pending;           /* recorded by a group not yet committed */
	char token[TXN_TOKEN_LEN_MAX + 1];
	uint8_t digest[TXN_DIGEST_LEN];
} txn_token;

static pthread_mutex_t txn_tokens_mu = PTHREAD_MUTEX_INITIALIZER;
static txn_token txn_tokens[TXN_TOKENS_MAX];

/* The live slot of (node, token), or NULL.  Caller holds the mutex. */
static txn_token *token_find(const rn_node *n, const char *token,
    uint64_t now_ms)
{
	for (size_t i = 0; i < TXN_TOKENS_MAX; i++) {
		txn_token *e = &txn_tokens[i];
		if (e->node == n && (e->pending || e->expires_ms > now_ms) &&
		    strcmp(e->token, token) == 0)
			return e;
	}
	return NULL;
}

/* 1: the token answered this same request before; -1: it named another
 * request; 0: unknown (or expired). */
static int token_check(const rn_node *n, const char *token,
    const uint8_t *digest, uint64_t now_ms)
{
	txn_token *e;
	int r = 0;

	pthread_mutex_lock(&txn_tokens_mu);
	e = token_find(n, token, now_ms);
	if (e != NULL)
		r = memcmp(e->digest, digest, TXN_DIGEST_LEN) == 0 ? 1 : -1;
	pthread_mutex_unlock(&txn_tokens_mu);
	return r;
}

/* Records a pending token: a free or expired slot, else the committed
 * entry closest to expiry.  Returns 0, or -1 when every slot is pending
 * (the transaction then simply has no idempotency record). */
static int token_record(const rn_node *n, const char *token,
    const uint8_t *digest, uint64_t now_ms)
{
	txn_token *victim = NULL;

	pthread_mutex_lock(&txn_tokens_mu);
	for (size_t i = 0; i < TXN_TOKENS_MAX; i++) {
		txn_token *e = &txn_tokens[i];
		if (e->node == NULL || (!e->pending &&
		    e->expires_ms <= now_ms)) {
			victim = e;
			break;
		}
		if (!e->pending && (victim == NULL ||
		    e->expires_ms < victim->expires_ms))
			victim = e;
	}
	if (victim != NULL) {
		victim->node = n;
		victim->pending = 1;
		victim->expires_ms = now_ms + TXN_TOKEN_TTL_MS;
		snprintf(victim->token, sizeof(victim->token), "%s", token);
		memcpy(victim->digest, digest, TXN_DIGEST_LEN);
	}
	pthread_mutex_unlock(&txn_tokens_mu);
	return victim != NULL ? 0 : -1;
}

/* After the group: keeps the token (committed) or forgets it. */
static void token_settle(const rn_node *n, const char *token, int committed)
{
	pthread_mutex_lock(&txn_tokens_mu);
	for (size_t i = 0; i < TXN_TOKENS_MAX; i++) {
		txn_token *e = &txn_tokens[i];
		if (e->node != n || !e->pending || strcmp(e->token, token) != 0)
			continue;
		if (committed)
			e->pending = 0;
		else
			memset(e, 0, sizeof(*e));
		break;
	}
	pthread_mutex_unlock(&txn_tokens_mu);
}

/* SHA-256 of the request without its token: what "the same request"
 * means for idempotency.  Must run before the request is taken apart. */
static gt_err request_digest(cJSON *req, uint8_t digest[TXN_DIGEST_LEN])
{
	cJSON *tok = cJSON_DetachItemFromObjectCaseSensitive(req,
	    "ClientRequestToken");
	char *text = cJSON_PrintUnformatted(req);
	unsigned int len = 0;
	int ok;

	if (tok != NULL)
		cJSON_AddItemToObject(req, "ClientRequestToken", tok);
	if (text == NULL)
		return GT_ENOMEM;
	ok = EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(),
	    NULL);
	free(text);
	return ok == 1 && len == TXN_DIGEST_LEN ? GT_OK : GT_ENOMEM;
}

/* ------------------------------------------------------------- writes */

typedef struct txn_state {
	size_t nops;
	rn_item_op *ops;
	int has_token;
	int token_recorded;
	char token[TXN_TOKEN_LEN_MAX + 1];
	uint8_t digest[TXN_DIGEST_LEN];
} txn_state;

static void txn_state_free(void *p)
{
	txn_state *st = p;
	for (size_t i = 0; st->ops != NULL && i < st->nops; i++)
		rn_item_op_clear(&st->ops[i]);
	free(st->ops);
	free(st);
}

static const char *reason_code(rn_plan_status s)
{
	switch (s) {
	case RN_PLAN_COND_FAILED:
		return "ConditionalCheckFailed";
	case RN_PLAN_INVALID:
		return "ValidationError";
	default:
		return "None";
	}
}

/* The TransactionCanceledException answer: one reason per action. */
static void txn_cancel_answer(rn_call *c, const txn_state *st,
    const rn_item_plan *plans)
{
	static const char type[] = RN_E_TXN_CANCELED;
	gt_buf *b = &c->resp;

	c->status = 400;
	gt_buf_reset(b);
	gt_buf_puts(b, "{\"__type\":");
	gt_buf_json_str(b, type, sizeof(type) - 1);
	gt_buf_puts(b, ",\"message\":\"Transaction cancelled, please refer "
	    "cancellation reasons for specific reasons [");
	for (size_t i = 0; i < st->nops; i++)
		gt_buf_printf(b, "%s%s", i ? ", " : "",
		    reason_code(plans[i].status));
	gt_buf_puts(b, "]\",\"CancellationReasons\":[");
	for (size_t i = 0; i < st->nops; i++) {
		const rn_item_plan *p = &plans[i];
		gt_buf_printf(b, "%s{\"Code\":\"%s\"", i ? "," : "",
		    reason_code(p->status));
		if (p->status == RN_PLAN_COND_FAILED) {
			gt_buf_puts(b, ",\"Message\":\"The conditional request "
			    "failed\"");
			if (st->ops[i].rv_on_fail && p->old_item != NULL) {
				gt_buf_puts(b, ",\"Item\":");
				rn_buf_json(b, p->old_item);
			}
		} else if (p->status == RN_PLAN_INVALID) {
			gt_buf_puts(b, ",\"Message\":");
			gt_buf_json_str(b, p->msg, strlen(p->msg));
		}
		gt_buf_putc(b, '}');
	}
	gt_buf_puts(b, "]}");
}

/* The transaction's body on the writer thread. */
static gt_err txn_write(rn_store *s, MDB_txn *txn, rn_write *w)
{
	rn_call *c = w->arg;
	txn_state *st = c->state;
	rn_item_plan *plans = NULL;
	uint64_t now_ms = gt_wall_ms();
	size_t nfailed = 0, bytes = 0, i;
	gt_err err = GT_OK;

	(void)s;
	if (st->has_token) {
		int r = token_check(c->node, st->token, st->digest, now_ms);
		if (r > 0) {
			gt_buf_reset(&c->resp);
			gt_buf_puts(&c->resp, "{}");
			return GT_OK;
		}
		if (r < 0) {
			rn_call_error(c, 400, RN_E_IDEMPOTENT, "Cannot use a "
			    "ClientRequestToken with different parameters");
			w->result = GT_ECONFLICT;
			return GT_OK;
		}
	}
	plans = calloc(st->nops, sizeof(*plans));
	if (plans == NULL) {
		rn_call_fail_err(c, GT_ENOMEM, "");
		w->result = GT_ENOMEM;
		return GT_OK;
	}
	/* Phase 1: plan everything; nothing is written yet. */
	for (i = 0; i < st->nops; i++) {
		err = rn_item_plan_make(c->node, txn, &st->ops[i], &plans[i]);
		if (err == GT_ENOMEM || err == GT_ECORRUPT) {
			/* Nothing is written yet: fail this call alone. */
			rn_call_fail_err(c, err, "Internal server error");
			w->result = err;
			err = GT_OK;
			goto out;
		}
		if (err != GT_OK) /* LMDB failed: the group aborts */
			goto out;
		if (plans[i].status == RN_PLAN_GONE) {
			rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested "
			    "resource not found");
			w->result = GT_ENOTFOUND;
			goto out;
		}
		if (plans[i].status != RN_PLAN_OK)
			nfailed++;
		else
			bytes += plans[i].new_size;
	}
	if (nfailed > 0) {
		txn_cancel_answer(c, st, plans);
		w->result = GT_ECONFLICT;
		goto out;
	}
	if (bytes > TXN_BYTES_MAX) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Transaction request "
		    "cannot be larger than 4 MB");
		w->result = GT_ELIMIT;
		goto out;
	}
	/* Phase 2: commit everything; an error here aborts the group. */
	for (i = 0; i < st->nops; i++) {
		err = rn_item_plan_commit(c->node, txn, &st->ops[i],
		    &plans[i]);
		if (err != GT_OK)
			goto out;
	}
	if (st->has_token && token_record(c->node, st->token, st->digest,
	    now_ms) == 0)
		st->token_recorded = 1;
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{}");
out:
	for (i = 0; i < st->nops; i++)
		rn_item_plan_clear(&plans[i]);
	free(plans);
	return err;
}

static void txn_write_done(rn_write *w, gt_err commit_err)
{
	rn_call *c = w->arg;
	txn_state *st = c->state;

	if (st->token_recorded) {
		token_settle(c->node, st->token, commit_err == GT_OK);
		st->token_recorded = 0;
	}
	if (commit_err != GT_OK)
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error "
		    "(%s)", commit_err == GT_ELIMIT ? "storage full; raise "
		    "map_size_mb" : gt_strerror(commit_err));
	rn_call_finish(c);
}

/* Checks the TransactItems list's length; -1 with the answer set. */
static int txn_items(rn_call *c, cJSON *req, cJSON **items, size_t *n)
{
	int count;

	if (rn_req_arr(c, req, "TransactItems", "transactItems", 1, items) !=
	    0)
		return -1;
	count = cJSON_GetArraySize(*items);
	if (count < 1 || count > TXN_ACTIONS_MAX) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value at 'transactItems' failed to "
		    "satisfy constraint: Member must have length %s",
		    count < 1 ? "greater than or equal to 1" :
		    "less than or equal to 100");
		return -1;
	}
	*n = (size_t)count;
	return 0;
}

/* The optional members every transaction accepts and ignores. */
static int txn_common(rn_call *c, const cJSON *req)
{
	const char *rcc = NULL, *ricm = NULL;

	if (rn_req_str(c, req, "ReturnConsumedCapacity",
	    "returnConsumedCapacity", 0, &rcc) != 0 ||
	    rn_req_str(c, req, "ReturnItemCollectionMetrics",
	    "returnItemCollectionMetrics", 0, &ricm) != 0)
		return -1;
	if (rcc != NULL && strcmp(rcc, "INDEXES") != 0 &&
	    strcmp(rcc, "TOTAL") != 0 && strcmp(rcc, "NONE") != 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at 'returnConsumedCapacity' "
		    "failed to satisfy constraint: Member must satisfy enum "
		    "value set: [INDEXES, TOTAL, NONE]", rcc);
		return -1;
	}
	if (ricm != NULL && strcmp(ricm, "SIZE") != 0 &&
	    strcmp(ricm, "NONE") != 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at "
		    "'returnItemCollectionMetrics' failed to satisfy "
		    "constraint: Member must satisfy enum value set: [SIZE, "
		    "NONE]", ricm);
		return -1;
	}
	return 0;
}

void rn_op_transact_write_items(rn_call *c, cJSON *req)
{
	static const struct {
		const char *member;
		rn_item_kind kind;
	} kinds[] = {
		{"Put", RN_ITEM_PUT}, {"Update", RN_ITEM_UPDATE},
		{"Delete", RN_ITEM_DELETE}, {"ConditionCheck", RN_ITEM_CHECK},
	};
	txn_state *st = NULL;
	cJSON *items = NULL, *it;
	const char *token = NULL;
	size_t n = 0, i = 0, put_bytes = 0;

	if (txn_items(c, req, &items, &n) != 0 || txn_common(c, req) != 0 ||
	    rn_req_str(c, req, "ClientRequestToken", "clientRequestToken", 0,
	    &token) != 0)
		goto fail;
	st = calloc(1, sizeof(*st));
	if (st != NULL)
		st->ops = calloc(n, sizeof(*st->ops));
	if (st == NULL || st->ops == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto fail;
	}
	st->nops = n;
	if (token != NULL) {
		size_t len = strlen(token);
		if (len < 1 || len > TXN_TOKEN_LEN_MAX) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value '%.40s' at "
			    "'clientRequestToken' failed to satisfy "
			    "constraint: Member must have length %s", token,
			    len < 1 ? "greater than or equal to 1" :
			    "less than or equal to 36");
			goto fail;
		}
		memcpy(st->token, token, len + 1);
		st->has_token = 1;
		/* Before the actions are parsed: parsing detaches parts of
		 * the request. */
		if (request_digest(req, st->digest) != GT_OK) {
			rn_call_error(c, 500, RN_E_INTERNAL, "Internal server "
			    "error");
			goto fail;
		}
	}
	cJSON_ArrayForEach(it, items) {
		cJSON *action = NULL;
		rn_item_kind kind = RN_ITEM_PUT;
		int found = 0;

		if (!cJSON_IsObject(it)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in TransactItems");
			goto fail;
		}
		for (size_t k = 0; k < GT_ARRAY_LEN(kinds); k++) {
			cJSON *m = NULL;
			if (rn_req_obj(c, it, kinds[k].member,
			    kinds[k].member, 0, &m) != 0)
				goto fail;
			if (m == NULL)
				continue;
			found++;
			action = m;
			kind = kinds[k].kind;
		}
		if (found != 1) {
			rn_call_error(c, 400, RN_E_VALIDATION, "TransactItems "
			    "can only contain one of Check, Put, Update or "
			    "Delete");
			goto fail;
		}
		if (rn_item_op_parse(c, action, kind, 0, 1, &st->ops[i]) != 0)
			goto fail;
		if (kind == RN_ITEM_PUT)
			put_bytes += rn_item_size(st->ops[i].item);
		i++;
	}
	if (rn_item_ops_duplicate(st->ops, st->nops)) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Transaction request "
		    "cannot include multiple operations on one item");
		goto fail;
	}
	if (put_bytes > TXN_BYTES_MAX) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Transaction request "
		    "cannot be larger than 4 MB");
		goto fail;
	}
	rn_call_submit(c, txn_write, txn_write_done, st, txn_state_free);
	return;
fail:
	if (st != NULL)
		txn_state_free(st);
	rn_call_finish(c);
}

/* -------------------------------------------------------------- reads */

void rn_op_transact_get_items(rn_call *c, cJSON *req)
{
	rn_item_op *ops = NULL;
	cJSON *items = NULL, *it;
	MDB_txn *txn = NULL;
	size_t n = 0, i = 0, bytes = 0;
	gt_err err;

	if (txn_items(c, req, &items, &n) != 0 || txn_common(c, req) != 0)
		goto out;
	ops = calloc(n, sizeof(*ops));
	if (ops == NULL) {
		rn_call_error(c, 500, RN_E_INTERNAL, "Internal server error");
		goto out;
	}
	cJSON_ArrayForEach(it, items) {
		cJSON *get = NULL;

		if (!cJSON_IsObject(it)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in TransactItems");
			goto out;
		}
		if (rn_req_obj(c, it, "Get", "transactItems.member.get", 1,
		    &get) != 0 ||
		    rn_item_op_parse(c, get, RN_ITEM_GET, 0, 1, &ops[i]) != 0)
			goto out;
		i++;
	}
	if (rn_item_ops_duplicate(ops, n)) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Transaction request "
		    "cannot include multiple operations on one item");
		goto out;
	}
	/* One read transaction: every Get sees the same snapshot. */
	err = rn_store_read_begin(c->node->store, &txn);
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "");
		goto out;
	}
	gt_buf_reset(&c->resp);
	gt_buf_puts(&c->resp, "{\"Responses\":[");
	for (i = 0; i < n; i++) {
		size_t start, mark;
		int found = 0;

		if (i)
			gt_buf_putc(&c->resp, ',');
		/* An item that is not there is an empty object. */
		gt_buf_putc(&c->resp, '{');
		start = c->resp.len;
		gt_buf_puts(&c->resp, "\"Item\":");
		mark = c->resp.len;
		err = rn_item_read_json(txn, rn_store_dbs(c->node->store),
		    &ops[i].key, ops[i].proj, &c->resp, &found);
		if (err != GT_OK)
			break;
		if (found)
			bytes += c->resp.len - mark;
		else
			c->resp.len = start;
		gt_buf_putc(&c->resp, '}');
		if (bytes > TXN_BYTES_MAX) {
			err = GT_ELIMIT;
			break;
		}
	}
	rn_store_read_end(txn);
	if (err == GT_ELIMIT) {
		rn_call_error(c, 400, RN_E_VALIDATION, "Total size of the "
		    "items in the transaction exceeds the 4 MB limit");
		goto out;
	}
	if (err != GT_OK) {
		rn_call_fail_err(c, err, "Internal server error");
		goto out;
	}
	gt_buf_puts(&c->resp, "]}");
out:
	for (i = 0; ops != NULL && i < n; i++)
		rn_item_op_clear(&ops[i]);
	free(ops);
	rn_call_finish(c);
}
