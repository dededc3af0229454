package phlotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"strings"
)

// controlPrefix is where the control API lives, beside the runner's paths.
const controlPrefix = "/__phlo"

// MaxControlBody bounds a control request's body; a longer one is refused
// with 413.
const MaxControlBody = 64 << 10

// MaxFaults is how many faults may be pending at once through the control
// API; one more is refused with 409.
const MaxFaults = 100

// controlRoutes is the control API. Each path under /__phlo/phlo is the
// runner's own path for the same thing, so that a test edits the model
// where the runner reads it.
var controlRoutes = []route{
	newRoute("GET", "/__phlo", bodyNone, http.StatusOK, (*Server).dashboard),
	newRoute("GET", "/__phlo/health", bodyNone, http.StatusOK, (*Server).health),
	newRoute("GET", "/__phlo/openapi.json", bodyNone, http.StatusOK, (*Server).openAPI),
	newRoute("GET", "/__phlo/state", bodyNone, http.StatusOK, (*Server).getState),
	newRoute("POST", "/__phlo/reset", bodyNone, http.StatusNoContent, (*Server).reset),
	newRoute("GET", "/__phlo/requests", bodyNone, http.StatusOK, (*Server).getRequests),
	newRoute("DELETE", "/__phlo/requests", bodyNone, http.StatusNoContent, (*Server).deleteRequests),
	newRoute("POST", "/__phlo/faults", bodyJSON, http.StatusCreated, (*Server).postFault),
	newRoute("GET", "/__phlo/faults", bodyNone, http.StatusOK, (*Server).getFaults),
	newRoute("DELETE", "/__phlo/faults", bodyNone, http.StatusNoContent, (*Server).deleteFaults),
	newRoute("PUT", "/__phlo/phlo/{phlo}", bodyJSON, http.StatusOK, (*Server).putPhlo),
	newRoute("GET", "/__phlo/phlo/{phlo}", bodyNone, http.StatusOK, (*Server).getPhloState),
	newRoute("DELETE", "/__phlo/phlo/{phlo}", bodyNone, http.StatusNoContent, (*Server).deletePhlo),
	newRoute("PUT", "/__phlo/phlo/{phlo}/multi_party_call/{node}", bodyJSON, http.StatusOK, calls.putNode),
	newRoute("GET", "/__phlo/phlo/{phlo}/multi_party_call/{node}", bodyNone, http.StatusOK, calls.getNodeState),
	newRoute("DELETE", "/__phlo/phlo/{phlo}/multi_party_call/{node}", bodyNone, http.StatusNoContent, calls.deleteNode),
	newRoute("PUT", "/__phlo/phlo/{phlo}/multi_party_call/{node}/members/{member}", bodyJSON, http.StatusOK, calls.putMember),
	newRoute("GET", "/__phlo/phlo/{phlo}/multi_party_call/{node}/members/{member}", bodyNone, http.StatusOK, calls.getMember),
	newRoute("DELETE", "/__phlo/phlo/{phlo}/multi_party_call/{node}/members/{member}", bodyNone, http.StatusNoContent, calls.deleteMember),
	newRoute("PUT", "/__phlo/phlo/{phlo}/conference_bridge/{node}", bodyJSON, http.StatusOK, bridges.putNode),
	newRoute("GET", "/__phlo/phlo/{phlo}/conference_bridge/{node}", bodyNone, http.StatusOK, bridges.getNodeState),
	newRoute("DELETE", "/__phlo/phlo/{phlo}/conference_bridge/{node}", bodyNone, http.StatusNoContent, bridges.deleteNode),
	newRoute("PUT", "/__phlo/phlo/{phlo}/conference_bridge/{node}/members/{member}", bodyJSON, http.StatusOK, bridges.putMember),
	newRoute("GET", "/__phlo/phlo/{phlo}/conference_bridge/{node}/members/{member}", bodyNone, http.StatusOK, bridges.getMember),
	newRoute("DELETE", "/__phlo/phlo/{phlo}/conference_bridge/{node}/members/{member}", bodyNone, http.StatusNoContent, bridges.deleteMember),
}

// isControl reports whether r is for the control API.
func isControl(r *http.Request) bool {
	p := r.URL.EscapedPath()
	return p == controlPrefix || strings.HasPrefix(p, controlPrefix+"/")
}

// rawBody is a control reply that is not JSON: the dashboard, the OpenAPI
// description.
type rawBody struct {
	contentType string
	data        []byte
	header      http.Header // more reply headers, such as the dashboard's policy
}

// serveControl answers a control request. Every request but the health
// check needs the server's credentials; it is checked, then its body read
// within MaxControlBody, before anything else.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r)
	if !(r.Method == http.MethodGet && len(segs) == 2 && segs[1] == "health") && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="phlo"`)
		writeReply(w, controlErrorReply(fail(http.StatusUnauthorized, "the fake's credentials are needed (basic auth)")))
		return
	}
	body, err := readBody(r, MaxControlBody)
	switch {
	case err != nil:
		writeReply(w, controlErrorReply(fail(http.StatusBadRequest, "the request body could not be read")))
		return
	case len(body) > MaxControlBody:
		writeReply(w, controlErrorReply(fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("a control request body is at most MaxControlBody (%d bytes)", MaxControlBody))))
		return
	}
	rt, p, allow := match(controlRoutes, r.Method, segs)
	switch {
	case rt == nil && allow != nil:
		writeReply(w, controlErrorReply(errMethod(allow)))
		return
	case rt == nil:
		writeReply(w, controlErrorReply(fail(http.StatusNotFound, "no such control path: "+logSafe(r.URL.EscapedPath(), maxLoggedPath))))
		return
	}
	out, err := rt.serve(s, &call{r: r, route: rt, params: p, body: body})
	if err != nil {
		writeReply(w, controlErrorReply(err))
		return
	}
	s.writeControl(w, r, rt.status, out)
}

// writeControl writes a control reply: nothing for a 204, else out as JSON
// or as the raw body it is.
func (s *Server) writeControl(w http.ResponseWriter, r *http.Request, status int, out any) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if write, ok := out.(streamed); ok {
		writeStreamed(w, r, write)
		return
	}
	if raw, ok := out.(rawBody); ok {
		maps.Copy(w.Header(), raw.header)
		writeReply(w, reply{status: status, contentType: raw.contentType, body: raw.data})
		return
	}
	writeReply(w, jsonReply(status, out))
}

// controlErrorReply is the control API's error answer: {"error": ...}.
func controlErrorReply(err error) reply {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusInternalServerError, text: "internal error"}
	}
	rp := jsonReply(he.status, map[string]string{"error": he.text})
	rp.allow = he.allow
	return rp
}

// badRequest is a 400 naming the field at fault.
func badRequest(field, problem string) error {
	return fail(http.StatusBadRequest, field+": "+problem)
}

// decodeStrict reads a control body into v: empty is {}, an unknown field
// or a value of the wrong type is a 400 naming the field.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return badRequest(typeErr.Field, fmt.Sprintf("must be %s, not a JSON %s", jsonKind(typeErr.Type), typeErr.Value))
	case errors.As(err, &typeErr):
		return badRequest("body", "must be a JSON object")
	case errors.As(err, &syntaxErr):
		return badRequest("body", fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset))
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "unknown field")
	case err != nil:
		return badRequest("body", "invalid JSON")
	case dec.More():
		return badRequest("body", "more than one JSON value")
	}
	return nil
}

// jsonKind names the JSON value that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}

func (s *Server) health(*call) (any, error) {
	return map[string]string{"status": "ok"}, nil
}

func (s *Server) getState(c *call) (any, error) {
	release, err := s.bigReplyTurn(c.r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	st := s.snapshot()
	s.mu.Unlock()
	return streamedList(release, `{"phlos":`, st.Phlos, (*jsonWriter).phlo, "}"), nil
}

func (s *Server) reset(*call) (any, error) {
	s.Reset()
	return nil, nil
}

// requestJSON is a [Request] as GET /__phlo/requests shows it.
type requestJSON struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Action string `json:"action"`
	Body   string `json:"body"`
	Status int    `json:"status"`
}

func (s *Server) getRequests(c *call) (any, error) {
	action, filtered := c.r.URL.Query()["action"]
	release, err := s.bigReplyTurn(c.r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var kept []Request // entries never change but for Status, copied here
	for _, e := range s.journal.entries {
		if !filtered || e.Action == action[0] {
			kept = append(kept, *e)
		}
	}
	s.mu.Unlock()
	return streamedList(release, "", kept, func(j *jsonWriter, e Request) {
		j.value(requestJSON{e.Method, e.Path, e.RawQuery, e.Action, string(e.Body), e.Status})
	}, ""), nil
}

func (s *Server) deleteRequests(*call) (any, error) {
	s.ResetRequests()
	return nil, nil
}

// phloBody is the body of PUT on a PHLO or a node.
type phloBody struct {
	Name *string `json:"name"`
}

func (s *Server) putPhlo(c *call) (any, error) {
	var b phloBody
	if err := decodeStrict(c.body, &b); err != nil {
		return nil, err
	}
	phloID := c.param("phlo")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.roomForPhlo(phloID, b.Name); err != nil {
		return nil, err
	}
	p := s.phlo(phloID)
	if b.Name != nil {
		p.name = *b.Name
	}
	return s.phloState(phloID, p), nil
}

func (s *Server) getPhloState(c *call) (any, error) {
	release, err := s.bigReplyTurn(c.r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	p := s.phlos[c.param("phlo")]
	var ps PhloState
	if p != nil {
		ps = s.phloState(c.param("phlo"), p)
	}
	s.mu.Unlock()
	if p == nil {
		release()
		return nil, errNoPhlo
	}
	return streamed(func(_ context.Context, w *bufio.Writer) error {
		defer release()
		j := &jsonWriter{w: w}
		j.phlo(ps)
		return j.err
	}), nil
}

func (s *Server) deletePhlo(c *call) (any, error) {
	phloID := c.param("phlo")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.phlos[phloID]
	if p == nil {
		return nil, errNoPhlo
	}
	for _, n := range p.calls {
		s.memberCount -= len(n.members)
	}
	for _, n := range p.bridges {
		s.memberCount -= len(n.members)
	}
	delete(s.phlos, phloID)
	s.dropRuns(phloID)
	return nil, nil
}

var (
	errNoPhlo   = fail(http.StatusNotFound, "no such PHLO")
	errNoNode   = fail(http.StatusNotFound, "no such node")
	errNoMember = fail(http.StatusNotFound, "no such member")
)

// roomForPhlo reports whether the PHLO phloID exists or may be added, and
// name may be its name, or which cap it would pass. The caller holds mu.
func (s *Server) roomForPhlo(phloID string, name *string) error {
	switch {
	case name != nil && len(*name) > MaxNameBytes:
		return errCap("MaxNameBytes", MaxNameBytes, "the name is too long")
	case s.phlos[phloID] != nil:
		return nil
	case len(phloID) > MaxIDBytes:
		return errCap("MaxIDBytes", MaxIDBytes, "the PHLO ID is too long")
	case len(s.phlos) >= MaxPhlos:
		return errCap("MaxPhlos", MaxPhlos, "the server holds as many PHLOs as it may")
	}
	return nil
}
