"""TransactWriteItems and TransactGetItems: all-or-nothing writes, the
cancellation reasons, nothing logged for a cancelled transaction, the
validation rules, ClientRequestToken idempotency, snapshot reads — through
the boto3 client, the resource's client and the AWS CLI."""

import http.client
import json
import re
import threading
import uuid
from decimal import Decimal

import botocore.exceptions

from harness import HOST, NodeTestCase, create_table

T = "txn_a"     # pk S
T2 = "txn_b"    # pk S, sk N

CANCELLED = "TransactionCanceledException"


def cancel_message(codes):
    return ("Transaction cancelled, please refer cancellation reasons for "
            "specific reasons [%s]" % ", ".join(codes))


class TransactionsTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        create_table(c, T)
        create_table(c, T2, range_key=("sk", "N"))

    # ---------------------------------------------------------- helpers

    def last_seq(self):
        status, _, body = self.node.http_get("/metrics")
        self.assertEqual(status, 200)
        m = re.search(r'^meridian_log_last_seq\{[^}]*\} (\d+)$',
                      body.decode(), re.M)
        self.assertIsNotNone(m, "meridian_log_last_seq missing")
        return int(m.group(1))

    def get(self, pk, table=T, sk=None):
        key = {"pk": {"S": pk}}
        if sk is not None:
            key["sk"] = {"N": str(sk)}
        return self.c.get_item(TableName=table, Key=key,
                               ConsistentRead=True).get("Item")

    def put(self, item, table=T):
        self.c.put_item(TableName=table, Item=item)

    def cancelled(self, items, client=None, **kw):
        """Runs a transaction that must be cancelled; returns the
        CancellationReasons and checks the message matches them."""
        c = client or self.c
        try:
            c.transact_write_items(TransactItems=items, **kw)
        except botocore.exceptions.ClientError as e:
            err = e.response["Error"]
            self.assertEqual(err["Code"], CANCELLED, err.get("Message"))
            self.assertEqual(
                e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
            reasons = e.response["CancellationReasons"]
            self.assertEqual(len(reasons), len(items))
            self.assertEqual(err["Message"],
                             cancel_message([r["Code"] for r in reasons]))
            return reasons
        self.fail("transaction was not cancelled")

    # ------------------------------------------------------- successes

    def test_all_action_kinds_commit_together(self):
        self.put({"pk": {"S": "k-upd"}, "n": {"N": "1"}})
        self.put({"pk": {"S": "k-del"}, "x": {"S": "bye"}})
        self.put({"pk": {"S": "k-chk"}, "ok": {"BOOL": True}})
        seq0 = self.last_seq()
        resp = self.c.transact_write_items(TransactItems=[
            {"Put": {"TableName": T, "Item": {"pk": {"S": "k-put"},
                                              "v": {"S": "new"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": T, "Key": {"pk": {"S": "k-upd"}},
                        "UpdateExpression": "SET n = n + :one ADD c :one",
                        "ConditionExpression": "n = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": T, "Key": {"pk": {"S": "k-del"}},
                        "ConditionExpression": "#x = :bye",
                        "ExpressionAttributeNames": {"#x": "x"},
                        "ExpressionAttributeValues": {":bye": {"S": "bye"}}}},
            {"ConditionCheck": {"TableName": T, "Key": {"pk": {"S": "k-chk"}},
                                "ConditionExpression": "ok = :t",
                                "ExpressionAttributeValues": {
                                    ":t": {"BOOL": True}}}},
            {"Put": {"TableName": T2, "Item": {"pk": {"S": "k-put"},
                                               "sk": {"N": "1"}}}},
        ])
        self.assertNotIn("CancellationReasons", resp)
        self.assertEqual(self.get("k-put"), {"pk": {"S": "k-put"},
                                             "v": {"S": "new"}})
        self.assertEqual(self.get("k-upd"), {"pk": {"S": "k-upd"},
                                             "n": {"N": "2"},
                                             "c": {"N": "1"}})
        self.assertIsNone(self.get("k-del"))
        self.assertEqual(self.get("k-chk"), {"pk": {"S": "k-chk"},
                                             "ok": {"BOOL": True}})
        self.assertEqual(self.get("k-put", T2, 1),
                         {"pk": {"S": "k-put"}, "sk": {"N": "1"}})
        # Four changes logged (a ConditionCheck writes nothing).
        self.assertEqual(self.last_seq(), seq0 + 4)

    def test_delete_of_missing_item_logs_nothing(self):
        seq0 = self.last_seq()
        self.c.transact_write_items(TransactItems=[
            {"Delete": {"TableName": T, "Key": {"pk": {"S": "never"}}}},
            {"Put": {"TableName": T, "Item": {"pk": {"S": "once"}}}}])
        self.assertEqual(self.last_seq(), seq0 + 1)

    # ------------------------------------------------------ cancellation

    def test_cancel_writes_and_logs_nothing(self):
        self.put({"pk": {"S": "c-a"}, "n": {"N": "1"}})
        self.put({"pk": {"S": "c-b"}, "n": {"N": "1"}})
        before = (self.get("c-a"), self.get("c-b"))
        seq0 = self.last_seq()
        items = [
            {"Put": {"TableName": T, "Item": {"pk": {"S": "c-new"}}}},
            {"Update": {"TableName": T, "Key": {"pk": {"S": "c-a"}},
                        "UpdateExpression": "SET n = :nine",
                        "ExpressionAttributeValues": {":nine": {"N": "9"}}}},
            {"Delete": {"TableName": T, "Key": {"pk": {"S": "c-b"}}}},
            {"ConditionCheck": {"TableName": T, "Key": {"pk": {"S": "c-a"}},
                                "ConditionExpression": "n = :two",
                                "ExpressionAttributeValues": {
                                    ":two": {"N": "2"}}}},
        ]
        # The same item twice is refused before anything runs ...
        self.assertAwsError(
            "ValidationException", self.c.transact_write_items,
            TransactItems=items,
            message="Transaction request cannot include multiple operations "
                    "on one item")
        # ... so check a third item instead.
        self.put({"pk": {"S": "c-c"}, "n": {"N": "1"}})
        seq0 = self.last_seq()
        items[3]["ConditionCheck"]["Key"] = {"pk": {"S": "c-c"}}
        reasons = self.cancelled(items)
        self.assertEqual(reasons, [
            {"Code": "None"}, {"Code": "None"}, {"Code": "None"},
            {"Code": "ConditionalCheckFailed",
             "Message": "The conditional request failed"}])
        self.assertIsNone(self.get("c-new"))
        self.assertEqual((self.get("c-a"), self.get("c-b")), before)
        self.assertEqual(self.last_seq(), seq0)
        # Sequence numbers were not consumed either: the next write gets
        # the very next one.
        self.put({"pk": {"S": "c-after"}})
        self.assertEqual(self.last_seq(), seq0 + 1)

    def test_several_failures_and_all_old(self):
        self.put({"pk": {"S": "m-1"}, "v": {"N": "1"}})
        self.put({"pk": {"S": "m-2"}, "v": {"N": "2"}})
        seq0 = self.last_seq()
        reasons = self.cancelled([
            {"Put": {"TableName": T, "Item": {"pk": {"S": "m-1"}},
                     "ConditionExpression": "attribute_not_exists(pk)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": T, "Item": {"pk": {"S": "m-3"}}}},
            {"Update": {"TableName": T, "Key": {"pk": {"S": "m-2"}},
                        "UpdateExpression": "SET v = :x",
                        "ConditionExpression": "v = :x",
                        "ExpressionAttributeValues": {":x": {"N": "7"}},
                        "ReturnValuesOnConditionCheckFailure": "NONE"}},
            {"Delete": {"TableName": T, "Key": {"pk": {"S": "m-absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ])
        self.assertEqual(reasons[0], {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"pk": {"S": "m-1"}, "v": {"N": "1"}}})
        self.assertEqual(reasons[1], {"Code": "None"})
        self.assertEqual(reasons[2], {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed"})
        # No item to return for the missing one.
        self.assertEqual(reasons[3], {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed"})
        self.assertIsNone(self.get("m-3"))
        self.assertEqual(self.last_seq(), seq0)

    def test_validation_error_cancels(self):
        self.put({"pk": {"S": "v-s"}, "s": {"S": "text"}})
        seq0 = self.last_seq()
        reasons = self.cancelled([
            {"Put": {"TableName": T, "Item": {"pk": {"S": "v-new"}}}},
            {"Update": {"TableName": T, "Key": {"pk": {"S": "v-s"}},
                        "UpdateExpression": "ADD s :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ])
        self.assertEqual(reasons, [
            {"Code": "None"},
            {"Code": "ValidationError",
             "Message": "An operand in the update expression has an "
                        "incorrect data type"}])
        self.assertIsNone(self.get("v-new"))
        self.assertEqual(self.last_seq(), seq0)

    def test_concurrent_transfers_are_atomic(self):
        """Writers move units between two accounts with transactions while
        readers take TransactGetItems snapshots: every snapshot sums to the
        starting total, and so does the end state."""
        total = 1000
        self.put({"pk": {"S": "acct-1"}, "bal": {"N": str(total)}})
        self.put({"pk": {"S": "acct-2"}, "bal": {"N": "0"}})
        errors, sums = [], []
        stop = threading.Event()

        def move(src, dst, n, client):
            client.transact_write_items(TransactItems=[
                {"Update": {"TableName": T, "Key": {"pk": {"S": src}},
                            "UpdateExpression": "SET bal = bal - :n",
                            "ConditionExpression": "bal >= :n",
                            "ExpressionAttributeValues": {
                                ":n": {"N": str(n)}}}},
                {"Update": {"TableName": T, "Key": {"pk": {"S": dst}},
                            "UpdateExpression": "SET bal = bal + :n",
                            "ExpressionAttributeValues": {
                                ":n": {"N": str(n)}}}}])

        def writer(k):
            client = self.node.client(fresh=True)
            try:
                for i in range(40):
                    src, dst = ("acct-1", "acct-2") if (i + k) % 3 else \
                        ("acct-2", "acct-1")
                    try:
                        move(src, dst, 1 + (i * 7 + k) % 13, client)
                    except botocore.exceptions.ClientError as e:
                        if e.response["Error"]["Code"] != CANCELLED:
                            raise
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        def reader():
            client = self.node.client(fresh=True)
            try:
                while not stop.is_set():
                    resp = client.transact_get_items(TransactItems=[
                        {"Get": {"TableName": T,
                                 "Key": {"pk": {"S": "acct-1"}}}},
                        {"Get": {"TableName": T,
                                 "Key": {"pk": {"S": "acct-2"}}}}])
                    sums.append(sum(int(r["Item"]["bal"]["N"])
                                    for r in resp["Responses"]))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(k,))
                   for k in range(3)]
        readers = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads + readers:
            t.start()
        for t in threads:
            t.join(60)
        stop.set()
        for t in readers:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(len(sums), 0)
        self.assertEqual(set(sums), {total})
        a = int(self.get("acct-1")["bal"]["N"])
        b = int(self.get("acct-2")["bal"]["N"])
        self.assertEqual(a + b, total)
        self.assertGreaterEqual(min(a, b), 0)

    # -------------------------------------------------------- validation

    def test_request_validation(self):
        c, cn = self.c, self.cn
        put = {"Put": {"TableName": T, "Item": {"pk": {"S": "val"}}}}
        self.assertAwsError(
            "ValidationException", cn.transact_write_items, TransactItems=[],
            message_contains="Member must have length greater than or "
                             "equal to 1")
        many = [{"Put": {"TableName": T, "Item": {"pk": {"S": "x%d" % i}}}}
                for i in range(101)]
        self.assertAwsError(
            "ValidationException", cn.transact_write_items,
            TransactItems=many,
            message_contains="Member must have length less than or equal "
                             "to 100")
        self.assertAwsError(
            "ValidationException", cn.transact_write_items,
            TransactItems=[dict(put, Delete={"TableName": T,
                                             "Key": {"pk": {"S": "val"}}})],
            message="TransactItems can only contain one of Check, Put, "
                    "Update or Delete")
        self.assertAwsError(
            "ValidationException", cn.transact_write_items,
            TransactItems=[{}],
            message="TransactItems can only contain one of Check, Put, "
                    "Update or Delete")
        self.assertAwsError(
            "ResourceNotFoundException", c.transact_write_items,
            TransactItems=[put, {"Put": {"TableName": "txn_missing",
                                         "Item": {"pk": {"S": "v"}}}}])
        self.assertAwsError(
            "ValidationException", cn.transact_write_items,
            TransactItems=[{"ConditionCheck": {
                "TableName": T, "Key": {"pk": {"S": "val"}}}}],
            message_contains="conditionExpression")
        self.assertAwsError(
            "ValidationException", cn.transact_write_items,
            TransactItems=[{"Update": {
                "TableName": T, "Key": {"pk": {"S": "val"}}}}],
            message_contains="updateExpression")
        self.assertAwsError(
            "ValidationException", c.transact_write_items,
            TransactItems=[{"Update": {
                "TableName": T, "Key": {"pk": {"S": "val"}},
                "UpdateExpression": "SET pk = :v",
                "ExpressionAttributeValues": {":v": {"S": "w"}}}}],
            message="One or more parameter values were invalid: Cannot "
                    "update attribute pk. This attribute is part of the key")
        self.assertAwsError(
            "ValidationException", c.transact_write_items,
            TransactItems=[put, {"ConditionCheck": {
                "TableName": T, "Key": {"pk": {"S": "other"}},
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":u": {"S": "unused"}}}}],
            message="Value provided in ExpressionAttributeValues unused in "
                    "expressions: keys: {:u}")
        self.assertAwsError(
            "ValidationException", c.transact_write_items,
            TransactItems=[{"Put": {"TableName": T, "Item": {"nopk": {
                "S": "x"}}}}],
            message_contains="missing the key pk")
        # Two actions on one item, across kinds and key spellings.
        self.assertAwsError(
            "ValidationException", c.transact_write_items,
            TransactItems=[put, {"ConditionCheck": {
                "TableName": T, "Key": {"pk": {"S": "val"}},
                "ConditionExpression": "attribute_exists(pk)"}}],
            message="Transaction request cannot include multiple operations "
                    "on one item")
        self.assertIsNone(self.get("val"))

    def test_size_limit(self):
        seq0 = self.last_seq()
        blob = "x" * (390 * 1024)
        items = [{"Put": {"TableName": T, "Item": {"pk": {"S": "big%d" % i},
                                                   "b": {"S": blob}}}}
                 for i in range(11)]
        self.assertAwsError(
            "ValidationException", self.c.transact_write_items,
            TransactItems=items,
            message="Transaction request cannot be larger than 4 MB")
        self.assertIsNone(self.get("big0"))
        self.assertEqual(self.last_seq(), seq0)
        # Ten of them fit.
        self.c.transact_write_items(TransactItems=items[:10])
        self.assertEqual(self.last_seq(), seq0 + 10)
        # Reading all eleven at once is over the limit too.
        self.c.transact_write_items(TransactItems=items[10:])
        gets = [{"Get": {"TableName": T, "Key": {"pk": {"S": "big%d" % i}}}}
                for i in range(11)]
        self.assertAwsError(
            "ValidationException", self.c.transact_get_items,
            TransactItems=gets,
            message="Total size of the items in the transaction exceeds "
                    "the 4 MB limit")
        resp = self.c.transact_get_items(TransactItems=gets[:10])
        self.assertEqual(len(resp["Responses"]), 10)

    # ------------------------------------------------------ idempotency

    def test_client_request_token(self):
        token = str(uuid.uuid4())
        items = [{"Update": {"TableName": T, "Key": {"pk": {"S": "idem"}},
                             "UpdateExpression": "ADD n :one",
                             "ExpressionAttributeValues": {
                                 ":one": {"N": "1"}}}}]
        self.c.transact_write_items(TransactItems=items,
                                    ClientRequestToken=token)
        seq1 = self.last_seq()
        # The same request again: the same answer, applied once.
        resp = self.c.transact_write_items(TransactItems=items,
                                           ClientRequestToken=token)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(self.get("idem")["n"], {"N": "1"})
        self.assertEqual(self.last_seq(), seq1)
        # The same token with other parameters is refused.
        other = json.loads(json.dumps(items))
        other[0]["Update"]["ExpressionAttributeValues"][":one"]["N"] = "2"
        self.assertAwsError(
            "IdempotentParameterMismatchException",
            self.c.transact_write_items, TransactItems=other,
            ClientRequestToken=token,
            message="Cannot use a ClientRequestToken with different "
                    "parameters")
        self.assertEqual(self.get("idem")["n"], {"N": "1"})
        # Another token applies again; boto3 makes a fresh one by default.
        self.c.transact_write_items(TransactItems=items,
                                    ClientRequestToken=str(uuid.uuid4()))
        self.c.transact_write_items(TransactItems=items)
        self.assertEqual(self.get("idem")["n"], {"N": "3"})
        self.assertEqual(self.last_seq(), seq1 + 2)
        # A cancelled transaction is not remembered: the same token works
        # once its condition holds.
        token2 = str(uuid.uuid4())
        guarded = [{"Update": {"TableName": T, "Key": {"pk": {"S": "idem"}},
                               "UpdateExpression": "SET done = :t",
                               "ConditionExpression": "n = :four",
                               "ExpressionAttributeValues": {
                                   ":t": {"BOOL": True},
                                   ":four": {"N": "4"}}}}]
        self.cancelled(guarded, ClientRequestToken=token2)
        self.c.transact_write_items(TransactItems=items)
        self.c.transact_write_items(TransactItems=guarded,
                                    ClientRequestToken=token2)
        self.assertEqual(self.get("idem")["done"], {"BOOL": True})
        # Token length is bounded.
        self.assertAwsError(
            "ValidationException", self.cn.transact_write_items,
            TransactItems=items, ClientRequestToken="t" * 37,
            message_contains="clientRequestToken")

    def test_token_table_is_bounded(self):
        """The node remembers at most 4096 tokens: past that the oldest is
        forgotten (its retry applies again) while recent ones still answer
        without applying."""
        conn = http.client.HTTPConnection(HOST, self.node.port, timeout=20)

        def send(tok):
            body = json.dumps({"TransactItems": [{"Update": {
                "TableName": T, "Key": {"pk": {"S": "tokens"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}}}}],
                "ClientRequestToken": tok})
            conn.request("POST", "/", body=body, headers={
                "X-Amz-Target": "DynamoDB_20120810.TransactWriteItems",
                "Content-Type": "application/x-amz-json-1.0"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)

        try:
            count = 4200
            for i in range(count):
                send("bound-%d" % i)
            self.assertEqual(self.get("tokens")["n"], {"N": str(count)})
            send("bound-%d" % (count - 1))   # remembered
            self.assertEqual(self.get("tokens")["n"], {"N": str(count)})
            send("bound-0")                  # evicted: applies again
            self.assertEqual(self.get("tokens")["n"],
                             {"N": str(count + 1)})
        finally:
            conn.close()

    # ---------------------------------------------------- TransactGet

    def test_transact_get_items(self):
        self.put({"pk": {"S": "g-1"}, "a": {"S": "A"}, "b": {"N": "2"},
                  "m": {"M": {"x": {"S": "deep"}, "y": {"N": "0"}}}})
        self.put({"pk": {"S": "g-1"}, "sk": {"N": "5"}, "c": {"S": "C"}},
                 table=T2)
        resp = self.c.transact_get_items(TransactItems=[
            {"Get": {"TableName": T, "Key": {"pk": {"S": "g-1"}}}},
            {"Get": {"TableName": T, "Key": {"pk": {"S": "g-missing"}}}},
            {"Get": {"TableName": T2, "Key": {"pk": {"S": "g-1"},
                                              "sk": {"N": "5"}},
                     "ProjectionExpression": "c"}},
        ])
        self.assertEqual(resp["Responses"], [
            {"Item": {"pk": {"S": "g-1"}, "a": {"S": "A"}, "b": {"N": "2"},
                      "m": {"M": {"x": {"S": "deep"}, "y": {"N": "0"}}}}},
            {},
            {"Item": {"c": {"S": "C"}}},
        ])
        resp = self.c.transact_get_items(TransactItems=[
            {"Get": {"TableName": T, "Key": {"pk": {"S": "g-1"}},
                     "ProjectionExpression": "#m.x, b",
                     "ExpressionAttributeNames": {"#m": "m"}}}])
        self.assertEqual(resp["Responses"], [
            {"Item": {"m": {"M": {"x": {"S": "deep"}}}, "b": {"N": "2"}}}])
        self.assertAwsError(
            "ValidationException", self.c.transact_get_items,
            TransactItems=[
                {"Get": {"TableName": T, "Key": {"pk": {"S": "g-1"}}}},
                {"Get": {"TableName": T, "Key": {"pk": {"S": "g-1"}}}}],
            message="Transaction request cannot include multiple operations "
                    "on one item")
        self.assertAwsError(
            "ResourceNotFoundException", self.c.transact_get_items,
            TransactItems=[{"Get": {"TableName": "txn_nope",
                                    "Key": {"pk": {"S": "g-1"}}}}])
        self.assertAwsError(
            "ValidationException", self.c.transact_get_items,
            TransactItems=[{"Get": {
                "TableName": T, "Key": {"pk": {"S": "g-1"}},
                "ExpressionAttributeNames": {"#u": "u"}}}],
            message="Value provided in ExpressionAttributeNames unused in "
                    "expressions: keys: {#u}")
        self.assertAwsError(
            "ValidationException", self.cn.transact_get_items,
            TransactItems=[{"Get": {"TableName": T,
                                    "Key": {"pk": {"S": "k%d" % i}}}}
                           for i in range(101)],
            message_contains="Member must have length less than or equal "
                             "to 100")

    # --------------------------------------------- resource and CLI

    def test_resource_client(self):
        # A resource's client takes and returns plain Python values.
        client = self.r.meta.client
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": T, "Item": {"pk": "r-1", "n": 1,
                                              "tags": {"a"}}}},
            {"Put": {"TableName": T2, "Item": {"pk": "r-1", "sk": 2,
                                               "f": Decimal("1.5")}}}])
        resp = client.transact_get_items(TransactItems=[
            {"Get": {"TableName": T, "Key": {"pk": "r-1"}}},
            {"Get": {"TableName": T2, "Key": {"pk": "r-1", "sk": 2}}}])
        self.assertEqual([r["Item"] for r in resp["Responses"]], [
            {"pk": "r-1", "n": Decimal(1), "tags": {"a"}},
            {"pk": "r-1", "sk": Decimal(2), "f": Decimal("1.5")}])
        reasons = self.cancelled([
            {"Update": {"TableName": T, "Key": {"pk": "r-1"},
                        "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":two": 2,
                                                      ":zero": 0},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}],
            client=client)
        self.assertEqual(reasons[0]["Code"], "ConditionalCheckFailed")
        self.assertEqual(reasons[0]["Item"]["n"], {"N": "1"})
        self.assertEqual(self.r.Table(T).get_item(
            Key={"pk": "r-1"})["Item"]["n"], Decimal(1))

    def test_cli(self):
        n = self.node
        n.aws("transact-write-items", "--transact-items", json.dumps([
            {"Put": {"TableName": T, "Item": {"pk": {"S": "cli-1"},
                                              "n": {"N": "1"}}}},
            {"Put": {"TableName": T, "Item": {"pk": {"S": "cli-2"}}}}]))
        out = n.aws("transact-get-items", "--transact-items", json.dumps([
            {"Get": {"TableName": T, "Key": {"pk": {"S": "cli-1"}}}},
            {"Get": {"TableName": T, "Key": {"pk": {"S": "cli-2"}}}}]))
        self.assertEqual(out["Responses"], [
            {"Item": {"pk": {"S": "cli-1"}, "n": {"N": "1"}}},
            {"Item": {"pk": {"S": "cli-2"}}}])
        rc, err = n.aws_fail("transact-write-items", "--transact-items",
                             json.dumps([
                                 {"Delete": {"TableName": T, "Key": {
                                     "pk": {"S": "cli-2"}}}},
                                 {"ConditionCheck": {
                                     "TableName": T,
                                     "Key": {"pk": {"S": "cli-1"}},
                                     "ConditionExpression": "n = :z",
                                     "ExpressionAttributeValues": {
                                         ":z": {"N": "0"}}}}]))
        self.assertIn(CANCELLED, err)
        self.assertIn("[None, ConditionalCheckFailed]", err)
        self.assertEqual(self.get("cli-2"), {"pk": {"S": "cli-2"}})
