package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium for the test (skipping without it,
// unless CI is set), for at most 90 s.
func browser(t *testing.T) context.Context {
	t.Helper()
	chromium := needTool(t, "chromium", "chromium-browser", "google-chrome")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pickModel opens the web chat of a server of several models: its
// picker offers every one of ids, and a message sent with pick picked
// gets a streamed answer from that model (the one the swarm endpoint
// says was used last).
func pickModel(t *testing.T, s *serverProcess, ids []string, pick string) {
	t.Helper()
	ctx := browser(t)
	var options, content string
	err := chromedp.Run(ctx,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitReady(`#model option`),
		chromedp.Text(`#model`, &options),
		chromedp.SetValue(`#model`, pick),
		chromedp.Click(`#settings-toggle`),
		chromedp.SetValue(`#temperature`, "0"),
		chromedp.SetValue(`#max_tokens`, "8"),
		chromedp.SendKeys(`#input`, "Hello"),
		chromedp.Click(`#send`),
		chromedp.WaitVisible(`.msg.assistant[data-done="true"]`),
		chromedp.Text(`.msg.assistant[data-done="true"] .content`, &content),
	)
	if err != nil {
		t.Fatalf("the chat page: %v\nserver log:\n%s", err, s.logText())
	}
	for _, id := range ids {
		if !strings.Contains(options, id) {
			t.Errorf("the model picker offers %q, not %q", options, id)
		}
	}
	res, err := http.Get(s.url + "/api/swarm")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var swarm struct {
		Models []struct{ ID string } `json:"models"`
	}
	if err := json.NewDecoder(res.Body).Decode(&swarm); err != nil || len(swarm.Models) == 0 || swarm.Models[0].ID != pick {
		t.Errorf("after a chat with %s picked, the model used last is %+v (%v)", pick, swarm.Models, err)
	}
	if strings.TrimSpace(content) == "" {
		t.Errorf("the answer of %s on the page is empty", pick)
	}
}

// browse drives headless Chromium through the web chat and the swarm
// page of s: it picks the model, sends a message and waits for the
// streamed answer, then sees every peer on the swarm page, and down
// after it is killed. Screenshots of both pages go to the test's
// temporary folder and /tmp/strata-screens.
func browse(t *testing.T, s *serverProcess, model string, peers []string, down *peerProcess) {
	t.Helper()
	ctx := browser(t)
	shots := t.TempDir()
	save := func(name string, png []byte) {
		p := filepath.Join(shots, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if os.MkdirAll("/tmp/strata-screens", 0o755) == nil {
			os.WriteFile(filepath.Join("/tmp/strata-screens", name), png, 0o644)
		}
		t.Logf("screenshot %s", p)
	}

	var options, content, stats string
	var png []byte
	const message = "Tell me a story about a robot"
	err := chromedp.Run(ctx,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitReady(`#model option`),
		chromedp.Text(`#model`, &options),
		chromedp.SetValue(`#model`, model),
		chromedp.Click(`#settings-toggle`),
		chromedp.SetValue(`#temperature`, "0"),
		chromedp.SetValue(`#max_tokens`, "40"),
		chromedp.SendKeys(`#input`, message),
		chromedp.Click(`#send`),
		chromedp.WaitVisible(`.msg.assistant[data-done="true"]`),
		chromedp.Text(`.msg.assistant[data-done="true"] .content`, &content),
		chromedp.Text(`.msg.assistant[data-done="true"] .stats`, &stats),
		chromedp.FullScreenshot(&png, 100),
	)
	if err != nil {
		t.Fatalf("the chat page: %v\nserver log:\n%s", err, s.logText())
	}
	save("chat.png", png)
	if !strings.Contains(options, model) {
		t.Errorf("the model picker offers %q, not %q", options, model)
	}
	// The page's answer is the API's for the same request, rendered.
	code, _, body := post(t, s.url+"/v1/chat/completions", "", []byte(`{"messages":[{"role":"user","content":"`+message+`"}],"temperature":0,"max_tokens":40}`))
	var api struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if code != 200 || json.Unmarshal(body, &api) != nil || len(api.Choices) != 1 {
		t.Fatalf("the same request through the API: %d %s", code, body)
	}
	words := 0
	for _, w := range strings.Fields(api.Choices[0].Message.Content) {
		if strings.Trim(w, "*_`#<>[]()!\\-=~|") == w && len(w) > 2 {
			words++
			if !strings.Contains(content, w) {
				t.Errorf("the page's answer %q lacks %q of the API's %q", content, w, api.Choices[0].Message.Content)
			}
		}
	}
	if words == 0 || !strings.Contains(stats, "time to first token") || !strings.Contains(stats, "tokens/s") || !strings.Contains(stats, "40 tokens") {
		t.Errorf("the answer %q with stats %q: want the API's words, time to first token, tokens/s and 40 tokens", content, stats)
	}

	var table string
	err = chromedp.Run(ctx,
		chromedp.Navigate(s.url+"/swarm"),
		chromedp.WaitVisible(`#peers tbody tr:nth-child(4).up`),
		chromedp.ActionFunc(func(context.Context) error { down.kill(); return nil }),
		chromedp.WaitVisible(`#peers tbody tr.down`),
		chromedp.Text(`#peers tbody`, &table),
		chromedp.FullScreenshot(&png, 100),
	)
	if err != nil {
		t.Fatalf("the swarm page: %v\nserver log:\n%s", err, s.logText())
	}
	save("swarm.png", png)
	for _, p := range peers {
		if !strings.Contains(table, p) {
			t.Errorf("the swarm page does not show peer %s:\n%s", p, table)
		}
	}
	for _, layers := range []string{"0-0", "1-2", "3-3"} {
		if !strings.Contains(table, layers) {
			t.Errorf("the swarm page does not show layers %s:\n%s", layers, table)
		}
	}
	var downRow string
	if err := chromedp.Run(ctx, chromedp.Text(`#peers tbody tr.down`, &downRow)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(downRow, down.addr) {
		t.Errorf("the peer shown down is %q, not the one killed (%s)", downRow, down.addr)
	}
}
