"""DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator and
GetRecords through boto3's `dynamodbstreams` client and the AWS CLI's
`aws dynamodbstreams`.

StreamsClusterTest runs a three-region cluster with global tables and reads
every replica's stream; StreamsNodeTest covers one node: stream lifecycle
(disable, drop, re-create), iterator types, paging limits, retention
(TrimmedDataAccessException), iterator expiry and bad input.
"""

import json
import subprocess
import time

import boto3
import botocore.exceptions

from harness import (AWS_CLI, CLUSTER_REGIONS, DUMMY_KEY, DUMMY_SECRET,
                     REGION, Cluster, ClusterTestCase, NodeTestCase,
                     wait_for)

US, EU, AP = CLUSTER_REGIONS
WAIT_S = 30.0
VIEWS = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY")


def streams_client(node, validate=True):
    """A boto3 DynamoDB Streams client for node (retries disabled)."""
    session = boto3.session.Session(aws_access_key_id=DUMMY_KEY,
                                    aws_secret_access_key=DUMMY_SECRET,
                                    region_name=REGION)
    return session.client("dynamodbstreams", endpoint_url=node.endpoint,
                          config=node.config(validate))


def aws_streams(node, *args):
    """Runs `aws dynamodbstreams ARGS` against node; returns (rc, parsed
    stdout or None, stderr)."""
    cmd = [AWS_CLI, "dynamodbstreams"] + [str(a) for a in args] + [
        "--endpoint-url", node.endpoint, "--output", "json"]
    p = subprocess.run(cmd, env=node.aws_env(), capture_output=True,
                       text=True, timeout=60, cwd=node.root)
    out = p.stdout.strip()
    return p.returncode, (json.loads(out) if out and p.returncode == 0
                          else None), p.stderr


def shard_of(sc, arn):
    shards = sc.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1, shards
    return shards[0]


def iterator(sc, arn, kind="TRIM_HORIZON", seq=None):
    kw = {"StreamArn": arn, "ShardId": shard_of(sc, arn)["ShardId"],
          "ShardIteratorType": kind}
    if seq is not None:
        kw["SequenceNumber"] = seq
    return sc.get_shard_iterator(**kw)["ShardIterator"]


def drain(sc, it, limit=None, max_calls=10000):
    """Reads from iterator it until a call returns no records (or the shard
    ends); returns (records, next iterator or None)."""
    recs = []
    for _ in range(max_calls):
        kw = {"ShardIterator": it}
        if limit is not None:
            kw["Limit"] = limit
        r = sc.get_records(**kw)
        recs.extend(r["Records"])
        it = r.get("NextShardIterator")
        if it is None or not r["Records"]:
            return recs, it
    raise AssertionError("the stream did not end within %d calls"
                         % max_calls)


def read_until(sc, arn, want, timeout=WAIT_S):
    """Reads the stream from TRIM_HORIZON until want records have come,
    then on until the stream has nothing more; returns every record."""
    recs = []
    it = iterator(sc, arn)
    deadline = time.monotonic() + timeout
    while True:
        got, nxt = drain(sc, it)
        recs.extend(got)
        if nxt is None or len(recs) >= want:
            break
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d records after %.0f s"
                                 % (len(recs), want, timeout))
        it = nxt
        time.sleep(0.1)
    if nxt is not None:
        more, _ = drain(sc, nxt)
        recs.extend(more)
    return recs


def expect_images(view, event, old, new):
    """The images a record of this event shows for this view type."""
    out = {}
    if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event != "REMOVE":
        out["NewImage"] = new
    if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event != "INSERT":
        out["OldImage"] = old
    return out


class StreamsTestBase(NodeTestCase):

    def assertStreamError(self, code, fn, message_contains=None, **kw):
        return self.assertAwsError(code, fn, message_contains=message_contains,
                                   **kw)

    def check_records(self, recs, expected, view, region):
        """recs: what region's stream returned; expected: {pk: [(event,
        origin, old, new)]} in per-item order."""
        seqs = [r["dynamodb"]["SequenceNumber"] for r in recs]
        self.assertEqual(seqs, sorted(seqs), region)
        self.assertEqual(len(set(seqs)), len(seqs), region)
        ids = [r["eventID"] for r in recs]
        self.assertEqual(len(set(ids)), len(ids), region)
        per = {}
        for r in recs:
            d = r["dynamodb"]
            self.assertEqual(r["eventVersion"], "1.1")
            self.assertEqual(r["eventSource"], "aws:dynamodb")
            self.assertEqual(d["StreamViewType"], view)
            self.assertEqual(len(d["SequenceNumber"]), 21)
            self.assertGreater(d["SizeBytes"], 0)
            self.assertNotIn("userIdentity", r)
            pk = d["Keys"]["pk"]["S"]
            self.assertEqual(d["Keys"], {"pk": {"S": pk}})
            images = {k: d[k] for k in ("NewImage", "OldImage") if k in d}
            per.setdefault(pk, []).append(
                (r["eventName"], r["awsRegion"], images))
        want = {pk: [(ev, origin, expect_images(view, ev, old, new))
                     for ev, origin, old, new in evs]
                for pk, evs in expected.items()}
        self.assertEqual(sorted(per), sorted(want), region)
        for pk in want:
            self.assertEqual(per[pk], want[pk], "%s %s %s" % (region, view,
                                                               pk))
        self.assertEqual(len(recs), sum(len(v) for v in want.values()))


class StreamsClusterTest(StreamsTestBase, ClusterTestCase):
    CLUSTER_NAME = "streams"

    def sc(self, region, validate=True):
        return streams_client(self.cluster[region], validate)

    def make_table(self, region, name, view):
        self.create_table(name, client=self.cl(region),
                          StreamSpecification={"StreamEnabled": True,
                                               "StreamViewType": view})
        arns = {}
        for r in CLUSTER_REGIONS:
            d = wait_for(lambda r=r: self.cl(r).describe_table(
                TableName=name)["Table"], WAIT_S,
                "table %s to appear in %s" % (name, r))
            arns[r] = d["LatestStreamArn"]
        return arns

    def test_01_every_replica_sees_every_write_once(self):
        """Writes from all three regions reach each replica's stream exactly
        once, in per-item order, with the images of every view type."""
        tables = {view: "st_all_" + view.lower() for view in VIEWS}
        arns = {view: self.make_table(US, t, view)
                for view, t in tables.items()}
        label = arns[VIEWS[0]][US].rsplit("/", 1)[1]
        for r in CLUSTER_REGIONS:
            arn = arns[VIEWS[0]][r]
            self.assertEqual(arn, "arn:aws:dynamodb:%s:000000000000:table/"
                             "%s/stream/%s" % (r, tables[VIEWS[0]], label))

        regions = list(CLUSTER_REGIONS)
        nkeys = 4
        expected = {}
        items = {}
        # Phase 1: every region inserts its own keys.
        for i, r in enumerate(regions):
            for k in range(nkeys):
                pk = "%s-%d" % (r, k)
                item = {"pk": {"S": pk}, "v": {"N": str(k)},
                        "by": {"S": r}}
                for t in tables.values():
                    self.cl(r).put_item(TableName=t, Item=item)
                expected[pk] = [("INSERT", r, None, item)]
                items[pk] = item
        for t in tables.values():
            self.cluster.wait_converged(t, items=len(items), timeout=WAIT_S)
        # Phase 2: the next region modifies each key.
        for i, r in enumerate(regions):
            nxt = regions[(i + 1) % 3]
            for k in range(nkeys):
                pk = "%s-%d" % (r, k)
                new = dict(items[pk], v={"N": str(100 + k)},
                           by={"S": nxt})
                for t in tables.values():
                    self.cl(nxt).update_item(
                        TableName=t, Key={"pk": {"S": pk}},
                        UpdateExpression="SET v = :v, #b = :b",
                        ExpressionAttributeNames={"#b": "by"},
                        ExpressionAttributeValues={":v": new["v"],
                                                   ":b": new["by"]})
                expected[pk].append(("MODIFY", nxt, items[pk], new))
                items[pk] = new
        for t in tables.values():
            self.cluster.wait_converged(t, items=len(items), timeout=WAIT_S)
        # Phase 3: the third region deletes half of them; deleting a key
        # that is not there changes nothing and shows in no stream.
        for i, r in enumerate(regions):
            third = regions[(i + 2) % 3]
            for k in range(0, nkeys, 2):
                pk = "%s-%d" % (r, k)
                for t in tables.values():
                    self.cl(third).delete_item(TableName=t,
                                               Key={"pk": {"S": pk}})
                    self.cl(third).delete_item(
                        TableName=t, Key={"pk": {"S": "never-" + pk}})
                expected[pk].append(("REMOVE", third, items.pop(pk), None))
        for t in tables.values():
            self.cluster.wait_converged(t, items=len(items), timeout=WAIT_S)

        want = sum(len(v) for v in expected.values())
        for view in VIEWS:
            for r in CLUSTER_REGIONS:
                sc = self.sc(r)
                listed = sc.list_streams(TableName=tables[view])["Streams"]
                self.assertEqual([s["StreamArn"] for s in listed],
                                 [arns[view][r]])
                desc = sc.describe_stream(StreamArn=arns[view][r])[
                    "StreamDescription"]
                self.assertEqual(desc["StreamStatus"], "ENABLED")
                self.assertEqual(desc["StreamViewType"], view)
                self.assertEqual(desc["TableName"], tables[view])
                self.assertEqual(desc["KeySchema"],
                                 [{"AttributeName": "pk", "KeyType": "HASH"}])
                self.assertNotIn("EndingSequenceNumber",
                                 desc["Shards"][0]["SequenceNumberRange"])
                recs = read_until(sc, arns[view][r], want)
                self.check_records(recs, expected, view, r)
                # Records written elsewhere carry their origin region,
                # which differs from the region in the stream's ARN.
                own = [x for x in recs if x["awsRegion"] == r]
                self.assertEqual(len(own), want // 3, r)

    def test_02_iterator_types_and_cli(self):
        t = "st_iter"
        arns = self.make_table(EU, t, "NEW_IMAGE")
        for i in range(6):
            region = CLUSTER_REGIONS[i % 3]
            self.cl(region).put_item(TableName=t, Item={
                "pk": {"S": "k%d" % i}, "n": {"N": str(i)}})
        self.cluster.wait_converged(t, items=6, timeout=WAIT_S)
        sc = self.sc(AP)
        arn = arns[AP]
        recs = read_until(sc, arn, 6)
        self.assertEqual(len(recs), 6)
        seqs = [r["dynamodb"]["SequenceNumber"] for r in recs]

        # AT and AFTER a sequence number.
        got, _ = drain(sc, iterator(sc, arn, "AT_SEQUENCE_NUMBER", seqs[2]))
        self.assertEqual([r["dynamodb"]["SequenceNumber"] for r in got],
                         seqs[2:])
        got, _ = drain(sc, iterator(sc, arn, "AFTER_SEQUENCE_NUMBER",
                                    seqs[2]))
        self.assertEqual([r["dynamodb"]["SequenceNumber"] for r in got],
                         seqs[3:])
        got, _ = drain(sc, iterator(sc, arn, "AFTER_SEQUENCE_NUMBER",
                                    seqs[-1]))
        self.assertEqual(got, [])

        # LATEST sees only what comes after it, from any region.
        it = iterator(sc, arn, "LATEST")
        r = sc.get_records(ShardIterator=it)
        self.assertEqual(r["Records"], [])
        it = r["NextShardIterator"]
        self.cl(US).put_item(TableName=t, Item={"pk": {"S": "late"},
                                                "n": {"N": "99"}})
        seen = []

        def arrived():
            nonlocal it
            r = sc.get_records(ShardIterator=it)
            seen.extend(r["Records"])
            it = r["NextShardIterator"]
            return seen
        wait_for(arrived, WAIT_S, "the late write in %s's stream" % AP)
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0]["eventName"], "INSERT")
        self.assertEqual(seen[0]["awsRegion"], US)
        self.assertEqual(seen[0]["dynamodb"]["NewImage"],
                         {"pk": {"S": "late"}, "n": {"N": "99"}})

        # The same stream through the AWS CLI.
        node = self.cluster[AP]
        rc, out, err = aws_streams(node, "list-streams", "--table-name", t)
        self.assertEqual(rc, 0, err)
        self.assertEqual([s["StreamArn"] for s in out["Streams"]], [arn])
        rc, out, err = aws_streams(node, "describe-stream", "--stream-arn",
                                   arn)
        self.assertEqual(rc, 0, err)
        shard = out["StreamDescription"]["Shards"][0]["ShardId"]
        rc, out, err = aws_streams(node, "get-shard-iterator",
                                   "--stream-arn", arn, "--shard-id", shard,
                                   "--shard-iterator-type", "TRIM_HORIZON")
        self.assertEqual(rc, 0, err)
        rc, out, err = aws_streams(node, "get-records", "--shard-iterator",
                                   out["ShardIterator"], "--limit", "100")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["Records"]), 7)
        self.assertEqual(sorted(r["awsRegion"] for r in out["Records"]),
                         sorted([US, EU, AP, US, EU, AP, US]))
        self.assertIn("NextShardIterator", out)
        rc, _, err = aws_streams(node, "get-records", "--shard-iterator",
                                 "bogus")
        self.assertNotEqual(rc, 0)
        self.assertIn("ValidationException", err)

    def test_03_metrics_count_streams_operations(self):
        sc = self.sc(US)
        sc.list_streams()
        m = self.cluster[US].metrics()
        self.assertGreaterEqual(m.total("meridian_requests_total",
                                        operation="ListStreams"), 1)


    def test_04_update_table_enables_the_stream_everywhere(self):
        # Settings replicate: a stream enabled by UpdateTable in one
        # region opens in every region, and each region's stream then
        # carries writes made in any region.
        t = "st_upd"
        self.create_table(t, client=self.cl(EU))
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: t in self.cl(r).list_tables()["TableNames"],
                     WAIT_S, "table in " + r)
        self.cl(EU).put_item(TableName=t, Item={"pk": {"S": "before"}})
        self.cl(EU).update_table(TableName=t, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        arns = {}
        for r in CLUSTER_REGIONS:
            d = wait_for(lambda r=r: self.cl(r).describe_table(
                TableName=t)["Table"].get("StreamSpecification", {}).get(
                "StreamEnabled") and self.cl(r).describe_table(
                TableName=t)["Table"], WAIT_S, "stream enabled in " + r)
            self.assertEqual(d["StreamSpecification"]["StreamViewType"],
                             "NEW_IMAGE", r)
            arns[r] = d["LatestStreamArn"]
            self.assertIn(":%s:" % r, arns[r])
        for i, r in enumerate(CLUSTER_REGIONS):
            self.cl(r).put_item(TableName=t, Item={"pk": {"S": "k%d" % i}})
        for r in CLUSTER_REGIONS:
            recs = read_until(self.sc(r), arns[r], 3)
            keys = sorted(x["dynamodb"]["Keys"]["pk"]["S"] for x in recs)
            self.assertEqual(keys, ["k0", "k1", "k2"], r)
            origins = {x["dynamodb"]["Keys"]["pk"]["S"]: x["awsRegion"]
                       for x in recs}
            self.assertEqual(origins, {"k%d" % i: reg for i, reg in
                                       enumerate(CLUSTER_REGIONS)}, r)


class StreamsNodeTest(StreamsTestBase):

    def sc(self, validate=True):
        return streams_client(self.node, validate)

    def stream_table(self, name, view="NEW_AND_OLD_IMAGES", client=None,
                     **kw):
        self.create_table(name, client=client,
                          StreamSpecification={"StreamEnabled": True,
                                               "StreamViewType": view},
                          **kw)
        d = (client or self.c).describe_table(TableName=name)["Table"]
        return d["LatestStreamArn"]

    def test_disabled_stream_stays_readable(self):
        t = "st_disable"
        arn = self.stream_table(t)
        for i in range(3):
            self.c.put_item(TableName=t, Item={"pk": {"S": "a%d" % i}})
        self.c.update_table(TableName=t, StreamSpecification={
            "StreamEnabled": False})
        self.c.put_item(TableName=t, Item={"pk": {"S": "after"}})
        desc = self.sc().describe_stream(StreamArn=arn)["StreamDescription"]
        self.assertEqual(desc["StreamStatus"], "DISABLED")
        rng = desc["Shards"][0]["SequenceNumberRange"]
        self.assertIn("EndingSequenceNumber", rng)
        self.assertLessEqual(rng["StartingSequenceNumber"],
                             rng["EndingSequenceNumber"])
        # Read to its end: three records, then no next iterator.
        recs, nxt = drain(self.sc(), iterator(self.sc(), arn))
        if nxt is not None:
            more, nxt = drain(self.sc(), nxt)
            recs += more
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in recs],
                         ["a0", "a1", "a2"])
        self.assertIsNone(nxt)
        self.assertEqual(recs[-1]["dynamodb"]["SequenceNumber"],
                         rng["EndingSequenceNumber"])
        r = self.sc().get_records(ShardIterator=iterator(self.sc(), arn,
                                                         "LATEST"))
        self.assertEqual(r["Records"], [])
        self.assertNotIn("NextShardIterator", r)

        # Enabling again makes a new stream; both are listed.
        self.c.update_table(TableName=t, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        arn2 = self.c.describe_table(TableName=t)["Table"]["LatestStreamArn"]
        self.assertNotEqual(arn, arn2)
        listed = [s["StreamArn"] for s in
                  self.sc().list_streams(TableName=t)["Streams"]]
        self.assertEqual(sorted(listed), sorted([arn, arn2]))
        self.c.put_item(TableName=t, Item={"pk": {"S": "b0"}})
        recs, _ = drain(self.sc(), iterator(self.sc(), arn2))
        self.assertEqual([(r["eventName"], r["dynamodb"]["Keys"])
                          for r in recs], [("INSERT", {"pk": {"S": "b0"}})])
        self.assertNotIn("NewImage", recs[0]["dynamodb"])

    def test_dropped_table_stream(self):
        t = "st_drop"
        arn = self.stream_table(t)
        self.c.put_item(TableName=t, Item={"pk": {"S": "old"}})
        self.c.delete_table(TableName=t)
        desc = self.sc().describe_stream(StreamArn=arn)["StreamDescription"]
        self.assertEqual(desc["StreamStatus"], "DISABLED")
        self.assertIn("EndingSequenceNumber",
                      desc["Shards"][0]["SequenceNumberRange"])
        # A table of the same name is another stream.
        arn2 = self.stream_table(t, "NEW_IMAGE")
        self.assertNotEqual(arn, arn2)
        self.c.put_item(TableName=t, Item={"pk": {"S": "new"}})
        old, _ = drain(self.sc(), iterator(self.sc(), arn))
        new, _ = drain(self.sc(), iterator(self.sc(), arn2))
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in old],
                         ["old"])
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in new],
                         ["new"])

    def test_paging_limits(self):
        t = "st_pages"
        arn = self.stream_table(t, "NEW_IMAGE")
        self.batch_put(t, [{"pk": {"S": "k%02d" % i}} for i in range(30)])
        it = iterator(self.sc(), arn)
        keys, sizes = [], []
        for _ in range(20):
            r = self.sc().get_records(ShardIterator=it, Limit=7)
            self.assertLessEqual(len(r["Records"]), 7)
            sizes.append(len(r["Records"]))
            keys += [x["dynamodb"]["Keys"]["pk"]["S"] for x in r["Records"]]
            it = r["NextShardIterator"]
            if not r["Records"]:
                break
        self.assertEqual(sorted(keys), ["k%02d" % i for i in range(30)])
        self.assertEqual(sizes[:4], [7, 7, 7, 7])

        # Big records: one call answers about 1 MB at most.
        t = "st_big"
        arn = self.stream_table(t, "NEW_IMAGE")
        blob = "x" * (300 * 1024)
        for i in range(6):
            self.c.put_item(TableName=t, Item={"pk": {"S": "b%d" % i},
                                               "blob": {"S": blob}})
        r = self.sc().get_records(ShardIterator=iterator(self.sc(), arn))
        self.assertGreaterEqual(len(r["Records"]), 1)
        self.assertLessEqual(len(r["Records"]), 3)
        rest, _ = drain(self.sc(), r["NextShardIterator"])
        self.assertEqual(len(r["Records"]) + len(rest), 6)

    def test_scan_is_bounded(self):
        """A reader behind a long run of another table's records gets an
        answer per call (maybe empty) and an iterator past what it read."""
        t, other = "st_sparse", "st_noise"
        arn = self.stream_table(t, "KEYS_ONLY")
        self.create_table(other)
        self.c.put_item(TableName=t, Item={"pk": {"S": "first"}})
        self.batch_put(other, [{"pk": {"S": "n%05d" % i}}
                               for i in range(10100)])
        self.c.put_item(TableName=t, Item={"pk": {"S": "last"}})
        r = self.sc().get_records(ShardIterator=iterator(self.sc(), arn))
        self.assertEqual([x["dynamodb"]["Keys"]["pk"]["S"]
                          for x in r["Records"]], ["first"])
        keys, calls = [], 0
        it = r["NextShardIterator"]
        while "last" not in keys and calls < 10:
            r = self.sc().get_records(ShardIterator=it)
            keys += [x["dynamodb"]["Keys"]["pk"]["S"] for x in r["Records"]]
            it = r["NextShardIterator"]
            calls += 1
        self.assertEqual(keys, ["last"])

    def test_bad_input(self):
        t = "st_bad"
        arn = self.stream_table(t)
        sc, scn = self.sc(), self.sc(validate=False)
        shard = shard_of(sc, arn)["ShardId"]
        for bad in ("arn:aws:dynamodb:us-east-1:000000000000:table/x",
                    "arn:aws:dynamodb:us-east-1:000000000000:table/st_bad/"
                    "nostream/1"):
            self.assertStreamError("ValidationException", sc.describe_stream,
                                   StreamArn=bad)
        self.assertStreamError("ValidationException", scn.describe_stream,
                               StreamArn="arn:short",
                               message_contains="length")
        unknown = arn.rsplit("/", 1)[0] + "/2000-01-01T00:00:00.000"
        self.assertStreamError("ResourceNotFoundException",
                               sc.describe_stream, StreamArn=unknown)
        self.assertStreamError("ResourceNotFoundException",
                               sc.describe_stream,
                               StreamArn=arn.replace("us-east-1",
                                                     "eu-west-1"))
        self.assertStreamError("ResourceNotFoundException",
                               sc.get_shard_iterator, StreamArn=unknown,
                               ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")
        self.assertStreamError("ResourceNotFoundException",
                               sc.list_streams, TableName="st_missing")
        self.assertStreamError("ResourceNotFoundException",
                               sc.get_shard_iterator, StreamArn=arn,
                               ShardId="shardId-00000000000000000001-"
                               "00000000",
                               ShardIteratorType="TRIM_HORIZON")
        self.assertStreamError("ValidationException", scn.get_shard_iterator,
                               StreamArn=arn, ShardId=shard,
                               ShardIteratorType="AT_SEQUENCE_NUMBER",
                               message_contains="SequenceNumber")
        self.assertStreamError("ValidationException", scn.get_shard_iterator,
                               StreamArn=arn, ShardId=shard,
                               ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                               message_contains="SequenceNumber")
        self.assertStreamError("ValidationException", scn.get_shard_iterator,
                               StreamArn=arn, ShardId=shard,
                               ShardIteratorType="SOMEWHERE",
                               message_contains="enum value set")
        self.assertStreamError("ValidationException", scn.get_shard_iterator,
                               StreamArn=arn, ShardId=shard,
                               ShardIteratorType="AT_SEQUENCE_NUMBER",
                               SequenceNumber="12x45678901234567890123")
        self.assertStreamError("ValidationException", scn.get_shard_iterator,
                               StreamArn=arn, ShardId=shard,
                               ShardIteratorType="AT_SEQUENCE_NUMBER",
                               SequenceNumber="001" + "0" * 18,
                               message_contains="range")
        it = iterator(sc, arn)
        for limit, bound in ((0, "greater than or equal to 1"),
                             (1001, "less than or equal to 1000")):
            self.assertStreamError("ValidationException", scn.get_records,
                                   ShardIterator=it, Limit=limit,
                                   message_contains=bound)
        for bad in ("bogus", it[:-4] + ("AAAA" if it[-4:] != "AAAA"
                                       else "BBBB"), "A" * 2048):
            self.assertStreamError("ValidationException", sc.get_records,
                                   ShardIterator=bad,
                                   message_contains="ShardIterator")
        self.assertStreamError("ValidationException", scn.get_records,
                               ShardIterator="A" * 2049,
                               message_contains="length")
        # Raw requests: missing members, wrong types, wrong targets.
        st, _, body = self.node.raw("DynamoDBStreams_20120810.GetRecords",
                                    "{}")
        self.assertEqual(st, 400)
        self.assertIn("ValidationException", body["__type"])
        st, _, body = self.node.raw("DynamoDBStreams_20120810.GetRecords",
                                    json.dumps({"ShardIterator": 5}))
        self.assertEqual(st, 400)
        self.assertIn("SerializationException", body["__type"])
        st, _, body = self.node.raw("DynamoDBStreams_20120810.PutItem", "{}")
        self.assertEqual(st, 400)
        self.assertIn("UnknownOperationException", body["__type"])
        st, _, body = self.node.raw("DynamoDB_20120810.ListStreams", "{}")
        self.assertEqual(st, 400)
        self.assertIn("UnknownOperationException", body["__type"])
        # Listing pages.
        arns = [arn] + [self.stream_table("st_bad%d" % i, "KEYS_ONLY")
                        for i in range(3)]
        seen, kw = [], {"Limit": 2}
        for _ in range(10):
            out = sc.list_streams(**kw)
            self.assertLessEqual(len(out["Streams"]), 2)
            seen += [s["StreamArn"] for s in out["Streams"]]
            if "LastEvaluatedStreamArn" not in out:
                break
            kw["ExclusiveStartStreamArn"] = out["LastEvaluatedStreamArn"]
        for a in arns:
            self.assertEqual(seen.count(a), 1, a)

    def test_iterator_expires(self):
        node = self.new_node(extra_args=["--stream-iterator-ttl-s", "1"])
        c, sc = node.client(), streams_client(node)
        self.create_table("st_exp", client=c, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        arn = c.describe_table(TableName="st_exp")["Table"]["LatestStreamArn"]
        it = iterator(sc, arn)

        def expired():
            try:
                sc.get_records(ShardIterator=it)
            except botocore.exceptions.ClientError as e:
                return e.response
            return None
        err = wait_for(expired, WAIT_S, "the iterator to expire")
        self.assertEqual(err["Error"]["Code"], "ExpiredIteratorException")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertRegex(err["Error"]["Message"],
                         r"^Iterator expired\. The iterator was created at "
                         r"time \w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4} "
                         r"while right now it is .* tolerated delay of 1000 "
                         r"milliseconds\.$")

    def test_trimmed_records(self):
        node = self.new_node(extra_args=["--stream-retention-s", "1"])
        self.check_trimming(node)

    def test_trimmed_records_with_replicator(self):
        """The same on a node whose replicator (with no peers) truncates
        the log."""
        cluster = Cluster(regions=(REGION,), name="trim",
                          settings={"stream_retention_s": 1})
        self.addCleanup(cluster.close)
        cluster.start()
        self.check_trimming(cluster[REGION])

    def check_trimming(self, node):
        c, sc = node.client(), streams_client(node)
        self.create_table("st_trim", client=c, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        arn = c.describe_table(TableName="st_trim")["Table"][
            "LatestStreamArn"]
        for i in range(5):
            c.put_item(TableName="st_trim", Item={"pk": {"S": "t%d" % i}})
        it = iterator(sc, arn)
        start = shard_of(sc, arn)["SequenceNumberRange"][
            "StartingSequenceNumber"]

        def trimmed():
            try:
                sc.get_shard_iterator(StreamArn=arn,
                                      ShardId=shard_of(sc, arn)["ShardId"],
                                      ShardIteratorType="AT_SEQUENCE_NUMBER",
                                      SequenceNumber=start)
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"]
            return None
        self.assertEqual(wait_for(trimmed, WAIT_S, "records to be trimmed"),
                         "TrimmedDataAccessException")
        self.assertAwsError("TrimmedDataAccessException", sc.get_records,
                            ShardIterator=it)
        # TRIM_HORIZON starts after what is gone (nothing is written
        # afterwards, so nothing newer can be trimmed under it).
        r = sc.get_records(ShardIterator=iterator(sc, arn))
        self.assertEqual(r["Records"], [])
        self.assertIn("NextShardIterator", r)
        # The stream itself stays.
        self.assertEqual(sc.describe_stream(StreamArn=arn)[
            "StreamDescription"]["StreamStatus"], "ENABLED")
