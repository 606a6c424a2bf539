package cpu

import "strata/engine"

// errUnsupported is the error of a weight of a type the backend does not
// compute.
var errUnsupported = engine.UnsupportedTypes("cpu", Supported())
