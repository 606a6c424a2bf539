// Weight formats, read four values at a time. Values come in sub-blocks
// of 32: prepare reads what a sub-block shares (scales, minimums), then
// get4(st, base, sub, w) returns values 4w .. 4w+3 of sub-block `sub` of
// the block starting at byte `base` of W. BLOCK_VALUES and BLOCK_BYTES
// describe one block. Select the format with -DTYPE_xxx.

#if defined(TYPE_Q2_K)
struct Sub {
    vec2 a; // scales of the sub-block's two halves of 16 values
    vec2 b; // their minimums
};
#else
struct Sub {
    float a; // scale
    float b; // offset or second scale
};
#endif

#if defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
// The values that IQ4_NL and IQ4_XS nibbles stand for (ggml's kvalues_iq4nl).
const float IQ4_VALUES[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
                                       1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);
#endif

#if defined(TYPE_F32)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 128u
Sub prepare(uint base, uint sub) { return Sub(0.0, 0.0); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint i = (base >> 2) + 4u * w;
    return uintBitsToFloat(uvec4(W[i], W[i + 1u], W[i + 2u], W[i + 3u]));
}
#elif defined(TYPE_F16)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 64u
Sub prepare(uint base, uint sub) { return Sub(0.0, 0.0); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint i = (base >> 2) + 2u * w;
    return vec4(halves(W[i]), halves(W[i + 1u]));
}
#elif defined(TYPE_BF16)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 64u
Sub prepare(uint base, uint sub) { return Sub(0.0, 0.0); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint i = (base >> 2) + 2u * w;
    uint a = W[i], b = W[i + 1u];
    return uintBitsToFloat(uvec4(a << 16, a & 0xFFFF0000u, b << 16, b & 0xFFFF0000u));
}
#elif defined(TYPE_Q4_0)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 18u
Sub prepare(uint base, uint sub) { return Sub(f16_at(base), 0.0); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    // values 0..15 are the low nibbles of the 16 bytes, 16..31 the high ones
    uint word = word_at(base + 2u + 4u * (w & 3u)) >> ((w >> 2) * 4u);
    ivec4 q = ivec4(uvec4(word, word >> 8, word >> 16, word >> 24) & 15u) - 8;
    return st.a * vec4(q);
}
#elif defined(TYPE_Q4_1)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 20u
Sub prepare(uint base, uint sub) { return Sub(f16_at(base), f16_at(base + 2u)); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    // nibbles as Q4_0's; value = d × q + m (d × q is exact)
    uint word = word_at(base + 4u + 4u * (w & 3u)) >> ((w >> 2) * 4u);
    vec4 q = vec4(uvec4(word, word >> 8, word >> 16, word >> 24) & 15u);
    return st.a * q + st.b;
}
#elif defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
#define BLOCK_VALUES 32u
#if defined(TYPE_Q5_0)
#define BLOCK_BYTES 22u
#define QH_OFFSET 2u
Sub prepare(uint base, uint sub) { return Sub(f16_at(base), 0.0); }
#else
#define BLOCK_BYTES 24u
#define QH_OFFSET 4u
Sub prepare(uint base, uint sub) { return Sub(f16_at(base), f16_at(base + 2u)); }
#endif
vec4 get4(Sub st, uint base, uint sub, uint w) {
    // nibbles as Q4_0's after the 32-bit qh, whose bit l is the fifth bit of value l
    uint word = word_at(base + QH_OFFSET + 4u + 4u * (w & 3u)) >> ((w >> 2) * 4u);
    uint h = word_at(base + QH_OFFSET) >> (4u * w);
    uvec4 q = (uvec4(word, word >> 8, word >> 16, word >> 24) & 15u) | ((uvec4(h, h >> 1, h >> 2, h >> 3) & 1u) << 4);
#if defined(TYPE_Q5_0)
    return st.a * vec4(ivec4(q) - 16);
#else
    return st.a * vec4(q) + st.b;
#endif
}
#elif defined(TYPE_IQ4_NL)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 18u
Sub prepare(uint base, uint sub) { return Sub(f16_at(base), 0.0); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    // nibbles as Q4_0's, each standing for one of IQ4_VALUES
    uint word = word_at(base + 2u + 4u * (w & 3u)) >> ((w >> 2) * 4u);
    uvec4 q = uvec4(word, word >> 8, word >> 16, word >> 24) & 15u;
    return st.a * vec4(IQ4_VALUES[q.x], IQ4_VALUES[q.y], IQ4_VALUES[q.z], IQ4_VALUES[q.w]);
}
#elif defined(TYPE_IQ4_XS)
#define BLOCK_VALUES 256u
#define BLOCK_BYTES 136u
// d × (the sub-block's 6-bit scale − 32): low bits in nibble sub%2 of
// byte 4 + sub/2, high bits in bits 2·sub of the 16-bit word at byte 2.
Sub prepare(uint base, uint sub) {
    uint ls = ((byte_at(base + 4u + (sub >> 1)) >> (4u * (sub & 1u))) & 15u) | (((u16_at(base + 2u) >> (2u * sub)) & 3u) << 4);
    return Sub(f16_at(base) * float(int(ls) - 32), 0.0);
}
vec4 get4(Sub st, uint base, uint sub, uint w) {
    // 16 bytes per sub-block at byte 8, laid out as IQ4_NL's
    uint word = word_at(base + 8u + 16u * sub + 4u * (w & 3u)) >> ((w >> 2) * 4u);
    uvec4 q = uvec4(word, word >> 8, word >> 16, word >> 24) & 15u;
    return st.a * vec4(IQ4_VALUES[q.x], IQ4_VALUES[q.y], IQ4_VALUES[q.z], IQ4_VALUES[q.w]);
}
#elif defined(TYPE_Q2_K)
#define BLOCK_VALUES 256u
#define BLOCK_BYTES 84u
// Sub-block `sub` of 32 values is bit pair sub%4 of the 32 bytes of half
// sub/4; its halves of 16 have the scale bytes 2·sub and 2·sub+1 (low
// nibble the scale, high nibble the minimum).
Sub prepare(uint base, uint sub) {
    uint sc = u16_at(base + 2u * sub);
    float d = f16_at(base + 80u), dmin = f16_at(base + 82u);
    return Sub(vec2(d * float(sc & 15u), d * float((sc >> 8) & 15u)),
               vec2(dmin * float((sc >> 4) & 15u), dmin * float(sc >> 12)));
}
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint word = word_at(base + 16u + 32u * (sub >> 2) + 4u * w) >> (2u * (sub & 3u));
    vec4 q = vec4(uvec4(word, word >> 8, word >> 16, word >> 24) & 3u);
    uint h = w >> 2;
    return st.a[h] * q - st.b[h]; // d·scale × q is exact
}
#elif defined(TYPE_Q3_K)
#define BLOCK_VALUES 256u
#define BLOCK_BYTES 110u
// The j-th signed 6-bit scale: low bits in nibble j/8 of byte 96 + j%8,
// high bits in bits 2(j/4) of byte 104 + j%4.
int scale_q3k(uint base, uint j) {
    uint low = (byte_at(base + 96u + (j & 7u)) >> (4u * (j >> 3))) & 15u;
    uint high = (byte_at(base + 104u + (j & 3u)) >> (2u * (j >> 2))) & 3u;
    return int(low | (high << 4)) - 32;
}
// Quants as Q2_K's at byte 32; the high bit of value l of sub-block sub
// is bit sub of hmask[l], and a clear one takes 4 off.
Sub prepare(uint base, uint sub) {
    float d = f16_at(base + 108u);
    return Sub(d * float(scale_q3k(base, 2u * sub)), d * float(scale_q3k(base, 2u * sub + 1u)));
}
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint lo = word_at(base + 32u + 32u * (sub >> 2) + 4u * w) >> (2u * (sub & 3u));
    uint hi = word_at(base + 4u * w) >> sub;
    ivec4 q = ivec4(uvec4(lo, lo >> 8, lo >> 16, lo >> 24) & 3u) - ivec4((~uvec4(hi, hi >> 8, hi >> 16, hi >> 24) & 1u) << 2);
    return (w < 4u ? st.a : st.b) * vec4(q);
}
#elif defined(TYPE_Q8_0)
#define BLOCK_VALUES 32u
#define BLOCK_BYTES 34u
Sub prepare(uint base, uint sub) { return Sub(f16_at(base), 0.0); }
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint word = word_at(base + 2u + 4u * w);
    ivec4 q = ivec4(word << 24, word << 16, word << 8, word) >> 24;
    return st.a * vec4(q);
}
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#define BLOCK_VALUES 256u
#if defined(TYPE_Q4_K)
#define BLOCK_BYTES 144u
#define QS_OFFSET 16u
#else
#define BLOCK_BYTES 176u
#define QS_OFFSET 48u
#endif
// The sub-block's 6-bit scale and minimum, from 12 bytes at base+4.
Sub prepare(uint base, uint sub) {
    uint s = base + 4u;
    uint sc, m;
    if (sub < 4u) {
        sc = byte_at(s + sub) & 63u;
        m = byte_at(s + sub + 4u) & 63u;
    } else {
        sc = (byte_at(s + sub + 4u) & 15u) | ((byte_at(s + sub - 4u) >> 6) << 4);
        m = (byte_at(s + sub + 4u) >> 4) | ((byte_at(s + sub) >> 6) << 4);
    }
    return Sub(f16_at(base) * float(sc), f16_at(base + 2u) * float(m));
}
vec4 get4(Sub st, uint base, uint sub, uint w) {
    // sub-blocks 2i and 2i+1 share 32 bytes: low nibbles, then high ones
    uint word = W[((base + QS_OFFSET) >> 2) + (sub >> 1) * 8u + w] >> ((sub & 1u) * 4u);
    uvec4 q = uvec4(word, word >> 8, word >> 16, word >> 24) & 15u;
#if defined(TYPE_Q5_K)
    uint h = W[((base + 16u) >> 2) + w] >> sub; // bit `sub` of qh[4w+k]
    q |= (uvec4(h, h >> 8, h >> 16, h >> 24) & 1u) << 4;
#endif
    return st.a * vec4(q) - st.b;
}
#elif defined(TYPE_Q6_K)
#define BLOCK_VALUES 256u
#define BLOCK_BYTES 210u
// Scales of the sub-block's two halves of 16 values.
Sub prepare(uint base, uint sub) {
    uint h = sub >> 2, quarter = sub & 3u;
    float d = f16_at(base + 208u);
    uint sc = base + 192u + 8u * h + 2u * quarter;
    return Sub(d * float(i8_at(sc)), d * float(i8_at(sc + 1u)));
}
vec4 get4(Sub st, uint base, uint sub, uint w) {
    uint h = sub >> 2, quarter = sub & 3u;
    uint lo = word_at(base + 64u * h + 32u * (quarter & 1u) + 4u * w) >> ((quarter >> 1) * 4u);
    uint hi = word_at(base + 128u + 32u * h + 4u * w) >> (2u * quarter);
    ivec4 q = ivec4((uvec4(lo, lo >> 8, lo >> 16, lo >> 24) & 15u) | ((uvec4(hi, hi >> 8, hi >> 16, hi >> 24) & 3u) << 4)) - 32;
    return (w < 4u ? st.a : st.b) * vec4(q);
}
#else
#error "define one TYPE_ format"
#endif

#define SUBS_PER_BLOCK (BLOCK_VALUES / 32u)
// block_base returns the byte offset of the block holding sub-block s of
// the row that starts at byte row.
uint block_base(uint row, uint s) {
    return row + (s / SUBS_PER_BLOCK) * BLOCK_BYTES;
}
