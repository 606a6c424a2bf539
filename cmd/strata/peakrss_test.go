package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// peakRSSFile, set in the environment, makes the test binary a launcher
// (peakRSSLauncher) instead of running tests: it runs its arguments as a
// command and writes the command's peak RSS, in bytes, to the file named.
//
// Linux counts in a process's peak RSS (ru_maxrss) the peak of the
// memory it ran in before its exec, and Go starts a command by vfork, in
// its parent's memory: a command started from the test process would be
// charged the test process's own peak, hundreds of MB. Started from the
// launcher, it is charged the launcher's few MB at most.
const peakRSSFile = "STRATA_TEST_PEAK_RSS_FILE"

// peakRSSLauncher runs os.Args[1:] with this process's standard files,
// writes its peak RSS to the file peakRSSFile names, and returns its exit
// code.
func peakRSSLauncher() int {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		os.Stderr.WriteString("peak RSS launcher: " + err.Error() + "\n")
		return 2
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // Linux: KiB
	if err := os.WriteFile(os.Getenv(peakRSSFile), []byte(strconv.FormatInt(rss, 10)), 0o644); err != nil {
		os.Stderr.WriteString("peak RSS launcher: " + err.Error() + "\n")
		return 2
	}
	return cmd.ProcessState.ExitCode()
}

// peakRSSCommand returns a command running name with args through the
// launcher, and a function that reads its peak RSS once it has exited.
func peakRSSCommand(t *testing.T, name string, args ...string) (*exec.Cmd, func() int64) {
	t.Helper()
	file := t.TempDir() + "/peak-rss"
	cmd := exec.Command(os.Args[0], append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), peakRSSFile+"="+file)
	return cmd, func() int64 {
		b, err := os.ReadFile(file)
		rss, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || perr != nil {
			t.Fatalf("peak RSS of %s: %v %v", name, err, perr)
		}
		return rss
	}
}

// TestPeakRSSLauncher: the launcher charges a small command its own
// memory only, although this process holds far more.
func TestPeakRSSLauncher(t *testing.T) {
	held := make([]byte, 256<<20)
	for i := range held {
		held[i] = byte(i)
	}
	cmd, peak := peakRSSCommand(t, strataBin, "--version")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rss := peak(); rss <= 0 || rss > 100<<20 {
		t.Errorf("strata --version charged %d MiB, want under 100 (this process holds %d MiB)", rss>>20, len(held)>>20)
	}
	held[len(held)-1]++ // keep it live until here
}
