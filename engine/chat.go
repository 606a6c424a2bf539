package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"strata/gguf"
)

// A Message is one turn of a conversation. Role is "system", "user",
// "assistant" or "tool". Reasoning, ToolCalls and ToolCallID are rendered
// by the templates that know them (a model's own Jinja template); the
// built-in ones render Role and Content only.
type Message struct {
	Role    string
	Content string
	// Reasoning is an assistant turn's thinking (reasoning_content:
	// Magistral's [THINK] block).
	Reasoning string
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall
	// ToolCallID is the call a tool turn answers.
	ToolCallID string
}

// A ToolCall is one function call of an assistant turn. Arguments is a JSON
// object, as OpenAI's API sends it.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// A Chat is what a template renders: the conversation, the tools the model
// may call (OpenAI's tool definitions, as JSON), and whether to end with
// the opening of the assistant's turn, ready for generation.
type Chat struct {
	Messages            []Message
	Tools               []json.RawMessage
	AddGenerationPrompt bool
}

// A ChatTemplate renders a conversation into the text a model was trained
// on. The text holds control tokens ("[INST]", "<|eot_id|>") and must be
// tokenized with parseSpecial. It is either the model's own template
// (tokenizer.chat_template, rendered as Jinja; Name "jinja") or one of the
// built-in ones (ChatTemplateNames).
type ChatTemplate struct {
	Name string
	// Fallback, for a built-in template chosen for a model, says why the
	// model's own template is not used ("" when it is, or when the
	// template was asked for by name).
	Fallback string

	render func(b *strings.Builder, msgs []Message, addAssistant bool)
	jinja  *jinjaTemplate
}

// ErrTemplateUnsupported reports a conversation that a built-in template
// cannot render (tools, tool turns).
var ErrTemplateUnsupported = errors.New("engine: the chat template cannot render this conversation")

// Render renders a conversation, exactly as the template writes it: a
// model's own template may begin with the BOS token's text (see Prompt).
// A template that raises an error (raise_exception: roles that do not
// alternate, a malformed tool call id) gives it as a one-line error.
func (t *ChatTemplate) Render(c Chat) (string, error) {
	if t.jinja != nil {
		return t.jinja.render(c)
	}
	if len(c.Tools) > 0 {
		return "", fmt.Errorf("%w: the built-in template %s has no tools", ErrTemplateUnsupported, t.Name)
	}
	for i, m := range c.Messages {
		if m.Role == "tool" || len(m.ToolCalls) > 0 {
			return "", fmt.Errorf("%w: the built-in template %s has no tool calls (message %d)", ErrTemplateUnsupported, t.Name, i)
		}
	}
	var b strings.Builder
	t.render(&b, c.Messages, c.AddGenerationPrompt)
	return b.String(), nil
}

// Prompt renders a conversation as the text to tokenize with the
// vocabulary's own BOS: Render without the BOS text that a model's
// template writes at its start (as llama.cpp drops it), so that the prompt
// holds one BOS. A vocabulary that adds no BOS keeps the template's.
func (t *ChatTemplate) Prompt(c Chat) (string, error) {
	s, err := t.Render(c)
	if err != nil || t.jinja == nil || !t.jinja.addsBOS || t.jinja.bos == "" {
		return s, err
	}
	return strings.TrimPrefix(s, t.jinja.bos), nil
}

// Jinja reports whether t is the model's own template.
func (t *ChatTemplate) Jinja() bool { return t.jinja != nil }

// ModelChatTemplate returns the model's own chat template
// (tokenizer.chat_template), rendered as Jinja with the BOS and EOS tokens
// of v. A model without one, or whose template does not compile, gets the
// built-in template detected from it (DetectChatTemplate), with Fallback
// saying why.
func ModelChatTemplate(f *gguf.File, v *Vocab) (*ChatTemplate, error) {
	src, err := f.String("tokenizer.chat_template")
	var why string
	switch {
	case errors.Is(err, gguf.ErrMissingKey):
		why = "the model has no tokenizer.chat_template"
	case err != nil:
		return nil, fmt.Errorf("engine: %w", err)
	default:
		t, cerr := ChatTemplateFromJinja(src, tokenText(v, v.BOS), tokenText(v, v.EOS), v.AddBOS && v.BOS >= 0)
		if cerr == nil {
			return t, nil
		}
		why = cerr.Error()
	}
	t, err := DetectChatTemplate(f, v)
	if err != nil {
		if src == "" {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%s)", err, why)
	}
	t.Fallback = why
	return t, nil
}

// ChatTemplateFromJinja compiles a Jinja chat template, rendered with
// bos and eos as bos_token and eos_token; addsBOS says that the vocabulary
// adds a BOS of its own (see Prompt).
func ChatTemplateFromJinja(src, bos, eos string, addsBOS bool) (*ChatTemplate, error) {
	j, err := compileJinja(src, bos, eos)
	if err != nil {
		return nil, err
	}
	j.addsBOS = addsBOS
	return &ChatTemplate{Name: "jinja", jinja: j}, nil
}

// tokenText is the text of a token, "" for none.
func tokenText(v *Vocab, id int32) string {
	if id < 0 || int(id) >= len(v.Tokens) {
		return ""
	}
	return v.Tokens[id]
}

// ChatTemplateNames lists the built-in templates.
var ChatTemplateNames = []string{"mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "llama3", "chatml"}

// ChatTemplateByName returns a built-in template by its name.
func ChatTemplateByName(name string) (*ChatTemplate, error) {
	switch name {
	case "mistral-v1", "mistral-v3", "mistral-v3-tekken":
		return &ChatTemplate{Name: name, render: mistralV3(name)}, nil
	case "mistral-v7", "mistral-v7-tekken":
		return &ChatTemplate{Name: name, render: mistralV7(name == "mistral-v7")}, nil
	case "llama3":
		return &ChatTemplate{Name: name, render: llama3Chat}, nil
	case "chatml":
		return &ChatTemplate{Name: name, render: chatML}, nil
	}
	return nil, fmt.Errorf("engine: chat template %q is not known (known: %s)", name, strings.Join(ChatTemplateNames, ", "))
}

// DetectChatTemplate picks the built-in template closest to a model's
// tokenizer.chat_template, or from its vocabulary when it has none.
func DetectChatTemplate(f *gguf.File, v *Vocab) (*ChatTemplate, error) {
	tekken := v.Pre == "tekken"
	if src, err := f.String("tokenizer.chat_template"); err == nil {
		has := func(s string) bool { return strings.Contains(src, s) }
		switch {
		case has("<|im_start|>"):
			return ChatTemplateByName("chatml")
		case has("<|start_header_id|>") && has("<|end_header_id|>"):
			return ChatTemplateByName("llama3")
		case has("[SYSTEM_PROMPT]"):
			if tekken || !has("[SYSTEM_PROMPT] ") {
				return ChatTemplateByName("mistral-v7-tekken")
			}
			return ChatTemplateByName("mistral-v7")
		case has("[INST]"):
			switch {
			case has(" [INST]") && !has("[INST] "):
				return ChatTemplateByName("mistral-v1")
			case tekken || has(`"[INST]"`):
				return ChatTemplateByName("mistral-v3-tekken")
			}
			return ChatTemplateByName("mistral-v3")
		}
		head := src
		if len(head) > 60 {
			head = head[:60] + "…"
		}
		return nil, fmt.Errorf("engine: the model's chat template is not one strata knows (it begins %q); choose one with --chat-template (known: %s)",
			head, strings.Join(ChatTemplateNames, ", "))
	}
	has := func(s string) bool { _, ok := v.Lookup(s); return ok }
	switch {
	case has("<|im_start|>"):
		return ChatTemplateByName("chatml")
	case has("<|start_header_id|>"):
		return ChatTemplateByName("llama3")
	case has("[SYSTEM_PROMPT]"):
		return ChatTemplateByName(map[bool]string{true: "mistral-v7-tekken", false: "mistral-v7"}[tekken])
	case has("[INST]"):
		return ChatTemplateByName(map[bool]string{true: "mistral-v3-tekken", false: "mistral-v3"}[tekken])
	}
	return nil, fmt.Errorf("engine: the model has no chat template; choose one with --chat-template (known: %s)",
		strings.Join(ChatTemplateNames, ", "))
}

// mistralV3 renders Mistral's v1, v3 and v3-tekken formats:
// "[INST] system\n\nuser[/INST] answer</s>[INST] user[/INST]", with the
// spacing of each version.
func mistralV3(name string) func(*strings.Builder, []Message, bool) {
	lead, trail := "", " "
	switch name {
	case "mistral-v1":
		lead = " "
	case "mistral-v3-tekken":
		trail = ""
	}
	trim := name == "mistral-v3"
	return func(b *strings.Builder, msgs []Message, _ bool) {
		inTurn := false
		for _, m := range msgs {
			if !inTurn {
				b.WriteString(lead + "[INST]" + trail)
				inTurn = true
			}
			switch m.Role {
			case "system":
				b.WriteString(m.Content + "\n\n")
			case "user":
				b.WriteString(m.Content + lead + "[/INST]")
			default:
				c := m.Content
				if trim {
					c = strings.TrimSpace(c)
				}
				b.WriteString(trail + c + "</s>")
				inTurn = false
			}
		}
	}
}

// mistralV7 renders "[SYSTEM_PROMPT]…[/SYSTEM_PROMPT][INST]…[/INST]…</s>",
// with a space after each opening tag in v7 and none in v7-tekken.
func mistralV7(spaced bool) func(*strings.Builder, []Message, bool) {
	sp := ""
	if spaced {
		sp = " "
	}
	return func(b *strings.Builder, msgs []Message, _ bool) {
		for _, m := range msgs {
			switch m.Role {
			case "system":
				b.WriteString("[SYSTEM_PROMPT]" + sp + m.Content + "[/SYSTEM_PROMPT]")
			case "user":
				b.WriteString("[INST]" + sp + m.Content + "[/INST]")
			default:
				b.WriteString(sp + m.Content + "</s>")
			}
		}
	}
}

func llama3Chat(b *strings.Builder, msgs []Message, addAssistant bool) {
	for _, m := range msgs {
		b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n" + strings.TrimSpace(m.Content) + "<|eot_id|>")
	}
	if addAssistant {
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
}

func chatML(b *strings.Builder, msgs []Message, addAssistant bool) {
	for _, m := range msgs {
		b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
	}
	if addAssistant {
		b.WriteString("<|im_start|>assistant\n")
	}
}
