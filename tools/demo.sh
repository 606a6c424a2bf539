#!/usr/bin/env bash
# The demo behind `make demo`: split the bundled tiny model into three
# fragments, serve each from its own peer on loopback, generate through
# them, and show what each peer did.
set -euo pipefail
strata=${STRATA:-./bin/strata}
model=${MODEL:-testdata/tiny-mistral/tiny-mistral-q4km.gguf}
prompt=${PROMPT:-Once upon a time, there was a little robot who}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== split $model into 3 fragments"
"$strata" split "$model" --parts 3 -o "$work/split"
"$strata" swarm init -o "$work/swarm"
export STRATA_SWARM="$work/swarm"

echo "== start 3 peers on loopback"
for i in 0 1 2; do
  "$strata" serve "$work/split" --fragment "$i" --listen 127.0.0.1:0 --addr-file "$work/peer$i" \
    --backend cpu -t 1 2>"$work/peer$i.log" &
  pids+=($!)
done
addrs=()
for i in 0 1 2; do
  for _ in $(seq 100); do [ -s "$work/peer$i" ] && break; sleep 0.1; done
  [ -s "$work/peer$i" ] || { echo "peer $i did not start:"; cat "$work/peer$i.log"; exit 1; }
  addrs+=("$(cat "$work/peer$i")")
done
peers=$(IFS=,; echo "${addrs[*]}")
"$strata" peers --peers "$peers"

echo
echo "== generate through the peers"
"$strata" run "$work/split/manifest.json" --peers "$peers" -p "$prompt" -n 48 --temp 0 --ignore-eos
echo
echo "== the same on one machine"
"$strata" run "$model" -p "$prompt" -n 48 --temp 0 --ignore-eos --backend cpu
