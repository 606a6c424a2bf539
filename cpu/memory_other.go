//go:build !linux

package cpu

// ownMemory reports whether weights can be copied into huge pages of the
// backend's own here: not on this system, where they stay in the file's
// mapping.
const ownMemory = false

// ownCopy is not called where ownMemory is false.
func ownCopy(owner *weight, data []byte) ([]byte, error) {
	return append([]byte(nil), data...), nil
}
