/*
 * topo.c — the topology core (DESIGN.md section 8): cluster membership,
 * per-table replica sets and the backfill cursor rule.  Pure functions of
 * small fixed-size values: no I/O, no clock, no allocation except inside
 * cJSON while parsing (freed before returning).
 *
 * Membership invariants (topo_members_check):
 *   M1. epoch <= TOPO_EPOCH_MAX.  epoch 0 means "none yet": no regions,
 *       empty changed_by.  Otherwise changed_by is a valid region name.
 *   M2. n <= TOPO_REGIONS_MAX, regions sorted strictly ascending by name
 *       (bytewise, so no duplicates), every name and URL valid.
 *   M3. Every byte after the NUL of a name or URL is zero, so two equal
 *       memberships are equal bytes and the JSON round trip is exact.
 *
 * Replica-set invariants (topo_rset_check):
 *   R1. 1 <= epoch <= TOPO_EPOCH_MAX and changed_by is a valid name.
 *   R2. n <= TOPO_REGIONS_MAX, replicas sorted strictly ascending by
 *       region, names valid and zero-padded (as M3).
 *   R3. status is CREATING, ACTIVE or CREATION_FAILED; progress <= 100;
 *       an ACTIVE replica has progress 100.
 *   R4. At most one replica is CREATING: an add is refused while the
 *       table is UPDATING, and every set descends from one line of
 *       changes, each made from the set before it.
 *   R5. source is non-empty exactly when a replica is CREATING; it then
 *       names an ACTIVE replica other than the CREATING one.  Nothing can
 *       remove the source while the add runs: drop refuses (BUSY) every
 *       replica but the CREATING one, and prune fails the add when the
 *       source departs.
 *   R6. source and changed_by are zero-padded too.
 * A set may be empty (prune after every replica left the cluster).
 *
 * Epoch order.  Set B replaces set A when B.epoch > A.epoch, or the epochs
 * are equal and B.changed_by > A.changed_by.  Every change is made by one
 * region from the set it holds, with epoch + 1 and changed_by = itself;
 * a region never makes two changes at one epoch (its own change is
 * adopted at once, and its epoch only grows), so (epoch, changed_by)
 * names one set and the order is total.  Every region therefore ends on
 * the same set.  The price: of two changes made concurrently at one epoch
 * the smaller changed_by is lost, though the UpdateTable that made it was
 * answered 200 (the operator sees the set and may repeat it).
 *
 * Replica status transitions, FROM -> TO [function] (the region that
 * makes the change in parentheses):
 *
 *   (absent)  -> CREATING         [topo_rset_add]       (an ACTIVE replica)
 *   CREATING  -> CREATING         [topo_rset_progress]  (itself)
 *   CREATING  -> ACTIVE           [topo_rset_activate]  (itself)
 *   CREATING  -> CREATION_FAILED  [topo_rset_fail]      (itself)
 *   CREATING  -> CREATION_FAILED  [topo_rset_prune]     (source departed)
 *   CREATING  -> (absent)         [topo_rset_drop]      (cancel; anyone)
 *   ACTIVE    -> (absent)         [topo_rset_drop]      (not the last)
 *   CREATION_FAILED -> (absent)   [topo_rset_drop]
 *   any       -> (absent)         [topo_rset_prune]     (region departed)
 *
 * A region's own copy of a table, as the driver keeps it, FROM -> TO
 * [what topo_rset_on_incoming answers, or the driver's step]:
 *
 *   NONE        -> BACKFILLING  [CREATE_AND_BACKFILL] listed CREATING, or
 *                               ACTIVE without a copy (a rebuild)
 *   BACKFILLING -> BACKFILLING  [CREATE_AND_BACKFILL] a new source or a
 *                               new add: start again, keep the copy
 *   BACKFILLING -> BACKFILLING  [UPDATE] progress, same source
 *   BACKFILLING -> COMPLETE     [driver: last chunk, cursor rewind, then
 *                               topo_rset_activate when still CREATING]
 *   COMPLETE    -> BACKFILLING  [CREATE_AND_BACKFILL] listed CREATING
 *                               again (re-added in a set that won a tie)
 *   BACKFILLING, COMPLETE -> NONE [DROP] not listed, or CREATION_FAILED
 *   NONE        -> NONE         [UPDATE] not listed: keep the set only
 *
 * The answer depends on the newest set and on what the region holds,
 * never on how it got there, so a region that acted on a set which
 * later lost a tie still ends where the winner says: a listed region
 * without a copy backfills, an unlisted (or failed) one with a copy
 * deletes it.
 */
#include "topo.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <string.h>

/* --------------------------------------------------------------- helpers */

/* Length of a valid name (1..31), else 0; never reads past the array. */
static size_t name_len(const char *s)
{
	if (!cf_region_name_valid(s))
		return 0;
	return strnlen(s, CF_REGION_NAME_MAX);
}

/* 1 when every byte of a[0..cap) after the first NUL is zero. */
static int zero_padded(const char *a, size_t cap)
{
	size_t i = strnlen(a, cap);

	if (i == cap)
		return 0;
	for (; i < cap; i++) {
		if (a[i] != '\0')
			return 0;
	}
	return 1;
}

/* Copies a valid name into a zero-padded array. */
static void name_set(char dst[CF_REGION_NAME_MAX], const char *src)
{
	size_t n = name_len(src);

	memset(dst, 0, CF_REGION_NAME_MAX);
	memcpy(dst, src, n);
}

static int name_eq(const char *a, const char *b)
{
	return strncmp(a, b, CF_REGION_NAME_MAX) == 0;
}

static int name_cmp(const char *a, const char *b)
{
	return strncmp(a, b, CF_REGION_NAME_MAX);
}

/*
 * Inserts elem (elem_size bytes, its region name at name_off) into the
 * array arr of *n elements sorted by that name, with room for one more.
 * Returns 0, changing nothing, when the name is already there.
 */
static int sorted_insert(void *arr, uint32_t *n, size_t elem_size,
    size_t name_off, const void *elem)
{
	unsigned char *a = arr;
	const char *name = (const char *)elem + name_off;
	uint32_t i = *n;

	while (i > 0 && name_cmp((const char *)(a + (i - 1) * elem_size +
	    name_off), name) > 0)
		i--;
	if (i > 0 && name_eq((const char *)(a + (i - 1) * elem_size +
	    name_off), name))
		return 0;
	memmove(a + (i + 1) * elem_size, a + i * elem_size,
	    (*n - i) * elem_size);
	memcpy(a + i * elem_size, elem, elem_size);
	(*n)++;
	return 1;
}

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/*
 * A URL: api "http://" or "https://" (or replication "tcp://" or
 * "tls+tcp://") and then 1.. bytes of 0x21..0x7e, NUL within the array.
 */
static int url_valid(const char *u, int api)
{
	size_t n, i, skip;

	if (u == NULL)
		return 0;
	n = strnlen(u, TOPO_URL_MAX);
	if (n == TOPO_URL_MAX)
		return 0;
	if (api && has_prefix(u, "http://"))
		skip = 7;
	else if (api && has_prefix(u, "https://"))
		skip = 8;
	else if (!api && has_prefix(u, "tcp://"))
		skip = 6;
	else if (!api && has_prefix(u, "tls+tcp://"))
		skip = 10;
	else
		return 0;
	if (n <= skip)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c < 0x21 || c > 0x7e)
			return 0;
	}
	return 1;
}

static void url_set(char dst[TOPO_URL_MAX], const char *src)
{
	memset(dst, 0, TOPO_URL_MAX);
	memcpy(dst, src, strnlen(src, TOPO_URL_MAX - 1));
}

/* ------------------------------------------------------------ membership */

static int region_valid(const topo_region *r)
{
	return name_len(r->name) != 0 && url_valid(r->api_url, 1) &&
	    url_valid(r->repl_url, 0);
}

int topo_members_check(const topo_members *m)
{
	uint32_t i;

	if (m == NULL || m->epoch > TOPO_EPOCH_MAX ||
	    m->n > TOPO_REGIONS_MAX ||
	    !zero_padded(m->changed_by, CF_REGION_NAME_MAX))
		return 0;
	if (m->epoch == 0) {
		if (m->n != 0 || m->changed_by[0] != '\0')
			return 0;
	} else if (name_len(m->changed_by) == 0) {
		return 0;
	}
	for (i = 0; i < m->n; i++) {
		const topo_region *r = &m->r[i];

		if (!region_valid(r) ||
		    !zero_padded(r->name, CF_REGION_NAME_MAX) ||
		    !zero_padded(r->api_url, TOPO_URL_MAX) ||
		    !zero_padded(r->repl_url, TOPO_URL_MAX))
			return 0;
		if (i > 0 && name_cmp(m->r[i - 1].name, r->name) >= 0)
			return 0;
	}
	return 1;
}

static int members_find_idx(const topo_members *m, const char *name)
{
	for (uint32_t i = 0; i < m->n && i < TOPO_REGIONS_MAX; i++) {
		if (name_eq(m->r[i].name, name))
			return (int)i;
	}
	return -1;
}

gt_err topo_members_join(const topo_members *m, const topo_region *r,
    const char *by, topo_members *out)
{
	topo_members t;
	topo_region nr;
	int at;
	uint32_t i;

	if (m == NULL || r == NULL || out == NULL || !topo_members_check(m) ||
	    !region_valid(r) || name_len(by) == 0)
		return GT_EINVAL;
	memset(&nr, 0, sizeof(nr));
	name_set(nr.name, r->name);
	url_set(nr.api_url, r->api_url);
	url_set(nr.repl_url, r->repl_url);
	at = members_find_idx(m, nr.name);
	if (at >= 0 && memcmp(&m->r[at], &nr, sizeof(nr)) == 0) {
		*out = *m;
		return GT_OK;
	}
	if (at < 0 && m->n == TOPO_REGIONS_MAX)
		return GT_ELIMIT;
	if (m->epoch >= TOPO_EPOCH_MAX)
		return GT_ELIMIT;
	t = *m;
	if (at >= 0) {
		t.r[at] = nr;
	} else {
		/* Insert keeping the names sorted. */
		for (i = t.n; i > 0 && name_cmp(t.r[i - 1].name, nr.name) > 0;
		    i--)
			t.r[i] = t.r[i - 1];
		t.r[i] = nr;
		t.n++;
	}
	t.epoch++;
	name_set(t.changed_by, by);
	assert(topo_members_check(&t));
	*out = t;
	return GT_OK;
}

gt_err topo_members_leave(const topo_members *m, const char *name,
    const char *by, topo_members *out)
{
	topo_members t;
	int at;

	if (m == NULL || out == NULL || !topo_members_check(m) ||
	    name_len(name) == 0 || name_len(by) == 0)
		return GT_EINVAL;
	at = members_find_idx(m, name);
	if (at < 0)
		return GT_ENOTFOUND;
	if (m->epoch >= TOPO_EPOCH_MAX)
		return GT_ELIMIT;
	t = *m;
	memmove(&t.r[at], &t.r[at + 1],
	    (t.n - (uint32_t)at - 1) * sizeof(t.r[0]));
	t.n--;
	memset(&t.r[t.n], 0, sizeof(t.r[0]));
	t.epoch++;
	name_set(t.changed_by, by);
	assert(topo_members_check(&t));
	*out = t;
	return GT_OK;
}

int topo_members_newer(const topo_members *local,
    const topo_members *incoming)
{
	if (incoming == NULL || !topo_members_check(incoming))
		return 0;
	if (local == NULL || !topo_members_check(local))
		return 1;
	if (incoming->epoch != local->epoch)
		return incoming->epoch > local->epoch;
	return name_cmp(incoming->changed_by, local->changed_by) > 0;
}

const topo_region *topo_members_find(const topo_members *m,
    const char *name)
{
	int at;

	if (m == NULL || name == NULL)
		return NULL;
	at = members_find_idx(m, name);
	return at < 0 ? NULL : &m->r[at];
}

static void json_name(gt_buf *out, const char *s, size_t cap)
{
	gt_buf_json_str(out, s, strnlen(s, cap));
}

void topo_members_json(const topo_members *m, gt_buf *out)
{
	gt_buf_printf(out, "{\"Epoch\":%llu,\"ChangedBy\":",
	    (unsigned long long)m->epoch);
	json_name(out, m->changed_by, CF_REGION_NAME_MAX);
	gt_buf_puts(out, ",\"Regions\":[");
	for (uint32_t i = 0; i < m->n && i < TOPO_REGIONS_MAX; i++) {
		const topo_region *r = &m->r[i];

		gt_buf_puts(out, i ? ",{\"Region\":" : "{\"Region\":");
		json_name(out, r->name, CF_REGION_NAME_MAX);
		gt_buf_puts(out, ",\"Api\":");
		json_name(out, r->api_url, TOPO_URL_MAX);
		gt_buf_puts(out, ",\"Replication\":");
		json_name(out, r->repl_url, TOPO_URL_MAX);
		gt_buf_putc(out, '}');
	}
	gt_buf_puts(out, "]}");
}

/* ------------------------------------------------------------ JSON input */

/*
 * Parses exactly len bytes as one JSON object followed only by white
 * space.  Returns the tree (free with cJSON_Delete) or NULL.
 */
static cJSON *json_object_parse(const char *json, size_t len, gt_err *err)
{
	const char *end = NULL;
	cJSON *root;

	if (json == NULL) {
		*err = GT_EINVAL;
		return NULL;
	}
	if (len > TOPO_JSON_MAX) {
		*err = GT_ELIMIT;
		return NULL;
	}
	*err = GT_EINVAL;
	/* cJSON ends a string at an escaped NUL and drops the rest, which
	 * would turn "b\u0000c" into a valid "b": refuse the escape. */
	for (size_t i = 0; i + 6 <= len; i++) {
		if (json[i] == '\\' && memcmp(json + i + 1, "u0000", 5) == 0)
			return NULL;
	}
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (root == NULL)
		return NULL;
	if (!cJSON_IsObject(root) || end == NULL || end < json ||
	    (size_t)(end - json) > len)
		goto bad;
	for (size_t i = (size_t)(end - json); i < len; i++) {
		char c = json[i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			goto bad;
	}
	return root;
bad:
	cJSON_Delete(root);
	return NULL;
}

/*
 * Checks that obj has only the keys in names (nnames of them), each at
 * most once, and that the keys flagged in required (bit i for names[i])
 * are present.  Returns 1 when so.
 */
static int keys_ok(const cJSON *obj, const char *const *names, size_t nnames,
    unsigned required)
{
	unsigned seen = 0;
	const cJSON *c;

	for (c = obj->child; c != NULL; c = c->next) {
		size_t i;

		if (c->string == NULL)
			return 0;
		for (i = 0; i < nnames; i++) {
			if (strcmp(c->string, names[i]) == 0)
				break;
		}
		if (i == nnames || (seen & (1u << i)))
			return 0;
		seen |= 1u << i;
	}
	return (seen & required) == required;
}

/*
 * An integral JSON number in [0, max], max < 2^53: every integer up to it
 * is exact in a double, and a text above it reads as a double above it
 * (2^53 + 1 rounds to 2^53), so nothing larger slips in by rounding.
 */
static int json_uint(const cJSON *v, uint64_t max, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	/* The comparisons are false for NaN, so NaN is rejected. */
	if (!(d >= 0.0 && d <= (double)max))
		return 0;
	if ((double)(uint64_t)d != d)
		return 0;
	*out = (uint64_t)d;
	return 1;
}

/* A JSON string that is a valid region name, copied zero-padded. */
static int json_name_get(const cJSON *v, char dst[CF_REGION_NAME_MAX])
{
	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    name_len(v->valuestring) == 0)
		return 0;
	name_set(dst, v->valuestring);
	return 1;
}

static int json_url_get(const cJSON *v, char dst[TOPO_URL_MAX], int api)
{
	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    !url_valid(v->valuestring, api))
		return 0;
	url_set(dst, v->valuestring);
	return 1;
}

gt_err topo_members_parse(const char *json, size_t len, topo_members *out)
{
	static const char *const top[] = {"Epoch", "ChangedBy", "Regions"};
	static const char *const reg[] = {"Region", "Api", "Replication"};
	topo_members t;
	const cJSON *c, *v;
	gt_err err;
	cJSON *root;

	if (out == NULL)
		return GT_EINVAL;
	root = json_object_parse(json, len, &err);
	if (root == NULL)
		return err;
	err = GT_EINVAL;
	memset(&t, 0, sizeof(t));
	if (!keys_ok(root, top, 3, 7u))
		goto out;
	if (!json_uint(cJSON_GetObjectItemCaseSensitive(root, "Epoch"),
	    TOPO_EPOCH_MAX, &t.epoch))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "ChangedBy");
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		goto out;
	if (v->valuestring[0] != '\0' && !json_name_get(v, t.changed_by))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "Regions");
	if (!cJSON_IsArray(v))
		goto out;
	for (c = v->child; c != NULL; c = c->next) {
		topo_region r;

		if (t.n == TOPO_REGIONS_MAX) {
			err = GT_ELIMIT;
			goto out;
		}
		memset(&r, 0, sizeof(r));
		if (!cJSON_IsObject(c) || !keys_ok(c, reg, 3, 7u) ||
		    !json_name_get(cJSON_GetObjectItemCaseSensitive(c,
		    "Region"), r.name) ||
		    !json_url_get(cJSON_GetObjectItemCaseSensitive(c, "Api"),
		    r.api_url, 1) ||
		    !json_url_get(cJSON_GetObjectItemCaseSensitive(c,
		    "Replication"), r.repl_url, 0))
			goto out;
		/* Insert sorted; an equal name is a duplicate. */
		if (!sorted_insert(t.r, &t.n, sizeof(t.r[0]),
		    offsetof(topo_region, name), &r))
			goto out;
	}
	if (!topo_members_check(&t))
		goto out;
	*out = t;
	err = GT_OK;
out:
	cJSON_Delete(root);
	return err;
}

/* ----------------------------------------------------------- replica sets */

static int status_valid(topo_rstatus s)
{
	return s == TOPO_CREATING || s == TOPO_ACTIVE ||
	    s == TOPO_CREATION_FAILED;
}

int topo_rset_check(const topo_rset *rs)
{
	uint32_t i, creating = 0;
	const topo_replica *cr = NULL;

	if (rs == NULL || rs->epoch < 1 || rs->epoch > TOPO_EPOCH_MAX ||
	    rs->n > TOPO_REGIONS_MAX || name_len(rs->changed_by) == 0 ||
	    !zero_padded(rs->changed_by, CF_REGION_NAME_MAX) ||
	    !zero_padded(rs->source, CF_REGION_NAME_MAX))
		return 0;
	for (i = 0; i < rs->n; i++) {
		const topo_replica *r = &rs->r[i];

		if (name_len(r->region) == 0 ||
		    !zero_padded(r->region, CF_REGION_NAME_MAX) ||
		    !status_valid(r->status) || r->progress_pct > 100 ||
		    (r->status == TOPO_ACTIVE && r->progress_pct != 100))
			return 0;
		if (i > 0 && name_cmp(rs->r[i - 1].region, r->region) >= 0)
			return 0;
		if (r->status == TOPO_CREATING) {
			creating++;
			cr = r;
		}
	}
	if (creating > 1)
		return 0;
	if (creating == 0)
		return rs->source[0] == '\0';
	{
		const topo_replica *src = topo_rset_find(rs, rs->source);

		return src != NULL && src != cr && src->status == TOPO_ACTIVE;
	}
}

static int rset_find_idx(const topo_rset *rs, const char *region)
{
	for (uint32_t i = 0; i < rs->n && i < TOPO_REGIONS_MAX; i++) {
		if (name_eq(rs->r[i].region, region))
			return (int)i;
	}
	return -1;
}

const topo_replica *topo_rset_find(const topo_rset *rs, const char *region)
{
	int at;

	if (rs == NULL || region == NULL)
		return NULL;
	at = rset_find_idx(rs, region);
	return at < 0 ? NULL : &rs->r[at];
}

int topo_rset_updating(const topo_rset *rs)
{
	if (rs == NULL)
		return 0;
	for (uint32_t i = 0; i < rs->n && i < TOPO_REGIONS_MAX; i++) {
		if (rs->r[i].status == TOPO_CREATING)
			return 1;
	}
	return 0;
}

static void replica_set(topo_replica *r, const char *region,
    topo_rstatus st, uint8_t pct)
{
	memset(r, 0, sizeof(*r));
	name_set(r->region, region);
	r->status = st;
	r->progress_pct = pct;
}

void topo_rset_init(topo_rset *rs, const char *self)
{
	memset(rs, 0, sizeof(*rs));
	rs->epoch = 1;
	if (name_len(self) == 0)
		return;
	name_set(rs->changed_by, self);
	replica_set(&rs->r[0], self, TOPO_ACTIVE, 100);
	rs->n = 1;
}

void topo_rset_init_all(topo_rset *rs, const topo_members *m,
    const char *by)
{
	memset(rs, 0, sizeof(*rs));
	rs->epoch = 1;
	if (name_len(by) != 0)
		name_set(rs->changed_by, by);
	if (m == NULL)
		return;
	/* Members are sorted already when m is valid; insert anyway so an
	 * unsorted m still gives a sorted set (which check then judges). */
	for (uint32_t i = 0; i < m->n && i < TOPO_REGIONS_MAX; i++) {
		uint32_t j;

		if (name_len(m->r[i].name) == 0 ||
		    rset_find_idx(rs, m->r[i].name) >= 0)
			continue;
		for (j = rs->n; j > 0 &&
		    name_cmp(rs->r[j - 1].region, m->r[i].name) > 0; j--)
			rs->r[j] = rs->r[j - 1];
		replica_set(&rs->r[j], m->r[i].name, TOPO_ACTIVE, 100);
		rs->n++;
	}
}

/* Starts a change of rs made by `by`: copy, epoch + 1, changed_by. */
static void change_begin(const topo_rset *rs, const char *by, topo_rset *t)
{
	*t = *rs;
	t->epoch++;
	name_set(t->changed_by, by);
}

/* Removes replica at index i; clears source when nothing is CREATING. */
static void rset_remove(topo_rset *t, uint32_t i)
{
	memmove(&t->r[i], &t->r[i + 1], (t->n - i - 1) * sizeof(t->r[0]));
	t->n--;
	memset(&t->r[t->n], 0, sizeof(t->r[0]));
	if (!topo_rset_updating(t))
		memset(t->source, 0, sizeof(t->source));
}

static int active_count(const topo_rset *rs)
{
	int k = 0;

	for (uint32_t i = 0; i < rs->n; i++)
		k += rs->r[i].status == TOPO_ACTIVE;
	return k;
}

topo_refusal topo_rset_add(const topo_rset *rs, const topo_members *m,
    const char *by, const char *add, topo_rset *out)
{
	const topo_replica *src;
	topo_rset t;
	uint32_t i;

	if (rs == NULL || m == NULL || out == NULL || !topo_rset_check(rs) ||
	    !topo_members_check(m) || name_len(by) == 0 ||
	    rs->epoch >= TOPO_EPOCH_MAX)
		return TOPO_REFUSE_INVALID;
	if (name_len(add) == 0 || topo_members_find(m, add) == NULL)
		return TOPO_REFUSE_UNKNOWN_REGION;
	if (name_eq(add, by))
		return TOPO_REFUSE_SELF;
	if (topo_rset_find(rs, add) != NULL)
		return TOPO_REFUSE_ALREADY_REPLICA;
	if (topo_rset_updating(rs))
		return TOPO_REFUSE_BUSY;
	src = topo_rset_find(rs, by);
	if (src == NULL || src->status != TOPO_ACTIVE)
		return TOPO_REFUSE_NOT_REPLICA;
	if (rs->n == TOPO_REGIONS_MAX)
		return TOPO_REFUSE_INVALID; /* lists departed regions */
	change_begin(rs, by, &t);
	for (i = t.n; i > 0 && name_cmp(t.r[i - 1].region, add) > 0; i--)
		t.r[i] = t.r[i - 1];
	replica_set(&t.r[i], add, TOPO_CREATING, 0);
	t.n++;
	name_set(t.source, by);
	assert(topo_rset_check(&t));
	*out = t;
	return TOPO_OK;
}

topo_refusal topo_rset_drop(const topo_rset *rs, const char *by,
    const char *drop, topo_rset *out)
{
	topo_rset t;
	int at;

	if (rs == NULL || out == NULL || !topo_rset_check(rs) ||
	    name_len(by) == 0 || rs->epoch >= TOPO_EPOCH_MAX)
		return TOPO_REFUSE_INVALID;
	if (name_len(drop) == 0)
		return TOPO_REFUSE_NOT_REPLICA;
	at = rset_find_idx(rs, drop);
	if (at < 0)
		return TOPO_REFUSE_NOT_REPLICA;
	if (topo_rset_updating(rs) && rs->r[at].status != TOPO_CREATING)
		return TOPO_REFUSE_BUSY;
	if (rs->r[at].status == TOPO_ACTIVE && active_count(rs) == 1)
		return TOPO_REFUSE_LAST_REPLICA;
	change_begin(rs, by, &t);
	rset_remove(&t, (uint32_t)at);
	assert(topo_rset_check(&t));
	*out = t;
	return TOPO_OK;
}

/* The common part of progress / activate / fail. */
static gt_err rset_self_change(const topo_rset *rs, const char *region,
    topo_rstatus to, uint8_t pct, topo_rset *out)
{
	topo_rset t;
	int at;

	if (rs == NULL || out == NULL || !topo_rset_check(rs) ||
	    name_len(region) == 0 || pct > 100)
		return GT_EINVAL;
	at = rset_find_idx(rs, region);
	if (at < 0)
		return GT_ENOTFOUND;
	if (rs->r[at].status != TOPO_CREATING)
		return GT_ECONFLICT;
	if (rs->epoch >= TOPO_EPOCH_MAX)
		return GT_ELIMIT;
	change_begin(rs, region, &t);
	t.r[at].status = to;
	t.r[at].progress_pct = to == TOPO_ACTIVE ? 100 : pct;
	if (to != TOPO_CREATING)
		memset(t.source, 0, sizeof(t.source));
	assert(topo_rset_check(&t));
	*out = t;
	return GT_OK;
}

gt_err topo_rset_progress(const topo_rset *rs, const char *region,
    uint8_t pct, topo_rset *out)
{
	return rset_self_change(rs, region, TOPO_CREATING, pct, out);
}

gt_err topo_rset_activate(const topo_rset *rs, const char *region,
    topo_rset *out)
{
	return rset_self_change(rs, region, TOPO_ACTIVE, 100, out);
}

gt_err topo_rset_fail(const topo_rset *rs, const char *region,
    topo_rset *out)
{
	const topo_replica *r = topo_rset_find(rs, region);

	return rset_self_change(rs, region, TOPO_CREATION_FAILED,
	    r != NULL && r->progress_pct <= 100 ? r->progress_pct : 0, out);
}

int topo_rset_prune_by(const topo_rset *rs, const topo_members *m,
    const char *by, topo_rset *out)
{
	topo_rset t;
	uint32_t i;
	int changed = 0;

	if (rs == NULL || m == NULL || out == NULL || !topo_rset_check(rs) ||
	    !topo_members_check(m) || name_len(by) == 0 ||
	    rs->epoch >= TOPO_EPOCH_MAX)
		return 0;
	change_begin(rs, by, &t);
	if (t.source[0] != '\0' && topo_members_find(m, t.source) == NULL) {
		/* The add cannot finish without its source. */
		for (i = 0; i < t.n; i++) {
			if (t.r[i].status == TOPO_CREATING)
				t.r[i].status = TOPO_CREATION_FAILED;
		}
		memset(t.source, 0, sizeof(t.source));
		changed = 1;
	}
	for (i = 0; i < t.n;) {
		if (topo_members_find(m, t.r[i].region) == NULL) {
			rset_remove(&t, i);
			changed = 1;
		} else {
			i++;
		}
	}
	if (!changed)
		return 0;
	assert(topo_rset_check(&t));
	*out = t;
	return 1;
}

int topo_rset_prune(const topo_rset *rs, const topo_members *m,
    topo_rset *out)
{
	if (m == NULL)
		return 0;
	return topo_rset_prune_by(rs, m, m->changed_by, out);
}

/* 1 when incoming replaces local by the epoch order. */
static int rset_newer(const topo_rset *local, const topo_rset *incoming)
{
	if (local == NULL || !topo_rset_check(local))
		return 1;
	if (incoming->epoch != local->epoch)
		return incoming->epoch > local->epoch;
	return name_cmp(incoming->changed_by, local->changed_by) > 0;
}

topo_action topo_rset_on_incoming(const topo_rset *local, int has_local,
    const topo_rset *incoming, const char *self)
{
	const topo_replica *in, *lo;

	if (incoming == NULL || !topo_rset_check(incoming) ||
	    name_len(self) == 0)
		return TOPO_IGNORE;
	if (!rset_newer(local, incoming))
		return TOPO_IGNORE;
	in = topo_rset_find(incoming, self);
	lo = local != NULL && topo_rset_check(local) ?
	    topo_rset_find(local, self) : NULL;
	if (in == NULL || in->status == TOPO_CREATION_FAILED)
		return has_local ? TOPO_DROP : TOPO_UPDATE;
	if (in->status == TOPO_ACTIVE)
		return has_local ? TOPO_UPDATE : TOPO_CREATE_AND_BACKFILL;
	/* CREATING. */
	if (has_local && lo != NULL && lo->status == TOPO_CREATING &&
	    name_eq(local->source, incoming->source))
		return TOPO_UPDATE;
	return TOPO_CREATE_AND_BACKFILL;
}

const char *topo_rset_backfill_source(const topo_rset *rs, const char *self,
    unsigned attempt)
{
	const char *cand[TOPO_REGIONS_MAX + 2];
	const topo_replica *me, *r;
	unsigned n = 0;

	if (rs == NULL || !topo_rset_check(rs) || name_len(self) == 0)
		return NULL;
	me = topo_rset_find(rs, self);
	if (me != NULL && me->status == TOPO_CREATING)
		cand[n++] = rs->source;
	r = topo_rset_find(rs, rs->changed_by);
	if (r != NULL && r->status == TOPO_ACTIVE &&
	    !name_eq(r->region, self) && (n == 0 ||
	    !name_eq(cand[0], r->region)))
		cand[n++] = r->region;
	for (uint32_t i = 0; i < rs->n; i++) {
		unsigned j;

		r = &rs->r[i];
		if (r->status != TOPO_ACTIVE || name_eq(r->region, self))
			continue;
		for (j = 0; j < n; j++) {
			if (name_eq(cand[j], r->region))
				break;
		}
		if (j == n)
			cand[n++] = r->region;
	}
	return n == 0 ? NULL : cand[attempt % n];
}

int topo_rset_accepts(const topo_rset *rs, const char *origin)
{
	return name_len(origin) != 0 && topo_rset_find(rs, origin) != NULL;
}

const char *topo_rstatus_name(topo_rstatus s)
{
	switch (s) {
	case TOPO_CREATING:
		return "CREATING";
	case TOPO_ACTIVE:
		return "ACTIVE";
	case TOPO_CREATION_FAILED:
		return "CREATION_FAILED";
	}
	return "UNKNOWN";
}

void topo_rset_json(const topo_rset *rs, gt_buf *out)
{
	gt_buf_printf(out, "{\"Epoch\":%llu,\"ChangedBy\":",
	    (unsigned long long)rs->epoch);
	json_name(out, rs->changed_by, CF_REGION_NAME_MAX);
	if (rs->source[0] != '\0') {
		gt_buf_puts(out, ",\"Source\":");
		json_name(out, rs->source, CF_REGION_NAME_MAX);
	}
	gt_buf_puts(out, ",\"Replicas\":[");
	for (uint32_t i = 0; i < rs->n && i < TOPO_REGIONS_MAX; i++) {
		const topo_replica *r = &rs->r[i];

		gt_buf_puts(out, i ? ",{\"RegionName\":" :
		    "{\"RegionName\":");
		json_name(out, r->region, CF_REGION_NAME_MAX);
		gt_buf_printf(out, ",\"ReplicaStatus\":\"%s\",\"Progress\":%u}",
		    topo_rstatus_name(r->status), (unsigned)r->progress_pct);
	}
	gt_buf_puts(out, "]}");
}

static int status_parse(const cJSON *v, topo_rstatus *out)
{
	static const topo_rstatus all[] = {TOPO_CREATING, TOPO_ACTIVE,
	    TOPO_CREATION_FAILED};

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return 0;
	for (size_t i = 0; i < GT_ARRAY_LEN(all); i++) {
		if (strcmp(v->valuestring, topo_rstatus_name(all[i])) == 0) {
			*out = all[i];
			return 1;
		}
	}
	return 0;
}

gt_err topo_rset_parse(const char *json, size_t len, topo_rset *out)
{
	static const char *const top[] = {"Epoch", "ChangedBy", "Replicas",
	    "Source"};
	static const char *const rep[] = {"RegionName", "ReplicaStatus",
	    "Progress"};
	topo_rset t;
	const cJSON *c, *v;
	gt_err err;
	cJSON *root;

	if (out == NULL)
		return GT_EINVAL;
	root = json_object_parse(json, len, &err);
	if (root == NULL)
		return err;
	err = GT_EINVAL;
	memset(&t, 0, sizeof(t));
	if (!keys_ok(root, top, 4, 7u))
		goto out;
	if (!json_uint(cJSON_GetObjectItemCaseSensitive(root, "Epoch"),
	    TOPO_EPOCH_MAX, &t.epoch) ||
	    !json_name_get(cJSON_GetObjectItemCaseSensitive(root,
	    "ChangedBy"), t.changed_by))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "Source");
	if (v != NULL && !json_name_get(v, t.source))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "Replicas");
	if (!cJSON_IsArray(v))
		goto out;
	for (c = v->child; c != NULL; c = c->next) {
		topo_replica r;
		uint64_t pct;

		if (t.n == TOPO_REGIONS_MAX) {
			err = GT_ELIMIT;
			goto out;
		}
		memset(&r, 0, sizeof(r));
		if (!cJSON_IsObject(c) || !keys_ok(c, rep, 3, 7u) ||
		    !json_name_get(cJSON_GetObjectItemCaseSensitive(c,
		    "RegionName"), r.region) ||
		    !status_parse(cJSON_GetObjectItemCaseSensitive(c,
		    "ReplicaStatus"), &r.status) ||
		    !json_uint(cJSON_GetObjectItemCaseSensitive(c,
		    "Progress"), 100, &pct))
			goto out;
		r.progress_pct = (uint8_t)pct;
		if (!sorted_insert(t.r, &t.n, sizeof(t.r[0]),
		    offsetof(topo_replica, region), &r))
			goto out;
	}
	if (!topo_rset_check(&t))
		goto out;
	*out = t;
	err = GT_OK;
out:
	cJSON_Delete(root);
	return err;
}

/* ---------------------------------------------------------------- backfill */

/* 1 when a (n entries) has only valid, distinct regions. */
static int cursors_ok(const topo_cursor *a, size_t n)
{
	if (n > TOPO_CURSORS_MAX || (a == NULL && n > 0))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (name_len(a[i].region) == 0)
			return 0;
		for (size_t j = 0; j < i; j++) {
			if (name_eq(a[i].region, a[j].region))
				return 0;
		}
	}
	return 1;
}

static const topo_cursor *cursor_find(const topo_cursor *a, size_t n,
    const char *region)
{
	for (size_t i = 0; i < n; i++) {
		if (name_eq(a[i].region, region))
			return &a[i];
	}
	return NULL;
}

/* Inserts {region, seq} into out[0..*n) sorted, unless present. */
static void cursor_insert(topo_cursor *out, size_t *n, const char *region,
    uint64_t seq)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (name_eq(out[i].region, region))
			return;
	}
	for (i = *n; i > 0 && name_cmp(out[i - 1].region, region) > 0; i--)
		out[i] = out[i - 1];
	memset(&out[i], 0, sizeof(out[i]));
	name_set(out[i].region, region);
	out[i].seq = seq;
	(*n)++;
}

size_t topo_backfill_cursors(const topo_cursor *local, size_t nlocal,
    const topo_cursor *source, size_t nsource, topo_cursor *out,
    size_t max)
{
	topo_cursor tmp[2 * TOPO_CURSORS_MAX];
	size_t n = 0, i;

	if (!cursors_ok(local, nlocal) || !cursors_ok(source, nsource) ||
	    (out == NULL && max > 0))
		return 0;
	for (i = 0; i < nlocal; i++) {
		const topo_cursor *s = cursor_find(source, nsource,
		    local[i].region);

		cursor_insert(tmp, &n, local[i].region,
		    s == NULL ? 0 : GT_MIN(local[i].seq, s->seq));
	}
	/* Origins only the source has: the new replica applied nothing. */
	for (i = 0; i < nsource; i++)
		cursor_insert(tmp, &n, source[i].region, 0);
	if (n > max)
		return 0;
	if (n > 0)
		memcpy(out, tmp, n * sizeof(*out));
	return n;
}
