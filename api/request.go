package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// params are the sampling and output fields both completion endpoints
// share, as OpenAI (and llama-server, for top_k, min_p, repeat_penalty
// and ignore_eos) names them. A nil pointer is a field not given.
type params struct {
	Model               string          `json:"model"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MinP                *float64        `json:"min_p"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	RepeatPenalty       *float64        `json:"repeat_penalty"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	// Logprobs is a boolean for chat, a count for completions.
	Logprobs       json.RawMessage `json:"logprobs"`
	TopLogprobs    *int            `json:"top_logprobs"`
	IgnoreEOS      bool            `json:"ignore_eos"`
	Tools          json.RawMessage `json:"tools"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

type chatRequest struct {
	params
	Messages []chatMessage `json:"messages"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type completionRequest struct {
	params
	Prompt json.RawMessage `json:"prompt"`
	Echo   bool            `json:"echo"`
}

// decodeBody reads one JSON object of at most limit bytes into v,
// whatever the Content-Type says (curl's default is a form). Its errors
// name what is wrong: the JSON, a field's type, or the size.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) *apiError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("more than one JSON value")
			if extra != nil && isTooLarge(extra) {
				err = extra
			}
		}
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case isTooLarge(err):
		return withCode(&apiError{status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
			Message: fmt.Sprintf("api: the body is larger than the limit of %d bytes", limit)}, "body_too_large")
	case errors.Is(err, io.EOF):
		return badRequest("", "the body is empty; send a JSON object")
	case errors.As(err, &syntax):
		return withCode(badRequest("", "the body is not valid JSON: %v (at byte %d)", err, syntax.Offset), "invalid_json")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return withCode(badRequest("", "the body is not valid JSON: it ends early"), "invalid_json")
	case errors.As(err, &typ):
		// The path of a field of an embedded struct starts with its type.
		typ.Field = strings.TrimPrefix(typ.Field, "params.")
		if typ.Field == "" {
			return badRequest("", "the body is JSON %s; send an object", typ.Value)
		}
		return withCode(badRequest(typ.Field, "field %q: want %s, got JSON %s", typ.Field, jsonType(typ.Type.String()), typ.Value), "invalid_type")
	}
	return withCode(badRequest("", "the body is not valid JSON: %v", err), "invalid_json")
}

func isTooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// jsonType names a Go type the way a JSON client thinks of it.
func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "*int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// stringOrList reads a field that is a string or a list of strings.
func stringOrList(raw json.RawMessage, field string) ([]string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, withCode(badRequest(field, "field %q: want a string or a list of strings, got %s", field, clip(string(raw))), "invalid_type")
	}
	return list, nil
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
