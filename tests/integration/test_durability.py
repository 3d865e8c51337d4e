"""Durability: clean restarts keep everything; kill -9 under a concurrent
write load keeps every acknowledged write (with --durability sync)."""

import os
import random
import sys
import threading
import time

import botocore.exceptions

from harness import NodeTestCase

SEED = int(os.environ.get("MERIDIAN_SEED", random.randrange(1 << 30)))


def create(c, name, keys, **extra):
    if "ProvisionedThroughput" not in extra:
        extra["BillingMode"] = "PAY_PER_REQUEST"
    c.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t}
                              for a, t, _ in keys],
        KeySchema=[{"AttributeName": a, "KeyType": k} for a, _, k in keys],
        **extra)
    c.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})


class DurabilityTest(NodeTestCase):
    START_NODE = False

    def test_sigterm_restart_keeps_everything(self):
        node = self.new_node(durability="nosync", name="restart")
        c = node.client()
        create(c, "d_items", [("pk", "S", "HASH"), ("sk", "N", "RANGE")])
        create(c, "d_meta", [("id", "N", "HASH")],
               ProvisionedThroughput={"ReadCapacityUnits": 4,
                                      "WriteCapacityUnits": 9})
        c.update_table(TableName="d_meta", StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        create(c, "d_gone", [("pk", "S", "HASH")])
        c.delete_table(TableName="d_gone")
        c.get_waiter("table_not_exists").wait(
            TableName="d_gone", WaiterConfig={"Delay": 1, "MaxAttempts": 20})

        expect = {}
        items = []
        for i in range(2000):
            it = {"pk": {"S": "p%02d" % (i % 40)}, "sk": {"N": str(i)},
                  "v": {"S": "value-%d" % i}, "n": {"N": str(i * 3)},
                  "b": {"B": i.to_bytes(2, "big")}}
            items.append(it)
            expect[("p%02d" % (i % 40), str(i))] = it
        # Most through BatchWriteItem, the rest one by one.
        self.batch_put("d_items", items[:1900], client=c)
        for it in items[1900:]:
            c.put_item(TableName="d_items", Item=it)
        # Some updates and deletes that must survive too.
        for i in range(0, 2000, 97):
            k = {"pk": {"S": "p%02d" % (i % 40)}, "sk": {"N": str(i)}}
            c.update_item(TableName="d_items", Key=k,
                          UpdateExpression="SET v = :v",
                          ExpressionAttributeValues={":v": {"S": "upd"}})
            expect[("p%02d" % (i % 40), str(i))]["v"] = {"S": "upd"}
        for i in range(5, 2000, 101):
            k = {"pk": {"S": "p%02d" % (i % 40)}, "sk": {"N": str(i)}}
            c.delete_item(TableName="d_items", Key=k)
            del expect[("p%02d" % (i % 40), str(i))]
        meta_before = c.describe_table(TableName="d_meta")["Table"]

        node.stop()          # asserts exit code 0
        node.start()
        c = node.client()

        got = self.scan_all("d_items", client=c)
        self.assertEqual(len(got), len(expect))
        gotmap = {(it["pk"]["S"], it["sk"]["N"]): it for it in got}
        self.assertEqual(set(gotmap), set(expect))
        for k, it in expect.items():
            self.assertEqual(gotmap[k], it, k)
        # Point reads and queries see the same data.
        self.assertEqual(c.get_item(TableName="d_items", Key={
            "pk": {"S": "p07"}, "sk": {"N": "7"}})["Item"],
            expect[("p07", "7")])
        q = c.query(TableName="d_items", KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "p13"}})
        self.assertEqual([it["sk"]["N"] for it in q["Items"]],
                         sorted((k[1] for k in expect if k[0] == "p13"),
                                key=int))
        # Table metadata survives.
        names = c.list_tables()["TableNames"]
        self.assertEqual(names, ["d_items", "d_meta"])
        meta = c.describe_table(TableName="d_meta")["Table"]
        for f in ("TableArn", "KeySchema", "AttributeDefinitions",
                  "CreationDateTime", "StreamSpecification"):
            self.assertEqual(meta.get(f), meta_before.get(f), f)
        self.assertEqual(meta["ProvisionedThroughput"]["ReadCapacityUnits"],
                         4)
        self.assertEqual(meta["ProvisionedThroughput"]["WriteCapacityUnits"],
                         9)
        self.assertEqual(c.describe_table(TableName="d_items")["Table"]
                         ["ItemCount"], len(expect))
        # And it keeps working after the restart.
        c.put_item(TableName="d_items", Item={"pk": {"S": "after"},
                                              "sk": {"N": "1"}})
        node.stop()

    def load_until_kill(self, node, nthreads, min_acks, run_s, tag):
        """Runs nthreads writers against node, kill -9s it while they are
        writing, and returns (acked {key: value}, counter_acked,
        counter_sent)."""
        acked = {}
        lock = threading.Lock()
        stop = threading.Event()
        counter = {"acked": -1, "sent": -1}
        errors = []

        def writer(tid):
            c = node.client(fresh=True)
            rng = random.Random(SEED * 100 + tid)
            n = 0
            while not stop.is_set():
                key = "%s-t%d-%06d" % (tag, tid, n)
                val = "v%d-%d" % (n, rng.randrange(1 << 30))
                try:
                    if tid == 0:
                        # Thread 0 also bumps one hot counter item.
                        counter["sent"] = n
                        c.put_item(TableName="d_kill", Item={
                            "pk": {"S": tag + "-counter"},
                            "v": {"N": str(n)}})
                        counter["acked"] = n
                    c.put_item(TableName="d_kill", Item={
                        "pk": {"S": key}, "v": {"S": val},
                        "pad": {"S": "x" * rng.randrange(0, 2000)}})
                except (botocore.exceptions.ClientError,
                        botocore.exceptions.BotoCoreError, OSError) as e:
                    if not stop.is_set():
                        errors.append(repr(e))
                    return
                with lock:
                    acked[key] = val
                n += 1

        threads = [threading.Thread(target=writer, args=(t,), daemon=True)
                   for t in range(nthreads)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            with lock:
                enough = len(acked) >= min_acks
            if enough and time.monotonic() - t0 >= run_s:
                break
            if errors:
                break
            time.sleep(0.02)
        # Kill while the writers are still sending.
        stop.set()
        node.kill9()
        for t in threads:
            t.join(timeout=30)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(errors, [], "writes failed before the kill")
        self.assertGreaterEqual(len(acked), min_acks)
        sys.stderr.write("[kill -9 %s: %d acknowledged writes in %.1f s]\n"
                         % (tag, len(acked), time.monotonic() - t0))
        return dict(acked), counter["acked"], counter["sent"]

    def verify(self, c, acked, tag, counter_acked, counter_sent):
        keys = list(acked)
        missing = []
        wrong = []
        for i in range(0, len(keys), 100):
            chunk = keys[i:i + 100]
            req = {"d_kill": {"Keys": [{"pk": {"S": k}} for k in chunk],
                              "ConsistentRead": True}}
            found = {}
            for _ in range(10):
                resp = c.batch_get_item(RequestItems=req)
                for it in resp["Responses"].get("d_kill", []):
                    found[it["pk"]["S"]] = it["v"]["S"]
                req = resp.get("UnprocessedKeys") or {}
                if not req:
                    break
            for k in chunk:
                if k not in found:
                    missing.append(k)
                elif found[k] != acked[k]:
                    wrong.append((k, found[k], acked[k]))
        self.assertEqual(missing[:10], [], "%d acknowledged writes lost"
                         % len(missing))
        self.assertEqual(wrong[:10], [])
        if counter_acked >= 0:
            it = c.get_item(TableName="d_kill",
                            Key={"pk": {"S": tag + "-counter"}},
                            ConsistentRead=True).get("Item")
            self.assertIsNotNone(it)
            v = int(it["v"]["N"])
            self.assertGreaterEqual(v, counter_acked)
            self.assertLessEqual(v, counter_sent)

    def test_kill9_under_load_keeps_acknowledged_writes(self):
        sys.stderr.write("[kill -9 test seed=%d (MERIDIAN_SEED to replay)]\n"
                         % SEED)
        node = self.new_node(durability="sync", name="kill9")
        c = node.client()
        create(c, "d_kill", [("pk", "S", "HASH")])

        acked1, ca1, cs1 = self.load_until_kill(node, 4, 100, 1.5, "r1")
        node.start()
        c = node.client()
        self.verify(c, acked1, "r1", ca1, cs1)

        # Second round on the recovered environment, then check both.
        acked2, ca2, cs2 = self.load_until_kill(node, 4, 100, 1.0, "r2")
        node.start()
        c = node.client()
        self.verify(c, acked1, "r1", ca1, cs1)
        self.verify(c, acked2, "r2", ca2, cs2)
        # Nothing invented: every item is one we sent.
        items = self.scan_all("d_kill", client=c)
        for it in items:
            pk = it["pk"]["S"]
            self.assertTrue(pk.startswith(("r1-", "r2-")), pk)
        self.assertEqual(c.describe_table(TableName="d_kill")["Table"]
                         ["TableStatus"], "ACTIVE")
        node.stop()

    def test_kill9_right_after_create(self):
        node = self.new_node(durability="sync", name="kill9-create")
        c = node.client()
        create(c, "d_fresh", [("pk", "N", "HASH")])
        c.put_item(TableName="d_fresh", Item={"pk": {"N": "1"},
                                              "v": {"S": "one"}})
        node.kill9()
        node.start()
        c = node.client()
        self.assertEqual(c.describe_table(TableName="d_fresh")["Table"]
                         ["TableStatus"], "ACTIVE")
        self.assertEqual(c.get_item(TableName="d_fresh",
                                    Key={"pk": {"N": "1"}})["Item"],
                         {"pk": {"N": "1"}, "v": {"S": "one"}})
        c.delete_table(TableName="d_fresh")
        node.kill9()
        node.start()
        c = node.client()
        self.assertAwsError("ResourceNotFoundException", c.describe_table,
                            TableName="d_fresh")
        node.stop()
