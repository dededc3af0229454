package phlotest

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Bounds of the request journal.
const (
	// MaxRequests is how many requests Requests keeps, the newest.
	MaxRequests = 10_000
	// MaxRecordedBytes bounds the memory of the requests kept: the
	// oldest are forgotten first, so that the newest fit.
	MaxRecordedBytes = 32 << 20
	// MaxRecordedBody is how much of a request body Requests keeps.
	MaxRecordedBody = 64 << 10
	// MaxRecordedHeader is how much of a request's headers Requests
	// keeps, names and values counted: whole headers, in the order of
	// their names, as many as fit.
	MaxRecordedHeader = 4 << 10
	// MaxRecordedPath is how much of a request's path, and of its query,
	// Requests keeps.
	MaxRecordedPath = 2 << 10
)

// maxRecordedWord bounds a recorded method and action: any longer is no
// method or action the runner knows.
const maxRecordedWord = 64

// entryOverhead is what one kept request costs beyond its bytes, roughly.
const entryOverhead = 256

// Request is one request as the server received it.
type Request struct {
	// Method is the request's method.
	Method string
	// Path is the path exactly as sent on the wire, escaped, cut at
	// MaxRecordedPath (2 KiB).
	Path string
	// RawQuery is the query string, without '?', cut at MaxRecordedPath.
	RawQuery string
	// Header holds the request's headers, cut at MaxRecordedHeader (4 KiB).
	Header http.Header
	// Body is the request body, cut at MaxRecordedBody (64 KiB).
	Body []byte
	// Action is what the request asks: the action of a call or member
	// action ("hold", "call", ...), "run" for a PHLO run, and empty for a
	// GET or a request the server cannot read.
	Action string
	// Status is the status the server answered with, a fault's included;
	// 0 when it dropped the connection, or while the answer is not decided.
	Status int
}

// journal keeps the newest requests within MaxRequests and
// MaxRecordedBytes, oldest first.
type journal struct {
	entries []*Request
	bytes   int
}

// add keeps a copy of r's request line, headers and body, each cut to its
// bound, forgetting the oldest requests as needed, and returns the entry.
func (j *journal) add(r *http.Request, action string, body []byte) *Request {
	path, query, _ := strings.Cut(r.RequestURI, "?")
	e := &Request{
		Method:   cut(r.Method, maxRecordedWord),
		Path:     cut(path, MaxRecordedPath),
		RawQuery: cut(query, MaxRecordedPath),
		Header:   cutHeader(r.Header),
		Body:     bytes.Clone(body[:min(len(body), MaxRecordedBody)]),
		Action:   cut(action, maxRecordedWord),
	}
	if e.Body == nil {
		e.Body = []byte{}
	}
	j.entries = append(j.entries, e)
	j.bytes += e.size()
	drop := 0
	for len(j.entries)-drop > MaxRequests || j.bytes > MaxRecordedBytes {
		j.bytes -= j.entries[drop].size()
		j.entries[drop] = nil
		drop++
	}
	j.entries = j.entries[drop:]
	return e
}

// size is what e costs against MaxRecordedBytes.
func (e *Request) size() int {
	n := entryOverhead + len(e.Method) + len(e.Path) + len(e.RawQuery) + len(e.Body) + len(e.Action)
	for k, vs := range e.Header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// all returns a copy of every entry, oldest first.
func (j *journal) all() []Request {
	out := make([]Request, len(j.entries))
	for i, e := range j.entries {
		out[i] = *e
		out[i].Header = e.Header.Clone()
		out[i].Body = slices.Clone(e.Body)
	}
	return out
}

// cut returns s cut at n bytes.
func cut(s string, n int) string {
	if len(s) > n {
		return strings.Clone(s[:n])
	}
	return s
}

// cutHeader copies whole header values, in the order of their names, as
// long as they fit in MaxRecordedHeader.
func cutHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	left := MaxRecordedHeader
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			if len(k)+len(v) > left {
				continue
			}
			left -= len(k) + len(v)
			out[k] = append(out[k], strings.Clone(v))
		}
	}
	return out
}

// Requests returns the requests received, oldest first, faults included:
// the newest MaxRequests (10,000) within MaxRecordedBytes (32 MiB), each
// cut as Request says. Requests refused for their credentials or their
// size are not kept, nor are requests to the control API.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.journal.all()
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.journal = journal{}
}

// setStatus keeps the status the server answered e with.
func (s *Server) setStatus(e *Request, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Status = status
}
