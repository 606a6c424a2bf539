#version 450
// Causal grouped-query attention for query row j (at position pos + j)
// and head h, one workgroup each. Positions are visited in tiles of 128
// with a running maximum and sum (online softmax); the order depends only
// on the number of positions, so a row gives the same result whatever
// batch it is computed in.
layout(local_size_x = 128) in;

layout(std430, binding = 0) readonly buffer Q { float Qs[]; };
layout(std430, binding = 1) readonly buffer KC { float Kc[]; };
layout(std430, binding = 2) readonly buffer VC { float Vc[]; };
layout(std430, binding = 3) writeonly buffer Output { float O[]; };
layout(std430, binding = 4) readonly buffer Dynamic { uint D[]; };

layout(push_constant) uniform Params {
    uint heads;
    uint kv_heads;
    uint head_dim;  // at most 256
    float scale;
    uint pos;       // word offset of pos in D
} p;

shared float q[256];
shared float e[128];
shared float red[128];

void main() {
    uint j = gl_WorkGroupID.y;
    uint h = gl_WorkGroupID.x;
    uint t = gl_LocalInvocationID.x;
    uint hd = p.head_dim;
    uint kvw = p.kv_heads * hd;
    uint kvo = (h / (p.heads / p.kv_heads)) * hd;
    uint qo = j * p.heads * hd + h * hd;
    uint T = D[p.pos] + j + 1u;
    for (uint d = t; d < hd; d += 128u) q[d] = Qs[qo + d];
    barrier();

    float o0 = 0.0, o1 = 0.0; // dims t and t + 128
    float m = -1.0 / 0.0, l = 0.0;
    for (uint tile = 0u; tile < T; tile += 128u) {
        uint pp = tile + t;
        float s = -1.0 / 0.0;
        if (pp < T) {
            s = 0.0;
            for (uint d = 0u; d < hd; d++) s += q[d] * Kc[pp * kvw + kvo + d];
            s *= p.scale;
        }
        red[t] = s;
        barrier();
        for (uint w = 64u; w > 0u; w >>= 1) {
            if (t < w) red[t] = max(red[t], red[t + w]);
            barrier();
        }
        float mNew = max(m, red[0]);
        barrier();
        float ex = pp < T ? exp(s - mNew) : 0.0;
        e[t] = ex;
        red[t] = ex;
        barrier();
        for (uint w = 64u; w > 0u; w >>= 1) {
            if (t < w) red[t] += red[t + w];
            barrier();
        }
        float alpha = exp(m - mNew);
        l = l * alpha + red[0];
        uint count = min(128u, T - tile);
        o0 *= alpha;
        o1 *= alpha;
        for (uint k = 0u; k < count; k++) {
            uint v = (tile + k) * kvw + kvo;
            if (t < hd) o0 += e[k] * Vc[v + t];
            if (t + 128u < hd) o1 += e[k] * Vc[v + t + 128u];
        }
        m = mNew;
        barrier();
    }
    if (t < hd) O[qo + t] = o0 / l;
    if (t + 128u < hd) O[qo + t + 128u] = o1 / l;
}
