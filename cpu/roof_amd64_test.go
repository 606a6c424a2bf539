//go:build amd64 && !noasm

package cpu

import (
	"sync"
	"testing"
)

// BenchmarkGEMMRoof is the exact-arithmetic roof of this machine: the
// 4x4 AVX-512 tile product on data that stays in L1, on every worker at
// once. A prompt's GFLOP/s divided by this is the fraction of the roof it
// reaches.
func BenchmarkGEMMRoof(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512")
	}
	be := New(Options{})
	defer be.Close()
	const cols = 256
	workers := be.pool.Workers()
	w := make([]float32, 4*cols)
	x := make([]float32, 4*cols)
	for i := range w {
		w[i], x[i] = 1e-3*float32(i%7), 1e-3*float32(i%5)
	}
	const calls = 1000
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acc := make([]float32, 256)
				for range calls {
					gemm4x4AVX512(&acc[0], &w[0], &x[0], cols, cols)
				}
			}()
		}
		wg.Wait()
	}
	flops := 2 * 16 * cols * calls * workers
	b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
