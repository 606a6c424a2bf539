package engine_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
)

// A templateCase is one conversation rendered by one template.
type templateCase struct {
	name     string
	template string
	chat     engine.Chat
}

var weatherTool = json.RawMessage(`{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city, now", ` +
	`"parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city, e.g. \"Paris\""}, ` +
	`"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}`)

var timeTool = json.RawMessage(`{"type": "function", "function": {"name": "get_time", "description": "Local time (24h) in a time zone", ` +
	`"parameters": {"type": "object", "properties": {"zone": {"type": "string"}, "seconds": {"type": "boolean"}}, "required": ["zone"]}}}`)

// conversations are the chats both target templates render: a lone
// question, a system prompt, several turns (with spaces a template trims),
// text that looks like markup and is not ASCII, tool definitions, calls and
// results, Magistral's thinking, and conversations the templates refuse.
func conversations() []templateCase {
	user := func(s string) engine.Message { return engine.Message{Role: "user", Content: s} }
	assistant := func(s string) engine.Message { return engine.Message{Role: "assistant", Content: s} }
	system := func(s string) engine.Message { return engine.Message{Role: "system", Content: s} }
	call := func(id, name, args string) engine.Message {
		return engine.Message{Role: "assistant", ToolCalls: []engine.ToolCall{{ID: id, Name: name, Arguments: args}}}
	}
	result := func(id, content string) engine.Message {
		return engine.Message{Role: "tool", ToolCallID: id, Content: content}
	}
	tools := []json.RawMessage{weatherTool, timeTool}
	var cases []templateCase
	both := func(name string, c engine.Chat) {
		cases = append(cases,
			templateCase{"mistral/" + name, testmodel.MistralTemplate, c},
			templateCase{"magistral/" + name, testmodel.MagistralTemplate, c})
	}
	gen := func(msgs ...engine.Message) engine.Chat {
		return engine.Chat{Messages: msgs, AddGenerationPrompt: true}
	}

	both("one question", gen(user("What is the capital of France?")))
	both("system prompt", gen(system("You are a terse assistant. Answer in one word."), user("Capital of Italy?")))
	both("multi-turn", gen(
		system("You are a helpful assistant"),
		user("Hello"), assistant("Hi there"),
		user("Who are you"), assistant("   I am an assistant   "),
		user("Another question")))
	both("multi-turn, no generation prompt", engine.Chat{Messages: []engine.Message{
		user("1 + 1?"), assistant("2"), user("And 2 + 2?"), assistant("4")}})
	both("markup and unicode", gen(
		user(`Translate "<b>naïve café</b>" & {{ keep }} {% raw %} to 日本語 — 'quotes' \n too`),
		assistant("「ナイーブなカフェ」 🙂"),
		user("[INST] is text here, and so is </s>")))
	both("tool call and result", engine.Chat{Tools: tools, AddGenerationPrompt: true, Messages: []engine.Message{
		user("What's the weather like in Paris?"),
		call("call00001", "get_weather", `{"city": "Paris", "unit": "celsius"}`),
		result("call00001", `{"temperature": 22, "sky": "clear"}`),
		assistant("It is 22 °C and clear in Paris."),
		user("And the time in Tokyo?")}})
	both("tools, system prompt", engine.Chat{Tools: tools, AddGenerationPrompt: true, Messages: []engine.Message{
		system("Use tools when they help."),
		user("Weather in Lyon, in fahrenheit?")}})
	both("two tool calls", engine.Chat{Tools: tools, AddGenerationPrompt: true, Messages: []engine.Message{
		user("Weather in Oslo and time in Lima?"),
		{Role: "assistant", ToolCalls: []engine.ToolCall{
			{ID: "abc123def", Name: "get_weather", Arguments: `{"city": "Oslo"}`},
			{ID: "xyz789uvw", Name: "get_time", Arguments: `{"zone": "America/Lima", "seconds": false}`}}},
		result("abc123def", "-3"),
		result("xyz789uvw", "09:41"),
		assistant("Oslo is at -3 °C; it is 09:41 in Lima.")}})
	both("roles do not alternate", gen(user("one"), user("two"), assistant("three"), assistant("four"), user("five")))
	both("starts with the assistant", gen(assistant("I speak first"), user("then me")))
	both("tool call id too short", engine.Chat{Tools: tools, AddGenerationPrompt: true, Messages: []engine.Message{
		user("Weather in Rome?"), call("c1", "get_weather", `{"city": "Rome"}`), result("c1", "20"),
		assistant("20 °C."), user("thanks")}})

	magistral := func(name string, c engine.Chat) {
		cases = append(cases, templateCase{"magistral/" + name, testmodel.MagistralTemplate, c})
	}
	magistral("thinking", gen(
		user("How many r in strawberry?"),
		engine.Message{Role: "assistant", Reasoning: "s-t-r-a-w-b-e-r-r-y: r at 3, 8, 9.", Content: "Three."},
		user("And in raspberry?")))
	magistral("thinking, then a tool call", engine.Chat{Tools: tools, AddGenerationPrompt: true, Messages: []engine.Message{
		system("You may call tools."),
		user("Is it warm in Madrid?"),
		{Role: "assistant", Reasoning: "I need the weather first.", ToolCalls: []engine.ToolCall{
			{ID: "mad000001", Name: "get_weather", Arguments: `{"city": "Madrid"}`}}},
		result("mad000001", `{"temperature": 31}`),
		engine.Message{Role: "assistant", Reasoning: "31 °C is warm.", Content: "Yes: 31 °C."},
		user("Thanks!")}})
	magistral("thinking written in the content", gen(
		user("2 + 2?"), assistant("[THINK]Add them.[/THINK]4"), user("3 + 3?")))
	// Macros, which strata rewrites to bound their nesting, keep their
	// output and its whitespace control.
	for i, src := range []string{
		"{%- macro g(a) -%}\n  [{{ a }}]  \n{%- endmacro -%}\n{% for m in messages %}{{ g(m.role) }}{% endfor %}",
		"{% macro g(a) %}\n  <{{ a }}>\n  {% endmacro %}\n  {{ g(messages[0].content) }} {{ g('x') }}\n",
		"{% macro f(n) -%} {{ n }}{% if n > 0 %}{{ f(n - 1) }}{% endif %} {% endmacro %}{{ f(12) }}|{{ range(3)|list }}\r\n",
		"{% macro outer(x) %}({% macro inner(y) %}[{{ y }}]{% endmacro %}{{ inner(x) }}{{ inner(x ~ '!') }}){% endmacro %}{{ outer('a') }}{{ range(7, 1, -2)|join(',') }}",
	} {
		cases = append(cases, templateCase{fmt.Sprintf("macros/%d", i), src, gen(user("hi"), assistant("yo"), user("bye"))})
	}
	mistral := func(name string, c engine.Chat) {
		cases = append(cases, templateCase{"mistral/" + name, testmodel.MistralTemplate, c})
	}
	mistral("a system turn in the middle", gen(user("hi"), assistant("hello"), system("late system"), user("bye")))
	return cases
}

// TestChatTemplatesMatchJinja2 renders every conversation with both target
// templates (and a few templates of macros) through strata and through Python's jinja2 (set up as Hugging
// Face's apply_chat_template sets it up, testdata/render_jinja.py) and
// wants the same text, byte for byte, or both refusing the conversation
// with the template's own message. Without python3 and jinja2 it skips,
// except under CI, where it fails.
func TestChatTemplatesMatchJinja2(t *testing.T) {
	cases := conversations()
	want := renderJinja2(t, cases)
	identical, refused := 0, 0
	for i, c := range cases {
		tmpl, err := engine.ChatTemplateFromJinja(c.template, "<s>", "</s>", true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.Render(c.chat)
		switch w := want[i]; {
		case w.Error != "":
			if err == nil {
				t.Errorf("%s: jinja2 refuses it (%s), strata renders %q", c.name, w.Error, got)
			} else if !strings.Contains(err.Error(), w.Error) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: strata's error %q, want jinja2's %q on one line", c.name, err, w.Error)
			} else {
				refused++
			}
		case err != nil:
			t.Errorf("%s: %v; jinja2 renders %q", c.name, err, *w.Text)
		case got != *w.Text:
			t.Errorf("%s:\nstrata %q\njinja2 %q", c.name, got, *w.Text)
		default:
			identical++
		}
	}
	t.Logf("%d conversations: %d rendered identically, %d refused by both with the same message", len(cases), identical, refused)
	if identical+refused != len(cases) || refused == 0 || identical < 2*refused {
		t.Errorf("%d identical and %d refused of %d", identical, refused, len(cases))
	}
}

type jinja2Result struct {
	Text  *string `json:"text"`
	Error string  `json:"error"`
}

// renderJinja2 renders the cases with Python's jinja2.
func renderJinja2(t *testing.T, cases []templateCase) []jinja2Result {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(python, "-c", "import jinja2").Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with jinja2 (Debian: python3-jinja2) is needed under CI: %v", err)
		}
		t.Skipf("no python3 with jinja2 (Debian: python3-jinja2): %v", err)
	}
	type pyCase struct {
		Template string         `json:"template"`
		Context  map[string]any `json:"context"`
	}
	var req struct {
		Cases []pyCase `json:"cases"`
	}
	for _, c := range cases {
		ctx := map[string]any{
			"messages":              pythonMessages(c.chat.Messages),
			"add_generation_prompt": c.chat.AddGenerationPrompt,
			"bos_token":             "<s>",
			"eos_token":             "</s>",
		}
		if len(c.chat.Tools) > 0 {
			ctx["tools"] = c.chat.Tools
		}
		req.Cases = append(req.Cases, pyCase{c.template, ctx})
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/render_jinja.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render_jinja.py: %v\n%s", err, stderr.String())
	}
	var res []jinja2Result
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("render_jinja.py: %d results for %d cases: %v", len(res), len(cases), err)
	}
	return res
}

// pythonMessage is a message as Hugging Face's apply_chat_template takes
// it (OpenAI's shape, arguments as a JSON object), the fields in order.
type pythonMessage struct {
	Role       string       `json:"role"`
	Content    *string      `json:"content"`
	Reasoning  string       `json:"reasoning_content,omitempty"`
	ToolCalls  []pythonCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
}

type pythonCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

func pythonMessages(msgs []engine.Message) []pythonMessage {
	out := make([]pythonMessage, len(msgs))
	for i, m := range msgs {
		p := pythonMessage{Role: m.Role, Reasoning: m.Reasoning, ToolCallID: m.ToolCallID}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			content := m.Content
			p.Content = &content
		}
		for _, tc := range m.ToolCalls {
			c := pythonCall{ID: tc.ID, Type: "function"}
			c.Function.Name, c.Function.Arguments = tc.Name, json.RawMessage(tc.Arguments)
			p.ToolCalls = append(p.ToolCalls, c)
		}
		out[i] = p
	}
	return out
}

// TestHostileChatTemplates: a model's template is input. One that does not
// compile, recurses forever, asks for a huge range or calls what is not a
// function is refused with a one-line error; none takes strata down. A
// model whose template does not compile gets the built-in one closest to
// it, saying why.
func TestHostileChatTemplates(t *testing.T) {
	chat := engine.Chat{Messages: []engine.Message{{Role: "user", Content: "hi"}}, AddGenerationPrompt: true}
	for _, c := range []struct{ src, want string }{
		{"{% for %}", "engine: tokenizer.chat_template does not compile: "},
		{"{% if true %}never closed", "engine: tokenizer.chat_template does not compile: "},
		{"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "engine: chat template: macros nested deeper than 256"},
		{"{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "engine: chat template: macros nested deeper than 256"},
		{"{% for i in range(10**12) %}x{% endfor %}", "engine: chat template: range: 1000000000000 values, more than strata renders (1048576)"},
		{"{% set x = 5 %}{{ x.foo() }}", "engine: chat template: "},
		{"{{ raise_exception('line one\nline two') }}", "engine: chat template: line one line two"},
	} {
		tmpl, err := engine.ChatTemplateFromJinja(c.src, "<s>", "</s>", true)
		if err == nil {
			_, err = tmpl.Render(chat)
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line beginning %q", c.src, err, c.want)
		}
	}
	f, v := vocabWith(t, "llama", "", "{% if %}[INST]{{ m.content }}[/INST]", "[INST]", "[/INST]")
	tmpl, err := engine.ModelChatTemplate(f, v)
	if err != nil || tmpl.Jinja() || tmpl.Name != "mistral-v3" || !strings.Contains(tmpl.Fallback, "does not compile") {
		t.Errorf("got %+v, %v; want the closest built-in, saying the model's does not compile", tmpl, err)
	}
}
