package phlotest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// route is one row of a route table: a method and a path pattern, whose
// segments in braces are named parameters, and what answers them.
type route struct {
	method  string
	pattern []string
	// body says how a request body is read.
	body bodyKind
	// status is the status of a success.
	status int
	serve  func(*Server, *call) (any, error)
}

// bodyKind says how a route reads the request body.
type bodyKind int

const (
	bodyNone   bodyKind = iota // none is read
	bodyAction                 // a runner action: a JSON object with "action", or ?action=
	bodyRun                    // a PHLO run's payload
	bodyJSON                   // a control request's JSON object, strictly decoded
)

// newRoute makes a row from a pattern such as "/v1/phlo/{phlo}".
func newRoute(method, pattern string, body bodyKind, status int, serve func(*Server, *call) (any, error)) route {
	return route{method, strings.Split(strings.Trim(pattern, "/"), "/"), body, status, serve}
}

// params are a path's named parameters, each unescaped on its own.
type params map[string]string

// match finds the row for method and the path's segments. When the path
// matches rows of other methods only, it returns no row and their methods,
// for a 405's Allow header.
func match(table []route, method string, segs []string) (*route, params, []string) {
	var allow []string
	for i := range table {
		rt := &table[i]
		p, ok := rt.params(segs)
		switch {
		case !ok:
		case rt.method == method:
			return rt, p, nil
		case !slices.Contains(allow, rt.method):
			allow = append(allow, rt.method)
		}
	}
	return nil, nil, allow
}

// params returns the named parameters of segs, or false if the row's
// pattern does not match them.
func (rt *route) params(segs []string) (params, bool) {
	if len(segs) != len(rt.pattern) {
		return nil, false
	}
	var p params
	for i, want := range rt.pattern {
		if name, ok := strings.CutPrefix(want, "{"); ok {
			if p == nil {
				p = params{}
			}
			p[strings.TrimSuffix(name, "}")] = segs[i]
		} else if segs[i] != want {
			return nil, false
		}
	}
	return p, true
}

// splitPath unescapes each segment of the request path on its own, so that
// an escaped '/' stays inside its segment. One trailing slash is allowed.
// A path with an empty segment or a bad escape has no segments.
func splitPath(r *http.Request) []string {
	p := r.URL.EscapedPath()
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, seg := range raw {
		v, err := url.PathUnescape(seg)
		if err != nil || v == "" {
			return nil
		}
		segs[i] = v
	}
	return segs
}

// runnerRoutes is the runner API as the fake serves it.
var runnerRoutes = []route{
	newRoute("GET", "/v1/phlo/{phlo}", bodyNone, http.StatusOK, (*Server).getPhlo),
	newRoute("POST", "/v1/account/{auth_id}/phlo/{phlo}", bodyRun, http.StatusCreated, (*Server).run),
	newRoute("GET", "/v1/phlo/{phlo}/runs/{run}", bodyNone, http.StatusOK, (*Server).getRun),
	newRoute("GET", "/v1/phlo/{phlo}/multi_party_call/{node}", bodyNone, http.StatusOK, calls.getNode),
	newRoute("POST", "/v1/phlo/{phlo}/multi_party_call/{node}", bodyAction, http.StatusCreated, (*Server).callAction),
	newRoute("POST", "/v1/phlo/{phlo}/multi_party_call/{node}/members/{member}", bodyAction, http.StatusCreated, calls.memberAction),
	newRoute("GET", "/v1/phlo/{phlo}/conference_bridge/{node}", bodyNone, http.StatusOK, bridges.getNode),
	newRoute("POST", "/v1/phlo/{phlo}/conference_bridge/{node}/members/{member}", bodyAction, http.StatusCreated, bridges.memberAction),
}
