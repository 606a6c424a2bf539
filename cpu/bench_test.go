package cpu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"strata/engine"
	"strata/gguf"
)

// mistralShapes are the matrices of Mistral-7B, rows × cols: attention
// projections, ffn gate and up, ffn down.
var mistralShapes = [][2]int{{4096, 4096}, {14336, 4096}, {4096, 14336}}

// benchWeight builds one random matrix per (type, shape) and reuses it.
var benchWeights = map[string][]byte{}

func benchMatrix(typ gguf.TensorType, rows, cols int) []byte {
	key := fmt.Sprint(typ, rows, cols)
	if d, ok := benchWeights[key]; ok {
		return d
	}
	rng := rand.New(rand.NewPCG(1, 2))
	row := randomRow(rng, typ, cols)
	data := make([]byte, 0, rows*len(row))
	for r := range rows {
		// A few distinct rows repeated: random enough, cheap to build.
		if r%64 == 0 {
			row = randomRow(rng, typ, cols)
		}
		data = append(data, row...)
	}
	benchWeights[key] = data
	return data
}

// streamBytes is the weight data a benchmark rotates over: far more than
// any L3, so that every product streams its weights from DRAM, as a
// model's decode does.
const streamBytes = 512 << 20

func benchMatMul(b *testing.B, typ gguf.TensorType, rows, cols, n int) {
	be := New(Options{Kernels: os.Getenv("STRATA_CPU")})
	defer be.Close()
	data := benchMatrix(typ, rows, cols)
	copies := 1
	if n == 1 {
		copies = max(1, streamBytes/len(data))
	}
	ws := make([]engine.Weight, copies)
	for i := range ws {
		d := data
		if i > 0 {
			d = append([]byte(nil), data...)
		}
		w, err := be.LoadWeight(&gguf.TensorInfo{Name: "w", Type: typ, Dims: []uint64{uint64(cols), uint64(rows)}}, d)
		if err != nil {
			b.Fatal(err)
		}
		ws[i] = w
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x, _ := randomTensor(b, be, n, cols, rng)
	out, _ := be.NewTensor(n, rows)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		be.MatMul(out, ws[i%copies], x, n)
		i++
	}
	b.ReportMetric(float64(len(data))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	if n > 1 {
		b.ReportMetric(2*float64(rows)*float64(cols)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
}

// BenchmarkMatVec is decode: one input row against a whole weight matrix.
// GB/s is weight bytes read per second.
func BenchmarkMatVec(b *testing.B) {
	for _, typ := range Supported() {
		for _, s := range mistralShapes {
			b.Run(fmt.Sprintf("%v/%dx%d", typ, s[0], s[1]), func(b *testing.B) {
				benchMatMul(b, typ, s[0], s[1], 1)
			})
		}
	}
}

// BenchmarkMatMul is prefill: a batch of 64 rows.
func BenchmarkMatMul(b *testing.B) {
	for _, typ := range integerTypes {
		b.Run(fmt.Sprintf("%v/4096x4096/batch64", typ), func(b *testing.B) {
			benchMatMul(b, typ, 4096, 4096, 64)
		})
	}
}

var _ engine.Backend = (*Backend)(nil)

// BenchmarkDot is the f32 dot product at Mistral-7B's row lengths.
func BenchmarkDot(b *testing.B) {
	be := New(Options{Kernels: os.Getenv("STRATA_CPU")})
	defer be.Close()
	dot := dots(be.variant)
	for _, n := range []int{128, 4096, 14336} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x, y := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			b.SetBytes(int64(8 * n))
			var s float32
			for b.Loop() {
				s += dot(x, y)
			}
			_ = s
		})
	}
}
