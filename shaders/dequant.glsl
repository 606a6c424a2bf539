// Weight formats, read four values at a time. Values come in sub-blocks
// of 32: prepare reads what a sub-block shares (scales, minimums), then
// get4(st, base, sub, w) returns values 4w .. 4w+3 of sub-block `sub` of
// the block starting at byte `base` of W. BLOCK_VALUES and BLOCK_BYTES
// describe one block. Select the format with -DTYPE_xxx.

struct Sub {
    float a; // scale
    float b; // offset or second scale
};

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
