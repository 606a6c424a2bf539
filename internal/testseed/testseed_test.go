package testseed

import "testing"

func TestSeedFromEnv(t *testing.T) {
	t.Setenv(Env, "12345")
	if got := Seed(t); got != 12345 {
		t.Fatalf("Seed = %d, want 12345", got)
	}
	a, b := New(t), New(t)
	for range 4 {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("two generators of one seed differ: %d, %d", x, y)
		}
	}
}

func TestSeedRandom(t *testing.T) {
	t.Setenv(Env, "")
	if Seed(t) == Seed(t) {
		t.Error("two random seeds are equal") // 1 in 2^64
	}
}
