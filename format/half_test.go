package format

import (
	"math"
	"testing"
)

// TestHalfToFloat checks every binary16 value against its definition:
// (−1)^sign × 2^(e−15) × (1 + m/1024), or 2^−14 × m/1024 when e is 0.
func TestHalfToFloat(t *testing.T) {
	for h := range 1 << 16 {
		got := HalfToFloat(uint16(h))
		sign, e, m := h>>15, h>>10&0x1f, h&0x3ff
		if e == 0x1f {
			if (m != 0) != math.IsNaN(float64(got)) || m == 0 && !math.IsInf(float64(got), 1-2*sign) {
				t.Fatalf("%#04x: %v", h, got)
			}
			continue
		}
		want := math.Ldexp(float64(m), -24)
		if e != 0 {
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if sign == 1 {
			want = -want
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign == 1) {
			t.Fatalf("%#04x: got %v want %v", h, got, want)
		}
	}
}

func TestBFloatToFloat(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{{0x3f80, 1}, {0xc000, -2}, {0x0000, 0}, {0x4049, 3.140625}} {
		if got := BFloatToFloat(c.h); got != c.want {
			t.Errorf("%#04x: %v, want %v", c.h, got, c.want)
		}
	}
}
