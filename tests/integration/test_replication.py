"""Multi-region replication: real region-node processes forming a
three-region cluster (us-east-1, eu-west-1, ap-northeast-1) from a generated
cluster config with global tables on.

The whole class shares one cluster; every test uses its own tables and
leaves every region running (setUp restarts any region an earlier failure
left down), so the tests do not depend on each other's order.

Randomized parts (the crash test's victim and write mix, the conflicting
load) print their seed; set MERIDIAN_SEED to replay one.
"""

import json
import os
import random
import signal
import sys
import threading
import time

import botocore.exceptions

from harness import (Cluster, ClusterTestCase, NodeTestCase, wait_for,
                     CLUSTER_REGIONS)

US, EU, AP = CLUSTER_REGIONS
WAIT_S = 30.0
# A local write must never wait for a peer: a pull to a dead or frozen peer
# times out after repl_wait_ms + 2 s = 3 s, so this bound tells the two
# apart even on a slow machine.
WRITE_MAX_S = 2.5


def seed_for(name):
    env = os.environ.get("MERIDIAN_SEED")
    seed = int(env) if env else random.SystemRandom().randrange(1 << 31)
    sys.stderr.write("[%s seed=%d]\n" % (name, seed))
    return seed


def stamp_key(meta):
    """The (hlc, origin) order last-writer-wins uses."""
    return (meta["Stamp"]["hlc"], meta["Stamp"]["origin"])


class ReplicationTest(ClusterTestCase):
    CLUSTER_NAME = "repl"

    # -------------------------------------------------------------- helpers

    def rn(self, region):
        return self.cluster[region]

    def cl(self, region):
        return self.cluster[region].client()

    def make_table(self, region, name, range_key=None):
        """Creates name in region and waits until every region has it."""
        self.create_table(name, range_key=range_key, client=self.cl(region))
        for r in CLUSTER_REGIONS:
            d = wait_for(lambda r=r: self.cl(r).describe_table(
                TableName=name)["Table"], WAIT_S,
                "table %s to appear in %s" % (name, r))
            self.assertEqual(d["TableStatus"], "ACTIVE")
        return name

    def get(self, region, table, key):
        return self.cl(region).get_item(TableName=table, Key=key,
                                        ConsistentRead=True).get("Item")

    def meta(self, region, table, key):
        return self.rn(region).admin_ok(
            "/admin/item", {"TableName": table, "Key": key})

    def wait_item(self, table, key, item, regions=CLUSTER_REGIONS):
        """Waits until GetItem of key returns item (None: absent) in every
        region."""
        for r in regions:
            wait_for(lambda r=r: self.get(r, table, key) == item, WAIT_S,
                     "%s %r to be %r in %s" % (table, key, item, r))

    def conflicts(self, region, table):
        return self.rn(region).admin_ok(
            "/admin/conflicts", {"TableName": table})["Conflicts"]

    # ------------------------------------------------- 1. global tables

    def test_01_global_table_lifecycle(self):
        t = "repl_life"
        self.make_table(EU, t, range_key=("sk", "N"))
        created = self.cl(EU).describe_table(TableName=t)["Table"]
        for r in CLUSTER_REGIONS:
            d = self.cl(r).describe_table(TableName=t)["Table"]
            self.assertEqual(d["KeySchema"], created["KeySchema"], r)
            self.assertEqual(sorted(d["AttributeDefinitions"],
                                    key=lambda a: a["AttributeName"]),
                             sorted(created["AttributeDefinitions"],
                                    key=lambda a: a["AttributeName"]), r)
            self.assertEqual(d["BillingModeSummary"]["BillingMode"],
                             "PAY_PER_REQUEST", r)
            self.assertTrue(d["TableArn"].endswith(":table/" + t), r)
            self.assertIn(t, self.cl(r).list_tables()["TableNames"], r)

        # Items written in each region reach the other two.
        expect = {}
        for r in CLUSTER_REGIONS:
            for i in range(4):
                item = {"pk": {"S": "from-" + r}, "sk": {"N": str(i)},
                        "v": {"S": "%s/%d" % (r, i)},
                        "n": {"N": str(10 * i)},
                        "tags": {"SS": [r, "t%d" % i]}}
                self.cl(r).put_item(TableName=t, Item=item)
                expect[(r, i)] = item
        # BatchWriteItem replicates like single writes.
        self.batch_put(t, [{"pk": {"S": "batch"}, "sk": {"N": str(i)},
                            "v": {"S": "b%d" % i}} for i in range(5)],
                       client=self.cl(AP))
        for i in range(5):
            expect[("batch", i)] = {"pk": {"S": "batch"},
                                    "sk": {"N": str(i)},
                                    "v": {"S": "b%d" % i}}
        self.cluster.wait_converged(t, items=len(expect), timeout=WAIT_S)
        want = sorted(expect.values(), key=lambda x: (x["pk"]["S"],
                                                      x["sk"]["N"]))
        for r in CLUSTER_REGIONS:
            got = self.scan_all(t, client=self.cl(r))
            got.sort(key=lambda x: (x["pk"]["S"], x["sk"]["N"]))
            self.assertEqual(got, want, "scan in " + r)
            for (src, i), item in expect.items():
                if src == "batch":
                    continue
                self.assertEqual(self.get(r, t, {"pk": item["pk"],
                                                 "sk": item["sk"]}), item)
                m = self.meta(r, t, {"pk": item["pk"], "sk": item["sk"]})
                self.assertEqual(m["Stamp"]["origin"], src)

        # UpdateItem in ap-northeast-1 of an item us-east-1 wrote.
        key = {"pk": {"S": "from-" + US}, "sk": {"N": "1"}}
        out = self.cl(AP).update_item(
            TableName=t, Key=key,
            UpdateExpression="SET v = :v ADD n :one REMOVE tags",
            ExpressionAttributeValues={":v": {"S": "updated"},
                                       ":one": {"N": "1"}},
            ReturnValues="ALL_NEW")["Attributes"]
        self.assertEqual(out, {"pk": key["pk"], "sk": key["sk"],
                               "v": {"S": "updated"}, "n": {"N": "11"}})
        self.wait_item(t, key, out)
        for r in CLUSTER_REGIONS:
            m = self.meta(r, t, key)
            self.assertEqual(m["Stamp"]["origin"], AP, r)
            self.assertIn(US, m["VersionVector"], r)
            self.assertIn(AP, m["VersionVector"], r)

        # DeleteItem in us-east-1 of an item eu-west-1 wrote.
        key = {"pk": {"S": "from-" + EU}, "sk": {"N": "2"}}
        self.cl(US).delete_item(TableName=t, Key=key)
        self.wait_item(t, key, None)
        for r in CLUSTER_REGIONS:
            m = self.meta(r, t, key)
            if m["Found"]:
                self.assertTrue(m["Tombstone"], r)
                self.assertEqual(m["Stamp"]["origin"], US, r)
                self.assertNotIn("Item", m, r)
        d = self.cluster.wait_converged(t, items=len(expect) - 1,
                                        timeout=WAIT_S)
        for r in CLUSTER_REGIONS:
            self.assertEqual(self.cl(r).scan(TableName=t, Select="COUNT")
                             ["Count"], len(expect) - 1, r)

        # No write here was concurrent with another.
        for r in CLUSTER_REGIONS:
            self.assertEqual(self.conflicts(r, t), [], r)
        self.assertEqual(len({x["Digest"] for x in d.values()}), 1)

        # DeleteTable in a region that did not create the table.
        self.cl(AP).delete_table(TableName=t)
        for r in CLUSTER_REGIONS:
            wait_for(lambda r=r: t not in self.cl(r).list_tables()
                     ["TableNames"], WAIT_S, "%s gone in %s" % (t, r))
            self.assertAwsError("ResourceNotFoundException",
                                self.cl(r).describe_table, TableName=t)
            self.assertAwsError("ResourceNotFoundException",
                                self.cl(r).get_item, TableName=t,
                                Key={"pk": {"S": "batch"},
                                     "sk": {"N": "0"}})

    # --------------------------------------------------- 2. conflicts

    def test_02_concurrent_writes_resolve_by_lww(self):
        """Deterministically concurrent writes: region A (us-east-1) writes
        while B (eu-west-1) is down, then B writes while A is down, then A
        again while B is down, so no write of one saw the other's.  Four
        keys cover put/put and put/delete in both orders; ap-northeast-1
        stays up throughout and receives everything."""
        t = "repl_conflict"
        self.make_table(AP, t)
        a, b = self.rn(US), self.rn(EU)
        key = {k: {"pk": {"S": k}} for k in ("k1", "k2", "k3", "k4")}
        metrics0 = {r: self.rn(r).metrics().get(
            "meridian_conflicts_total", region=r) for r in CLUSTER_REGIONS}
        # k3 and k4 exist everywhere before the concurrent writes.
        for k in ("k3", "k4"):
            self.cl(AP).put_item(TableName=t,
                                 Item=dict(key[k], v={"S": "base"}))
            self.wait_item(t, key[k], dict(key[k], v={"S": "base"}))
        self.cluster.wait_links_idle(timeout=WAIT_S)
        writes = {k: [] for k in key}  # key -> [(admin item, value|None)]

        def write(region, k, value):
            if value is None:
                self.cl(region).delete_item(TableName=t, Key=key[k])
            else:
                self.cl(region).put_item(TableName=t,
                                         Item=dict(key[k], v={"S": value}))
            m = self.meta(region, t, key[k])
            self.assertEqual(m["Stamp"]["origin"], region)
            self.assertEqual(m["Tombstone"], value is None)
            writes[k].append((m, value))

        b.stop()
        write(US, "k1", "a1")
        write(US, "k3", None)
        # ap-northeast-1 receives A's writes while B is down.
        self.wait_item(t, key["k1"], dict(key["k1"], v={"S": "a1"}),
                       regions=(AP,))
        self.wait_item(t, key["k3"], None, regions=(AP,))

        a.stop()
        b.start()
        # B receives A's writes only from A, which is down.
        self.assertIsNone(self.get(EU, t, key["k1"]))
        self.assertEqual(self.get(EU, t, key["k3"]),
                         dict(key["k3"], v={"S": "base"}))
        write(EU, "k1", "b1")
        write(EU, "k2", "b2")
        write(EU, "k3", "b3")
        write(EU, "k4", "b4")
        for k in key:
            self.assertNotIn(US, writes[k][-1][0]["VersionVector"])

        b.stop()
        a.start()
        self.assertIsNone(self.get(US, t, key["k2"]))
        self.assertEqual(self.get(US, t, key["k4"]),
                         dict(key["k4"], v={"S": "base"}))
        write(US, "k2", "a2")
        write(US, "k4", None)
        for k in ("k2", "k4"):
            self.assertNotIn(EU, writes[k][-1][0]["VersionVector"])

        b.start()
        self.cluster.wait_converged(t, items=3, timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)

        for k, pair in sorted(writes.items()):
            (x, vx), (y, vy) = pair
            self.assertNotEqual(stamp_key(x), stamp_key(y))
            (win, wv), (lose, lv) = sorted(pair, key=lambda w: stamp_key(
                w[0]), reverse=True)
            for r in CLUSTER_REGIONS:
                self.assertEqual(self.get(r, t, key[k]),
                                 None if wv is None else
                                 dict(key[k], v={"S": wv}),
                                 "%s in %s" % (k, r))
                m = self.meta(r, t, key[k])
                if wv is None and not m["Found"]:
                    continue  # the winning tombstone was collected
                self.assertEqual(m["Stamp"], win["Stamp"], r)
                self.assertEqual(m["Tombstone"], wv is None, r)
                # After a conflict the vector covers both writes.
                self.assertIn(US, m["VersionVector"], r)
                self.assertIn(EU, m["VersionVector"], r)
            # Every region saw both writes, so each one's ledger records
            # the loser once, with both stamps and origins.
            for r in CLUSTER_REGIONS:
                entries = [e for e in self.conflicts(r, t)
                           if e.get("key") == key[k]]
                self.assertEqual(len(entries), 1, "%s in %s: %r" % (
                    k, r, entries))
                e = entries[0]
                self.assertEqual(e["table"], t)
                self.assertEqual(e["region"], r)
                for side, s, v in (("winner", win, wv), ("loser", lose, lv)):
                    what = "%s %s in %s: %r" % (side, k, r, e)
                    self.assertEqual(e[side]["origin"], s["Stamp"]["origin"],
                                     what)
                    self.assertEqual(e[side]["hlc"], s["Stamp"]["hlc"], what)
                    self.assertEqual(e[side]["tombstone"], v is None, what)
                if lv is not None:
                    self.assertEqual(e["loser_item"],
                                     dict(key[k], v={"S": lv}))
                else:
                    self.assertIsNone(e.get("loser_item"))
        # Timestamps follow the order of the phases: the later write won.
        self.assertEqual(self.get(AP, t, key["k1"])["v"]["S"], "b1")
        self.assertEqual(self.get(AP, t, key["k2"])["v"]["S"], "a2")
        self.assertEqual(self.get(AP, t, key["k3"])["v"]["S"], "b3")
        self.assertIsNone(self.get(AP, t, key["k4"]))

        for r in CLUSTER_REGIONS:
            m = self.rn(r).metrics()
            self.assertEqual(m.get("meridian_conflicts_total", region=r),
                             metrics0[r] + 4, r)
        ledger = {r: len(self.conflicts(r, t)) for r in CLUSTER_REGIONS}
        self.assertEqual(set(ledger.values()), {4})

        # Writes that follow the winners causally are not conflicts.
        self.cl(AP).put_item(TableName=t, Item=dict(key["k1"],
                                                    v={"S": "c1"}))
        self.cl(EU).put_item(TableName=t, Item=dict(key["k4"],
                                                    v={"S": "c4"}))
        self.wait_item(t, key["k1"], dict(key["k1"], v={"S": "c1"}))
        self.wait_item(t, key["k4"], dict(key["k4"], v={"S": "c4"}))
        self.cluster.wait_converged(t, items=4, timeout=WAIT_S)
        for r in CLUSTER_REGIONS:
            self.assertEqual(len(self.conflicts(r, t)), ledger[r], r)
            self.assertEqual(self.meta(r, t, key["k1"])["Stamp"]["origin"],
                             AP)
            self.assertEqual(self.meta(r, t, key["k4"])["Stamp"]["origin"],
                             EU)

    # ---------------------------------------------- 3. crash, catch-up

    def test_03_crash_and_catch_up(self):
        """A region is killed with SIGKILL while it takes writes and
        applies the other two regions' concurrent write load; the load
        goes on while it is down; it restarts and catches up.  The victim
        is picked by the seed."""
        t = "repl_crash"
        rnd = random.Random(seed_for("crash"))
        vr = rnd.choice(CLUSTER_REGIONS)
        loaders = [r for r in CLUSTER_REGIONS if r != vr]
        sys.stderr.write("[crash: victim %s]\n" % vr)
        self.make_table(loaders[0], t)
        victim = self.rn(vr)
        lock = threading.Lock()
        # key -> set of values it may have (None: absent).  An acknowledged
        # write replaces the set; one that failed (the victim died under
        # it) adds a possibility.  Each key has exactly one writer.
        state = {}
        counts = dict.fromkeys(CLUSTER_REGIONS, 0)
        errors = []
        stop = threading.Event()
        victim_stop = threading.Event()

        def writer(region, nkeys, seed):
            c = self.rn(region).client(fresh=True)
            wr = random.Random(seed)
            n = 0
            while not stop.is_set() and not (region == vr and
                                             victim_stop.is_set()):
                k = "%s-%d" % (region, wr.randrange(nkeys))
                n += 1
                v = "%s#%d" % (region, n)
                op = wr.random()
                after = v if op < 0.9 else None
                try:
                    if op < 0.75:
                        c.put_item(TableName=t, Item={"pk": {"S": k},
                                                      "v": {"S": v}})
                    elif op < 0.9:
                        c.update_item(TableName=t, Key={"pk": {"S": k}},
                                      UpdateExpression="SET v = :v",
                                      ExpressionAttributeValues={
                                          ":v": {"S": v}})
                    else:
                        c.delete_item(TableName=t, Key={"pk": {"S": k}})
                except (botocore.exceptions.BotoCoreError,
                        botocore.exceptions.ClientError, OSError) as e:
                    with lock:
                        state.setdefault(k, {None}).add(after)
                        if region != vr:
                            errors.append("%s: %s" % (region, e))
                            continue
                    return
                with lock:
                    state[k] = {after}
                    counts[region] += 1

        # Duplicate and conflict counts so far (the victim's restart from
        # 0 when it restarts).
        base_dup = {}
        for r in loaders:
            m = self.rn(r).metrics()
            for src in CLUSTER_REGIONS:
                for outcome in ("dropped", "conflict"):
                    base_dup[(src, r, outcome)] = m.get(
                        "meridian_replication_records_total", source=src,
                        destination=r, outcome=outcome, default=0)
        heads = {r: self.rn(r).replication()["head_seq"] for r in loaders}
        # Acknowledged writes in the victim just before it dies.
        for i in range(10):
            k = "pre-%d" % i
            self.cl(vr).put_item(TableName=t, Item={"pk": {"S": k},
                                                    "v": {"S": "pre"}})
            state[k] = {"pre"}
        threads = [threading.Thread(target=writer, args=(
            r, 20 if r == vr else 40, rnd.randrange(1 << 30)))
            for r in CLUSTER_REGIONS]
        for th in threads:
            th.start()

        def victim_applying():
            m = victim.metrics()
            return all(m.get("meridian_replication_applied_seq", source=r,
                             destination=vr, default=0) > heads[r]
                       for r in loaders)
        try:
            # Kill it while it applies the others' writes and takes its
            # own.
            wait_for(lambda: all(counts[r] >= 30 for r in loaders) and
                     counts[vr] >= 15 and victim_applying(),
                     WAIT_S, "load to reach the victim")
            victim.kill9()
            victim_stop.set()
            # The others keep writing while it is down.
            base = dict(counts)
            wait_for(lambda: all(counts[r] >= base[r] + 30
                                 for r in loaders), WAIT_S,
                     "writes while the victim is down")
            victim.start()
            base = dict(counts)
            wait_for(lambda: all(counts[r] >= base[r] + 20
                                 for r in loaders), WAIT_S,
                     "writes after the restart")
        finally:
            stop.set()
            victim_stop.set()
            for th in threads:
                th.join(WAIT_S)
        self.assertFalse(any(th.is_alive() for th in threads))
        self.assertEqual(errors, [])

        # The restarted victim still ships new writes (its sequence
        # numbers did not go back).
        for i in range(5):
            k = "post-%d" % i
            self.cl(vr).put_item(TableName=t, Item={"pk": {"S": k},
                                                    "v": {"S": "post"}})
            state[k] = {"post"}

        live = {k for k, vs in state.items() if None not in vs}
        d = wait_for(lambda: self._converged_ok(t), WAIT_S,
                     "%s to converge after the crash" % t)
        items = next(iter(d.values()))["Items"]
        self.assertGreaterEqual(items, len(live))
        self.assertLessEqual(items, len(state))
        for r in CLUSTER_REGIONS:
            got = {it["pk"]["S"]: it["v"]["S"]
                   for it in self.scan_all(t, client=self.cl(r))}
            for k, vs in sorted(state.items()):
                self.assertIn(got.get(k), vs, "key %s in %s" % (k, r))
            self.assertEqual(set(got) - set(state), set(), r)
            self.assertEqual(self.conflicts(r, t), [], r)
        # Nothing was delivered twice: every key has one writer, so a
        # record arriving again would be dropped as a duplicate or counted
        # as a conflict.
        self.cluster.wait_links_idle(timeout=WAIT_S)
        for r in CLUSTER_REGIONS:
            m = self.rn(r).metrics()
            for src in CLUSTER_REGIONS:
                if src == r:
                    continue
                for outcome in ("dropped", "conflict"):
                    self.assertEqual(
                        m.get("meridian_replication_records_total",
                              source=src, destination=r, outcome=outcome),
                        base_dup.get((src, r, outcome), 0),
                        "%s -> %s %s" % (src, r, outcome))
        sys.stderr.write("[crash: writes %s, %d keys]\n" % (
            " ".join("%s=%d" % kv for kv in sorted(counts.items())),
            len(state)))

    def _converged_ok(self, t):
        d = self.cluster.digests(t)
        if len({(x["Digest"], x["Items"]) for x in d.values()}) != 1:
            return False
        return d

    # ------------------------------------------- 4. restart everything

    def test_04_restart_all(self):
        t = "repl_restart"
        self.make_table(EU, t)
        items = {}
        for r in CLUSTER_REGIONS:
            for i in range(6):
                it = {"pk": {"S": "%s-%d" % (r, i)}, "v": {"N": str(i)}}
                self.cl(r).put_item(TableName=t, Item=it)
                items[it["pk"]["S"]] = it
        before = self.cluster.wait_converged(t, items=len(items),
                                             timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)
        cursors = self._cursors()

        self.cluster.stop()
        self.cluster.start()

        # Cursors come back from disk.
        wait_for(lambda: self._cursors() == cursors, WAIT_S,
                 "cursors %r after restart" % cursors)
        self.assertEqual(self.cluster.digests(t), before)
        for r in CLUSTER_REGIONS:
            got = {it["pk"]["S"]: it for it in self.scan_all(
                t, client=self.cl(r))}
            self.assertEqual(got, items, r)
        self.cluster.wait_links_idle(timeout=WAIT_S)
        # Nothing old was shipped or applied again.  (Membership records,
        # outcome "control", may flow: restarted nodes announce their new
        # ephemeral API ports.)
        for r in CLUSTER_REGIONS:
            m = self.rn(r).metrics()
            data = sum(m.total("meridian_replication_records_total",
                               destination=r, outcome=o)
                       for o in ("applied", "dropped", "conflict"))
            self.assertEqual(data, 0, r)

        # New writes still replicate, each applied exactly once.
        for r in CLUSTER_REGIONS:
            for i in range(3):
                it = {"pk": {"S": "%s-new-%d" % (r, i)}, "v": {"S": "new"}}
                self.cl(r).put_item(TableName=t, Item=it)
                items[it["pk"]["S"]] = it
        self.cluster.wait_converged(t, items=len(items), timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)
        for r in CLUSTER_REGIONS:
            m = self.rn(r).metrics()
            for src in CLUSTER_REGIONS:
                if src == r:
                    continue
                self.assertEqual(m.get("meridian_replication_records_total",
                                       source=src, destination=r,
                                       outcome="applied"), 3,
                                 "%s -> %s" % (src, r))
                self.assertEqual(m.get("meridian_replication_records_total",
                                       source=src, destination=r,
                                       outcome="dropped"), 0,
                                 "%s -> %s" % (src, r))
            got = {it["pk"]["S"]: it for it in self.scan_all(
                t, client=self.cl(r))}
            self.assertEqual(got, items, r)

    def _cursors(self):
        out = {}
        for n in self.cluster:
            for p in n.replication()["peers"]:
                out[(p["region"], n.region)] = p["applied_seq"]
        return out

    # ------------------------------------------------ 5. observability

    def test_05_observability(self):
        t = "repl_obs"
        self.make_table(US, t)
        for r in CLUSTER_REGIONS:
            for i in range(3):
                self.cl(r).put_item(TableName=t, Item={
                    "pk": {"S": "%s-%d" % (r, i)}, "v": {"S": r}})
        self.cluster.wait_converged(t, items=9, timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)

        for n in self.cluster:
            status, _, body = n.http_get("/health")
            self.assertEqual(status, 200, n.region)
            m = n.metrics()
            for src in CLUSTER_REGIONS:
                if src == n.region:
                    continue
                count = m.get("meridian_replication_latency_ms_count",
                              source=src, destination=n.region)
                self.assertIsNotNone(count, "%s -> %s" % (src, n.region))
                self.assertGreater(count, 0, "%s -> %s" % (src, n.region))
                inf = m.get("meridian_replication_latency_ms_bucket",
                            source=src, destination=n.region, le="+Inf")
                self.assertEqual(inf, count)
                # Buckets are cumulative.
                buckets = sorted(
                    (float(lb["le"]), v) for lb, v in m.samples(
                        "meridian_replication_latency_ms_bucket")
                    if lb["source"] == src and lb["destination"] == n.region)
                self.assertEqual([v for _, v in buckets],
                                 sorted(v for _, v in buckets))
                self.assertIsNotNone(m.get(
                    "meridian_replication_latency_ms_sum", source=src,
                    destination=n.region))
                self.assertEqual(m.get(
                    "meridian_pending_replication_count", source=n.region,
                    destination=src), 0)
                self.assertGreater(m.get(
                    "meridian_replication_applied_seq", source=src,
                    destination=n.region), 0)
                self.assertGreater(m.get(
                    "meridian_replication_shipped_seq", source=n.region,
                    destination=src), 0)
            self.assertIsNotNone(m.get("meridian_conflicts_total",
                                       region=n.region))
            self.assertGreater(m.get("meridian_log_records",
                                     region=n.region), 0)
            self.assertGreater(m.total("meridian_requests_total",
                                       operation="PutItem"), 0)

            st = n.replication()
            self.assertEqual(st["region"], n.region)
            peers = {p["region"]: p for p in st["peers"]}
            self.assertEqual(set(peers),
                             set(CLUSTER_REGIONS) - {n.region})
            for r, p in peers.items():
                self.assertIn(p["state"], ("PULLING", "APPLYING",
                                           "BACKOFF"), r)
                self.assertGreaterEqual(p["last_answer_ms_ago"], 0, r)
                self.assertEqual(p["applied_seq"], m.get(
                    "meridian_replication_applied_seq", source=r,
                    destination=n.region), r)
                self.assertEqual(p["url"], "tcp://127.0.0.1:%d"
                                 % self.cluster.repl_ports[r])
                self.assertFalse(p["resync_required"])

            for src in CLUSTER_REGIONS:
                m = n.admin_ok("/admin/item", {"TableName": t,
                                               "Key": {"pk": {"S": "%s-0"
                                                              % src}}})
                self.assertTrue(m["Found"])
                self.assertFalse(m["Tombstone"])
                self.assertEqual(m["Stamp"]["origin"], src)
                self.assertGreater(m["Stamp"]["hlc"], 0)
                self.assertEqual(set(m["VersionVector"]), {src})
                self.assertGreater(m["VersionVector"][src], 0)
                self.assertEqual(m["Item"], {"pk": {"S": "%s-0" % src},
                                             "v": {"S": src}})
            m = n.admin_ok("/admin/item", {"TableName": t,
                                           "Key": {"pk": {"S": "absent"}}})
            self.assertEqual(m, {"Found": False})
            status, _ = n.admin("/admin/item", {"TableName": "repl_nope",
                                                "Key": {"pk": {"S": "x"}}})
            self.assertEqual(status, 404)
            status, _ = n.admin("/admin/digest", {"TableName": "repl_nope"})
            self.assertEqual(status, 404)

        # A digest range listing names its keys.
        d = self.rn(EU).admin_ok("/admin/digest", {"TableName": t,
                                                     "Ranges": 1,
                                                     "ListRange": 0})
        self.assertEqual(d["Items"], 9)
        self.assertEqual(len(d["Ranges"]), 1)
        self.assertEqual(sorted(k["Key"]["pk"]["S"]
                                for k in d["Ranges"][0]["Keys"]),
                         sorted("%s-%d" % (r, i) for r in CLUSTER_REGIONS
                                for i in range(3)))

    # ------------------------------------ 6. a down region blocks nobody

    def test_06_down_region_does_not_block_writes(self):
        t = "repl_down"
        self.make_table(US, t)
        c_node = self.rn(AP)
        expect = {}

        def timed_writes(tag, n):
            worst = 0.0
            for i in range(n):
                it = {"pk": {"S": "%s-%d" % (tag, i)}, "v": {"S": tag}}
                t0 = time.monotonic()
                self.cl(US if i % 2 else EU).put_item(TableName=t, Item=it)
                worst = max(worst, time.monotonic() - t0)
                expect[it["pk"]["S"]] = it
            return worst

        def pending(src):
            return self.rn(src).metrics().get(
                "meridian_pending_replication_count", source=src,
                destination=AP)

        self.cluster.wait_links_idle(timeout=WAIT_S)
        # A region that is gone (connections refused).
        c_node.stop()
        worst = timed_writes("stopped", 20)
        self.assertLess(worst, WRITE_MAX_S, "a write waited %.2f s" % worst)
        self.cluster.wait_converged(t, regions=(US, EU), items=len(expect),
                                    timeout=WAIT_S)
        # Each survivor counts its 10 writes as pending for the lost region
        # and reports the broken link.
        self.assertEqual(pending(US), 10)
        self.assertEqual(pending(EU), 10)

        def link_down():
            p = [x for x in self.rn(US).replication()["peers"]
                 if x["region"] == AP][0]
            return p["pull_errors"] > 0 and p["last_error"] != "success" \
                and p
        wait_for(link_down, WAIT_S, "us-east-1 to report the link down")
        c_node.start()
        self.cluster.wait_converged(t, items=len(expect), timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)

        # A region that hangs (its process is frozen).
        os.kill(c_node.proc.pid, signal.SIGSTOP)
        try:
            worst = timed_writes("frozen", 20)
            self.assertLess(worst, WRITE_MAX_S,
                            "a write waited %.2f s" % worst)
            self.cluster.wait_converged(t, regions=(US, EU),
                                        items=len(expect), timeout=WAIT_S)
            self.assertEqual(pending(US), 10)
            self.assertEqual(pending(EU), 10)
        finally:
            os.kill(c_node.proc.pid, signal.SIGCONT)
        # Once back, it catches up on everything.
        self.cluster.wait_converged(t, items=len(expect), timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)
        self.assertEqual(pending(US), 0)
        self.assertEqual(pending(EU), 0)
        got = {it["pk"]["S"]: it for it in self.scan_all(
            t, client=self.cl(AP))}
        self.assertEqual(got, expect)

    # ------------------------------- 7. conflicting writes under load

    def test_07_conflicting_load_converges(self):
        """All three regions write the same few keys at once.  Whatever
        the interleaving: the regions converge; each item's stamp only
        grows in every region; the final value is the one its stamp's
        origin wrote; every ledger entry's winner outranks its loser and
        never outranks the final version."""
        t = "repl_hot"
        seed = seed_for("hot")
        rnd = random.Random(seed)
        self.make_table(EU, t)
        keys = ["hot-%d" % i for i in range(6)]
        written = {k: set() for k in keys}
        samples = {}  # (region, key) -> [stamp key, ...] in time order
        errors = []
        lock = threading.Lock()
        done = threading.Event()

        def writer(region, ops, seed):
            c = self.rn(region).client(fresh=True)
            wr = random.Random(seed)
            try:
                for n in range(ops):
                    k = wr.choice(keys)
                    v = "%s#%d" % (region, n)
                    with lock:
                        written[k].add(v)
                    op = wr.random()
                    if op < 0.8:
                        c.put_item(TableName=t, Item={"pk": {"S": k},
                                                      "v": {"S": v}})
                    elif op < 0.9:
                        c.update_item(TableName=t, Key={"pk": {"S": k}},
                                      UpdateExpression="SET v = :v",
                                      ExpressionAttributeValues={
                                          ":v": {"S": v}})
                    else:
                        c.delete_item(TableName=t, Key={"pk": {"S": k}})
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("%s: %r" % (region, e))

        def sampler(seed):
            sr = random.Random(seed)
            while not done.is_set():
                r, k = sr.choice(CLUSTER_REGIONS), sr.choice(keys)
                try:
                    m = self.meta(r, t, {"pk": {"S": k}})
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append("sample %s: %r" % (r, e))
                    return
                if m["Found"]:
                    samples.setdefault((r, k), []).append(stamp_key(m))

        threads = [threading.Thread(target=writer, args=(
            r, 60, rnd.randrange(1 << 30))) for r in CLUSTER_REGIONS]
        samp = threading.Thread(target=sampler,
                                args=(rnd.randrange(1 << 30),))
        samp.start()
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        done.set()
        samp.join(WAIT_S)
        self.assertFalse(any(th.is_alive() for th in threads + [samp]))
        self.assertEqual(errors, [])

        self.cluster.wait_converged(t, timeout=WAIT_S)
        self.cluster.wait_links_idle(timeout=WAIT_S)
        final = {}
        for k in keys:
            metas = [self.meta(r, t, {"pk": {"S": k}})
                     for r in CLUSTER_REGIONS]
            # Version vectors may differ (a region that saw a conflict
            # merges the loser's); the version itself may not.
            self.assertEqual(len({repr((m["Found"], m.get("Tombstone"),
                                        m.get("Stamp"), m.get("Item")))
                                  for m in metas}), 1, "%s: %r" % (k, metas))
            m = metas[0]
            final[k] = stamp_key(m) if m["Found"] else None
            if m["Found"] and not m["Tombstone"]:
                v = m["Item"]["v"]["S"]
                self.assertIn(v, written[k])
                self.assertEqual(v.split("#")[0], m["Stamp"]["origin"], k)
            for r in CLUSTER_REGIONS:
                got = self.get(r, t, {"pk": {"S": k}})
                self.assertEqual(got, m.get("Item"), "%s in %s" % (k, r))
        for (r, k), seq in samples.items():
            self.assertEqual(seq, sorted(seq), "stamps of %s in %s went "
                             "backwards" % (k, r))
            if final[k] is not None:
                self.assertLessEqual(seq[-1], final[k], k)
        nconf = 0
        for r in CLUSTER_REGIONS:
            for e in self.conflicts(r, t):
                k = e["key"]["pk"]["S"]
                w = (e["winner"]["hlc"], e["winner"]["origin"])
                lo = (e["loser"]["hlc"], e["loser"]["origin"])
                self.assertGreater(w, lo, repr(e))
                self.assertNotEqual(e["winner"]["origin"],
                                    e["loser"]["origin"], repr(e))
                if final[k] is not None:
                    self.assertLessEqual(w, final[k], repr(e))
                if e.get("loser_item"):
                    self.assertIn(e["loser_item"]["v"]["S"], written[k])
                nconf += 1
        sys.stderr.write("[hot: %d samples, %d ledger entries]\n" % (
            sum(map(len, samples.values())), nconf))



class ClusterKeyTest(NodeTestCase):
    """Replication frames are authenticated with the cluster key: a region
    configured with another key gets nothing, and catches up once its key
    is fixed."""

    START_NODE = False

    def test_wrong_cluster_key_replicates_nothing(self):
        cluster = Cluster(regions=(US, EU), name="key")
        self.addCleanup(cluster.close)
        a, b = cluster[US], cluster[EU]
        good = dict(cluster.config)
        bad = dict(good, cluster_key="another-key-of-this-cluster-0123")
        with open(b.config_path, "w") as f:
            json.dump(bad, f)
        cluster.start()
        self.create_table("repl_key", client=a.client())
        a.client().put_item(TableName="repl_key",
                            Item={"pk": {"S": "x"}, "v": {"S": "1"}})

        def link_error(node, peer):
            p = [x for x in node.replication()["peers"]
                 if x["region"] == peer][0]
            return p["pull_errors"] >= 2 and p
        # Both directions fail: b's pulls do not authenticate at a, and
        # a's pulls do not authenticate at b.
        wait_for(lambda: link_error(b, US), WAIT_S, "b's pulls to fail")
        wait_for(lambda: link_error(a, EU), WAIT_S, "a's pulls to fail")
        self.assertNotIn("repl_key", b.client().list_tables()["TableNames"])
        m = b.metrics()
        self.assertEqual(m.get("meridian_replication_records_total",
                               source=US, destination=EU,
                               outcome="applied"), 0)
        self.assertGreater(m.get("meridian_replication_pull_errors_total",
                                 source=US, destination=EU), 0)

        b.stop()
        with open(b.config_path, "w") as f:
            json.dump(good, f)
        b.start()
        cluster.wait_converged("repl_key", items=1, timeout=WAIT_S)
        self.assertEqual(b.client().get_item(
            TableName="repl_key", Key={"pk": {"S": "x"}})["Item"],
            {"pk": {"S": "x"}, "v": {"S": "1"}})
        cluster.stop()


if __name__ == "__main__":
    import unittest
    unittest.main()
