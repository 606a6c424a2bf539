#!/usr/bin/env bash
# The swarm at a target's scale (the swarm issue's acceptance 6): PEERS
# peers join a swarm on loopback with one command each and no layers
# given, serve MODEL by the coordinator's plan, and a greedy generation of
# N tokens through them must equal one process's. Prints both runs'
# tokens/s, each peer's peak RSS and the plan. The peers compute from the
# file's mapping (--mmap), sharing its pages: on one machine, copies of
# their own would hold the model once per plan the swarm goes through as
# the peers join (the first alone is given every layer). Long, and it
# needs the model's size in memory: stays out of CI.
#
#   go run ./tools/synth --shape magistral-small -o /tmp/magistral.gguf
#   tools/swarm-scale.sh /tmp/magistral.gguf [WORKDIR]
#   (N=16 PEERS=3 THREADS=1 are the defaults)
set -euo pipefail
model=${1:?usage: tools/swarm-scale.sh MODEL [WORKDIR]}
work=${2:-$(mktemp -d)}
n=${N:-16}
peers=${PEERS:-3}
threads=${THREADS:-1}
prompt=${PROMPT:-Once upon a time, there was a little robot who}
mkdir -p "$work"
strata="$work/strata"
go build -o "$strata" ./cmd/strata

. tools/swarm-lib.sh

# summary FILE: tokens/s and the digest of the tokens of a --json run.
summary() {
  python3 -c 'import hashlib, json, sys
d = json.load(open(sys.argv[1]))
print("%.3f tokens/s, tokens %s" % (d["timings"]["predicted_tokens_per_second"], hashlib.sha256(str(d["tokens"]).encode()).hexdigest()[:12]))' "$1"
}

echo "== $model: one process, then $peers joined peers (-t $threads each), $n greedy tokens"
"$strata" run "$model" --backend cpu --mmap -t "$threads" -p "$prompt" -n "$n" --temp 0 --ignore-eos --json \
  >"$work/local.json" 2>"$work/local.log"
echo "one process: $(summary "$work/local.json")"

[ -f "$work/secret" ] || "$strata" swarm init -o "$work/secret" >/dev/null
start_joined peer "$peers" "$model" --backend cpu --mmap -t "$threads"
"$strata" run "$model" --swarm "$work/secret" --join "$seed" --join-timeout 10m \
  -p "$prompt" -n "$n" --temp 0 --ignore-eos --json >"$work/swarm.json" 2>"$work/swarm.log"
echo "$peers joined peers: $(summary "$work/swarm.json")"
"$strata" peers --swarm "$work/secret" --join "$seed" 2>/dev/null | sed -n '/^plan/,/^$/p'
for i in "${!pids[@]}"; do
  echo "peer $i: peak RSS $(awk '/VmHWM/ {printf "%.2f GiB", $2 / 1048576}' "/proc/${pids[$i]}/status")"
done
if cmp -s <(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tokens"])' "$work/local.json") \
  <(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tokens"])' "$work/swarm.json"); then
  echo "the same tokens"
else
  echo "swarm-scale: the tokens differ" >&2
  exit 1
fi
