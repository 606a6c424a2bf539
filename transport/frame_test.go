package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	payloads := [][]byte{nil, []byte("x"), bytes.Repeat([]byte{7}, 100000)}
	for i, p := range payloads {
		if err := WriteFrame(&buf, FrameType(1+i), p); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range payloads {
		typ, got, err := ReadFrame(&buf, nil, MaxPayload)
		if err != nil || typ != FrameType(1+i) || !bytes.Equal(got, p) {
			t.Fatalf("frame %d: %v %v %v", i, typ, len(got), err)
		}
	}
	if _, _, err := ReadFrame(&buf, nil, MaxPayload); err != io.EOF {
		t.Fatalf("after the last frame: %v", err)
	}
}

func TestFrameErrors(t *testing.T) {
	good := AppendFrame(nil, FrameForward, []byte("hello world"))
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 1
	big := AppendFrame(nil, FrameForward, make([]byte, 2000))
	badType := bytes.Clone(good)
	badType[0] = 99
	cases := []struct {
		name string
		data []byte
		max  int
		want error
	}{
		{"checksum", corrupt, MaxPayload, ErrChecksum},
		{"oversized", big, 1000, ErrOversized},
		{"truncated", good[:len(good)-3], MaxPayload, io.ErrUnexpectedEOF},
		{"bad type", badType, MaxPayload, ErrMalformed},
	}
	for _, c := range cases {
		if _, _, err := ReadFrame(bytes.NewReader(c.data), nil, c.max); !errors.Is(err, c.want) {
			t.Errorf("%s: ReadFrame: %v, want %v", c.name, err, c.want)
		}
	}
	if err := WriteFrame(io.Discard, FrameForward, make([]byte, MaxPayload+1)); !errors.Is(err, ErrOversized) {
		t.Errorf("WriteFrame of an oversized payload: %v", err)
	}
}

// FuzzDecodeFrame checks that no input makes the decoder panic, and that
// what it accepts re-encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, FrameForward, []byte("hello")))
	f.Add(AppendFrame(AppendFrame(nil, FramePing, nil), FrameError, []byte("bad")))
	f.Add([]byte{3, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			typ, payload, rest, err := DecodeFrame(b, 1<<16)
			if err != nil {
				return
			}
			if enc := AppendFrame(nil, typ, payload); !bytes.Equal(enc, b[:len(b)-len(rest)]) {
				t.Fatalf("re-encoding differs")
			}
			if _, _, err := ReadFrame(bytes.NewReader(b), nil, 1<<16); err != nil {
				t.Fatalf("DecodeFrame accepted what ReadFrame refuses: %v", err)
			}
			b = rest
		}
	})
}
