"""Scan: pagination, Select COUNT, filters, parallel scan segments."""

from boto3.dynamodb.conditions import Attr

from harness import NodeTestCase

N_ITEMS = 500


class ScanTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        for name, keys in (("scn", [("pk", "S", "HASH")]),
                           ("sc_hr", [("pk", "N", "HASH"),
                                      ("sk", "S", "RANGE")]),
                           ("sc_empty", [("pk", "S", "HASH")])):
            c.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": a,
                                       "AttributeType": t}
                                      for a, t, _ in keys],
                KeySchema=[{"AttributeName": a, "KeyType": k}
                           for a, _, k in keys],
                BillingMode="PAY_PER_REQUEST")
        for name in ("scn", "sc_hr", "sc_empty"):
            c.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        items = [{"pk": {"S": "item%04d" % i}, "n": {"N": str(i)},
                  "odd": {"BOOL": bool(i % 2)}} for i in range(N_ITEMS)]
        for i in range(0, len(items), 25):
            resp = c.batch_write_item(RequestItems={"scn": [
                {"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
            assert not resp.get("UnprocessedItems"), resp
        items = [{"pk": {"N": str(p)}, "sk": {"S": "s%02d" % s}}
                 for p in range(10) for s in range(12)]
        for i in range(0, len(items), 25):
            resp = c.batch_write_item(RequestItems={"sc_hr": [
                {"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
            assert not resp.get("UnprocessedItems"), resp

    def keys_of(self, items, table="scn"):
        if table == "scn":
            return [it["pk"]["S"] for it in items]
        return [(it["pk"]["N"], it["sk"]["S"]) for it in items]

    def test_scan_all_no_limit(self):
        resp = self.c.scan(TableName="scn")
        self.assertEqual(resp["Count"], N_ITEMS)
        self.assertEqual(resp["ScannedCount"], N_ITEMS)
        self.assertNotIn("LastEvaluatedKey", list(resp))
        keys = self.keys_of(resp["Items"])
        self.assertEqual(sorted(keys),
                         ["item%04d" % i for i in range(N_ITEMS)])
        resp = self.c.scan(TableName="scn", ConsistentRead=True, Limit=1)
        self.assertEqual(resp["Count"], 1)

    def test_scan_empty_table(self):
        resp = self.c.scan(TableName="sc_empty")
        self.assertEqual(resp["Items"], [])
        self.assertEqual(resp["Count"], 0)
        self.assertEqual(resp["ScannedCount"], 0)
        self.assertNotIn("LastEvaluatedKey", list(resp))

    def test_scan_pagination_exactly_once(self):
        for table, total in (("scn", N_ITEMS), ("sc_hr", 120)):
            with self.subTest(table=table):
                args = dict(TableName=table, Limit=37)
                keys = []
                pages = 0
                while True:
                    resp = self.c.scan(**args)
                    pages += 1
                    self.assertLessEqual(resp["Count"], 37)
                    self.assertEqual(resp["ScannedCount"], resp["Count"])
                    keys.extend(self.keys_of(resp["Items"], table))
                    lek = resp.get("LastEvaluatedKey")
                    if not lek:
                        break
                    last = resp["Items"][-1]
                    self.assertEqual(lek, {k: last[k] for k in lek})
                    args["ExclusiveStartKey"] = lek
                    self.assertLess(pages, 100)
                self.assertEqual(len(keys), total)
                self.assertEqual(len(set(keys)), total)
                self.assertIn(pages, (total // 37 + 1, total // 37 + 2))

    def test_scan_paginator_and_resource(self):
        pag = self.c.get_paginator("scan")
        keys = []
        for page in pag.paginate(TableName="scn",
                                 PaginationConfig={"PageSize": 64}):
            keys.extend(self.keys_of(page["Items"]))
        self.assertEqual(sorted(keys),
                         ["item%04d" % i for i in range(N_ITEMS)])
        t = self.r.Table("scn")
        resp = t.scan(FilterExpression=Attr("n").lt(10) & Attr("odd").eq(True))
        self.assertEqual(sorted(int(it["n"]) for it in resp["Items"]),
                         [1, 3, 5, 7, 9])
        self.assertEqual(resp["ScannedCount"], N_ITEMS)

    def test_select_count(self):
        resp = self.c.scan(TableName="scn", Select="COUNT")
        self.assertEqual(resp["Count"], N_ITEMS)
        self.assertEqual(resp["ScannedCount"], N_ITEMS)
        self.assertNotIn("Items", list(resp))
        total = 0
        args = dict(TableName="scn", Select="COUNT", Limit=150)
        pages = 0
        while True:
            resp = self.c.scan(**args)
            self.assertNotIn("Items", list(resp))
            self.assertLessEqual(resp["Count"], 150)
            total += resp["Count"]
            pages += 1
            if "LastEvaluatedKey" not in resp:
                break
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
            self.assertLess(pages, 10)
        self.assertEqual(total, N_ITEMS)
        resp = self.c.scan(TableName="scn", Select="COUNT",
                           FilterExpression="odd = :t",
                           ExpressionAttributeValues={":t": {"BOOL": True}})
        self.assertEqual(resp["Count"], N_ITEMS // 2)
        self.assertEqual(resp["ScannedCount"], N_ITEMS)

    def test_filter_and_projection(self):
        items = self.scan_all("scn", FilterExpression="n BETWEEN :a AND :b",
                              ExpressionAttributeValues={
                                  ":a": {"N": "100"}, ":b": {"N": "104"}},
                              ProjectionExpression="n", Limit=50)
        self.assertEqual(sorted(int(it["n"]["N"]) for it in items),
                         [100, 101, 102, 103, 104])
        self.assertTrue(all(list(it) == ["n"] for it in items))

    def test_parallel_scan_segments(self):
        for total_segments in (4, 3, 1):
            with self.subTest(total_segments=total_segments):
                per_segment = []
                for seg in range(total_segments):
                    keys = []
                    args = dict(TableName="scn", Segment=seg,
                                TotalSegments=total_segments, Limit=60)
                    for _ in range(100):
                        resp = self.c.scan(**args)
                        keys.extend(self.keys_of(resp["Items"]))
                        if "LastEvaluatedKey" not in resp:
                            break
                        args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
                    per_segment.append(keys)
                allkeys = [k for seg in per_segment for k in seg]
                self.assertEqual(len(allkeys), N_ITEMS)
                self.assertEqual(sorted(allkeys),
                                 ["item%04d" % i for i in range(N_ITEMS)])
                if total_segments == 4:
                    # 500 hashed keys do not all land in one segment.
                    self.assertGreaterEqual(
                        sum(1 for s in per_segment if s), 2)
        # Hash+range table: a partition's items stay in one segment.
        per_pk = {}
        for seg in range(4):
            items = self.scan_all("sc_hr", Segment=seg, TotalSegments=4)
            for it in items:
                per_pk.setdefault(it["pk"]["N"], set()).add(seg)
        self.assertEqual(sorted(per_pk, key=int),
                         [str(i) for i in range(10)])
        for pk, segs in per_pk.items():
            self.assertEqual(len(segs), 1, pk)

    def test_parallel_scan_many_segments_full_cover(self):
        total = 0
        for seg in range(64):
            resp = self.c.scan(TableName="sc_hr", Segment=seg,
                               TotalSegments=64, Select="COUNT")
            self.assertNotIn("LastEvaluatedKey", list(resp))
            total += resp["Count"]
        self.assertEqual(total, 120)

    def test_segment_validation(self):
        cn = self.cn
        for kw in ({"Segment": 4, "TotalSegments": 4},
                   {"Segment": 0, "TotalSegments": 0},
                   {"Segment": 0, "TotalSegments": 1000001},
                   {"Segment": -1, "TotalSegments": 4},
                   {"Segment": 0},
                   {"TotalSegments": 4}):
            with self.subTest(**kw):
                self.assertAwsError("ValidationException", cn.scan,
                                    TableName="scn", **kw)
        self.assertAwsError(
            "ValidationException", cn.scan, TableName="scn", Segment=5,
            TotalSegments=5,
            message_contains="Segment parameter is zero-based")
        resp = self.c.scan(TableName="scn", Segment=999999,
                           TotalSegments=1000000, Select="COUNT")
        self.assertLessEqual(resp["Count"], N_ITEMS)
        self.assertAwsError("ValidationException", cn.scan, TableName="scn",
                            Limit=0)
        self.assertAwsError("ResourceNotFoundException", cn.scan,
                            TableName="sc_missing")

    def test_exclusive_start_key_validation(self):
        # A start key that does not match the schema is rejected.
        self.assertAwsError("ValidationException", self.cn.scan,
                            TableName="scn",
                            ExclusiveStartKey={"nope": {"S": "x"}})
        self.assertAwsError("ValidationException", self.cn.scan,
                            TableName="scn",
                            ExclusiveStartKey={"pk": {"N": "1"}})
