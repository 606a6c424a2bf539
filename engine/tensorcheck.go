package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"

	"strata/format"
	"strata/gguf"
)

// TensorHash is the hex sha256 of a tensor's bytes, as manifests record it.
func TensorHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// CheckTensor reads every value of a tensor: a NaN or infinite block
// scale, or a NaN or infinite weight after dequantization, is a
// NonFiniteError naming the block or the element. It reads the whole
// tensor (the load-time check reads only the scales and the norms).
func CheckTensor(t *gguf.TensorInfo, data []byte) error {
	if err := checkFinite(t, data); err != nil {
		return err
	}
	if _, ok := format.Dequantizer(t.Type); !ok || len(t.Dims) == 0 {
		return fmt.Errorf("engine: tensor %q: %v cannot be read", t.Name, t.Type)
	}
	cols := int(t.Dims[0])
	rows := int(t.Elements() / uint64(cols))
	size := t.Type.RowSize(cols)
	if len(data) < rows*size {
		return fmt.Errorf("engine: tensor %q: %d bytes, want %d", t.Name, len(data), rows*size)
	}
	row := make([]float32, cols)
	for r := range rows {
		if err := format.Dequantize(row, data[r*size:(r+1)*size], t.Type); err != nil {
			return fmt.Errorf("engine: tensor %q: %w", t.Name, err)
		}
		for i, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return &NonFiniteError{Tensor: t.Name, Index: r*cols + i, Value: float64(v)}
			}
		}
	}
	return nil
}
