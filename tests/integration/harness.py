"""Integration test harness: real region-node processes on 127.0.0.1.

A Node owns one region-node process, its temporary data directory and the
file its stderr goes to.  Tests reach it through boto3 (client and resource
API), through the AWS CLI and through raw HTTP.  Everything a Node creates
lives under one temporary directory that is removed when the node is closed,
and any node still open when the interpreter exits is killed and removed, so
a failing or interrupted run leaves nothing behind.

A Cluster is several Nodes replicating with each other, started from one
generated cluster config (fixed replication ports picked with free_port());
wait_for() is the bounded polling helper, parse_metrics() reads /metrics.

Only 127.0.0.1 is ever contacted; proxies are bypassed for it.

Environment:
  MERIDIAN_NODE     path of the region-node binary (default <repo>/bin/region-node)
  MERIDIAN_AWS_CLI  the AWS CLI command (default "aws")
  MERIDIAN_KEEP     when set to 1, temporary directories are kept (debugging)
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

HOST = "127.0.0.1"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE_BIN = os.environ.get("MERIDIAN_NODE",
                          os.path.join(REPO, "bin", "region-node"))
CLI_BIN = os.environ.get("MERIDIAN_CLI", os.path.join(REPO, "bin", "meridian"))
AWS_CLI = os.environ.get("MERIDIAN_AWS_CLI", "aws")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = int(os.environ.get("MERIDIAN_LOG_TAIL", "40"))

# The loopback address must never go through a proxy.
for _var in ("NO_PROXY", "no_proxy"):
    _cur = os.environ.get(_var, "")
    if HOST not in _cur:
        os.environ[_var] = (_cur + "," if _cur else "") + HOST + ",localhost"
# boto3 must not look for credentials or regions on the machine.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

DUMMY_KEY = "AKIDMERIDIANTEST"
DUMMY_SECRET = "meridian-test-secret"
REGION = "us-east-1"
ACCOUNT = "000000000000"

_live_nodes = []
_live_lock = threading.Lock()
# Nodes touched since the current test class started: their log tails are
# printed when a test fails.
_recent_nodes = []


def table_arn(name, region=REGION):
    return "arn:aws:dynamodb:%s:%s:table/%s" % (region, ACCOUNT, name)


class NodeError(Exception):
    pass


class AwsCliError(Exception):
    def __init__(self, rc, stdout, stderr):
        super().__init__("aws exited %d: %s" % (rc, stderr.strip()[-500:]))
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


def _tail(path, lines=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class Node:
    """One region-node process.

    Node(durability="nosync", extra_args=(), region="us-east-1").start()
    """

    def __init__(self, durability="nosync", extra_args=(), region=REGION,
                 binary=None, name="node"):
        self.durability = durability
        self.extra_args = list(extra_args)
        self.region = region
        self.binary = binary or NODE_BIN
        self.name = name
        self.root = tempfile.mkdtemp(prefix="meridian-it-")
        self.data_dir = os.path.join(self.root, "data")
        os.mkdir(self.data_dir)
        self.port_file = os.path.join(self.root, "port")
        self.log_path = os.path.join(self.root, "node.log")
        self.aws_home = os.path.join(self.root, "awshome")
        os.mkdir(self.aws_home)
        self.proc = None
        self.port = None
        self.starts = 0
        self.closed = False
        self.last_tail = ""
        self._clients = {}
        self._log = None
        with _live_lock:
            _live_nodes.append(self)
            _recent_nodes.append(self)

    # ------------------------------------------------------------ lifecycle

    @property
    def endpoint(self):
        return "http://%s:%d" % (HOST, self.port)

    def start(self):
        if not os.path.exists(self.binary):
            raise NodeError("region-node binary not found: %s" % self.binary)
        if self.proc is not None and self.proc.poll() is None:
            raise NodeError("node already running")
        try:
            os.unlink(self.port_file)
        except FileNotFoundError:
            pass
        self.port = None
        self._clients = {}
        cmd = [self.binary, "--region", self.region, "--host", HOST,
               "--port", "0", "--port-file", self.port_file,
               "--data", self.data_dir, "--durability", self.durability]
        cmd += self.extra_args
        self._log = open(self.log_path, "ab")
        self._log.write(("=== start %d: %s\n" % (self.starts, " ".join(cmd)))
                        .encode())
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     cwd=self.root)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise NodeError("region-node exited with %d during start-up;"
                                " log tail:\n%s" % (rc, _tail(self.log_path)))
            if self.port is None:
                self.port = self._read_port()
            if self.port is not None:
                try:
                    status, _, _ = self.http_get("/health", timeout=2.0)
                    if status == 200:
                        return self
                except (OSError, http.client.HTTPException):
                    pass
            if time.monotonic() > deadline:
                self._kill()
                raise NodeError("region-node not healthy within %.0f s; log "
                                "tail:\n%s" % (START_TIMEOUT_S,
                                               _tail(self.log_path)))
            time.sleep(0.05)

    def _read_port(self):
        try:
            with open(self.port_file) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if not text.endswith("\n"):
            return None
        port = int(text.strip())
        if not 0 < port < 65536:
            raise NodeError("bad port file content %r" % text)
        return port

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, expect_rc=0):
        """SIGTERM, wait, and check the exit code (0 by default)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._kill()
            raise NodeError("region-node did not exit within %.0f s of "
                            "SIGTERM" % STOP_TIMEOUT_S)
        self._after_exit()
        if expect_rc is not None and rc != expect_rc:
            raise NodeError("region-node exited with %d after SIGTERM, "
                            "expected %d; log tail:\n%s"
                            % (rc, expect_rc, _tail(self.log_path)))
        return rc

    def kill9(self):
        if self.proc is None:
            return
        self._kill()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        self._after_exit()

    def _after_exit(self):
        self._clients = {}
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, durability=None):
        """Stop (SIGTERM) if running, then start on the same data dir."""
        if self.alive():
            self.stop()
        if durability is not None:
            self.durability = durability
        return self.start()

    def close(self):
        """Kill if running and remove every temporary file.  Idempotent."""
        if self.closed:
            return
        try:
            self._kill()
        finally:
            self.last_tail = _tail(self.log_path)
            if os.environ.get("MERIDIAN_KEEP") != "1":
                shutil.rmtree(self.root, ignore_errors=True)
            self.closed = True
            with _live_lock:
                if self in _live_nodes:
                    _live_nodes.remove(self)

    def log_tail(self, lines=LOG_TAIL_LINES):
        if self.closed:
            return self.last_tail
        return _tail(self.log_path, lines)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -------------------------------------------------------------- clients

    def config(self, validate=True, read_timeout=20):
        return botocore.config.Config(
            region_name=REGION,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=3, read_timeout=read_timeout,
            parameter_validation=validate,
            max_pool_connections=16)

    def client(self, validate=True, fresh=False):
        """A boto3 DynamoDB client for this node (retries disabled).

        validate=False turns off botocore's parameter validation so that
        invalid requests reach the server.  fresh=True builds a new client on
        its own session (for use from another thread)."""
        key = ("client", validate)
        if not fresh and key in self._clients:
            return self._clients[key]
        session = boto3.session.Session(aws_access_key_id=DUMMY_KEY,
                                        aws_secret_access_key=DUMMY_SECRET,
                                        region_name=REGION)
        c = session.client("dynamodb", endpoint_url=self.endpoint,
                           config=self.config(validate))
        if not fresh:
            self._clients[key] = c
        return c

    def resource(self):
        key = ("resource",)
        if key in self._clients:
            return self._clients[key]
        session = boto3.session.Session(aws_access_key_id=DUMMY_KEY,
                                        aws_secret_access_key=DUMMY_SECRET,
                                        region_name=REGION)
        r = session.resource("dynamodb", endpoint_url=self.endpoint,
                             config=self.config())
        self._clients[key] = r
        return r

    def aws_env(self):
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.path.join(self.aws_home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.aws_home,
                                                        "credentials"),
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_RETRY_MODE": "standard",
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        return env

    def aws_run(self, *args, timeout=60):
        """Runs `aws dynamodb ARGS --endpoint-url E --output json`;
        returns (rc, stdout, stderr)."""
        cmd = [AWS_CLI, "dynamodb"] + [str(a) for a in args] + [
            "--endpoint-url", self.endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=self.aws_env(), capture_output=True,
                           text=True, timeout=timeout, cwd=self.root)
        return p.returncode, p.stdout, p.stderr

    def aws(self, *args, timeout=60):
        """Runs the AWS CLI and returns its parsed JSON output (None when it
        prints nothing).  Raises AwsCliError on a non-zero exit."""
        rc, out, err = self.aws_run(*args, timeout=timeout)
        if rc != 0:
            raise AwsCliError(rc, out, err)
        out = out.strip()
        return json.loads(out) if out else None

    def aws_fail(self, *args, timeout=60):
        """Runs the AWS CLI expecting failure; returns (rc, stderr)."""
        rc, out, err = self.aws_run(*args, timeout=timeout)
        if rc == 0:
            raise AssertionError("aws %s succeeded unexpectedly: %s"
                                 % (" ".join(map(str, args)), out[:500]))
        return rc, err

    # ------------------------------------------------------------- raw HTTP

    def http_get(self, path, timeout=5.0):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def raw(self, target, body, headers=None, timeout=20.0):
        """POST / with DynamoDB's JSON 1.0 headers.  body is bytes or str;
        target the whole X-Amz-Target value (None omits the header).
        Returns (status, headers, parsed JSON or raw bytes)."""
        if isinstance(body, str):
            body = body.encode()
        h = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s/%s/dynamodb/"
                             "aws4_request, SignedHeaders=content-type;host;"
                             "x-amz-date;x-amz-target, Signature=%s"
                             % (DUMMY_KEY, time.strftime("%Y%m%d"), REGION,
                                "0" * 64),
        }
        if target is not None:
            h["X-Amz-Target"] = target
        if headers:
            h.update(headers)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("POST", "/", body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            rh = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return r.status, rh, parsed

    def admin(self, path, body=None, timeout=10.0):
        """POST a JSON body to an admin endpoint (e.g. "/admin/item").
        Returns (status, parsed JSON or raw bytes)."""
        data = json.dumps(body if body is not None else {}).encode()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("POST", path, body=data,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            raw = r.read()
            status = r.status
        finally:
            conn.close()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def admin_ok(self, path, body=None, timeout=10.0):
        """admin() that requires 200 and returns the parsed JSON."""
        status, out = self.admin(path, body, timeout)
        if status != 200:
            raise NodeError("%s %s on %s -> %d %r" % (
                path, json.dumps(body), self.region, status, out))
        return out

    def replication(self, timeout=10.0):
        """GET /admin/replication, parsed."""
        status, _, body = self.http_get("/admin/replication", timeout)
        if status != 200:
            raise NodeError("/admin/replication -> %d" % status)
        return json.loads(body)

    def metrics(self, timeout=10.0):
        """GET /metrics, parsed by parse_metrics()."""
        status, _, body = self.http_get("/metrics", timeout)
        if status != 200:
            raise NodeError("/metrics -> %d" % status)
        return parse_metrics(body.decode("utf-8", "replace"))

    def healthy(self):
        try:
            status, _, _ = self.http_get("/health", timeout=5.0)
            return status == 200
        except (OSError, http.client.HTTPException):
            return False


def cleanup_all():
    with _live_lock:
        nodes = list(_live_nodes)
    for n in nodes:
        try:
            n.close()
        except Exception:
            pass


atexit.register(cleanup_all)


def print_recent_logs(stream=None):
    stream = stream or sys.stderr
    for n in list(_recent_nodes):
        tail = n.log_tail()
        stream.write("----- %s log tail (%s) -----\n%s\n-----\n"
                     % (n.name, "closed" if n.closed else
                        ("running" if n.alive() else "stopped"), tail))


# ----------------------------------------------------------------- test base

def create_table(client, name, hash_key=("pk", "S"), range_key=None,
                 wait=True, **extra):
    """Creates table name (on-demand unless billing is given) with a hash
    key and an optional range key, each (name, type); waits until it
    exists when wait is set."""
    attrs = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    ks = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key is not None:
        attrs.append({"AttributeName": range_key[0],
                      "AttributeType": range_key[1]})
        ks.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    if "ProvisionedThroughput" not in extra and "BillingMode" not in extra:
        extra["BillingMode"] = "PAY_PER_REQUEST"
    resp = client.create_table(TableName=name, AttributeDefinitions=attrs,
                               KeySchema=ks, **extra)
    if wait:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    return resp


class NodeTestCase(unittest.TestCase):
    """A test class sharing one node (cls.node, cls.c client, cls.cn client
    without parameter validation, cls.r resource).  Set NODE_ARGS or
    DURABILITY on the subclass to change how it starts; START_NODE = False
    makes the tests start their own nodes."""

    START_NODE = True
    DURABILITY = "nosync"
    NODE_ARGS = ()

    @classmethod
    def setUpClass(cls):
        del _recent_nodes[:]
        cls.node = None
        if cls.START_NODE:
            cls.node = Node(durability=cls.DURABILITY,
                            extra_args=cls.NODE_ARGS,
                            name=cls.__name__)
            cls.addClassCleanup(cls.node.close)
            cls.node.start()
            cls.c = cls.node.client()
            cls.cn = cls.node.client(validate=False)
            cls.r = cls.node.resource()

    @classmethod
    def tearDownClass(cls):
        if cls.node is not None and cls.node.alive():
            cls.node.stop()

    def new_node(self, **kw):
        """A node owned by this test, closed (and removed) after it."""
        n = Node(**kw)
        self.addCleanup(n.close)
        return n.start()

    def run(self, result=None):
        before = 0
        if result is not None:
            before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if result is not None and \
                len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n[%s failed]\n" % self.id())
            print_recent_logs()
        return out

    # ------------------------------------------------------------- helpers

    def assertAwsError(self, code, fn, *args, message=None,
                       message_contains=None, **kwargs):
        """Calls fn and asserts a botocore ClientError with this code (and
        exact message / message substring when given).  Returns the error
        response."""
        try:
            fn(*args, **kwargs)
        except botocore.exceptions.ClientError as e:
            err = e.response.get("Error", {})
            self.assertEqual(err.get("Code"), code,
                             "wrong error code; message=%r" %
                             err.get("Message"))
            self.assertEqual(
                e.response["ResponseMetadata"]["HTTPStatusCode"],
                500 if code in ("InternalServerError",) else 400)
            if message is not None:
                self.assertEqual(err.get("Message"), message)
            if message_contains is not None:
                self.assertIn(message_contains.lower(),
                              (err.get("Message") or "").lower())
            return e.response
        self.fail("expected %s, call succeeded" % code)

    def create_table(self, name, hash_key=("pk", "S"), range_key=None,
                     client=None, wait=True, **extra):
        return create_table(client or self.c, name, hash_key, range_key,
                            wait, **extra)

    def batch_put(self, table, items, client=None):
        """Puts items (client wire format) 25 at a time; retries
        UnprocessedItems a bounded number of times."""
        c = client or self.c
        for i in range(0, len(items), 25):
            req = {table: [{"PutRequest": {"Item": it}}
                           for it in items[i:i + 25]]}
            for _ in range(10):
                resp = c.batch_write_item(RequestItems=req)
                req = resp.get("UnprocessedItems") or {}
                if not req:
                    break
            self.assertEqual(req, {}, "unprocessed items remain")

    def scan_all(self, table, client=None, **kw):
        c = client or self.c
        items = []
        args = dict(TableName=table, **kw)
        for _ in range(100000):
            resp = c.scan(**args)
            items.extend(resp.get("Items", []))
            lek = resp.get("LastEvaluatedKey")
            if not lek:
                return items
            args["ExclusiveStartKey"] = lek
        self.fail("scan did not terminate")


def item_size(item):
    """DynamoDB's item size for a wire-format item, roughly (names + values)
    — enough for the bounds these tests check."""
    def vsize(v):
        (t, x), = v.items()
        if t == "S":
            return len(x.encode())
        if t == "B":
            return len(x) if isinstance(x, (bytes, bytearray)) else \
                len(x) * 3 // 4
        if t == "N":
            return len(x) // 2 + 2
        if t in ("BOOL", "NULL"):
            return 1
        if t in ("SS", "NS", "BS"):
            return sum(vsize({t[0]: e}) for e in x)
        if t == "L":
            return 3 + sum(1 + vsize(e) for e in x)
        if t == "M":
            return 3 + sum(len(k.encode()) + 1 + vsize(e)
                           for k, e in x.items())
        return 0
    return sum(len(k.encode()) + vsize(v) for k, v in item.items())


# ------------------------------------------------------------ metrics text

_METRIC_RE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
_LABEL_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics(dict):
    """Prometheus text parsed into {(name, ((label, value), ...)): float}
    (labels sorted).  get(name, **labels) reads one sample (None when it is
    missing); total(name, **labels) sums the samples whose labels include
    the given ones."""

    def get(self, name, default=None, **labels):
        key = (name, tuple(sorted(labels.items())))
        return dict.get(self, key, default)

    def total(self, name, **labels):
        want = set(labels.items())
        return sum(v for (n, ls), v in self.items()
                   if n == name and want <= set(ls))

    def samples(self, name):
        """[(labels dict, value)] of every sample of name."""
        return [(dict(ls), v) for (n, ls), v in self.items() if n == name]


def parse_metrics(text):
    out = Metrics()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        if m is None:
            raise NodeError("bad metrics line %r" % line)
        labels = tuple(sorted(_LABEL_RE.findall(m.group(3) or "")))
        v = m.group(4)
        out[(m.group(1), labels)] = float("inf") if v == "+Inf" else \
            float(v)
    return out


# ----------------------------------------------------------------- clusters

CLUSTER_REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-1")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read
    it, close).  Used for replication URLs, which must be fixed in the
    cluster config before the nodes start."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_for(pred, timeout=30.0, what="condition", interval=0.05):
    """Polls pred() until it returns a true value (returned) or timeout
    seconds pass (NodeError naming what, with the last value or error).
    Exceptions from pred count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() > deadline:
            raise NodeError("timed out after %.0f s waiting for %s (last: "
                            "%.2000r)" % (timeout, what, last))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


class Cluster:
    """Several region-node processes replicating with each other, from one
    generated cluster config (cluster_key, durability, global_tables and a
    "regions" list with a fixed replication URL per region).

    Each region is a Node started with `--config FILE --region NAME`; the
    API port is still picked by the node (--port 0, --port-file) and the
    data directory is the node's own.  The config is written into every
    node's temporary directory, so closing the nodes removes everything.

    c = Cluster(); c.start(); c["eu-west-1"].client() ...; c.close()
    """

    def __init__(self, regions=CLUSTER_REGIONS, durability="nosync",
                 global_tables=True, cluster_key=None, settings=None,
                 binary=None, name="cluster"):
        self.regions = list(regions)
        self.name = name
        ports = set()
        while len(ports) < len(self.regions):
            ports.add(free_port())
        self.repl_ports = dict(zip(self.regions, sorted(ports)))
        self.config = {
            "cluster_key": cluster_key or
            "meridian-it-cluster-key-%d" % os.getpid(),
            "durability": durability,
            "global_tables": bool(global_tables),
            "regions": [{"region": r, "host": HOST, "port": 0,
                         "replication": "tcp://%s:%d" % (
                             HOST, self.repl_ports[r])}
                        for r in self.regions],
        }
        self.config.update(settings or {})
        self.nodes = {}
        try:
            for r in self.regions:
                n = Node(durability=durability, region=r, binary=binary,
                         name="%s/%s" % (name, r))
                n.config_path = os.path.join(n.root, "cluster.json")
                n.extra_args = ["--config", n.config_path]
                self.nodes[r] = n
            self.write_config()
        except Exception:
            self.close()
            raise

    def cli(self, *args, timeout=60):
        """Runs bin/meridian ARGS against the cluster as it runs now (the
        regions' current API ports); returns the CompletedProcess."""
        conf = dict(self.config)
        conf["regions"] = [dict(r, port=self.nodes[r["region"]].port)
                           for r in conf["regions"]]
        path = os.path.join(self.nodes[self.regions[0]].root,
                            "cli-cluster.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        return subprocess.run([CLI_BIN, "--config", path] + list(args),
                              capture_output=True, text=True,
                              timeout=timeout)

    def write_config(self):
        text = json.dumps(self.config, indent=1)
        for n in self.nodes.values():
            with open(n.config_path, "w") as f:
                f.write(text)

    def __getitem__(self, region):
        return self.nodes[region]

    def __iter__(self):
        return iter(self.nodes[r] for r in self.regions)

    def _pick(self, regions):
        return [self.nodes[r] for r in (regions or self.regions)]

    def start(self, *regions):
        for n in self._pick(regions):
            if not n.alive():
                n.start()
        return self

    def stop(self, *regions):
        for n in self._pick(regions):
            if n.alive():
                n.stop()

    def alive_nodes(self):
        return [n for n in self if n.alive()]

    def close(self):
        for n in list(self.nodes.values()):
            try:
                n.close()
            except Exception:  # noqa: BLE001 - close everything regardless
                pass

    # ------------------------------------------------------- convergence

    def digests(self, table, regions=None):
        """{region: /admin/digest answer} of table."""
        return {n.region: n.admin_ok("/admin/digest", {"TableName": table})
                for n in self._pick(regions)}

    def wait_converged(self, table, regions=None, items=None,
                       timeout=30.0):
        """Waits until table has the same Digest and Items count in every
        region (and items items when given); returns the digests."""
        def same():
            d = self.digests(table, regions)
            vals = {(x["Digest"], x["Items"]) for x in d.values()}
            if len(vals) != 1:
                return False
            if items is not None and next(iter(vals))[1] != items:
                return False
            return d
        return wait_for(same, timeout, "table %s to converge in %s" % (
            table, ",".join(regions or self.regions)))

    def wait_links_idle(self, regions=None, timeout=30.0):
        """Waits until every running region has applied its peers' heads
        and has nothing pending for its peers (all links caught up)."""
        nodes = self._pick(regions)

        def idle():
            for n in nodes:
                st = n.replication()
                for p in st["peers"]:
                    if p["region"] not in [x.region for x in nodes]:
                        continue
                    if p["applied_seq"] != p["peer_head_seq"]:
                        return False
                m = n.metrics()
                for labels, v in m.samples(
                        "meridian_pending_replication_count"):
                    if labels.get("destination") in \
                            [x.region for x in nodes] and v != 0:
                        return False
            return True
        return wait_for(idle, timeout, "replication links to be idle")


class ClusterTestCase(NodeTestCase):
    """A test class sharing one three-region cluster (global tables on).
    Subclasses name it (CLUSTER_NAME) and may give config settings
    (CLUSTER_SETTINGS).  setUp resumes and restarts any region an earlier
    test left stopped or frozen, so tests do not depend on their order."""
    START_NODE = False
    CLUSTER_NAME = "cluster"
    CLUSTER_SETTINGS = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = Cluster(name=cls.CLUSTER_NAME,
                              settings=cls.CLUSTER_SETTINGS)
        cls.addClassCleanup(cls.cluster.close)
        cls.cluster.start()

    @classmethod
    def tearDownClass(cls):
        for n in cls.cluster:
            if n.alive():
                n.stop()

    def setUp(self):
        for n in self.cluster:
            if n.proc is not None and n.proc.poll() is None:
                os.kill(n.proc.pid, signal.SIGCONT)
        self.cluster.start()

    def cl(self, region):
        return self.cluster[region].client()

