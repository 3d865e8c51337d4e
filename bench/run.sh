#!/usr/bin/env bash
# bench/run.sh — the benchmark behind `make bench`.
#
# For each durability mode it starts a region node and the bare NNG HTTP
# server (bench/bare.c: same HTTP stack and JSON parse, no storage) on
# 127.0.0.1 with ephemeral ports, creates the table, and runs the same load
# against both: PutItem of fresh keys, then GetItem of the keys just written.
# It prints requests/s and p50/p99 latency of each, and the ratio node/bare,
# which is what carries from one machine to another.
#
# It builds nothing: `make bench` has built the binaries.  Environment:
#   BENCH_SECONDS      seconds per load phase (5)
#   BENCH_CONNS        keep-alive connections of the load generator (16)
#   BENCH_DURABILITY   durability modes to measure ("nosync sync"; "none"
#                      skips the node/bare comparison)
#   BENCH_MAX_REQUESTS request bound per phase (5000000)
#   BENCH_STRICT       1: exit non-zero when a target ratio is missed
#   BENCH_BACKFILL     0 skips the backfill benchmark (1)
#   BENCH_BACKFILL_ITEMS items in the table that gets a new replica (1000000)
#   BENCH_INDEXES      0 skips the secondary-index write benchmark (1)
#   O                  the Makefile's build directory (build)
# Everything it starts is stopped, and its temporary directory removed, on
# exit.
set -euo pipefail

cd "$(dirname "$0")/.."

O=${O:-build}
BARE=$O/bench/bare
LOADGEN=$O/bench/loadgen
if [ "$O" = build ]; then NODE=bin/region-node; else NODE=$O/bin/region-node; fi
SECONDS_EACH=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-16}
MODES=${BENCH_DURABILITY:-nosync sync}
MAX_REQUESTS=${BENCH_MAX_REQUESTS:-5000000}
STRICT=${BENCH_STRICT:-0}
TABLE=bench

# The targets: GetItem at >= 80% of the bare server in every mode, PutItem
# at >= 50% in nosync mode.  Sync PutItem is reported without a target.
TARGET_GET=0.80
TARGET_PUT_NOSYNC=0.50

for bin in "$BARE" "$LOADGEN" "$NODE"; do
	if [ ! -x "$bin" ]; then
		echo "bench: $bin is missing; run 'make bench'" >&2
		exit 2
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-bench.XXXXXX")
PIDS=()

# fail MESSAGE: reports a failure; the run goes on and exits 1 at the end.
# A file, not a variable, because load() runs in command substitutions.
fail() {
	echo "bench: $*" >&2
	: >"$TMP/failed"
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port FILE PID: prints the port once PID has written it to FILE.
wait_port() {
	local file=$1 pid=$2 i
	for i in $(seq 1 100); do
		if [ -s "$file" ]; then
			tr -d '[:space:]' <"$file"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# stop PID NAME: SIGTERM, then at most 10 s for a clean exit (status 0).
stop() {
	local pid=$1 name=$2 i rc=0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$name did not stop on SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name exited with status $rc"
	fi
	local keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

# field LINE KEY: the value of KEY=... in a loadgen result line.
field() {
	local kv
	for kv in $1; do
		case $kv in "$2="*) echo "${kv#*=}"; return 0 ;; esac
	done
	echo 0
}

# load PORT OP [ARGS...]: one bounded loadgen run; prints its result line.
load() {
	local port=$1 op=$2 line rc=0
	shift 2
	line=$(timeout $((${SECONDS_EACH%.*} + 60)) "$LOADGEN" --op "$op" \
	    --port "$port" --table "$TABLE" --conns "$CONNS" \
	    --seconds "$SECONDS_EACH" --max-requests "$MAX_REQUESTS" \
	    "$@") || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "loadgen --op $op on port $port: status $rc"
	fi
	echo "$line"
}

# record MODE TARGET LINE: appends one loadgen result to the results file.
record() {
	local mode=$1 target=$2 line=$3
	[ -n "$line" ] || return 0
	echo "$mode $(field "$line" op) $target $(field "$line" rps)" \
	    "$(field "$line" p50_us) $(field "$line" p99_us)" \
	    "$(field "$line" errors) $(field "$line" misses)" \
	    "$(field "$line" reconnects)" >>"$TMP/results"
	echo "  $mode $target: $line" >&2
}

# put_then_get MODE BARE_PORT NODE_PORT: the load, bare and node phases
# interleaved so that a burst of other work on the machine falls on both
# sides of a ratio rather than on one.
put_then_get() {
	local mode=$1 bare_port=$2 node_port=$3 line keys_bare keys_node
	load "$bare_port" create-table >/dev/null
	load "$node_port" create-table >/dev/null
	line=$(load "$bare_port" put)
	keys_bare=$(field "$line" keys_per_conn_min)
	record "$mode" bare "$line"
	line=$(load "$node_port" put)
	keys_node=$(field "$line" keys_per_conn_min)
	record "$mode" node "$line"
	[ "$keys_bare" -gt 0 ] 2>/dev/null || keys_bare=1
	[ "$keys_node" -gt 0 ] 2>/dev/null || keys_node=1
	record "$mode" bare "$(load "$bare_port" get --keys "$keys_bare")"
	record "$mode" node "$(load "$node_port" get --keys "$keys_node")"
}

# bench_durability MODE: bare and node side by side in one durability mode.
bench_durability() {
	local mode=$1 dir=$TMP/$1 bare_pid node_pid bare_port node_port
	mkdir -p "$dir/data"

	"$BARE" --port 0 --port-file "$dir/bare.port" 2>"$dir/bare.log" &
	bare_pid=$!
	PIDS+=("$bare_pid")
	"$NODE" --port 0 --port-file "$dir/node.port" --data "$dir/data" \
	    --durability "$mode" --log-level warn 2>"$dir/node.log" &
	node_pid=$!
	PIDS+=("$node_pid")

	if ! bare_port=$(wait_port "$dir/bare.port" "$bare_pid"); then
		echo "bench: bare server did not start" >&2
		cat "$dir/bare.log" >&2
		exit 1
	fi
	if ! node_port=$(wait_port "$dir/node.port" "$node_pid"); then
		echo "bench: region-node did not start" >&2
		tail -n 20 "$dir/node.log" >&2
		exit 1
	fi

	put_then_get "$mode" "$bare_port" "$node_port"

	stop "$node_pid" region-node
	stop "$bare_pid" bare
	if grep -q ERROR "$dir/node.log"; then
		echo "bench: region-node logged errors ($mode):" >&2
		grep ERROR "$dir/node.log" | head -n 5 >&2
	fi
}

# bench_indexes: PutItem (nosync) into a table with two global secondary
# indexes (KEYS_ONLY and ALL) against a table without any, on one node,
# alternating the two loads twice so that other work on the machine falls
# on both sides.  Each index entry is written in the item's transaction.
bench_indexes() {
	local dir=$TMP/indexes pid port i line plain=0 gsi=0
	mkdir -p "$dir/data"
	"$NODE" --port 0 --port-file "$dir/node.port" --data "$dir/data" \
	    --durability nosync --log-level warn 2>"$dir/node.log" &
	pid=$!
	PIDS+=("$pid")
	if ! port=$(wait_port "$dir/node.port" "$pid"); then
		fail "region-node did not start (indexes)"
		return 0
	fi
	TABLE=plain load "$port" create-table >/dev/null
	TABLE=gsi2 load "$port" create-table --gsi 2 >/dev/null
	for i in 1 2; do
		line=$(TABLE=plain load "$port" put --key-prefix "p$i")
		echo "  indexes none: $line" >&2
		plain=$(awk -v a="$plain" -v b="$(field "$line" rps)" \
		    'BEGIN { print a + b }')
		line=$(TABLE=gsi2 load "$port" put --key-prefix "g$i")
		echo "  indexes 2 GSIs: $line" >&2
		gsi=$(awk -v a="$gsi" -v b="$(field "$line" rps)" \
		    'BEGIN { print a + b }')
	done
	stop "$pid" region-node
	echo "$plain $gsi" >"$TMP/indexes.result"
}

# bench_replication: three region nodes on 127.0.0.1 (nosync) replicating
# one global table.  Sustained PutItem load in the first region, at full
# speed (BENCH_CONNS connections) and lightly (1 connection); after each
# run, once every peer has caught up, the replication latency p50/p99 that
# the two other regions measured (apply time minus the write's timestamp,
# from their /metrics histograms), beside the write rate achieved.
bench_replication() {
	local dir=$TMP/repl regions="us-east-1 eu-west-1 ap-northeast-1"
	local r i pid ports
	mkdir -p "$dir"
	ports=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
	python3 - "$dir/cluster.json" $ports <<'PY'
import json, sys
path, ports = sys.argv[1], sys.argv[2:]
names = ["us-east-1", "eu-west-1", "ap-northeast-1"]
json.dump({"cluster_key": "meridian-benchmark-cluster-key",
           "durability": "nosync", "global_tables": True,
           "regions": [{"region": n, "host": "127.0.0.1", "port": 0,
                        "replication": "tcp://127.0.0.1:%s" % p}
                       for n, p in zip(names, ports)]}, open(path, "w"))
PY
	declare -A API
	for r in $regions; do
		"$NODE" --config "$dir/cluster.json" --region "$r" \
		    --port-file "$dir/$r.port" --data "$dir/$r" \
		    --log-level warn 2>"$dir/$r.log" &
		pid=$!
		PIDS+=("$pid")
		if ! API[$r]=$(wait_port "$dir/$r.port" "$pid"); then
			fail "region $r did not start"
			tail -n 20 "$dir/$r.log" >&2
			return 0
		fi
	done
	load "${API[us-east-1]}" create-table >/dev/null
	for run in full light; do
		local conns=$CONNS line
		[ "$run" = light ] && conns=1
		line=$(CONNS=$conns load "${API[us-east-1]}" put \
		    --key-prefix "$run")
		echo "  replication $run: $line" >&2
		python3 - "$run" "$(field "$line" rps)" "$dir" \
		    "${API[us-east-1]}" "${API[eu-west-1]}" \
		    "${API[ap-northeast-1]}" >>"$TMP/replication" <<'PY' ||
import json, os, re, sys, time, urllib.request
run, rps, state, origin, *dests = sys.argv[1:]
def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port,
                                timeout=10) as r:
        return r.read().decode()
# Wait (bounded) until the origin sees nothing pending for either peer.
deadline = time.time() + 60
while time.time() < deadline:
    m = metrics(origin)
    pend = [int(v) for v in re.findall(
        r'meridian_pending_replication_count\{[^}]*\} (\d+)', m)]
    if pend and max(pend) == 0:
        break
    time.sleep(0.2)
else:
    print("replication did not catch up within 60 s", file=sys.stderr)
    sys.exit(1)
def quantile(buckets, q):
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    want, prev_le, prev_n = q * total, 0.0, 0
    for le, n in buckets:
        if n >= want:
            if le == float("inf"):
                return prev_le
            frac = (want - prev_n) / (n - prev_n) if n > prev_n else 1
            return prev_le + (le - prev_le) * frac
        prev_le, prev_n = le, n
    return prev_le
for port in dests:
    m = metrics(port)
    rows = re.findall(r'meridian_replication_latency_ms_bucket\{source='
                      r'"us-east-1",destination="([^"]+)",le="([^"]+)"\} '
                      r'(\d+)', m)
    dest = rows[0][0] if rows else "?"
    b = [(float("inf") if le == "+Inf" else float(le), int(n))
         for _, le, n in rows]
    # The histogram counts since start: subtract the previous run's.
    prev_path = os.path.join(state, "hist-%s.json" % port)
    prev = json.load(open(prev_path)) if os.path.exists(prev_path) else {}
    json.dump({str(le): n for le, n in b}, open(prev_path, "w"))
    b = [(le, n - prev.get(str(le), 0)) for le, n in b]
    print("%s us-east-1->%s %s %.1f %.1f %d" % (run, dest, rps,
          quantile(b, 0.5), quantile(b, 0.99), b[-1][1] if b else 0))
PY
			fail "replication $run: peers did not catch up"
	done
	for pid in "${PIDS[@]}"; do stop "$pid" region-node; done
}

# bench_backfill: a table of BENCH_BACKFILL_ITEMS (1,000,000) items in one
# region gets a replica in a second; items/s of the backfill (UpdateTable
# until the replica is ACTIVE) beside items/s of mdb_copy of the source's
# data directory (a raw LMDB copy of the same data) in the same run.
bench_backfill() {
	local dir=$TMP/backfill items=${BENCH_BACKFILL_ITEMS:-1000000}
	local r pid ports
	mkdir -p "$dir"
	ports=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
	python3 - "$dir/cluster.json" $ports <<'PY'
import json, sys
path, ports = sys.argv[1], sys.argv[2:]
names = ["us-east-1", "eu-west-1"]
json.dump({"cluster_key": "meridian-benchmark-cluster-key",
           "durability": "nosync", "global_tables": False,
           "regions": [{"region": n, "host": "127.0.0.1", "port": 0,
                        "replication": "tcp://127.0.0.1:%s" % p}
                       for n, p in zip(names, ports)]}, open(path, "w"))
PY
	declare -A API
	for r in us-east-1 eu-west-1; do
		"$NODE" --config "$dir/cluster.json" --region "$r" \
		    --port-file "$dir/$r.port" --data "$dir/$r" \
		    --log-level warn 2>"$dir/$r.log" &
		pid=$!
		PIDS+=("$pid")
		if ! API[$r]=$(wait_port "$dir/$r.port" "$pid"); then
			fail "region $r did not start"
			return 0
		fi
	done
	load "${API[us-east-1]}" create-table >/dev/null
	echo "  backfill: loading $items items" >&2
	BENCH_SECONDS=300 MAX_REQUESTS=$items SECONDS_EACH=300 \
	    load "${API[us-east-1]}" put --key-prefix bf >/dev/null
	python3 - "${API[us-east-1]}" "$items" "$dir/us-east-1" \
	    "$dir/copy" >>"$TMP/backfill.result" <<'PY' || fail "backfill benchmark"
import json, os, subprocess, sys, time, urllib.request
port, want, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def ddb(op, body):
    req = urllib.request.Request(
        "http://127.0.0.1:%s/" % port, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.0",
                 "X-Amz-Target": "DynamoDB_20120810." + op})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)
count = ddb("DescribeTable", {"TableName": "bench"})["Table"]["ItemCount"]
t0 = time.monotonic()
ddb("UpdateTable", {"TableName": "bench", "ReplicaUpdates": [
    {"Create": {"RegionName": "eu-west-1"}}]})
deadline = t0 + 1800
while time.monotonic() < deadline:
    reps = ddb("DescribeTable", {"TableName": "bench"})["Table"]["Replicas"]
    st = [r["ReplicaStatus"] for r in reps if r["RegionName"] == "eu-west-1"]
    if st == ["ACTIVE"]:
        break
    time.sleep(0.05)
else:
    sys.exit("backfill did not finish")
backfill_s = time.monotonic() - t0
os.makedirs(dst)
t0 = time.monotonic()
subprocess.run(["mdb_copy", src, dst], check=True)
copy_s = time.monotonic() - t0
print("%d %.2f %.0f %.2f %.0f" % (count, backfill_s, count / backfill_s,
      copy_s, count / copy_s))
PY
	for pid in "${PIDS[@]}"; do stop "$pid" region-node; done
}

# report: the table, with the ratio node/bare and the targets.
report() {
	echo
	printf '%-7s %-4s %-6s %9s %8s %8s %7s  %-10s %s\n' durabil op target \
	    rps p50_us p99_us errors node/bare goal
	awk -v tg="$TARGET_GET" -v tp="$TARGET_PUT_NOSYNC" '
	{
		key = $1 " " $2
		if ($3 == "bare") bare[key] = $4
		row[NR] = $0
	}
	END {
		miss = 0
		for (i = 1; i <= NR; i++) {
			split(row[i], f, " ")
			key = f[1] " " f[2]
			ratio = ""; goal = ""
			if (f[3] != "bare" && bare[key] > 0) {
				r = f[4] / bare[key]
				ratio = sprintf("%.2f", r)
				t = ""
				if (f[2] == "get") t = tg
				if (f[2] == "put" && f[1] == "nosync") t = tp
				if (t != "") {
					ok = r >= t
					goal = sprintf(">=%.2f %s", t,
					    ok ? "ok" : "MISSED")
					if (!ok) miss = 1
				}
			}
			out = sprintf("%-7s %-4s %-6s %9d %8d %8d %7d  %-10s %s",
			    f[1], f[2], f[3], f[4], f[5], f[6], f[7], ratio,
			    goal)
			sub(/ +$/, "", out)
			print out
			if (f[8] > 0)
				printf "        (%d GetItem misses)\n", f[8]
		}
		exit miss ? 3 : 0
	}' "$TMP/results"
}

echo "bench: ${SECONDS_EACH}s per phase, $CONNS connections," \
    "durability: $MODES" >&2
# Load generator and servers share this machine's cores; other work running
# at the same time moves the figures, so say so when there is some.
read -r load1 _ </proc/loadavg || load1=0
if awk -v l="$load1" 'BEGIN { exit !(l >= 1.0) }'; then
	echo "bench: load average is $load1 before starting;" \
	    "other work on this machine will make the figures noisy" >&2
fi
: >"$TMP/results"
for mode in $MODES; do
	[ "$mode" = none ] && continue
	bench_durability "$mode"
done
: >"$TMP/replication"
bench_replication
: >"$TMP/backfill.result"
if [ "${BENCH_BACKFILL:-1}" = 1 ]; then bench_backfill; fi
: >"$TMP/indexes.result"
if [ "${BENCH_INDEXES:-1}" = 1 ]; then bench_indexes; fi

rc=0
report || rc=$?
if [ -s "$TMP/replication" ]; then
	echo
	echo "replication (3 regions, nosync; latency = apply time at the" \
	    "destination - write time at the source)"
	printf '%-6s %-28s %11s %8s %8s %8s\n' load pair "origin w/s" \
	    p50_ms p99_ms samples
	while read -r run pair rps p50 p99 n; do
		printf '%-6s %-28s %11s %8s %8s %8s\n' "$run" "$pair" "$rps" \
		    "$p50" "$p99" "$n"
	done <"$TMP/replication"
fi
if [ -s "$TMP/backfill.result" ]; then
	read -r n bs brate cs crate <"$TMP/backfill.result"
	echo
	echo "backfill of a new replica ($n items) vs mdb_copy of the same data"
	printf '  replica add: %8.2f s %10s items/s\n' "$bs" "$brate"
	printf '  mdb_copy:    %8.2f s %10s items/s\n' "$cs" "$crate"
	awk -v b="$brate" -v c="$crate" 'BEGIN { printf "  ratio backfill/mdb_copy: %.2f (goal >= 0.50)\n", b / c }'
fi
if [ -s "$TMP/indexes.result" ]; then
	read -r plain gsi <"$TMP/indexes.result"
	echo
	echo "PutItem (nosync, $CONNS connections) into a table with 2 GSIs" \
	    "vs none, same node"
	awk -v p="$plain" -v g="$gsi" 'BEGIN { printf "  none: %.0f req/s   2 GSIs: %.0f req/s   ratio: %.2f\n", p / 2, g / 2, g / p }'
fi
if [ "$rc" -eq 3 ]; then
	echo "bench: a target ratio was missed" >&2
	if [ "$STRICT" = 1 ]; then : >"$TMP/failed"; fi
elif [ "$rc" -ne 0 ]; then
	: >"$TMP/failed"
fi
if [ -e "$TMP/failed" ]; then
	echo "bench: FAILED (see messages above)" >&2
	exit 1
fi
