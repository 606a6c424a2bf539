package format

// ScaleMinK4 returns the j-th (j < 8) 6-bit scale and min of a Q4_K or
// Q5_K super-block, from its 12 bytes of packed scales.
func ScaleMinK4(j int, scales []byte) (sc, m uint8) { return scaleMinK4(j, scales) }

// Half returns the half-precision float held little-endian in b[0:2].
func Half(b []byte) float32 { return HalfToFloat(le16(b)) }
