"""Link shaping, fault injection and the verifier, against real
region-node processes: a shaped link's measured replication latency
matches its configured delay, paused replication holds a table's writes
and releases them, injected request failures and clock skew take effect,
and `meridian verify` finds a difference planted directly in LMDB."""

import os
import subprocess
import time
import unittest

from harness import Cluster, wait_for

CLI = os.environ.get("MERIDIAN_CLI", os.path.join(
    os.path.dirname(__file__), "..", "..", "bin", "meridian"))


def create(client, table):
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST")


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(regions=["us-east-1", "eu-west-1"],
                               name="faults")
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        self.us = self.cluster["us-east-1"]
        self.eu = self.cluster["eu-west-1"]
        create(self.us.client(), "flt")
        wait_for(lambda: "flt" in self.eu.client().list_tables()["TableNames"],
                 30, "the table in eu-west-1")

    def recent(self, node, source):
        for p in node.replication()["peers"]:
            if p["region"] == source:
                return p["latency_recent_ms"]
        raise AssertionError("no link from %s" % source)

    def test_shaped_link_latency_matches_delay(self):
        c = self.us.client()
        for delay in (20, 60, 150):
            st, body = self.eu.admin("/admin/link", {
                "From": "us-east-1", "DelayMs": delay})
            self.assertEqual(st, 200, body)
            n0 = 0
            time.sleep(0.3)  # batches already in flight drain
            self.eu.admin_ok("/admin/link", {"From": "us-east-1",
                                             "DelayMs": delay})
            for i in range(60):
                c.put_item(TableName="flt", Item={
                    "pk": {"S": "d%d-%d" % (delay, i)}})
                time.sleep(0.01)
            wait_for(lambda: self.recent(self.eu, "us-east-1")["samples"]
                     >= 60 + n0, 30, "60 samples at %d ms" % delay)
            p50 = self.recent(self.eu, "us-east-1")["p50"]
            self.assertLessEqual(abs(p50 - delay), 0.1 * delay + 2,
                                 "delay %d ms measured p50 %d ms" % (
                                     delay, p50))
        # link show through the admin API and the CLI agree
        st, links = self.eu.admin("/admin/links")
        self.assertEqual(links["Links"][0]["DelayMs"], 150)

    def test_partition_and_loss(self):
        c = self.us.client()
        self.eu.admin_ok("/admin/link", {"From": "us-east-1",
                                         "Partition": True})
        c.put_item(TableName="flt", Item={"pk": {"S": "cut"}})
        time.sleep(1.0)
        self.assertNotIn("Item", self.eu.client().get_item(
            TableName="flt", Key={"pk": {"S": "cut"}}))
        # Heal with a lossy link: everything still arrives.
        self.eu.admin_ok("/admin/link", {"From": "us-east-1",
                                         "LossPct": 30})
        # Separate writes make separate batches: with 100 of them at 30%
        # loss, some are lost (the chance of none is 0.7^100).
        for i in range(100):
            c.put_item(TableName="flt", Item={"pk": {"S": "lossy%d" % i}})
            time.sleep(0.005)
        self.cluster.wait_converged("flt", items=101, timeout=60)
        st, links = self.eu.admin("/admin/links")
        self.assertGreater(links["Links"][0]["LostBatches"], 0)

    def test_pause_replication_of_a_table(self):
        us, eu = self.us.client(), self.eu.client()
        # Every node announces its real API URL (started on port 0).
        wait_for(lambda: all(r["Api"] != "http://127.0.0.1:0" for r in
                             self.us.admin_ok("/admin/cluster")["Regions"]),
                 30, "real API URLs in the membership")
        st, body = self.us.admin("/admin/pause", {"TableName": "flt",
                                                  "DurationMs": 2500})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["PeersReached"], 1)
        us.put_item(TableName="flt", Item={"pk": {"S": "from-us"}})
        eu.put_item(TableName="flt", Item={"pk": {"S": "from-eu"}})
        time.sleep(1.0)
        # Neither direction crosses while paused; the records are held.
        self.assertNotIn("Item", eu.get_item(TableName="flt",
                                             Key={"pk": {"S": "from-us"}}))
        self.assertNotIn("Item", us.get_item(TableName="flt",
                                             Key={"pk": {"S": "from-eu"}}))
        held = self.us.admin_ok("/admin/faults")["HeldRecords"] + \
            self.eu.admin_ok("/admin/faults")["HeldRecords"]
        self.assertEqual(held, 2)
        # After the pause both arrive, and nothing stays held.
        self.cluster.wait_converged("flt", items=2, timeout=30)
        wait_for(lambda: self.us.admin_ok("/admin/faults")["HeldRecords"]
                 == 0, 10, "held records released")

    def test_fail_requests_and_clock_skew(self):
        c = self.us.client()
        self.us.admin_ok("/admin/fault", {"FailRate": 1.0})
        with self.assertRaises(c.exceptions.InternalServerError):
            c.put_item(TableName="flt", Item={"pk": {"S": "x"}})
        self.us.admin_ok("/admin/fault", {"FailRate": 0})
        c.put_item(TableName="flt", Item={"pk": {"S": "x"}})
        st, body = self.us.admin("/admin/fault", {"FailRate": 2})
        self.assertEqual(st, 400)
        # A clock an hour ahead stamps writes an hour ahead.
        self.us.admin_ok("/admin/fault", {"ClockSkewMs": 3600000})
        c.put_item(TableName="flt", Item={"pk": {"S": "late"}})
        it = self.us.admin_ok("/admin/item", {"TableName": "flt",
                                              "Key": {"pk": {"S": "late"}}})
        ahead = it["Stamp"]["wall_ms"] - time.time() * 1000
        self.assertGreater(ahead, 3500000)
        self.assertEqual(self.us.admin_ok("/admin/faults")["ClockSkewMs"],
                         3600000)

    def cli(self, *args):
        return self.cluster.cli(*args)

    def test_fault_cli(self):
        import json
        rc = self.cli("fault", "skew", "us-east-1", "5000")
        self.assertEqual(rc.returncode, 0, rc.stderr)
        self.assertEqual(self.us.admin_ok("/admin/faults")["ClockSkewMs"],
                         5000)
        rc = self.cli("fault", "fail", "eu-west-1", "0.25")
        self.assertEqual(rc.returncode, 0, rc.stderr)
        self.assertAlmostEqual(self.eu.admin_ok("/admin/faults")["FailRate"],
                               0.25)
        rc = self.cli("--json", "fault", "show")
        self.assertEqual(rc.returncode, 0, rc.stderr)
        shown = json.loads(rc.stdout)
        self.assertEqual(shown["us-east-1"]["ClockSkewMs"], 5000)
        # isolate cuts both directions; heal restores them
        rc = self.cli("fault", "isolate", "eu-west-1")
        self.assertEqual(rc.returncode, 0, rc.stderr)
        for n in (self.us, self.eu):
            links = n.admin_ok("/admin/links")["Links"]
            self.assertTrue(all(l["Partition"] for l in links), links)
        rc = self.cli("fault", "heal", "eu-west-1")
        self.assertEqual(rc.returncode, 0, rc.stderr)
        for n in (self.us, self.eu):
            links = n.admin_ok("/admin/links")["Links"]
            self.assertFalse(any(l["Partition"] for l in links), links)
        rc = self.cli("fault", "pause", "flt", "us-east-1", "--duration", "2")
        self.assertEqual(rc.returncode, 0, rc.stderr)
        self.assertEqual(len(self.us.admin_ok("/admin/faults")["Pauses"]), 1)
        # usage errors exit 2, an unknown region too
        self.assertEqual(self.cli("fault", "fail", "eu-west-1",
                                  "7").returncode, 2)
        self.assertEqual(self.cli("fault", "skew", "mars-1",
                                  "10").returncode, 2)
        self.assertEqual(self.cli("fault", "pause", "flt",
                                  "us-east-1").returncode, 2)

    def test_verifier_finds_planted_difference(self):
        c = self.us.client()
        for i in range(50):
            c.put_item(TableName="flt", Item={"pk": {"S": "k%02d" % i},
                                            "v": {"S": "original"}})
        self.cluster.wait_converged("flt", items=50)
        cfg = os.path.join(self.us.root, "cli.json")
        self.cluster.config["regions"][0]["port"] = self.us.port
        self.cluster.config["regions"][1]["port"] = self.eu.port
        import json
        with open(cfg, "w") as f:
            json.dump(self.cluster.config, f)
        rc = subprocess.run([CLI, "--config", cfg, "verify", "flt"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        # Plant a difference straight into eu-west-1's LMDB: stop it,
        # rewrite one item's bytes with mdb_dump/mdb_load, start it.
        self.eu.stop()
        data = os.path.join(self.eu.root, "data")
        dump = subprocess.run(["mdb_dump", "-s", "items", data],
                              capture_output=True, text=True, check=True)
        target = "original".encode().hex()
        planted = "tampered".encode().hex()
        lines, changed = dump.stdout.split("\n"), False
        for i, line in enumerate(lines):
            if not changed and target in line and '6b3137' in line:
                lines[i] = line.replace(target, planted)
                changed = True
        self.assertTrue(changed, "item k17 not found in the dump")
        subprocess.run(["mdb_load", "-s", "items", data],
                       input="\n".join(lines), text=True, check=True)
        self.eu.restart()
        self.cluster.config["regions"][1]["port"] = self.eu.port
        with open(cfg, "w") as f:
            json.dump(self.cluster.config, f)
        rc = subprocess.run([CLI, "--config", cfg, "verify", "flt"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(rc.returncode, 1, rc.stdout + rc.stderr)
        self.assertIn("k17", rc.stdout + rc.stderr)


if __name__ == "__main__":
    unittest.main()
