package phlotest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
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

// reply is an answer to write: a status and a JSON body.
type reply struct {
	status int
	body   any
}

func errorReply(status int, text string) reply {
	return reply{status, map[string]string{"api_id": newID(), "error": text}}
}

// ServeHTTP answers r as the runner would. The server answers on its own
// listener already; ServeHTTP lets the same fake runner, with the same state,
// be mounted on another server, such as one that speaks TLS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	path, rawQuery, _ := strings.Cut(r.RequestURI, "?")

	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method:   r.Method,
		Path:     path,
		RawQuery: rawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	})
	fault, faulty := s.nextFault()
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

	var rep reply
	switch {
	case err != nil:
		rep = errorReply(http.StatusBadRequest, "could not read the request body.")
	case len(body) > maxRequestBody:
		rep = errorReply(http.StatusRequestEntityTooLarge, "request body too large.")
	default:
		rep = s.route(r, body)
	}
	writeJSON(w, rep)
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

func writeJSON(w http.ResponseWriter, rep reply) {
	data, err := json.Marshal(rep.body)
	if err != nil {
		rep.status, data = http.StatusInternalServerError, []byte(`{"api_id":"","error":"internal error."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(rep.status)
	w.Write(data)
}

// route answers a request that met no fault.
func (s *Server) route(r *http.Request, body []byte) reply {
	if !s.authorized(r) {
		return errorReply(http.StatusUnauthorized, "authentication failed.")
	}
	segs, ok := splitPath(r)
	if !ok || len(segs) < 3 || segs[0] != "v1" {
		return errorReply(http.StatusNotFound, "not found.")
	}
	switch {
	case len(segs) == 3 && segs[1] == "phlo":
		return s.onlyGet(r, func() reply { return s.getPhlo(segs[2]) })
	case len(segs) == 5 && segs[1] == "account" && segs[3] == "phlo":
		return s.onlyPost(r, func() reply { return s.run(segs[2], segs[4], body) })
	case len(segs) == 5 && segs[1] == "phlo" && segs[3] == "runs":
		return s.onlyGet(r, func() reply { return s.getRun(segs[2], segs[4]) })
	case len(segs) == 5 && segs[1] == "phlo" && segs[3] == "multi_party_call":
		switch r.Method {
		case http.MethodGet:
			return s.getNode(segs[2], segs[4])
		case http.MethodPost:
			return s.callAction(segs[2], segs[4], r.URL.Query(), body)
		}
		return methodNotAllowed()
	case len(segs) == 7 && segs[1] == "phlo" && segs[3] == "multi_party_call" && segs[5] == "members":
		return s.onlyPost(r, func() reply { return s.memberAction(segs[2], segs[4], segs[6], r.URL.Query(), body) })
	}
	return errorReply(http.StatusNotFound, "not found.")
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

func methodNotAllowed() reply {
	return errorReply(http.StatusMethodNotAllowed, "method not allowed.")
}

func (s *Server) onlyGet(r *http.Request, f func() reply) reply {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	return f()
}

func (s *Server) onlyPost(r *http.Request, f func() reply) reply {
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	return f()
}

func (s *Server) getPhlo(phloID string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	if p == nil {
		return errorReply(http.StatusNotFound, "PHLO not found.")
	}
	return reply{http.StatusOK, map[string]string{
		"api_id":     newID(),
		"phlo_id":    phloID,
		"name":       p.name,
		"created_on": p.createdOn.UTC().Format(createdOnLayout),
	}}
}

// callNode finds a node, or says which of the PHLO and the node is
// unknown. The caller holds mu.
func (s *Server) callNode(phloID, nodeID string) (*nodeState, reply) {
	if s.phlos[phloID] == nil {
		return nil, errorReply(http.StatusNotFound, "PHLO not found.")
	}
	n := s.lookupNode(phloID, nodeID)
	if n == nil {
		return nil, errorReply(http.StatusNotFound, "node not found.")
	}
	return n, reply{}
}

func (s *Server) getNode(phloID, nodeID string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, missing := s.callNode(phloID, nodeID)
	if n == nil {
		return missing
	}
	return reply{http.StatusOK, map[string]string{
		"api_id":     newID(),
		"node_id":    nodeID,
		"phlo_id":    phloID,
		"name":       n.name,
		"node_type":  "multi_party_call",
		"created_on": n.createdOn.UTC().Format(createdOnLayout),
	}}
}

func (s *Server) run(authID, phloID string, body []byte) reply {
	if authID != s.AuthID {
		return errorReply(http.StatusNotFound, "account not found.")
	}
	payload := json.RawMessage(`{}`)
	if len(bytes.TrimSpace(body)) > 0 {
		var obj map[string]any
		if json.Unmarshal(body, &obj) != nil || obj == nil {
			return errorReply(http.StatusBadRequest, "invalid JSON body.")
		}
		payload = json.RawMessage(bytes.Clone(body))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phlos[phloID] == nil {
		return errorReply(http.StatusNotFound, "PHLO not found.")
	}
	runID := newID()
	s.runs[runID] = &runState{phloID: phloID, runID: runID, payload: payload}
	s.runOrder = append(s.runOrder, runID)
	return reply{http.StatusCreated, map[string]string{
		"api_id":      runID,
		"phlo_id":     phloID,
		"phlo_run_id": runID,
		"message":     "PHLO run initiated.",
	}}
}

func (s *Server) getRun(phloID, runID string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.runs[runID]
	if s.phlos[phloID] == nil || run == nil || run.phloID != phloID {
		return errorReply(http.StatusNotFound, "run not found.")
	}
	return reply{http.StatusOK, map[string]any{
		"api_id":        newID(),
		"phlo_id":       phloID,
		"run_id":        runID,
		"call_uuids":    []string{},
		"message_uuids": []string{},
		"recording_ids": []string{},
	}}
}

// params decodes an action's JSON object body. An empty body is an empty
// object, as is the "{}" that one SDK sends with "?action=" in the query.
func params(body []byte) (map[string]any, bool) {
	obj := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return obj, true
	}
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return nil, false
	}
	return obj, true
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

// actionParams decodes an action's body and reads the action from it, or
// from the query when the body has none.
func actionParams(body []byte, q url.Values) (map[string]any, string, reply, bool) {
	obj, ok := params(body)
	if !ok {
		return nil, "", errorReply(http.StatusBadRequest, "invalid JSON body."), false
	}
	a, ok := stringParam(obj, "action")
	if !ok {
		return nil, "", errorReply(http.StatusBadRequest, "Invalid value provided for action."), false
	}
	if a == "" {
		a = q.Get("action")
	}
	if a == "" {
		return nil, "", errorReply(http.StatusBadRequest, "action is a mandatory param."), false
	}
	return obj, a, reply{}, true
}

func (s *Server) callAction(phloID, nodeID string, q url.Values, body []byte) reply {
	obj, act, rep, ok := actionParams(body, q)
	if !ok {
		return rep
	}
	switch act {
	case "call", "warm_transfer", "cold_transfer":
	default:
		return errorReply(http.StatusBadRequest, "Invalid value provided for action.")
	}
	var values [3]string
	for i, name := range []string{"trigger_source", "to", "role"} {
		v, ok := stringParam(obj, name)
		if !ok {
			return errorReply(http.StatusBadRequest, "Invalid value provided for "+name+".")
		}
		if v == "" && name != "role" {
			return errorReply(http.StatusBadRequest, name+" is a mandatory param.")
		}
		values[i] = v
	}
	trigger, to, role := values[0], values[1], phlo.Role(values[2])
	switch role {
	case "":
		role = phlo.RoleAgent
	case phlo.RoleAgent, phlo.RoleCustomer, phlo.RoleSupervisor:
	default:
		return errorReply(http.StatusBadRequest, "Invalid value provided for role.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, missing := s.callNode(phloID, nodeID)
	if n == nil {
		return missing
	}
	initiator := n.member(trigger)
	switch {
	case initiator == nil:
		return errorReply(http.StatusBadRequest, "trigger_source is not a member of the call.")
	case n.member(to) != nil:
		return errorReply(http.StatusBadRequest, "to is already a member of the call.")
	case act != "call" && initiator.TransferringTo != "":
		return errorReply(http.StatusBadRequest, "a transfer is already in progress.")
	}
	n.members = append(n.members, &MemberState{Address: to, Role: role})
	switch act {
	case "warm_transfer":
		initiator.TransferringTo = to
	case "cold_transfer":
		n.remove(trigger)
	}
	return actionOK()
}

func actionOK() reply {
	return reply{http.StatusCreated, map[string]string{"api_id": newID(), "error": ""}}
}

func (s *Server) memberAction(phloID, nodeID, address string, q url.Values, body []byte) reply {
	_, act, rep, ok := actionParams(body, q)
	if !ok {
		return rep
	}
	switch act {
	case "hold", "unhold", "hangup", "resume_call", "voicemail_drop", "abort_transfer":
	default:
		return errorReply(http.StatusBadRequest, "Invalid value provided for action.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, missing := s.callNode(phloID, nodeID)
	if n == nil {
		return missing
	}
	m := n.member(address)
	if m == nil {
		return errorReply(http.StatusNotFound, "member not found.")
	}
	switch act {
	case "hold":
		m.OnHold = true
	case "unhold":
		m.OnHold = false
	case "hangup", "voicemail_drop":
		n.remove(address)
	case "resume_call", "abort_transfer":
		if m.TransferringTo == "" {
			return errorReply(http.StatusBadRequest, "no transfer is in progress.")
		}
		if act == "abort_transfer" {
			n.remove(m.TransferringTo)
		}
		m.TransferringTo = ""
	}
	return actionOK()
}
