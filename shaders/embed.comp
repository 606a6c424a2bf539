#version 450
// out[i] = row tokens[i] of the table, dequantized. The token ids are
// dynamic data, read from D at offset p.ids.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Weights { uint W[]; };
layout(std430, binding = 1) readonly buffer Dynamic { uint D[]; };
layout(std430, binding = 2) writeonly buffer Output { vec4 O[]; };

layout(push_constant) uniform Params {
    uint cols;      // values per row
    uint row_bytes; // bytes per table row
    uint ids;       // word offset of the token ids in D
    uint first;     // first row of the table held by this chunk
    uint rows;      // rows held by this chunk
} p;

#include "common.glsl"
#include "dequant.glsl"

void main() {
    uint i = gl_WorkGroupID.x;
    uint tok = D[p.ids + i];
    if (tok < p.first || tok >= p.first + p.rows) return; // another chunk's row
    uint row = (tok - p.first) * p.row_bytes;
    for (uint s = gl_LocalInvocationID.x; s < p.cols / 32u; s += 64u) {
        uint base = block_base(row, s);
        uint sub = s % SUBS_PER_BLOCK;
        Sub st = prepare(base, sub);
        for (uint w = 0u; w < 8u; w++) O[(i * p.cols + s * 32u) / 4u + w] = get4(st, base, sub, w);
    }
}
