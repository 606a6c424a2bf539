package api

import (
	"net/http"
	"strings"
)

// start submits a job for prompt to in's scheduler and returns it; the
// caller must call in.sched.withdraw(j) when it stops following it.
func start(r *http.Request, in *instance, prefix string, prompt []int32, set settings) (*job, *apiError) {
	j := newJob(r.Context(), newID(prefix), prompt, set)
	if err := in.sched.submit(j); err != nil {
		return nil, err
	}
	return j, nil
}

// follow passes the job's events to each until the outcome, which it
// returns; nil when the client went away (the scheduler then ends the
// job before its next step) or each failed writing to it.
func (s *Server) follow(r *http.Request, j *job, each func(event) error) *outcome {
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-j.wake:
		}
		for _, e := range j.take() {
			if e.final != nil {
				return e.final
			}
			if err := each(e); err != nil {
				return nil
			}
		}
	}
}

// collected is a whole answer, for a response that is not streamed.
type collected struct {
	text     strings.Builder
	logprobs []tokenLogprob
}

func (c *collected) add(e event) error {
	c.text.WriteString(e.text)
	c.logprobs = append(c.logprobs, e.logprobs...)
	return nil
}
