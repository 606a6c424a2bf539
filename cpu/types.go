package cpu

import (
	"strata/format"
	"strata/gguf"
)

// Supported lists the tensor types this backend computes: those package
// format decodes.
func Supported() []gguf.TensorType { return format.Types() }

// kernel returns the kernel of type t in variant v: a fused assembly one
// where there is one, else rows dequantized by format's Go dequantizer
// and dotted by the variant's dot; all compute the same bits. It is nil
// for a type format does not decode.
func kernel(t gguf.TensorType, v kernelVariant) rowsKernel {
	if k := asmKernel(t, v); k != nil {
		return k
	}
	d, ok := format.Dequantizer(t)
	if !ok {
		return nil
	}
	return dequantizedRows(d, t.BlockSize(), t.TypeSize(), dots(v))
}
