// Shared helpers: quantized blocks are read as 32-bit words, because
// blocks need not start 4-byte aligned (a Q6_K block is 210 bytes).

uint byte_at(uint off) {
    return (W[off >> 2] >> ((off & 3u) * 8u)) & 0xFFu;
}

// u16_at reads a little-endian 16-bit value at an even byte offset.
uint u16_at(uint off) {
    return (W[off >> 2] >> ((off & 2u) * 8u)) & 0xFFFFu;
}

float f16_at(uint off) {
    return unpackHalf2x16(u16_at(off)).x;
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
