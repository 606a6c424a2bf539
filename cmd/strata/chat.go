package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"strata/engine"
)

func chatCommand() *cli.Command {
	return &cli.Command{
		Name:      "chat",
		Usage:     "chat with a model in the terminal",
		ArgsUsage: "MODEL",
		Description: "Type a message and press Enter. /clear forgets the conversation, /exit (or Ctrl-D) quits,\n" +
			"Ctrl-C stops the answer being written and keeps the session.",
		OnUsageError: usageError,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "chat-template", Usage: "render turns with the built-in template `NAME`: " + strings.Join(engine.ChatTemplateNames, ", ") + " (default: the model's own tokenizer.chat_template)"},
			&cli.StringFlag{Name: "system", Aliases: []string{"sys"}, Usage: "a system prompt"},
		}, samplingFlags()...), backendFlags()...),
		Action: chat,
	}
}

// interrupts forwards Ctrl-C to whatever is being generated, and tells
// the user how to quit when nothing is.
type interrupts struct {
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (i *interrupts) watch(hint func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				i.mu.Lock()
				if i.cancel != nil {
					i.cancel()
				} else {
					hint()
				}
				i.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func (i *interrupts) set(cancel context.CancelFunc) {
	i.mu.Lock()
	i.cancel = cancel
	i.mu.Unlock()
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
	m, session, err := openSession(c, path)
	if err != nil {
		return err
	}
	defer m.Close()
	defer session.Close()
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
	var history []engine.Message
	if s := c.String("system"); s != "" {
		history = append(history, engine.Message{Role: "system", Content: s})
	}
	system := len(history)
	var held []int32               // the tokens whose keys and values the session holds
	think := thinkMarksOf(m.vocab) // shown, and kept as the turn's reasoning

	var intr interrupts
	stop := intr.watch(func() {
		fmt.Fprint(out, "\n(Ctrl-C stops an answer; /exit or Ctrl-D quits)\n> ")
		out.Flush()
	})
	defer stop()

	fmt.Fprintf(os.Stderr, "strata chat: %s, template %s, %s on %s. /clear forgets, /exit quits, Ctrl-C stops an answer.\n",
		m.frag.Config.Name, templateName, m.backend.Name(), m.backend.Device())
	in := bufio.NewReader(os.Stdin)
	for {
		fmt.Fprint(out, "> ")
		out.Flush()
		line, err := in.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			fmt.Fprintln(out)
			return nil // end of input
		}
		line = strings.TrimRight(line, "\r\n")
		switch strings.TrimSpace(line) {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/clear":
			history = history[:system]
			session.Truncate(0)
			held = held[:0]
			fmt.Fprintln(out, "(conversation cleared)")
			continue
		}
		history = append(history, engine.Message{Role: "user", Content: line})
		rendered, err := tmpl.Prompt(engine.Chat{Messages: history, AddGenerationPrompt: true})
		if err != nil {
			// The template refused the conversation: say why, and keep
			// the session as it was.
			history = history[:len(history)-1]
			fmt.Fprintf(out, "(%s)\n", oneLine(err.Error()))
			continue
		}
		slog.Debug("chat prompt", "text", rendered)
		prompt, err := m.vocab.EncodePrompt(rendered, true, true, session.Context())
		if errors.Is(err, engine.ErrContextFull) {
			history = history[:len(history)-1]
			fmt.Fprintf(out, "(the conversation no longer fits the context of %d tokens; /clear to start over)\n", session.Context())
			continue
		}
		if err != nil {
			return err
		}
		// Keep the keys and values of the tokens the new prompt shares
		// with what the session holds; compute only the rest.
		same := 0
		for same < len(held) && same < len(prompt)-1 && held[same] == prompt[same] {
			same++
		}
		session.Truncate(same)
		held = append(held[:same], prompt[same:]...)

		ctx, cancel := context.WithCancel(c.Context)
		intr.set(cancel)
		text := m.vocab.NewTextStream()
		var answer strings.Builder
		r, err := engine.Generate(ctx, session, prompt[same:], opts, func(tok int32) error {
			piece := text.Add(tok) + think.text(tok)
			answer.WriteString(piece)
			out.WriteString(piece)
			return out.Flush()
		})
		intr.set(nil)
		cancel()
		answer.WriteString(text.Flush())
		held = append(held, r.Tokens...)[:session.Pos()]
		switch {
		case errors.Is(err, context.Canceled):
			fmt.Fprint(out, " (stopped)")
		case err != nil:
			return err
		case r.Stop == engine.StopContext:
			fmt.Fprint(out, " (context full)")
		}
		fmt.Fprintln(out)
		history = append(history, assistantTurn(answer.String(), tmpl.Jinja()))
	}
}
