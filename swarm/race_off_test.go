//go:build !race

package swarm

// raceDetector reports a build with the race detector, which slows code
// several times over: time bounds are not asserted under it.
const raceDetector = false
