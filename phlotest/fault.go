package phlotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is a failure that requests meet instead of the normal answer. A
// fault with only Delay set delays the answer, which is then the normal
// one.
type Fault struct {
	// Match, if set, chooses the requests that meet the fault: the others
	// are served normally and do not use up Times. It is called with the
	// server's lock held, so it must not call the Server's methods.
	Match func(Request) bool
	// Method, Action and PathPrefix, each if not empty, choose the requests
	// that meet the fault as Match does: only a request with that method,
	// that action (as Request.Action says it), and an escaped path that
	// starts with PathPrefix. A fault meets only the requests that match
	// every one of them and Match.
	Method, Action, PathPrefix string
	// Status is the status to answer with, with Body, instead of serving
	// the request. Zero serves the request (after Delay). A status outside
	// 100–599 is answered as a 500 that says so.
	Status int
	// Times is how many requests meet the fault; 0 means one.
	Times int
	// Body is the reply body; it is sent as it is, so it may be JSON,
	// empty, HTML or anything else.
	Body string
	// Header holds extra reply headers.
	Header http.Header
	// RetryAfter, if positive, is sent as a Retry-After header in whole
	// seconds, rounded up. Use Header for the HTTP-date form.
	RetryAfter time.Duration
	// Delay is how long to wait before answering. The wait ends early when
	// the client gives up or the server is closed.
	Delay time.Duration
	// Drop closes the connection without any reply.
	Drop bool
	// Truncate sends the status and headers with a Content-Length longer
	// than Body, then Body, then closes the connection: a reset mid-body.
	Truncate bool
	// Stall sends the status and headers, then nothing more until the
	// client gives up or the server is closed.
	Stall bool
	// Apply performs the request first, as the server would without the
	// fault: the model changes and a run is recorded. Then the fault's
	// Status, Drop, Truncate or Stall answers, so that a test sees the
	// runner act while the client learns nothing of it. With Apply and no
	// Status, the normal status and reply are the ones cut short or
	// stalled. Without Apply, a failing fault changes nothing.
	Apply bool
}

// fails reports whether f answers instead of the normal reply.
func (f *Fault) fails() bool { return f.Status != 0 || f.Drop || f.Truncate || f.Stall }

// meets reports whether r meets f.
func (f *Fault) meets(r Request) bool {
	return (f.Method == "" || f.Method == r.Method) &&
		(f.Action == "" || f.Action == r.Action) &&
		strings.HasPrefix(r.Path, f.PathPrefix) &&
		(f.Match == nil || f.Match(r))
}

// Inject queues f. A request meets the first queued fault that matches it,
// and each fault is met by Times requests.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject(f)
}

// inject queues f. The caller holds mu.
func (s *Server) inject(f Fault) Fault {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Header != nil {
		f.Header = f.Header.Clone()
	}
	s.faults = append(s.faults, f)
	return f
}

// PendingFaults returns how many requests are still to meet a fault.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// nextFault takes one use of the first queued fault that r meets. The
// caller holds mu.
func (s *Server) nextFault(r Request) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if !f.meets(r) {
			continue
		}
		met := *f
		if f.Times--; f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return met, true
	}
	return Fault{}, false
}

// writeFault answers with f instead of the normal reply, or, for a fault
// with Apply, with the normal reply served made to fail as f says. It
// returns the status written, 0 for a drop.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, entry *Request, f Fault, served reply) int {
	if f.Drop {
		return s.answer(w, entry, reply{})
	}
	status, body := f.Status, []byte(f.Body)
	if status == 0 && f.Apply {
		status, body = served.status, served.body
	}
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 599 {
		status, body = http.StatusInternalServerError, fmt.Appendf(nil, "phlotest: Fault.Status %d is not an HTTP status", f.Status)
	}
	s.setStatus(entry, status)
	h := w.Header()
	for k, v := range f.Header {
		h[k] = v
	}
	if f.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		if json.Valid(body) {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", http.DetectContentType(body))
		}
	}
	if !f.Truncate && !f.Stall {
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(body)
		return status
	}
	// Promise more body than comes, so the client waits for the rest.
	h.Set("Content-Length", strconv.Itoa(len(body)+1024))
	w.WriteHeader(status)
	w.Write(body)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush() // else a hijack drops what is buffered
	}
	if f.Stall {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
	}
	closeConn(w)
	return status
}
