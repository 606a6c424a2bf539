package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"strata/engine"
	"strata/gguf"
)

// fakeStack is a model whose greedy next token is a hash of every token
// it holds, so that a cache holding the wrong tokens shows. failAt makes
// the next Eval that starts at that position fail, as a peer that lost
// its session does.
type fakeStack struct {
	tokens []int32
	vocab  int
	failAt int
}

func (f *fakeStack) VocabSize() int   { return f.vocab }
func (f *fakeStack) Pos() int         { return len(f.tokens) }
func (f *fakeStack) Context() int     { return 64 }
func (f *fakeStack) Truncate(pos int) { f.tokens = f.tokens[:min(max(pos, 0), len(f.tokens))] }

func (f *fakeStack) Eval(logits []float32, tokens []int32) error {
	if f.failAt >= 0 && len(f.tokens) == f.failAt {
		f.failAt = -1
		return errors.New("session unknown here")
	}
	f.tokens = append(f.tokens, tokens...)
	h := uint32(2166136261)
	for _, t := range f.tokens {
		h = (h ^ uint32(t)) * 16777619
	}
	for i := range logits {
		logits[i] = 0
	}
	logits[int(h%uint32(f.vocab-10))+10] = 1 // never a control token
	return nil
}

func tinyVocab(t *testing.T) *engine.Vocab {
	f, err := gguf.Open(filepath.Join("..", "testdata", "tiny-mistral", "tiny-mistral-q4km.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	v, err := engine.VocabFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type completionResult struct {
	Choices []struct{ Text string } `json:"choices"`
	Usage   usage                   `json:"usage"`
}

// TestPrefixCacheRetry: a prompt that repeats an earlier one reuses its
// cached tokens and gives the same answer; when the step on the cache
// fails (a peer lost the session), the prompt is computed again from an
// empty cache and the answer is still the same.
func TestPrefixCacheRetry(t *testing.T) {
	v := tinyVocab(t)
	stack := &fakeStack{vocab: v.Len(), failAt: -1}
	tmpl, _ := engine.ChatTemplateByName("chatml")
	s, err := New(Options{Model: &Model{ID: "fake", Vocab: v, Template: tmpl, Stacks: []Stack{stack}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	complete := func() completionResult {
		body := []byte(`{"prompt":[1,200,300,400,500],"max_tokens":6,"temperature":0,"ignore_eos":true}`)
		res, err := http.Post(srv.URL+"/v1/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r completionResult
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != 200 || len(r.Choices) != 1 {
			t.Fatalf("completion: %d %v", res.StatusCode, err)
		}
		return r
	}
	first := complete()
	again := complete()
	if again.Choices[0].Text != first.Choices[0].Text || again.Usage.PromptDetails.CachedTokens != 4 {
		t.Errorf("the repeated prompt: %q with %d cached tokens; first %q", again.Choices[0].Text, again.Usage.PromptDetails.CachedTokens, first.Choices[0].Text)
	}
	stack.failAt = 4 // the step after the cached prefix fails once
	retried := complete()
	if retried.Choices[0].Text != first.Choices[0].Text || retried.Usage.PromptDetails.CachedTokens != 0 {
		t.Errorf("after a failed step on the cache: %q with %d cached tokens; first %q", retried.Choices[0].Text, retried.Usage.PromptDetails.CachedTokens, first.Choices[0].Text)
	}
}
