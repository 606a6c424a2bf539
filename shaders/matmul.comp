#version 450
// out[j][r] = dot(W[r], x[j]) for rows r of a weight chunk and inputs j < n.
// A workgroup of WG threads (32 or 64: specialization constant 0) serves
// WG/tpr rows with tpr threads each (tpr depends on the device and the row
// length only; 1 on CPU devices, which run a workgroup's invocations as
// loops and pay for each barrier). A thread dequantizes whole sub-blocks
// of 32 values, four at a time, and dots them with up to eight input rows
// at once; the partial sums of a row meet in a fixed tree: at each width
// w, lane l < w adds lane l + w's sum to its own. With SUBGROUP the steps
// narrower than the subgroup are shuffles, the wider ones go through
// shared memory; without, all do. Both give the same bits. One code path
// serves every n, so each output is summed in the same order whatever
// the batch.
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
layout(constant_id = 0) const uint WG = 64u;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Weights { uint W[]; };
layout(std430, binding = 1) readonly buffer Input { vec4 X[]; };
layout(std430, binding = 2) writeonly buffer Output { float O[]; };
// With p.add, the residual stream the outputs are also added to (an
// Add fused into the epilogue: R += out, in the Add shader's one rounding).
layout(std430, binding = 3) buffer Residual { float R[]; };

layout(push_constant) uniform Params {
    uint rows;      // rows in this chunk of the weight
    uint cols;      // values per row (a multiple of 32)
    uint n;         // input rows
    uint row_bytes; // bytes per weight row
    uint out_cols;  // stride of an output row (all rows of the whole weight)
    uint out_first; // column of out where this chunk's rows start
    uint tpr;       // threads per row: a power of two up to WG
    uint add;       // 1: R[o] += O[o] too
} p;

#include "common.glsl"
#include "dequant.glsl"

shared float partial[8][64];

// DOT adds to sum the dot product of v with four values of input row j0+k.
#define DOT(k, sum) if (k < jn) { vec4 xv = X[xo + k * c4]; sum += v.x * xv.x; sum += v.y * xv.y; sum += v.z * xv.z; sum += v.w * xv.w; }

void main() {
#ifdef SUBGROUP
    // Number threads by subgroup, so that the lanes of a row (aligned
    // blocks of tpr) are consecutive invocations of one subgroup.
    uint t = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
    uint shuffled = gl_SubgroupSize; // tree steps narrower than this are shuffles
#else
    uint t = gl_LocalInvocationID.x;
    uint shuffled = 1u;
#endif
    uint lane = t % p.tpr;
    uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint r = wg * (WG / p.tpr) + t / p.tpr;
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
        // The tree (uniform control flow: tpr and the subgroup size are).
        uint width = p.tpr / 2u;
        for (; width >= shuffled && width > 0u; width >>= 1) {
            partial[0][t] = a0; partial[1][t] = a1; partial[2][t] = a2; partial[3][t] = a3;
            partial[4][t] = a4; partial[5][t] = a5; partial[6][t] = a6; partial[7][t] = a7;
            barrier();
            if (lane < width) {
                uint u = t + width;
                a0 += partial[0][u]; a1 += partial[1][u]; a2 += partial[2][u]; a3 += partial[3][u];
                a4 += partial[4][u]; a5 += partial[5][u]; a6 += partial[6][u]; a7 += partial[7][u];
            }
            barrier();
        }
#ifdef SUBGROUP
        for (; width > 0u; width >>= 1) {
            a0 += subgroupShuffleXor(a0, width); a1 += subgroupShuffleXor(a1, width);
            a2 += subgroupShuffleXor(a2, width); a3 += subgroupShuffleXor(a3, width);
            a4 += subgroupShuffleXor(a4, width); a5 += subgroupShuffleXor(a5, width);
            a6 += subgroupShuffleXor(a6, width); a7 += subgroupShuffleXor(a7, width);
        }
#endif
        if (valid && lane == 0u) { // the row's sums, for every input of the pass
            float sums[8] = float[8](a0, a1, a2, a3, a4, a5, a6, a7);
            uint o = j0 * p.out_cols + p.out_first + r;
            for (uint k = 0u; k < jn; k++) {
                O[o + k * p.out_cols] = sums[k];
                if (p.add != 0u) R[o + k * p.out_cols] += sums[k];
            }
        }
    }
}
