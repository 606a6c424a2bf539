package cpu

import (
	"fmt"
	"slices"
	"strings"
)

// parseVariant resolves a kernel variant's name; "" and "auto" give the
// fastest this processor and build run.
func parseVariant(name string) (kernelVariant, error) {
	switch strings.ToLower(name) {
	case "", "auto":
		return bestVariant(), nil
	}
	for _, v := range []kernelVariant{variantGeneric, variantAVX2, variantAVX512} {
		if strings.EqualFold(name, v.String()) {
			if !slices.Contains(supportedVariants(), v) {
				return 0, fmt.Errorf("cpu: kernels %q: this processor or build runs only %v", name, supportedVariants())
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("cpu: kernels %q: want generic, avx2, avx512 or auto", name)
}

// bestVariant is the last, fastest, of the supported variants.
func bestVariant() kernelVariant {
	s := supportedVariants()
	return s[len(s)-1]
}
