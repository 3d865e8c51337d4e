"""Size limits, the wire-level error shape, and hostile requests."""

import json
import os
import random
import socket
import sys

from harness import HOST, NodeTestCase

T = "lim"        # pk S
TR = "lim_r"     # pk S, sk S
TB = "lim_b"     # pk B, sk B

SEED = int(os.environ.get("MERIDIAN_SEED", random.randrange(1 << 30)))

VALIDATION = "com.amazonaws.dynamodb.v20120810#ValidationException"
NOT_FOUND = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
SERIALIZATION = "com.amazon.coral.service#SerializationException"
UNKNOWN_OP = "com.amazon.coral.service#UnknownOperationException"


class LimitsTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        for name, keys in ((T, [("pk", "S", "HASH")]),
                           (TR, [("pk", "S", "HASH"), ("sk", "S", "RANGE")]),
                           (TB, [("pk", "B", "HASH"), ("sk", "B", "RANGE")])):
            c.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": a,
                                       "AttributeType": t}
                                      for a, t, _ in keys],
                KeySchema=[{"AttributeName": a, "KeyType": k}
                           for a, _, k in keys],
                BillingMode="PAY_PER_REQUEST")
        for name in (T, TR, TB):
            c.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})

    def get(self, table, key):
        return self.c.get_item(TableName=table, Key=key).get("Item")

    # ------------------------------------------------------- item size

    def test_item_size_limit(self):
        # 400 KB = 409600 bytes, counting attribute names and values.
        ok = {"pk": {"S": "sz"}, "v": {"S": "x" * 400000}}
        self.c.put_item(TableName=T, Item=ok)
        self.assertEqual(self.get(T, {"pk": {"S": "sz"}}), ok)
        for bad in ({"pk": {"S": "sz2"}, "v": {"S": "x" * 409600}},
                    {"pk": {"S": "sz2"}, "v": {"B": b"\x00" * 409600}},
                    {"pk": {"S": "sz2"}, "a": {"S": "x" * 205000},
                     "b": {"S": "y" * 205000}},
                    {"pk": {"S": "sz2"}, "l": {"L": [{"S": "z" * 1000}] *
                                               420}}):
            with self.subTest(attrs=sorted(bad)):
                self.assertAwsError(
                    "ValidationException", self.c.put_item, TableName=T,
                    Item=bad,
                    message_contains="Item size has exceeded the maximum "
                                     "allowed size")
        self.assertIsNone(self.get(T, {"pk": {"S": "sz2"}}))

    def test_update_past_item_size(self):
        k = {"pk": {"S": "grow"}}
        self.c.put_item(TableName=T, Item=dict(k, a={"S": "x" * 300000}))
        self.assertAwsError(
            "ValidationException", self.c.update_item, TableName=T, Key=k,
            UpdateExpression="SET b = :v",
            ExpressionAttributeValues={":v": {"S": "y" * 150000}},
            message_contains="Item size")
        self.assertEqual(sorted(self.get(T, k)), ["a", "pk"])

    # -------------------------------------------------------- key size

    def test_partition_key_size(self):
        ok = "p" * 2048
        self.c.put_item(TableName=T, Item={"pk": {"S": ok}})
        self.assertEqual(self.get(T, {"pk": {"S": ok}}), {"pk": {"S": ok}})
        # Multi-byte characters count in UTF-8 bytes: 1024 x 2 bytes = 2048.
        ok2 = "\u00e9" * 1024
        self.c.put_item(TableName=T, Item={"pk": {"S": ok2}})
        for bad in ("p" * 2049, "\u00e9" * 1025):
            with self.subTest(n=len(bad.encode())):
                self.assertAwsError("ValidationException", self.c.put_item,
                                    TableName=T, Item={"pk": {"S": bad}},
                                    message_contains="2048")
        self.assertAwsError("ValidationException", self.c.put_item,
                            TableName=TB, Item={"pk": {"B": b"\x01" * 2049},
                                                "sk": {"B": b"\x01"}})
        self.c.put_item(TableName=TB, Item={"pk": {"B": b"\x01" * 2048},
                                            "sk": {"B": b"\x01" * 1024}})

    def test_sort_key_size(self):
        self.c.put_item(TableName=TR, Item={"pk": {"S": "a"},
                                            "sk": {"S": "s" * 1024}})
        self.assertAwsError("ValidationException", self.c.put_item,
                            TableName=TR, Item={"pk": {"S": "a"},
                                                "sk": {"S": "s" * 1025}},
                            message_contains="1024")
        self.assertAwsError("ValidationException", self.c.put_item,
                            TableName=TB, Item={"pk": {"B": b"\x01"},
                                                "sk": {"B": b"\x02" * 1025}})
        self.assertAwsError("ValidationException", self.c.update_item,
                            TableName=TR, Key={"pk": {"S": "a"},
                                               "sk": {"S": "s" * 1025}},
                            UpdateExpression="SET v = :v",
                            ExpressionAttributeValues={":v": {"S": "x"}})

    def test_empty_key_values(self):
        self.assertAwsError("ValidationException", self.cn.put_item,
                            TableName=TR, Item={"pk": {"S": "a"},
                                                "sk": {"S": ""}},
                            message_contains="empty")
        self.assertAwsError("ValidationException", self.cn.put_item,
                            TableName=TB, Item={"pk": {"B": b""},
                                                "sk": {"B": b"\x01"}})
        self.assertAwsError("ValidationException", self.cn.query,
                            TableName=TR, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": ""}})

    # -------------------------------------------------------- raw HTTP

    def test_error_wire_shape(self):
        status, headers, body = self.node.raw(
            "DynamoDB_20120810.GetItem",
            json.dumps({"TableName": "no_such_table",
                        "Key": {"pk": {"S": "x"}}}))
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], NOT_FOUND)
        self.assertTrue(body.get("message", body.get("Message", ""))
                        .startswith("Requested resource not found"), body)
        self.assertTrue(headers.get("content-type", "").startswith(
            "application/x-amz-json-1.0"), headers)
        status, headers, body = self.node.raw(
            "DynamoDB_20120810.PutItem",
            json.dumps({"TableName": T, "Item": {"pk": {"S": ""}}}))
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], VALIDATION)
        status, _, body = self.node.raw(
            "DynamoDB_20120810.ListTables", "{}")
        self.assertEqual(status, 200)
        self.assertIn(T, body["TableNames"])

    def test_malformed_json(self):
        get = "DynamoDB_20120810.GetItem"
        lst = "DynamoDB_20120810.ListTables"
        desc = "DynamoDB_20120810.DescribeTable"
        ser_only = [
            (lst, b"{not json"),
            (desc, b"{\"TableName\": \"lim\""),
            (lst, b"[1,2,3]"),
            (lst, b"\"str\""),
            (lst, b"\xff\xfe\x00garbage"),
            (get, b"{\"TableName\":\"lim\",\"Key\":{\"pk\":{\"S\":\"a\"}}}x"),
            (get, b"{\"TableName\":\"lim\",\"Key\":{\"pk\":{\"S\":\"a\"}"),
        ]
        # Wrong JSON types for known members: DynamoDB answers these with
        # SerializationException; a ValidationException is tolerated.
        either = [
            (desc, b"{\"TableName\": 5}"),
            (lst, b"{\"Limit\": \"x\"}"),
            (get, b"{\"TableName\":\"lim\",\"Key\":[1]}"),
            (lst, b""),
        ]
        for target, bad in ser_only + either:
            with self.subTest(target=target, body=bad[:40]):
                status, _, body = self.node.raw(target, bad)
                self.assertEqual(status, 400, body)
                self.assertIsInstance(body, dict, body)
                if (target, bad) in ser_only:
                    self.assertEqual(body["__type"], SERIALIZATION)
                else:
                    self.assertIn(body["__type"], (SERIALIZATION, VALIDATION))
        self.assertTrue(self.node.healthy())

    def test_unknown_operation(self):
        for target in ("DynamoDB_20120810.FooBar", "DynamoDB_20120810.",
                       "Bogus.ListTables", "DynamoDB_20120810"):
            with self.subTest(target=target):
                status, _, body = self.node.raw(target, "{}")
                self.assertEqual(status, 400, body)
                self.assertEqual(body["__type"], UNKNOWN_OP)
        status, _, body = self.node.raw(None, "{}")
        self.assertEqual(status, 400, body)
        self.assertIsInstance(body, dict)

    def test_hostile_bodies(self):
        rng = random.Random(SEED)
        sys.stderr.write("[test_hostile_bodies seed=%d "
                         "(MERIDIAN_SEED to replay)]\n" % SEED)
        bodies = [
            b"[" * 100000 + b"]" * 100000,
            b"{\"a\":" * 50000 + b"1" + b"}" * 50000,
            b"{\"TableName\":\"lim\",\"Item\":{\"pk\":{\"S\":\"deep\"},"
            b"\"v\":" + b"{\"M\":{\"a\":" * 3000 + b"{\"S\":\"x\"}" +
            b"}}" * 3000 + b"}}",
            bytes(rng.randrange(256) for _ in range(20000)),
            b"\x00" * 1000,
            b"{\"TableName\":\"" + b"x" * 1000000 + b"\"}",
            b"{\"TableName\":\"lim\",\"Item\":{\"pk\":{\"N\":\"1e99999999999\"}}}",
            b"{\"TableName\":\"lim\",\"Item\":{\"pk\":{\"S\":\"a\"},"
            b"\"n\":{\"N\":\"" + b"9" * 100000 + b"\"}}}",
            b"{\"TableName\":\"lim\",\"Item\":{\"pk\":{\"S\":\"a\"},"
            b"\"b\":{\"B\":\"!!!not base64!!!\"}}}",
        ]
        for i in range(30):
            n = rng.randrange(1, 400)
            bodies.append(bytes(rng.choice(b"{}[]\":,0123456789eE.-+ntfalsu\\")
                                for _ in range(n)))
        targets = ["DynamoDB_20120810.PutItem", "DynamoDB_20120810.Query",
                   "DynamoDB_20120810.BatchWriteItem",
                   "DynamoDB_20120810.CreateTable",
                   "DynamoDB_20120810.Scan"]
        bad = []
        for i, b in enumerate(bodies):
            target = targets[i % len(targets)]
            try:
                status, _, body = self.node.raw(target, b)
            except OSError as e:
                status, body = None, repr(e)
            if status is None or not 400 <= status < 500:
                bad.append("body #%d (%s, %r...): status %s, %r"
                           % (i, target, b[:60], status, body)[:400])
            self.assertTrue(self.node.alive(),
                            "node died on body #%d (%r...)" % (i, b[:60]))
        self.assertEqual(bad, [])
        self.assertTrue(self.node.healthy())
        # The table is untouched by all of that.
        self.assertEqual(self.c.describe_table(TableName=T)["Table"]
                         ["TableStatus"], "ACTIVE")

    def test_five_megabyte_body(self):
        body = b"{\"TableName\":\"lim\",\"Item\":{\"pk\":{\"S\":\"big\"},"
        body += b"\"v\":{\"S\":\"" + b"z" * (5 * 1024 * 1024) + b"\"}}}"
        try:
            status, _, resp = self.node.raw("DynamoDB_20120810.PutItem", body,
                                            timeout=30)
            self.assertTrue(400 <= status < 500, (status, resp))
        except (ConnectionError, socket.timeout) as e:
            # Refusing an oversized request by closing the connection early
            # is acceptable; crashing is not.
            sys.stderr.write("[5 MB body: connection closed: %r]\n" % e)
        self.assertTrue(self.node.alive())
        self.assertTrue(self.node.healthy())
        self.assertIsNone(self.get(T, {"pk": {"S": "big"}}))
        # Junk that is not JSON at all.
        junk = os.urandom(5 * 1024 * 1024)
        try:
            status, _, resp = self.node.raw("DynamoDB_20120810.PutItem", junk,
                                            timeout=30)
            self.assertTrue(400 <= status < 500, status)
        except (ConnectionError, socket.timeout) as e:
            sys.stderr.write("[5 MB junk: connection closed: %r]\n" % e)
        self.assertTrue(self.node.healthy())

    def test_wrong_method_and_path(self):
        import http.client
        for method, path in (("GET", "/"), ("PUT", "/"),
                             ("GET", "/nope"), ("POST", "/nope")):
            with self.subTest(method=method, path=path):
                conn = http.client.HTTPConnection(HOST, self.node.port,
                                                  timeout=10)
                try:
                    conn.request(method, path, body=b"{}" if method != "GET"
                                 else None, headers={
                                     "X-Amz-Target":
                                         "DynamoDB_20120810.ListTables",
                                     "Content-Type":
                                         "application/x-amz-json-1.0"})
                    r = conn.getresponse()
                    r.read()
                    # Any well-formed answer will do (DynamoDB itself
                    # answers GET / with 200); the node must not fail.
                    self.assertLess(r.status, 500)
                finally:
                    conn.close()
        self.assertTrue(self.node.healthy())

    def test_half_open_connections(self):
        # Clients that connect and send a partial request, then vanish.
        socks = []
        try:
            for i in range(20):
                s = socket.create_connection((HOST, self.node.port),
                                             timeout=5)
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
                          b"1000\r\n\r\n{\"Tab")
                socks.append(s)
            self.assertTrue(self.node.healthy())
        finally:
            for s in socks:
                s.close()
        self.assertTrue(self.node.healthy())
        self.assertIn(T, self.c.list_tables()["TableNames"])
