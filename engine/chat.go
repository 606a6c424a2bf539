package engine

import (
	"fmt"

	"strings"

	"strata/gguf"
)

// A Message is one turn of a conversation. Role is "system", "user" or
// "assistant".
type Message struct {
	Role    string
	Content string
}

// A ChatTemplate renders a conversation into the text a model was trained
// on. The text holds control tokens ("[INST]", "<|eot_id|>") and must be
// tokenized with parseSpecial.
type ChatTemplate struct {
	Name   string
	render func(b *strings.Builder, msgs []Message, addAssistant bool)
}

// Render renders msgs; with addAssistant it ends with the opening of the
// assistant's turn, ready for generation.
func (t *ChatTemplate) Render(msgs []Message, addAssistant bool) string {
	var b strings.Builder
	t.render(&b, msgs, addAssistant)
	return b.String()
}

// ChatTemplateNames lists the templates strata renders.
var ChatTemplateNames = []string{"mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "llama3", "chatml"}

// ChatTemplateByName returns a template by its name.
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

// DetectChatTemplate picks the template of a model from its
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
