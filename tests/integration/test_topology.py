"""Topology: adding and dropping replicas at runtime, with backfill, and
regions joining and leaving the cluster, driven through the DynamoDB API
(boto3 and the AWS CLI) against real region-node processes."""

import json
import os
import random
import threading
import time
import unittest

import harness
from harness import Cluster, Node, free_port, wait_for

TABLE_ITEMS = int(os.environ.get("MERIDIAN_TOPO_ITEMS", "100000"))


def replicas(client, table):
    """{region: (status, percent)} from DescribeTable."""
    t = client.describe_table(TableName=table)["Table"]
    return {r["RegionName"]: (r["ReplicaStatus"],
                              r.get("ReplicaStatusPercentProgress"))
            for r in t.get("Replicas", [])}, t


def create_regional(client, table):
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST")


def load(client, table, n, prefix="i"):
    """Writes n items of ~100 bytes with BatchWriteItem."""
    pad = "x" * 80
    for start in range(0, n, 25):
        reqs = [{"PutRequest": {"Item": {"pk": {"S": "%s%07d" % (prefix, i)},
                                         "v": {"N": str(i)},
                                         "pad": {"S": pad}}}}
                for i in range(start, min(n, start + 25))]
        left = {table: reqs}
        while left:
            left = client.batch_write_item(RequestItems=left)[
                "UnprocessedItems"]


class Writer(threading.Thread):
    """Writes fresh keys to one region until stopped, remembering every
    acknowledged write."""

    def __init__(self, node, table, prefix):
        super().__init__(daemon=True)
        self.client = node.client(fresh=True)
        self.table, self.prefix = table, prefix
        self.acked = {}
        self.errors = 0
        self.halt = threading.Event()

    def run(self):
        i = 0
        deadline = time.time() + 300
        while not self.halt.is_set() and time.time() < deadline:
            key = "%s%06d" % (self.prefix, i)
            try:
                self.client.put_item(TableName=self.table, Item={
                    "pk": {"S": key}, "v": {"N": str(i)}})
                self.acked[key] = str(i)
            except Exception:  # noqa: BLE001 - counted, not fatal
                self.errors += 1
            i += 1

    def stop(self):
        self.halt.set()
        self.join(30)


class TopologyTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(global_tables=False, name="topo")
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        self.us = self.cluster["us-east-1"]
        self.eu = self.cluster["eu-west-1"]
        self.ap = self.cluster["ap-northeast-1"]

    def wait_active(self, node, table, region, timeout=180.0):
        seen = []

        def active():
            reps, _ = replicas(node.client(), table)
            st = reps.get(region, ("?", None))
            seen.append(st)
            if st[0] == "CREATION_FAILED":
                raise AssertionError("replica creation failed: %r" % reps)
            return st[0] == "ACTIVE"
        try:
            wait_for(active, timeout, "replica %s of %s to be ACTIVE" % (
                region, table), interval=0.2)
        except Exception:
            for n in self.cluster:
                print("----- %s log tail -----\n%s" % (
                    n.region, n.log_tail(60)))
            raise
        return seen

    def test_add_replica_under_load_and_backfill(self):
        c = self.us.client()
        create_regional(c, "big")
        reps, t = replicas(c, "big")
        self.assertNotIn("Replicas", t)  # a regional table
        load(c, "big", TABLE_ITEMS)
        # Grow it into eu-west-1 with the AWS CLI.
        out = self.us.aws("update-table", "--table-name", "big",
                          "--replica-updates",
                          json.dumps([{"Create": {"RegionName":
                                                  "eu-west-1"}}]))
        self.assertEqual(out["TableDescription"]["TableStatus"], "UPDATING")
        # A second replica change is refused while the first runs.
        try:
            self.us.client().update_table(
                TableName="big",
                ReplicaUpdates=[{"Create": {"RegionName":
                                            "ap-northeast-1"}}])
            busy = False
        except self.us.client().exceptions.ResourceInUseException:
            busy = True
        seen = self.wait_active(self.us, "big", "eu-west-1")
        self.assertTrue(busy or any(s[0] == "ACTIVE" for s in seen[:1]),
                        "a second change during CREATING must be refused")
        self.cluster.wait_converged("big", ["us-east-1", "eu-west-1"],
                                    items=TABLE_ITEMS, timeout=120)
        # Writes go on in both regions while a third replica is added.
        w_us = Writer(self.us, "big", "us-w")
        w_eu = Writer(self.eu, "big", "eu-w")
        w_us.start()
        w_eu.start()
        try:
            time.sleep(0.5)
            self.eu.client().update_table(
                TableName="big",
                ReplicaUpdates=[{"Create": {"RegionName":
                                            "ap-northeast-1"}}])
            seen = self.wait_active(self.eu, "big", "ap-northeast-1")
            pcts = [int(p) for s, p in seen if s == "CREATING" and p]
            self.assertEqual(pcts, sorted(pcts))  # progress only grows
            time.sleep(0.5)
        finally:
            w_us.stop()
            w_eu.stop()
        self.assertGreater(len(w_us.acked), 0)
        self.assertGreater(len(w_eu.acked), 0)
        total = TABLE_ITEMS + len(w_us.acked) + len(w_eu.acked)
        digests = self.cluster.wait_converged("big", items=total,
                                              timeout=180)
        self.assertEqual(len({d["Digest"] for d in digests.values()}), 1)
        # Every acknowledged write is in the new replica.
        ap = self.ap.client()
        for w in (w_us, w_eu):
            keys = list(w.acked)
            random.shuffle(keys)
            for k in keys[:200]:
                it = ap.get_item(TableName="big",
                                 Key={"pk": {"S": k}})["Item"]
                self.assertEqual(it["v"]["N"], w.acked[k])
        # Every region describes three ACTIVE replicas.
        for n in self.cluster:
            reps, t = replicas(n.client(), "big")
            self.assertEqual(t["GlobalTableVersion"], "2019.11.21")
            self.assertEqual(reps, {r: ("ACTIVE", None) for r in
                                    ("us-east-1", "eu-west-1",
                                     "ap-northeast-1")})
            self.assertEqual(t["TableStatus"], "ACTIVE")

    def add_replica(self, node, table, region):
        node.client().update_table(
            TableName=table,
            ReplicaUpdates=[{"Create": {"RegionName": region}}])
        self.wait_active(node, table, region)

    def test_added_replica_takes_indexes_stream_and_ttl(self):
        """A replica added to a table with a GSI, an LSI, a stream and TTL
        gets all four: its indexes are filled by the backfill and equal a
        rebuild from its items, its own stream carries later writes, and
        its TTL setting is the table's."""
        c = self.us.client()
        c.create_table(
            TableName="rich", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "g", "AttributeType": "S"},
                {"AttributeName": "r", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}],
            LocalSecondaryIndexes=[{
                "IndexName": "by_r",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "r", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
            StreamSpecification={"StreamEnabled": True,
                                 "StreamViewType": "KEYS_ONLY"})
        c.update_time_to_live(TableName="rich", TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "exp"})
        for i in range(300):
            item = {"pk": {"S": "p%d" % (i % 10)}, "sk": {"N": str(i)}}
            if i % 3:
                item["g"] = {"S": "g%d" % (i % 4)}
            if i % 2:
                item["r"] = {"N": str(1000 - i)}
            c.put_item(TableName="rich", Item=item)
        self.add_replica(self.us, "rich", "eu-west-1")
        e = self.eu.client()

        def gsi(client):
            out = []
            for g in range(4):
                out += sorted(x["sk"]["N"] for x in client.query(
                    TableName="rich", IndexName="by_g",
                    KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "g%d" % g}})[
                    "Items"])
            return out
        self.assertEqual(len(gsi(c)), 200)
        self.assertEqual(gsi(e), gsi(c))
        lsi = e.query(TableName="rich", IndexName="by_r",
                      KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "p1"}})["Items"]
        self.assertEqual([x["r"]["N"] for x in lsi],
                         sorted((str(1000 - i) for i in range(300)
                                 if i % 10 == 1 and i % 2),
                                key=int))
        chk = self.eu.admin_ok("/admin/index-check", {"TableName": "rich"})
        self.assertEqual((chk["Entries"], chk["Missing"], chk["Extra"]),
                         (350, 0, 0))
        self.assertEqual(e.describe_time_to_live(TableName="rich")[
            "TimeToLiveDescription"], {"TimeToLiveStatus": "ENABLED",
                                       "AttributeName": "exp"})
        d = e.describe_table(TableName="rich")["Table"]
        self.assertIn(":eu-west-1:", d["LatestStreamArn"])
        # A write in us-east-1 after the add reaches eu-west-1's stream.
        c.put_item(TableName="rich", Item={"pk": {"S": "late"},
                                           "sk": {"N": "1"}})
        import boto3
        sc = boto3.session.Session(
            aws_access_key_id="x", aws_secret_access_key="x",
            region_name="eu-west-1").client(
            "dynamodbstreams", endpoint_url=self.eu.endpoint)

        def late_in_stream():
            arn = d["LatestStreamArn"]
            shard = sc.describe_stream(StreamArn=arn)["StreamDescription"][
                "Shards"][0]["ShardId"]
            it = sc.get_shard_iterator(
                StreamArn=arn, ShardId=shard,
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for _ in range(50):
                page = sc.get_records(ShardIterator=it)
                for rec in page["Records"]:
                    if rec["dynamodb"]["Keys"]["pk"] == {"S": "late"}:
                        return rec
                it = page.get("NextShardIterator")
                if not page["Records"] or it is None:
                    return None
            return None
        rec = wait_for(late_in_stream, 30, "the late write in eu's stream")
        self.assertEqual(rec["awsRegion"], "us-east-1")

    def test_replica_errors(self):
        c = self.us.client()
        create_regional(c, "errs")
        ex = c.exceptions

        def fails(region, kind, action="Create", code="ValidationException"):
            with self.assertRaises(ex.ClientError) as cm:
                c.update_table(TableName="errs", ReplicaUpdates=[
                    {action: {"RegionName": region}}])
            self.assertEqual(cm.exception.response["Error"]["Code"], code,
                             kind)
        fails("us-east-1", "the local region")
        fails("mars-north-1", "an unknown region")
        fails("eu-west-1", "not a replica", action="Delete")
        with self.assertRaises(ex.ResourceNotFoundException):
            c.update_table(TableName="nope", ReplicaUpdates=[
                {"Create": {"RegionName": "eu-west-1"}}])
        rc, err = self.us.aws_fail(
            "update-table", "--table-name", "errs", "--replica-updates",
            json.dumps([{"Create": {"RegionName": "us-east-1"}}]))
        self.assertNotEqual(rc, 0)
        self.assertIn("ValidationException", err)

    def test_drop_replica_while_down(self):
        c = self.us.client()
        create_regional(c, "drop")
        load(c, "drop", 300)
        self.add_replica(self.us, "drop", "eu-west-1")
        self.add_replica(self.us, "drop", "ap-northeast-1")
        self.cluster.wait_converged("drop", items=300)
        self.ap.stop()
        c.update_table(TableName="drop", ReplicaUpdates=[
            {"Delete": {"RegionName": "ap-northeast-1"}}])
        wait_for(lambda: "ap-northeast-1" not in replicas(
            self.eu.client(), "drop")[0], 30, "eu-west-1 to see the drop")
        # Writes go on in the remaining replicas.
        c.put_item(TableName="drop", Item={"pk": {"S": "after"}})
        self.ap.restart()
        ap = self.ap.client()

        def gone():
            try:
                ap.describe_table(TableName="drop")
                return False
            except ap.exceptions.ResourceNotFoundException:
                return True
        wait_for(gone, 60, "the dropped replica to delete its copy")
        self.assertEqual(self.ap.admin("/admin/digest",
                                       {"TableName": "drop"})[0], 404)
        self.cluster.wait_converged("drop", ["us-east-1", "eu-west-1"],
                                    items=301)
        # Nothing of the table comes back from the dropped region.
        time.sleep(1.0)
        for n in (self.us, self.eu):
            reps, _ = replicas(n.client(), "drop")
            self.assertEqual(set(reps), {"us-east-1", "eu-west-1"})

    def test_drop_keep_detached(self):
        c = self.us.client()
        create_regional(c, "keep")
        load(c, "keep", 50)
        self.add_replica(self.us, "keep", "eu-west-1")
        self.cluster.wait_converged("keep", ["us-east-1", "eu-west-1"],
                                    items=50)
        st, body = self.us.admin("/admin/replica/drop", {
            "TableName": "keep", "RegionName": "eu-west-1",
            "KeepDetached": True})
        self.assertEqual(st, 200, body)
        eu = self.eu.client()
        wait_for(lambda: "Replicas" not in eu.describe_table(
            TableName="keep")["Table"], 30, "eu-west-1 to detach")
        self.assertEqual(eu.describe_table(TableName="keep")["Table"][
            "ItemCount"], 50)
        # Detached: writes no longer cross.
        eu.put_item(TableName="keep", Item={"pk": {"S": "eu-only"}})
        time.sleep(0.5)
        self.assertNotIn("Item", c.get_item(TableName="keep",
                                            Key={"pk": {"S": "eu-only"}}))


class MembershipTest(unittest.TestCase):
    def test_join_and_leave(self):
        cluster = Cluster(regions=["us-east-1", "eu-west-1"],
                          global_tables=False, name="members")
        self.addCleanup(cluster.close)
        cluster.start()
        us = cluster["us-east-1"]
        st, m = us.admin("/admin/cluster")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(r["Region"] for r in m["Regions"]),
                         ["eu-west-1", "us-east-1"])
        epoch = m["Epoch"]
        # A new region starts with the address of any member.
        rport = free_port()
        new = Node(region="sa-east-1", name="members/sa-east-1",
                   extra_args=["--replication", "tcp://127.0.0.1:%d" % rport,
                               "--cluster-key", cluster.config["cluster_key"],
                               "--join", us.endpoint])
        self.addCleanup(new.close)
        new.start()
        for n in (us, cluster["eu-west-1"], new):
            def has3(n=n):
                st, m = n.admin("/admin/cluster")
                return st == 200 and len(m["Regions"]) == 3 and \
                    m["Epoch"] > epoch
            wait_for(has3, 30, "%s to learn the join" % n.region)
        # The new region can hold a replica.
        c = us.client()
        create_regional(c, "joined")
        load(c, "joined", 100)
        c.update_table(TableName="joined", ReplicaUpdates=[
            {"Create": {"RegionName": "sa-east-1"}}])
        wait_for(lambda: replicas(c, "joined")[0].get("sa-east-1", ("",))[0]
                 == "ACTIVE", 60, "sa-east-1 to be ACTIVE")
        self.assertEqual(new.client().describe_table(
            TableName="joined")["Table"]["ItemCount"], 100)
        # It leaves; the others stop following it.
        st, m = cluster["eu-west-1"].admin("/admin/cluster/leave",
                                            {"Region": "sa-east-1"})
        self.assertEqual(st, 200, m)
        wait_for(lambda: len(us.admin("/admin/cluster")[1]["Regions"]) == 2,
                 30, "us-east-1 to learn the leave")
        wait_for(lambda: all(p["region"] != "sa-east-1" for p in
                             us.replication()["peers"]), 30,
                 "us-east-1 to stop following sa-east-1")
        st, body = us.admin("/admin/cluster/leave", {"Region": "mars-1"})
        self.assertEqual(st, 404)


if __name__ == "__main__":
    unittest.main()
