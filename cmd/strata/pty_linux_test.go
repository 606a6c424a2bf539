package main

// Tests that need a terminal: the binary runs on a pseudo-terminal that
// the test opens itself (/dev/ptmx), as a person's shell would give it.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A pty is a pseudo-terminal: the binary gets the terminal side, the
// test reads and types on the other.
type pty struct {
	master, tty *os.File
	mu          sync.Mutex
	seen        bytes.Buffer // everything the binary wrote to the terminal
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 160}); err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, tty: tty}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.seen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); m.Close() })
	return p
}

// start runs cmd with the terminal as its controlling terminal; stdin,
// stdout and stderr that cmd leaves nil get the terminal.
func (p *pty) start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.Stdin == nil {
		cmd.Stdin = p.tty
	}
	if cmd.Stdout == nil {
		cmd.Stdout = p.tty
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.tty
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if cmd.Stdin != p.tty {
		cmd.SysProcAttr.Setctty = false
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
}

func (p *pty) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String()
}

// waitFor waits until the terminal shows want (at its n-th occurrence),
// and returns what it shows.
func (p *pty) waitFor(t *testing.T, want string, n int, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := p.text()
		if strings.Count(s, want) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal did not show %q (%d times) in %v; it shows %q", want, n, limit, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *pty) typeKeys(t *testing.T, keys string) {
	t.Helper()
	if _, err := p.master.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits until the buffer holds want n times.
func waitLog(t *testing.T, b *syncBuffer, want string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(b.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q (%d times) in %v: %q", want, n, limit, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestChatLineEditing types on a terminal: a line edited with the
// arrows, Home and End, sent; then the Up arrow recalls it from the
// history and sends it again; Ctrl-C at the prompt says how to quit and
// Ctrl-D quits. What chat received is in its --verbose log.
func TestChatLineEditing(t *testing.T) {
	p := openPTY(t)
	var log syncBuffer
	cmd := exec.Command(strataBin, "--verbose", "chat", tinyModel, "--chat-template", "mistral-v3", "-n", "2", "--ignore-eos",
		"--temp", "0", "--backend", "cpu")
	cmd.Stderr = &log
	p.start(t, cmd)
	const limit = 60 * time.Second
	defer func() {
		if t.Failed() {
			t.Logf("log: %s", log.String())
		}
	}()
	p.waitFor(t, "> ", 1, limit)
	// "helo wrld": three to the left, "o"; Home, three to the right, "l";
	// End, "!".
	p.typeKeys(t, "helo wrld\x1b[D\x1b[D\x1b[Do\x01\x1b[C\x1b[C\x1b[Cl\x05!\r")
	waitLog(t, &log, `msg="chat message" text="hello world!"`, 1, limit)
	p.waitFor(t, "(cut off: -n 2)", 1, limit)
	time.Sleep(300 * time.Millisecond) // the prompt is back
	p.typeKeys(t, "\x1b[A\r")
	waitLog(t, &log, `msg="chat message" text="hello world!"`, 2, limit)
	p.waitFor(t, "(cut off: -n 2)", 2, limit)
	time.Sleep(300 * time.Millisecond)
	p.typeKeys(t, "\x03")
	p.waitFor(t, "(Ctrl-C stops an answer; /exit or Ctrl-D quits)", 1, limit)
	time.Sleep(300 * time.Millisecond)
	p.typeKeys(t, "\x04")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chat ended with %v; log %s", err, log.String())
		}
	case <-time.After(limit):
		t.Fatalf("Ctrl-D did not end chat; the terminal shows %q", p.text())
	}
	if strings.Count(log.String(), `msg="chat message"`) != 2 {
		t.Errorf("chat got other messages: %s", log.String())
	}
}

// TestProgressOnTerminal: with stderr a terminal, loading the model (and
// uploading it to a Vulkan device, where there is one) and a prompt
// longer than a batch show progress; with stderr a pipe, none of it.
func TestProgressOnTerminal(t *testing.T) {
	prompt := strings.Repeat("Once upon a time there was a little robot. ", 8)
	args := []string{"run", tinyModel, "-p", prompt, "-n", "2", "-b", "16", "--backend", "cpu"}
	p := openPTY(t)
	cmd := exec.Command(strataBin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd.Stdin = devnull
	p.start(t, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v; the terminal shows %q", err, p.text())
	}
	screen := p.waitFor(t, "prompt:", 1, 10*time.Second) // the timings come last
	for _, want := range []string{"loading " + filepath.Base(tinyModel), "MiB", "prompt", "tokens", "100 %", "done"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal shows no %q: %q", want, screen)
		}
	}
	if strings.Contains(out.String(), "loading") || strings.Contains(out.String(), "\x1b[") {
		t.Errorf("progress went to stdout: %q", out.String())
	}
	// Not a terminal: no progress, no control characters.
	_, errs, code := strata(t, args...)
	if code != 0 || strings.Contains(errs, "loading") || strings.Contains(errs, "\x1b[") || strings.Contains(errs, "\r") {
		t.Errorf("stderr a pipe: exit %d, %q", code, errs)
	}
	t.Run("vulkan", func(t *testing.T) {
		haveVulkan(t)
		p := openPTY(t)
		var out bytes.Buffer
		cmd := exec.Command(strataBin, "run", tinyModel, "-p", "hi", "-n", "1", "--backend", "vulkan")
		cmd.Stdin, cmd.Stdout = devnull, &out
		p.start(t, cmd)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run --backend vulkan: %v; the terminal shows %q", err, p.text())
		}
		if s := p.waitFor(t, "prompt:", 1, 10*time.Second); !strings.Contains(s, "uploading "+filepath.Base(tinyModel)+" to ") {
			t.Errorf("the terminal shows no upload: %q", s)
		}
	})
}
