package cpu

import (
	"fmt"

	"strata/engine"
)

var errUnsupported = fmt.Errorf("%w (the cpu backend computes F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K)", engine.ErrUnsupportedType)
