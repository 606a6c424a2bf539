//go:build !linux

package cpu

// ownMemory reports whether weights can be copied into huge pages of the
// backend's own here: not on this system, where they stay in the file's
// mapping.
const ownMemory = false

// ownCopy is not called where ownMemory is false.
func ownCopy(owner *weight, data []byte) error {
	owner.data = append([]byte(nil), data...)
	return nil
}

// unmap is not called where ownMemory is false.
func unmap([]byte) {}
