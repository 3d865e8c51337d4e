"""The legacy (pre-expression) parameters: Expected, ConditionalOperator,
AttributeUpdates, KeyConditions, QueryFilter, ScanFilter, AttributesToGet,
on every operation that takes them, and the rules on mixing them with
expressions — through the boto3 client, the resource API and the AWS
CLI."""

import json
from decimal import Decimal

from harness import NodeTestCase, create_table

T = "legacy"      # pk S
TR = "legacy_r"   # pk S, sk N

COND_FAILED = "ConditionalCheckFailedException"


class LegacyTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        create_table(c, T)
        create_table(c, TR, range_key=("sk", "N"))
        items = [{"pk": {"S": "p"}, "sk": {"N": str(i)},
                  "v": {"N": str(i % 3)}, "name": {"S": "n%02d" % i},
                  "extra": {"S": "e"}} for i in range(20)]
        items += [{"pk": {"S": "q"}, "sk": {"N": str(i)},
                   "v": {"N": str(i % 2)}} for i in range(6)]
        for i in range(0, len(items), 25):
            c.batch_write_item(RequestItems={TR: [
                {"PutRequest": {"Item": it}} for it in items[i:i + 25]]})

    def get(self, pk):
        return self.c.get_item(TableName=T, Key={"pk": {"S": pk}},
                               ConsistentRead=True).get("Item")

    def base(self, pk):
        item = {"pk": {"S": pk}, "n": {"N": "5"}, "s": {"S": "hello"},
                "ss": {"SS": ["a", "b"]}, "l": {"L": [{"S": "x"}]},
                "dot.name": {"S": "dotted"}}
        self.c.put_item(TableName=T, Item=item)
        return item

    def holds(self, pk, expected, op=None):
        """True when the Expected map holds on item pk (a no-op update)."""
        kw = {"Expected": expected}
        if op:
            kw["ConditionalOperator"] = op
        try:
            self.c.update_item(TableName=T, Key={"pk": {"S": pk}}, **kw)
            return True
        except self.c.exceptions.ConditionalCheckFailedException:
            return False

    # ---------------------------------------------------------- Expected

    def test_expected_value_and_exists(self):
        self.base("ex")
        self.assertTrue(self.holds("ex", {"n": {"Value": {"N": "5"}}}))
        self.assertFalse(self.holds("ex", {"n": {"Value": {"N": "6"}}}))
        self.assertTrue(self.holds("ex", {"n": {"Exists": True,
                                                "Value": {"N": "5"}}}))
        self.assertTrue(self.holds("ex", {"nope": {"Exists": False}}))
        self.assertFalse(self.holds("ex", {"n": {"Exists": False}}))
        # Names with dots are plain attribute names here.
        self.assertTrue(self.holds("ex", {"dot.name": {
            "Value": {"S": "dotted"}}}))
        # Several entries are ANDed by default.
        self.assertFalse(self.holds("ex", {"n": {"Value": {"N": "5"}},
                                           "s": {"Value": {"S": "x"}}}))
        self.assertTrue(self.holds("ex", {"n": {"Value": {"N": "5"}},
                                          "s": {"Value": {"S": "x"}}}, "OR"))
        self.assertFalse(self.holds("ex", {"n": {"Value": {"N": "5"}},
                                           "s": {"Value": {"S": "x"}}},
                                    "AND"))

    def test_expected_comparison_operators(self):
        self.base("cmp")

        def cmp(attr, op, *vals):
            e = {"ComparisonOperator": op}
            if vals:
                e["AttributeValueList"] = list(vals)
            return self.holds("cmp", {attr: e})

        N = lambda x: {"N": x}  # noqa: E731
        S = lambda x: {"S": x}  # noqa: E731
        cases = [
            (("n", "EQ", N("5")), True), (("n", "EQ", N("4")), False),
            (("n", "NE", N("4")), True), (("n", "NE", N("5")), False),
            (("nope", "NE", N("5")), True),
            (("n", "LT", N("6")), True), (("n", "LT", N("5")), False),
            (("n", "LE", N("5")), True), (("n", "GT", N("4")), True),
            (("n", "GE", N("6")), False),
            (("n", "NOT_NULL"), True), (("nope", "NOT_NULL"), False),
            (("nope", "NULL"), True), (("n", "NULL"), False),
            (("s", "CONTAINS", S("ell")), True),
            (("ss", "CONTAINS", S("a")), True),
            (("ss", "CONTAINS", S("z")), False),
            (("s", "NOT_CONTAINS", S("zz")), True),
            (("ss", "NOT_CONTAINS", S("a")), False),
            # NOT_CONTAINS is false on a missing attribute.
            (("nope", "NOT_CONTAINS", S("a")), False),
            (("s", "BEGINS_WITH", S("he")), True),
            (("s", "BEGINS_WITH", S("lo")), False),
            (("n", "IN", N("1"), N("5")), True),
            (("n", "IN", N("1"), N("2")), False),
            (("n", "BETWEEN", N("5"), N("9")), True),
            (("n", "BETWEEN", N("6"), N("9")), False),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.assertEqual(cmp(*args), want)

    def test_expected_on_put_and_delete(self):
        c = self.c
        c.put_item(TableName=T, Item={"pk": {"S": "pd"}, "v": {"N": "1"}},
                   Expected={"pk": {"Exists": False}})
        self.assertAwsError(COND_FAILED, c.put_item, TableName=T,
                            Item={"pk": {"S": "pd"}},
                            Expected={"pk": {"Exists": False}},
                            message="The conditional request failed")
        resp = c.put_item(TableName=T, Item={"pk": {"S": "pd"},
                                             "v": {"N": "2"}},
                          Expected={"v": {"ComparisonOperator": "EQ",
                                          "AttributeValueList": [
                                              {"N": "1"}]}},
                          ReturnValues="ALL_OLD")
        self.assertEqual(resp["Attributes"]["v"], {"N": "1"})
        self.assertAwsError(COND_FAILED, c.delete_item, TableName=T,
                            Key={"pk": {"S": "pd"}},
                            Expected={"v": {"Value": {"N": "1"}}})
        c.delete_item(TableName=T, Key={"pk": {"S": "pd"}},
                      Expected={"v": {"Value": {"N": "2"}},
                                "w": {"Exists": False}})
        self.assertIsNone(self.get("pd"))

    # -------------------------------------------------- AttributeUpdates

    def test_attribute_updates(self):
        self.base("au")
        resp = self.c.update_item(
            TableName=T, Key={"pk": {"S": "au"}},
            AttributeUpdates={
                "s": {"Action": "PUT", "Value": {"S": "bye"}},
                "n": {"Action": "ADD", "Value": {"N": "3"}},
                "ss": {"Action": "ADD", "Value": {"SS": ["c"]}},
                "l": {"Action": "ADD", "Value": {"L": [{"S": "y"}]}},
                "dot.name": {"Action": "DELETE"},
                "fresh": {"Action": "ADD", "Value": {"N": "1"}},
            },
            ReturnValues="UPDATED_NEW")
        attrs = resp["Attributes"]
        self.assertEqual(attrs["s"], {"S": "bye"})
        self.assertEqual(attrs["n"], {"N": "8"})
        self.assertEqual(sorted(attrs["ss"]["SS"]), ["a", "b", "c"])
        self.assertEqual(attrs["l"], {"L": [{"S": "x"}, {"S": "y"}]})
        self.assertEqual(attrs["fresh"], {"N": "1"})
        self.assertNotIn("dot.name", self.get("au"))
        self.c.update_item(TableName=T, Key={"pk": {"S": "au"}},
                           AttributeUpdates={"ss": {
                               "Action": "DELETE",
                               "Value": {"SS": ["a", "c"]}}})
        self.assertEqual(self.get("au")["ss"], {"SS": ["b"]})
        # With Expected, and the default action (PUT).
        self.assertAwsError(
            COND_FAILED, self.c.update_item, TableName=T,
            Key={"pk": {"S": "au"}},
            AttributeUpdates={"s": {"Value": {"S": "no"}}},
            Expected={"n": {"Value": {"N": "0"}}})
        self.c.update_item(TableName=T, Key={"pk": {"S": "au"}},
                           AttributeUpdates={"s": {"Value": {"S": "yes"}}},
                           Expected={"n": {"Value": {"N": "8"}}})
        self.assertEqual(self.get("au")["s"], {"S": "yes"})
        # A key attribute cannot be updated.
        self.assertAwsError(
            "ValidationException", self.c.update_item, TableName=T,
            Key={"pk": {"S": "au"}},
            AttributeUpdates={"pk": {"Value": {"S": "other"}}},
            message_contains="This attribute is part of the key")

    # ----------------------------------------------- reads with legacy

    def test_attributes_to_get(self):
        self.base("atg")
        item = self.c.get_item(TableName=T, Key={"pk": {"S": "atg"}},
                               AttributesToGet=["n", "dot.name"])["Item"]
        self.assertEqual(item, {"n": {"N": "5"},
                                "dot.name": {"S": "dotted"}})
        resp = self.c.batch_get_item(RequestItems={T: {
            "Keys": [{"pk": {"S": "atg"}}], "AttributesToGet": ["s"]}})
        self.assertEqual(resp["Responses"][T], [{"s": {"S": "hello"}}])
        resp = self.c.query(TableName=TR, KeyConditions={"pk": {
            "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "q"}]}},
            AttributesToGet=["sk"])
        self.assertEqual(resp["Items"], [{"sk": {"N": str(i)}}
                                         for i in range(6)])
        resp = self.c.scan(TableName=TR, AttributesToGet=["name"],
                           Select="SPECIFIC_ATTRIBUTES",
                           ScanFilter={"sk": {"ComparisonOperator": "EQ",
                                              "AttributeValueList": [
                                                  {"N": "3"}]},
                                       "pk": {"ComparisonOperator": "EQ",
                                              "AttributeValueList": [
                                                  {"S": "p"}]}})
        self.assertEqual(resp["Items"], [{"name": {"S": "n03"}}])
        self.assertAwsError(
            "ValidationException", self.c.get_item, TableName=T,
            Key={"pk": {"S": "atg"}}, AttributesToGet=["n", "n"],
            message_contains="Duplicate value in attribute")

    def test_key_conditions_and_query_filter(self):
        def sks(resp):
            return [int(i["sk"]["N"]) for i in resp["Items"]]

        eq_p = {"ComparisonOperator": "EQ",
                "AttributeValueList": [{"S": "p"}]}
        cases = [
            ({"ComparisonOperator": "BETWEEN",
              "AttributeValueList": [{"N": "3"}, {"N": "6"}]}, [3, 4, 5, 6]),
            ({"ComparisonOperator": "GT",
              "AttributeValueList": [{"N": "16"}]}, [17, 18, 19]),
            ({"ComparisonOperator": "LE",
              "AttributeValueList": [{"N": "2"}]}, [0, 1, 2]),
            ({"ComparisonOperator": "EQ",
              "AttributeValueList": [{"N": "7"}]}, [7]),
        ]
        for skc, want in cases:
            with self.subTest(sk=skc["ComparisonOperator"]):
                resp = self.c.query(TableName=TR, KeyConditions={
                    "pk": eq_p, "sk": skc})
                self.assertEqual(sks(resp), want)
        resp = self.c.query(TableName=TR, KeyConditions={"pk": eq_p},
                            QueryFilter={"v": {"ComparisonOperator": "EQ",
                                               "AttributeValueList": [
                                                   {"N": "0"}]}},
                            ScanIndexForward=False, Limit=10)
        self.assertEqual(sks(resp), [18, 15, 12])
        self.assertEqual(resp["ScannedCount"], 10)
        resp = self.c.query(
            TableName=TR, KeyConditions={"pk": eq_p},
            QueryFilter={"v": {"ComparisonOperator": "EQ",
                               "AttributeValueList": [{"N": "0"}]},
                         "name": {"ComparisonOperator": "BEGINS_WITH",
                                  "AttributeValueList": [{"S": "n1"}]}},
            ConditionalOperator="OR")
        self.assertEqual(sks(resp), [0, 3, 6, 9, 10, 11, 12, 13, 14, 15,
                                     16, 17, 18, 19])
        # KeyConditions may go with a FilterExpression (DynamoDB allows
        # it) but not with a KeyConditionExpression.
        resp = self.c.query(TableName=TR, KeyConditions={"pk": eq_p},
                            FilterExpression="v = :one",
                            ExpressionAttributeValues={":one": {"N": "1"}})
        self.assertEqual(sks(resp), [1, 4, 7, 10, 13, 16, 19])
        self.assertAwsError(
            "ValidationException", self.c.query, TableName=TR,
            KeyConditions={"pk": eq_p}, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            message="Can not use both expression and non-expression "
                    "parameters in the same request: Non-expression "
                    "parameters: {KeyConditions} Expression parameters: "
                    "{KeyConditionExpression}")
        # A non-key attribute in KeyConditions.
        self.assertAwsError(
            "ValidationException", self.c.query, TableName=TR,
            KeyConditions={"pk": eq_p, "v": {
                "ComparisonOperator": "EQ",
                "AttributeValueList": [{"N": "1"}]}})

    def test_scan_filter(self):
        resp = self.c.scan(TableName=TR, ScanFilter={
            "pk": {"ComparisonOperator": "EQ",
                   "AttributeValueList": [{"S": "q"}]},
            "v": {"ComparisonOperator": "NE",
                  "AttributeValueList": [{"N": "0"}]}})
        self.assertEqual(sorted(int(i["sk"]["N"]) for i in resp["Items"]),
                         [1, 3, 5])
        self.assertEqual(resp["ScannedCount"], 26)
        resp = self.c.scan(TableName=TR, Select="COUNT", ScanFilter={
            "extra": {"ComparisonOperator": "NULL"}})
        self.assertEqual(resp["Count"], 6)
        resp = self.c.scan(TableName=TR, ScanFilter={
            "sk": {"ComparisonOperator": "IN",
                   "AttributeValueList": [{"N": "4"}, {"N": "5"}]},
            "v": {"ComparisonOperator": "EQ",
                  "AttributeValueList": [{"N": "1"}]}},
            ConditionalOperator="AND")
        self.assertEqual(sorted((i["pk"]["S"], int(i["sk"]["N"]))
                                for i in resp["Items"]),
                         [("p", 4), ("q", 5)])

    # ------------------------------------------------------ mixing

    def test_mixing_and_validation_errors(self):
        c = self.cn
        key = {"pk": {"S": "mix"}}
        cases = [
            (c.put_item, dict(Item=key, Expected={"n": {"Exists": False}},
                              ConditionExpression="attribute_exists(n)"),
             "Can not use both expression and non-expression parameters in "
             "the same request: Non-expression parameters: {Expected} "
             "Expression parameters: {ConditionExpression}"),
            (c.update_item, dict(Key=key, AttributeUpdates={
                "a": {"Value": {"S": "x"}}}, UpdateExpression="SET b = :v",
                ExpressionAttributeValues={":v": {"S": "y"}}),
             "Can not use both expression and non-expression parameters in "
             "the same request: Non-expression parameters: "
             "{AttributeUpdates} Expression parameters: {UpdateExpression}"),
            (c.scan, dict(FilterExpression="pk = :v",
                          ExpressionAttributeValues={":v": {"S": "1"}},
                          ScanFilter={"n": {
                              "ComparisonOperator": "NOT_NULL"}}),
             "Can not use both expression and non-expression parameters in "
             "the same request: Non-expression parameters: {ScanFilter} "
             "Expression parameters: {FilterExpression}"),
            (c.get_item, dict(Key=key, AttributesToGet=["a"],
                              ProjectionExpression="b"),
             "Can not use both expression and non-expression parameters in "
             "the same request: Non-expression parameters: "
             "{AttributesToGet} Expression parameters: "
             "{ProjectionExpression}"),
            (c.put_item, dict(Item=key, Expected={"n": {"Value": {"N": "1"}}},
                              ExpressionAttributeValues={":v": {"N": "1"}}),
             "ExpressionAttributeValues can only be specified when using "
             "expressions: ConditionExpression is null"),
            (c.get_item, dict(Key=key, ExpressionAttributeNames={"#a": "a"}),
             "ExpressionAttributeNames can only be specified when using "
             "expressions"),
            (c.put_item, dict(Item=key, Expected={"n": {
                "ComparisonOperator": "BETWEEN",
                "AttributeValueList": [{"N": "1"}]}}),
             "One or more parameter values were invalid: Invalid number of "
             "argument(s) for the BETWEEN ComparisonOperator"),
        ]
        for fn, kw, msg in cases:
            with self.subTest(msg=msg):
                self.assertAwsError("ValidationException", fn,
                                    TableName=T, message=msg, **kw)
        self.assertIsNone(self.get("mix"))

    # --------------------------------------------- resource and CLI

    def test_resource_api(self):
        table = self.r.Table(T)
        table.put_item(Item={"pk": "res", "n": 1, "tags": {"x"}},
                       Expected={"pk": {"Exists": False}})
        with self.assertRaises(
                table.meta.client.exceptions.ConditionalCheckFailedException):
            table.put_item(Item={"pk": "res"},
                           Expected={"n": {"Value": 2}})
        resp = table.update_item(
            Key={"pk": "res"},
            AttributeUpdates={"n": {"Action": "ADD", "Value": 2},
                              "tags": {"Action": "ADD", "Value": {"y"}}},
            Expected={"n": {"ComparisonOperator": "LT",
                            "AttributeValueList": [10]}},
            ReturnValues="ALL_NEW")
        self.assertEqual(resp["Attributes"], {"pk": "res", "n": Decimal(3),
                                              "tags": {"x", "y"}})
        item = table.get_item(Key={"pk": "res"},
                              AttributesToGet=["n"])["Item"]
        self.assertEqual(item, {"n": Decimal(3)})
        resp = self.r.Table(TR).query(KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": ["p"]},
            "sk": {"ComparisonOperator": "BETWEEN",
                   "AttributeValueList": [1, 2]}})
        self.assertEqual([int(i["sk"]) for i in resp["Items"]], [1, 2])

    def test_cli(self):
        n = self.node
        out = n.aws("query", "--table-name", TR, "--key-conditions",
                    json.dumps({"pk": {"ComparisonOperator": "EQ",
                                       "AttributeValueList": [{"S": "q"}]},
                                "sk": {"ComparisonOperator": "GE",
                                       "AttributeValueList": [{"N": "4"}]}}),
                    "--attributes-to-get", "sk")
        self.assertEqual(out["Items"], [{"sk": {"N": "4"}},
                                        {"sk": {"N": "5"}}])
        out = n.aws("scan", "--table-name", TR, "--scan-filter",
                    json.dumps({"name": {"ComparisonOperator": "BEGINS_WITH",
                                         "AttributeValueList": [
                                             {"S": "n19"}]}}))
        self.assertEqual([i["sk"]["N"] for i in out["Items"]], ["19"])
        n.aws("put-item", "--table-name", T, "--item",
              json.dumps({"pk": {"S": "cli"}, "n": {"N": "1"}}),
              "--expected", json.dumps({"pk": {"Exists": False}}))
        rc, err = n.aws_fail("put-item", "--table-name", T, "--item",
                             json.dumps({"pk": {"S": "cli"}}),
                             "--expected",
                             json.dumps({"pk": {"Exists": False}}))
        self.assertIn(COND_FAILED, err)
        out = n.aws("get-item", "--table-name", T, "--key",
                    json.dumps({"pk": {"S": "cli"}}),
                    "--attributes-to-get", "n")
        self.assertEqual(out["Item"], {"n": {"N": "1"}})
