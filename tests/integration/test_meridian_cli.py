"""The operator command `meridian` (bin/meridian) against real region-node
clusters, and against a small in-process fake node where the behaviour
under test is the client's own (progress display, request bodies, unit
parsing, error mapping).

Environment:
  MERIDIAN_CLI   path of the meridian binary (default <repo>/bin/meridian)
"""

import http.server
import json
import os
import pty
import re
import select
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (Cluster, NodeTestCase, NodeError, free_port, wait_for,
                     HOST, REPO, CLUSTER_REGIONS)

CLI = os.environ.get("MERIDIAN_CLI", os.path.join(REPO, "bin", "meridian"))
US, EU, AP = CLUSTER_REGIONS
CLI_TIMEOUT_S = 120.0

UNREACHABLE_RE = re.compile(
    r"^meridian: (\S+) \((http://127\.0\.0\.1:\d+)\) is unreachable: "
    r"connection refused$", re.M)


# ------------------------------------------------------------------ helpers

def run_cli(*args, config=None, timeout=CLI_TIMEOUT_S, env=None):
    """Runs meridian; returns (rc, stdout, stderr)."""
    cmd = [CLI]
    if config is not None:
        cmd += ["--config", config]
    cmd += list(args)
    e = dict(os.environ)
    e.pop("MERIDIAN_CONFIG", None)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=e)
    return p.returncode, p.stdout, p.stderr


def run_cli_tty(*args, config=None, timeout=CLI_TIMEOUT_S):
    """Runs meridian with stdout on a pseudo-terminal; returns (rc, the
    terminal output, stderr)."""
    cmd = [CLI, "--config", config] + list(args)
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
    return rc, out.decode("utf-8", "replace"), p.stderr.read().decode()


def write_config(path, regions):
    """regions: [(name, port, replication URL or None)]."""
    cfg = {"regions": [dict({"region": n, "host": HOST, "port": p},
                            **({"replication": r} if r else {}))
                       for n, p, r in regions]}
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def histogram_quantile(buckets, q):
    """Prometheus' histogram_quantile over [(le, cumulative count)]."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lo, prev = 0.0, 0.0
    for le, cum in buckets:
        if cum >= rank:
            if le == float("inf"):
                finite = [b for b, _ in buckets if b != float("inf")]
                return finite[-1] if finite else 0.0
            if cum - prev <= 0:
                return le
            return lo + (le - lo) * (rank - prev) / (cum - prev)
        lo, prev = le, cum
    return None


def dynamo_table(name, items):
    return {"TableName": name, "TableStatus": "ACTIVE", "ItemCount": items}


# ------------------------------------------------------------ a fake node

class FakeNode:
    """An HTTP server on 127.0.0.1 that answers like a region node for the
    calls the CLI makes, with scripted state.  Every request is recorded
    in self.requests as (method, path, headers dict, parsed JSON body)."""

    def __init__(self, region):
        self.region = region
        self.requests = []
        self.lock = threading.Lock()
        self.links = None          # None: /admin/links answers 404
        self.membership = None     # None: /admin/cluster answers 404
        self.tables = {}           # name -> description
        self.replica_script = []   # DescribeTable replica states, played
        self.playing = False       # once a replica change was accepted
        self.update_error = None   # (type, message) for UpdateTable
        self.drop_detached = []
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, obj, ctype="application/json"):
                body = obj if isinstance(obj, bytes) else \
                    json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return raw

            def do_GET(self):
                node._record("GET", self.path, self.headers, None)
                status, obj = node.get(self.path)
                self._send(status, obj, "text/plain" if isinstance(
                    obj, bytes) else "application/json")

            def do_POST(self):
                body = self._body()
                node._record("POST", self.path, self.headers, body)
                status, obj = node.post(self.path, self.headers, body)
                self._send(status, obj, "application/x-amz-json-1.0")

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _record(self, method, path, headers, body):
        with self.lock:
            self.requests.append((method, path, dict(headers), body))

    def posts(self, path):
        with self.lock:
            return [b for m, p, _, b in self.requests
                    if m == "POST" and p == path]

    def targets(self):
        with self.lock:
            return [h.get("X-Amz-Target") for m, p, h, _ in self.requests
                    if m == "POST" and p == "/"]

    # ------------------------------------------------------------ answers

    def get(self, path):
        if path == "/health":
            return 200, {"status": "ok", "region": self.region}
        if path == "/admin/cluster" and self.membership is not None:
            return 200, self.membership
        if path == "/admin/links" and self.links is not None:
            return 200, {"Links": list(self.links.values())}
        if path == "/admin/replication":
            return 200, {"region": self.region, "head_seq": 0, "peers": []}
        if path == "/metrics":
            return 200, ('meridian_conflicts_total{region="%s"} 0\n'
                         % self.region).encode()
        return 404, b"404 page not found"

    def post(self, path, headers, body):
        if path == "/":
            return self.dynamo(headers.get("X-Amz-Target", ""), body or {})
        if path == "/admin/link" and self.links is not None:
            key = (body["From"], body["To"])
            self.links[key] = dict(body)
            return 200, {"Links": list(self.links.values())}
        if path == "/admin/cluster/join" and self.membership is not None:
            m = json.loads(json.dumps(self.membership))
            m["Epoch"] += 1
            m["ChangedBy"] = self.region
            m["Regions"].append({"Region": body["Region"],
                                 "Api": body["Api"],
                                 "Replication": body["Replication"]})
            self.membership = m
            return 200, m
        if path == "/admin/cluster/leave" and self.membership is not None:
            m = json.loads(json.dumps(self.membership))
            left = [r for r in m["Regions"] if r["Region"] != body["Region"]]
            if len(left) == len(m["Regions"]):
                return 404, {"error": "not a member of the cluster"}
            m["Regions"] = left
            m["Epoch"] += 1
            self.membership = m
            return 200, m
        if path == "/admin/replica/drop":
            self.playing = True
            self.drop_detached.append(body)
            t = self.tables.get(body.get("TableName"))
            if t is not None:
                t["Replicas"] = [r for r in t.get("Replicas", [])
                                 if r["RegionName"] != body["RegionName"]]
            return 200, {"TableDescription": t}
        return 404, b"404 page not found"

    def err(self, kind, msg, status=400):
        return status, {"__type": "com.amazonaws.dynamodb.v20120810#" +
                        kind, "message": msg}

    def dynamo(self, target, body):
        op = target.split(".")[-1]
        name = body.get("TableName")
        if op == "ListTables":
            return 200, {"TableNames": sorted(self.tables)}
        if name not in self.tables:
            return self.err("ResourceNotFoundException",
                            "Requested resource not found: Table: %s not "
                            "found" % name)
        t = self.tables[name]
        if op == "DescribeTable":
            if self.playing and self.replica_script:
                step = self.replica_script.pop(0)
                t["Replicas"] = step
            return 200, {"Table": t}
        if op == "UpdateTable":
            if self.update_error is not None:
                return self.err(*self.update_error)
            self.playing = True
            return 200, {"TableDescription": dict(t,
                                                  TableStatus="UPDATING")}
        return self.err("UnknownOperationException", "no " + op)


def replica_entry(region, status, pct=None):
    e = {"RegionName": region, "ReplicaStatus": status}
    if pct is not None:
        e["ReplicaStatusPercentProgress"] = str(pct)
    return e


# ----------------------------------------------------- no nodes needed

class CliUsageTest(unittest.TestCase):
    """Usage, help, config errors and unreachable nodes."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(CLI):
            raise unittest.SkipTest("meridian binary not found: %s" % CLI)
        cls.tmp = tempfile.mkdtemp(prefix="meridian-cli-")
        cls.dead = [(US, free_port(), None), (EU, free_port(), None)]
        cls.cfg = write_config(os.path.join(cls.tmp, "dead.json"), cls.dead)

    @classmethod
    def tearDownClass(cls):
        for f in os.listdir(cls.tmp):
            os.unlink(os.path.join(cls.tmp, f))
        os.rmdir(cls.tmp)

    def test_help_documents_commands_and_exit_codes(self):
        rc, out, err = run_cli("--help")
        self.assertEqual(rc, 0, err)
        for word in ("status", "verify", "replica add", "replica drop",
                     "region join", "region leave", "region list",
                     "link set", "link show", "--config", "--json",
                     "--quiet", "--timeout"):
            self.assertIn(word, out)
        for code in ("0  success", "1  the operation failed",
                     "2  usage error", "3  a node could not be reached"):
            self.assertIn(code, out)
        for cmd in (["status"], ["verify"], ["replica", "add"],
                    ["replica", "drop"], ["region", "join"],
                    ["region", "list"], ["link", "set"], ["link", "show"]):
            rc, out, err = run_cli(*(cmd + ["--help"]))
            self.assertEqual(rc, 0, (cmd, err))
            self.assertTrue(out.startswith("Usage: meridian " + cmd[0]),
                            (cmd, out[:80]))
            self.assertIn("Exit status", out)
        rc, out, _ = run_cli("help", "link")
        self.assertEqual(rc, 0)
        self.assertIn("--bandwidth", out)

    def test_usage_errors_exit_2(self):
        cases = [
            ([], None),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["--bogus", "status"], "unknown option '--bogus'"),
            (["status", "extra"], "status takes no argument"),
            (["--timeout", "soon", "status"], "--timeout"),
            (["--timeout"], "--timeout needs a value"),
            (["replica"], None),
            (["replica", "add", "Music"], "needs TABLE and REGION"),
            (["replica", "grow", "Music", EU], "unknown replica command"),
            (["replica", "add", "Music", EU, "--keep-detached"],
             "unknown option '--keep-detached'"),
            (["region", "join", "sa-east-1"], "needs --api URL"),
            (["region", "join", "sa-east-1", "--api", "ftp://x:1",
              "--replication", "tcp://x:2"], "--api"),
            (["region", "join", "sa-east-1", "--api", "http://x:1",
              "--replication", "http://x:2"], "--replication"),
            (["region", "leave"], "needs the region NAME"),
            (["region", "list", "extra"], "unexpected argument"),
            (["link", "set", US], "needs FROM and TO"),
            (["link", "set", US, EU], "needs at least one"),
            (["link", "set", US, US, "--delay", "5ms"], "the same region"),
            (["link", "set", US, EU, "--delay", "38parsecs"], "--delay"),
            (["link", "set", US, EU, "--delay", "-5ms"], "--delay"),
            (["link", "set", US, EU, "--loss", "150%"], "--loss"),
            (["link", "set", US, EU, "--bandwidth", "10furlongs"],
             "--bandwidth"),
            (["link", "set", US, EU, "--partition", "maybe"],
             "--partition"),
            (["verify", "x"], "not a table name"),
        ]
        for args, msg in cases:
            rc, out, err = run_cli(*args, config=self.cfg)
            self.assertEqual(rc, 2, (args, out, err))
            if msg is not None:
                self.assertIn(msg, err, args)
                self.assertTrue(err.startswith("meridian: "), err)

    def test_bad_config_exit_2(self):
        missing = os.path.join(self.tmp, "missing.json")
        rc, _, err = run_cli("status", config=missing)
        self.assertEqual(rc, 2)
        self.assertIn(missing, err)
        bad = os.path.join(self.tmp, "bad.json")
        for text, msg in (("{not json", "not a JSON object"),
                          ('{"regions": []}', "non-empty"),
                          ('{"regions": [{"host": "h"}]}', "\"region\""),
                          ('{"regions": [{"region": "a", "port": "x"}]}',
                           "\"port\""),
                          ('{"cluster_key": "k"}', "no \"regions\"")):
            with open(bad, "w") as f:
                f.write(text)
            rc, _, err = run_cli("verify", config=bad)
            self.assertEqual(rc, 2, text)
            self.assertIn(msg, err, text)
        # The default comes from MERIDIAN_CONFIG.
        rc, _, err = run_cli("status", env={"MERIDIAN_CONFIG": missing})
        self.assertEqual(rc, 2)
        self.assertIn(missing, err)

    def test_unreachable_exit_3(self):
        for args in (["status"], ["verify"], ["verify", "Music"],
                     ["region", "list"], ["link", "show"],
                     ["replica", "add", "Music", EU],
                     ["region", "leave", EU]):
            rc, out, err = run_cli(*args, config=self.cfg)
            self.assertEqual(rc, 3, (args, out, err))
            found = dict(UNREACHABLE_RE.findall(err))
            self.assertIn(US, found, (args, err))
            self.assertEqual(found[US], "http://127.0.0.1:%d" %
                             self.dead[0][1])
        rc, out, err = run_cli("--json", "status", config=self.cfg)
        self.assertEqual(rc, 3)
        doc = json.loads(out)
        self.assertEqual([r["Reachable"] for r in doc["Regions"]],
                         [False, False])
        self.assertEqual(doc["Regions"][0]["Error"], "connection refused")

    def test_silent_node_times_out(self):
        # Accepts connections (the kernel does) but never answers.
        s = socket.socket()
        s.bind((HOST, 0))
        s.listen(16)
        self.addCleanup(s.close)
        cfg = write_config(os.path.join(self.tmp, "silent.json"),
                           [(US, s.getsockname()[1], None)])
        t0 = time.monotonic()
        rc, _, err = run_cli("--timeout", "1", "status", config=cfg,
                             timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(rc, 3, err)
        self.assertIn("meridian: us-east-1 (http://127.0.0.1:%d) is "
                      "unreachable: timed out after 1 s" %
                      s.getsockname()[1], err)
        # Discovery and status each wait once per request: a few seconds,
        # not forever.
        self.assertLess(took, 15.0)


# ------------------------------------------------- fake-node behaviour

class CliFakeNodeTest(unittest.TestCase):
    """The client's side of link shaping, replica progress and membership
    changes, against fake nodes that record what they receive."""

    def setUp(self):
        if not os.path.exists(CLI):
            self.skipTest("meridian binary not found: %s" % CLI)
        self.nodes = {r: FakeNode(r) for r in (US, EU)}
        for n in self.nodes.values():
            self.addCleanup(n.close)
        fd, self.cfg = tempfile.mkstemp(prefix="meridian-cli-",
                                        suffix=".json")
        os.close(fd)
        self.addCleanup(os.unlink, self.cfg)
        write_config(self.cfg, [(r, n.port, "tcp://127.0.0.1:1")
                                for r, n in self.nodes.items()])

    def cli(self, *args, **kw):
        return run_cli(*args, config=self.cfg, **kw)

    # ------------------------------------------------------------ links

    def test_link_set_units_and_merge(self):
        eu = self.nodes[EU]
        eu.links = {(US, EU): {"From": US, "To": EU, "DelayMs": 80,
                               "JitterMs": 0, "LossPct": 0,
                               "BandwidthKbps": 0, "Partition": False}}
        rc, out, err = self.cli("link", "set", US, EU, "--jitter", "4ms",
                                "--loss", "0.5%", "--bandwidth", "10mbit")
        self.assertEqual(rc, 0, err)
        self.assertEqual(eu.posts("/admin/link")[-1], {
            "From": US, "To": EU, "DelayMs": 80, "JitterMs": 4,
            "LossPct": 0.5, "BandwidthKbps": 10000, "Partition": False})
        self.assertEqual(out.strip(), "us-east-1 -> eu-west-1: delay 80 ms, "
                         "jitter 4 ms, loss 0.5%, bandwidth 10 mbit/s, "
                         "partition off")
        # Only TO's node is asked to change.
        self.assertEqual(self.nodes[US].posts("/admin/link"), [])
        cases = [
            (["--delay", "1.5s"], "DelayMs", 1500),
            (["--delay", "38"], "DelayMs", 38),
            (["--delay", "250us"], "DelayMs", 0),
            (["--loss", "2"], "LossPct", 2),
            (["--bandwidth", "512kbit"], "BandwidthKbps", 512),
            (["--bandwidth", "100kbps"], "BandwidthKbps", 100),
            (["--bandwidth", "1gbit"], "BandwidthKbps", 1000000),
            (["--bandwidth", "2mbps"], "BandwidthKbps", 2000),
            (["--bandwidth", "800"], "BandwidthKbps", 800),
            (["--bandwidth", "unlimited"], "BandwidthKbps", 0),
            (["--partition", "on"], "Partition", True),
            (["--partition", "off"], "Partition", False),
        ]
        # EU -> US is set on us-east-1, which does not support shaping.
        rc, _, err = self.cli("link", "set", EU, US, "--delay", "5ms")
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip(),
                         "meridian: link shaping is not supported by "
                         "us-east-1")
        self.nodes[US].links = {}
        for args, field, want in cases:
            rc, _, err = self.cli("link", "set", EU, US, *args)
            self.assertEqual(rc, 0, (args, err))
            self.assertEqual(self.nodes[US].posts("/admin/link")[-1][field],
                             want, args)
        # --clear resets everything, then applies what is given.
        rc, _, err = self.cli("link", "set", US, EU, "--clear", "--delay",
                              "5ms", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(eu.posts("/admin/link")[-1], {
            "From": US, "To": EU, "DelayMs": 5, "JitterMs": 0,
            "LossPct": 0, "BandwidthKbps": 0, "Partition": False})
        # Unknown regions are a usage error.
        rc, _, err = self.cli("link", "set", US, "mars-1", "--delay", "1")
        self.assertEqual(rc, 2)
        self.assertIn("mars-1 is not a region of the cluster", err)

    def test_link_show(self):
        self.nodes[EU].links = {(US, EU): {
            "From": US, "To": EU, "DelayMs": 38, "JitterMs": 4,
            "LossPct": 0.5, "BandwidthKbps": 10000, "Partition": True}}
        rc, out, err = self.cli("link", "show")
        self.assertEqual(rc, 1)  # us-east-1 does not support it
        self.assertIn("link shaping is not supported by us-east-1", err)
        row = [ln.split() for ln in out.splitlines() if ln.startswith(US)]
        self.assertEqual(row, [[US, "->", EU, "38", "ms", "4", "ms", "0.5%",
                                "10", "mbit/s", "ON", "-", "-"]])
        self.nodes[US].links = {}
        rc, out, err = self.cli("--json", "link", "show")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["Unsupported"], [])
        self.assertEqual(doc["Links"], [{
            "From": US, "To": EU, "DelayMs": 38, "JitterMs": 4,
            "LossPct": 0.5, "BandwidthKbps": 10000, "Partition": True,
            "ReportedBy": EU}])

    # ---------------------------------------------------------- replicas

    def test_replica_add_progress_lines(self):
        us = self.nodes[US]
        us.tables["Music"] = dynamo_table("Music", 10)
        us.replica_script = [
            [replica_entry(US, "ACTIVE"), replica_entry(EU, "CREATING", 0)],
            [replica_entry(US, "ACTIVE"), replica_entry(EU, "CREATING", 40)],
            [replica_entry(US, "ACTIVE"), replica_entry(EU, "CREATING", 40)],
            [replica_entry(US, "ACTIVE"), replica_entry(EU, "CREATING", 90)],
            [replica_entry(US, "ACTIVE"), replica_entry(EU, "ACTIVE")],
        ]
        rc, out, err = self.cli("replica", "add", "Music", EU)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), [
            "Music: adding the replica in eu-west-1 (request sent to "
            "us-east-1)",
            "Music: replica eu-west-1 CREATING 0%",
            "Music: replica eu-west-1 CREATING 40%",
            "Music: replica eu-west-1 CREATING 90%",
            out.splitlines()[-1]])
        self.assertRegex(out.splitlines()[-1],
                         r"^Music: the replica in eu-west-1 is ACTIVE "
                         r"\(\d+\.\d s\)$")
        ut = us.posts("/")
        upd = [b for b in ut if "ReplicaUpdates" in b]
        self.assertEqual(upd, [{"TableName": "Music", "ReplicaUpdates": [
            {"Create": {"RegionName": EU}}]}])
        # The DynamoDB headers.
        with us.lock:
            hdrs = [h for m, p, h, b in us.requests if p == "/" and b and
                    "ReplicaUpdates" in b][0]
        self.assertEqual(hdrs["X-Amz-Target"], "DynamoDB_20120810.UpdateTable")
        self.assertEqual(hdrs["Content-Type"], "application/x-amz-json-1.0")
        self.assertTrue(hdrs["Authorization"])

    def test_replica_add_progress_bar_on_tty(self):
        us = self.nodes[US]
        us.tables["Music"] = dynamo_table("Music", 10)
        us.replica_script = [
            [replica_entry(EU, "CREATING", 50)],
            [replica_entry(EU, "ACTIVE")]]
        rc, out, err = run_cli_tty("replica", "add", "Music", EU,
                                   config=self.cfg)
        self.assertEqual(rc, 0, err)
        self.assertIn("\rMusic -> eu-west-1  [" + "#" * 15 + "." * 15 +
                      "]  50%", out)
        self.assertIn("[" + "#" * 30 + "] 100%", out)

    def test_replica_add_quiet_json_and_failures(self):
        us = self.nodes[US]
        us.tables["Music"] = dynamo_table("Music", 10)
        us.replica_script = [[replica_entry(EU, "CREATING", 10)],
                             [replica_entry(EU, "ACTIVE")]]
        rc, out, err = self.cli("--quiet", "replica", "add", "Music", EU)
        self.assertEqual((rc, out, err), (0, "", ""))
        us.replica_script = [[replica_entry(EU, "ACTIVE")]]
        rc, out, err = self.cli("replica", "add", "Music", EU, "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["TableName"], doc["RegionName"],
                          doc["Source"], doc["ReplicaStatus"]),
                         ("Music", EU, US, "ACTIVE"))
        # CREATION_FAILED ends the wait with exit 1.
        us.replica_script = [[replica_entry(EU, "CREATING", 10)],
                             [dict(replica_entry(EU, "CREATION_FAILED"),
                                   ReplicaStatusDescription="disk full")]]
        rc, out, err = self.cli("replica", "add", "Music", EU)
        self.assertEqual(rc, 1)
        self.assertIn("meridian: us-east-1 (http://127.0.0.1:%d): creating "
                      "the replica of Music in eu-west-1 failed "
                      "(CREATION_FAILED): disk full" % us.port, err)
        # A replica that never finishes: bounded by --timeout.
        us.replica_script = [[replica_entry(EU, "CREATING", 5)]] * 100
        t0 = time.monotonic()
        rc, out, err = self.cli("--timeout", "1.5", "replica", "add",
                                "Music", EU)
        self.assertEqual(rc, 1)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("timed out after 2 s waiting for the replica of Music "
                      "in eu-west-1 to become ACTIVE (last status: "
                      "CREATING)", err)
        # DynamoDB errors are printed with their message.
        us.replica_script = []
        us.update_error = ("ValidationException", "One or more parameter "
                           "values were invalid: Region mars-1 is not a "
                           "region of this cluster")
        rc, out, err = self.cli("replica", "add", "Music", "mars-1")
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip(), "meridian: us-east-1 "
                         "(http://127.0.0.1:%d): ValidationException: One or "
                         "more parameter values were invalid: Region mars-1 "
                         "is not a region of this cluster" % us.port)
        # --no-wait returns once the change is accepted.
        us.update_error = None
        n = len(us.targets())
        rc, out, err = self.cli("replica", "add", "Music", EU, "--no-wait")
        self.assertEqual(rc, 0, err)
        self.assertEqual(us.targets()[n:],
                         ["DynamoDB_20120810.DescribeTable",
                          "DynamoDB_20120810.UpdateTable"])
        # A table nobody holds.
        rc, out, err = self.cli("replica", "add", "Nothing", EU)
        self.assertEqual(rc, 1)
        self.assertIn("table Nothing does not exist in any region", err)

    def test_replica_drop(self):
        us = self.nodes[US]
        us.tables["Music"] = dynamo_table("Music", 10)
        us.replica_script = [[replica_entry(US, "ACTIVE"),
                              replica_entry(EU, "ACTIVE")],
                             [replica_entry(US, "ACTIVE")]]
        rc, out, err = self.cli("replica", "drop", "Music", EU)
        self.assertEqual(rc, 0, err)
        self.assertIn({"TableName": "Music", "ReplicaUpdates": [
            {"Delete": {"RegionName": EU}}]}, us.posts("/"))
        self.assertRegex(out.splitlines()[-1],
                         r"^Music: the replica in eu-west-1 is dropped")
        us.replica_script = []
        us.tables["Music"]["Replicas"] = [replica_entry(US, "ACTIVE"),
                                          replica_entry(EU, "ACTIVE")]
        rc, out, err = self.cli("replica", "drop", "Music", EU,
                                "--keep-detached")
        self.assertEqual(rc, 0, err)
        self.assertEqual(us.drop_detached, [{"TableName": "Music",
                                             "RegionName": EU,
                                             "KeepDetached": True}])
        self.assertIn("kept as a regional table", out)

    # -------------------------------------------------------- membership

    def test_membership_discovery_join_leave(self):
        base = {"Epoch": 3, "ChangedBy": US, "Regions": [
            {"Region": US, "Api": "http://127.0.0.1:%d" %
             self.nodes[US].port, "Replication": "tcp://127.0.0.1:1"},
            {"Region": EU, "Api": "http://127.0.0.1:%d" %
             self.nodes[EU].port, "Replication": "tcp://127.0.0.1:2"}]}
        self.nodes[US].membership = json.loads(json.dumps(base))
        newer = json.loads(json.dumps(base))
        newer["Epoch"] = 5
        newer["ChangedBy"] = EU
        newer["Regions"].append({"Region": "sa-east-1",
                                 "Api": "http://127.0.0.1:0",
                                 "Replication": "tcp://127.0.0.1:3"})
        self.nodes[EU].membership = newer
        # The highest epoch wins; a member without a usable URL is shown.
        rc, out, err = self.cli("region", "list", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["Source"], doc["Epoch"], doc["ServedBy"]),
                         ("membership", 5, EU))
        self.assertEqual([(r["Region"], r["Reachable"])
                          for r in doc["Regions"]],
                         [(US, True), (EU, True), ("sa-east-1", False)])
        rc, out, err = self.cli("region", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("Membership epoch 5 (changed by eu-west-1), read from "
                      "eu-west-1", out)
        self.assertRegex(out, r"(?m)^sa-east-1\s+-\s+tcp://127\.0\.0\.1:3"
                         r"\s+unreachable$")
        # join goes to the first reachable member; --via picks one.
        rc, out, err = self.cli("region", "join", "me-south-1", "--api",
                                "http://127.0.0.1:9", "--replication",
                                "tcp://127.0.0.1:10")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.nodes[US].posts("/admin/cluster/join"), [
            {"Region": "me-south-1", "Api": "http://127.0.0.1:9",
             "Replication": "tcp://127.0.0.1:10"}])
        self.assertIn("me-south-1 joined the cluster (through us-east-1).  "
                      "Membership epoch 4:", out)
        rc, out, err = self.cli("region", "leave", "sa-east-1", "--via", EU,
                                "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.nodes[EU].posts("/admin/cluster/leave"),
                         [{"Region": "sa-east-1"}])
        self.assertEqual([r["Region"] for r in json.loads(out)["Regions"]],
                         [US, EU])
        rc, out, err = self.cli("region", "leave", "mars-1", "--via", EU)
        self.assertEqual(rc, 1)
        self.assertIn("not a member of the cluster", err)
        rc, out, err = self.cli("region", "leave", EU, "--via", "mars-1")
        self.assertEqual(rc, 2)
        # A node without membership support.
        self.nodes[US].membership = None
        self.nodes[EU].membership = None
        rc, out, err = self.cli("region", "join", "me-south-1", "--api",
                                "http://127.0.0.1:9", "--replication",
                                "tcp://127.0.0.1:10")
        self.assertEqual(rc, 1)
        self.assertIn("cluster membership changes are not supported by this "
                      "node", err)


# ---------------------------------------------------------- real clusters

class CliClusterTest(NodeTestCase):
    """status, verify and region list against a real three-region cluster
    (global tables on).  Tests use their own tables and leave every region
    running and replicating."""

    START_NODE = False
    ITEMS = 40

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(CLI):
            raise unittest.SkipTest("meridian binary not found: %s" % CLI)
        cls.cluster = Cluster(name="cli")
        cls.addClassCleanup(cls.cluster.close)
        cls.cluster.start()
        cls.tmp = tempfile.mkdtemp(prefix="meridian-cli-")
        cls.cfg = os.path.join(cls.tmp, "cluster.json")
        c = cls.cluster[US].client()
        c.create_table(TableName="cli_music", AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        for i in range(cls.ITEMS):
            c.put_item(TableName="cli_music",
                       Item={"pk": {"S": "k%03d" % i}, "v": {"N": str(i)}})
        cls.cluster.wait_converged("cli_music", items=cls.ITEMS)

    @classmethod
    def tearDownClass(cls):
        for n in cls.cluster:
            if n.alive():
                n.stop()
        try:
            for f in os.listdir(cls.tmp):
                os.unlink(os.path.join(cls.tmp, f))
            os.rmdir(cls.tmp)
        except OSError:
            pass

    def setUp(self):
        self.cluster.start()

    def cli(self, *args, **kw):
        """Runs meridian with a config naming every region's current
        port (ports change when a node restarts)."""
        write_config(self.cfg, [(n.region, n.port, "tcp://127.0.0.1:%d" %
                                 self.cluster.repl_ports[n.region])
                                for n in self.cluster])
        return run_cli(*args, config=self.cfg, **kw)

    # ------------------------------------------------------------- status

    def test_status_text(self):
        self.cluster.wait_links_idle()
        rc, out, err = self.cli("status")
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        for n in self.cluster:
            self.assertRegex(out, r"(?m)^%s\s+%s\s+up\s+\d+\s+\d+\s+0$" % (
                re.escape(n.region), re.escape(n.endpoint)))
            self.assertRegex(out, r"(?m)^cli_music\s+%s\s+ACTIVE\s+%d\s" % (
                re.escape(n.region), self.ITEMS))
        # One link per ordered pair, none behind.
        links = re.findall(r"(?m)^(\S+)\s+->\s+(\S+)\s+\S+\s+(\d+)\s+(\d+)"
                           r"\s+(\d+)\s+(\d+)\s", out)
        self.assertEqual(sorted((a, b) for a, b, *_ in links),
                         sorted((a, b) for a in CLUSTER_REGIONS
                                for b in CLUSTER_REGIONS if a != b))
        for a, b, applied, head, behind, pending in links:
            self.assertEqual((applied, behind, pending),
                             (head, "0", "0"), (a, b))
        # Header columns line up with their values (right-aligned
        # numbers end where their header ends).
        lines = out.splitlines()
        hdr = [ln for ln in lines if ln.startswith("REGION")][0]
        row = [ln for ln in lines if ln.startswith(US + " ")][0]
        self.assertEqual(len(hdr), len(row))

    def test_status_json_matches_cluster(self):
        self.cluster.wait_links_idle()
        rc, out, err = self.cli("--json", "status")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual([r["Region"] for r in doc["Regions"]],
                         list(CLUSTER_REGIONS))
        repl = {n.region: n.replication() for n in self.cluster}
        mets = {n.region: n.metrics() for n in self.cluster}
        conflicts = 0
        for r in doc["Regions"]:
            n = self.cluster[r["Region"]]
            self.assertTrue(r["Reachable"])
            self.assertEqual(r["Api"], n.endpoint)
            self.assertNotIn("Error", r)
            t = {x["TableName"]: x for x in r["Tables"]}
            self.assertEqual(t["cli_music"]["TableStatus"], "ACTIVE")
            self.assertEqual(t["cli_music"]["ItemCount"], self.ITEMS)
            want = mets[n.region].get("meridian_conflicts_total",
                                      region=n.region)
            self.assertEqual(r["Conflicts"], want)
            conflicts += want
            self.assertEqual(r["LogHeadSeq"], mets[n.region].get(
                "meridian_log_last_seq", region=n.region))
            self.assertEqual(r["Replication"]["region"], n.region)
        self.assertEqual(doc["ConflictsTotal"], conflicts)
        links = {(x["Source"], x["Destination"]): x for x in doc["Links"]}
        self.assertEqual(len(links), 6)
        for (src, dst), x in links.items():
            peer = [p for p in repl[dst]["peers"] if p["region"] == src][0]
            self.assertEqual(x["AppliedSeq"], peer["applied_seq"])
            self.assertEqual(x["SourceHeadSeq"], peer["peer_head_seq"])
            self.assertEqual(x["Behind"], 0)
            self.assertEqual(x["State"], peer["state"])
            self.assertEqual(x["PullErrors"], peer["pull_errors"])
            self.assertEqual(x["ResyncRequired"], peer["resync_required"])
            self.assertEqual(x["PendingReplicationCount"], mets[src].get(
                "meridian_pending_replication_count", source=src,
                destination=dst))
            buckets = []
            for labels, v in mets[dst].samples(
                    "meridian_replication_latency_ms_bucket"):
                if labels.get("source") == src and \
                        labels.get("destination") == dst:
                    le = labels["le"]
                    buckets.append((float("inf") if le == "+Inf"
                                    else float(le), v))
            self.assertEqual(x["LatencyCount"], mets[dst].get(
                "meridian_replication_latency_ms_count", source=src,
                destination=dst))
            for q, field in ((0.5, "LatencyP50Ms"), (0.99, "LatencyP99Ms")):
                want = histogram_quantile(buckets, q)
                if want is None:
                    self.assertIsNone(x[field], (src, dst, field))
                else:
                    self.assertAlmostEqual(x[field], want, places=6,
                                           msg=(src, dst, field))
        # us-east-1's writes reached the others: latency was recorded.
        self.assertGreaterEqual(links[(US, EU)]["LatencyCount"], self.ITEMS)
        self.assertIsNotNone(links[(US, EU)]["LatencyP50Ms"])

    def test_status_unreachable_region(self):
        eu = self.cluster[EU]
        eu.stop()
        try:
            rc, out, err = self.cli("status")
            self.assertEqual(rc, 3)
            self.assertEqual(err.strip(), "meridian: eu-west-1 (%s) is "
                             "unreachable: connection refused" % eu.endpoint)
            self.assertRegex(out, r"(?m)^eu-west-1\s+%s\s+unreachable\s+-"
                             % re.escape(eu.endpoint))
            self.assertRegex(out, r"(?m)^us-east-1\s+\S+\s+up\s")
            rc, out, err = self.cli("--json", "status")
            self.assertEqual(rc, 3)
            doc = json.loads(out)
            self.assertEqual({r["Region"]: r["Reachable"]
                              for r in doc["Regions"]},
                             {US: True, EU: False, AP: True})
            # verify cannot be complete either.
            rc, out, err = self.cli("verify", "cli_music")
            self.assertEqual(rc, 3)
            self.assertIn("cli_music: equal in 2 regions", out)
            self.assertIn("eu-west-1 (%s) is unreachable" % eu.endpoint, err)
        finally:
            self.cluster.start()

    # ------------------------------------------------------------- verify

    def test_verify_equal(self):
        self.cluster.wait_converged("cli_music", items=self.ITEMS)
        rc, out, err = self.cli("verify", "cli_music")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "cli_music: equal in 3 regions (%d items)\n"
                         % self.ITEMS)
        rc, out, err = self.cli("verify")  # every table
        self.assertEqual(rc, 0, err)
        self.assertIn("cli_music: equal in 3 regions (%d items)\n"
                      % self.ITEMS, out)
        rc, out, err = self.cli("--quiet", "verify")
        self.assertEqual((rc, out, err), (0, "", ""))
        rc, out, err = self.cli("--json", "verify", "cli_music")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertTrue(doc["Equal"])
        t = doc["Tables"][0]
        self.assertEqual(t["TableName"], "cli_music")
        self.assertEqual(t["Ranges"], [])
        digests = {n.region: n.admin_ok("/admin/digest", {
            "TableName": "cli_music", "Ranges": 64}) for n in self.cluster}
        self.assertEqual({r["Region"]: (r["Items"], r["Digest"])
                          for r in t["Regions"]},
                         {k: (v["Items"], v["Digest"])
                          for k, v in digests.items()})
        rc, out, err = self.cli("verify", "no_such_table")
        self.assertEqual(rc, 1)
        self.assertIn("table no_such_table does not exist in any region", err)

    def test_verify_finds_planted_difference(self):
        """ap-northeast-1 is restarted alone (no cluster config: no
        replication) and written to; verify names the keys; once it rejoins,
        its writes replicate and verify passes again."""
        table = "cli_diverge"
        c = self.cluster[US].client()
        c.create_table(TableName=table, AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        for i in range(30):
            c.put_item(TableName=table, Item={"pk": {"S": "k%02d" % i},
                                              "v": {"N": str(i)}})
        self.cluster.wait_converged(table, items=30)
        ap = self.cluster[AP]
        saved = ap.extra_args
        ap.stop()
        ap.extra_args = []
        try:
            ap.start()
            self.assertEqual(ap.replication()["peers"], [])
            apc = ap.client()
            apc.put_item(TableName=table, Item={"pk": {"S": "planted"},
                                                "v": {"N": "1"}})
            apc.put_item(TableName=table, Item={"pk": {"S": "k07"},
                                                "v": {"N": "700"}})
            rc, out, err = self.cli("verify", table)
            self.assertEqual(rc, 1, err)
            lines = out.splitlines()
            self.assertEqual(lines[0], "%s: DIFFERENT in 3 regions "
                             "(us-east-1: 30 items, eu-west-1: 30 items, "
                             "ap-northeast-1: 31 items)" % table)
            self.assertIn('      {"pk":{"S":"planted"}}: only in '
                          'ap-northeast-1; missing in us-east-1, eu-west-1',
                          lines)
            k07 = [ln for ln in lines if '{"pk":{"S":"k07"}}' in ln]
            self.assertEqual(len(k07), 1, out)
            self.assertRegex(k07[0], r'^      \{"pk":\{"S":"k07"\}\}: '
                             r'different versions: us-east-1, eu-west-1 '
                             r'[0-9a-f]{8}; ap-northeast-1 [0-9a-f]{8}$')
            ranges = [ln for ln in lines if ln.startswith("    range ")]
            self.assertTrue(1 <= len(ranges) <= 2, out)
            for ln in ranges:
                self.assertRegex(ln, r"^    range \d+/64 \(partition hash "
                                 r"0x[0-9a-f]{8}-0x[0-9a-f]{8}\): 1 key "
                                 r"differs$")
            # The same in JSON.
            rc, out, err = self.cli("--json", "verify", table, "cli_music")
            self.assertEqual(rc, 1, err)
            doc = json.loads(out)
            self.assertFalse(doc["Equal"])
            t = {x["TableName"]: x for x in doc["Tables"]}
            self.assertTrue(t["cli_music"]["Equal"])
            keys = {json.dumps(k["Key"], sort_keys=True): k
                    for r in t[table]["Ranges"] for k in r["Keys"]}
            self.assertEqual(sorted(keys), [
                json.dumps({"pk": {"S": "k07"}}),
                json.dumps({"pk": {"S": "planted"}})])
            p = keys[json.dumps({"pk": {"S": "planted"}})]
            self.assertEqual((p["PresentIn"], p["MissingIn"]),
                             ([AP], [US, EU]))
            k = keys[json.dumps({"pk": {"S": "k07"}})]
            self.assertEqual(k["MissingIn"], [])
            self.assertEqual(k["Digests"][US], k["Digests"][EU])
            self.assertNotEqual(k["Digests"][US], k["Digests"][AP])
        finally:
            if ap.alive():
                ap.stop()
            ap.extra_args = saved
            ap.start()
        # Back in the cluster, its writes replicate and everything agrees.
        self.cluster.wait_converged(table, items=31, timeout=60)
        rc, out, err = self.cli("verify", table)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%s: equal in 3 regions (31 items)\n" % table)

    # -------------------------------------------------------------- links

    def test_link_set_and_show(self):
        eu = self.cluster[EU]
        st, _, _ = eu.http_get("/admin/links")
        if st == 404:
            self.skipTest("the region node does not serve /admin/links")

        def eu_link():
            st, _, body = eu.http_get("/admin/links")
            self.assertEqual(st, 200)
            return [x for x in json.loads(body)["Links"]
                    if (x["From"], x["To"]) == (US, EU)][0]
        try:
            rc, out, err = self.cli("link", "set", US, EU, "--delay", "38ms",
                                    "--jitter", "4ms", "--loss", "0.5%",
                                    "--bandwidth", "10mbit")
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, "us-east-1 -> eu-west-1: delay 38 ms, "
                             "jitter 4 ms, loss 0.5%, bandwidth 10 mbit/s, "
                             "partition off\n")
            x = eu_link()
            self.assertEqual((x["DelayMs"], x["JitterMs"], x["LossPct"],
                              x["BandwidthKbps"], x["Partition"]),
                             (38, 4, 0.5, 10000, False))
            # Options not given keep their value.
            rc, out, err = self.cli("link", "set", US, EU, "--partition",
                                    "on")
            self.assertEqual(rc, 0, err)
            x = eu_link()
            self.assertEqual((x["DelayMs"], x["BandwidthKbps"],
                              x["Partition"]), (38, 10000, True))
            rc, out, err = self.cli("link", "show")
            self.assertEqual(rc, 0, err)
            rows = [ln.split() for ln in out.splitlines()[1:]]
            self.assertIn([US, "->", EU, "38", "ms", "4", "ms", "0.5%", "10",
                           "mbit/s", "ON"], [r[:11] for r in rows])
            self.assertEqual(len(rows), 6)  # every ordered pair
            rc, out, err = self.cli("--json", "link", "show")
            self.assertEqual(rc, 0, err)
            doc = json.loads(out)
            self.assertEqual(len(doc["Links"]), 6)
            got = [x for x in doc["Links"] if (x["From"], x["To"]) ==
                   (US, EU)][0]
            self.assertEqual((got["DelayMs"], got["Partition"],
                              got["ReportedBy"]), (38, True, EU))
        finally:
            rc, out, err = self.cli("link", "set", US, EU, "--clear")
        self.assertEqual(rc, 0, err)
        self.assertIn("delay -, jitter -, loss -, bandwidth unlimited, "
                      "partition off", out)
        x = eu_link()
        self.assertEqual((x["DelayMs"], x["JitterMs"], x["LossPct"],
                          x["BandwidthKbps"], x["Partition"]),
                         (0, 0, 0, 0, False))
        # Writes flow again once the partition is gone.
        self.cluster[US].client().put_item(
            TableName="cli_music", Item={"pk": {"S": "after-link"}})
        self.cluster.wait_converged("cli_music", items=self.ITEMS + 1)
        self.cluster[US].client().delete_item(
            TableName="cli_music", Key={"pk": {"S": "after-link"}})
        self.cluster.wait_converged("cli_music", items=self.ITEMS)

    # ------------------------------------------------------------ regions

    def test_region_list(self):
        rc, out, err = self.cli("region", "list")
        self.assertEqual(rc, 0, err)
        for n in self.cluster:
            self.assertRegex(out, r"(?m)^%s\s+%s\s+tcp://127\.0\.0\.1:%d\s+"
                             r"up$" % (re.escape(n.region),
                                       re.escape(n.endpoint),
                                       self.cluster.repl_ports[n.region]))
        rc, out, err = self.cli("--json", "region", "list")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(sorted(r["Region"] for r in doc["Regions"]),
                         sorted(CLUSTER_REGIONS))
        self.assertTrue(all(r["Reachable"] for r in doc["Regions"]))
        if topology_supported(self.cluster[US]):
            st, _, body = self.cluster[US].http_get("/admin/cluster")
            self.assertEqual(doc["Source"], "membership")
            self.assertEqual(doc["Epoch"], json.loads(body)["Epoch"])
        else:
            self.assertEqual(doc["Source"], "config")


# ------------------------------------------------- topology (server side)

def topology_supported(node):
    """The node serves the cluster membership (and with it replica
    changes): GET /admin/cluster answers with its regions."""
    try:
        st, _, body = node.http_get("/admin/cluster")
        return st == 200 and len(json.loads(body).get("Regions", [])) > 0
    except (OSError, ValueError, AttributeError, NodeError):
        return False


class CliTopologyTest(NodeTestCase):
    """replica add/drop and region join/leave against real nodes (they need
    the nodes' topology support; skipped with a reason without it)."""

    START_NODE = False

    def setUp(self):
        if not os.path.exists(CLI):
            self.skipTest("meridian binary not found: %s" % CLI)
        self.cluster = Cluster(global_tables=False, name="clitopo")
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        if not topology_supported(self.cluster[US]):
            self.skipTest("the region node does not serve /admin/cluster")
        fd, self.cfg = tempfile.mkstemp(prefix="meridian-cli-",
                                        suffix=".json")
        os.close(fd)
        self.addCleanup(os.unlink, self.cfg)

    def cli(self, *args, **kw):
        write_config(self.cfg, [(n.region, n.port, "tcp://127.0.0.1:%d" %
                                 self.cluster.repl_ports[n.region])
                                for n in self.cluster])
        return run_cli(*args, config=self.cfg, **kw)

    def has_table(self, region, table):
        c = self.cluster[region].client()
        try:
            return c.describe_table(TableName=table)["Table"]
        except c.exceptions.ResourceNotFoundException:
            return None

    def test_replica_add_and_drop(self):
        us = self.cluster[US].client()
        us.create_table(TableName="cli_grow", AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")
        self.batch_put("cli_grow", [{"pk": {"S": "k%04d" % i},
                                     "v": {"N": str(i)}}
                                    for i in range(500)], client=us)
        self.assertIsNone(self.has_table(EU, "cli_grow"))
        rc, out, err = self.cli("--timeout", "60", "replica", "add",
                                "cli_grow", EU)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "cli_grow: adding the replica in "
                         "eu-west-1 (request sent to us-east-1)")
        self.assertRegex(lines[-1], r"^cli_grow: the replica in eu-west-1 "
                         r"is ACTIVE \(\d+\.\d s\)$")
        for ln in lines[1:-1]:
            self.assertRegex(ln, r"^cli_grow: replica eu-west-1 "
                             r"(CREATING \d+%|ACTIVE 100%)$")
        self.assertEqual(self.has_table(EU, "cli_grow")["ItemCount"], 500)
        self.cluster.wait_converged("cli_grow", [US, EU], items=500)
        rc, out, err = self.cli("verify", "cli_grow")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "cli_grow: equal in 2 regions (500 items)\n")
        # status shows the replicas.
        rc, out, err = self.cli("--json", "status")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        us_t = [t for r in doc["Regions"] if r["Region"] == US
                for t in r["Tables"] if t["TableName"] == "cli_grow"][0]
        self.assertEqual(sorted((x["RegionName"], x["ReplicaStatus"])
                                for x in us_t["Replicas"]),
                         [(EU, "ACTIVE"), (US, "ACTIVE")])
        # Refusals come back with DynamoDB's error and message.
        rc, out, err = self.cli("replica", "add", "cli_grow", "mars-north-1")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^meridian: us-east-1 \(%s\): "
                         r"ValidationException: .*mars-north-1" %
                         re.escape(self.cluster[US].endpoint))
        rc, out, err = self.cli("replica", "add", "cli_nope", EU)
        self.assertEqual(rc, 1)
        self.assertIn("table cli_nope does not exist in any region", err)
        # --json, then drop.
        rc, out, err = self.cli("--json", "--timeout", "60", "replica",
                                "add", "cli_grow", AP)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["ReplicaStatus"], "ACTIVE")
        rc, out, err = self.cli("--timeout", "60", "replica", "drop",
                                "cli_grow", AP)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.splitlines()[-1], r"^cli_grow: the replica in "
                         r"ap-northeast-1 is dropped")
        reps = self.has_table(US, "cli_grow").get("Replicas", [])
        self.assertNotIn(AP, [r["RegionName"] for r in reps])
        wait_for(lambda: self.has_table(AP, "cli_grow") is None, 60,
                 "the dropped replica to delete its copy")
        # Keep the dropped copy.
        rc, out, err = self.cli("--timeout", "60", "replica", "drop",
                                "cli_grow", EU, "--keep-detached")
        self.assertEqual(rc, 0, err)
        self.assertIn("kept as a regional table", out)
        wait_for(lambda: "Replicas" not in self.has_table(EU, "cli_grow"),
                 30, "eu-west-1 to detach")
        self.assertEqual(self.has_table(EU, "cli_grow")["ItemCount"], 500)

    def test_region_join_and_leave(self):
        st, _, body = self.cluster[US].http_get("/admin/cluster")
        epoch = json.loads(body)["Epoch"]
        api_port, repl_port = free_port(), free_port()
        rc, out, err = self.cli("region", "join", "sa-east-1", "--api",
                                "http://127.0.0.1:%d" % api_port,
                                "--replication",
                                "tcp://127.0.0.1:%d" % repl_port)
        self.assertEqual(rc, 0, err)
        self.assertIn("sa-east-1 joined the cluster (through us-east-1).  "
                      "Membership epoch %d:" % (epoch + 1), out)
        self.assertRegex(out, r"(?m)^sa-east-1\s+http://127\.0\.0\.1:%d\s+"
                         r"tcp://127\.0\.0\.1:%d$" % (api_port, repl_port))
        for n in self.cluster:
            wait_for(lambda n=n: json.loads(n.http_get("/admin/cluster")[2])[
                "Epoch"] > epoch, 30, "%s to learn the join" % n.region)
        rc, out, err = self.cli("--json", "region", "list")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["Epoch"], epoch + 1)
        self.assertEqual({r["Region"]: r["Reachable"]
                          for r in doc["Regions"]},
                         {US: True, EU: True, AP: True, "sa-east-1": False})
        rc, out, err = self.cli("region", "leave", "sa-east-1", "--via", EU)
        self.assertEqual(rc, 0, err)
        self.assertIn("sa-east-1 left the cluster (through eu-west-1).", out)
        self.assertNotIn("sa-east-1 ", out.split("\n", 1)[1])
        rc, out, err = self.cli("region", "leave", "mars-1")
        self.assertEqual(rc, 1)
        self.assertIn("not a member of the cluster", err)


if __name__ == "__main__":
    unittest.main()
