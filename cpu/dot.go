package cpu

// Dot returns the dot product of a and b (len(b) ≥ len(a)). Element i is
// summed into lane i mod 32; the lanes are then combined in a fixed tree:
// t[k] = (s[k]+s[k+8]) + (s[k+16]+s[k+24]), then
// ((t0+t1)+(t2+t3)) + ((t4+t5)+(t6+t7)). The order never depends on how
// the call was reached, so every caller computes the same bits.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s [32]float32
	n := len(a) &^ 31
	if n > 0 {
		dotBlocks(&s, a[:n], b[:n])
	}
	for i := n; i < len(a); i++ {
		s[i&31] += a[i] * b[i]
	}
	var t [8]float32
	for k := range t {
		t[k] = (s[k] + s[k+8]) + (s[k+16] + s[k+24])
	}
	return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]))
}

// dotBlocksGeneric adds a[i]*b[i] to lane i mod 32 of s, for len(a) a
// multiple of 32: the portable twin of the assembly versions, computing
// the same bits (a product, then a sum, rounded each time).
func dotBlocksGeneric(s *[32]float32, a, b []float32) {
	b = b[:len(a)]
	s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15 := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]
	s16, s17, s18, s19, s20, s21, s22, s23, s24, s25, s26, s27, s28, s29, s30, s31 := s[16], s[17], s[18], s[19], s[20], s[21], s[22], s[23], s[24], s[25], s[26], s[27], s[28], s[29], s[30], s[31]
	for i := 0; i+32 <= len(a); i += 32 {
		x, y := a[i:i+32:i+32], b[i:i+32:i+32]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
		s8 += x[8] * y[8]
		s9 += x[9] * y[9]
		s10 += x[10] * y[10]
		s11 += x[11] * y[11]
		s12 += x[12] * y[12]
		s13 += x[13] * y[13]
		s14 += x[14] * y[14]
		s15 += x[15] * y[15]
		s16 += x[16] * y[16]
		s17 += x[17] * y[17]
		s18 += x[18] * y[18]
		s19 += x[19] * y[19]
		s20 += x[20] * y[20]
		s21 += x[21] * y[21]
		s22 += x[22] * y[22]
		s23 += x[23] * y[23]
		s24 += x[24] * y[24]
		s25 += x[25] * y[25]
		s26 += x[26] * y[26]
		s27 += x[27] * y[27]
		s28 += x[28] * y[28]
		s29 += x[29] * y[29]
		s30 += x[30] * y[30]
		s31 += x[31] * y[31]
	}
	s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15] = s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15
	s[16], s[17], s[18], s[19], s[20], s[21], s[22], s[23], s[24], s[25], s[26], s[27], s[28], s[29], s[30], s[31] = s16, s17, s18, s19, s20, s21, s22, s23, s24, s25, s26, s27, s28, s29, s30, s31
}
