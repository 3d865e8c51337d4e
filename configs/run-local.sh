#!/usr/bin/env bash
# Starts the local cluster described in configs/local.json and stops it on
# Ctrl-C.  Data lives under ./data/<region>.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/local.json}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "cluster stopped"
}
trap cleanup INT TERM EXIT
regions=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(" ".join(r["region"] for r in c["regions"]))' "$CONFIG")
for r in $regions; do
	port=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print([x for x in c["regions"] if x["region"]==sys.argv[2]][0]["port"])' "$CONFIG" "$r")
	mkdir -p data
	bin/region-node --region "$r" --port "$port" --data "data/$r" \
	    --durability "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("durability","sync"))' "$CONFIG")" &
	pids+=($!)
	echo "$r: http://127.0.0.1:$port"
done
first_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["regions"][0]["port"])' "$CONFIG")
cat <<MSG

Try it:
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1
  aws dynamodb create-table --endpoint-url http://127.0.0.1:$first_port \\
      --table-name Music --attribute-definitions AttributeName=Artist,AttributeType=S \\
      --key-schema AttributeName=Artist,KeyType=HASH --billing-mode PAY_PER_REQUEST
  aws dynamodb list-tables --endpoint-url http://127.0.0.1:$first_port

Ctrl-C stops the cluster.
MSG
wait
