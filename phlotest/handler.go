package phlotest

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phlogo/phlo"
)

// maxRequestBody bounds what the server reads of a runner request body.
const maxRequestBody = 1 << 20

// createdOnLayout is the runner's timestamp format.
const createdOnLayout = "2006-01-02 15:04:05.000000-07:00"

// httpError is an error answer: a status and its text, and for a 405 the
// methods the path takes.
type httpError struct {
	status int
	text   string
	allow  []string
}

func (e *httpError) Error() string { return e.text }

func fail(status int, text string) error { return &httpError{status: status, text: text} }

var (
	errNotFound         = fail(http.StatusNotFound, "not found.")
	errBadJSON          = fail(http.StatusBadRequest, "invalid JSON body.")
	errBadAction        = fail(http.StatusBadRequest, "Invalid value provided for action.")
	errNoAction         = fail(http.StatusBadRequest, "action is a mandatory param.")
	errPhloNotFound     = fail(http.StatusNotFound, "PHLO not found.")
	errNodeNotFound     = fail(http.StatusNotFound, "node not found.")
	errMemberNotFound   = fail(http.StatusNotFound, "member not found.")
	errNoTransfer       = fail(http.StatusBadRequest, "no transfer is in progress.")
	errUnauthorized     = fail(http.StatusUnauthorized, "authentication failed.")
	errBodyTooLarge     = fail(http.StatusRequestEntityTooLarge, "request body too large.")
	errBodyUnreadable   = fail(http.StatusBadRequest, "could not read the request body.")
	errAccountNotFound  = fail(http.StatusNotFound, "account not found.")
	errRunNotFound      = fail(http.StatusNotFound, "run not found.")
	errTriggerNotMember = fail(http.StatusBadRequest, "trigger_source is not a member of the call.")
	errToIsMember       = fail(http.StatusBadRequest, "to is already a member of the call.")
	errTransferring     = fail(http.StatusBadRequest, "a transfer is already in progress.")
)

// errMethod is a 405 naming the methods the path takes.
func errMethod(allow []string) error {
	return &httpError{status: http.StatusMethodNotAllowed, text: "method not allowed.", allow: allow}
}

// call is one request, decoded as far as the server needs.
type call struct {
	r      *http.Request
	route  *route
	params params
	body   []byte         // as recorded: cut at MaxRecordedBody
	json   map[string]any // a POST's JSON object
	action string
	err    error // why the request cannot be served, found while decoding it
}

// param returns the path parameter name.
func (c *call) param(name string) string { return c.params[name] }

// reply is an answer before it is written.
type reply struct {
	status      int
	allow       []string
	contentType string // application/json when empty
	body        []byte
}

// ServeHTTP answers r as the runner would, or, under /__phlo/, as the
// control API does. The server answers on its own listener already;
// ServeHTTP lets the same fake runner, with the same state, be mounted on
// another server, such as one that speaks TLS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isControl(r) {
		s.serveControl(w, r)
		return
	}
	start := time.Now()
	c := &call{r: r}
	status := s.serveRunner(w, c)
	s.logRequest(r, c.action, status, time.Since(start))
}

// serveRunner answers a runner request and returns the status it answered
// with, 0 when it dropped the connection. Credentials and size are checked
// before anything of the request is kept.
func (s *Server) serveRunner(w http.ResponseWriter, c *call) int {
	if !s.authorized(c.r) {
		return writeReply(w, runnerErrorReply(errUnauthorized))
	}
	body, err := readBody(c.r, maxRequestBody)
	switch {
	case err != nil:
		return writeReply(w, runnerErrorReply(errBodyUnreadable))
	case len(body) > maxRequestBody:
		return writeReply(w, runnerErrorReply(errBodyTooLarge))
	}
	c.decode(body)

	s.mu.Lock()
	entry := s.journal.add(c.r, c.action, body)
	c.body = entry.Body
	fault, faulty := s.nextFault(*entry)
	s.mu.Unlock()

	if !faulty {
		return s.answer(w, entry, s.serve(c))
	}
	if !s.wait(c.r, fault.Delay) {
		// The client gave up or the server is closing: no reply at all,
		// rather than the empty 200 net/http would send.
		return s.answer(w, entry, reply{})
	}
	if !fault.fails() {
		return s.answer(w, entry, s.serve(c))
	}
	var served reply
	if fault.Apply {
		served = s.serve(c)
	}
	return s.writeFault(w, c.r, entry, fault, served)
}

// readBody reads r's body, up to limit bytes and one more to tell a body
// that is too long, in one allocation when the request says its length.
func readBody(r *http.Request, limit int) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), int64(limit))+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, int64(limit)+1))
	return buf.Bytes(), err
}

// decode finds the route and reads the body as the route says: a runner
// action from the JSON object, else from the query, as one SDK sends it;
// a run's action is "run". An empty body is an empty object, as is the "{}"
// that SDK sends with "?action="; a run also takes "" and null, as Plivo's
// Node SDK sends with no payload.
func (c *call) decode(body []byte) {
	rt, p, allow := match(runnerRoutes, c.r.Method, splitPath(c.r))
	c.route, c.params = rt, p
	switch {
	case rt == nil && allow != nil:
		c.err = errMethod(allow)
		return
	case rt == nil:
		c.err = errNotFound
		return
	case rt.body == bodyNone:
		return
	}
	trimmed := bytes.TrimSpace(body)
	if rt.body == bodyRun {
		// A payload is kept, never read: checked, not decoded.
		c.action = "run"
		switch {
		case len(trimmed) == 0, string(trimmed) == `""`, string(trimmed) == "null":
		case trimmed[0] != '{' || !json.Valid(trimmed):
			c.err = errBadJSON
		}
		return
	}
	c.json = map[string]any{}
	if len(trimmed) > 0 && (json.Unmarshal(trimmed, &c.json) != nil || c.json == nil) {
		c.err = errBadJSON
		return
	}
	a, ok := stringParam(c.json, "action")
	if !ok {
		c.err = errBadAction
		return
	}
	if a == "" {
		a = c.r.URL.Query().Get("action")
	}
	c.action = a
}

// serve performs the request on the model and builds its reply.
func (s *Server) serve(c *call) reply {
	if c.err != nil {
		return runnerErrorReply(c.err)
	}
	out, err := c.route.serve(s, c)
	if err != nil {
		return runnerErrorReply(err)
	}
	return jsonReply(c.route.status, out)
}

// answer writes rp and keeps its status in entry; a reply with no status
// drops the connection.
func (s *Server) answer(w http.ResponseWriter, entry *Request, rp reply) int {
	s.setStatus(entry, rp.status)
	if rp.status == 0 {
		closeConn(w)
		return 0
	}
	return writeReply(w, rp)
}

// runnerErrorReply is the runner's error answer: {"api_id", "error"}.
func runnerErrorReply(err error) reply {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusInternalServerError, text: "internal error."}
	}
	rp := jsonReply(he.status, map[string]string{"api_id": newID(), "error": he.text})
	rp.allow = he.allow
	return rp
}

// jsonReply is a reply carrying v as JSON.
func jsonReply(status int, v any) reply {
	data, err := json.Marshal(v)
	if err != nil {
		return reply{status: http.StatusInternalServerError, body: []byte(`{"error":"internal error."}`)}
	}
	return reply{status: status, body: data}
}

// writeReply writes a JSON reply and returns its status.
func writeReply(w http.ResponseWriter, rp reply) int {
	h := w.Header()
	if rp.allow != nil {
		h.Set("Allow", strings.Join(rp.allow, ", "))
	}
	if rp.body != nil {
		h.Set("Content-Type", cmp.Or(rp.contentType, "application/json"))
	}
	h.Set("Content-Length", strconv.Itoa(len(rp.body)))
	w.WriteHeader(rp.status)
	w.Write(rp.body)
	return rp.status
}

// wait sleeps for d unless the client gives up or the server closes first;
// it reports whether the wait ran its course.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}

// closeConn ends the connection under w without a proper end of reply.
// Whatever was written is flushed first.
func closeConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http's own way to abort a reply it cannot hijack
}

func (s *Server) authorized(r *http.Request) bool {
	id, token, ok := r.BasicAuth()
	return ok &&
		subtle.ConstantTimeCompare([]byte(id), []byte(s.authID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(token), []byte(s.authToken)) == 1
}

func (s *Server) getPhlo(c *call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[c.param("phlo")]
	if p == nil {
		return nil, errPhloNotFound
	}
	return map[string]string{
		"api_id":     newID(),
		"phlo_id":    c.param("phlo"),
		"name":       p.name,
		"created_on": p.createdOn.UTC().Format(createdOnLayout),
	}, nil
}

func (s *Server) run(c *call) (any, error) {
	if c.param("auth_id") != s.authID {
		return nil, errAccountNotFound
	}
	payload := json.RawMessage(`{}`)
	if trimmed := bytes.TrimSpace(c.body); len(trimmed) > 0 && trimmed[0] == '{' {
		payload = c.body // the recorded body: kept once
	}
	phloID := c.param("phlo")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phlos[phloID] == nil {
		return nil, errPhloNotFound
	}
	run := Run{PhloID: phloID, RunID: newID(), Payload: payload}
	s.addRun(run)
	return map[string]string{
		"api_id":      run.RunID,
		"phlo_id":     phloID,
		"phlo_run_id": run.RunID,
		"message":     "PHLO run initiated.",
	}, nil
}

func (s *Server) getRun(c *call) (any, error) {
	phloID, runID := c.param("phlo"), c.param("run")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, run := range s.runs {
		if run.RunID == runID && run.PhloID == phloID && s.phlos[phloID] != nil {
			return map[string]any{
				"api_id":        newID(),
				"phlo_id":       phloID,
				"run_id":        runID,
				"call_uuids":    []string{},
				"message_uuids": []string{},
				"recording_ids": []string{},
			}, nil
		}
	}
	return nil, errRunNotFound
}

// stringParam reads a string parameter; a present value of another type is
// invalid.
func stringParam(obj map[string]any, name string) (string, bool) {
	v, present := obj[name]
	if !present || v == nil {
		return "", true
	}
	str, ok := v.(string)
	return str, ok
}

// callParams reads a call action's parameters as the runner checks them.
func callParams(obj map[string]any) (trigger, to string, role phlo.Role, err error) {
	var values [3]string
	for i, name := range []string{"trigger_source", "to", "role"} {
		v, ok := stringParam(obj, name)
		if !ok {
			return "", "", "", fail(http.StatusBadRequest, "Invalid value provided for "+name+".")
		}
		if v == "" && name != "role" {
			return "", "", "", fail(http.StatusBadRequest, name+" is a mandatory param.")
		}
		values[i] = v
	}
	role = phlo.Role(values[2])
	switch {
	case role == "":
		role = phlo.RoleAgent
	case !validRole(role):
		return "", "", "", fail(http.StatusBadRequest, "Invalid value provided for role.")
	}
	return values[0], values[1], role, nil
}

func (s *Server) callAction(c *call) (any, error) {
	switch c.action {
	case "":
		return nil, errNoAction
	case "call", "warm_transfer", "cold_transfer":
	default:
		return nil, errBadAction
	}
	trigger, to, role, err := callParams(c.json)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := calls.lookup(s, c.param("phlo"), c.param("node"))
	if err != nil {
		return nil, err
	}
	initiator := n.member(trigger)
	switch {
	case initiator == nil:
		return nil, errTriggerNotMember
	case n.member(to) != nil:
		return nil, errToIsMember
	case c.action != "call" && initiator.TransferringTo != "":
		return nil, errTransferring
	}
	if err := roomFor(s, n.size(), to); err != nil {
		return nil, err
	}
	n.add(MemberState{Address: to, Role: role})
	switch c.action {
	case "warm_transfer":
		initiator.TransferringTo = to
	case "cold_transfer":
		hangUp(n, trigger)
	}
	return actionOK(), nil
}

func actionOK() any {
	return map[string]string{"api_id": newID(), "error": ""}
}
