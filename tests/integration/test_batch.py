"""BatchWriteItem and BatchGetItem."""

from harness import NodeTestCase

A = "bt_a"     # pk S
B = "bt_b"     # pk N, sk S


def ka(i):
    return {"pk": {"S": "a%03d" % i}}


def kb(i, s="x"):
    return {"pk": {"N": str(i)}, "sk": {"S": s}}


class BatchTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        c.create_table(TableName=A, AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        c.create_table(TableName=B, AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "N"},
            {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST")
        for t in (A, B):
            c.get_waiter("table_exists").wait(
                TableName=t, WaiterConfig={"Delay": 1, "MaxAttempts": 20})

    def get(self, table, key):
        return self.c.get_item(TableName=table, Key=key,
                               ConsistentRead=True).get("Item")

    def test_batch_write_puts_and_deletes_two_tables(self):
        reqs = {
            A: [{"PutRequest": {"Item": dict(ka(i), v={"N": str(i)})}}
                for i in range(10)],
            B: [{"PutRequest": {"Item": dict(kb(i), v={"S": "b%d" % i})}}
                for i in range(10)],
        }
        resp = self.c.batch_write_item(RequestItems=reqs)
        self.assertEqual(resp["UnprocessedItems"], {})
        for i in range(10):
            self.assertEqual(self.get(A, ka(i)), dict(ka(i), v={"N": str(i)}))
            self.assertEqual(self.get(B, kb(i)),
                             dict(kb(i), v={"S": "b%d" % i}))
        # Mixed puts and deletes in one request.
        reqs = {
            A: [{"DeleteRequest": {"Key": ka(i)}} for i in range(5)] +
               [{"PutRequest": {"Item": dict(ka(i), v={"S": "new"})}}
                for i in range(5, 8)],
            B: [{"DeleteRequest": {"Key": kb(i)}} for i in range(0, 10, 2)],
        }
        resp = self.c.batch_write_item(RequestItems=reqs)
        self.assertEqual(resp["UnprocessedItems"], {})
        for i in range(5):
            self.assertIsNone(self.get(A, ka(i)))
        for i in range(5, 8):
            self.assertEqual(self.get(A, ka(i))["v"], {"S": "new"})
        self.assertEqual(self.get(A, ka(9))["v"], {"N": "9"})
        for i in range(10):
            got = self.get(B, kb(i))
            if i % 2 == 0:
                self.assertIsNone(got)
            else:
                self.assertEqual(got["v"], {"S": "b%d" % i})
        # Deleting keys that do not exist is fine.
        resp = self.c.batch_write_item(RequestItems={
            A: [{"DeleteRequest": {"Key": {"pk": {"S": "ghost%d" % i}}}}
                for i in range(3)]})
        self.assertEqual(resp["UnprocessedItems"], {})

    def test_batch_write_25_max(self):
        resp = self.c.batch_write_item(RequestItems={A: [
            {"PutRequest": {"Item": {"pk": {"S": "max%02d" % i}}}}
            for i in range(25)]})
        self.assertEqual(resp["UnprocessedItems"], {})
        self.assertEqual(self.get(A, {"pk": {"S": "max24"}}),
                         {"pk": {"S": "max24"}})
        self.assertAwsError("ValidationException", self.cn.batch_write_item,
                            RequestItems={A: [
                                {"PutRequest": {"Item": {
                                    "pk": {"S": "over%02d" % i}}}}
                                for i in range(26)]})
        # The limit counts requests across tables.
        self.assertAwsError("ValidationException", self.cn.batch_write_item,
                            RequestItems={
                                A: [{"PutRequest": {"Item": {
                                    "pk": {"S": "over%02d" % i}}}}
                                    for i in range(13)],
                                B: [{"PutRequest": {"Item": kb(1000 + i)}}
                                    for i in range(13)]})
        for i in (0, 12, 25):
            self.assertIsNone(self.get(A, {"pk": {"S": "over%02d" % i}}))
        self.assertIsNone(self.get(B, kb(1000)))

    def test_batch_write_duplicates(self):
        msg = "Provided list of item keys contains duplicates"
        cases = [
            {A: [{"PutRequest": {"Item": {"pk": {"S": "dup"}}}},
                 {"PutRequest": {"Item": {"pk": {"S": "dup"},
                                          "v": {"N": "1"}}}}]},
            {A: [{"PutRequest": {"Item": {"pk": {"S": "dup"}}}},
                 {"DeleteRequest": {"Key": {"pk": {"S": "dup"}}}}]},
            {B: [{"PutRequest": {"Item": kb(1)}},
                 {"DeleteRequest": {"Key": {"pk": {"N": "1.0"},
                                            "sk": {"S": "x"}}}}]},
        ]
        for req in cases:
            with self.subTest(req=req):
                self.assertAwsError("ValidationException",
                                    self.cn.batch_write_item,
                                    RequestItems=req, message=msg)
        self.assertIsNone(self.get(A, {"pk": {"S": "dup"}}))
        # Same key in two different tables is not a duplicate.
        resp = self.c.batch_write_item(RequestItems={
            A: [{"PutRequest": {"Item": {"pk": {"S": "same"}}}}],
            B: [{"PutRequest": {"Item": {"pk": {"N": "77"},
                                         "sk": {"S": "same"}}}}]})
        self.assertEqual(resp["UnprocessedItems"], {})

    def test_batch_write_errors(self):
        cn = self.cn
        self.assertAwsError("ValidationException", cn.batch_write_item,
                            RequestItems={})
        self.assertAwsError("ValidationException", cn.batch_write_item,
                            RequestItems={A: []})
        self.assertAwsError("ResourceNotFoundException", cn.batch_write_item,
                            RequestItems={"bt_missing": [
                                {"PutRequest": {"Item": {
                                    "pk": {"S": "x"}}}}]})
        # One invalid item rejects the whole batch; nothing is written.
        self.assertAwsError("ValidationException", cn.batch_write_item,
                            RequestItems={A: [
                                {"PutRequest": {"Item": {
                                    "pk": {"S": "whole1"}}}},
                                {"PutRequest": {"Item": {
                                    "pk": {"N": "1"}}}}]})
        self.assertIsNone(self.get(A, {"pk": {"S": "whole1"}}))
        # A request with both or neither of PutRequest / DeleteRequest.
        self.assertAwsError("ValidationException", cn.batch_write_item,
                            RequestItems={A: [{}]})
        self.assertAwsError("ValidationException", cn.batch_write_item,
                            RequestItems={A: [{
                                "PutRequest": {"Item": {
                                    "pk": {"S": "both"}}},
                                "DeleteRequest": {"Key": {
                                    "pk": {"S": "both"}}}}]})
        self.assertIsNone(self.get(A, {"pk": {"S": "both"}}))
        # Item too big inside a batch.
        self.assertAwsError("ValidationException", cn.batch_write_item,
                            RequestItems={A: [{"PutRequest": {"Item": {
                                "pk": {"S": "huge"},
                                "v": {"S": "x" * 410000}}}}]})

    def test_batch_get(self):
        self.batch_put(A, [dict(ka(100 + i), v={"N": str(i)},
                                extra={"S": "e"}) for i in range(20)])
        self.batch_put(B, [dict(kb(100 + i), w={"S": "w"})
                           for i in range(20)])
        keys_a = [ka(100 + i) for i in range(25)]        # 5 missing
        keys_b = [kb(100 + i) for i in range(20)]
        resp = self.c.batch_get_item(RequestItems={
            A: {"Keys": keys_a}, B: {"Keys": keys_b, "ConsistentRead": True}})
        self.assertEqual(resp["UnprocessedKeys"], {})
        got_a = sorted(resp["Responses"][A], key=lambda it: it["pk"]["S"])
        self.assertEqual(got_a, [dict(ka(100 + i), v={"N": str(i)},
                                      extra={"S": "e"}) for i in range(20)])
        got_b = sorted(resp["Responses"][B],
                       key=lambda it: int(it["pk"]["N"]))
        self.assertEqual(got_b, [dict(kb(100 + i), w={"S": "w"})
                                 for i in range(20)])
        # Only missing keys: an empty list for that table.
        resp = self.c.batch_get_item(RequestItems={
            A: {"Keys": [{"pk": {"S": "nobody"}}]}})
        self.assertEqual(resp["Responses"], {A: []})
        self.assertEqual(resp["UnprocessedKeys"], {})

    def test_batch_get_projection(self):
        self.c.put_item(TableName=A, Item={
            "pk": {"S": "projb"}, "v": {"N": "1"},
            "m": {"M": {"x": {"S": "X"}, "y": {"S": "Y"}}},
            "size": {"N": "3"}})
        resp = self.c.batch_get_item(RequestItems={A: {
            "Keys": [{"pk": {"S": "projb"}}],
            "ProjectionExpression": "#s, m.x",
            "ExpressionAttributeNames": {"#s": "size"}}})
        self.assertEqual(resp["Responses"][A],
                         [{"size": {"N": "3"}, "m": {"M": {"x": {"S": "X"}}}}])
        r = self.r.batch_get_item(RequestItems={A: {
            "Keys": [{"pk": "projb"}], "ProjectionExpression": "v"}})
        self.assertEqual(r["Responses"][A], [{"v": 1}])

    def test_batch_get_limits(self):
        self.c.batch_write_item(RequestItems={A: [
            {"PutRequest": {"Item": {"pk": {"S": "g%03d" % i}}}}
            for i in range(25)]})
        keys = [{"pk": {"S": "g%03d" % i}} for i in range(100)]
        resp = self.c.batch_get_item(RequestItems={A: {"Keys": keys}})
        self.assertEqual(len(resp["Responses"][A]), 25)
        self.assertEqual(resp["UnprocessedKeys"], {})
        self.assertAwsError("ValidationException", self.cn.batch_get_item,
                            RequestItems={A: {"Keys": keys + [
                                {"pk": {"S": "g100"}}]}})
        # 100 across two tables is the limit too.
        self.assertAwsError("ValidationException", self.cn.batch_get_item,
                            RequestItems={A: {"Keys": keys[:60]},
                                          B: {"Keys": [kb(i) for i in
                                                       range(41)]}})
        self.assertAwsError("ValidationException", self.cn.batch_get_item,
                            RequestItems={A: {"Keys": [
                                {"pk": {"S": "g001"}},
                                {"pk": {"S": "g001"}}]}},
                            message="Provided list of item keys contains "
                                    "duplicates")
        self.assertAwsError("ValidationException", self.cn.batch_get_item,
                            RequestItems={A: {"Keys": []}})
        self.assertAwsError("ValidationException", self.cn.batch_get_item,
                            RequestItems={})
        self.assertAwsError("ValidationException", self.cn.batch_get_item,
                            RequestItems={A: {"Keys": [{"pk": {"N": "1"}}]}})
        self.assertAwsError("ResourceNotFoundException",
                            self.cn.batch_get_item,
                            RequestItems={"bt_missing": {"Keys": [
                                {"pk": {"S": "x"}}]}})

    def test_resource_batch_writer(self):
        t = self.r.Table(A)
        with t.batch_writer() as bw:
            for i in range(60):
                bw.put_item(Item={"pk": "bw%02d" % i, "n": i})
        with t.batch_writer() as bw:
            for i in range(0, 60, 3):
                bw.delete_item(Key={"pk": "bw%02d" % i})
        keys = [{"pk": "bw%02d" % i} for i in range(60)]
        found = []
        for i in range(0, 60, 30):
            r = self.r.batch_get_item(RequestItems={A: {"Keys":
                                                        keys[i:i + 30]}})
            self.assertEqual(r["UnprocessedKeys"], {})
            found.extend(int(it["n"]) for it in r["Responses"][A])
        self.assertEqual(sorted(found), [i for i in range(60) if i % 3])
