#version 450
// out[j][r] = dot(W[r], x[j]) for rows r of a weight chunk and inputs j < n.
// A workgroup of 64 threads serves 64/tpr rows with tpr threads each (tpr
// depends on the device and the row length only; 1 on CPU devices,
// which run a workgroup's invocations as loops and pay for each barrier). A thread dequantizes whole sub-blocks
// of 32 values, four at a time, and dots them with up to eight input rows
// at once; the partial sums of a row meet in a fixed shared-memory tree.
// One code path serves every n, so each output is summed in the same
// order whatever the batch.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Weights { uint W[]; };
layout(std430, binding = 1) readonly buffer Input { vec4 X[]; };
layout(std430, binding = 2) writeonly buffer Output { float O[]; };

layout(push_constant) uniform Params {
    uint rows;      // rows in this chunk of the weight
    uint cols;      // values per row (a multiple of 32)
    uint n;         // input rows
    uint row_bytes; // bytes per weight row
    uint out_cols;  // stride of an output row (all rows of the whole weight)
    uint out_first; // column of out where this chunk's rows start
    uint tpr;       // threads per row: a power of two up to 64
} p;

#include "common.glsl"
#include "dequant.glsl"

shared float partial[8][64];

// DOT adds to sum the dot product of v with four values of input row j0+k.
#define DOT(k, sum) if (k < jn) { vec4 xv = X[xo + k * c4]; sum += v.x * xv.x; sum += v.y * xv.y; sum += v.z * xv.z; sum += v.w * xv.w; }

void main() {
    uint t = gl_LocalInvocationID.x;
    uint lane = t % p.tpr;
    uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint r = wg * (64u / p.tpr) + t / p.tpr;
    bool valid = r < p.rows;
    uint subs = p.cols / 32u;
    uint c4 = p.cols / 4u;
    uint row = r * p.row_bytes;
    for (uint j0 = 0u; j0 < p.n; j0 += 8u) {
        uint jn = min(8u, p.n - j0);
        float a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0;
        if (valid) {
            for (uint s = lane; s < subs; s += p.tpr) {
                uint base = block_base(row, s);
                uint sub = s % SUBS_PER_BLOCK;
                Sub st = prepare(base, sub);
                float d0 = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0, d4 = 0.0, d5 = 0.0, d6 = 0.0, d7 = 0.0;
                for (uint w = 0u; w < 8u; w++) {
                    vec4 v = get4(st, base, sub, w);
                    uint xo = j0 * c4 + s * 8u + w;
                    DOT(0u, d0) DOT(1u, d1) DOT(2u, d2) DOT(3u, d3)
                    DOT(4u, d4) DOT(5u, d5) DOT(6u, d6) DOT(7u, d7)
                }
                a0 += d0; a1 += d1; a2 += d2; a3 += d3; a4 += d4; a5 += d5; a6 += d6; a7 += d7;
            }
        }
        if (p.tpr == 1u) { // one thread per row: no reduction (uniform branch)
            if (valid) {
                uint o = j0 * p.out_cols + p.out_first + r;
                O[o] = a0;
                if (jn > 1u) O[o + p.out_cols] = a1;
                if (jn > 2u) O[o + 2u * p.out_cols] = a2;
                if (jn > 3u) O[o + 3u * p.out_cols] = a3;
                if (jn > 4u) O[o + 4u * p.out_cols] = a4;
                if (jn > 5u) O[o + 5u * p.out_cols] = a5;
                if (jn > 6u) O[o + 6u * p.out_cols] = a6;
                if (jn > 7u) O[o + 7u * p.out_cols] = a7;
            }
            continue;
        }
        partial[0][t] = a0; partial[1][t] = a1; partial[2][t] = a2; partial[3][t] = a3;
        partial[4][t] = a4; partial[5][t] = a5; partial[6][t] = a6; partial[7][t] = a7;
        barrier();
        for (uint width = p.tpr / 2u; width > 0u; width >>= 1) {
            if (lane < width) {
                for (uint k = 0u; k < jn; k++) partial[k][t] += partial[k][t + width];
            }
            barrier();
        }
        // The row's sums are at its lane 0; lanes take the inputs in turn
        // (tpr may be smaller than jn: 2 threads for a row of 64 values).
        if (valid) {
            for (uint k = lane; k < jn; k += p.tpr) O[(j0 + k) * p.out_cols + p.out_first + r] = partial[k][t - lane];
        }
        barrier();
    }
}
