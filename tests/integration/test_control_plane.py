"""Control plane: CreateTable, DescribeTable, ListTables, UpdateTable,
DeleteTable, waiters — through the boto3 client and resource API."""

import datetime
import json

from harness import NodeTestCase, table_arn


class ControlPlaneTest(NodeTestCase):

    def describe(self, name):
        return self.c.describe_table(TableName=name)["Table"]

    def test_create_hash_table_describe_fields(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        resp = self.create_table("cp_hash", hash_key=("pk", "S"))
        td = resp["TableDescription"]
        self.assertEqual(td["TableName"], "cp_hash")
        self.assertIn(td["TableStatus"], ("CREATING", "ACTIVE"))
        t = self.describe("cp_hash")
        self.assertEqual(t["TableName"], "cp_hash")
        self.assertEqual(t["TableStatus"], "ACTIVE")
        self.assertEqual(t["KeySchema"],
                         [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertEqual(t["AttributeDefinitions"],
                         [{"AttributeName": "pk", "AttributeType": "S"}])
        self.assertEqual(t["TableArn"], table_arn("cp_hash"))
        self.assertEqual(t["ItemCount"], 0)
        self.assertEqual(t["TableSizeBytes"], 0)
        self.assertIsInstance(t["CreationDateTime"], datetime.datetime)
        created = t["CreationDateTime"]
        # Allow for clock granularity and a slow machine.
        self.assertLessEqual(abs((created - before).total_seconds()), 60)
        self.assertEqual(t["BillingModeSummary"]["BillingMode"],
                         "PAY_PER_REQUEST")
        pt = t["ProvisionedThroughput"]
        self.assertEqual(pt["ReadCapacityUnits"], 0)
        self.assertEqual(pt["WriteCapacityUnits"], 0)

    def test_create_hash_range_table_key_types(self):
        for name, h, r in (("cp_ss", "S", "S"), ("cp_nn", "N", "N"),
                           ("cp_bb", "B", "B"), ("cp_sn", "S", "N"),
                           ("cp_nb", "N", "B")):
            self.create_table(name, hash_key=("h", h), range_key=("r", r))
            t = self.describe(name)
            self.assertEqual(t["KeySchema"], [
                {"AttributeName": "h", "KeyType": "HASH"},
                {"AttributeName": "r", "KeyType": "RANGE"}])
            self.assertEqual(
                sorted(t["AttributeDefinitions"],
                       key=lambda a: a["AttributeName"]),
                [{"AttributeName": "h", "AttributeType": h},
                 {"AttributeName": "r", "AttributeType": r}])
            self.assertEqual(t["TableStatus"], "ACTIVE")

    def test_create_provisioned_throughput_echoed(self):
        self.create_table("cp_prov", ProvisionedThroughput={
            "ReadCapacityUnits": 7, "WriteCapacityUnits": 3})
        t = self.describe("cp_prov")
        pt = t["ProvisionedThroughput"]
        self.assertEqual(pt["ReadCapacityUnits"], 7)
        self.assertEqual(pt["WriteCapacityUnits"], 3)
        bm = t.get("BillingModeSummary", {}).get("BillingMode",
                                                  "PROVISIONED")
        self.assertEqual(bm, "PROVISIONED")

    def test_create_existing_table_resource_in_use(self):
        self.create_table("cp_dup")
        self.assertAwsError("ResourceInUseException", self.create_table,
                            "cp_dup", wait=False,
                            message_contains="cp_dup")

    def test_invalid_table_names(self):
        for bad in ("ab", "a", "bad name", "bad!name", "tab/le", "x" * 256,
                    "caf\u00e9_t"):
            with self.subTest(name=bad):
                self.assertAwsError("ValidationException", self.create_table,
                                    bad, client=self.cn, wait=False)
        # Every allowed character class is accepted, at both length limits.
        for good in ("a.b", "A-Z_a.z-09", "y" * 255):
            with self.subTest(name=good):
                self.create_table(good)
                self.assertEqual(self.describe(good)["TableName"], good)

    def test_create_table_invalid_definitions(self):
        cn = self.cn
        # Key attribute missing from AttributeDefinitions.
        self.assertAwsError(
            "ValidationException", cn.create_table, TableName="cp_bad1",
            AttributeDefinitions=[{"AttributeName": "x",
                                   "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        # PROVISIONED without ProvisionedThroughput.
        self.assertAwsError(
            "ValidationException", cn.create_table, TableName="cp_bad2",
            AttributeDefinitions=[{"AttributeName": "pk",
                                   "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PROVISIONED")
        # PAY_PER_REQUEST with ProvisionedThroughput.
        self.assertAwsError(
            "ValidationException", cn.create_table, TableName="cp_bad3",
            AttributeDefinitions=[{"AttributeName": "pk",
                                   "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            ProvisionedThroughput={"ReadCapacityUnits": 1,
                                   "WriteCapacityUnits": 1})
        # Invalid key attribute type (BOOL is not a key type).
        self.assertAwsError(
            "ValidationException", cn.create_table, TableName="cp_bad4",
            AttributeDefinitions=[{"AttributeName": "pk",
                                   "AttributeType": "BOOL"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        # Two HASH keys.
        self.assertAwsError(
            "ValidationException", cn.create_table, TableName="cp_bad5",
            AttributeDefinitions=[{"AttributeName": "a",
                                   "AttributeType": "S"},
                                  {"AttributeName": "b",
                                   "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "a", "KeyType": "HASH"},
                       {"AttributeName": "b", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        # None of them was created.
        names = self.c.list_tables(Limit=100)["TableNames"]
        for n in ("cp_bad1", "cp_bad2", "cp_bad3", "cp_bad4", "cp_bad5"):
            self.assertNotIn(n, names)

    def test_list_tables_pagination(self):
        mine = ["lt_%02d" % i for i in range(7)]
        for n in reversed(mine):
            self.create_table(n, wait=False)
        full = self.c.list_tables(Limit=100)
        self.assertNotIn("LastEvaluatedTableName", list(full))
        everything = full["TableNames"]
        self.assertEqual(everything, sorted(everything))
        for n in mine:
            self.assertIn(n, everything)
        # Pages of 3 walk the same list exactly once.
        pages = []
        got = []
        args = {"Limit": 3}
        for _ in range(200):
            resp = self.c.list_tables(**args)
            self.assertLessEqual(len(resp["TableNames"]), 3)
            pages.append(resp)
            got.extend(resp["TableNames"])
            lek = resp.get("LastEvaluatedTableName")
            if lek is None:
                break
            self.assertEqual(lek, resp["TableNames"][-1])
            args = {"Limit": 3, "ExclusiveStartTableName": lek}
        self.assertEqual(got, everything)
        self.assertGreaterEqual(len(pages), 3)
        # ExclusiveStartTableName is exclusive, and need not be a table.
        resp = self.c.list_tables(ExclusiveStartTableName="lt_02", Limit=2)
        self.assertEqual(resp["TableNames"], ["lt_03", "lt_04"])
        self.assertEqual(resp["LastEvaluatedTableName"], "lt_04")
        resp = self.c.list_tables(ExclusiveStartTableName="lt_025",
                                  Limit=100)
        self.assertEqual(resp["TableNames"][:4],
                         ["lt_03", "lt_04", "lt_05", "lt_06"])
        # boto3's paginator agrees.
        pag = self.c.get_paginator("list_tables")
        names = []
        for page in pag.paginate(PaginationConfig={"PageSize": 2}):
            names.extend(page["TableNames"])
        self.assertEqual(names, everything)

    def test_list_tables_limit_validation(self):
        self.assertAwsError("ValidationException", self.cn.list_tables,
                            Limit=0)
        self.assertAwsError("ValidationException", self.cn.list_tables,
                            Limit=101)

    def test_delete_table(self):
        self.create_table("cp_del", hash_key=("pk", "S"))
        self.c.put_item(TableName="cp_del", Item={"pk": {"S": "x"}})
        resp = self.c.delete_table(TableName="cp_del")
        self.assertEqual(resp["TableDescription"]["TableName"], "cp_del")
        self.assertIn(resp["TableDescription"]["TableStatus"],
                      ("DELETING", "ACTIVE"))
        self.c.get_waiter("table_not_exists").wait(
            TableName="cp_del", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        self.assertAwsError("ResourceNotFoundException",
                            self.c.describe_table, TableName="cp_del",
                            message_contains="Requested resource not found")
        self.assertAwsError("ResourceNotFoundException", self.c.get_item,
                            TableName="cp_del", Key={"pk": {"S": "x"}})
        self.assertAwsError("ResourceNotFoundException",
                            self.c.delete_table, TableName="cp_del")
        self.assertNotIn("cp_del",
                         self.c.list_tables(Limit=100)["TableNames"])
        # The name can be reused and the new table starts empty.
        self.create_table("cp_del", hash_key=("pk", "S"))
        self.assertNotIn("Item", self.c.get_item(
            TableName="cp_del", Key={"pk": {"S": "x"}}))
        self.assertEqual(self.c.scan(TableName="cp_del")["Count"], 0)

    def test_describe_missing_table(self):
        self.assertAwsError("ResourceNotFoundException",
                            self.c.describe_table, TableName="no_such_tbl",
                            message_contains="Requested resource not found")

    def test_item_count_and_size(self):
        self.create_table("cp_count")
        for i in range(3):
            self.c.put_item(TableName="cp_count",
                            Item={"pk": {"S": "k%d" % i},
                                  "v": {"S": "x" * 100}})
        t = self.describe("cp_count")
        self.assertEqual(t["ItemCount"], 3)
        self.assertGreaterEqual(t["TableSizeBytes"], 300)
        self.c.delete_item(TableName="cp_count", Key={"pk": {"S": "k0"}})
        self.assertEqual(self.describe("cp_count")["ItemCount"], 2)

    def test_update_table_billing_throughput_stream(self):
        self.create_table("cp_upd", ProvisionedThroughput={
            "ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        self.c.update_table(TableName="cp_upd", ProvisionedThroughput={
            "ReadCapacityUnits": 11, "WriteCapacityUnits": 12})
        self.c.get_waiter("table_exists").wait(
            TableName="cp_upd", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        pt = self.describe("cp_upd")["ProvisionedThroughput"]
        self.assertEqual((pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]),
                         (11, 12))

        self.c.update_table(TableName="cp_upd", BillingMode="PAY_PER_REQUEST")
        t = self.describe("cp_upd")
        self.assertEqual(t["BillingModeSummary"]["BillingMode"],
                         "PAY_PER_REQUEST")
        self.assertEqual(t["ProvisionedThroughput"]["ReadCapacityUnits"], 0)

        resp = self.c.update_table(TableName="cp_upd", StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.assertEqual(resp["TableDescription"]["TableName"], "cp_upd")
        t = self.describe("cp_upd")
        self.assertEqual(t["StreamSpecification"],
                         {"StreamEnabled": True,
                          "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.assertTrue(t["LatestStreamArn"].startswith(
            table_arn("cp_upd") + "/stream/"), t["LatestStreamArn"])
        self.assertTrue(t["LatestStreamLabel"])
        self.assertEqual(t["TableStatus"], "ACTIVE")

        self.c.update_table(TableName="cp_upd", BillingMode="PROVISIONED",
                            ProvisionedThroughput={"ReadCapacityUnits": 2,
                                                   "WriteCapacityUnits": 4})
        t = self.describe("cp_upd")
        pt = t["ProvisionedThroughput"]
        self.assertEqual((pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]),
                         (2, 4))
        self.assertEqual(t.get("BillingModeSummary", {}).get(
            "BillingMode", "PROVISIONED"), "PROVISIONED")

    def test_update_missing_table(self):
        self.assertAwsError("ResourceNotFoundException", self.c.update_table,
                            TableName="cp_nothere",
                            BillingMode="PAY_PER_REQUEST")

    def test_waiters(self):
        self.c.create_table(
            TableName="cp_wait",
            AttributeDefinitions=[{"AttributeName": "pk",
                                   "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        self.c.get_waiter("table_exists").wait(
            TableName="cp_wait", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        self.c.delete_table(TableName="cp_wait")
        self.c.get_waiter("table_not_exists").wait(
            TableName="cp_wait", WaiterConfig={"Delay": 1, "MaxAttempts": 10})

    def test_resource_api_tables(self):
        t = self.r.create_table(
            TableName="cp_res",
            AttributeDefinitions=[{"AttributeName": "pk",
                                   "AttributeType": "S"},
                                  {"AttributeName": "sk",
                                   "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST")
        t.wait_until_exists()
        t.reload()
        self.assertEqual(t.table_status, "ACTIVE")
        self.assertEqual(t.table_arn, table_arn("cp_res"))
        self.assertEqual(t.key_schema[1],
                         {"AttributeName": "sk", "KeyType": "RANGE"})
        names = [x.name for x in self.r.tables.all()]
        self.assertIn("cp_res", names)
        self.assertEqual(names, sorted(names))
        t.delete()
        t.wait_until_not_exists()
        self.assertNotIn("cp_res", [x.name for x in self.r.tables.all()])

    def test_health_and_metrics(self):
        status, headers, body = self.node.http_get("/health")
        self.assertEqual(status, 200)
        json.loads(body)
        status, headers, body = self.node.http_get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(body.strip(), "empty /metrics")
