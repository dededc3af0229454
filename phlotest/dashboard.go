package phlotest

import _ "embed"

//go:embed dashboard.html
var dashboardHTML []byte

//go:embed openapi.json
var openAPIJSON []byte

// dashboard answers GET /__phlo/: the page that shows the model live.
func (s *Server) dashboard(*call) (any, error) {
	return rawBody{"text/html; charset=utf-8", dashboardHTML}, nil
}

// openAPI answers GET /__phlo/openapi.json.
func (s *Server) openAPI(*call) (any, error) {
	return rawBody{"application/json", openAPIJSON}, nil
}
