package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/chzyer/readline"
	"github.com/urfave/cli/v2"

	"strata/api"
	"strata/engine"
	"strata/gguf"
)

func chatCommand() *cli.Command {
	return &cli.Command{
		Name:      "chat",
		Usage:     "chat with a model in the terminal",
		ArgsUsage: "MODEL",
		Description: "Type a message and press Enter. /clear forgets the conversation, /exit (or Ctrl-D) quits,\n" +
			"Ctrl-C stops the answer being written and keeps the session. On a terminal, lines can be\n" +
			"edited and the arrows recall earlier ones. When the conversation outgrows the context, the\n" +
			"oldest messages are forgotten; the system prompt is kept.\n" + modelUsage,
		OnUsageError: usageError,
		Flags: append(append(append(append([]cli.Flag{
			modelFlag(),
			&cli.StringFlag{Name: "chat-template", Usage: "render turns with the built-in template `NAME`: " + strings.Join(engine.ChatTemplateNames, ", ") + " (default: the model's own tokenizer.chat_template)"},
			&cli.StringFlag{Name: "system", Aliases: []string{"sys"}, Usage: "a system prompt"},
			&cli.StringFlag{Name: "peers", Usage: "chat through these comma-separated peer `ADDRS`, which serve the split MODEL's fragments or layers of the MODEL file"},
			&cli.StringFlag{Name: "peer-id", Usage: "accept only these comma-separated peer `IDS`"},
			&cli.StringFlag{Name: "wire", Value: "f32", Usage: "hidden states between peers as `FORMAT`: f32 or f16"},
		}, textFlags()...), samplingFlags()...), backendFlags()...), append(swarmFlags(), joinFlags()...)...),
		Action: chat,
	}
}

// chatStack is what a chat computes with: a session of a local model or
// a route of peers, both of which forget positions past a point.
type chatStack interface {
	engine.Stack
	Truncate(pos int)
}

// chatModel is a chat's model, local or split across peers.
type chatModel struct {
	file    *gguf.File // the model's metadata (a split's first fragment)
	vocab   *engine.Vocab
	stack   chatStack
	batch   int // prompt positions per pass, for the prompt's meter
	name    string
	backend string
	device  string
	close   func()
}

// openChatModel opens a model file, or connects to the peers serving a
// split model.
func openChatModel(c *cli.Context, path string) (*chatModel, error) {
	if manifest, ok := manifestPath(path); ok || c.IsSet("peers") || joining(c) {
		if !ok {
			manifest = path
		}
		p, err := openRoute(c, manifest)
		if err != nil {
			return nil, err
		}
		return &chatModel{file: p.file, vocab: p.vocab, stack: p.route, batch: engine.DefaultBatch, name: p.config.Name,
			backend: "peers", device: count(len(p.route.Stats()), "peer", "peers"), close: p.Close}, nil
	}
	m, session, err := openSession(c, path)
	if err != nil {
		return nil, err
	}
	return &chatModel{file: m.file, vocab: m.vocab, stack: session, batch: m.batch, name: m.frag.Config.Name,
		backend: m.backend.Name(), device: m.backend.Device(), close: func() { session.Close(); m.Close() }}, nil
}

func chat(c *cli.Context) error {
	path, err := modelPath(c)
	if err != nil {
		return err
	}
	opts, err := generateOptions(c)
	if err != nil {
		return err
	}
	stops := stopStrings(c)
	m, err := openChatModel(c, path)
	if err != nil {
		return err
	}
	defer m.close()
	opts.IsEOG = m.vocab.IsEOG
	var tmpl *engine.ChatTemplate
	if name := c.String("chat-template"); name != "" {
		tmpl, err = engine.ChatTemplateByName(name)
	} else {
		tmpl, err = engine.ModelChatTemplate(m.file, m.vocab)
	}
	if err != nil {
		return err
	}
	if tmpl.Fallback != "" {
		slog.Warn("turns are rendered with a built-in template: "+oneLine(tmpl.Fallback), "template", tmpl.Name)
	}
	templateName := tmpl.Name
	if tmpl.Jinja() {
		templateName = "the model's own (tokenizer.chat_template)"
	}

	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	conv := &conversation{vocab: m.vocab, tmpl: tmpl, context: m.stack.Context()}
	if s := c.String("system"); s != "" {
		conv.history = append(conv.history, engine.Message{Role: "system", Content: escaped(c, s)})
	}
	conv.system = len(conv.history)
	var held []int32               // the tokens whose keys and values the stack holds
	think := thinkMarksOf(m.vocab) // shown, and kept as the turn's reasoning

	lines, err := newLineReader(out)
	if err != nil {
		return err
	}
	defer lines.close()
	hint := func() {
		fmt.Fprint(out, "\n(Ctrl-C stops an answer; /exit or Ctrl-D quits)\n")
		out.Flush()
	}
	intr := newInterrupts(func() { hint(); lines.redraw() }, nil)
	defer intr.stop()

	fmt.Fprintf(os.Stderr, "strata chat: %s, template %s, %s on %s. /clear forgets, /exit quits, Ctrl-C stops an answer.\n",
		m.name, templateName, m.backend, m.device)
	stack := withPromptMeter(m.stack, m.batch)
	for {
		line, err := lines.read()
		if errors.Is(err, readline.ErrInterrupt) {
			hint()
			continue
		}
		if err != nil {
			fmt.Fprintln(out)
			return nil // end of input
		}
		switch strings.TrimSpace(line) {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/clear":
			conv.history = conv.history[:conv.system]
			m.stack.Truncate(0)
			held = held[:0]
			fmt.Fprintln(out, "(conversation cleared)")
			continue
		}
		slog.Debug("chat message", "text", line)
		conv.history = append(conv.history, engine.Message{Role: "user", Content: line})
		prompt, forgot, err := conv.prompt(nil, conv.context)
		var refused *templateRefusal
		if errors.As(err, &refused) {
			// The template refused the conversation: say why, and keep
			// the session as it was.
			conv.history = conv.history[:len(conv.history)-1]
			fmt.Fprintf(out, "(%s)\n", oneLine(refused.err.Error()))
			continue
		}
		if errors.Is(err, engine.ErrContextFull) {
			conv.history = conv.history[:len(conv.history)-1]
			fmt.Fprintf(out, "(the message does not fit the context of %d tokens, even alone: it is left out)\n", conv.context)
			continue
		}
		if err != nil {
			return err
		}

		ctx, cancel := context.WithCancel(c.Context)
		intr.set(cancel)
		text := m.vocab.NewTextStream()
		stopper := api.Stopper{Stops: stops}
		var answer strings.Builder
		write := func(piece string) {
			answer.WriteString(piece)
			out.WriteString(piece)
			out.Flush()
		}
		var tokens []int32 // the answer's
		o := opts
		var r engine.Result
		for {
			// Keep the keys and values of the tokens the prompt shares
			// with what the stack holds; compute only the rest.
			same := 0
			for same < len(held) && same < len(prompt)-1 && held[same] == prompt[same] {
				same++
			}
			m.stack.Truncate(same)
			held = append(held[:same], prompt[same:]...)
			r, err = engine.Generate(ctx, stack, prompt[same:], o, func(tok int32) error {
				piece, hit := stopper.Add(text.Add(tok) + think.text(tok))
				write(piece)
				if hit {
					return errStopString
				}
				return nil
			})
			tokens = append(tokens, r.Tokens...)
			held = append(held, r.Tokens...)[:m.stack.Pos()]
			if err != nil || r.Stop != engine.StopContext {
				break
			}
			if o.MaxTokens > 0 {
				if o.MaxTokens -= len(r.Tokens); o.MaxTokens <= 0 {
					r.Stop = engine.StopLength
					break
				}
			}
			// The context is full in the middle of the answer: forget the
			// oldest messages and go on from the prompt without them, to
			// half the context at most.
			shifted, n, err := conv.prompt(tokens, conv.context/2)
			if n == 0 || err != nil {
				break // nothing left to forget
			}
			prompt, forgot = shifted, forgot+n
		}
		intr.set(nil)
		cancel()
		stopped := errors.Is(err, errStopString)
		if !stopped {
			piece, hit := stopper.Add(text.Flush())
			if !hit {
				piece += stopper.Flush()
			}
			write(piece)
		}
		switch {
		case stopped:
		case errors.Is(err, context.Canceled):
			fmt.Fprint(out, " (stopped)")
		case err != nil:
			return err
		case r.Stop == engine.StopLength:
			fmt.Fprintf(out, " (cut off: -n %d)", opts.MaxTokens)
		case r.Stop == engine.StopContext:
			fmt.Fprint(out, " (context full)")
		}
		fmt.Fprintln(out)
		if forgot > 0 {
			fmt.Fprintf(out, "(the context of %d tokens is full: %s forgotten, the system prompt kept)\n",
				conv.context, count(forgot, "message", "messages"))
		}
		conv.history = append(conv.history, assistantTurn(answer.String(), tmpl.Jinja()))
	}
}

// A templateRefusal is the chat template's error on a conversation it
// does not render: the user hears why, and the session goes on.
type templateRefusal struct{ err error }

func (r *templateRefusal) Error() string { return "chat: " + r.err.Error() }
func (r *templateRefusal) Unwrap() error { return r.err }

// A conversation renders its history into prompts that fit the context,
// forgetting its oldest messages, never the system prompt's, as it must.
type conversation struct {
	vocab   *engine.Vocab
	tmpl    *engine.ChatTemplate
	context int
	history []engine.Message
	system  int // the messages always kept: the system prompt
}

// prompt tokenizes the history, its last message a user's, for the
// answer to come, followed by the answer's tokens so far. While that
// takes more than limit positions (or leaves none free), the oldest
// messages after the system prompt go: the oldest exchange, a user's
// message and its answer, at a time. It returns how many went, and
// ErrContextFull when the prompt does not fit even without them.
func (cv *conversation) prompt(answer []int32, limit int) ([]int32, int, error) {
	forgot := 0
	for {
		text, err := cv.tmpl.Prompt(engine.Chat{Messages: cv.history, AddGenerationPrompt: true})
		if err != nil {
			return nil, forgot, &templateRefusal{err}
		}
		p, err := cv.vocab.EncodePrompt(text, true, true, cv.context-len(answer))
		if err == nil {
			p = append(p, answer...)
			if len(p) <= limit && len(p) < cv.context {
				slog.Debug("chat prompt", "tokens", len(p), "answer", len(answer), "forgotten", forgot, "text", text)
				return p, forgot, nil
			}
		} else if !errors.Is(err, engine.ErrContextFull) {
			return nil, forgot, err
		}
		droppable := len(cv.history) - 1 - cv.system // all but the system prompt and the message being answered
		if droppable <= 0 {
			if err == nil && len(p) < cv.context {
				slog.Debug("chat prompt", "tokens", len(p), "answer", len(answer), "forgotten", forgot, "text", text)
				return p, forgot, nil // over limit, but it fits
			}
			return nil, forgot, fmt.Errorf("chat: %w", engine.ErrContextFull)
		}
		n := min(2, droppable)
		cv.history = append(cv.history[:cv.system], cv.history[cv.system+n:]...)
		forgot += n
	}
}

// A lineReader reads the user's lines: with line editing and history on
// a terminal (readline), plainly from a pipe.
type lineReader struct {
	rl  *readline.Instance // nil: not a terminal
	in  *bufio.Reader
	out *bufio.Writer
}

func newLineReader(out *bufio.Writer) (*lineReader, error) {
	if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
		return &lineReader{in: bufio.NewReader(os.Stdin), out: out}, nil
	}
	rl, err := readline.NewEx(&readline.Config{Prompt: "> ", HistoryLimit: 1000})
	if err != nil {
		return nil, fmt.Errorf("chat: line editing: %w", err)
	}
	return &lineReader{rl: rl, out: out}, nil
}

// read returns the next line without its end; readline.ErrInterrupt for
// Ctrl-C on a terminal, io.EOF at the end of input.
func (l *lineReader) read() (string, error) {
	l.out.Flush() // what the last answer ended with comes before the prompt
	if l.rl != nil {
		return l.rl.Readline()
	}
	fmt.Fprint(l.out, "> ")
	l.out.Flush()
	line, err := l.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", io.EOF
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// redraw shows the prompt again after a note printed over it.
func (l *lineReader) redraw() {
	if l.rl != nil {
		l.rl.Refresh()
		return
	}
	fmt.Fprint(l.out, "> ")
	l.out.Flush()
}

func (l *lineReader) close() {
	if l.rl != nil {
		l.rl.Close()
	}
}
