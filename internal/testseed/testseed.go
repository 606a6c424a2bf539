// Package testseed seeds the random inputs of tests so that a failure can
// be reproduced: each generator's seed is logged, and STRATA_TEST_SEED=N
// sets it (go test -run TestName -v ./pkg with the seed the failing run
// logged). For _test.go files only: it imports testing, and the strata
// binary must not link it (cmd/strata's TestNoTestCodeInBinary).
package testseed

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// Env is the variable that sets the seed.
const Env = "STRATA_TEST_SEED"

// Seed returns the seed of $STRATA_TEST_SEED, or a random one when it is
// unset, and logs it to t.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv(Env); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", Env, s)
		}
	}
	t.Logf("seed %d (%s=%d reruns with it)", seed, Env, seed)
	return seed
}

// New returns a generator seeded by Seed.
func New(t testing.TB) *rand.Rand {
	t.Helper()
	seed := Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
