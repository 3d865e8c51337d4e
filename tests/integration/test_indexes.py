"""Secondary indexes: GSIs and LSIs on a single node (validation, Query and
Scan with IndexName, projections, sparse indexes, pagination, a GSI added
to a populated table) and on a three-region cluster, where every region's
index must answer the same after convergence and equal a rebuild from its
own items (/admin/index-check).

Randomized data prints its seed; set MERIDIAN_SEED to replay it.
"""

import json
import os
import random
import sys


from harness import ClusterTestCase, NodeTestCase, wait_for, CLUSTER_REGIONS

WAIT_S = 30.0


def norm(item):
    return json.dumps(item, sort_keys=True)


def seed_for(name):
    env = os.environ.get("MERIDIAN_SEED")
    seed = int(env) if env else random.SystemRandom().randrange(1 << 31)
    sys.stderr.write("[%s seed=%d]\n" % (name, seed))
    return seed


def query_all(client, **kw):
    items, start = [], None
    for _ in range(10000):
        if start is not None:
            kw["ExclusiveStartKey"] = start
        page = client.query(**kw)
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items
    raise AssertionError("pagination did not end")


def scan_all(client, **kw):
    items, start = [], None
    for _ in range(10000):
        if start is not None:
            kw["ExclusiveStartKey"] = start
        page = client.scan(**kw)
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items
    raise AssertionError("pagination did not end")


GSI_DEF = {
    "IndexName": "by_city",
    "KeySchema": [{"AttributeName": "city", "KeyType": "HASH"},
                  {"AttributeName": "age", "KeyType": "RANGE"}],
    "Projection": {"ProjectionType": "INCLUDE",
                   "NonKeyAttributes": ["name"]},
}
LSI_DEF = {
    "IndexName": "by_score",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                  {"AttributeName": "score", "KeyType": "RANGE"}],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
ATTRS = [{"AttributeName": "pk", "AttributeType": "S"},
         {"AttributeName": "sk", "AttributeType": "N"},
         {"AttributeName": "city", "AttributeType": "S"},
         {"AttributeName": "age", "AttributeType": "N"},
         {"AttributeName": "score", "AttributeType": "N"}]


def make_people(rng, n):
    cities = ["Oslo", "Lima", "Pune", "Kyiv"]
    items = []
    for i in range(n):
        it = {"pk": {"S": "p%d" % (i % 7)}, "sk": {"N": str(i)},
              "name": {"S": "n%d" % i}, "other": {"S": "x" * (i % 5)}}
        if rng.random() < 0.8:  # the rest are not in the GSI (sparse)
            it["city"] = {"S": rng.choice(cities)}
            it["age"] = {"N": str(rng.randrange(18, 90))}
        if rng.random() < 0.7:
            it["score"] = {"N": str(rng.randrange(0, 1000))}
        items.append(it)
    return items


def expect_gsi(items, city):
    rows = [it for it in items if it.get("city", {}).get("S") == city
            and "age" in it]
    rows.sort(key=lambda it: (int(it["age"]["N"])))
    return rows


def proj_gsi(it):
    return {k: v for k, v in it.items()
            if k in ("pk", "sk", "city", "age", "name")}


class IndexTest(NodeTestCase):

    def people_table(self, name, gsi=True, lsi=True):
        kw = dict(TableName=name, AttributeDefinitions=list(ATTRS),
                  KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                             {"AttributeName": "sk", "KeyType": "RANGE"}],
                  BillingMode="PAY_PER_REQUEST")
        if gsi:
            kw["GlobalSecondaryIndexes"] = [GSI_DEF]
        if lsi:
            kw["LocalSecondaryIndexes"] = [LSI_DEF]
        if not lsi:
            kw["AttributeDefinitions"] = [a for a in ATTRS
                                          if a["AttributeName"] != "score"]
        if not gsi:
            kw["AttributeDefinitions"] = [
                a for a in kw["AttributeDefinitions"]
                if a["AttributeName"] not in ("city", "age")]
        self.node.client().create_table(**kw)
        return name

    def check_rebuild(self, node, table):
        r = node.admin_ok("/admin/index-check", {"TableName": table})
        self.assertEqual((r["Missing"], r["Extra"]), (0, 0), r)
        return r

    def test_create_describe_and_validation(self):
        c = self.node.client()
        self.people_table("ix_desc")
        d = c.describe_table(TableName="ix_desc")["Table"]
        g = d["GlobalSecondaryIndexes"][0]
        self.assertEqual(g["IndexName"], "by_city")
        self.assertEqual(g["IndexStatus"], "ACTIVE")
        self.assertEqual(g["Projection"]["NonKeyAttributes"], ["name"])
        self.assertTrue(g["IndexArn"].endswith("/index/by_city"))
        l = d["LocalSecondaryIndexes"][0]
        self.assertEqual(l["IndexName"], "by_score")
        self.assertNotIn("Id", g)
        base = dict(AttributeDefinitions=ATTRS[:3],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                               {"AttributeName": "sk", "KeyType": "RANGE"}],
                    BillingMode="PAY_PER_REQUEST")
        # An undefined index key attribute.
        self.assertAwsError("ValidationException", c.create_table,
                            TableName="ix_bad1", GlobalSecondaryIndexes=[
                                GSI_DEF], **base)
        # An unused attribute definition.
        self.assertAwsError("ValidationException", c.create_table,
                            TableName="ix_bad2", **base)
        # An LSI on a different hash key.
        bad_lsi = dict(LSI_DEF, KeySchema=[
            {"AttributeName": "city", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertAwsError("ValidationException", c.create_table,
                            TableName="ix_bad3",
                            AttributeDefinitions=ATTRS[:3],
                            KeySchema=base["KeySchema"],
                            BillingMode="PAY_PER_REQUEST",
                            LocalSecondaryIndexes=[bad_lsi])
        # Duplicate names.
        self.assertAwsError("ValidationException", c.create_table,
                            TableName="ix_bad4", AttributeDefinitions=ATTRS,
                            KeySchema=base["KeySchema"],
                            BillingMode="PAY_PER_REQUEST",
                            GlobalSecondaryIndexes=[GSI_DEF, GSI_DEF],
                            LocalSecondaryIndexes=[LSI_DEF])
        # PROVISIONED needs index throughput.
        self.assertAwsError("ValidationException", c.create_table,
                            TableName="ix_bad5", AttributeDefinitions=ATTRS,
                            KeySchema=base["KeySchema"],
                            ProvisionedThroughput={"ReadCapacityUnits": 1,
                                                   "WriteCapacityUnits": 1},
                            GlobalSecondaryIndexes=[GSI_DEF],
                            LocalSecondaryIndexes=[LSI_DEF])
        # KEYS_ONLY with NonKeyAttributes.
        bad_proj = dict(GSI_DEF, Projection={
            "ProjectionType": "KEYS_ONLY", "NonKeyAttributes": ["x"]})
        self.assertAwsError("ValidationException", c.create_table,
                            TableName="ix_bad6", AttributeDefinitions=ATTRS,
                            KeySchema=base["KeySchema"],
                            BillingMode="PAY_PER_REQUEST",
                            GlobalSecondaryIndexes=[bad_proj],
                            LocalSecondaryIndexes=[LSI_DEF])
        for t in ("ix_bad1", "ix_bad2", "ix_bad3", "ix_bad4", "ix_bad5",
                  "ix_bad6"):
            self.assertNotIn(t, c.list_tables()["TableNames"])
        # Writes: a key attribute of the wrong type, an empty one.
        self.assertAwsError("ValidationException", c.put_item,
                            TableName="ix_desc", Item={
                                "pk": {"S": "a"}, "sk": {"N": "1"},
                                "city": {"N": "3"}},
                            message_contains="Type mismatch for Index Key city")
        self.assertAwsError("ValidationException", c.put_item,
                            TableName="ix_desc", Item={
                                "pk": {"S": "a"}, "sk": {"N": "1"},
                                "city": {"S": ""}, "age": {"N": "1"}})
        self.assertAwsError("ValidationException", c.update_item,
                            TableName="ix_desc",
                            Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                            UpdateExpression="SET age = :v",
                            ExpressionAttributeValues={":v": {"S": "old"}})
        self.assertNotIn("Item", c.get_item(TableName="ix_desc", Key={
            "pk": {"S": "a"}, "sk": {"N": "1"}}))
        # Reads: unknown index, consistent GSI read, ALL_ATTRIBUTES on a
        # GSI that does not project everything.
        self.assertAwsError("ValidationException", c.query,
                            TableName="ix_desc", IndexName="nope",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "a"}})
        self.assertAwsError("ValidationException", c.query,
                            TableName="ix_desc", IndexName="by_city",
                            ConsistentRead=True,
                            KeyConditionExpression="city = :c",
                            ExpressionAttributeValues={":c": {"S": "a"}})
        self.assertAwsError("ValidationException", c.query,
                            TableName="ix_desc", IndexName="by_city",
                            Select="ALL_ATTRIBUTES",
                            KeyConditionExpression="city = :c",
                            ExpressionAttributeValues={":c": {"S": "a"}})

    def test_query_scan_projection_sparse(self):
        c = self.node.client()
        self.people_table("ix_q")
        rng = random.Random(seed_for("ix_q"))
        items = make_people(rng, 300)
        self.batch_put("ix_q", items)
        for city in ("Oslo", "Lima", "Pune", "Kyiv", "Nowhere"):
            want = expect_gsi(items, city)
            got = query_all(c, TableName="ix_q", IndexName="by_city",
                            KeyConditionExpression="city = :c",
                            ExpressionAttributeValues={":c": {"S": city}},
                            Limit=7)
            self.assertEqual([int(i["age"]["N"]) for i in got],
                             [int(i["age"]["N"]) for i in want], city)
            self.assertEqual(sorted(map(norm, got)),
                             sorted(norm(proj_gsi(i)) for i in want), city)
            back = query_all(c, TableName="ix_q", IndexName="by_city",
                             KeyConditionExpression="city = :c",
                             ExpressionAttributeValues={":c": {"S": city}},
                             ScanIndexForward=False, Limit=5)
            self.assertEqual(sorted(map(norm, back)), sorted(map(norm, got)))
            self.assertEqual([i["age"]["N"] for i in back],
                             [i["age"]["N"] for i in reversed(got)])
        # A sort-key condition and a filter on a projected attribute.
        got = query_all(c, TableName="ix_q", IndexName="by_city",
                        KeyConditionExpression="city = :c AND age BETWEEN "
                        ":a AND :b", FilterExpression="begins_with(#n, :p)",
                        ExpressionAttributeNames={"#n": "name"},
                        ExpressionAttributeValues={
                            ":c": {"S": "Oslo"}, ":a": {"N": "30"},
                            ":b": {"N": "60"}, ":p": {"S": "n1"}})
        want = [i for i in expect_gsi(items, "Oslo")
                if 30 <= int(i["age"]["N"]) <= 60 and
                i["name"]["S"].startswith("n1")]
        self.assertEqual(sorted(map(norm, got)),
                         sorted(norm(proj_gsi(i)) for i in want))
        # The LSI: KEYS_ONLY, ordered by score within a partition; ALL_
        # ATTRIBUTES reads the items themselves.
        for p in ("p0", "p3"):
            want = sorted([i for i in items if i["pk"]["S"] == p and
                           "score" in i],
                          key=lambda i: (int(i["score"]["N"])))
            got = query_all(c, TableName="ix_q", IndexName="by_score",
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": p}},
                            Limit=4)
            self.assertEqual([g["score"]["N"] for g in got],
                             [w["score"]["N"] for w in want])
            self.assertEqual(set(got[0].keys()), {"pk", "sk", "score"})
            full = query_all(c, TableName="ix_q", IndexName="by_score",
                             Select="ALL_ATTRIBUTES", ConsistentRead=True,
                             KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": p}})
            self.assertEqual(sorted(map(norm, full)),
                             sorted(map(norm, want)))
        # Scan of the GSI: exactly the sparse set, parallel segments too.
        in_gsi = [i for i in items if "city" in i]
        got = scan_all(c, TableName="ix_q", IndexName="by_city", Limit=13)
        self.assertEqual(sorted(map(norm, got)),
                         sorted(norm(proj_gsi(i)) for i in in_gsi))
        seg = []
        for s in range(3):
            seg += scan_all(c, TableName="ix_q", IndexName="by_city",
                            Segment=s, TotalSegments=3)
        self.assertEqual(sorted(map(norm, seg)), sorted(map(norm, got)))
        n = c.scan(TableName="ix_q", IndexName="by_city",
                   Select="COUNT")["Count"]
        self.assertEqual(n, len(in_gsi))
        d = c.describe_table(TableName="ix_q")["Table"]
        self.assertEqual(d["GlobalSecondaryIndexes"][0]["ItemCount"],
                         len(in_gsi))
        # Updates move items between index keys; deletes remove them.
        c.update_item(TableName="ix_q", Key={"pk": items[0]["pk"],
                                             "sk": items[0]["sk"]},
                      UpdateExpression="SET city = :c, age = :a",
                      ExpressionAttributeValues={":c": {"S": "Quito"},
                                                 ":a": {"N": "5"}})
        c.delete_item(TableName="ix_q", Key={"pk": items[1]["pk"],
                                             "sk": items[1]["sk"]})
        c.update_item(TableName="ix_q", Key={"pk": items[2]["pk"],
                                             "sk": items[2]["sk"]},
                      UpdateExpression="REMOVE city")
        got = c.query(TableName="ix_q", IndexName="by_city",
                      KeyConditionExpression="city = :c",
                      ExpressionAttributeValues={":c": {"S": "Quito"}})
        self.assertEqual([g["sk"] for g in got["Items"]], [items[0]["sk"]])
        self.check_rebuild(self.node, "ix_q")

    def test_gsi_added_to_populated_table(self):
        c = self.node.client()
        self.people_table("ix_add", gsi=False)
        rng = random.Random(seed_for("ix_add"))
        items = make_people(rng, 2500)
        self.batch_put("ix_add", items)
        c.update_table(
            TableName="ix_add",
            AttributeDefinitions=[
                {"AttributeName": "city", "AttributeType": "S"},
                {"AttributeName": "age", "AttributeType": "N"}],
            GlobalSecondaryIndexUpdates=[{"Create": GSI_DEF}])
        # Writes during the backfill are indexed too.
        extra = {"pk": {"S": "late"}, "sk": {"N": "1"},
                 "city": {"S": "Oslo"}, "age": {"N": "1"},
                 "name": {"S": "late"}}
        c.put_item(TableName="ix_add", Item=extra)
        items.append(extra)

        def active():
            g = c.describe_table(TableName="ix_add")["Table"][
                "GlobalSecondaryIndexes"][0]
            return g["IndexStatus"] == "ACTIVE" and "Backfilling" not in g
        wait_for(active, WAIT_S, "the new index to become ACTIVE")
        got = query_all(c, TableName="ix_add", IndexName="by_city",
                        KeyConditionExpression="city = :c",
                        ExpressionAttributeValues={":c": {"S": "Oslo"}})
        self.assertEqual(sorted(map(norm, got)), sorted(
            norm(proj_gsi(i)) for i in expect_gsi(items, "Oslo")))
        self.check_rebuild(self.node, "ix_add")
        # Errors of the update itself.
        self.assertAwsError("ValidationException", c.update_table,
                            TableName="ix_add",
                            GlobalSecondaryIndexUpdates=[{"Create": GSI_DEF}])
        self.assertAwsError("ResourceNotFoundException", c.update_table,
                            TableName="ix_add",
                            GlobalSecondaryIndexUpdates=[
                                {"Delete": {"IndexName": "nope"}}])
        # Deleting it removes it and its entries.
        c.update_table(TableName="ix_add", GlobalSecondaryIndexUpdates=[
            {"Delete": {"IndexName": "by_city"}}])
        d = c.describe_table(TableName="ix_add")["Table"]
        self.assertNotIn("GlobalSecondaryIndexes", d)
        self.assertNotIn("city", [a["AttributeName"]
                                  for a in d["AttributeDefinitions"]])
        r = self.check_rebuild(self.node, "ix_add")
        self.assertEqual(r["Indexes"], 1)  # the LSI stays

    def test_aws_cli(self):
        self.people_table("ix_cli")
        c = self.node.client()
        c.put_item(TableName="ix_cli", Item={
            "pk": {"S": "a"}, "sk": {"N": "1"}, "city": {"S": "Oslo"},
            "age": {"N": "40"}, "name": {"S": "Ann"}})
        out = self.node.aws(
            "query", "--table-name", "ix_cli",
            "--index-name", "by_city", "--key-condition-expression",
            "city = :c", "--expression-attribute-values",
            '{":c": {"S": "Oslo"}}')
        self.assertEqual(out["Count"], 1)
        self.assertEqual(out["Items"][0]["name"], {"S": "Ann"})


class GlobalIndexTest(ClusterTestCase):
    CLUSTER_NAME = "ix"

    def test_indexes_converge_in_every_region(self):
        us, eu, ap = (self.cluster[r] for r in CLUSTER_REGIONS)
        t = "gix"
        us.client().create_table(
            TableName=t, AttributeDefinitions=ATTRS,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[GSI_DEF],
            LocalSecondaryIndexes=[LSI_DEF])
        for n in (us, eu, ap):
            wait_for(lambda n=n: t in n.client().list_tables()["TableNames"],
                     WAIT_S, "table in " + n.region)
        rng = random.Random(seed_for("gix"))
        items = make_people(rng, 240)
        nodes = [us, eu, ap]
        # Writes from every region, then updates of the same items from
        # other regions, so index keys move on replicated writes.
        for i, it in enumerate(items):
            nodes[i % 3].client().put_item(TableName=t, Item=it)
        final = {}
        for it in items:
            final[(it["pk"]["S"], it["sk"]["N"])] = it
        for i, it in enumerate(items[:60]):
            c = nodes[(i + 1) % 3].client()
            c.update_item(TableName=t, Key={"pk": it["pk"], "sk": it["sk"]},
                          UpdateExpression="SET city = :c, age = :a",
                          ExpressionAttributeValues={
                              ":c": {"S": "Moved"}, ":a": {"N": str(i)}})
        # A GSI added to the populated global table reaches every region
        # and is backfilled there.
        us.client().update_table(
            TableName=t,
            GlobalSecondaryIndexUpdates=[{"Create": {
                "IndexName": "by_name",
                "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}}],
            AttributeDefinitions=[{"AttributeName": "name",
                                   "AttributeType": "S"}])

        def settled(n):
            d = n.client().describe_table(TableName=t)["Table"]
            names = {g["IndexName"]: g for g in
                     d.get("GlobalSecondaryIndexes", [])}
            return ("by_name" in names and
                    names["by_name"]["IndexStatus"] == "ACTIVE" and
                    n.client().scan(TableName=t, Select="COUNT",
                                    ConsistentRead=True)["Count"] ==
                    len(items))
        for n in nodes:
            wait_for(lambda n=n: settled(n), WAIT_S * 2,
                     "indexes settled in " + n.region)

        def answers(n):
            c = n.client()
            out = {}
            for city in ("Oslo", "Lima", "Pune", "Kyiv", "Moved"):
                out[city] = query_all(
                    c, TableName=t, IndexName="by_city",
                    KeyConditionExpression="city = :c",
                    ExpressionAttributeValues={":c": {"S": city}})
            out["lsi"] = query_all(
                c, TableName=t, IndexName="by_score",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "p2"}})
            out["name"] = query_all(
                c, TableName=t, IndexName="by_name",
                KeyConditionExpression="#n = :n",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues={":n": {"S": "n7"}})
            return out
        wait_for(lambda: answers(us) == answers(eu) == answers(ap),
                 WAIT_S, "index answers equal in every region")
        a = answers(us)
        self.assertEqual(len(a["Moved"]), 60)
        self.assertEqual([int(i["age"]["N"]) for i in a["Moved"]],
                         list(range(60)))
        self.assertEqual(len(a["name"]), 1)
        self.assertEqual(a["name"][0]["sk"], {"N": "7"})
        for n in nodes:
            r = n.admin_ok("/admin/index-check", {"TableName": t})
            self.assertEqual((r["Missing"], r["Extra"], r["Indexes"]),
                             (0, 0, 3), n.region)

    def test_verify_checks_every_region_index(self):
        """meridian verify compares each region's indexes with a rebuild
        from its items, and names a region whose index was tampered with."""
        import json
        import subprocess
        us, eu = self.cluster[CLUSTER_REGIONS[0]], self.cluster[
            CLUSTER_REGIONS[1]]
        t = "gix_verify"
        us.client().create_table(
            TableName=t, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}])
        for i in range(20):
            us.client().put_item(TableName=t, Item={
                "pk": {"S": "k%d" % i}, "g": {"S": "g%d" % (i % 3)}})
        self.cluster.wait_converged(t, items=20, timeout=WAIT_S)
        rc = self.cluster.cli("verify", t, "--json")
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        doc = json.loads(rc.stdout)
        checks = [r["IndexCheck"] for r in doc["Tables"][0]["Regions"]]
        self.assertEqual(len(checks), 3)
        for c in checks:
            self.assertEqual((c["Entries"], c["Missing"], c["Extra"]),
                             (20, 0, 0))
        # Plant an extra index entry straight into eu-west-1's LMDB.
        eu.stop()
        dump = subprocess.run(["mdb_dump", "-s", "index", eu.data_dir],
                              capture_output=True, text=True, check=True)
        lines = dump.stdout.split("\n")
        end = lines.index("HEADER=END")
        # Index ids grow and lead the key, so this table's index (the
        # newest) holds the last key of the dump.
        last_key = lines[lines.index("DATA=END") - 2]
        bogus = lines[:end + 1] + [last_key, " " + "00" * 12,
                                   "DATA=END", ""]
        subprocess.run(["mdb_load", "-s", "index", eu.data_dir],
                       input="\n".join(bogus), text=True, check=True)
        eu.restart()
        rc = self.cluster.cli("verify", t)
        self.assertEqual(rc.returncode, 1, rc.stdout + rc.stderr)
        self.assertIn("indexes in eu-west-1: 0 entries missing, 1 extra",
                      rc.stdout)
