/*
 * api_index.c — the control plane of secondary indexes: the
 * GlobalSecondaryIndexes / LocalSecondaryIndexes members of CreateTable,
 * UpdateTable's GlobalSecondaryIndexUpdates, and their DescribeTable
 * descriptions.  Validation follows DynamoDB's rules and messages; the
 * data side is index.c.
 */
#include "api_int.h"
#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is name defined in ad (AttributeDefinitions)? */
static const cJSON *ad_find(const cJSON *ad, const char *name)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, ad) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(a,
		    "AttributeName");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return a;
	}
	return NULL;
}

/* The attribute name of ks's element with KeyType role, or NULL. */
static const char *ks_attr(const cJSON *ks, const char *role)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, ks) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e,
		    "AttributeName");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "KeyType");
		if (cJSON_IsString(n) && cJSON_IsString(r) &&
		    strcmp(r->valuestring, role) == 0)
			return n->valuestring;
	}
	return NULL;
}

int rn_keyschema_parse(rn_call *c, const cJSON *ks, const cJSON *ad,
    const char *member)
{
	const cJSON *e;
	char path[96];
	int n = 0;

	/* The coral path of the KeySchema: the table's, or an index's. */
	snprintf(path, sizeof(path), "%s%skeySchema", member ? member : "",
	    member ? "." : "");
	if (!cJSON_IsArray(ks) || cJSON_GetArraySize(ks) < 1 ||
	    cJSON_GetArraySize(ks) > 2) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value at '%s' failed to satisfy "
		    "constraint: Member must have length %s", path,
		    cJSON_GetArraySize(ks) > 2 ? "less than or equal to 2" :
		    "greater than or equal to 1");
		return -1;
	}
	cJSON_ArrayForEach(e, ks) {
		const char *an = NULL, *kt = NULL;
		if (!cJSON_IsObject(e)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in KeySchema");
			return -1;
		}
		if (rn_req_str(c, e, "AttributeName",
		    "keySchema.member.attributeName", 1, &an) != 0 ||
		    rn_req_str(c, e, "KeyType", "keySchema.member.keyType", 1,
		    &kt) != 0)
			return -1;
		if (strcmp(kt, "HASH") != 0 && strcmp(kt, "RANGE") != 0) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value '%s' at "
			    "'%s.%d.member.keyType' failed to satisfy "
			    "constraint: Member must satisfy enum value set: "
			    "[HASH, RANGE]", kt, path, n + 1);
			return -1;
		}
		if ((n == 0) != (strcmp(kt, "HASH") == 0)) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Invalid KeySchema: "
			    "%s", n == 0 ? "The first KeySchemaElement is not a "
			    "HASH key type" : "The second KeySchemaElement is "
			    "not a RANGE key type");
			return -1;
		}
		if (ad_find(ad, an) == NULL) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Some index key "
			    "attributes are not defined in "
			    "AttributeDefinitions. Keys: [%s], "
			    "AttributeDefinitions: [...]", an);
			return -1;
		}
		if (n == 1 && strcmp(ks_attr(ks, "HASH"), an) == 0) {
			rn_call_error(c, 400, RN_E_VALIDATION, "Invalid "
			    "KeySchema: Some index key attribute have no "
			    "definition");
			return -1;
		}
		n++;
	}
	return 0;
}

/* Validates a Projection into a clean copy (*out, owned). */
static int projection_parse(rn_call *c, const cJSON *o, const char *member,
    const char *name, int *nonkey, cJSON **out)
{
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "Projection");
	cJSON *nk = NULL, *copy;
	const char *pt = NULL;
	const cJSON *a;

	if (pr == NULL) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value null at '%s.projection' failed to "
		    "satisfy constraint: Member must not be null", member);
		return -1;
	}
	if (!cJSON_IsObject(pr)) {
		rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected value "
		    "type in Projection");
		return -1;
	}
	if (rn_req_str(c, pr, "ProjectionType", "projection.projectionType",
	    0, &pt) != 0 || rn_req_arr(c, pr, "NonKeyAttributes",
	    "projection.nonKeyAttributes", 0, &nk) != 0)
		return -1;
	if (pt == NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: Unknown ProjectionType: null");
		return -1;
	}
	if (strcmp(pt, "ALL") != 0 && strcmp(pt, "KEYS_ONLY") != 0 &&
	    strcmp(pt, "INCLUDE") != 0) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value '%s' at '%s.projection."
		    "projectionType' failed to satisfy constraint: Member must "
		    "satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]", pt,
		    member);
		return -1;
	}
	if (strcmp(pt, "INCLUDE") != 0 && nk != NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: ProjectionType is %s, but "
		    "NonKeyAttributes is specified", pt);
		return -1;
	}
	if (strcmp(pt, "INCLUDE") == 0 && cJSON_GetArraySize(nk) == 0) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: NonKeyAttributes must be specified "
		    "when ProjectionType is INCLUDE for index: %s", name);
		return -1;
	}
	cJSON_ArrayForEach(a, nk) {
		if (!cJSON_IsString(a) || a->valuestring[0] == '\0' ||
		    strlen(a->valuestring) > RN_ATTR_NAME_MAX) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: NonKeyAttributes "
			    "must be attribute names of 1 to 255 bytes");
			return -1;
		}
		(*nonkey)++;
	}
	if (*nonkey > RN_INDEX_NONKEY_MAX) {
		rn_call_error(c, 400, RN_E_LIMIT, "One or more parameter values "
		    "were invalid: The sum of NonKeyAttributes across all "
		    "secondary indexes exceeds the limit of %d",
		    RN_INDEX_NONKEY_MAX);
		return -1;
	}
	copy = cJSON_CreateObject();
	if (copy == NULL)
		return -1;
	cJSON_AddStringToObject(copy, "ProjectionType", pt);
	if (nk != NULL)
		cJSON_AddItemToObject(copy, "NonKeyAttributes",
		    cJSON_Duplicate(nk, 1));
	*out = copy;
	return 0;
}

/* Validates one index definition of a request into a clean descriptor
 * object (*out, owned).  table_ks is the table's KeySchema. */
static int index_def_parse(rn_call *c, const cJSON *o, int local,
    const cJSON *ad, const cJSON *table_ks, const char *billing,
    const char *member, int *nonkey, cJSON **out)
{
	const char *name = NULL;
	cJSON *ks = NULL, *pt = NULL, *proj = NULL, *d;

	if (!cJSON_IsObject(o)) {
		rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected value "
		    "type in %s", local ? "LocalSecondaryIndexes" :
		    "GlobalSecondaryIndexes");
		return -1;
	}
	if (rn_req_str(c, o, "IndexName", "indexName", 1, &name) != 0 ||
	    rn_check_table_name(c, name, "indexName") != 0 ||
	    rn_req_arr(c, o, "KeySchema", "keySchema", 1, &ks) != 0 ||
	    rn_req_obj(c, o, "ProvisionedThroughput", "provisionedThroughput",
	    0, &pt) != 0 ||
	    rn_keyschema_parse(c, ks, ad, member) != 0)
		return -1;
	if (local) {
		const char *th = ks_attr(table_ks, "HASH");
		const char *ih = ks_attr(ks, "HASH");
		if (ks_attr(table_ks, "RANGE") == NULL) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Table KeySchema "
			    "does not have a range key, which is required when "
			    "specifying a LocalSecondaryIndex");
			return -1;
		}
		if (strcmp(th, ih) != 0) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Index KeySchema "
			    "does not have the same leading hash key as table "
			    "KeySchema for index: %s. index hash key: %s, table "
			    "hash key: %s", name, ih, th);
			return -1;
		}
		if (ks_attr(ks, "RANGE") == NULL) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Index KeySchema "
			    "does not have a range key for index: %s", name);
			return -1;
		}
		if (pt != NULL) {
			rn_call_error(c, 400, RN_E_SERIALIZATION,
			    "ProvisionedThroughput is not a member of "
			    "LocalSecondaryIndex");
			return -1;
		}
	} else if (strcmp(billing, "PROVISIONED") == 0 && pt == NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: ProvisionedThroughput must be "
		    "specified for index: %s", name);
		return -1;
	} else if (strcmp(billing, "PAY_PER_REQUEST") == 0 && pt != NULL) {
		rn_call_error(c, 400, RN_E_VALIDATION, "One or more parameter "
		    "values were invalid: ProvisionedThroughput should not be "
		    "specified for index: %s when BillingMode is "
		    "PAY_PER_REQUEST", name);
		return -1;
	}
	if (pt != NULL) {
		long long r = 0, w = 0;
		if (rn_req_int(c, pt, "ReadCapacityUnits",
		    "provisionedThroughput.readCapacityUnits", 1,
		    1000000000000LL, &r) != 0 ||
		    rn_req_int(c, pt, "WriteCapacityUnits",
		    "provisionedThroughput.writeCapacityUnits", 1,
		    1000000000000LL, &w) != 0)
			return -1;
	}
	if (projection_parse(c, o, member, name, nonkey, &proj) != 0)
		return -1;
	d = cJSON_CreateObject();
	if (d == NULL) {
		cJSON_Delete(proj);
		return -1;
	}
	cJSON_AddStringToObject(d, "IndexName", name);
	cJSON_AddItemToObject(d, "KeySchema", cJSON_Duplicate(ks, 1));
	cJSON_AddItemToObject(d, "Projection", proj);
	if (pt != NULL)
		cJSON_AddItemToObject(d, "ProvisionedThroughput",
		    cJSON_Duplicate(pt, 1));
	*out = d;
	return 0;
}

/* Is attribute an a key attribute of the table or of one of its indexes? */
static int attr_used(const cJSON *desc, const char *an)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	const cJSON *ks = cJSON_GetObjectItemCaseSensitive(desc, "KeySchema");
	const char *h = ks_attr(ks, "HASH"), *r = ks_attr(ks, "RANGE");
	const cJSON *o;

	if ((h && strcmp(h, an) == 0) || (r && strcmp(r, an) == 0))
		return 1;
	for (int m = 0; m < 2; m++) {
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m])) {
			const cJSON *iks = cJSON_GetObjectItemCaseSensitive(o,
			    "KeySchema");
			h = ks_attr(iks, "HASH");
			r = ks_attr(iks, "RANGE");
			if ((h && strcmp(h, an) == 0) || (r && strcmp(r, an) ==
			    0))
				return 1;
		}
	}
	return 0;
}

/* Every defined attribute must be a key of the table or of an index. */
static int ad_all_used(rn_call *c, const cJSON *desc)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(desc,
	    "AttributeDefinitions")) {
		const char *an = cJSON_GetObjectItemCaseSensitive(a,
		    "AttributeName")->valuestring;
		if (!attr_used(desc, an)) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: Some "
			    "AttributeDefinitions are not used. "
			    "AttributeDefinitions: [...], keys used: [...] "
			    "(unused: %s)", an);
			return -1;
		}
	}
	return 0;
}

/* The names of the indexes in desc so far, for the duplicate check. */
static int name_taken(const cJSON *desc, const char *name)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	const cJSON *o;

	for (int m = 0; m < 2; m++)
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m])) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(o,
			    "IndexName");
			if (cJSON_IsString(n) && strcmp(n->valuestring, name) ==
			    0)
				return 1;
		}
	return 0;
}

static int nonkey_count(const cJSON *desc)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	const cJSON *o;
	int n = 0;

	for (int m = 0; m < 2; m++)
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc,
		    member[m]))
			n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(o, "Projection"),
			    "NonKeyAttributes"));
	return n;
}

int rn_index_req_create(rn_call *c, const cJSON *gsi, const cJSON *lsi,
    cJSON *desc)
{
	const cJSON *ad = cJSON_GetObjectItemCaseSensitive(desc,
	    "AttributeDefinitions");
	const cJSON *ks = cJSON_GetObjectItemCaseSensitive(desc, "KeySchema");
	const cJSON *bm = cJSON_GetObjectItemCaseSensitive(desc,
	    "BillingMode");
	const cJSON *src[2] = {gsi, lsi};
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};
	static const char *const path[2] = {"globalSecondaryIndexes",
	    "localSecondaryIndexes"};
	static const int max[2] = {RN_GSI_MAX, RN_LSI_MAX};
	int nonkey = 0;

	for (int m = 0; m < 2; m++) {
		const cJSON *o;
		cJSON *arr;
		int i = 0;
		if (src[m] == NULL)
			continue;
		if (cJSON_GetArraySize(src[m]) < 1 ||
		    cJSON_GetArraySize(src[m]) > max[m]) {
			rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 "
			    "validation error detected: Value at '%s' failed "
			    "to satisfy constraint: Member must have length %s "
			    "%d", path[m], cJSON_GetArraySize(src[m]) < 1 ?
			    "greater than or equal to" : "less than or equal "
			    "to", cJSON_GetArraySize(src[m]) < 1 ? 1 : max[m]);
			return -1;
		}
		arr = cJSON_AddArrayToObject(desc, member[m]);
		if (arr == NULL)
			return -1;
		cJSON_ArrayForEach(o, src[m]) {
			char mp[64];
			cJSON *d = NULL;
			snprintf(mp, sizeof(mp), "%s.%d.member", path[m], ++i);
			if (index_def_parse(c, o, m == 1, ad, ks, cJSON_IsString(
			    bm) ? bm->valuestring : "PROVISIONED", mp, &nonkey,
			    &d) != 0)
				return -1;
			if (name_taken(desc, cJSON_GetObjectItemCaseSensitive(d,
			    "IndexName")->valuestring)) {
				rn_call_error(c, 400, RN_E_VALIDATION, "One or "
				    "more parameter values were invalid: "
				    "Duplicate index name: %s",
				    cJSON_GetObjectItemCaseSensitive(d,
				    "IndexName")->valuestring);
				cJSON_Delete(d);
				return -1;
			}
			cJSON_AddItemToArray(arr, d);
		}
	}
	return ad_all_used(c, desc);
}

/* The IndexName of an Update or Delete, which must name a GSI of t. */
static int gsi_named(rn_call *c, const cJSON *o, const rn_table *t,
    const char **name)
{
	const rn_index *ix;

	if (rn_req_str(c, o, "IndexName", "indexName", 1, name) != 0)
		return -1;
	ix = rn_index_find(t, *name);
	if (ix == NULL || ix->local) {
		rn_call_error(c, 400, RN_E_NOT_FOUND, "Requested resource not "
		    "found: Index: %s not found", *name);
		return -1;
	}
	return 0;
}

int rn_index_req_update(rn_call *c, const cJSON *req, const cJSON *updates,
    const rn_table *t, cJSON *desc)
{
	const cJSON *u, *ad_req = cJSON_GetObjectItemCaseSensitive(req,
	    "AttributeDefinitions");
	cJSON *ad = cJSON_GetObjectItemCaseSensitive(desc,
	    "AttributeDefinitions");
	const cJSON *bm = cJSON_GetObjectItemCaseSensitive(desc,
	    "BillingMode");
	int changes = 0;

	if (cJSON_GetArraySize(updates) < 1) {
		rn_call_error(c, 400, RN_E_CORAL_VALIDATION, "1 validation "
		    "error detected: Value at 'globalSecondaryIndexUpdates' "
		    "failed to satisfy constraint: Member must have length "
		    "greater than or equal to 1");
		return -1;
	}
	/* New attribute definitions join the table's; a redefinition must
	 * not change a type. */
	if (ad_req != NULL && !cJSON_IsArray(ad_req)) {
		rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected value "
		    "type in AttributeDefinitions");
		return -1;
	}
	{
		const cJSON *a;
		cJSON_ArrayForEach(a, ad_req) {
			const char *an = NULL, *at = NULL;
			const cJSON *have;
			if (!cJSON_IsObject(a) || rn_req_str(c, a,
			    "AttributeName",
			    "attributeDefinitions.member.attributeName", 1,
			    &an) != 0 || rn_req_str(c, a, "AttributeType",
			    "attributeDefinitions.member.attributeType", 1,
			    &at) != 0) {
				if (!cJSON_IsObject(a))
					rn_call_error(c, 400, RN_E_SERIALIZATION,
					    "Unexpected value type in "
					    "AttributeDefinitions");
				return -1;
			}
			if ((strcmp(at, "S") != 0 && strcmp(at, "N") != 0 &&
			    strcmp(at, "B") != 0) || an[0] == '\0' ||
			    strlen(an) > RN_ATTR_NAME_MAX) {
				rn_call_error(c, 400, RN_E_VALIDATION, "One or "
				    "more parameter values were invalid: "
				    "invalid attribute definition for %s", an);
				return -1;
			}
			have = ad_find(ad, an);
			if (have != NULL) {
				if (strcmp(cJSON_GetObjectItemCaseSensitive(have,
				    "AttributeType")->valuestring, at) != 0) {
					rn_call_error(c, 400, RN_E_VALIDATION,
					    "One or more parameter values were "
					    "invalid: Cannot change the type of "
					    "attribute %s", an);
					return -1;
				}
				continue;
			}
			cJSON_AddItemToArray(ad, cJSON_Duplicate(a, 1));
		}
	}
	cJSON_ArrayForEach(u, updates) {
		cJSON *cr = NULL, *dl = NULL, *up = NULL;
		if (!cJSON_IsObject(u)) {
			rn_call_error(c, 400, RN_E_SERIALIZATION, "Unexpected "
			    "value type in GlobalSecondaryIndexUpdates");
			return -1;
		}
		if (rn_req_obj(c, u, "Create", "create", 0, &cr) != 0 ||
		    rn_req_obj(c, u, "Delete", "delete", 0, &dl) != 0 ||
		    rn_req_obj(c, u, "Update", "update", 0, &up) != 0)
			return -1;
		if ((cr != NULL) + (dl != NULL) + (up != NULL) != 1) {
			rn_call_error(c, 400, RN_E_VALIDATION, "One or more "
			    "parameter values were invalid: One of Create, "
			    "Update or Delete must be specified in a "
			    "GlobalSecondaryIndexUpdate");
			return -1;
		}
		if (up != NULL) {
			const char *nm = NULL;
			if (gsi_named(c, up, t, &nm) != 0)
				return -1;
			continue; /* throughput is not enforced */
		}
		/* One index change at a time, and none while one builds. */
		if (++changes > 1 || rn_table_backfilling(t)) {
			rn_call_error(c, 400, RN_E_LIMIT, "Subscriber limit "
			    "exceeded: Only 1 online index can be created or "
			    "deleted simultaneously per table");
			return -1;
		}
		if (dl != NULL) {
			const char *nm = NULL;
			cJSON *arr = cJSON_GetObjectItemCaseSensitive(desc,
			    "GlobalSecondaryIndexes"), *o;
			int at = 0;
			if (gsi_named(c, dl, t, &nm) != 0)
				return -1;
			cJSON_ArrayForEach(o, arr) {
				const cJSON *n = cJSON_GetObjectItemCaseSensitive(
				    o, "IndexName");
				if (cJSON_IsString(n) &&
				    strcmp(n->valuestring, nm) == 0)
					break;
				at++;
			}
			cJSON_DeleteItemFromArray(arr, at);
			if (cJSON_GetArraySize(arr) == 0)
				cJSON_DeleteItemFromObjectCaseSensitive(desc,
				    "GlobalSecondaryIndexes");
		} else {
			int nonkey = nonkey_count(desc);
			cJSON *d = NULL, *arr;
			if (index_def_parse(c, cr, 0, ad,
			    cJSON_GetObjectItemCaseSensitive(desc, "KeySchema"),
			    cJSON_IsString(bm) ? bm->valuestring : "PROVISIONED",
			    "globalSecondaryIndexUpdates.1.member.create",
			    &nonkey, &d) != 0)
				return -1;
			if (name_taken(desc, cJSON_GetObjectItemCaseSensitive(d,
			    "IndexName")->valuestring)) {
				rn_call_error(c, 400, RN_E_VALIDATION, "One or "
				    "more parameter values were invalid: Index "
				    "with name %s already exists",
				    cJSON_GetObjectItemCaseSensitive(d,
				    "IndexName")->valuestring);
				cJSON_Delete(d);
				return -1;
			}
			arr = cJSON_GetObjectItemCaseSensitive(desc,
			    "GlobalSecondaryIndexes");
			if (arr == NULL)
				arr = cJSON_AddArrayToObject(desc,
				    "GlobalSecondaryIndexes");
			if (cJSON_GetArraySize(arr) >= RN_GSI_MAX) {
				rn_call_error(c, 400, RN_E_LIMIT, "One or more "
				    "parameter values were invalid: a table can "
				    "have at most %d global secondary indexes",
				    RN_GSI_MAX);
				cJSON_Delete(d);
				return -1;
			}
			cJSON_AddItemToArray(arr, d);
		}
	}
	/* Definitions no key uses any more are dropped, as DynamoDB does. */
	{
		cJSON *a = ad ? ad->child : NULL;
		while (a != NULL) {
			cJSON *next = a->next;
			const cJSON *an = cJSON_GetObjectItemCaseSensitive(a,
			    "AttributeName");
			if (cJSON_IsString(an) && !attr_used(desc,
			    an->valuestring))
				cJSON_Delete(cJSON_DetachItemViaPointer(ad, a));
			a = next;
		}
	}
	return 0;
}

/* Adds IndexSizeBytes and ItemCount from the index statistics. */
static void add_stats(rn_node *n, cJSON *o, uint32_t id)
{
	uint64_t count = 0, bytes = 0;
	MDB_txn *txn = NULL;

	if (rn_store_read_begin(n->store, &txn) == GT_OK) {
		(void)rn_stats_read(txn, rn_store_dbs(n->store), id, &count,
		    &bytes);
		rn_store_read_end(txn);
	}
	cJSON_AddNumberToObject(o, "IndexSizeBytes", (double)bytes);
	cJSON_AddNumberToObject(o, "ItemCount", (double)count);
}

void rn_index_describe(rn_node *n, const rn_table *t, const char *table_arn,
    cJSON *o)
{
	static const char *const member[2] = {"GlobalSecondaryIndexes",
	    "LocalSecondaryIndexes"};

	for (int m = 0; m < 2; m++) {
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(t->desc,
		    member[m]), *d;
		cJSON *arr;
		if (cJSON_GetArraySize(src) == 0)
			continue;
		arr = cJSON_AddArrayToObject(o, member[m]);
		cJSON_ArrayForEach(d, src) {
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(d,
			    "IndexName");
			const rn_index *ix = cJSON_IsString(nm) ?
			    rn_index_find(t, nm->valuestring) : NULL;
			cJSON *e = cJSON_CreateObject();
			char arn[768];
			if (e == NULL || ix == NULL) {
				cJSON_Delete(e);
				continue;
			}
			cJSON_AddStringToObject(e, "IndexName", nm->valuestring);
			cJSON_AddItemToObject(e, "KeySchema", cJSON_Duplicate(
			    cJSON_GetObjectItemCaseSensitive(d, "KeySchema"),
			    1));
			cJSON_AddItemToObject(e, "Projection", cJSON_Duplicate(
			    cJSON_GetObjectItemCaseSensitive(d, "Projection"),
			    1));
			if (m == 0) {
				const cJSON *pt =
				    cJSON_GetObjectItemCaseSensitive(d,
				    "ProvisionedThroughput");
				cJSON *x;
				cJSON_AddStringToObject(e, "IndexStatus",
				    ix->backfilling ? "CREATING" : "ACTIVE");
				if (ix->backfilling)
					cJSON_AddBoolToObject(e, "Backfilling",
					    1);
				x = cJSON_AddObjectToObject(e,
				    "ProvisionedThroughput");
				cJSON_AddNumberToObject(x,
				    "NumberOfDecreasesToday", 0);
				cJSON_AddNumberToObject(x, "ReadCapacityUnits",
				    cJSON_GetNumberValue(
				    cJSON_GetObjectItemCaseSensitive(pt,
				    "ReadCapacityUnits")) > 0 ?
				    cJSON_GetNumberValue(
				    cJSON_GetObjectItemCaseSensitive(pt,
				    "ReadCapacityUnits")) : 0);
				cJSON_AddNumberToObject(x, "WriteCapacityUnits",
				    cJSON_GetNumberValue(
				    cJSON_GetObjectItemCaseSensitive(pt,
				    "WriteCapacityUnits")) > 0 ?
				    cJSON_GetNumberValue(
				    cJSON_GetObjectItemCaseSensitive(pt,
				    "WriteCapacityUnits")) : 0);
			}
			add_stats(n, e, ix->kt->id);
			snprintf(arn, sizeof(arn), "%s/index/%s", table_arn,
			    nm->valuestring);
			cJSON_AddStringToObject(e, "IndexArn", arn);
			cJSON_AddItemToArray(arr, e);
		}
	}
}
