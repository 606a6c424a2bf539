//go:build !cgo

package gpu

import (
	"fmt"

	"strata/engine"
)

// New reports ErrUnavailable: this build has no cgo, so no Vulkan.
func New(Options) (engine.Backend, error) {
	return nil, fmt.Errorf("%w: strata was built without cgo", ErrUnavailable)
}

// Devices reports ErrUnavailable: this build has no cgo, so no Vulkan.
func Devices() ([]DeviceInfo, error) {
	return nil, fmt.Errorf("%w: strata was built without cgo", ErrUnavailable)
}
