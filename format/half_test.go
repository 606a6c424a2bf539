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

// TestFloatToHalf checks that every half converts back to itself, that
// the midpoints between neighbours round to the even one (and a float32
// step off them to the nearer one), and the values past the range.
func TestFloatToHalf(t *testing.T) {
	for h := range 1 << 16 {
		f := HalfToFloat(uint16(h))
		got := FloatToHalf(f)
		if math.IsNaN(float64(f)) {
			if got != uint16(h)&0x8000|0x7e00 {
				t.Fatalf("NaN %#04x: %#04x, want a quiet NaN of the same sign", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("%#04x (%v): back to %#04x", h, f, got)
		}
		if h&0x7fff >= 0x7bff {
			continue // the largest finite half and infinity have no finite next
		}
		// The midpoint of h and the next half away from zero, exact in
		// float32 (halves have 11 significant bits).
		next := HalfToFloat(uint16(h + 1))
		mid := float32((float64(f) + float64(next)) / 2)
		even := uint16(h)
		if h&1 == 1 {
			even = uint16(h + 1)
		}
		if got := FloatToHalf(mid); got != even {
			t.Fatalf("midpoint of %#04x and %#04x (%v): %#04x, want %#04x", h, h+1, mid, got, even)
		}
		away := math.Nextafter32(mid, float32(math.Copysign(math.Inf(1), float64(mid))))
		toward := math.Nextafter32(mid, 0)
		if got := FloatToHalf(away); got != uint16(h+1) {
			t.Fatalf("just past the midpoint of %#04x and %#04x: %#04x", h, h+1, got)
		}
		if got := FloatToHalf(toward); got != uint16(h) {
			t.Fatalf("just short of the midpoint of %#04x and %#04x: %#04x", h, h+1, got)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff}, {65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0x1p-25, 0}, {0x1.000002p-25, 1}, {-0x1p-26, 0x8000}, {1e-30, 0},
	} {
		if got := FloatToHalf(c.f); got != c.want {
			t.Errorf("FloatToHalf(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}
