package cpu

import (
	"fmt"
	"math"
	"testing"
)

// TestKernelVariants runs every kernel variant this machine supports on
// fresh random rows and inputs and checks the bits against the pure-Go
// twin, row by row.
func TestKernelVariants(t *testing.T) {
	rng := newRNG(t)
	variants := supportedVariants()
	t.Logf("variants here: %v", variants)
	for _, typ := range Supported() {
		for _, cols := range []int{256, 512, 4096, 100} {
			if cols%typ.BlockSize() != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%v/%d", typ, cols), func(t *testing.T) {
				const rows = 19
				rowBytes := typ.RowSize(cols)
				w := make([]byte, 0, rows*rowBytes)
				for range rows {
					w = append(w, randomRow(rng, typ, cols)...)
				}
				x := make([]float32, cols)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()))
				}
				scratch := make([]float32, cols)
				want := make([]float32, rows)
				kernel(typ, variantGeneric)(want, w, rowBytes, x, scratch)
				for _, v := range variants {
					got := make([]float32, rows)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					kernel(typ, v)(got, w, rowBytes, x, scratch)
					for r := range rows {
						if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
							t.Errorf("%v row %d: %v, generic %v", v, r, got[r], want[r])
							break
						}
					}
				}
			})
		}
	}
}

// TestKernelAccuracy checks every format's twin against the float64
// product of the reference decoder.
func TestKernelAccuracy(t *testing.T) {
	rng := newRNG(t)
	for _, typ := range Supported() {
		const cols, rows = 1024, 8
		rowBytes := typ.RowSize(cols)
		x := make([]float32, cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		scratch := make([]float32, cols)
		for range rows {
			row := randomRow(rng, typ, cols)
			var want, mag float64
			for i := range cols {
				p := refElement(typ, row, i) * float64(x[i])
				want += p
				mag += math.Abs(p)
			}
			got := make([]float32, 1)
			kernel(typ, variantGeneric)(got, row, rowBytes, x, scratch)
			if math.Abs(float64(got[0])-want) > 1e-6*mag {
				t.Errorf("%v: %v, want %v (sum of magnitudes %v)", typ, got[0], want, mag)
			}
		}
	}
}

// TestTileVariants checks every variant's tile product and dot against
// the generic ones, bit for bit, on shapes with every remainder.
func TestTileVariants(t *testing.T) {
	rng := newRNG(t)
	for _, v := range supportedVariants() {
		tile, dot := tileProducts(v), dots(v)
		for _, cols := range []int{32, 96, 256, 100, 800} {
			for rows := 1; rows <= 9; rows += 2 {
				for _, n := range []int{1, 3, 4, 8, 9} {
					w := make([]float32, rows*cols)
					x := make([]float32, n*cols)
					for i := range w {
						w[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()))
					}
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					stride := rows + 2
					want := make([]float32, n*stride)
					got := make([]float32, n*stride)
					var scratch []float32
					tileGeneric(want, stride, w, rows, cols, x, n, nil)
					tile(got, stride, w, rows, cols, x, n, &scratch)
					for j := range n {
						for r := range rows {
							g, e := got[j*stride+r], want[j*stride+r]
							if math.Float32bits(g) != math.Float32bits(e) {
								t.Fatalf("%v %dx%d n=%d: out[%d][%d] = %v, generic %v", v, rows, cols, n, j, r, g, e)
							}
							if d := dot(w[r*cols:(r+1)*cols], x[j*cols:]); math.Float32bits(d) != math.Float32bits(e) {
								t.Fatalf("%v dot of %d: %v, generic %v", v, cols, d, e)
							}
						}
					}
				}
			}
		}
	}
}

// TestVariantNames checks that each name the processor supports selects
// its variant and that others are refused.
func TestVariantNames(t *testing.T) {
	for _, v := range supportedVariants() {
		b := New(Options{Threads: 1, Kernels: v.String()})
		if b.Kernels() != v.String() {
			t.Errorf("Kernels %q ran %q", v, b.Kernels())
		}
		b.Close()
	}
	if err := (Options{Kernels: "sse9"}).Validate(); err == nil {
		t.Error("kernels sse9 accepted")
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	t.Logf("best here: %v", bestVariant())
}

// TestAxpyVariants checks every variant's axpy against the generic one.
func TestAxpyVariants(t *testing.T) {
	rng := newRNG(t)
	for _, v := range supportedVariants() {
		f := axpys(v)
		for _, n := range []int{1, 8, 16, 17, 128, 133} {
			y, x := make([]float32, n), make([]float32, n)
			for i := range y {
				y[i], x[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			want := append([]float32(nil), y...)
			a := float32(rng.NormFloat64())
			axpy(want, x, a)
			f(y, x, a)
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v n=%d: y[%d] = %v, generic %v", v, n, i, y[i], want[i])
				}
			}
		}
	}
}
