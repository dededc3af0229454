package phlotest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxFaultWait bounds a fault's delay_ms and retry_after given through the
// control API: a day, more than any test waits.
const maxFaultWait = 24 * time.Hour

// faultJSON is a [Fault] as the control API takes and shows it.
type faultJSON struct {
	Status     int               `json:"status"`
	Times      int               `json:"times"`
	Body       string            `json:"body"`
	Header     map[string]string `json:"header"`
	RetryAfter int64             `json:"retry_after"`
	DelayMS    int64             `json:"delay_ms"`
	Drop       bool              `json:"drop"`
	Truncate   bool              `json:"truncate"`
	Stall      bool              `json:"stall"`
	Apply      bool              `json:"apply"`
	Method     string            `json:"method"`
	Action     string            `json:"action"`
	PathPrefix string            `json:"path_prefix"`
}

// toJSON shows f as GET /__phlo/faults does: Times is the uses left.
func (f *Fault) toJSON() faultJSON {
	header := map[string]string{}
	for k, vs := range f.Header {
		header[k] = strings.Join(vs, ", ")
	}
	return faultJSON{
		Status: f.Status, Times: f.Times, Body: f.Body, Header: header,
		RetryAfter: int64((f.RetryAfter + time.Second - 1) / time.Second),
		DelayMS:    f.Delay.Milliseconds(),
		Drop:       f.Drop, Truncate: f.Truncate, Stall: f.Stall, Apply: f.Apply,
		Method: f.Method, Action: f.Action, PathPrefix: f.PathPrefix,
	}
}

// fault checks j and returns the Fault it says, or a 400 naming the field.
func (j faultJSON) fault() (Fault, error) {
	switch {
	case j.Status != 0 && (j.Status < 100 || j.Status > 599):
		return Fault{}, badRequest("status", fmt.Sprintf("%d is not between 100 and 599", j.Status))
	case j.Times < 0:
		return Fault{}, badRequest("times", "must not be negative")
	case j.RetryAfter < 0:
		return Fault{}, badRequest("retry_after", "must not be negative")
	case j.RetryAfter > int64(maxFaultWait/time.Second):
		return Fault{}, badRequest("retry_after", fmt.Sprintf("at most %d seconds", int64(maxFaultWait/time.Second)))
	case j.DelayMS < 0:
		return Fault{}, badRequest("delay_ms", "must not be negative")
	case j.DelayMS > maxFaultWait.Milliseconds():
		return Fault{}, badRequest("delay_ms", fmt.Sprintf("at most %d", maxFaultWait.Milliseconds()))
	}
	f := Fault{
		Status: j.Status, Times: j.Times, Body: j.Body,
		RetryAfter: time.Duration(j.RetryAfter) * time.Second,
		Delay:      time.Duration(j.DelayMS) * time.Millisecond,
		Drop:       j.Drop, Truncate: j.Truncate, Stall: j.Stall, Apply: j.Apply,
		Method: j.Method, Action: j.Action, PathPrefix: j.PathPrefix,
	}
	for name, value := range j.Header {
		if !validHeaderName(name) {
			return Fault{}, badRequest("header", fmt.Sprintf("%q is not a header name", name))
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return Fault{}, badRequest("header."+name, "a header value cannot hold CR, LF or NUL")
		}
		if f.Header == nil {
			f.Header = http.Header{}
		}
		f.Header.Set(name, value)
	}
	if !f.fails() && f.Delay == 0 {
		// It would be used up by a request it leaves as it was, and hide
		// a mistyped field from the test that sent it.
		return Fault{}, badRequest("status", "a fault must set status, drop, truncate, stall or delay_ms")
	}
	return f, nil
}

// validHeaderName reports whether name is an HTTP token.
func validHeaderName(name string) bool {
	return name != "" && !strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
}

func (s *Server) postFault(c *call) (any, error) {
	var j faultJSON
	if err := decodeStrict(c.body, &j); err != nil {
		return nil, err
	}
	f, err := j.fault()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) >= MaxFaults {
		return nil, errCap("MaxFaults", MaxFaults, "as many faults are pending as may be")
	}
	f = s.inject(f)
	return f.toJSON(), nil
}

func (s *Server) getFaults(*call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]faultJSON, len(s.faults))
	for i := range s.faults {
		out[i] = s.faults[i].toJSON()
	}
	return out, nil
}

func (s *Server) deleteFaults(*call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = slices.Delete(s.faults, 0, len(s.faults))
	return nil, nil
}
