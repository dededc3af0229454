package phlotest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/phlogo/phlo"
)

// maxRequestBody bounds what the server reads of a request body.
const maxRequestBody = 1 << 20

// createdOnLayout is the runner's timestamp format.
const createdOnLayout = "2006-01-02 15:04:05.000000-07:00"

// runnerError is an error answer of the runner: a status and its text.
type runnerError struct {
	status int
	text   string
}

func (e *runnerError) Error() string { return e.text }

func fail(status int, text string) error { return &runnerError{status, text} }

var (
	errNotFound         = fail(http.StatusNotFound, "not found.")
	errMethod           = fail(http.StatusMethodNotAllowed, "method not allowed.")
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

// call is one request, decoded as far as the server needs.
type call struct {
	r      *http.Request
	segs   []string // the path's segments, each unescaped on its own
	body   []byte
	params map[string]any // a POST's JSON object
	action string
}

// ServeHTTP answers r as the runner would. The server answers on its own
// listener already; ServeHTTP lets the same fake runner, with the same state,
// be mounted on another server, such as one that speaks TLS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	c := &call{r: r, body: body}
	c.segs, _ = splitPath(r)
	decodeErr := c.decode()
	path, rawQuery, _ := strings.Cut(r.RequestURI, "?")

	s.mu.Lock()
	req := s.record(Request{Method: r.Method, Path: path, RawQuery: rawQuery, Header: r.Header.Clone(), Body: body, Action: c.action})
	fault, faulty := s.nextFault(req)
	s.mu.Unlock()

	if faulty {
		if !s.wait(r, fault.Delay) {
			// The client gave up or the server is closing: no reply at all,
			// rather than the empty 200 net/http would send.
			closeConn(w)
			return
		}
		if fault.Status != 0 || fault.Drop || fault.Truncate || fault.Stall {
			s.writeFault(w, r, fault)
			return
		}
	}

	var out any
	err := decodeErr
	switch {
	case readErr != nil:
		err = errBodyUnreadable
	case len(body) > maxRequestBody:
		err = errBodyTooLarge
	case !s.authorized(r):
		err = errUnauthorized
	case err == nil:
		out, err = s.route(c, req.Body)
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	var re *runnerError
	if errors.As(err, &re) {
		status, out = re.status, map[string]string{"api_id": newID(), "error": re.text}
	}
	writeJSON(w, status, out)
}

// decode reads a POST's JSON object and its action: from the body, else
// from the query, as one SDK sends it; a run's action is "run". An empty
// body is an empty object, as is the "{}" that SDK sends with "?action=";
// a run also takes "" and null, as Plivo's Node SDK sends with no payload.
func (c *call) decode() error {
	if c.r.Method != http.MethodPost {
		return nil
	}
	isRun := len(c.segs) == 5 && c.segs[1] == "account" && c.segs[3] == "phlo"
	c.params = map[string]any{}
	switch trimmed := bytes.TrimSpace(c.body); {
	case len(trimmed) == 0:
	case isRun && (string(trimmed) == `""` || string(trimmed) == "null"):
	default:
		if json.Unmarshal(trimmed, &c.params) != nil || c.params == nil {
			return errBadJSON
		}
	}
	if isRun {
		c.action = "run"
		return nil
	}
	a, ok := stringParam(c.params, "action")
	if !ok {
		return errBadAction
	}
	if a == "" {
		a = c.r.URL.Query().Get("action")
	}
	c.action = a
	return nil
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

func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Drop {
		closeConn(w)
		return
	}
	h := w.Header()
	for k, v := range f.Header {
		h[k] = v
	}
	if f.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if h.Get("Content-Type") == "" && f.Body != "" {
		if json.Valid([]byte(f.Body)) {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", http.DetectContentType([]byte(f.Body)))
		}
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case f.Truncate, f.Stall:
		// Promise more body than comes, so the client waits for the rest.
		h.Set("Content-Length", strconv.Itoa(len(f.Body)+1024))
		w.WriteHeader(status)
		io.WriteString(w, f.Body)
		if f.Stall {
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
		}
		closeConn(w)
	default:
		h.Set("Content-Length", strconv.Itoa(len(f.Body)))
		w.WriteHeader(status)
		io.WriteString(w, f.Body)
	}
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"api_id":"","error":"internal error."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data)
}

// route answers a request that met no fault; body is its recorded body.
func (s *Server) route(c *call, body []byte) (any, error) {
	segs, method := c.segs, c.r.Method
	if len(segs) < 3 || segs[0] != "v1" {
		return nil, errNotFound
	}
	only := func(want string) error {
		if method != want {
			return errMethod
		}
		return nil
	}
	switch {
	case len(segs) == 3 && segs[1] == "phlo":
		if err := only(http.MethodGet); err != nil {
			return nil, err
		}
		return s.getPhlo(segs[2])
	case len(segs) == 5 && segs[1] == "account" && segs[3] == "phlo":
		if err := only(http.MethodPost); err != nil {
			return nil, err
		}
		return s.run(segs[2], segs[4], body)
	case len(segs) == 5 && segs[1] == "phlo" && segs[3] == "runs":
		if err := only(http.MethodGet); err != nil {
			return nil, err
		}
		return s.getRun(segs[2], segs[4])
	case len(segs) == 5 && segs[1] == "phlo" && segs[3] == "multi_party_call":
		switch method {
		case http.MethodGet:
			return s.getNode(segs[2], segs[4])
		case http.MethodPost:
			return s.callAction(segs[2], segs[4], c)
		}
		return nil, errMethod
	case len(segs) == 7 && segs[1] == "phlo" && segs[3] == "multi_party_call" && segs[5] == "members":
		if err := only(http.MethodPost); err != nil {
			return nil, err
		}
		return s.memberAction(segs[2], segs[4], segs[6], c.action)
	case len(segs) == 5 && segs[1] == "phlo" && segs[3] == "conference_bridge":
		if err := only(http.MethodGet); err != nil {
			return nil, err
		}
		return s.getBridge(segs[2], segs[4])
	case len(segs) == 7 && segs[1] == "phlo" && segs[3] == "conference_bridge" && segs[5] == "members":
		if err := only(http.MethodPost); err != nil {
			return nil, err
		}
		return s.bridgeMemberAction(segs[2], segs[4], segs[6], c.action)
	}
	return nil, errNotFound
}

func (s *Server) authorized(r *http.Request) bool {
	id, token, ok := r.BasicAuth()
	return ok &&
		subtle.ConstantTimeCompare([]byte(id), []byte(s.AuthID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(token), []byte(s.AuthToken)) == 1
}

// splitPath unescapes each segment of the request path on its own, so that
// an escaped '/' stays inside its segment. One trailing slash is allowed.
func splitPath(r *http.Request) ([]string, bool) {
	p := r.URL.EscapedPath()
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, seg := range raw {
		v, err := url.PathUnescape(seg)
		if err != nil || v == "" {
			return nil, false
		}
		segs[i] = v
	}
	return segs, true
}

func (s *Server) getPhlo(phloID string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	if p == nil {
		return nil, errPhloNotFound
	}
	return map[string]string{
		"api_id":     newID(),
		"phlo_id":    phloID,
		"name":       p.name,
		"created_on": p.createdOn.UTC().Format(createdOnLayout),
	}, nil
}

// found returns n, the node a path names in the PHLO p, or says which of the
// two is unknown.
func found[M addressed](p *phloState, n *node[M]) (*node[M], error) {
	switch {
	case p == nil:
		return nil, errPhloNotFound
	case n == nil:
		return nil, errNodeNotFound
	}
	return n, nil
}

func (s *Server) getNode(phloID, nodeID string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	n, err := found(p, p.call(nodeID))
	if err != nil {
		return nil, err
	}
	return nodeInfo(phloID, nodeID, "multi_party_call", n.name, n.createdOn), nil
}

// nodeInfo is the reply to reading a node.
func nodeInfo(phloID, nodeID, nodeType, name string, createdOn time.Time) any {
	return map[string]string{
		"api_id":     newID(),
		"node_id":    nodeID,
		"phlo_id":    phloID,
		"name":       name,
		"node_type":  nodeType,
		"created_on": createdOn.UTC().Format(createdOnLayout),
	}
}

func (s *Server) run(authID, phloID string, body []byte) (any, error) {
	if authID != s.AuthID {
		return nil, errAccountNotFound
	}
	payload := json.RawMessage(`{}`)
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
		payload = body // the recorded body: kept once
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phlos[phloID] == nil {
		return nil, errPhloNotFound
	}
	run := Run{PhloID: phloID, RunID: newID(), Payload: payload}
	if len(s.runs) == MaxRuns {
		s.runs = append(s.runs[:0], s.runs[1:]...)
	}
	s.runs = append(s.runs, run)
	return map[string]string{
		"api_id":      run.RunID,
		"phlo_id":     phloID,
		"phlo_run_id": run.RunID,
		"message":     "PHLO run initiated.",
	}, nil
}

func (s *Server) getRun(phloID, runID string) (any, error) {
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

func (s *Server) callAction(phloID, nodeID string, c *call) (any, error) {
	switch c.action {
	case "":
		return nil, errNoAction
	case "call", "warm_transfer", "cold_transfer":
	default:
		return nil, errBadAction
	}
	var values [3]string
	for i, name := range []string{"trigger_source", "to", "role"} {
		v, ok := stringParam(c.params, name)
		if !ok {
			return nil, fail(http.StatusBadRequest, "Invalid value provided for "+name+".")
		}
		if v == "" && name != "role" {
			return nil, fail(http.StatusBadRequest, name+" is a mandatory param.")
		}
		values[i] = v
	}
	trigger, to, role := values[0], values[1], phlo.Role(values[2])
	switch role {
	case "":
		role = phlo.RoleAgent
	case phlo.RoleAgent, phlo.RoleCustomer, phlo.RoleSupervisor:
	default:
		return nil, fail(http.StatusBadRequest, "Invalid value provided for role.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	n, err := found(p, p.call(nodeID))
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
	n.members = append(n.members, &MemberState{Address: to, Role: role})
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

func (s *Server) memberAction(phloID, nodeID, address, action string) (any, error) {
	switch action {
	case "":
		return nil, errNoAction
	case "hold", "unhold", "hangup", "resume_call", "voicemail_drop", "abort_transfer":
	default:
		return nil, errBadAction
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	n, err := found(p, p.call(nodeID))
	if err != nil {
		return nil, err
	}
	m := n.member(address)
	if m == nil {
		return nil, errMemberNotFound
	}
	switch action {
	case "hold":
		m.OnHold = true
	case "unhold":
		m.OnHold = false
	case "hangup", "voicemail_drop":
		hangUp(n, address)
	case "resume_call", "abort_transfer":
		if m.TransferringTo == "" {
			return nil, errNoTransfer
		}
		if action == "abort_transfer" {
			hangUp(n, m.TransferringTo)
		}
		m.TransferringTo = ""
	}
	return actionOK(), nil
}

func (s *Server) getBridge(phloID, nodeID string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	b, err := found(p, p.bridge(nodeID))
	if err != nil {
		return nil, err
	}
	return nodeInfo(phloID, nodeID, "conference_bridge", b.name, b.createdOn), nil
}

func (s *Server) bridgeMemberAction(phloID, nodeID, address, action string) (any, error) {
	switch action {
	case "":
		return nil, errNoAction
	case "mute", "unmute", "hangup":
	default:
		return nil, errBadAction
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	b, err := found(p, p.bridge(nodeID))
	if err != nil {
		return nil, err
	}
	m := b.member(address)
	if m == nil {
		return nil, errMemberNotFound
	}
	switch action {
	case "mute":
		m.Muted = true
	case "unmute":
		m.Muted = false
	case "hangup":
		b.remove(address)
	}
	return actionOK(), nil
}
