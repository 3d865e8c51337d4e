/*
 * legacy.h — DynamoDB's legacy (pre-expression) request parameters,
 * rewritten into the equivalent expression parameters so the rest of the
 * region node only ever evaluates expressions.
 *
 *   Expected (+ ConditionalOperator)       -> ConditionExpression
 *   AttributeUpdates                       -> UpdateExpression
 *   KeyConditions                          -> KeyConditionExpression
 *   QueryFilter / ScanFilter (+ ConditionalOperator) -> FilterExpression
 *   AttributesToGet                        -> ProjectionExpression
 *
 * Every attribute name the rewrite needs is a generated placeholder "#lgN"
 * in ExpressionAttributeNames and every value a placeholder ":lgN" in
 * ExpressionAttributeValues, so names holding dots, brackets or reserved
 * words need no quoting.  Placeholders never collide with the caller's.
 *
 * The checks DynamoDB runs on the mix of legacy and expression parameters
 * live here too, because they must see the request before it is rewritten:
 * mixing both kinds, and ExpressionAttributeNames/Values without any
 * expression that could use them.
 */
#ifndef RN_LEGACY_H
#define RN_LEGACY_H

#include <cjson/cJSON.h>

#include "gt.h"
#include "value.h"

/* The most entries one legacy map or list may hold (Expected, filters,
 * AttributeUpdates, AttributesToGet).  Far more than the 4 KB expression a
 * rewrite must fit in could carry; it bounds the work on hostile input. */
#define RN_LEGACY_ENTRIES_MAX 1024

/*
 * Rewrites the legacy parameters of one request in place.  Call it first
 * in a data-plane handler, before any other field of req is read.
 *
 * op is the operation name: "PutItem", "DeleteItem", "UpdateItem",
 * "GetItem", "Query", "Scan", or "BatchGetItem" — for BatchGetItem pass
 * each table's object of RequestItems in turn.  Any other op (the
 * transactions have no legacy form) returns GT_OK and leaves req alone.
 * Members that are not parameters of op are ignored, as DynamoDB does.
 *
 * req (borrowed, modified in place) is the request object.  On success the
 * legacy members are removed and the expression members plus their
 * ExpressionAttributeNames / ExpressionAttributeValues entries added
 * (maps are created when absent; Query may keep the caller's maps when
 * KeyConditions comes with a FilterExpression or ProjectionExpression,
 * which DynamoDB allows).  Values are copied in canonical form
 * (rn_av_validate).  A JSON null member counts as absent; null legacy
 * members are removed.  A request without legacy parameters costs a few
 * member lookups and is left as it was.  On error req is unchanged.
 *
 * Errors (msg receives DynamoDB's message):
 *   GT_EINVAL   ValidationException: legacy and expression parameters
 *               mixed; ExpressionAttributeNames/Values with no expression
 *               ("... can only be specified when using expressions", also
 *               checked on requests with no legacy parameter); malformed
 *               conditions, argument counts and types, bad actions, enum
 *               values, duplicate AttributesToGet, more than
 *               RN_LEGACY_ENTRIES_MAX entries.
 *   GT_ECORRUPT SerializationException: a member of the wrong JSON type,
 *               or a value payload of the wrong JSON type.
 *   GT_ENOMEM
 */
gt_err rn_legacy_rewrite(const char *op, cJSON *req, char msg[RN_MSG_MAX]);

#endif /* RN_LEGACY_H */
