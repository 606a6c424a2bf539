package transport

import (
	"strings"
	"testing"
)

func TestVerifyID(t *testing.T) {
	a, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("strata test label\x00message")
	sig := a.Sign(msg)
	tests := []struct {
		name string
		id   string
		msg  []byte
		sig  []byte
		want bool
	}{
		{"signer", a.ID(), msg, sig, true},
		{"another identity", b.ID(), msg, sig, false},
		{"other message", a.ID(), []byte("strata test label\x00messagf"), sig, false},
		{"truncated signature", a.ID(), msg, sig[:63], false},
		{"upper-case id", strings.ToUpper(a.ID()), msg, sig, false},
		{"not base32", "!" + a.ID()[1:], msg, sig, false},
		{"short id", a.ID()[:10], msg, sig, false},
		{"empty id", "", msg, sig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyID(tt.id, tt.msg, tt.sig); got != tt.want {
				t.Errorf("VerifyID = %v, want %v", got, tt.want)
			}
		})
	}
}
