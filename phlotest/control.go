package phlotest

import (
	"net/http"
	"strings"
)

// controlPrefix is where the control API lives, beside the runner's paths.
const controlPrefix = "/__phlo"

// isControl reports whether r is for the control API.
func isControl(r *http.Request) bool {
	p := r.URL.EscapedPath()
	return p == controlPrefix || strings.HasPrefix(p, controlPrefix+"/")
}

// serveControl answers a control request.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	writeReply(w, jsonReply(http.StatusNotFound, map[string]string{"error": "not found"}))
}
