package engine_test

import (
	"testing"

	"strata/engine"
	"strata/gguf"
)

var conversation = []engine.Message{
	{Role: "system", Content: "You are a helpful assistant"},
	{Role: "user", Content: "Hello"},
	{Role: "assistant", Content: "Hi there"},
	{Role: "user", Content: "Who are you"},
	{Role: "assistant", Content: "   I am an assistant   "},
	{Role: "user", Content: "Another question"},
}

func TestChatTemplatesGolden(t *testing.T) {
	golden := map[string]string{
		"mistral-v1":        " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s> [INST] Another question [/INST]",
		"mistral-v3":        "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]",
		"mistral-v3-tekken": "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]",
		"mistral-v7":        "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]",
		"mistral-v7-tekken": "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]",
		"llama3": "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n",
		"chatml": "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n" +
			"<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n",
	}
	for _, name := range engine.ChatTemplateNames {
		tmpl, err := engine.ChatTemplateByName(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.Render(engine.Chat{Messages: conversation, AddGenerationPrompt: true})
		if err != nil {
			t.Fatal(err)
		}
		if got != golden[name] {
			t.Errorf("%s:\n got %q\nwant %q", name, got, golden[name])
		}
	}
	if _, err := engine.ChatTemplateByName("vicuna"); err == nil {
		t.Error("unknown template accepted")
	}
}

// vocabWith builds a vocabulary-only GGUF with the given tokens (control
// tokens marked) and chat template.
func vocabWith(t *testing.T, model, pre, template string, control ...string) (*gguf.File, *engine.Vocab) {
	w := &gguf.Writer{}
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for _, c := range control {
		tokens = append(tokens, c)
		types = append(types, 3)
	}
	w.Set("tokenizer.ggml.model", model)
	if pre != "" {
		w.Set("tokenizer.ggml.pre", pre)
	}
	w.Set("tokenizer.ggml.tokens", tokens)
	w.Set("tokenizer.ggml.token_type", types)
	w.Set("tokenizer.ggml.eos_token_id", uint32(2))
	if template != "" {
		w.Set("tokenizer.chat_template", template)
	}
	var buf writerBuffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf)
	if err != nil {
		t.Fatal(err)
	}
	v, err := engine.VocabFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, v
}

type writerBuffer []byte

func (b *writerBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func TestDetectChatTemplate(t *testing.T) {
	cases := []struct {
		template string
		control  []string
		want     string
	}{
		{"{% for m in messages %}<|im_start|>{{ m.role }}", nil, "chatml"},
		{"<|start_header_id|>{{ role }}<|end_header_id|>", nil, "llama3"},
		{"{{ '[SYSTEM_PROMPT]' + system + '[/SYSTEM_PROMPT]' }}[INST]", nil, "mistral-v7-tekken"},
		{"{{ '[SYSTEM_PROMPT] ' + system }}", nil, "mistral-v7"},
		{"{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m.content + '[/INST]' }}", nil, "mistral-v3"},
		{"{{ ' [INST]' + m.content + ' [/INST]' }}", nil, "mistral-v1"},
		{`{{ "[INST]" + m.content + "[/INST]" }}`, nil, "mistral-v3-tekken"},
		{"", []string{"[INST]", "[/INST]"}, "mistral-v3"},
		{"", []string{"<|im_start|>", "<|im_end|>"}, "chatml"},
	}
	for _, c := range cases {
		f, v := vocabWith(t, "llama", "", c.template, c.control...)
		tmpl, err := engine.DetectChatTemplate(f, v)
		if err != nil || tmpl.Name != c.want {
			t.Errorf("%q: got %v, %v; want %s", c.template, tmpl, err, c.want)
		}
	}
	f, v := vocabWith(t, "llama", "", "{{ '### Human: ' + m.content }}")
	if _, err := engine.DetectChatTemplate(f, v); err == nil {
		t.Error("an unknown template was accepted")
	}
	f, v = vocabWith(t, "llama", "", "")
	if _, err := engine.DetectChatTemplate(f, v); err == nil {
		t.Error("a model without template or chat tokens got one")
	}
}

// TestSpecialTokensOnlyWhenAllowed checks that control-token text in user
// input stays text, and becomes the token only for templates.
func TestSpecialTokensOnlyWhenAllowed(t *testing.T) {
	_, v := vocabWith(t, "llama", "", "", "[INST]")
	inst, _ := v.Lookup("[INST]")
	with := v.Encode("[INST]hi</s>", false, true)
	if len(with) == 0 || with[0] != inst || with[len(with)-1] != v.EOS {
		t.Errorf("parsed: %v", with)
	}
	for _, id := range v.Encode("[INST]hi</s>", false, false) {
		if id == inst || id == v.EOS {
			t.Errorf("raw text produced control token %d", id)
		}
	}
}
