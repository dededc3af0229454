package phlotest

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// dashboardHTML is the live dashboard served at GET /__phlo/: one page
// whose style and script are inline, so that it loads nothing else and
// works offline.
//
//go:embed dashboard.html
var dashboardHTML []byte

//go:embed openapi.json
var openAPIJSON []byte

// dashboardHeader lets the page run its own inline style and script, found
// by their hashes, and talk to its own origin, and nothing else: no other
// script, no frame around it, no form posted away from it.
var dashboardHeader = http.Header{
	"Content-Security-Policy": {"default-src 'none'; " +
		"script-src " + inlineHashes(dashboardHTML, "script") + "; " +
		"style-src " + inlineHashes(dashboardHTML, "style") + "; " +
		"connect-src 'self'; img-src data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	"X-Content-Type-Options": {"nosniff"},
	"Referrer-Policy":        {"no-referrer"},
	"Cache-Control":          {"no-store"},
}

// inlineHashes returns the CSP sources naming the content of each <tag>
// element in page, written without attributes, by its SHA-256, as a
// browser hashes it.
func inlineHashes(page []byte, tag string) string {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	var sources []string
	for {
		_, rest, ok := bytes.Cut(page, open)
		if !ok {
			return strings.Join(sources, " ")
		}
		var content []byte
		content, page, _ = bytes.Cut(rest, end)
		sum := sha256.Sum256(content)
		sources = append(sources, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
}

// dashboard answers GET /__phlo/: the page that shows the model live.
func (s *Server) dashboard(*call) (any, error) {
	return rawBody{contentType: "text/html; charset=utf-8", data: dashboardHTML, header: dashboardHeader}, nil
}

// openAPI answers GET /__phlo/openapi.json.
func (s *Server) openAPI(*call) (any, error) {
	return rawBody{contentType: "application/json", data: openAPIJSON}, nil
}
