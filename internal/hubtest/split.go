package hubtest

import (
	"bytes"
	"fmt"

	"strata/gguf"
)

// SplitGGUF cuts a GGUF file into parts as llama.cpp's gguf-split does:
// every part carries split.no, split.count and split.tensors.count, the
// first all the metadata too, and the tensors are shared out in order.
func SplitGGUF(path string, parts int) ([][]byte, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if parts < 1 || parts > len(f.Tensors) {
		return nil, fmt.Errorf("hubtest: %d parts for %d tensors", parts, len(f.Tensors))
	}
	var out [][]byte
	for i := range parts {
		var w gguf.Writer
		if i == 0 {
			for _, kv := range f.KV {
				if err := w.Set(kv.Key, kv.Value); err != nil {
					return nil, err
				}
			}
		}
		w.Set("split.no", uint16(i))
		w.Set("split.count", uint16(parts))
		w.Set("split.tensors.count", int32(len(f.Tensors)))
		lo, hi := i*len(f.Tensors)/parts, (i+1)*len(f.Tensors)/parts
		for _, t := range f.Tensors[lo:hi] {
			if err := w.AddTensor(t.Name, t.Type, t.Dims, f.TensorData(&t)); err != nil {
				return nil, err
			}
		}
		var b bytes.Buffer
		if _, err := w.WriteTo(&b); err != nil {
			return nil, err
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}
