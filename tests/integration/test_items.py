"""Data plane on single items: PutItem, GetItem, UpdateItem, DeleteItem,
attribute types, numbers, projections, conditions."""

import json
from decimal import Decimal

from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import Binary

from harness import NodeTestCase

T = "items"          # pk S
TN = "items_n"       # pk N
TB = "items_b"       # pk B
TR = "items_r"       # pk S, sk N


def nested(depth, leaf=None):
    """An attribute value made of `depth` nested maps around a scalar."""
    v = leaf or {"S": "leaf"}
    for _ in range(depth):
        v = {"M": {"a": v}}
    return v


def nested_list(depth):
    v = {"N": "1"}
    for _ in range(depth):
        v = {"L": [v]}
    return v


def norm(v):
    """Canonical form of a wire value for comparison: sets sorted."""
    (t, x), = v.items()
    if t in ("SS", "NS", "BS"):
        return {t: sorted(x)}
    if t == "M":
        return {"M": {k: norm(e) for k, e in x.items()}}
    if t == "L":
        return {"L": [norm(e) for e in x]}
    return v


def norm_item(item):
    return {k: norm(v) for k, v in item.items()}


class ItemsTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        for name, h, r in ((T, "S", None), (TN, "N", None), (TB, "B", None),
                           (TR, "S", "N")):
            attrs = [{"AttributeName": "pk", "AttributeType": h}]
            ks = [{"AttributeName": "pk", "KeyType": "HASH"}]
            if r:
                attrs.append({"AttributeName": "sk", "AttributeType": r})
                ks.append({"AttributeName": "sk", "KeyType": "RANGE"})
            c.create_table(TableName=name, AttributeDefinitions=attrs,
                           KeySchema=ks, BillingMode="PAY_PER_REQUEST")
        for name in (T, TN, TB, TR):
            c.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})

    def get(self, key, table=T, **kw):
        return self.c.get_item(TableName=table, Key=key, **kw).get("Item")

    # ------------------------------------------------------------- basics

    def test_put_get_delete(self):
        item = {"pk": {"S": "basic"}, "a": {"S": "hello"}, "n": {"N": "42"}}
        resp = self.c.put_item(TableName=T, Item=item)
        self.assertNotIn("Attributes", list(resp))
        self.assertEqual(self.get({"pk": {"S": "basic"}}), item)
        self.assertEqual(self.get({"pk": {"S": "basic"}},
                                  ConsistentRead=True), item)
        # Overwrite replaces the whole item.
        item2 = {"pk": {"S": "basic"}, "b": {"BOOL": False}}
        self.c.put_item(TableName=T, Item=item2)
        self.assertEqual(self.get({"pk": {"S": "basic"}}), item2)
        resp = self.c.delete_item(TableName=T, Key={"pk": {"S": "basic"}})
        self.assertNotIn("Attributes", list(resp))
        self.assertIsNone(self.get({"pk": {"S": "basic"}}))
        # Deleting a missing item is not an error.
        self.c.delete_item(TableName=T, Key={"pk": {"S": "basic"}})

    def test_get_missing_item_has_no_item_key(self):
        resp = self.c.get_item(TableName=T, Key={"pk": {"S": "nope"}})
        self.assertNotIn("Item", list(resp))
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 200)

    def test_return_values_put_delete(self):
        k = {"pk": {"S": "rv"}}
        resp = self.c.put_item(TableName=T, Item=dict(k, v={"N": "1"}),
                               ReturnValues="ALL_OLD")
        self.assertNotIn("Attributes", list(resp))
        resp = self.c.put_item(TableName=T, Item=dict(k, v={"N": "2"}),
                               ReturnValues="ALL_OLD")
        self.assertEqual(resp["Attributes"], dict(k, v={"N": "1"}))
        resp = self.c.put_item(TableName=T, Item=dict(k, v={"N": "3"}),
                               ReturnValues="NONE")
        self.assertNotIn("Attributes", list(resp))
        resp = self.c.delete_item(TableName=T, Key=k, ReturnValues="ALL_OLD")
        self.assertEqual(resp["Attributes"], dict(k, v={"N": "3"}))
        resp = self.c.delete_item(TableName=T, Key=k, ReturnValues="ALL_OLD")
        self.assertNotIn("Attributes", list(resp))
        # PutItem accepts only NONE and ALL_OLD.
        for rv in ("ALL_NEW", "UPDATED_NEW", "UPDATED_OLD"):
            self.assertAwsError("ValidationException", self.cn.put_item,
                                TableName=T, Item=dict(k, v={"N": "4"}),
                                ReturnValues=rv)
        self.assertIsNone(self.get(k))

    def test_update_item_return_values(self):
        k = {"pk": {"S": "upd"}}
        # UpdateItem on a missing item creates it.
        resp = self.c.update_item(
            TableName=T, Key=k, UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"S": "one"}},
            ReturnValues="ALL_NEW")
        self.assertEqual(resp["Attributes"], dict(k, a={"S": "one"}))
        self.c.put_item(TableName=T, Item=dict(k, a={"S": "one"},
                                               b={"N": "7"}))
        resp = self.c.update_item(
            TableName=T, Key=k, UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"S": "two"}},
            ReturnValues="ALL_OLD")
        self.assertEqual(resp["Attributes"],
                         dict(k, a={"S": "one"}, b={"N": "7"}))
        resp = self.c.update_item(
            TableName=T, Key=k, UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"S": "three"}},
            ReturnValues="UPDATED_NEW")
        self.assertEqual(resp["Attributes"], {"a": {"S": "three"}})
        resp = self.c.update_item(
            TableName=T, Key=k, UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"S": "four"}},
            ReturnValues="UPDATED_OLD")
        self.assertEqual(resp["Attributes"], {"a": {"S": "three"}})
        resp = self.c.update_item(
            TableName=T, Key=k, UpdateExpression="SET #c = :v",
            ExpressionAttributeNames={"#c": "c"},
            ExpressionAttributeValues={":v": {"L": [{"N": "1"}]}})
        self.assertNotIn("Attributes", list(resp))
        self.assertEqual(self.get(k), dict(k, a={"S": "four"}, b={"N": "7"},
                                           c={"L": [{"N": "1"}]}))

    def test_update_key_attribute_rejected(self):
        k = {"pk": {"S": "updkey"}}
        self.c.put_item(TableName=T, Item=k)
        self.assertAwsError(
            "ValidationException", self.c.update_item, TableName=T, Key=k,
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "other"}},
            message_contains="part of the key")
        self.assertEqual(self.get(k), k)

    def test_hash_range_item(self):
        for sk in ("1", "2", "10"):
            self.c.put_item(TableName=TR, Item={
                "pk": {"S": "hr"}, "sk": {"N": sk}, "v": {"S": "v" + sk}})
        self.assertEqual(
            self.get({"pk": {"S": "hr"}, "sk": {"N": "2"}}, table=TR),
            {"pk": {"S": "hr"}, "sk": {"N": "2"}, "v": {"S": "v2"}})
        self.assertIsNone(self.get({"pk": {"S": "hr"}, "sk": {"N": "3"}},
                                   table=TR))
        # Missing sort key in a Key is a validation error.
        self.assertAwsError(
            "ValidationException", self.c.get_item, TableName=TR,
            Key={"pk": {"S": "hr"}},
            message="The provided key element does not match the schema")

    # ------------------------------------------------------------ types

    def test_every_type_round_trips(self):
        item = {
            "pk": {"S": "types"},
            "s": {"S": "h\u00e9llo \u2603 \U0001F600 \"q\" \\ \n\t"},
            "s_empty": {"S": ""},
            "n": {"N": "-12.5"},
            "b": {"B": bytes(range(256))},
            "b_empty": {"B": b""},
            "ss": {"SS": ["x", "y", "\u00e9"]},
            "ns": {"NS": ["1", "2.5", "-3"]},
            "bs": {"BS": [b"\x00", b"\xff\xfe", b"abc"]},
            "m": {"M": {"inner": {"S": "v"}, "num": {"N": "1"},
                        "deep": {"M": {"l": {"L": [{"NULL": True}]}}}}},
            "l": {"L": [{"S": "a"}, {"N": "1"}, {"BOOL": True},
                        {"M": {}}, {"L": []}, {"NULL": True},
                        {"B": b"\x01"}, {"SS": ["q"]}]},
            "null": {"NULL": True},
            "t": {"BOOL": True},
            "f": {"BOOL": False},
            "m_empty": {"M": {}},
            "l_empty": {"L": []},
        }
        self.c.put_item(TableName=T, Item=item)
        got = self.get({"pk": {"S": "types"}})
        self.assertEqual(norm_item(got), norm_item(item))
        # Binary values come back as exactly the same bytes.
        self.assertEqual(got["b"]["B"], bytes(range(256)))

    def test_binary_key_table(self):
        key = b"\x00\x01\xfe\xff"
        self.c.put_item(TableName=TB, Item={"pk": {"B": key},
                                            "v": {"S": "bin"}})
        self.assertEqual(self.get({"pk": {"B": key}}, table=TB),
                         {"pk": {"B": key}, "v": {"S": "bin"}})
        self.assertIsNone(self.get({"pk": {"B": key + b"\x00"}}, table=TB))
        self.assertAwsError("ValidationException", self.c.put_item,
                            TableName=TB, Item={"pk": {"B": b""}})

    def test_resource_api_types(self):
        t = self.r.Table(T)
        item = {
            "pk": "res",
            "s": "text",
            "n": Decimal("3.14159"),
            "i": 7,
            "big": Decimal("12345678901234567890123456789012345678"),
            "b": Binary(b"\x00bin\xff"),
            "ss": {"a", "b"},
            "ns": {Decimal("1"), Decimal("2")},
            "bs": {Binary(b"x"), Binary(b"y")},
            "m": {"k": [1, "two", None, True, {"z": Decimal("0.5")}]},
            "nul": None,
            "yes": True,
        }
        t.put_item(Item=item)
        got = t.get_item(Key={"pk": "res"})["Item"]
        expect = dict(item)
        expect["i"] = Decimal(7)
        expect["m"] = {"k": [Decimal(1), "two", None, True,
                             {"z": Decimal("0.5")}]}
        self.assertEqual(got, expect)
        self.assertEqual(str(got["big"]),
                         "12345678901234567890123456789012345678")
        t.update_item(Key={"pk": "res"}, UpdateExpression="SET s = :v",
                      ExpressionAttributeValues={":v": "changed"})
        self.assertEqual(t.get_item(Key={"pk": "res"})["Item"]["s"],
                         "changed")
        old = t.delete_item(Key={"pk": "res"}, ReturnValues="ALL_OLD")
        self.assertEqual(old["Attributes"]["s"], "changed")
        self.assertNotIn("Item", t.get_item(Key={"pk": "res"}))

    def test_nesting_depth(self):
        ok = nested(30)
        self.c.put_item(TableName=T, Item={"pk": {"S": "deep"}, "d": ok})
        self.assertEqual(self.get({"pk": {"S": "deep"}})["d"], ok)
        okl = nested_list(30)
        self.c.put_item(TableName=T, Item={"pk": {"S": "deepl"}, "d": okl})
        self.assertEqual(self.get({"pk": {"S": "deepl"}})["d"], okl)
        for bad in (nested(33), nested_list(33), nested(40)):
            self.assertAwsError("ValidationException", self.c.put_item,
                                TableName=T,
                                Item={"pk": {"S": "deep2"}, "d": bad},
                                message_contains="nesting")
        # Far deeper than botocore can build: raw JSON.
        deep = ('{"M":{"a":' * 500) + '{"S":"x"}' + ('}}' * 500)
        status, _, body = self.node.raw(
            "DynamoDB_20120810.PutItem",
            '{"TableName":"%s","Item":{"pk":{"S":"deep2"},"d":%s}}'
            % (T, deep))
        self.assertEqual(status, 400, body)
        # Either the nesting check or the JSON parser's depth cap may stop
        # it; both are client errors.
        self.assertTrue(body["__type"].endswith(
            ("#ValidationException", "#SerializationException")), body)
        self.assertIsNone(self.get({"pk": {"S": "deep2"}}))

    def test_invalid_sets(self):
        for bad in ({"SS": []}, {"NS": []}, {"BS": []},
                    {"SS": ["a", "a"]}, {"NS": ["1", "1"]},
                    {"NS": ["1.10", "1.1"]}, {"BS": [b"x", b"x"]},
                    {"NS": ["1", "abc"]}):
            with self.subTest(v=bad):
                self.assertAwsError("ValidationException", self.cn.put_item,
                                    TableName=T,
                                    Item={"pk": {"S": "badset"}, "v": bad})

    # ---------------------------------------------------------- numbers

    def test_number_38_digits_exact(self):
        for text in ("12345678901234567890123456789012345678",
                     "-12345678901234567890123456789012345678",
                     "0.12345678901234567890123456789012345678",
                     "1234567890123456789.0123456789012345678",
                     "99999999999999999999999999999999999999"):
            with self.subTest(n=text):
                self.c.put_item(TableName=T, Item={"pk": {"S": "num"},
                                                   "n": {"N": text}})
                self.assertEqual(self.get({"pk": {"S": "num"}})["n"],
                                 {"N": text})
        # Trailing zeros of an integer are not significant digits.
        text = "1234567890123456789012345678901234567800"
        self.c.put_item(TableName=T, Item={"pk": {"S": "num"},
                                           "n": {"N": text}})
        self.assertEqual(self.get({"pk": {"S": "num"}})["n"], {"N": text})

    def test_number_too_many_digits(self):
        self.assertAwsError("ValidationException", self.c.put_item,
                            TableName=T,
                            Item={"pk": {"S": "num39"}, "n": {
                                "N": "123456789012345678901234567890123456789"}},
                            message_contains="38 significant digits")
        self.assertAwsError("ValidationException", self.c.put_item,
                            TableName=TN,
                            Item={"pk": {
                                "N": "1.23456789012345678901234567890123456789"}})
        self.assertIsNone(self.get({"pk": {"S": "num39"}}))

    def test_number_range_and_syntax(self):
        for text in ("1E+126", "-1E+126", "1E-131"):
            with self.subTest(n=text):
                self.assertAwsError("ValidationException", self.cn.put_item,
                                    TableName=T,
                                    Item={"pk": {"S": "rng"},
                                          "n": {"N": text}})
        for text in ("abc", "", "1.2.3", "NaN", "Infinity", "--1", "1e",
                     "0x10", " 1"):
            with self.subTest(n=text):
                self.assertAwsError("ValidationException", self.cn.put_item,
                                    TableName=T,
                                    Item={"pk": {"S": "rng"},
                                          "n": {"N": text}})
        self.c.put_item(TableName=T, Item={
            "pk": {"S": "rng"},
            "hi": {"N": "9.9999999999999999999999999999999999999E+125"},
            "lo": {"N": "1E-130"}})
        got = self.get({"pk": {"S": "rng"}})
        self.assertEqual(got["hi"]["N"],
                         "99999999999999999999999999999999999999" + "0" * 88)
        self.assertEqual(got["lo"]["N"], "0." + "0" * 129 + "1")

    def test_number_canonical_form(self):
        cases = {"1.10": "1.1", "100.000": "100", "-0": "0", "0.0": "0",
                 "1e2": "100", "1E+2": "100", "0.50": "0.5", "+7": "7",
                 "007": "7", "-1.5e-3": "-0.0015", "12.34E1": "123.4"}
        item = {"pk": {"S": "canon"}}
        for i, text in enumerate(cases):
            item["n%d" % i] = {"N": text}
        self.c.put_item(TableName=T, Item=item)
        got = self.get({"pk": {"S": "canon"}})
        for i, (text, want) in enumerate(cases.items()):
            with self.subTest(n=text):
                self.assertEqual(got["n%d" % i], {"N": want})

    def test_number_keys_equal_by_value(self):
        self.c.put_item(TableName=TN, Item={"pk": {"N": "1.10"},
                                            "v": {"S": "first"}})
        got = self.get({"pk": {"N": "1.1"}}, table=TN)
        self.assertEqual(got, {"pk": {"N": "1.1"}, "v": {"S": "first"}})
        # "1.100" overwrites the same item.
        self.c.put_item(TableName=TN, Item={"pk": {"N": "1.100"},
                                            "v": {"S": "second"}})
        self.assertEqual(self.get({"pk": {"N": "01.1"}}, table=TN)["v"],
                         {"S": "second"})
        self.c.put_item(TableName=TN, Item={"pk": {"N": "-0"}})
        self.assertEqual(self.get({"pk": {"N": "0"}}, table=TN),
                         {"pk": {"N": "0"}})
        big = "12345678901234567890123456789012345678"
        self.c.put_item(TableName=TN, Item={"pk": {"N": big}})
        self.assertEqual(self.get({"pk": {"N": big}}, table=TN),
                         {"pk": {"N": big}})
        self.assertIsNone(self.get(
            {"pk": {"N": "12345678901234567890123456789012345677"}},
            table=TN))

    # ------------------------------------------------------- projection

    def test_projection_expression(self):
        item = {
            "pk": {"S": "proj"},
            "a": {"S": "A"},
            "b": {"N": "2"},
            "m": {"M": {"x": {"S": "X"}, "y": {"M": {"z": {"N": "26"}}},
                        "w": {"S": "W"}}},
            "l": {"L": [{"S": "l0"}, {"M": {"c": {"S": "C"},
                                            "d": {"S": "D"}}},
                        {"S": "l2"}, {"S": "l3"}]},
            "dot.name": {"S": "dotted"},
            "size": {"N": "9"},
        }
        self.c.put_item(TableName=T, Item=item)
        k = {"pk": {"S": "proj"}}
        self.assertEqual(self.get(k, ProjectionExpression="a"),
                         {"a": {"S": "A"}})
        self.assertEqual(self.get(k, ProjectionExpression="a, b, pk"),
                         {"a": {"S": "A"}, "b": {"N": "2"},
                          "pk": {"S": "proj"}})
        self.assertEqual(self.get(k, ProjectionExpression="m.y.z"),
                         {"m": {"M": {"y": {"M": {"z": {"N": "26"}}}}}})
        self.assertEqual(self.get(k, ProjectionExpression="m.x, m.y.z"),
                         {"m": {"M": {"x": {"S": "X"},
                                      "y": {"M": {"z": {"N": "26"}}}}}})
        self.assertEqual(self.get(k, ProjectionExpression="l[1].c"),
                         {"l": {"L": [{"M": {"c": {"S": "C"}}}]}})
        self.assertEqual(self.get(k, ProjectionExpression="l[0], l[3]"),
                         {"l": {"L": [{"S": "l0"}, {"S": "l3"}]}})
        self.assertEqual(self.get(k, ProjectionExpression="l[9], nothere"),
                         {})
        self.assertEqual(
            self.get(k, ProjectionExpression="#d, #s, #m.#x",
                     ExpressionAttributeNames={"#d": "dot.name",
                                               "#s": "size", "#m": "m",
                                               "#x": "x"}),
            {"dot.name": {"S": "dotted"}, "size": {"N": "9"},
             "m": {"M": {"x": {"S": "X"}}}})
        # "size" is a reserved word; unused / undefined names are errors.
        self.assertAwsError("ValidationException", self.c.get_item,
                            TableName=T, Key=k, ProjectionExpression="size")
        self.assertAwsError("ValidationException", self.c.get_item,
                            TableName=T, Key=k, ProjectionExpression="#q")
        self.assertAwsError("ValidationException", self.c.get_item,
                            TableName=T, Key=k, ProjectionExpression="a",
                            ExpressionAttributeNames={"#unused": "x"})
        self.assertAwsError("ValidationException", self.c.get_item,
                            TableName=T, Key=k, ProjectionExpression="a,,b")

    # -------------------------------------------------------- conditions

    def test_condition_attribute_not_exists(self):
        k = {"pk": {"S": "cond"}}
        self.c.put_item(TableName=T, Item=dict(k, v={"N": "1"}),
                        ConditionExpression="attribute_not_exists(pk)")
        resp = self.assertAwsError(
            "ConditionalCheckFailedException", self.c.put_item,
            TableName=T, Item=dict(k, v={"N": "2"}),
            ConditionExpression="attribute_not_exists(pk)",
            message="The conditional request failed")
        self.assertEqual(self.get(k)["v"], {"N": "1"})
        # attribute_exists on delete of a missing item fails.
        self.assertAwsError(
            "ConditionalCheckFailedException", self.c.delete_item,
            TableName=T, Key={"pk": {"S": "cond-missing"}},
            ConditionExpression="attribute_exists(pk)")
        # A condition comparing a value.
        self.c.update_item(TableName=T, Key=k, UpdateExpression="SET v = :n",
                           ConditionExpression="v = :o",
                           ExpressionAttributeValues={":n": {"N": "5"},
                                                      ":o": {"N": "1"}})
        self.assertAwsError(
            "ConditionalCheckFailedException", self.c.update_item,
            TableName=T, Key=k, UpdateExpression="SET v = :n",
            ConditionExpression="v = :o",
            ExpressionAttributeValues={":n": {"N": "6"}, ":o": {"N": "1"}})
        self.assertEqual(self.get(k)["v"], {"N": "5"})
        self.c.delete_item(TableName=T, Key=k,
                           ConditionExpression="attribute_exists(v)")
        self.assertIsNone(self.get(k))
        # Resource API with a boto3 condition object.
        t = self.r.Table(T)
        t.put_item(Item={"pk": "cond2", "v": 1},
                   ConditionExpression=Attr("pk").not_exists())
        with self.assertRaises(
                self.r.meta.client.exceptions
                .ConditionalCheckFailedException):
            t.put_item(Item={"pk": "cond2", "v": 2},
                       ConditionExpression=Attr("pk").not_exists())

    def test_concurrent_conditional_puts_one_winner(self):
        # Writers race to create the same items; the condition is checked
        # inside the write, so exactly one wins each key.
        import threading
        import botocore.exceptions
        nkeys, nthreads = 20, 6
        wins = [[] for _ in range(nkeys)]
        errors = []

        def racer(tid):
            c = self.node.client(fresh=True)
            for k in range(nkeys):
                try:
                    c.put_item(TableName=T,
                               Item={"pk": {"S": "race%02d" % k},
                                     "w": {"N": str(tid)}},
                               ConditionExpression="attribute_not_exists(pk)")
                    wins[k].append(tid)
                except botocore.exceptions.ClientError as e:
                    code = e.response["Error"]["Code"]
                    if code != "ConditionalCheckFailedException":
                        errors.append(code)

        threads = [threading.Thread(target=racer, args=(t,))
                   for t in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(errors, [])
        for k in range(nkeys):
            self.assertEqual(len(wins[k]), 1, "key %d winners %r"
                             % (k, wins[k]))
            got = self.get({"pk": {"S": "race%02d" % k}})
            self.assertEqual(got["w"], {"N": str(wins[k][0])})

    def test_expression_attribute_values_unused(self):
        self.assertAwsError(
            "ValidationException", self.c.put_item, TableName=T,
            Item={"pk": {"S": "unused"}},
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":x": {"S": "x"}},
            message_contains=":x")

    # ------------------------------------------------------ key errors

    def test_key_validation(self):
        cn = self.cn
        # Missing key attribute.
        self.assertAwsError("ValidationException", cn.put_item, TableName=T,
                            Item={"other": {"S": "x"}},
                            message_contains="Missing the key pk")
        # Wrong key type.
        self.assertAwsError("ValidationException", cn.put_item, TableName=T,
                            Item={"pk": {"N": "1"}},
                            message_contains="Type mismatch")
        self.assertAwsError("ValidationException", cn.get_item, TableName=T,
                            Key={"pk": {"N": "1"}},
                            message="The provided key element does not "
                                    "match the schema")
        # Extra attribute in a Key.
        self.assertAwsError("ValidationException", cn.get_item, TableName=T,
                            Key={"pk": {"S": "a"}, "x": {"S": "b"}},
                            message="The provided key element does not "
                                    "match the schema")
        self.assertAwsError("ValidationException", cn.delete_item,
                            TableName=T, Key={"nokey": {"S": "a"}})
        self.assertAwsError("ValidationException", cn.update_item,
                            TableName=TR, Key={"pk": {"S": "a"}},
                            UpdateExpression="SET v = :v",
                            ExpressionAttributeValues={":v": {"S": "x"}})
        # Empty string key values.
        self.assertAwsError("ValidationException", cn.put_item, TableName=T,
                            Item={"pk": {"S": ""}},
                            message_contains="empty string")
        self.assertAwsError("ValidationException", cn.get_item, TableName=T,
                            Key={"pk": {"S": ""}})
        # A set as a key value.
        self.assertAwsError("ValidationException", cn.put_item, TableName=T,
                            Item={"pk": {"SS": ["a"]}})

    def test_missing_table(self):
        self.assertAwsError("ResourceNotFoundException", self.c.get_item,
                            TableName="missing_tbl", Key={"pk": {"S": "a"}},
                            message_contains="Requested resource not found")
        self.assertAwsError("ResourceNotFoundException", self.c.put_item,
                            TableName="missing_tbl", Item={"pk": {"S": "a"}})
        self.assertAwsError("ResourceNotFoundException", self.c.update_item,
                            TableName="missing_tbl", Key={"pk": {"S": "a"}},
                            UpdateExpression="SET v = :v",
                            ExpressionAttributeValues={":v": {"S": "x"}})
        self.assertAwsError("ResourceNotFoundException", self.c.delete_item,
                            TableName="missing_tbl", Key={"pk": {"S": "a"}})

    def test_malformed_attribute_values(self):
        for bad in ({}, {"S": "a", "N": "1"}, {"X": "a"}, {"BOOL": "yes"},
                    {"NULL": False}, {"S": 5}, {"L": {"a": {"S": "b"}}},
                    {"M": [{"S": "b"}]}):
            with self.subTest(v=bad):
                status, _, body = self.node.raw(
                    "DynamoDB_20120810.PutItem",
                    '{"TableName":"%s","Item":{"pk":{"S":"mal"},"v":%s}}'
                    % (T, json.dumps(bad)))
                self.assertEqual(status, 400, body)
                self.assertIsInstance(body, dict, body)
                self.assertTrue(body["__type"].endswith(
                    ("#ValidationException", "#SerializationException")),
                    body)
        self.assertIsNone(self.get({"pk": {"S": "mal"}}))
