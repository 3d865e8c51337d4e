"""Query: key conditions on S, N and B sort keys, ordering, direction,
pagination, Select COUNT, filters and the 1 MB page limit."""

from decimal import Decimal

from boto3.dynamodb.conditions import Attr, Key

from harness import NodeTestCase

N_VALUES = ["-10000000000", "-10", "-1.5", "-0.5", "0", "0.0001", "0.001",
            "2", "10", "100", "12345678901234567890123456789012345678"]
S_VALUES = ["0", "A", "B", "Z", "a", "aa", "ab", "abc", "b", "ba", "~",
            "\u00e4", "\u00e4x", "\u4e2d", "\U0001F600"]
B_VALUES = [b"\x00", b"\x00\x00", b"\x00\x01", b"\x01", b"\x7f", b"\x80",
            b"\x80\x00", b"\xfe", b"\xff", b"\xff\x00", b"\xff\xff"]
BIG_VALUE_BYTES = 100000
MB = 1024 * 1024


class QueryTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        for name, sk_type in (("q_n", "N"), ("q_s", "S"), ("q_b", "B"),
                              ("q_page", "N"), ("q_big", "N")):
            c.create_table(
                TableName=name,
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": sk_type}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                BillingMode="PAY_PER_REQUEST")
        for name in ("q_n", "q_s", "q_b", "q_page", "q_big"):
            c.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})

        def put_all(table, items):
            for i in range(0, len(items), 25):
                resp = c.batch_write_item(RequestItems={table: [
                    {"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
                assert not resp.get("UnprocessedItems"), resp

        # Insert in a scrambled order so storage order is not insert order.
        items = []
        for pk in ("p", "other"):
            for v in reversed(N_VALUES):
                items.append({"pk": {"S": pk}, "sk": {"N": v},
                              "v": {"S": pk + v}})
        put_all("q_n", items)
        items = []
        for pk in ("p", "other"):
            for v in S_VALUES[::-1]:
                items.append({"pk": {"S": pk}, "sk": {"S": v},
                              "v": {"S": pk + v}})
        put_all("q_s", items)
        items = [{"pk": {"S": "p"}, "sk": {"B": v}} for v in B_VALUES[::-1]]
        items.append({"pk": {"S": "other"}, "sk": {"B": b"\x10"}})
        put_all("q_b", items)
        items = []
        for i in range(100):
            items.append({"pk": {"S": "p"}, "sk": {"N": str((i * 37) % 100)},
                          "data": {"S": "d%d" % ((i * 37) % 100)}})
        for pk in ("a", "zz"):
            for i in range(5):
                items.append({"pk": {"S": pk}, "sk": {"N": str(i)}})
        put_all("q_page", items)

    def q(self, table, cond, values, **kw):
        """All items of a query (following LastEvaluatedKey)."""
        out = []
        args = dict(TableName=table, KeyConditionExpression=cond,
                    ExpressionAttributeValues=values, **kw)
        for _ in range(1000):
            resp = self.c.query(**args)
            out.extend(resp["Items"])
            self.assertEqual(resp["Count"], len(resp["Items"]))
            if "LastEvaluatedKey" not in resp:
                return out
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        self.fail("query did not terminate")

    # ---------------------------------------------------------- ordering

    def test_numeric_sort_order(self):
        items = self.q("q_n", "pk = :p", {":p": {"S": "p"}})
        self.assertEqual([it["sk"]["N"] for it in items], N_VALUES)
        self.assertTrue(all(it["pk"] == {"S": "p"} for it in items))
        items = self.q("q_n", "pk = :p", {":p": {"S": "p"}},
                       ScanIndexForward=False)
        self.assertEqual([it["sk"]["N"] for it in items], N_VALUES[::-1])

    def test_string_sort_order_bytewise(self):
        want = sorted(S_VALUES, key=lambda s: s.encode("utf-8"))
        items = self.q("q_s", "pk = :p", {":p": {"S": "p"}})
        self.assertEqual([it["sk"]["S"] for it in items], want)
        items = self.q("q_s", "pk = :p", {":p": {"S": "p"}},
                       ScanIndexForward=False)
        self.assertEqual([it["sk"]["S"] for it in items], want[::-1])

    def test_binary_sort_order_bytewise(self):
        items = self.q("q_b", "pk = :p", {":p": {"S": "p"}})
        self.assertEqual([it["sk"]["B"] for it in items], sorted(B_VALUES))
        items = self.q("q_b", "pk = :p", {":p": {"S": "p"}},
                       ScanIndexForward=False)
        self.assertEqual([it["sk"]["B"] for it in items],
                         sorted(B_VALUES, reverse=True))

    # ---------------------------------------------------- key conditions

    def check_ops(self, table, typ, values, operands, keyf):
        ops = {
            "=": lambda x, a: x == a,
            "<": lambda x, a: x < a,
            "<=": lambda x, a: x <= a,
            ">": lambda x, a: x > a,
            ">=": lambda x, a: x >= a,
        }
        ordered = sorted(values, key=keyf)
        for op, f in ops.items():
            for a in operands:
                with self.subTest(op=op, operand=a):
                    got = self.q(table, "pk = :p AND sk %s :v" % op,
                                 {":p": {"S": "p"}, ":v": {typ: a}})
                    want = [v for v in ordered if f(keyf(v), keyf(a))]
                    self.assertEqual([it["sk"][typ] for it in got], want)
        for lo, hi in ((operands[0], operands[-1]),
                       (operands[1], operands[1])):
            with self.subTest(op="BETWEEN", lo=lo, hi=hi):
                got = self.q(table, "pk = :p AND sk BETWEEN :lo AND :hi",
                             {":p": {"S": "p"}, ":lo": {typ: lo},
                              ":hi": {typ: hi}})
                want = [v for v in ordered
                        if keyf(lo) <= keyf(v) <= keyf(hi)]
                self.assertEqual([it["sk"][typ] for it in got], want)

    def test_key_conditions_numeric(self):
        self.check_ops("q_n", "N", N_VALUES,
                       ["-1.5", "0", "2.0", "-100", "1E+2", "0.00099"],
                       Decimal)

    def test_key_conditions_string(self):
        self.check_ops("q_s", "S", S_VALUES, ["a", "ab", "B", "\u00e4", "zz"],
                       lambda s: s.encode("utf-8"))
        for prefix in ("a", "ab", "\u00e4", "Q", "\U0001F600"):
            with self.subTest(begins_with=prefix):
                got = self.q("q_s", "pk = :p AND begins_with(sk, :pre)",
                             {":p": {"S": "p"}, ":pre": {"S": prefix}})
                want = sorted((v for v in S_VALUES if v.startswith(prefix)),
                              key=lambda s: s.encode())
                self.assertEqual([it["sk"]["S"] for it in got], want)

    def test_key_conditions_binary(self):
        self.check_ops("q_b", "B", B_VALUES, [b"\x00\x01", b"\x80", b"\xff"],
                       bytes)
        got = self.q("q_b", "pk = :p AND begins_with(sk, :pre)",
                     {":p": {"S": "p"}, ":pre": {"B": b"\xff"}})
        self.assertEqual([it["sk"]["B"] for it in got],
                         [b"\xff", b"\xff\x00", b"\xff\xff"])

    def test_key_condition_with_names_and_resource(self):
        got = self.q("q_n", "#h = :p AND #r BETWEEN :a AND :b",
                     {":p": {"S": "other"}, ":a": {"N": "0"},
                      ":b": {"N": "10"}},
                     ExpressionAttributeNames={"#h": "pk", "#r": "sk"})
        self.assertEqual([it["sk"]["N"] for it in got],
                         ["0", "0.0001", "0.001", "2", "10"])
        self.assertTrue(all(it["pk"]["S"] == "other" for it in got))
        t = self.r.Table("q_n")
        resp = t.query(KeyConditionExpression=Key("pk").eq("p") &
                       Key("sk").gt(Decimal("-1")),
                       ScanIndexForward=False)
        self.assertEqual([str(it["sk"]) for it in resp["Items"]],
                         N_VALUES[:2:-1])
        resp = t.query(KeyConditionExpression=Key("pk").eq("p") &
                       Key("sk").lte(-10))
        self.assertEqual([it["sk"] for it in resp["Items"]],
                         [Decimal("-10000000000"), Decimal("-10")])
        st = self.r.Table("q_s")
        resp = st.query(KeyConditionExpression=Key("pk").eq("p") &
                        Key("sk").begins_with("a"))
        self.assertEqual([it["sk"] for it in resp["Items"]],
                         ["a", "aa", "ab", "abc"])

    def test_query_missing_partition_is_empty(self):
        resp = self.c.query(TableName="q_n", KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "none"}})
        self.assertEqual(resp["Items"], [])
        self.assertEqual(resp["Count"], 0)
        self.assertNotIn("LastEvaluatedKey", list(resp))

    def test_key_condition_errors(self):
        cn = self.cn
        bad = [
            # No partition key condition.
            ("sk > :v", {":v": {"N": "1"}}),
            # Partition key with a range operator.
            ("pk > :p", {":p": {"S": "p"}}),
            # Non-key attribute.
            ("pk = :p AND v = :v", {":p": {"S": "p"}, ":v": {"S": "x"}}),
            # begins_with is not defined on numbers.
            ("pk = :p AND begins_with(sk, :v)", {":p": {"S": "p"},
                                                 ":v": {"N": "1"}}),
            # Operand type does not match the key type.
            ("pk = :p AND sk > :v", {":p": {"S": "p"}, ":v": {"S": "1"}}),
            # OR is not allowed.
            ("pk = :p OR sk > :v", {":p": {"S": "p"}, ":v": {"N": "1"}}),
            # Two conditions on the sort key.
            ("pk = :p AND sk > :v AND sk < :v", {":p": {"S": "p"},
                                                 ":v": {"N": "1"}}),
            # Undefined value.
            ("pk = :nope", {":p": {"S": "p"}}),
            # Syntax error.
            ("pk = = :p", {":p": {"S": "p"}}),
        ]
        for cond, vals in bad:
            with self.subTest(cond=cond):
                self.assertAwsError("ValidationException", cn.query,
                                    TableName="q_n",
                                    KeyConditionExpression=cond,
                                    ExpressionAttributeValues=vals)
        self.assertAwsError("ValidationException", cn.query,
                            TableName="q_n", KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "p"}},
                            Limit=0)
        self.assertAwsError("ResourceNotFoundException", cn.query,
                            TableName="q_missing",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "p"}})

    # -------------------------------------------------------- pagination

    def test_limit_pagination_exactly_once(self):
        for forward in (True, False):
            with self.subTest(forward=forward):
                seen = []
                args = dict(TableName="q_page",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "p"}},
                            Limit=7, ScanIndexForward=forward)
                pages = 0
                while True:
                    resp = self.c.query(**args)
                    pages += 1
                    self.assertLessEqual(len(resp["Items"]), 7)
                    seen.extend(int(it["sk"]["N"]) for it in resp["Items"])
                    lek = resp.get("LastEvaluatedKey")
                    if not lek:
                        break
                    self.assertEqual(set(lek), {"pk", "sk"})
                    self.assertEqual(lek, {"pk": resp["Items"][-1]["pk"],
                                           "sk": resp["Items"][-1]["sk"]})
                    args["ExclusiveStartKey"] = lek
                    self.assertLess(pages, 100)
                want = list(range(100)) if forward else \
                    list(range(99, -1, -1))
                self.assertEqual(seen, want)
                self.assertIn(pages, (15, 16))

    def test_paginator(self):
        pag = self.c.get_paginator("query")
        seen = []
        npages = 0
        for page in pag.paginate(TableName="q_page",
                                 KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={
                                     ":p": {"S": "p"}},
                                 PaginationConfig={"PageSize": 9}):
            npages += 1
            seen.extend(int(it["sk"]["N"]) for it in page["Items"])
        self.assertEqual(seen, list(range(100)))
        self.assertGreaterEqual(npages, 12)
        # Resource API pagination by hand.
        t = self.r.Table("q_page")
        kw = dict(KeyConditionExpression=Key("pk").eq("p"), Limit=33)
        got = []
        while True:
            resp = t.query(**kw)
            got.extend(it["data"] for it in resp["Items"])
            if "LastEvaluatedKey" not in resp:
                break
            kw["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        self.assertEqual(got, ["d%d" % i for i in range(100)])

    def test_exclusive_start_key_mid_range(self):
        resp = self.c.query(TableName="q_page",
                            KeyConditionExpression="pk = :p AND sk >= :lo",
                            ExpressionAttributeValues={":p": {"S": "p"},
                                                       ":lo": {"N": "90"}},
                            ExclusiveStartKey={"pk": {"S": "p"},
                                               "sk": {"N": "94"}})
        self.assertEqual([it["sk"]["N"] for it in resp["Items"]],
                         ["95", "96", "97", "98", "99"])

    def test_select_count(self):
        resp = self.c.query(TableName="q_page",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "p"}},
                            Select="COUNT")
        self.assertEqual(resp["Count"], 100)
        self.assertEqual(resp["ScannedCount"], 100)
        self.assertNotIn("Items", list(resp))
        self.assertNotIn("LastEvaluatedKey", list(resp))
        resp = self.c.query(TableName="q_page",
                            KeyConditionExpression="pk = :p AND sk < :v",
                            ExpressionAttributeValues={":p": {"S": "p"},
                                                       ":v": {"N": "50"}},
                            Select="COUNT", Limit=30)
        self.assertEqual(resp["Count"], 30)
        self.assertNotIn("Items", list(resp))
        self.assertEqual(resp["LastEvaluatedKey"],
                         {"pk": {"S": "p"}, "sk": {"N": "29"}})

    def test_filter_and_projection(self):
        resp = self.c.query(TableName="q_page",
                            KeyConditionExpression="pk = :p AND sk < :v",
                            FilterExpression="#d IN (:a, :b)",
                            ExpressionAttributeNames={"#d": "data"},
                            ExpressionAttributeValues={
                                ":p": {"S": "p"}, ":v": {"N": "20"},
                                ":a": {"S": "d3"}, ":b": {"S": "d17"}},
                            ProjectionExpression="sk")
        self.assertEqual(resp["Items"], [{"sk": {"N": "3"}},
                                         {"sk": {"N": "17"}}])
        self.assertEqual(resp["Count"], 2)
        self.assertEqual(resp["ScannedCount"], 20)
        t = self.r.Table("q_page")
        resp = t.query(KeyConditionExpression=Key("pk").eq("p"),
                       FilterExpression=Attr("data").begins_with("d9"))
        self.assertEqual([it["sk"] for it in resp["Items"]],
                         [9] + list(range(90, 100)))
        # Filter on a key attribute is rejected.
        self.assertAwsError("ValidationException", self.c.query,
                            TableName="q_page",
                            KeyConditionExpression="pk = :p",
                            FilterExpression="sk = :v",
                            ExpressionAttributeValues={":p": {"S": "p"},
                                                       ":v": {"N": "1"}})

    def test_consistent_read(self):
        resp = self.c.query(TableName="q_page",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "a"}},
                            ConsistentRead=True)
        self.assertEqual([it["sk"]["N"] for it in resp["Items"]],
                         ["0", "1", "2", "3", "4"])

    # ------------------------------------------------------- 1 MB pages

    def test_one_megabyte_page_limit(self):
        for i in range(30):
            self.c.put_item(TableName="q_big", Item={
                "pk": {"S": "big"}, "sk": {"N": str(i)},
                "blob": {"S": chr(ord("a") + i % 26) * BIG_VALUE_BYTES}})
        self.c.put_item(TableName="q_big", Item={"pk": {"S": "small"},
                                                 "sk": {"N": "0"}})
        seen = []
        first = True
        args = dict(TableName="q_big", KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "big"}})
        pages = 0
        while True:
            resp = self.c.query(**args)
            pages += 1
            n = len(resp["Items"])
            size = sum(len(it["blob"]["S"]) for it in resp["Items"])
            if first:
                self.assertIn("LastEvaluatedKey", resp)
                # The page stops around 1 MB: no more than one item past it.
                self.assertGreaterEqual(n, 5)
                self.assertLessEqual(n, 11)
                self.assertLessEqual(size, MB + BIG_VALUE_BYTES)
                first = False
            for it in resp["Items"]:
                self.assertEqual(it["blob"]["S"],
                                 chr(ord("a") + int(it["sk"]["N"]) % 26) *
                                 BIG_VALUE_BYTES)
            seen.extend(int(it["sk"]["N"]) for it in resp["Items"])
            lek = resp.get("LastEvaluatedKey")
            if not lek:
                break
            args["ExclusiveStartKey"] = lek
            self.assertLess(pages, 40)
        self.assertEqual(seen, list(range(30)))
        self.assertGreaterEqual(pages, 3)
        # Select COUNT is bounded by the same 1 MB of scanned data.
        resp = self.c.query(TableName="q_big",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "big"}},
                            Select="COUNT")
        self.assertLess(resp["Count"], 30)
        self.assertIn("LastEvaluatedKey", resp)
        # Scan pages are bounded too and cover all 31 items once.
        seen = []
        args = dict(TableName="q_big")
        first = True
        while True:
            resp = self.c.scan(**args)
            if first:
                self.assertIn("LastEvaluatedKey", resp)
                self.assertLessEqual(len(resp["Items"]), 11)
                first = False
            seen.extend((it["pk"]["S"], it["sk"]["N"])
                        for it in resp["Items"])
            if "LastEvaluatedKey" not in resp:
                break
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
            self.assertLess(len(seen), 100)
        self.assertEqual(sorted(seen), sorted(
            [("big", str(i)) for i in range(30)] + [("small", "0")]))
