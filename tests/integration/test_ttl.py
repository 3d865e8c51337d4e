"""Time to Live: UpdateTimeToLive / DescribeTimeToLive through boto3 and
the AWS CLI, the sweeper deleting expired items on one node, and expiry on
a three-region cluster, where the region that last wrote an item deletes
it, the others follow by replication, and a region takes over the deletes
of a region that is down.

Nodes run with a short ttl_sweep_interval_ms.  Assertions that an item
stays are made after a later expired "sentinel" item has gone, which
proves the sweeper has run past it since; no fixed sleeps.
"""

import subprocess
import time

import botocore.exceptions

from harness import (ClusterTestCase, NodeTestCase, wait_for,
                     CLUSTER_REGIONS)

US, EU, AP = CLUSTER_REGIONS
WAIT_S = 30.0
FIVE_YEARS_S = 5 * 365 * 86400
SWEEP_MS = "100"
TAKEOVER_S = 10

LOG_PUT, LOG_DELETE = 1, 2
F_REPLICATED, F_SERVICE = 1, 2


def log_records(node):
    """The change log of node (running or not) as dicts: seq, op, flags,
    origin, table, key (JSON text).  Read with mdb_dump (lmdb-utils), which
    opens the environment read-only beside the running node."""
    out = subprocess.run(["mdb_dump", "-s", "log", node.data_dir],
                         capture_output=True, text=True, check=True,
                         timeout=60).stdout
    lines = [ln.strip() for ln in out.split("\n")]
    i = lines.index("HEADER=END") + 1
    recs = []
    while lines[i] != "DATA=END":
        k, v = bytes.fromhex(lines[i]), bytes.fromhex(lines[i + 1])
        i += 2
        olen = v[23]
        at = 24 + olen
        tlen = int.from_bytes(v[at:at + 2], "big")
        table = v[at + 2:at + 2 + tlen].decode()
        at += 2 + tlen
        klen = int.from_bytes(v[at:at + 4], "big")
        recs.append({"seq": int.from_bytes(k, "big"), "op": v[1],
                     "flags": v[2], "origin": v[24:24 + olen].decode(),
                     "table": table,
                     "key": v[at + 4:at + 4 + klen].decode()})
    return recs


def deletes_of(node, table, pk):
    """The DELETE records of item {"pk": {"S": pk}} in node's log."""
    needle = '"%s"' % pk
    return [r for r in log_records(node) if r["op"] == LOG_DELETE and
            r["table"] == table and needle in r["key"]]


class TtlNodeTest(NodeTestCase):
    NODE_ARGS = ("--ttl-sweep-interval-ms", SWEEP_MS)

    def ttl_table(self, name, attr="expires", client=None):
        c = client or self.c
        self.create_table(name, client=c)
        c.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": attr})
        return name

    def put(self, table, pk, ttl=None, attr="expires", kind="N",
            client=None, **more):
        item = {"pk": {"S": pk}}
        if ttl is not None:
            item[attr] = {kind: str(ttl)}
        item.update(more)
        (client or self.c).put_item(TableName=table, Item=item)

    def get(self, table, pk, client=None):
        return (client or self.c).get_item(
            TableName=table, Key={"pk": {"S": pk}},
            ConsistentRead=True).get("Item")

    def wait_gone(self, table, pk, client=None, timeout=WAIT_S):
        wait_for(lambda: self.get(table, pk, client) is None, timeout,
                 "%s/%s to expire" % (table, pk))

    def sweep_past(self, table, client=None):
        """Puts an already expired item and waits until it is deleted:
        afterwards the sweeper has looked at the whole table again."""
        pk = "sentinel-%d" % time.monotonic_ns()
        self.put(table, pk, int(time.time()) - 2, client=client)
        self.wait_gone(table, pk, client)

    # ------------------------------------------------------- API shapes

    def test_update_describe_round_trip(self):
        self.create_table("ttl_api")
        d = self.c.describe_time_to_live(TableName="ttl_api")
        self.assertEqual(d["TimeToLiveDescription"],
                         {"TimeToLiveStatus": "DISABLED"})
        r = self.c.update_time_to_live(
            TableName="ttl_api", TimeToLiveSpecification={
                "Enabled": True, "AttributeName": "expires_at"})
        self.assertEqual(r["TimeToLiveSpecification"],
                         {"Enabled": True, "AttributeName": "expires_at"})
        d = self.c.describe_time_to_live(TableName="ttl_api")
        self.assertEqual(d["TimeToLiveDescription"],
                         {"TimeToLiveStatus": "ENABLED",
                          "AttributeName": "expires_at"})
        r = self.c.update_time_to_live(
            TableName="ttl_api", TimeToLiveSpecification={
                "Enabled": False, "AttributeName": "expires_at"})
        self.assertEqual(r["TimeToLiveSpecification"],
                         {"Enabled": False, "AttributeName": "expires_at"})
        d = self.c.describe_time_to_live(TableName="ttl_api")
        self.assertEqual(d["TimeToLiveDescription"],
                         {"TimeToLiveStatus": "DISABLED"})
        # Re-enabled on another attribute once disabled.
        self.c.update_time_to_live(TableName="ttl_api",
                                   TimeToLiveSpecification={
                                       "Enabled": True,
                                       "AttributeName": "other"})
        d = self.c.describe_time_to_live(TableName="ttl_api")
        self.assertEqual(d["TimeToLiveDescription"]["AttributeName"],
                         "other")
        # The setting survives a restart.
        self.node.restart()
        c = self.node.client()
        d = c.describe_time_to_live(TableName="ttl_api")
        self.assertEqual(d["TimeToLiveDescription"],
                         {"TimeToLiveStatus": "ENABLED",
                          "AttributeName": "other"})
        type(self).c = c
        type(self).cn = self.node.client(validate=False)

    def test_aws_cli(self):
        self.create_table("ttl_cli")
        out = self.node.aws("update-time-to-live", "--table-name", "ttl_cli",
                            "--time-to-live-specification",
                            "Enabled=true,AttributeName=exp")
        self.assertEqual(out, {"TimeToLiveSpecification": {
            "Enabled": True, "AttributeName": "exp"}})
        out = self.node.aws("describe-time-to-live", "--table-name",
                            "ttl_cli")
        self.assertEqual(out, {"TimeToLiveDescription": {
            "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}})
        rc, err = self.node.aws_fail(
            "update-time-to-live", "--table-name", "ttl_cli",
            "--time-to-live-specification", "Enabled=true,AttributeName=exp")
        self.assertIn("ValidationException", err)
        self.assertIn("TimeToLive is already enabled", err)
        rc, err = self.node.aws_fail("describe-time-to-live", "--table-name",
                                     "ttl_nope")
        self.assertIn("ResourceNotFoundException", err)

    def test_errors(self):
        self.create_table("ttl_err")
        on = {"Enabled": True, "AttributeName": "exp"}
        off = {"Enabled": False, "AttributeName": "exp"}
        self.assertAwsError(
            "ResourceNotFoundException", self.c.update_time_to_live,
            TableName="ttl_missing", TimeToLiveSpecification=on)
        self.assertAwsError(
            "ResourceNotFoundException", self.c.describe_time_to_live,
            TableName="ttl_missing")
        self.assertAwsError(
            "ValidationException", self.c.update_time_to_live,
            TableName="ttl_err", TimeToLiveSpecification=off,
            message="TimeToLive is already disabled")
        self.c.update_time_to_live(TableName="ttl_err",
                                   TimeToLiveSpecification=on)
        self.assertAwsError(
            "ValidationException", self.c.update_time_to_live,
            TableName="ttl_err", TimeToLiveSpecification=on,
            message="TimeToLive is already enabled")
        # Another attribute while enabled, or disabling another one.
        self.assertAwsError(
            "ValidationException", self.c.update_time_to_live,
            TableName="ttl_err", TimeToLiveSpecification={
                "Enabled": True, "AttributeName": "other"},
            message_contains="TimeToLive is already enabled")
        self.assertAwsError(
            "ValidationException", self.c.update_time_to_live,
            TableName="ttl_err", TimeToLiveSpecification={
                "Enabled": False, "AttributeName": "other"},
            message_contains="does not match")
        d = self.c.describe_time_to_live(TableName="ttl_err")
        self.assertEqual(d["TimeToLiveDescription"]["AttributeName"], "exp")

        # The request's shape, as DynamoDB's front end checks it.
        cn = self.cn
        self.assertAwsError(
            "ValidationException", cn.update_time_to_live,
            TableName="ttl_err",
            message="1 validation error detected: Value null at "
            "'timeToLiveSpecification' failed to satisfy constraint: "
            "Member must not be null")
        self.assertAwsError(
            "ValidationException", cn.update_time_to_live,
            TableName="ttl_err",
            TimeToLiveSpecification={"AttributeName": "exp"},
            message="1 validation error detected: Value null at "
            "'timeToLiveSpecification.enabled' failed to satisfy "
            "constraint: Member must not be null")
        self.assertAwsError(
            "ValidationException", cn.update_time_to_live,
            TableName="ttl_err", TimeToLiveSpecification={"Enabled": True},
            message="1 validation error detected: Value null at "
            "'timeToLiveSpecification.attributeName' failed to satisfy "
            "constraint: Member must not be null")
        self.assertAwsError(
            "ValidationException", cn.update_time_to_live,
            TableName="ttl_err",
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ""},
            message="1 validation error detected: Value '' at "
            "'timeToLiveSpecification.attributeName' failed to satisfy "
            "constraint: Member must have length greater than or equal "
            "to 1")
        self.assertAwsError(
            "ValidationException", cn.update_time_to_live,
            TableName="ttl_err", TimeToLiveSpecification={
                "Enabled": True, "AttributeName": "a" * 256},
            message_contains="Member must have length less than or equal "
            "to 255")
        self.assertAwsError(
            "ValidationException", cn.update_time_to_live,
            TimeToLiveSpecification=on,
            message_contains="Value null at 'tableName'")
        self.assertAwsError(
            "ValidationException", cn.describe_time_to_live, TableName="x",
            message_contains="Member must have length greater than or "
            "equal to 3")
        # A wrong JSON type is a serialization error.
        st, _, body = self.node.raw(
            "DynamoDB_20120810.UpdateTimeToLive",
            '{"TableName":"ttl_err","TimeToLiveSpecification":'
            '{"Enabled":"yes","AttributeName":"exp"}}')
        self.assertEqual(st, 400)
        self.assertIn("SerializationException", body["__type"])
        # A 255-byte attribute name is fine.
        self.create_table("ttl_long")
        self.c.update_time_to_live(TableName="ttl_long",
                                   TimeToLiveSpecification={
                                       "Enabled": True,
                                       "AttributeName": "a" * 255})

    # ---------------------------------------------------------- expiry

    def test_expired_items_disappear_others_stay(self):
        t = self.ttl_table("ttl_sweep")
        now = int(time.time())
        self.put(t, "stays-future", now + 3600)
        self.put(t, "stays-string", now - 10, kind="S")
        self.put(t, "stays-ancient", now - FIVE_YEARS_S - 86400)
        self.put(t, "stays-negative", -5)
        self.put(t, "stays-none")
        self.put(t, "stays-other-attr", now - 10, attr="other")
        self.put(t, "stays-huge", "1E+30")
        self.put(t, "gone-int", now - 10)
        self.put(t, "gone-fraction", "%d.75" % (now - 10))
        self.put(t, "gone-exponent", "%.9fE+9" % ((now - 10) / 1e9))
        self.put(t, "gone-4-years", now - 4 * 365 * 86400)
        before = self.node.metrics().total("meridian_ttl_deleted_total")
        for pk in ("gone-int", "gone-fraction", "gone-exponent",
                   "gone-4-years"):
            self.wait_gone(t, pk)
        self.sweep_past(t)
        left = sorted(i["pk"]["S"] for i in self.scan_all(t))
        self.assertEqual(left, ["stays-ancient", "stays-future",
                                "stays-huge", "stays-negative",
                                "stays-none", "stays-other-attr",
                                "stays-string"])
        m = self.node.metrics()
        self.assertGreaterEqual(m.total("meridian_ttl_deleted_total") -
                                before, 5)
        self.assertIsNotNone(m.get("meridian_ttl_pending",
                                   region="us-east-1"))
        # DescribeTable counts only what is left.
        d = self.c.describe_table(TableName=t)["Table"]
        self.assertEqual(d["ItemCount"], 7)

    def test_update_into_future_keeps_item(self):
        t = self.ttl_table("ttl_upd")
        soon = int(time.time()) + 6
        self.put(t, "moved", soon, payload={"S": "v1"})
        self.put(t, "removed-attr", soon)
        self.put(t, "to-string", soon)
        self.c.update_item(TableName=t, Key={"pk": {"S": "moved"}},
                           UpdateExpression="SET expires = :e",
                           ExpressionAttributeValues={
                               ":e": {"N": str(soon + 3600)}})
        self.c.update_item(TableName=t, Key={"pk": {"S": "removed-attr"}},
                           UpdateExpression="REMOVE expires")
        self.c.update_item(TableName=t, Key={"pk": {"S": "to-string"}},
                           UpdateExpression="SET expires = :e",
                           ExpressionAttributeValues={":e": {"S": "x"}})
        # An update into the past expires the item instead.
        self.put(t, "moved-back", soon + 3600)
        self.c.update_item(TableName=t, Key={"pk": {"S": "moved-back"}},
                           UpdateExpression="SET expires = :e",
                           ExpressionAttributeValues={
                               ":e": {"N": str(int(time.time()) - 1)}})
        self.wait_gone(t, "moved-back")
        # A sentinel that expires after `soon` has been swept: so has
        # every entry due before it.
        self.put(t, "sentinel", soon)
        self.wait_gone(t, "sentinel", timeout=WAIT_S + 10)
        self.sweep_past(t)
        item = self.get(t, "moved")
        self.assertIsNotNone(item)
        self.assertEqual(item["payload"], {"S": "v1"})
        self.assertIsNotNone(self.get(t, "removed-attr"))
        self.assertIsNotNone(self.get(t, "to-string"))

    def test_enable_on_existing_items(self):
        t = "ttl_existing"
        self.create_table(t)
        now = int(time.time())
        # 3,000 items: the tracking job works through them in chunks.
        items = [{"pk": {"S": "i%05d" % i},
                  "exp": {"N": str(now - 60 if i % 3 == 0 else
                                   now + 3600)}}
                 for i in range(3000)]
        self.batch_put(t, items)
        self.c.update_time_to_live(TableName=t, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "exp"})

        def remaining():
            n = len(self.scan_all(t))
            return n if n == 2000 else False
        wait_for(remaining, 60, "the 1,000 expired items to be deleted")
        left = {i["pk"]["S"] for i in self.scan_all(t)}
        self.assertEqual(left, {"i%05d" % i for i in range(3000)
                                if i % 3 != 0})

    def test_disable_stops_deletes(self):
        t = self.ttl_table("ttl_off", attr="exp")
        self.put(t, "first", int(time.time()) - 5, attr="exp")
        self.wait_gone(t, "first")
        self.c.update_time_to_live(TableName=t, TimeToLiveSpecification={
            "Enabled": False, "AttributeName": "exp"})
        self.put(t, "kept", int(time.time()) - 5, attr="exp")
        # Switched to another attribute: items expire by that one only.
        self.c.update_time_to_live(TableName=t, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "exp2"})
        self.put(t, "by-exp2", int(time.time()) - 5, attr="exp2")
        self.wait_gone(t, "by-exp2")
        self.put(t, "sentinel", int(time.time()) - 2, attr="exp2")
        self.wait_gone(t, "sentinel")
        self.assertIsNotNone(self.get(t, "kept"))

    def test_service_delete_in_change_log(self):
        t = self.ttl_table("ttl_log")
        self.put(t, "svc", int(time.time()) - 5)
        self.put(t, "user", int(time.time()) + 3600)
        self.c.delete_item(TableName=t, Key={"pk": {"S": "user"}})
        self.wait_gone(t, "svc")
        svc = deletes_of(self.node, t, "svc")
        self.assertEqual(len(svc), 1, svc)
        self.assertEqual(svc[0]["flags"], F_SERVICE)
        self.assertEqual(svc[0]["origin"], "us-east-1")
        user = deletes_of(self.node, t, "user")
        self.assertEqual([r["flags"] for r in user], [0])

    def test_dropped_table_and_restart(self):
        t = self.ttl_table("ttl_drop")
        now = int(time.time())
        self.put(t, "a", now + 3)
        self.c.delete_table(TableName=t)
        # A new table of the same name starts without TTL or entries.
        self.create_table(t)
        d = self.c.describe_time_to_live(TableName=t)
        self.assertEqual(d["TimeToLiveDescription"]["TimeToLiveStatus"],
                         "DISABLED")
        self.put(t, "b", now - 5)
        self.c.update_time_to_live(TableName=t, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires"})
        self.wait_gone(t, "b")
        # Tracking survives a restart: an item that expires later is
        # still deleted after it.
        self.put(t, "c", int(time.time()) + 2)
        self.node.restart()
        c = self.node.client()
        type(self).c = c
        type(self).cn = self.node.client(validate=False)
        self.wait_gone(t, "c", client=c)


class TtlClusterTest(ClusterTestCase):
    """Three regions with global tables, a short sweep interval and a
    takeover time of TAKEOVER_S seconds."""
    CLUSTER_NAME = "ttl"
    CLUSTER_SETTINGS = {"ttl_sweep_interval_ms": int(SWEEP_MS),
                        "ttl_takeover_s": TAKEOVER_S}

    def get(self, region, table, pk):
        return self.cl(region).get_item(
            TableName=table, Key={"pk": {"S": pk}},
            ConsistentRead=True).get("Item")

    def global_ttl_table(self, name):
        """A global table with TTL on "expires" in every region: set in
        each region that does not have it yet (a region may already have
        taken the setting from another by replication)."""
        self.create_table(name, client=self.cl(US))
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: self.cl(r).describe_table(
                TableName=name)["Table"]["TableStatus"] == "ACTIVE", WAIT_S,
                "table %s in %s" % (name, r))
        for r in CLUSTER_REGIONS:
            st = self.cl(r).describe_time_to_live(
                TableName=name)["TimeToLiveDescription"]
            if st["TimeToLiveStatus"] == "ENABLED":
                continue
            try:
                self.cl(r).update_time_to_live(
                    TableName=name, TimeToLiveSpecification={
                        "Enabled": True, "AttributeName": "expires"})
            except botocore.exceptions.ClientError as e:
                self.assertIn("already enabled",
                              e.response["Error"]["Message"])
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: self.cl(r).describe_time_to_live(
                TableName=name)["TimeToLiveDescription"] == {
                    "TimeToLiveStatus": "ENABLED",
                    "AttributeName": "expires"}, WAIT_S,
                "TTL enabled in %s" % r)
        return name

    def wait_absent(self, table, pk, regions=CLUSTER_REGIONS,
                    timeout=WAIT_S):
        for r in regions:
            wait_for(lambda r=r: self.get(r, table, pk) is None, timeout,
                     "%s/%s to be gone in %s" % (table, pk, r))

    def test_01_expired_item_leaves_every_region(self):
        t = self.global_ttl_table("ttl_global")
        # A log is truncated once every peer has its records; with
        # ap-northeast-1 down, eu-west-1 and us-east-1 keep theirs.
        ap = self.cluster[AP]
        ap.stop()
        now = int(time.time())
        self.cl(EU).put_item(TableName=t, Item={
            "pk": {"S": "x1"}, "expires": {"N": str(now - 1)}})
        self.cl(EU).put_item(TableName=t, Item={
            "pk": {"S": "keep"}, "expires": {"N": str(now + 3600)}})
        self.wait_absent(t, "x1", regions=(EU, US))
        # The region that wrote the item deleted it, as a service delete;
        # the others applied that delete (replicated, still SERVICE).
        eu = deletes_of(self.cluster[EU], t, "x1")
        self.assertEqual([(d["origin"], d["flags"]) for d in eu],
                         [(EU, F_SERVICE)])
        us = wait_for(lambda: deletes_of(self.cluster[US], t, "x1"),
                      WAIT_S, "the delete in us-east-1's log")
        self.assertEqual([(d["origin"], d["flags"]) for d in us],
                         [(EU, F_SERVICE | F_REPLICATED)])
        ap.start()
        self.wait_absent(t, "x1", regions=(AP,))
        self.cluster.wait_converged(t, items=1)
        for r in CLUSTER_REGIONS:
            self.assertIsNotNone(self.get(r, t, "keep"), r)
        # One delete, so no conflict anywhere.
        for r in CLUSTER_REGIONS:
            c = self.cluster[r].admin_ok("/admin/conflicts",
                                         {"TableName": t})["Conflicts"]
            self.assertEqual(c, [], r)
        m = self.cluster[EU].metrics()
        self.assertGreaterEqual(m.total("meridian_ttl_deleted_total"), 1)

    def test_02_takeover_when_writer_is_down(self):
        t = self.global_ttl_table("ttl_takeover")
        soon = int(time.time()) + 3
        self.cl(AP).put_item(TableName=t, Item={
            "pk": {"S": "orphan"}, "expires": {"N": str(soon)}})
        for r in (US, EU):
            wait_for(lambda r=r: self.get(r, t, "orphan") is not None,
                     WAIT_S, "orphan to reach %s" % r)
        ap = self.cluster[AP]
        ap.stop()
        # US and EU delete it once it has been expired for TAKEOVER_S.
        self.wait_absent(t, "orphan", regions=(US, EU),
                         timeout=WAIT_S + TAKEOVER_S)
        self.assertGreaterEqual(time.time(), soon + TAKEOVER_S)
        local = [d for r in (US, EU)
                 for d in deletes_of(self.cluster[r], t, "orphan")
                 if d["flags"] == F_SERVICE and d["origin"] == r]
        self.assertTrue(local, "no region took the delete over")
        ap.start()
        self.wait_absent(t, "orphan", regions=(AP,))
        self.cluster.wait_converged(t, items=0, timeout=WAIT_S * 2)

    def test_03_setting_replicates_with_index_and_stream(self):
        """TTL enabled in one region reaches the others; an expired item
        leaves every region's table and GSI, and every region's stream
        shows it as a service delete."""
        import boto3
        t = "ttl_all"
        self.cl(US).create_table(
            TableName=t, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
            StreamSpecification={"StreamEnabled": True,
                                 "StreamViewType": "NEW_AND_OLD_IMAGES"})
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: t in self.cl(r).list_tables()["TableNames"],
                     WAIT_S, "table in " + r)
        self.cl(EU).update_time_to_live(TableName=t, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires"})
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: self.cl(r).describe_time_to_live(
                TableName=t)["TimeToLiveDescription"].get(
                "TimeToLiveStatus") == "ENABLED", WAIT_S, "TTL in " + r)
        # Expired, but for less than the takeover time: only the writing
        # region (AP) deletes it.
        past = str(int(time.time()) - 2)
        future = str(int(time.time()) + 3600)
        self.cl(AP).put_item(TableName=t, Item={
            "pk": {"S": "old"}, "g": {"S": "x"}, "expires": {"N": past}})
        self.cl(AP).put_item(TableName=t, Item={
            "pk": {"S": "new"}, "g": {"S": "x"}, "expires": {"N": future}})
        self.wait_absent(t, "old")

        def in_gsi(r):
            return sorted(i["pk"]["S"] for i in self.cl(r).query(
                TableName=t, IndexName="by_g",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": "x"}})["Items"])
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: in_gsi(r) == ["new"], WAIT_S,
                     "GSI without the expired item in " + r)
            node = self.cluster[r]
            sc = boto3.session.Session(
                aws_access_key_id="x", aws_secret_access_key="x",
                region_name=r).client("dynamodbstreams",
                                      endpoint_url=node.endpoint)
            arn = self.cl(r).describe_table(TableName=t)["Table"][
                "LatestStreamArn"]
            shard = sc.describe_stream(StreamArn=arn)["StreamDescription"][
                "Shards"][0]["ShardId"]

            def stream_records():
                it = sc.get_shard_iterator(
                    StreamArn=arn, ShardId=shard,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                recs = []
                for _ in range(20):
                    page = sc.get_records(ShardIterator=it)
                    recs += page["Records"]
                    it = page.get("NextShardIterator")
                    if not page["Records"] or it is None:
                        break
                return recs
            # The put may reach a region after the item was found absent
            # there; the stream shows when both records have arrived.
            seen = []

            def removed():
                seen[:] = stream_records()
                return any(e["eventName"] == "REMOVE" for e in seen)
            wait_for(removed, WAIT_S, "the REMOVE in " + r)
            recs = list(seen)
            per_item = {}
            for e in recs:
                per_item.setdefault(e["dynamodb"]["Keys"]["pk"]["S"],
                                    []).append(e["eventName"])
            self.assertEqual(per_item, {"old": ["INSERT", "REMOVE"],
                                        "new": ["INSERT"]}, r)
            removes = [x for x in recs if x["eventName"] == "REMOVE"]
            self.assertEqual(removes[0]["userIdentity"], {
                "Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
                r)
            self.assertEqual(removes[0]["dynamodb"]["OldImage"]["expires"],
                             {"N": past}, r)
            self.assertEqual({e["awsRegion"] for e in recs}, {AP}, r)
            self.assertEqual(self.get(r, t, "old"), None, r)
            self.assertEqual(in_gsi(r), ["new"], r)
            r_check = node.admin_ok("/admin/index-check", {"TableName": t})
            self.assertEqual((r_check["Missing"], r_check["Extra"]), (0, 0))
