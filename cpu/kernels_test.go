package cpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"strata/engine"
	"strata/format"
	"strata/gguf"
	"strata/internal/testseed"
)

// newRNG returns the test's random generator: its seed is logged, and
// STRATA_TEST_SEED sets it (package testseed).
func newRNG(t testing.TB) *rand.Rand {
	t.Helper()
	return testseed.New(t)
}

func TestDequantize(t *testing.T) {
	rng := newRNG(t)
	for _, typ := range Supported() {
		t.Run(typ.String(), func(t *testing.T) {
			const cols = 1024
			for range 20 {
				row := randomRow(rng, typ, cols)
				got := make([]float32, cols)
				if err := format.Dequantize(got, row, typ); err != nil {
					t.Fatal(err)
				}
				for i, g := range got {
					want := refElement(typ, row, i)
					if math.Abs(float64(g)-want) > 1e-6*math.Abs(want)+1e-9 {
						t.Fatalf("element %d: got %v want %v", i, g, want)
					}
				}
			}
		})
	}
}

func TestPairDot(t *testing.T) {
	rng := newRNG(t)
	for _, n := range []int{0, 1, 7, 8, 9, 255, 4096} {
		a, b := make([]float32, n), make([]float32, n)
		var want, mag float64
		for i := range a {
			a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		if got := pairDot(a, b); math.Abs(float64(got)-want) > 1e-6*mag+1e-30 {
			t.Errorf("n=%d: got %v want %v", n, got, want)
		}
	}
}

// weightOf wraps a random matrix as a backend weight.
func weightOf(t testing.TB, b *Backend, typ gguf.TensorType, rows, cols int, rng *rand.Rand) (engine.Weight, []byte) {
	data := make([]byte, 0, rows*typ.RowSize(cols))
	for range rows {
		data = append(data, randomRow(rng, typ, cols)...)
	}
	w, err := b.LoadWeight(&gguf.TensorInfo{Name: "w", Type: typ, Dims: []uint64{uint64(cols), uint64(rows)}}, data)
	if err != nil {
		t.Fatal(err)
	}
	return w, data
}

func randomTensor(t testing.TB, b *Backend, rows, cols int, rng *rand.Rand) (engine.Tensor, []float32) {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	x, err := b.NewTensor(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(x, v)
	return x, v
}

func TestMatMul(t *testing.T) {
	for _, v := range supportedVariants() {
		t.Run(v.String(), func(t *testing.T) { testMatMul(t, v) })
	}
}

func testMatMul(t *testing.T, v kernelVariant) {
	rng := newRNG(t)
	b := New(Options{Threads: 3, Kernels: v.String()})
	defer b.Close()
	for _, typ := range Supported() {
		for _, shape := range [][2]int{{1, 256}, {37, 512}, {130, 768}} {
			rows, cols := shape[0], shape[1]
			t.Run(fmt.Sprintf("%v/%dx%d", typ, rows, cols), func(t *testing.T) {
				const n = 5
				w, data := weightOf(t, b, typ, rows, cols, rng)
				x, xv := randomTensor(t, b, n, cols, rng)
				out, _ := b.NewTensor(n, rows)
				b.MatMul(out, w, x, n)
				got := make([]float32, n*rows)
				b.Read(got, out, 0, n)
				rowBytes := typ.RowSize(cols)
				for j := range n {
					for r := range rows {
						var want, mag float64
						for i := range cols {
							p := refElement(typ, data[r*rowBytes:(r+1)*rowBytes], i) * float64(xv[j*cols+i])
							want += p
							mag += math.Abs(p)
						}
						if g := float64(got[j*rows+r]); math.Abs(g-want) > 2e-6*mag+1e-30 {
							t.Fatalf("row %d of input %d: got %v want %v", r, j, g, want)
						}
					}
				}
				// Batch invariance: each input alone gives the same bits.
				one, _ := b.NewTensor(1, cols)
				single, _ := b.NewTensor(1, rows)
				res := make([]float32, rows)
				for j := range n {
					b.Write(one, xv[j*cols:(j+1)*cols])
					b.MatMul(single, w, one, 1)
					b.Read(res, single, 0, 1)
					for r := range rows {
						if res[r] != got[j*rows+r] {
							t.Fatalf("input %d row %d: alone %v, in a batch %v", j, r, res[r], got[j*rows+r])
						}
					}
				}
			})
		}
	}
}

func TestLoadWeightRejects(t *testing.T) {
	b := New(Options{Threads: 1})
	defer b.Close()
	_, err := b.LoadWeight(&gguf.TensorInfo{Name: "w", Type: gguf.IQ2_XS, Dims: []uint64{256}}, make([]byte, 74))
	if err == nil {
		t.Fatal("IQ2_XS accepted")
	}
	want := `cpu: tensor "w" is IQ2_XS: unsupported tensor type (the cpu backend computes F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16)`
	if err.Error() != want || !errors.Is(err, engine.ErrUnsupportedType) {
		t.Fatalf("error %q, want %q", err, want)
	}
}

type countTask struct{ hits []int32 }

func (c *countTask) Do(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i]++
	}
}

func TestPool(t *testing.T) {
	for _, workers := range []int{1, 2, 5} {
		p := NewPool(workers)
		for _, n := range []int{0, 1, 3, 100, 1001} {
			for _, grain := range []int{0, 1, 7, 2000} {
				c := &countTask{hits: make([]int32, n)}
				p.Run(c, n, grain)
				for i, h := range c.hits {
					if h != 1 {
						t.Fatalf("workers %d n %d grain %d: index %d done %d times", workers, n, grain, i, h)
					}
				}
			}
		}
		p.Close()
	}
}
