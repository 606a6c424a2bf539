// Shared helpers: quantized blocks are read as 32-bit words, because
// blocks need not start 4-byte aligned (a Q6_K block is 210 bytes).

uint byte_at(uint off) {
    return (W[off >> 2] >> ((off & 3u) * 8u)) & 0xFFu;
}

// u16_at reads a little-endian 16-bit value at an even byte offset.
uint u16_at(uint off) {
    return (W[off >> 2] >> ((off & 2u) * 8u)) & 0xFFFFu;
}

// half_to_float decodes an IEEE half exactly. unpackHalf2x16 may flush
// subnormal halves to zero, and quantized files have them: a Q6_K scale is
// about max|w| / 4096.
float half_to_float(uint h) {
    if ((h & 0x7C00u) != 0u) return unpackHalf2x16(h).x;
    float v = float(h & 0x3FFu) * 5.9604644775390625e-8; // m × 2^-24
    return (h & 0x8000u) != 0u ? -v : v;
}

vec2 halves(uint w) {
    return vec2(half_to_float(w & 0xFFFFu), half_to_float(w >> 16));
}

float f16_at(uint off) {
    return half_to_float(u16_at(off));
}

int i8_at(uint off) {
    return int(byte_at(off) << 24) >> 24;
}

// word_at reads 4 bytes at an even byte offset.
uint word_at(uint off) {
    uint i = off >> 2;
    if ((off & 2u) == 0u) return W[i];
    return (W[i] >> 16) | (W[i + 1u] << 16);
}
