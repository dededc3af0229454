package phlotest

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// dashboardPage is the live dashboard served at GET /__phlo/: one page
// whose style and script are inline, so that it loads nothing else and
// works offline.
//
//go:embed dashboard.html
var dashboardPage []byte

// dashboardPolicy lets the page run its own inline style and script, found
// by their hashes, and talk to its own origin, and nothing else: no other
// script, no frame around it, no form posted away from it.
var dashboardPolicy = "default-src 'none'; " +
	"script-src " + inlineHashes(dashboardPage, "script") + "; " +
	"style-src " + inlineHashes(dashboardPage, "style") + "; " +
	"connect-src 'self'; img-src data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

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

// serveDashboard writes the dashboard page. The caller has checked the
// request's credentials.
func serveDashboard(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", dashboardPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(dashboardPage)
}
