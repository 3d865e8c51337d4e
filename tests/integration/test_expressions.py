"""The expression language end to end: ConditionExpression on every write,
each UpdateExpression clause, every ReturnValues mode,
ReturnValuesOnConditionCheckFailure, FilterExpression with pagination and
the validation errors — through the boto3 client, the boto3 resource API
(boto3.dynamodb.conditions) and the AWS CLI."""

import json
from decimal import Decimal

from boto3.dynamodb.conditions import Attr, Key

from harness import NodeTestCase

T = "expr"       # pk S
TR = "expr_r"    # pk S, sk N
TF = "expr_f"    # pk S, sk N: filter and pagination data

COND_FAILED = "ConditionalCheckFailedException"


def sorted_sets(item):
    """Sets come back in any order: sort them for comparison."""
    out = {}
    for k, v in item.items():
        (t, x), = v.items()
        if t in ("SS", "NS", "BS"):
            out[k] = {t: sorted(x)}
        elif t == "M":
            out[k] = {"M": sorted_sets(x)}
        else:
            out[k] = v
    return out


class ExpressionsTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        c.create_table(TableName=T, BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "pk",
                                              "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "pk",
                                   "KeyType": "HASH"}])
        for name in (TR, TF):
            c.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=[
                               {"AttributeName": "pk", "AttributeType": "S"},
                               {"AttributeName": "sk", "AttributeType": "N"}],
                           KeySchema=[{"AttributeName": "pk",
                                       "KeyType": "HASH"},
                                      {"AttributeName": "sk",
                                       "KeyType": "RANGE"}])
        for name in (T, TR, TF):
            c.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        # TF: 50 items in partition "p", v = sk % 3, plus 40 in "q".
        items = [{"pk": {"S": "p"}, "sk": {"N": str(i)},
                  "v": {"N": str(i % 3)}, "tag": {"S": "t%d" % (i % 5)}}
                 for i in range(50)]
        items += [{"pk": {"S": "q"}, "sk": {"N": str(i)},
                   "v": {"N": str(i % 4)}} for i in range(40)]
        cls._batch(items)

    @classmethod
    def _batch(cls, items):
        for i in range(0, len(items), 25):
            resp = cls.c.batch_write_item(RequestItems={TF: [
                {"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
            assert resp["UnprocessedItems"] == {}

    def base_item(self, pk):
        item = {
            "pk": {"S": pk},
            "n": {"N": "5"},
            "s": {"S": "abcdef"},
            "b": {"B": b"\x01\x02\x03"},
            "t": {"BOOL": True},
            "z": {"NULL": True},
            "ss": {"SS": ["red", "green"]},
            "ns": {"NS": ["1", "2", "3"]},
            "l": {"L": [{"S": "x"}, {"N": "7"}, {"M": {"y": {"S": "deep"}}}]},
            "m": {"M": {"lvl": {"M": {"x": {"N": "10"}}},
                        "dot.ted": {"S": "dot"}}},
        }
        self.c.put_item(TableName=T, Item=item)
        return item

    def get(self, pk, table=T):
        return self.c.get_item(TableName=table, Key={"pk": {"S": pk}},
                               ConsistentRead=True).get("Item")

    def check(self, pk, expr, values=None, names=None):
        """True when `expr` holds on item pk (a no-op conditional update)."""
        kw = {"ConditionExpression": expr}
        if values:
            kw["ExpressionAttributeValues"] = values
        if names:
            kw["ExpressionAttributeNames"] = names
        try:
            self.c.update_item(TableName=T, Key={"pk": {"S": pk}}, **kw)
            return True
        except self.c.exceptions.ConditionalCheckFailedException:
            return False

    # ----------------------------------------------------- conditions

    def test_comparators(self):
        self.base_item("cmp")
        cases = [
            ("n = :v", "5", True), ("n = :v", "6", False),
            ("n <> :v", "6", True), ("n <> :v", "5", False),
            ("n < :v", "6", True), ("n < :v", "5", False),
            ("n <= :v", "5", True), ("n <= :v", "4", False),
            ("n > :v", "4", True), ("n > :v", "5", False),
            ("n >= :v", "5", True), ("n >= :v", "6", False),
        ]
        for expr, v, want in cases:
            with self.subTest(expr=expr, v=v):
                self.assertEqual(self.check("cmp", expr, {":v": {"N": v}}),
                                 want)
        # Strings compare bytewise, binaries on their bytes; a type
        # mismatch is false for "=" and true for "<>".
        self.assertTrue(self.check("cmp", "s < :v", {":v": {"S": "abd"}}))
        self.assertFalse(self.check("cmp", "s > :v", {":v": {"S": "b"}}))
        self.assertTrue(self.check("cmp", "b = :v",
                                   {":v": {"B": b"\x01\x02\x03"}}))
        self.assertTrue(self.check("cmp", "b < :v", {":v": {"B": b"\x02"}}))
        self.assertFalse(self.check("cmp", "n = :v", {":v": {"S": "5"}}))
        self.assertTrue(self.check("cmp", "n <> :v", {":v": {"S": "5"}}))
        self.assertFalse(self.check("cmp", "n < :v", {":v": {"S": "9"}}))
        # Numbers compare numerically, not as text.
        self.assertTrue(self.check("cmp", "n < :v", {":v": {"N": "10"}}))
        self.assertTrue(self.check("cmp", "n = :v", {":v": {"N": "5.00"}}))
        # Comparing with a missing attribute is false.
        self.assertFalse(self.check("cmp", "nope = :v", {":v": {"N": "5"}}))
        self.assertFalse(self.check("cmp", "nope < :v", {":v": {"N": "5"}}))
        # Two paths compare with each other.
        self.assertTrue(self.check("cmp", "n < m.lvl.x"))
        self.assertTrue(self.check("cmp", "ss = ss"))

    def test_functions(self):
        self.base_item("fn")
        true_cases = [
            ("attribute_exists(n)", None),
            ("attribute_not_exists(nope)", None),
            ("attribute_exists(m.lvl.x)", None),
            ("attribute_not_exists(m.lvl.nope)", None),
            ("attribute_type(n, :t)", {":t": {"S": "N"}}),
            ("attribute_type(ss, :t)", {":t": {"S": "SS"}}),
            ("attribute_type(l, :t)", {":t": {"S": "L"}}),
            ("attribute_type(z, :t)", {":t": {"S": "NULL"}}),
            ("begins_with(s, :p)", {":p": {"S": "abc"}}),
            ("begins_with(b, :p)", {":p": {"B": b"\x01"}}),
            ("contains(s, :p)", {":p": {"S": "cde"}}),
            ("contains(ss, :p)", {":p": {"S": "red"}}),
            ("contains(ns, :p)", {":p": {"N": "2"}}),
            ("contains(l, :p)", {":p": {"S": "x"}}),
            ("size(s) = :n", {":n": {"N": "6"}}),
            ("size(ss) = :n", {":n": {"N": "2"}}),
            ("size(l) = :n", {":n": {"N": "3"}}),
            ("size(m) = :n", {":n": {"N": "2"}}),
            ("size(b) = :n", {":n": {"N": "3"}}),
            ("size(l) > size(ss)", None),
        ]
        false_cases = [
            ("attribute_exists(nope)", None),
            ("attribute_not_exists(n)", None),
            ("attribute_type(n, :t)", {":t": {"S": "S"}}),
            ("begins_with(s, :p)", {":p": {"S": "bc"}}),
            ("begins_with(n, :p)", {":p": {"S": "5"}}),
            ("contains(s, :p)", {":p": {"S": "xyz"}}),
            ("contains(ss, :p)", {":p": {"S": "blue"}}),
            ("contains(l, :p)", {":p": {"N": "8"}}),
            ("size(s) > :n", {":n": {"N": "6"}}),
            ("size(nope) = :n", {":n": {"N": "0"}}),
        ]
        for expr, values in true_cases:
            with self.subTest(expr=expr):
                self.assertTrue(self.check("fn", expr, values))
        for expr, values in false_cases:
            with self.subTest(expr=expr):
                self.assertFalse(self.check("fn", expr, values))

    def test_in_and_between(self):
        self.base_item("inb")
        v = {":a": {"N": "1"}, ":b": {"N": "5"}, ":c": {"N": "9"}}
        self.assertTrue(self.check("inb", "n IN (:a, :b, :c)", v))
        self.assertFalse(self.check("inb", "n IN (:a, :c)",
                                    {":a": v[":a"], ":c": v[":c"]}))
        self.assertTrue(self.check("inb", "n BETWEEN :a AND :c",
                                   {":a": v[":a"], ":c": v[":c"]}))
        self.assertTrue(self.check("inb", "n BETWEEN :b AND :b",
                                   {":b": v[":b"]}))
        self.assertFalse(self.check("inb", "n BETWEEN :a AND :a",
                                    {":a": v[":a"]}))
        self.assertTrue(self.check("inb", "s BETWEEN :x AND :y",
                                   {":x": {"S": "a"}, ":y": {"S": "b"}}))
        # A lower bound above the upper is a validation error.
        self.assertAwsError(
            "ValidationException", self.c.update_item, TableName=T,
            Key={"pk": {"S": "inb"}},
            ConditionExpression="n BETWEEN :c AND :a",
            ExpressionAttributeValues={":a": v[":a"], ":c": v[":c"]},
            message_contains="BETWEEN")

    def test_precedence(self):
        self.base_item("prec")
        t, f = "n = :five", "n = :six"
        v = {":five": {"N": "5"}, ":six": {"N": "6"}}
        cases = [
            # AND binds tighter than OR.
            ("%s OR %s AND %s" % (t, f, f), True),
            ("(%s OR %s) AND %s" % (t, f, f), False),
            ("%s AND %s OR %s" % (f, f, t), True),
            ("%s AND (%s OR %s)" % (f, f, t), False),
            # NOT binds tighter than AND and OR.
            ("NOT %s AND %s" % (f, f), False),
            ("NOT (%s AND %s)" % (f, f), True),
            ("NOT %s OR %s" % (t, t), True),
            ("NOT (%s OR %s)" % (t, t), False),
            ("NOT NOT %s" % t, True),
            ("NOT %s AND NOT %s" % (f, f), True),
        ]
        for expr, want in cases:
            with self.subTest(expr=expr):
                used = {k: x for k, x in v.items() if k in expr}
                self.assertEqual(self.check("prec", expr, used), want)

    def test_nested_paths_and_names(self):
        self.base_item("nest")
        self.assertTrue(self.check("nest", "m.lvl.x = :v",
                                   {":v": {"N": "10"}}))
        self.assertTrue(self.check("nest", "l[1] = :v", {":v": {"N": "7"}}))
        self.assertTrue(self.check("nest", "l[2].y = :v",
                                   {":v": {"S": "deep"}}))
        self.assertFalse(self.check("nest", "attribute_exists(l[3])"))
        # A name holding a dot needs a placeholder; without one the dot
        # is a path separator.
        self.assertTrue(self.check("nest", "m.#d = :v", {":v": {"S": "dot"}},
                                   {"#d": "dot.ted"}))
        self.assertFalse(self.check("nest", "attribute_exists(m.dot.ted)"))
        self.assertTrue(self.check("nest", "#m.#i.#x = :v",
                                   {":v": {"N": "10"}},
                                   {"#m": "m", "#i": "lvl", "#x": "x"}))

    def test_conditional_put_and_delete(self):
        c = self.c
        item = {"pk": {"S": "cpd"}, "v": {"N": "1"}}
        c.put_item(TableName=T, Item=item,
                   ConditionExpression="attribute_not_exists(pk)")
        self.assertAwsError(COND_FAILED, c.put_item, TableName=T, Item=item,
                            ConditionExpression="attribute_not_exists(pk)",
                            message="The conditional request failed")
        self.assertAwsError(COND_FAILED, c.delete_item, TableName=T,
                            Key={"pk": {"S": "cpd"}},
                            ConditionExpression="v = :two",
                            ExpressionAttributeValues={":two": {"N": "2"}})
        self.assertEqual(self.get("cpd"), item)
        c.delete_item(TableName=T, Key={"pk": {"S": "cpd"}},
                      ConditionExpression="v = :one",
                      ExpressionAttributeValues={":one": {"N": "1"}})
        self.assertIsNone(self.get("cpd"))
        # On a missing item only attribute_not_exists-style conditions hold.
        self.assertAwsError(COND_FAILED, c.put_item, TableName=T, Item=item,
                            ConditionExpression="attribute_exists(pk)")
        self.assertAwsError(COND_FAILED, c.update_item, TableName=T,
                            Key={"pk": {"S": "cpd"}},
                            ConditionExpression="v = :one",
                            ExpressionAttributeValues={":one": {"N": "1"}})
        self.assertIsNone(self.get("cpd"))
        # ... while "<>" against a missing attribute holds.
        c.update_item(TableName=T, Key={"pk": {"S": "cpd"}},
                      ConditionExpression="v <> :one",
                      ExpressionAttributeValues={":one": {"N": "1"}})
        self.assertEqual(self.get("cpd"), {"pk": {"S": "cpd"}})

    def test_return_values_on_condition_check_failure(self):
        c = self.c
        item = {"pk": {"S": "rvf"}, "v": {"N": "1"}}
        c.put_item(TableName=T, Item=item)
        for fn, kw in ((c.put_item, {"Item": item}),
                       (c.update_item, {"Key": {"pk": {"S": "rvf"}},
                                        "UpdateExpression": "SET w = :x"}),
                       (c.delete_item, {"Key": {"pk": {"S": "rvf"}}})):
            with self.subTest(op=fn.__name__):
                vals = {":two": {"N": "2"}}
                if "UpdateExpression" in kw:
                    vals[":x"] = {"S": "x"}
                resp = self.assertAwsError(
                    COND_FAILED, fn, TableName=T,
                    ConditionExpression="v = :two",
                    ExpressionAttributeValues=vals,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD", **kw)
                self.assertEqual(resp["Item"], item)
                resp = self.assertAwsError(
                    COND_FAILED, fn, TableName=T,
                    ConditionExpression="v = :two",
                    ExpressionAttributeValues=vals,
                    ReturnValuesOnConditionCheckFailure="NONE", **kw)
                self.assertNotIn("Item", resp)
        # No item: no Item in the error.
        resp = self.assertAwsError(
            COND_FAILED, c.put_item, TableName=T,
            Item={"pk": {"S": "rvf-none"}},
            ConditionExpression="attribute_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD")
        self.assertNotIn("Item", resp)

    # ------------------------------------------------------- updates

    def upd(self, pk, expr, values=None, names=None, rv=None, table=T,
            key=None):
        kw = {"UpdateExpression": expr}
        if values:
            kw["ExpressionAttributeValues"] = values
        if names:
            kw["ExpressionAttributeNames"] = names
        if rv:
            kw["ReturnValues"] = rv
        return self.c.update_item(TableName=table,
                                  Key=key or {"pk": {"S": pk}}, **kw)

    def test_set_arithmetic_and_functions(self):
        self.base_item("set")
        self.upd("set", "SET n = n + :d, d = :ten - n",
                 {":d": {"N": "2.5"}, ":ten": {"N": "10"}})
        it = self.get("set")
        self.assertEqual(it["n"], {"N": "7.5"})
        self.assertEqual(it["d"], {"N": "5"})   # operands read the old item
        self.upd("set", "SET l = list_append(l, :tail)",
                 {":tail": {"L": [{"S": "end"}]}})
        self.upd("set", "SET l = list_append(:head, l)",
                 {":head": {"L": [{"S": "start"}]}})
        self.assertEqual(self.get("set")["l"]["L"][0], {"S": "start"})
        self.assertEqual(self.get("set")["l"]["L"][-1], {"S": "end"})
        self.assertEqual(len(self.get("set")["l"]["L"]), 5)
        # if_not_exists: the counter idiom.
        for want in ("1", "2", "3"):
            self.upd("set", "SET cnt = if_not_exists(cnt, :zero) + :one",
                     {":zero": {"N": "0"}, ":one": {"N": "1"}})
            self.assertEqual(self.get("set")["cnt"], {"N": want})
        self.upd("set", "SET s = if_not_exists(s, :v)", {":v": {"S": "new"}})
        self.assertEqual(self.get("set")["s"], {"S": "abcdef"})
        # Nested SET, list index past the end appends.
        self.upd("set", "SET m.lvl.y = :v, l[10] = :w",
                 {":v": {"S": "why"}, ":w": {"N": "99"}})
        it = self.get("set")
        self.assertEqual(it["m"]["M"]["lvl"]["M"]["y"], {"S": "why"})
        self.assertEqual(it["l"]["L"][-1], {"N": "99"})
        self.assertEqual(len(it["l"]["L"]), 6)
        # Arithmetic on a missing attribute or a string is an error and
        # changes nothing.
        before = self.get("set")
        self.assertAwsError(
            "ValidationException", self.upd, "set", "SET q = q + :v",
            {":v": {"N": "1"}},
            message="The provided expression refers to an attribute that "
                    "does not exist in the item")
        self.assertAwsError(
            "ValidationException", self.upd, "set", "SET s = s + :v",
            {":v": {"N": "1"}},
            message="An operand in the update expression has an incorrect "
                    "data type")
        self.assertEqual(self.get("set"), before)

    def test_update_creates_item(self):
        self.upd("created", "SET a = :a", {":a": {"S": "x"}})
        self.assertEqual(self.get("created"),
                         {"pk": {"S": "created"}, "a": {"S": "x"}})

    def test_remove(self):
        self.base_item("rm")
        self.upd("rm", "REMOVE n, m.lvl.x, l[0], l[2]")
        it = self.get("rm")
        self.assertNotIn("n", it)
        self.assertEqual(it["m"]["M"]["lvl"], {"M": {}})
        # l[0] and l[2] of the old list go; the rest shifts down.
        self.assertEqual(it["l"], {"L": [{"N": "7"}]})
        # Removing what is not there is fine.
        self.upd("rm", "REMOVE nothing, l[9]")
        self.assertEqual(self.get("rm"), it)

    def test_add_and_delete(self):
        self.base_item("ad")
        self.upd("ad", "ADD n :d, newn :d", {":d": {"N": "-2"}})
        it = self.get("ad")
        self.assertEqual(it["n"], {"N": "3"})
        self.assertEqual(it["newn"], {"N": "-2"})
        self.upd("ad", "ADD ss :s, ns :n, newss :s",
                 {":s": {"SS": ["blue", "red"]}, ":n": {"NS": ["3", "4"]}})
        it = sorted_sets(self.get("ad"))
        self.assertEqual(it["ss"], {"SS": ["blue", "green", "red"]})
        self.assertEqual(it["ns"], {"NS": ["1", "2", "3", "4"]})
        self.assertEqual(it["newss"], {"SS": ["blue", "red"]})
        self.upd("ad", "DELETE ss :s, ns :n",
                 {":s": {"SS": ["red", "nothere"]}, ":n": {"NS": ["1"]}})
        it = sorted_sets(self.get("ad"))
        self.assertEqual(it["ss"], {"SS": ["blue", "green"]})
        self.assertEqual(it["ns"], {"NS": ["2", "3", "4"]})
        # Deleting every element removes the attribute.
        self.upd("ad", "DELETE newss :s", {":s": {"SS": ["blue", "red"]}})
        self.assertNotIn("newss", self.get("ad"))
        # ADD on a string: a data type error.
        self.assertAwsError(
            "ValidationException", self.upd, "ad", "ADD s :one",
            {":one": {"N": "1"}},
            message="An operand in the update expression has an incorrect "
                    "data type")
        # ADD with a string operand is refused when parsing.
        self.assertAwsError(
            "ValidationException", self.upd, "ad", "ADD n :s",
            {":s": {"S": "x"}},
            message="Invalid UpdateExpression: Incorrect operand type for "
                    "operator or function; operator: ADD, operand type: "
                    "STRING")

    def test_all_clauses_together(self):
        self.base_item("all")
        self.upd("all", "SET a = :a REMOVE s ADD n :one DELETE ss :r",
                 {":a": {"S": "A"}, ":one": {"N": "1"},
                  ":r": {"SS": ["red"]}})
        it = self.get("all")
        self.assertEqual(it["a"], {"S": "A"})
        self.assertNotIn("s", it)
        self.assertEqual(it["n"], {"N": "6"})
        self.assertEqual(it["ss"], {"SS": ["green"]})

    def test_return_values_modes(self):
        self.c.put_item(TableName=T, Item={"pk": {"S": "rv"}, "a": {"N": "1"},
                                           "b": {"S": "keep"}})
        vals = {":one": {"N": "1"}, ":c": {"S": "new"}}
        expr = "SET a = a + :one, c = :c"
        resp = self.upd("rv", expr, vals, rv="NONE")
        self.assertNotIn("Attributes", resp)
        resp = self.upd("rv", expr, vals, rv="ALL_OLD")
        self.assertEqual(resp["Attributes"], {
            "pk": {"S": "rv"}, "a": {"N": "2"}, "b": {"S": "keep"},
            "c": {"S": "new"}})
        resp = self.upd("rv", expr, vals, rv="UPDATED_OLD")
        self.assertEqual(resp["Attributes"], {"a": {"N": "3"},
                                              "c": {"S": "new"}})
        resp = self.upd("rv", expr, vals, rv="ALL_NEW")
        self.assertEqual(resp["Attributes"], {
            "pk": {"S": "rv"}, "a": {"N": "5"}, "b": {"S": "keep"},
            "c": {"S": "new"}})
        resp = self.upd("rv", expr, vals, rv="UPDATED_NEW")
        self.assertEqual(resp["Attributes"], {"a": {"N": "6"},
                                              "c": {"S": "new"}})
        # UPDATED_OLD of an attribute that did not exist: nothing.
        resp = self.upd("rv", "SET fresh = :c", {":c": {"S": "x"}},
                        rv="UPDATED_OLD")
        self.assertNotIn("Attributes", resp)
        # PutItem and DeleteItem: ALL_OLD only.
        resp = self.c.put_item(TableName=T, Item={"pk": {"S": "rv"}},
                               ReturnValues="ALL_OLD")
        self.assertEqual(resp["Attributes"]["a"], {"N": "6"})
        resp = self.c.delete_item(TableName=T, Key={"pk": {"S": "rv"}},
                                  ReturnValues="ALL_OLD")
        self.assertEqual(resp["Attributes"], {"pk": {"S": "rv"}})
        for fn, kw in ((self.c.put_item, {"Item": {"pk": {"S": "rv"}}}),
                       (self.c.delete_item, {"Key": {"pk": {"S": "rv"}}})):
            self.assertAwsError("ValidationException", fn, TableName=T,
                                ReturnValues="ALL_NEW",
                                message="Return values set to invalid value",
                                **kw)

    # ------------------------------------------------- resource API

    def test_resource_api(self):
        table = self.r.Table(T)
        table.put_item(Item={"pk": "res", "n": 5, "s": "hello",
                             "tags": {"a", "b"}, "m": {"x": [1, 2]}})
        table.put_item(Item={"pk": "res", "n": 6, "s": "hello",
                             "tags": {"a", "b"}, "m": {"x": [1, 2]}},
                       ConditionExpression=Attr("n").eq(5) &
                       Attr("s").begins_with("he") &
                       Attr("tags").contains("a") &
                       Attr("m.x").size().eq(2) &
                       ~Attr("gone").exists())
        with self.assertRaises(
                table.meta.client.exceptions.ConditionalCheckFailedException):
            table.put_item(Item={"pk": "res"},
                           ConditionExpression=Attr("n").between(1, 5) |
                           Attr("s").is_in(["x", "y"]))
        resp = table.update_item(
            Key={"pk": "res"},
            UpdateExpression="SET n = n + :d, m.x = list_append(m.x, :l) "
                             "ADD tags :t",
            ConditionExpression=Attr("n").gte(6) & Attr("n").lt(7),
            ExpressionAttributeValues={":d": Decimal("0.5"), ":l": [3],
                                       ":t": {"c"}},
            ReturnValues="UPDATED_NEW")
        self.assertEqual(resp["Attributes"], {
            "n": Decimal("6.5"), "m": {"x": [1, 2, 3]},
            "tags": {"a", "b", "c"}})
        item = table.get_item(Key={"pk": "res"},
                              ProjectionExpression="n, m.x[2]")["Item"]
        self.assertEqual(item, {"n": Decimal("6.5"), "m": {"x": [3]}})

    def test_resource_query_and_scan(self):
        table = self.r.Table(TF)
        resp = table.query(
            KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(
                10, 19),
            FilterExpression=Attr("v").eq(0))
        self.assertEqual([int(i["sk"]) for i in resp["Items"]],
                         [12, 15, 18])
        self.assertEqual(resp["ScannedCount"], 10)
        resp = table.query(
            KeyConditionExpression=Key("pk").eq("p") & Key("sk").lt(5),
            FilterExpression=Attr("tag").is_in(["t0", "t4"]) |
            Attr("v").ne(1),
            ScanIndexForward=False)
        self.assertEqual([int(i["sk"]) for i in resp["Items"]],
                         [4, 3, 2, 0])
        resp = table.scan(FilterExpression=Attr("pk").eq("q") &
                          Attr("v").eq(3))
        self.assertEqual(sorted(int(i["sk"]) for i in resp["Items"]),
                         list(range(3, 40, 4)))
        self.assertEqual(resp["ScannedCount"], 90)

    # ------------------------------------------ filters and pagination

    def test_query_filter_pagination(self):
        got, counts, scanned = [], [], []
        args = dict(TableName=TF, Limit=10,
                    KeyConditionExpression="pk = :p",
                    FilterExpression="v = :z",
                    ExpressionAttributeValues={":p": {"S": "p"},
                                               ":z": {"N": "0"}})
        while True:
            resp = self.c.query(**args)
            self.assertEqual(resp["Count"], len(resp["Items"]))
            got += [int(i["sk"]["N"]) for i in resp["Items"]]
            counts.append(resp["Count"])
            scanned.append(resp["ScannedCount"])
            if "LastEvaluatedKey" not in resp:
                break
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
            self.assertLess(len(scanned), 20)
        self.assertEqual(got, list(range(0, 50, 3)))
        # The limit counts items read, before the filter: five full pages
        # (a page that ends exactly at the last item still carries a key,
        # so an empty sixth page ends the walk).
        self.assertEqual(scanned[:5], [10] * 5)
        self.assertIn(scanned[5:], ([], [0]))
        self.assertEqual(counts[:5], [4, 3, 3, 4, 3])
        # A page can be empty after the filter yet carry a key onward.
        resp = self.c.query(TableName=TF, Limit=1,
                            KeyConditionExpression="pk = :p",
                            FilterExpression="v = :one",
                            ExpressionAttributeValues={":p": {"S": "p"},
                                                       ":one": {"N": "1"}})
        self.assertEqual((resp["Count"], resp["ScannedCount"]), (0, 1))
        self.assertEqual(resp["LastEvaluatedKey"],
                         {"pk": {"S": "p"}, "sk": {"N": "0"}})

    def test_scan_filter_pagination_and_count(self):
        total, scanned = 0, 0
        args = dict(TableName=TF, Limit=7, FilterExpression="v = :z",
                    ExpressionAttributeValues={":z": {"N": "0"}})
        for _ in range(100):
            resp = self.c.scan(**args)
            total += resp["Count"]
            scanned += resp["ScannedCount"]
            for it in resp["Items"]:
                self.assertEqual(it["v"], {"N": "0"})
            if "LastEvaluatedKey" not in resp:
                break
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        # p: 17 multiples of 3 below 50; q: 10 multiples of 4 below 40.
        self.assertEqual(total, 27)
        self.assertEqual(scanned, 90)
        resp = self.c.scan(TableName=TF, Select="COUNT",
                           FilterExpression="v = :z AND pk = :q",
                           ExpressionAttributeValues={":z": {"N": "0"},
                                                      ":q": {"S": "q"}})
        self.assertEqual((resp["Count"], resp["ScannedCount"]), (10, 90))
        self.assertNotIn("Items", resp)

    def test_query_filter_on_key_refused(self):
        self.assertAwsError(
            "ValidationException", self.c.query, TableName=TF,
            KeyConditionExpression="pk = :p", FilterExpression="sk > :z",
            ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}},
            message="Filter Expression can only contain non-primary key "
                    "attributes: Primary key attribute: sk")

    # ------------------------------------------------- validation

    def test_validation_errors(self):
        c = self.cn
        key = {"pk": {"S": "val"}}
        c.put_item(TableName=T, Item={"pk": {"S": "val"}, "s": {"S": "x"}})
        cases = [
            (dict(UpdateExpression="SET x = :v",
                  ExpressionAttributeValues={":v": {"S": "1"},
                                             ":w": {"S": "2"}}),
             "Value provided in ExpressionAttributeValues unused in "
             "expressions: keys: {:w}"),
            (dict(UpdateExpression="SET x = :v",
                  ExpressionAttributeNames={"#a": "b"},
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             "Value provided in ExpressionAttributeNames unused in "
             "expressions: keys: {#a}"),
            (dict(UpdateExpression="SET #x = :v",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             "Invalid UpdateExpression: An expression attribute name used "
             "in the document path is not defined; attribute name: #x"),
            (dict(UpdateExpression="SET x = :q"),
             "Invalid UpdateExpression: An expression attribute value used "
             "in expression is not defined; attribute value: :q"),
            (dict(UpdateExpression="SET name = :v",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             "Invalid UpdateExpression: Attribute name is a reserved "
             "keyword; reserved keyword: name"),
            (dict(UpdateExpression="SET a = :v, a.b = :v",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             "Invalid UpdateExpression: Two document paths overlap with each "
             "other; must remove or rewrite one of these paths; path one: "
             "[a], path two: [a, b]"),
            (dict(UpdateExpression="SET pk = :v",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             "One or more parameter values were invalid: Cannot update "
             "attribute pk. This attribute is part of the key"),
            (dict(UpdateExpression="ADD s :v",
                  ExpressionAttributeValues={":v": {"N": "1"}}),
             "An operand in the update expression has an incorrect data "
             "type"),
            (dict(UpdateExpression="SET x = :v",
                  ConditionExpression="s = = :v",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             'Invalid ConditionExpression: Syntax error; token: "=", near: '
             '"= = :v"'),
            (dict(UpdateExpression="SET x = :v",
                  ConditionExpression="s = :v AND",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             'Invalid ConditionExpression: Syntax error; token: "<EOF>", '
             'near: ":v AND"'),
            (dict(UpdateExpression="SET x = :v",
                  ConditionExpression="foo(s)",
                  ExpressionAttributeValues={":v": {"S": "1"}}),
             "Invalid ConditionExpression: Invalid function name; function: "
             "foo"),
        ]
        for kw, msg in cases:
            with self.subTest(msg=msg):
                self.assertAwsError("ValidationException", c.update_item,
                                    TableName=T, Key=key, message=msg, **kw)
        # Nothing of the refused updates was applied.
        self.assertEqual(self.get("val"),
                         {"pk": {"S": "val"}, "s": {"S": "x"}})

    # -------------------------------------------------------- CLI

    def test_cli(self):
        n = self.node
        n.aws("put-item", "--table-name", T, "--item",
              json.dumps({"pk": {"S": "cli"}, "n": {"N": "1"}}),
              "--condition-expression", "attribute_not_exists(pk)")
        rc, err = n.aws_fail("put-item", "--table-name", T, "--item",
                             json.dumps({"pk": {"S": "cli"}}),
                             "--condition-expression",
                             "attribute_not_exists(pk)")
        self.assertIn("ConditionalCheckFailedException", err)
        out = n.aws("update-item", "--table-name", T, "--key",
                    json.dumps({"pk": {"S": "cli"}}),
                    "--update-expression", "SET n = n + :d, #t = :t",
                    "--expression-attribute-names", json.dumps({"#t": "tag"}),
                    "--expression-attribute-values",
                    json.dumps({":d": {"N": "41"}, ":t": {"S": "x"},
                                ":one": {"N": "1"}}),
                    "--condition-expression", "n = :one",
                    "--return-values", "ALL_NEW")
        self.assertEqual(out["Attributes"], {"pk": {"S": "cli"},
                                             "n": {"N": "42"},
                                             "tag": {"S": "x"}})
        out = n.aws("query", "--table-name", TF,
                    "--key-condition-expression", "pk = :p",
                    "--filter-expression", "v = :two",
                    "--expression-attribute-values",
                    json.dumps({":p": {"S": "q"}, ":two": {"N": "2"}}))
        self.assertEqual(sorted(int(i["sk"]["N"]) for i in out["Items"]),
                         list(range(2, 40, 4)))
        rc, err = n.aws_fail("update-item", "--table-name", T, "--key",
                             json.dumps({"pk": {"S": "cli"}}),
                             "--update-expression", "SET #u = :v",
                             "--expression-attribute-values",
                             json.dumps({":v": {"S": "x"}}))
        self.assertIn("ValidationException", err)
        self.assertIn("attribute name: #u", err)
