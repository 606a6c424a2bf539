#!/usr/bin/env bash
# Heterogeneous swarm benchmark (the swarm issue's acceptance 2): four
# peers of unequal speed on loopback, two of them slowed by the test-only
# fault switch (STRATA_FAULT=slowdown=F, in a `-tags faults` build), serve
# a model two ways, and the decode rates of the two are compared:
#
#   equal: the model cut into four equal layer counts (strata split
#          --layers, as a person cutting by hand would), each peer given
#          one with --fragment;
#   joined: the same four peers joining the swarm with no layers given,
#          placed by the coordinator from their measured speeds.
#
# Each way runs ROUNDS rounds, interleaved, of CLIENTS greedy generations
# of N tokens at once (each its own client, so a pipeline of several
# stages has work for every stage), and prints the clients' decode
# tokens/s summed; the tokens of every generation must be the same. Long:
# stays out of CI.
#
#   tools/hetero-bench.sh MODEL [WORKDIR]
#   (N=32 ROUNDS=3 CLIENTS=1 SLOW=3 THREADS=1 are the defaults)
set -euo pipefail
model=${1:?usage: tools/hetero-bench.sh MODEL [WORKDIR]}
work=${2:-$(mktemp -d)}
n=${N:-32}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-1}
slow=${SLOW:-3}
threads=${THREADS:-1}
prompt=${PROMPT:-Once upon a time, there was a little robot who}
mkdir -p "$work"
strata="$work/strata-faults"
go build -tags faults -o "$strata" ./cmd/strata

. tools/swarm-lib.sh

# peer_fault I: the slowdown of peer I (peers 2 and 3 are the slow ones).
peer_fault() { if [ "$1" -ge 2 ]; then echo "slowdown=$slow"; fi; }

# rate ARGS...: CLIENTS greedy runs at once; prints their decode tokens/s
# summed, and the digest of their tokens ("differ" when they differ).
rate() {
  local i runs=()
  for i in $(seq "$clients"); do
    "$strata" run "$@" -p "$prompt" -n "$n" --temp 0 --ignore-eos --json >"$work/out$i.json" 2>>"$work/client.log" &
    runs+=($!)
  done
  wait "${runs[@]}"
  python3 - "$work" "$clients" <<'PY'
import hashlib, json, sys
work, clients = sys.argv[1], int(sys.argv[2])
rate, digests = 0.0, set()
for i in range(1, clients + 1):
    d = json.load(open("%s/out%d.json" % (work, i)))
    rate += d["timings"]["predicted_tokens_per_second"]
    digests.add(hashlib.sha256(str(d["tokens"]).encode()).hexdigest()[:12])
print("%.3f %s" % (rate, digests.pop() if len(digests) == 1 else "differ"))
PY
}

[ -f "$work/secret" ] || "$strata" swarm init -o "$work/secret" >/dev/null
if [ ! -f "$work/split/manifest.json" ]; then
  layers=$("$strata" inspect "$model" --json | python3 -c 'import json, sys; m = json.load(sys.stdin)["metadata"]; print(m[m["general.architecture"] + ".block_count"])')
  ranges=$(python3 -c 'import sys; n = int(sys.argv[1]); print(",".join("%d-%d" % (i*n//4, (i+1)*n//4 - 1) for i in range(4)))' "$layers")
  "$strata" split "$model" --layers "$ranges" -o "$work/split" >/dev/null
fi

start_equal() {
  rm -f "$work"/equal*.addr
  for i in 0 1 2 3; do
    STRATA_FAULT=$(peer_fault $i) "$strata" serve "$work/split" --fragment $i --swarm "$work/secret" \
      --listen 127.0.0.1:0 --addr-file "$work/equal$i.addr" --backend cpu -t "$threads" 2>"$work/equal$i.log" &
    pids+=($!)
  done
  addrs=()
  for i in 0 1 2 3; do wait_file "$work/equal$i.addr"; addrs+=("$(cat "$work/equal$i.addr")"); done
  equal_peers=$(IFS=,; echo "${addrs[*]}")
}

echo "== $model: 4 peers, -t $threads, peers 2 and 3 slowed ${slow}x; $rounds rounds of $clients clients x $n tokens"
start_equal
start_joined joined 4 "$model" --backend cpu -t "$threads"
"$strata" peers --swarm "$work/secret" --join "$seed" >"$work/plan.txt" 2>&1 || true
echo "-- the joined swarm's plan"
cat "$work/plan.txt"
echo "-- tokens/s (digest of the tokens)"
for r in $(seq "$rounds"); do
  e=$(rate "$work/split/manifest.json" --swarm "$work/secret" --peers "$equal_peers")
  j=$(rate "$model" --swarm "$work/secret" --join "$seed")
  echo "round $r: equal split $e | joined $j"
done
