#!/usr/bin/env bash
# Starts every region of a cluster config (default configs/local.json) as
# its own region-node process, prints the endpoints, and stops them all on
# Ctrl-C.  Data lives under ./data/<region>.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/local.json}
pids=()
cleanup() {
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "cluster stopped"
}
trap cleanup INT TERM EXIT
mkdir -p data
mapfile -t lines < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
for r in c["regions"]:
    print(r["region"], r.get("host", "127.0.0.1"), r.get("port", 8000))
' "$CONFIG")
for line in "${lines[@]}"; do
	read -r region host port <<<"$line"
	bin/region-node --config "$CONFIG" --region "$region" &
	pids+=($!)
	printf '  %-16s http://%s:%s\n' "$region" "$host" "$port"
done
read -r _ host port <<<"${lines[0]}"
cat <<MSG

Meridian is running ($CONFIG).  Try:
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1
  aws dynamodb create-table --endpoint-url http://$host:$port \\
      --table-name Music --attribute-definitions AttributeName=Artist,AttributeType=S \\
      --key-schema AttributeName=Artist,KeyType=HASH --billing-mode PAY_PER_REQUEST
  aws dynamodb put-item --endpoint-url http://$host:$port --table-name Music \\
      --item '{"Artist":{"S":"Nina Simone"}}'
  aws dynamodb scan --endpoint-url http://127.0.0.1:8001 --table-name Music

Ctrl-C stops the cluster.
MSG
wait
