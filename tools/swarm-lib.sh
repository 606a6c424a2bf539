# Shell helpers of the swarm benchmarks (tools/hetero-bench.sh,
# tools/swarm-scale.sh), sourced after they set $strata (the binary) and
# $work (their folder). Peers started here are killed on exit.

pids=()
stop_peers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
}
trap stop_peers EXIT

# wait_file FILE: waits up to 2 minutes for FILE to be written.
wait_file() {
  for _ in $(seq 1200); do [ -s "$1" ] && return; sleep 0.1; done
  echo "$(basename "$0"): $1 never appeared" >&2
  exit 1
}

# peer_fault I: the STRATA_FAULT of joined peer I; none unless the
# sourcing script defines its own.
peer_fault() { :; }

# start_joined NAME COUNT MODEL [SERVE FLAGS...]: starts COUNT peers
# serving MODEL, NAME0 starting the swarm of secret $work/secret and the
# others joining through it, one at a time; waits until every one serves
# layers. Sets seed (NAME0's gossip address) and joined_peers (their data
# addresses, comma-separated).
start_joined() {
  local name=$1 count=$2 model=$3 i served
  shift 3
  rm -f "$work/$name"*.addr "$work/$name"*.gossip
  local join=() addrs=()
  for i in $(seq 0 $((count - 1))); do
    STRATA_FAULT=$(peer_fault "$i") "$strata" serve "$model" --swarm "$work/secret" \
      --listen 127.0.0.1:0 --addr-file "$work/$name$i.addr" \
      --gossip-addr 127.0.0.1:0 --gossip-addr-file "$work/$name$i.gossip" \
      "$@" "${join[@]}" 2>"$work/$name$i.log" &
    pids+=($!)
    wait_file "$work/$name$i.gossip"
    join=(--join "$(cat "$work/${name}0.gossip")")
  done
  seed=$(cat "$work/${name}0.gossip")
  for i in $(seq 0 $((count - 1))); do wait_file "$work/$name$i.addr"; addrs+=("$(cat "$work/$name$i.addr")"); done
  joined_peers=$(IFS=,; echo "${addrs[*]}")
  for _ in $(seq 1200); do # until the plan naming every peer is applied
    served=$("$strata" peers --swarm "$work/secret" --peers "$joined_peers" --json 2>/dev/null |
      python3 -c 'import json, sys; print(sum(1 for r in json.load(sys.stdin) if r.get("info") and r["info"]["end"] > r["info"]["start"]))' || echo 0)
    [ "$served" = "$count" ] && return
    sleep 0.5
  done
  echo "$(basename "$0"): $count joined peers do not all serve after 10 minutes" >&2
  exit 1
}
