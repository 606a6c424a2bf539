#!/usr/bin/env bash
# quant-fixtures.sh: regenerates format/testdata/quants.gguf, the fixture of
# TestLlamaQuantized: one tensor of every type package format decodes,
# quantized by llama.cpp's llama-quantize, each beside the values that
# gguf-py's reference dequantizer (gguf/quants.py) gives for it.
#
#   tools/quant-fixtures.sh [OUT]     (run from the repository root)
#
# Needs llama.cpp's build (../shared/tools/llama-cpp.sh cpu: llama-quantize
# and gguf-py under $LLAMA_CPP_HOME, default ~/.cache/strata-reference) and
# Python 3 with numpy (Debian: python3-numpy). The tests need neither: they
# read the file this writes.
#
# Steps: `go run ./tools/synth` writes a one-layer model of the tiny shape
# in F32 (random weights of a trained model's spread); llama-quantize
# --pure quantizes every matrix of it to each type; from each result, the
# first 16 rows (4096 values) of blk.0.ffn_gate.weight are copied byte for
# byte into the fixture as tensor TYPE, and gguf-py's dequantization of
# those bytes as the F32 tensor TYPE.want.
set -euo pipefail
out=${1:-format/testdata/quants.gguf}
home=${LLAMA_CPP_HOME:-$HOME/.cache/strata-reference}
bin=$home/llama.cpp/build/bin
gguf_py=$home/llama.cpp/gguf-py
[ -x "$bin/llama-quantize" ] || { echo "quant-fixtures: no $bin/llama-quantize: run ../shared/tools/llama-cpp.sh cpu" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go run ./tools/synth --shape tiny --type f32 --layers 1 --seed 11 -o "$tmp/f32.gguf"
# The file type whose --pure quantization gives each tensor type.
declare -A ftype=([F32]=F32 [F16]=F16 [BF16]=BF16 [Q4_0]=Q4_0 [Q4_1]=Q4_1 [Q5_0]=Q5_0 [Q5_1]=Q5_1
  [Q8_0]=Q8_0 [Q2_K]=Q2_K [Q3_K]=Q3_K_M [Q4_K]=Q4_K_M [Q5_K]=Q5_K_M [Q6_K]=Q6_K [IQ4_NL]=IQ4_NL [IQ4_XS]=IQ4_XS)
types=(F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS)
for t in "${types[@]}"; do
  "$bin/llama-quantize" --pure "$tmp/f32.gguf" "$tmp/$t.gguf" "${ftype[$t]}" 2 >"$tmp/$t.log" 2>&1 ||
    { tail -20 "$tmp/$t.log" >&2; exit 1; }
done
commit=$(git -C "$home/llama.cpp" rev-parse HEAD 2>/dev/null || echo unknown)

PYTHONPATH=$gguf_py /usr/bin/python3 - "$tmp" "$out" "$commit" "${types[@]}" <<'PY'
import sys
import numpy as np
import gguf
from gguf import quants

tmp, out, commit, types = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
name, rows = "blk.0.ffn_gate.weight", 16
w = gguf.GGUFWriter(out, "strata-fixture")
w.add_string("fixture.source", f"{name}, first {rows} rows, of a synthetic F32 model quantized by llama-quantize --pure")
w.add_string("fixture.llama_cpp_commit", commit)
for t in types:
    r = gguf.GGUFReader(f"{tmp}/{t}.gguf")
    tensor = next(x for x in r.tensors if x.name == name)
    qtype = gguf.GGMLQuantizationType[t]
    if tensor.tensor_type != qtype:
        sys.exit(f"quant-fixtures: {name} of the {t} file is {tensor.tensor_type.name}")
    cols = int(tensor.shape[0])
    raw = np.frombuffer(tensor.data.tobytes(), dtype=np.uint8)
    row_bytes = len(raw) // int(tensor.shape[1])
    raw = raw[: rows * row_bytes].reshape(rows, row_bytes).copy()
    want = quants.dequantize(raw, qtype).astype(np.float32)
    assert want.shape == (rows, cols), want.shape
    w.add_tensor(t, raw, raw_dtype=qtype)
    w.add_tensor(t + ".want", want)
    print(f"{t}: {rows} x {cols}, {raw.nbytes} bytes")
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
PY
ls -l "$out"
