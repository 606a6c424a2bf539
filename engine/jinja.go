package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"
)

// jinjaTemplate is a model's own chat template (tokenizer.chat_template),
// compiled once. It renders with the variables Hugging Face's
// apply_chat_template passes (messages, tools, add_generation_prompt,
// bos_token, eos_token) and its environment (trim_blocks, lstrip_blocks,
// raise_exception, strftime_now, a tojson that keeps key order), which
// github.com/ardanlabs/jinja follows.
type jinjaTemplate struct {
	tmpl     *jinja.Template
	bos, eos string
	addsBOS  bool // the vocabulary adds a BOS of its own (see ChatTemplate.Prompt)
}

// compileJinja compiles a template's source. Like jinja2 (without
// keep_trailing_newline), it drops one line break at the end of the source.
func compileJinja(src, bos, eos string) (*jinjaTemplate, error) {
	for _, nl := range []string{"\r\n", "\n", "\r"} {
		if s, ok := strings.CutSuffix(src, nl); ok {
			src = s
			break
		}
	}
	t, err := compileSafely(guardMacros(src))
	if err != nil {
		return nil, fmt.Errorf("engine: tokenizer.chat_template does not compile: %s", oneLine(err.Error()))
	}
	return &jinjaTemplate{tmpl: t, bos: bos, eos: eos}, nil
}

// compileSafely compiles src, turning a panic of the parser into an
// error: a model file is input, and no input may crash strata.
func compileSafely(src string) (t *jinja.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return jinja.Compile(src)
}

// render renders a conversation.
func (j *jinjaTemplate) render(c Chat) (out string, err error) {
	depth := jinja.NewDict()
	depth.AsDict().Set("n", jinja.NewInt(0))
	data := map[string]jinja.Value{
		depthVar:                depth,
		"range":                 jinja.NewCallable("range", boundedRange),
		"messages":              messageValues(c.Messages),
		"add_generation_prompt": jinja.NewBool(c.AddGenerationPrompt),
		"bos_token":             jinja.NewString(j.bos),
		"eos_token":             jinja.NewString(j.eos),
	}
	if len(c.Tools) > 0 {
		tools := make([]jinja.Value, len(c.Tools))
		for i, raw := range c.Tools {
			v, err := jsonValue(raw)
			if err != nil {
				return "", fmt.Errorf("engine: tool %d: %w", i, err)
			}
			tools[i] = v
		}
		data["tools"] = jinja.NewList(tools)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("engine: chat template: %s", oneLine(fmt.Sprint(r)))
		}
	}()
	out, err = j.tmpl.RenderValues(data)
	if err != nil {
		return "", fmt.Errorf("engine: chat template: %s", oneLine(templateMessage(err)))
	}
	return out, nil
}

// A model's template is input: it must not take strata down. Go cannot
// recover from a stack overflow, so guardMacros bounds the nesting of
// macro calls (a macro that calls itself forever), and range is bounded
// (range(10**12) would take all memory).
const (
	maxMacroDepth = 256
	maxRange      = 1 << 20
	depthVar      = "__strata_macro_depth"
)

var (
	macroOpen  = regexp.MustCompile(`\{%[-+]?\s*macro\s[^%]*%\}`)
	macroClose = regexp.MustCompile(`\{%([-+]?)\s*endmacro\b`)
)

// guardMacros makes every macro count its nesting in a namespace the
// render passes (depthVar) and raise an error past maxMacroDepth. The tags
// it adds leave the output as it was: the opening one right after the
// macro tag (so that trim_blocks takes the newline after it instead), the
// closing one right before endmacro with the same left trim.
func guardMacros(src string) string {
	if !strings.Contains(src, "macro") {
		return src
	}
	enter := "{% if " + depthVar + ".n >= " + strconv.Itoa(maxMacroDepth) + " %}{{ raise_exception('macros nested deeper than " +
		strconv.Itoa(maxMacroDepth) + "') }}{% endif %}{% set " + depthVar + ".n = " + depthVar + ".n + 1 %}"
	leave := func(trim string) string {
		return "{%" + trim + " set " + depthVar + ".n = " + depthVar + ".n - 1 %}"
	}
	var b strings.Builder
	for {
		o := macroOpen.FindStringIndex(src)
		c := macroClose.FindStringSubmatchIndex(src)
		switch {
		case o == nil && c == nil:
			b.WriteString(src)
			return b.String()
		case o != nil && (c == nil || o[0] < c[0]):
			b.WriteString(src[:o[1]])
			b.WriteString(enter)
			src = src[o[1]:]
		default:
			b.WriteString(src[:c[0]])
			b.WriteString(leave(src[c[2]:c[3]]))
			b.WriteString(src[c[0]:c[1]])
			src = src[c[1]:]
		}
	}
}

// boundedRange is Jinja's range with at most maxRange values.
func boundedRange(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	start, stop, step := int64(0), int64(0), int64(1)
	ints := make([]int64, len(args))
	for i, a := range args {
		switch {
		case a.IsInt():
			ints[i] = a.AsInt()
		case a.IsFloat() && a.AsFloat() == math.Trunc(a.AsFloat()) && math.Abs(a.AsFloat()) < 1<<62:
			ints[i] = int64(a.AsFloat()) // 10**12 computes as a float here
		default:
			return jinja.Undefined(), fmt.Errorf("range: argument %d is not an integer", i+1)
		}
	}
	switch len(ints) {
	case 1:
		stop = ints[0]
	case 2:
		start, stop = ints[0], ints[1]
	case 3:
		start, stop, step = ints[0], ints[1], ints[2]
	default:
		return jinja.Undefined(), fmt.Errorf("range: expected 1 to 3 arguments, got %d", len(args))
	}
	if step == 0 {
		return jinja.Undefined(), fmt.Errorf("range: step must not be zero")
	}
	var n int64
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange || n < 0 {
		return jinja.Undefined(), fmt.Errorf("range: %d values, more than strata renders (%d)", n, maxRange)
	}
	items := make([]jinja.Value, n)
	for i := range items {
		items[i] = jinja.NewInt(start + int64(i)*step)
	}
	return jinja.NewList(items), nil
}

// templateMessage is the text a template raised (raise_exception), without
// the library's prefixes, or the error as it is.
func templateMessage(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "raise_exception: "); i >= 0 {
		return s[i+len("raise_exception: "):]
	}
	return s
}

// oneLine joins the lines of s with spaces, so that an error stays on one
// line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// messageValues turns messages into the dicts chat templates read, in
// OpenAI's shape: role and content always; tool_calls (each with id, type
// "function" and function {name, arguments}), tool_call_id and
// reasoning_content only when set, since templates test whether they are
// defined. An assistant turn of tool calls alone has content none.
func messageValues(msgs []Message) jinja.Value {
	out := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d := jinja.NewDict()
		dict := d.AsDict()
		dict.Set("role", jinja.NewString(m.Role))
		if m.Content == "" && len(m.ToolCalls) > 0 {
			dict.Set("content", jinja.None())
		} else {
			dict.Set("content", jinja.NewString(m.Content))
		}
		if m.Reasoning != "" {
			dict.Set("reasoning_content", jinja.NewString(m.Reasoning))
		}
		if len(m.ToolCalls) > 0 {
			calls := make([]jinja.Value, len(m.ToolCalls))
			for k, tc := range m.ToolCalls {
				fn := jinja.NewDict()
				fn.AsDict().Set("name", jinja.NewString(tc.Name))
				fn.AsDict().Set("arguments", argumentsValue(tc.Arguments))
				call := jinja.NewDict()
				if tc.ID != "" {
					call.AsDict().Set("id", jinja.NewString(tc.ID))
				}
				call.AsDict().Set("type", jinja.NewString("function"))
				call.AsDict().Set("function", fn)
				calls[k] = call
			}
			dict.Set("tool_calls", jinja.NewList(calls))
		}
		if m.ToolCallID != "" {
			dict.Set("tool_call_id", jinja.NewString(m.ToolCallID))
		}
		out[i] = d
	}
	return jinja.NewList(out)
}

// argumentsValue is a tool call's arguments as templates expect them: the
// JSON object decoded (as transformers passes them), or the text as it is
// when it is not JSON.
func argumentsValue(args string) jinja.Value {
	if v, err := jsonValue(json.RawMessage(args)); err == nil {
		return v
	}
	return jinja.NewString(args)
}

// jsonValue decodes JSON into a template value, keeping the order of
// object keys (tojson writes them back in that order, as Python does) and
// integers as integers.
func jsonValue(raw json.RawMessage) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jinja.Undefined(), fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jinja.Undefined(), fmt.Errorf("invalid JSON: more after the value")
	}
	return v, nil
}

// maxJSONDepth bounds the nesting of decoded JSON.
const maxJSONDepth = 64

func decodeValue(dec *json.Decoder, depth int) (jinja.Value, error) {
	if depth > maxJSONDepth {
		return jinja.Undefined(), fmt.Errorf("nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), err
				}
				key, _ := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return jinja.Undefined(), err
				}
				d.AsDict().Set(key, v)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Undefined(), err
			}
			return d, nil
		case '[':
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, v)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Undefined(), err
			}
			return jinja.NewList(items), nil
		}
		return jinja.Undefined(), fmt.Errorf("unexpected %v", t)
	case json.Number:
		return jinja.FromGoValue(t), nil
	case string:
		return jinja.NewString(t), nil
	case bool:
		return jinja.NewBool(t), nil
	case nil:
		return jinja.None(), nil
	}
	return jinja.Undefined(), fmt.Errorf("unexpected token %v", tok)
}
