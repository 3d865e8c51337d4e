"""`meridian drill`: every shipped scenario in configs/drills/ run for a
few seconds against a cluster the drill starts itself, and the report,
history and chart it writes checked.

Each drill runs with --duration 8 (step times scale with it) and --json;
the report printed on stdout must match OUT/report.json.  Common checks
(check_common) hold for every drill: it passed, the regions converged,
no acknowledged write was lost, counts add up, lag.svg is SVG with one
series per pair, and history.json is a well-formed Elle rw-register
history whose operations are exactly the ones the report counts.  Each
scenario then gets checks of its own fault's effect.

Environment:
  MERIDIAN_CLI   path of the meridian binary (default <repo>/bin/meridian)
  MERIDIAN_NODE  path of region-node (passed on to the drill)
  MERIDIAN_KEEP  1 keeps the drills' output directories
"""

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

from harness import Cluster, NODE_BIN, REPO, free_port  # noqa: F401

CLI = os.environ.get("MERIDIAN_CLI", os.path.join(REPO, "bin", "meridian"))
DRILLS = os.path.join(REPO, "configs", "drills")
DURATION_S = 8
RATE = 200
SVG_NS = "{http://www.w3.org/2000/svg}"
REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-1")
US, EU, AP = REGIONS
DRILL_TIMEOUT_S = 120


def drill_env():
    e = dict(os.environ)
    e.pop("MERIDIAN_CONFIG", None)
    e.pop("MERIDIAN_SEED", None)
    e["MERIDIAN_NODE"] = NODE_BIN
    return e


class DrillCase(unittest.TestCase):
    """Runs drills into temporary directories removed after each test."""

    def setUp(self):
        if not os.path.exists(CLI):
            self.skipTest("meridian binary not found: %s" % CLI)
        self.tmp = tempfile.mkdtemp(prefix="meridian-drill-it-")
        if os.environ.get("MERIDIAN_KEEP") != "1":
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_cli(self, *args, timeout=DRILL_TIMEOUT_S):
        p = subprocess.run([CLI] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, env=drill_env(),
                           cwd=REPO)
        return p.returncode, p.stdout, p.stderr

    def drill(self, scenario, *extra, duration=DURATION_S, expect_rc=0,
              name=None):
        """Runs one drill with --json; returns (report, out dir, stderr)."""
        out = os.path.join(self.tmp, name or os.path.basename(scenario)
                           .replace(".json", ""))
        t0 = time.monotonic()
        rc, stdout, stderr = self.run_cli(
            "drill", scenario, "--duration", duration, "--out", out,
            "--json", "--converge-timeout", 30, *extra)
        elapsed = time.monotonic() - t0
        try:
            report = json.loads(stdout)
        except ValueError:
            self.fail("drill printed no JSON report (rc %d): %s\n%s"
                      % (rc, stdout[-2000:], stderr[-4000:]))
        self.assertEqual(rc, expect_rc, "%s\nFailures: %s\nstderr:\n%s"
                         % (scenario, report.get("Failures"),
                            stderr[-4000:]))
        with open(os.path.join(out, "report.json")) as f:
            self.assertEqual(json.load(f), report)
        # Start-up, the load, convergence and the checks: bounded.
        self.assertLess(elapsed, duration + 45, "drill took %.1f s" % elapsed)
        return report, out, stderr

    # ---------------------------------------------------------- checks

    def check_common(self, r, out, regions=REGIONS, load=REGIONS):
        self.assertEqual(r["Result"], "passed", r["Failures"])
        self.assertEqual(r["Failures"], [])
        self.assertTrue(r["Converged"])
        self.assertEqual(r["LostWrites"], 0)
        self.assertEqual(r["Mode"], "spawned")
        self.assertEqual(r["Regions"], list(REGIONS))
        self.assertEqual(r["DurationS"], DURATION_S)
        heal = r["Heal"]
        self.assertTrue(heal["Converged"])
        self.assertGreaterEqual(heal["ConvergedAfterMs"], 0)
        self.assertLess(heal["ConvergedAfterMs"], 30000)
        self.assertEqual(heal["VerifyExit"], 0)
        self.assertEqual(heal["Holders"], len(regions))
        self.assertRegex(heal["Digest"], r"^[0-9a-f]{64}$")
        self.assertGreaterEqual(heal["AtMs"], heal["LoadEndMs"])
        self.assertGreaterEqual(heal["LoadEndMs"], DURATION_S * 1000)
        self.assertEqual(r["Rto"]["HealToConvergenceMs"],
                         heal["ConvergedAfterMs"])

        # The load: about rate x duration operations, in the load regions.
        ld = r["Load"]
        self.assertEqual(ld["RatePerS"], RATE)
        self.assertGreaterEqual(ld["Operations"], RATE * DURATION_S * 0.9)
        self.assertLessEqual(ld["Operations"], RATE * DURATION_S + 1)
        self.assertEqual(sorted(ld["ByRegion"]), sorted(load))
        by = ld["ByRegion"]
        self.assertEqual(sum(x["WritesAcknowledged"] for x in by.values()),
                         ld["Writes"]["Ok"])
        self.assertEqual(sum(x["WritesFailed"] for x in by.values()),
                         ld["Writes"]["Failed"])
        self.assertEqual(sum(x["WritesUnknown"] for x in by.values()),
                         ld["Writes"]["Unknown"])
        for reg in load:
            self.assertGreater(by[reg]["WritesAcknowledged"], 50, reg)

        # Every acknowledged write has exactly one fate; none is lost.
        fs = r["FinalState"]
        self.assertEqual(fs["AcknowledgedWrites"], ld["Writes"]["Ok"])
        self.assertEqual(sum(fs["Fates"].values()), fs["AcknowledgedWrites"])
        self.assertEqual(fs["Fates"]["lost"], 0)
        self.assertEqual(fs["Lost"], [])
        self.assertEqual(fs["KeysDiverged"], 0)
        self.assertEqual(fs["LookupsFailed"], 0)
        self.assertEqual(fs["FailedWritesVisible"], 0)
        self.assertEqual(fs["ForeignValues"], 0)
        # One final write per key that holds a value (a write whose
        # outcome the client never learnt may be the final one).
        self.assertLessEqual(fs["Fates"]["final"], heal["Items"])
        self.assertGreaterEqual(fs["Fates"]["final"], heal["Items"] -
                                ld["Writes"]["Unknown"])
        for c in fs["ConflictLosses"]:
            ls, ws = c["LoserStamp"], c["WinnerStamp"]
            # Last-writer-wins: the winner's stamp is the larger.
            self.assertGreater((ws["WallMs"], ws["Logical"], ws["Origin"]),
                               (ls["WallMs"], ls["Logical"], ls["Origin"]),
                               c)
            self.assertEqual(ls["Origin"], c["Region"])

        # Conflicts: the metric and the ledger agree per region.
        for reg in regions:
            x = r["Conflicts"]["Regions"][reg]
            self.assertEqual(x["ConflictsTotal"], x["LedgerEntries"], reg)

        # Replication latency: one entry per ordered pair of regions.
        pairs = r["ReplicationLatency"]["Pairs"]
        self.assertEqual(sorted((p["Source"], p["Destination"])
                                for p in pairs),
                         sorted((a, b) for a in REGIONS for b in REGIONS
                                if a != b))
        self.assertEqual(r["ReplicationLatency"]["IntervalMs"], 1000)
        for p in pairs:
            if p["Source"] in load and p["Destination"] in regions:
                self.assertGreater(p["Records"], 0, p)
            if p["Records"] > 0:
                self.assertLessEqual(p["P50Ms"], p["P99Ms"])
            self.assertGreaterEqual(len(p["Series"]), DURATION_S - 1)
            self.assertEqual(p["Records"],
                             sum(s["Records"] for s in p["Series"]))

        self.check_svg(os.path.join(out, "lag.svg"))
        self.check_history(os.path.join(out, "history.json"), r)
        for reg in REGIONS:
            self.assertTrue(os.path.exists(os.path.join(out, "logs",
                                                        reg + ".log")))
        with open(os.path.join(out, "cluster.json")) as f:
            cfg = json.load(f)
        self.assertEqual([x["region"] for x in cfg["regions"]],
                         list(REGIONS))

    def check_svg(self, path):
        root = ET.parse(path).getroot()
        self.assertEqual(root.tag, SVG_NS + "svg")
        groups = [g for g in root.iter(SVG_NS + "g")
                  if g.get("class") == "pair"]
        self.assertEqual(sorted((g.get("data-source"),
                                 g.get("data-destination"))
                                for g in groups),
                         sorted((a, b) for a in REGIONS for b in REGIONS
                                if a != b))
        lines = [pl for g in groups for pl in g.iter(SVG_NS + "polyline")]
        self.assertGreater(len(lines), 0)
        for pl in lines:
            for pt in pl.get("points").split():
                x, y = (float(v) for v in pt.split(","))
                self.assertTrue(0 <= x <= 960 and 0 <= y <= 440, pt)
        texts = "".join(t.text or "" for t in root.iter(SVG_NS + "text"))
        self.assertIn("%s → %s" % (US, EU), texts)

    def check_history(self, path, r):
        with open(path) as f:
            h = json.load(f)
        self.assertIsInstance(h, list)
        self.assertEqual(len(h), 2 * r["Load"]["Operations"])
        open_ops = {}
        written = {}
        last_t = -1
        completions = {"ok": 0, "fail": 0, "info": 0}
        write_ok = 0
        for i, ev in enumerate(h):
            self.assertEqual(ev["index"], i)
            self.assertGreaterEqual(ev["time"], last_t)
            last_t = ev["time"]
            self.assertIn(ev["f"], ("write", "read"))
            self.assertIn(ev["region"], REGIONS)
            (mop,) = ev["value"]
            self.assertEqual(mop[0], "w" if ev["f"] == "write" else "r")
            self.assertRegex(mop[1], r"^k\d{5}$")
            p = ev["process"]
            if ev["type"] == "invoke":
                # A process has one operation outstanding at most.
                self.assertNotIn(p, open_ops, ev)
                open_ops[p] = ev
                if ev["f"] == "write":
                    self.assertRegex(mop[2], r"^%s-\d+$" %
                                     re.escape(ev["region"]))
                    self.assertNotIn(mop[2], written)
                    written[mop[2]] = mop[1]
                else:
                    self.assertIsNone(mop[2])
                continue
            self.assertIn(ev["type"], completions)
            inv = open_ops.pop(p)
            completions[ev["type"]] += 1
            self.assertEqual((inv["f"], inv["region"], inv["value"][0][1]),
                             (ev["f"], ev["region"], mop[1]))
            if ev["f"] == "write":
                self.assertEqual(inv["value"], ev["value"])
                write_ok += ev["type"] == "ok"
        self.assertEqual(open_ops, {})
        self.assertEqual(write_ok, r["Load"]["Writes"]["Ok"])
        self.assertEqual(completions["ok"], r["Load"]["Writes"]["Ok"] +
                         r["Load"]["Reads"]["Ok"])
        # Every value read was written, to the same key.
        for ev in h:
            if ev["f"] == "read" and ev["type"] == "ok" and \
                    ev["value"][0][2] is not None:
                self.assertEqual(written.get(ev["value"][0][2]),
                                 ev["value"][0][1], ev)
        return h

    def step(self, r, action):
        return [s for s in r["Steps"] if s["Action"] == action]

    def series(self, r, src, dst):
        (p,) = [p for p in r["ReplicationLatency"]["Pairs"]
                if p["Source"] == src and p["Destination"] == dst]
        return p["Series"]


class ShippedDrillTest(DrillCase):
    """Each scenario of configs/drills/, shortened to 8 s."""

    def scenario(self, name):
        return os.path.join(DRILLS, name + ".json")

    def test_region_outage(self):
        r, out, _ = self.drill(self.scenario("region-outage"))
        self.check_common(r, out)
        crash, = self.step(r, "crash")
        restart, = self.step(r, "restart")
        self.assertTrue(crash["Ok"] and restart["Ok"])
        # Steps keep the scenario's shape: 5 s and 12 s of 20 s.
        self.assertAlmostEqual(crash["AtS"], 2.0)
        self.assertAlmostEqual(restart["AtS"], 4.8)
        self.assertGreaterEqual(crash["ExecutedAtMs"], 2000)
        # RPO: with 38..110 ms one-way delays, eu-west-1 had
        # acknowledged writes that had not reached the others when it
        # died; every one of them arrived after its restart.
        rpo = crash["Rpo"]
        self.assertGreater(rpo["WritesChecked"], 50)
        self.assertGreaterEqual(rpo["UnreplicatedAtFault"], 1)
        self.assertLessEqual(rpo["UnreplicatedAtFault"], rpo["WritesChecked"])
        self.assertLessEqual(rpo["UnreplicatedAnywhere"],
                             rpo["UnreplicatedAtFault"])
        self.assertEqual(rpo["LookupsFailed"], 0)
        self.assertEqual(rpo["LostAfterHeal"], 0)
        self.assertEqual(rpo["DeliveredAfterHeal"],
                         rpo["UnreplicatedAtFault"])
        self.assertEqual(sum(rpo["FatesAfterHeal"].values()),
                         rpo["UnreplicatedAtFault"])
        self.assertIsNotNone(rpo["PendingReplicationAtFault"])
        self.assertEqual(r["Rpo"]["MaxUnreplicatedAtFault"],
                         rpo["UnreplicatedAtFault"])
        # RTO: the other regions never stopped; eu-west-1 itself took
        # writes again only after its restart.
        rto = crash["Rto"]
        self.assertLess(rto["FirstWriteSurvivingMs"], 1000)
        self.assertIn(rto["SurvivingRegion"], (US, AP))
        down_ms = restart["ExecutedAtMs"] - crash["ExecutedAtMs"]
        self.assertGreater(rto["FirstWriteFaultedMs"], down_ms - 50)
        self.assertLess(rto["FirstWriteFaultedMs"], down_ms + 3000)
        self.assertLess(restart["ReadyAfterMs"], 20000)
        self.assertIsNotNone(restart["FirstWriteAfterMs"])
        # Writes sent to the dead region were refused, not lost.
        eu = r["Load"]["ByRegion"][EU]
        self.assertGreater(eu["WritesFailed"], 0)
        self.assertIn("connection refused", r["Load"]["Errors"][EU])
        self.assertEqual(r["Load"]["ByRegion"][US]["WritesFailed"], 0)

    def test_partition_and_heal(self):
        r, out, _ = self.drill(self.scenario("partition-and-heal"))
        self.check_common(r, out)
        part, = self.step(r, "partition")
        heal, = self.step(r, "heal")
        self.assertTrue(part["Ok"] and heal["Ok"])
        self.assertEqual((part["Region"], part["Peer"]), (US, EU))
        # Both sides stayed writable.
        self.assertLess(part["Rto"]["FirstWriteSurvivingMs"], 1000)
        self.assertLess(part["Rto"]["FirstWriteFaultedMs"], 1000)
        self.assertEqual(part["Rpo"]["LostAfterHeal"], 0)
        # The partition held writes back; they crossed after the heal
        # with latencies of about the partition's length.
        self.assertGreater(heal["PendingReplicationBeforeHeal"], 0)
        cut_ms = heal["ExecutedAtMs"] - part["ExecutedAtMs"]
        for a, b in ((US, EU), (EU, US)):
            s = self.series(r, a, b)
            inside = [x for x in s if part["ExecutedAtMs"] + 1200 <=
                      x["TMs"] <= heal["ExecutedAtMs"] - 100]
            self.assertTrue(inside)
            self.assertEqual(sum(x["Records"] for x in inside), 0, (a, b))
            self.assertGreater(max(x["P99Ms"] or 0 for x in s),
                               cut_ms * 0.5, (a, b))
        # ap-northeast-1 kept hearing from both sides.
        s = self.series(r, US, AP)
        self.assertTrue(all(x["Records"] > 0 for x in s
                            if part["ExecutedAtMs"] + 1200 <= x["TMs"] <=
                            heal["ExecutedAtMs"]))
        # Concurrent writes to hot keys on both sides: conflicts, each
        # one in the ledger.
        self.assertGreater(r["Conflicts"]["LedgerEntries"], 0)
        self.assertIsNotNone(heal["CatchUpMs"])

    def test_pause_replication(self):
        r, out, _ = self.drill(self.scenario("pause-replication"))
        self.check_common(r, out)
        pause, = self.step(r, "pause")
        self.assertTrue(pause["Ok"])
        self.assertEqual(pause["Region"], EU)
        # eu-west-1 stayed available.
        self.assertLess(pause["Rto"]["FirstWriteFaultedMs"], 1000)
        # 7 s of 20 s scales to 2.8 s: nothing to or from eu-west-1 is
        # applied inside the pause, while us-east-1 <-> ap-northeast-1
        # replicate as usual.
        start = pause["ExecutedAtMs"]
        end = start + 2800
        for a, b in ((US, EU), (EU, US), (AP, EU), (EU, AP)):
            inside = [x for x in self.series(r, a, b)
                      if start + 1100 <= x["TMs"] <= end - 100]
            self.assertTrue(inside, (a, b))
            self.assertEqual(sum(x["Records"] for x in inside), 0, (a, b))
        for a, b in ((US, AP), (AP, US)):
            inside = [x for x in self.series(r, a, b)
                      if start + 1100 <= x["TMs"] <= end - 100]
            self.assertGreater(sum(x["Records"] for x in inside), 0)

    def test_clock_skew_conflicts(self):
        r, out, _ = self.drill(self.scenario("clock-skew-conflicts"))
        self.check_common(r, out)
        skews = self.step(r, "skew")
        self.assertEqual([(s["Region"], s["Ok"]) for s in skews],
                         [(AP, True), (EU, True)])
        clear, = self.step(r, "clear_faults")
        self.assertTrue(clear["Ok"])
        # Three hot keys written from three regions with skewed clocks:
        # many conflicts, all in the ledgers, all resolved the same way.
        self.assertGreater(r["Conflicts"]["LedgerEntries"], 10)
        self.assertGreater(r["FinalState"]["Fates"]["conflict_loss"], 0)
        self.assertGreater(len(r["FinalState"]["ConflictLosses"]), 0)
        for c in r["FinalState"]["ConflictLosses"]:
            self.assertIn(c["DetectedIn"], REGIONS)

    def test_add_replica_under_load(self):
        r, out, _ = self.drill(self.scenario("add-replica-under-load"))
        self.check_common(r, out, load=(US, EU))
        add, = self.step(r, "add_replica")
        self.assertTrue(add["Ok"], add.get("Error"))
        self.assertEqual((add["Region"], add["Via"]), (AP, US))
        self.assertIsNotNone(add["ReadyAfterMs"])
        self.assertLess(add["ReadyAfterMs"], 20000)
        # The new replica receives both regions' writes from then on.
        for src in (US, EU):
            s = self.series(r, src, AP)
            before = [x for x in s if x["TMs"] < add["ExecutedAtMs"]]
            self.assertEqual(sum(x["Records"] for x in before), 0)
        self.assertNotIn(AP, r["Load"]["ByRegion"])

    def test_flaky_region(self):
        r, out, _ = self.drill(self.scenario("flaky-region"))
        self.check_common(r, out)
        fail, = self.step(r, "fail_requests")
        link, = self.step(r, "link")
        self.assertTrue(fail["Ok"] and link["Ok"])
        self.assertEqual((link["From"], link["To"]), (EU, AP))
        # About 30% of us-east-1's requests failed for 3.2 s; the node
        # says they did nothing, so they are definite failures.
        us = r["Load"]["ByRegion"][US]
        self.assertGreater(us["WritesFailed"], 10)
        self.assertIn("InternalServerError", r["Load"]["Errors"][US])
        self.assertEqual(r["Load"]["ByRegion"][EU]["WritesFailed"], 0)
        # The lossy, jittery link is slower than the others.
        lossy = [p for p in r["ReplicationLatency"]["Pairs"]
                 if (p["Source"], p["Destination"]) == (EU, AP)][0]
        self.assertGreater(lossy["P99Ms"], 50)


class DrillBehaviourTest(DrillCase):
    """Options, replays, replica drops, errors and the progress line."""

    def write_scenario(self, doc, name="s.json"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def test_drop_replica_and_seed_replay(self):
        """A replica dropped under load; the seed fixes every operation
        (region, key, read or write) whatever the timing."""
        s = self.write_scenario({
            "name": "drop", "cluster": "configs/local.json",
            "duration_s": 8, "seed": 99,
            "load": {"rate_per_s": RATE, "keys": 300, "hot_keys": 0,
                     "hot_fraction": 0, "read_fraction": 0.25,
                     "regions": [US, EU]},
            "steps": [{"at_s": 3, "action": "drop_replica",
                       "region": AP}]})
        r, out, _ = self.drill(s, "--seed", 12345)
        self.check_common(r, out, regions=(US, EU), load=(US, EU))
        self.assertFalse(r["DataKept"])
        self.assertFalse(os.path.exists(r["DataDir"]))
        drop, = self.step(r, "drop_replica")
        self.assertTrue(drop["Ok"], drop.get("Error"))
        self.assertIn(drop["Via"], (US, EU))
        self.assertIsNotNone(drop["ReadyAfterMs"])
        self.assertEqual(r["Seed"], 12345)
        h = self.check_history(os.path.join(out, "history.json"), r)
        # Operation n's value names it ("<region>-<n>"); recompute each
        # write's region and key from the seed.
        seen = 0
        for ev in h:
            if ev["type"] != "invoke" or ev["f"] != "write":
                continue
            n = int(ev["value"][0][2].rsplit("-", 1)[1])
            region, is_write, key = predict(12345, n, (US, EU), 0.25, 300)
            self.assertEqual((ev["region"], is_write, ev["value"][0][1]),
                             (region, True, key), n)
            seen += 1
        self.assertGreater(seen, 1000)

    def test_progress_on_a_terminal(self):
        """Without --json on a TTY: one refreshed progress line, events,
        and the readable summary."""
        out = os.path.join(self.tmp, "tty")
        s = self.write_scenario({
            "name": "tty", "cluster": "configs/local.json",
            "duration_s": 4, "load": {"rate_per_s": 100, "keys": 100},
            "steps": [{"at_s": 1, "action": "link", "from": US, "to": EU,
                       "delay_ms": 20}]})
        master, slave = pty.openpty()
        p = subprocess.Popen([CLI, "drill", s, "--out", out], stdout=slave,
                             stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=drill_env(),
                             cwd=REPO)
        os.close(slave)
        text = b""
        deadline = time.monotonic() + DRILL_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                rd, _, _ = select.select([master], [], [], 0.2)
                if rd:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    text += chunk
                elif p.poll() is not None:
                    break
            rc = p.wait(timeout=30)
        finally:
            os.close(master)
            if p.poll() is None:
                p.kill()
                p.wait()
        t = text.decode("utf-8", "replace")
        self.assertEqual(rc, 0, t[-3000:] + p.stderr.read().decode())
        self.assertIn("\r\x1b[K", t)
        self.assertRegex(t, r"\d+ s left, \d+ ops/s, ok \d+")
        self.assertRegex(t, r"link us-east-1 eu-west-1: ok; \d+ "
                            r"acknowledged writes not yet replicated")
        self.assertIn("Drill tty: passed", t)
        self.assertIn("equal in 3 regions", t)
        self.assertRegex(t, r"Final state: \d+ acknowledged writes: \d+ "
                            r"final")
        self.assertIn(out + "/lag.svg", t)

    def test_quiet_prints_nothing(self):
        s = self.write_scenario({
            "name": "q", "cluster": "configs/local.json", "duration_s": 2,
            "load": {"rate_per_s": 50, "keys": 50}})
        rc, stdout, stderr = self.run_cli("drill", s, "--quiet", "--out",
                                          os.path.join(self.tmp, "q"))
        self.assertEqual((rc, stdout, stderr), (0, "", ""))
        with open(os.path.join(self.tmp, "q", "report.json")) as f:
            self.assertEqual(json.load(f)["Result"], "passed")

    def test_attach_to_a_running_cluster(self):
        c = Cluster(name="drill-attach")
        self.addCleanup(c.close)
        c.start()
        cfg = os.path.join(self.tmp, "attach.json")
        with open(cfg, "w") as f:
            json.dump({"regions": [
                {"region": n.region, "host": "127.0.0.1", "port": n.port,
                 "replication": "tcp://127.0.0.1:%d" % c.repl_ports[n.region]}
                for n in c]}, f)
        s = self.write_scenario({
            "name": "attached", "duration_s": 3,
            "load": {"rate_per_s": 100, "keys": 100, "hot_keys": 2,
                     "hot_fraction": 0.3},
            "steps": [{"at_s": 1, "action": "partition", "region": US,
                       "peer": AP}, {"at_s": 2, "action": "heal"}]})
        out = os.path.join(self.tmp, "att")
        rc, stdout, stderr = self.run_cli("drill", s, "--attach", "--config",
                                          cfg, "--json", "--out", out)
        self.assertEqual(rc, 0, stderr)
        r = json.loads(stdout)
        self.assertEqual(r["Mode"], "attached")
        self.assertTrue(r["Converged"])
        self.assertEqual(r["LostWrites"], 0)
        self.assertRegex(r["Table"], r"^drill-\d+$")
        # The drill's table is in the cluster, equal everywhere.
        d = c.wait_converged(r["Table"], items=r["Heal"]["Items"])
        self.assertEqual({x["Digest"] for x in d.values()},
                         {r["Heal"]["Digest"]})
        # heal restored the links: none is left partitioned.
        for n in c:
            _, _, body = n.http_get("/admin/links")
            for link in json.loads(body)["Links"]:
                self.assertFalse(link["Partition"], link)
        # Crash and restart need processes the drill owns.
        s2 = self.write_scenario({"name": "x", "duration_s": 3, "steps": [
            {"at_s": 1, "action": "crash", "region": US}]}, "x.json")
        rc, _, err = self.run_cli("drill", s2, "--attach", "--config", cfg)
        self.assertEqual(rc, 2)
        self.assertIn("crash needs a cluster the drill starts itself", err)

    def test_interrupt_stops_cleanly(self):
        """SIGINT: the load stops, the nodes stop, the data goes; the
        report says interrupted and draws no verdict on lost writes."""
        s = self.write_scenario({
            "name": "int", "cluster": "configs/local.json",
            "duration_s": 30, "load": {"rate_per_s": 100, "keys": 100},
            "steps": [{"at_s": 1, "action": "crash", "region": EU}]})
        out = os.path.join(self.tmp, "int")
        p = subprocess.Popen([CLI, "drill", s, "--out", out, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=drill_env(),
                             cwd=REPO, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not os.path.exists(
                    os.path.join(out, "cluster.json")):
                time.sleep(0.1)
            time.sleep(2.5)
            p.send_signal(signal.SIGINT)
            stdout, stderr = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, stderr)
        r = json.loads(stdout)
        self.assertEqual(r["Result"], "failed")
        self.assertEqual(r["Failures"], ["interrupted"])
        self.assertIsNone(r["FinalState"])
        self.assertLess(r["Heal"]["LoadEndMs"], 15000)
        self.assertTrue(r["Steps"][0]["Done"])
        self.assertIsNone(r["Steps"][0]["Rpo"]["LostAfterHeal"])
        self.assertFalse(os.path.exists(r["DataDir"]))
        # Every node is gone: nothing answers on the drill's ports.
        with open(os.path.join(out, "cluster.json")) as f:
            cfg = json.load(f)
        for reg in cfg["regions"]:
            with socket.socket() as sock:
                sock.settimeout(2)
                self.assertNotEqual(sock.connect_ex(
                    ("127.0.0.1", reg["port"])), 0, reg)

    def test_scenario_errors(self):
        cases = [
            ({"duration_s": 5, "lod": {}}, 'unknown key "lod"'),
            ({"duration_s": 5, "steps": [{"at_s": 6, "action": "heal"}]},
             '"at_s" 6 is not before the end of the drill'),
            ({"steps": [{"at_s": 1, "action": "explode"}]},
             'unknown action "explode"'),
            ({"steps": [{"at_s": 1, "action": "crash"}]},
             'steps[0] (crash): "region" is required'),
            ({"load": {"rate_per_s": 0}},
             'load: "rate_per_s" must be from 1 to 20000'),
            ({"load": {"keys": 10, "hot_keys": 11}},
             '"hot_keys" (11) is more than "keys" (10)'),
            ({"steps": [{"at_s": 1, "action": "skew", "region": US,
                         "skew_ms": "fast"}]}, '"skew_ms" must be a number'),
        ]
        for doc, msg in cases:
            s = self.write_scenario(doc)
            rc, stdout, stderr = self.run_cli("drill", s, timeout=30)
            self.assertEqual(rc, 2, (doc, stderr))
            self.assertIn(msg, stderr, doc)
            self.assertEqual(stdout, "")
        rc, _, err = self.run_cli("drill", timeout=30)
        self.assertEqual(rc, 2)
        self.assertIn("a scenario file is required", err)
        rc, _, err = self.run_cli("drill", os.path.join(self.tmp, "none.json"),
                                  timeout=30)
        self.assertEqual(rc, 2)
        self.assertIn("No such file or directory", err)
        rc, _, err = self.run_cli("drill", s, "--duration", "0", timeout=30)
        self.assertEqual(rc, 2)
        self.assertIn("--duration", err)
        rc, out, _ = self.run_cli("drill", "--help", timeout=30)
        self.assertEqual(rc, 0)
        self.assertIn("Usage: meridian drill SCENARIO.json", out)

    def test_unknown_region_is_a_usage_error(self):
        s = self.write_scenario({
            "duration_s": 3, "steps": [{"at_s": 1, "action": "isolate",
                                        "region": "mars-1"}]})
        rc, stdout, stderr = self.run_cli("drill", s, "--out",
                                          os.path.join(self.tmp, "u"))
        self.assertEqual(rc, 2, stderr)
        self.assertIn("region mars-1 is not in the cluster", stderr)


# ------------------------------------------------------- seed prediction

M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def unit(h):
    return (h >> 11) * (1.0 / 9007199254740992.0)


def predict(seed, i, regions, read_fraction, keys, hot_keys=0,
            hot_fraction=0.0):
    """Operation i of the drill's load, as drill_load.c draws it:
    (region, is_write, key)."""
    h = splitmix64(seed ^ splitmix64(i))
    region = regions[h % len(regions)]
    h = splitmix64(h)
    is_write = unit(h) >= read_fraction
    h = splitmix64(h)
    if hot_keys > 0 and unit(h) < hot_fraction:
        k = splitmix64(h) % hot_keys
    else:
        k = splitmix64(h) % keys
    return region, is_write, "k%05d" % k


if __name__ == "__main__":
    unittest.main()
