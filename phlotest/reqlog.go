package phlotest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Bounds of a request log line's parts.
const (
	maxLoggedPath = 256
	maxLoggedWord = 32
)

// lineWriter writes whole lines to w, one at a time.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// logRequest writes the line WithRequestLog promises for a runner request.
func (s *Server) logRequest(r *http.Request, action string, status int, took time.Duration) {
	if s.requestLog == nil {
		return
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	line := fmt.Sprintf("%s %s action=%s status=%d duration=%s\n",
		logSafe(r.Method, maxLoggedWord), logSafe(path, maxLoggedPath),
		logSafe(action, maxLoggedWord), status, took.Round(time.Microsecond))
	s.requestLog.mu.Lock()
	defer s.requestLog.mu.Unlock()
	io.WriteString(s.requestLog.w, line)
}

// logSafe returns v cut at n bytes (marked with "..."), with every byte
// that is not printable ASCII, a space or '%' escaped as %XX, so that a line
// stays one line of fields split by spaces; "-" if v is empty.
func logSafe(v string, n int) string {
	if v == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < n; i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == '%' && !isEscape(v[i:]) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	if b.Len() >= n {
		return b.String() + "..."
	}
	return b.String()
}

// isEscape reports whether v starts with a %XX escape, kept as it is.
func isEscape(v string) bool {
	return len(v) >= 3 && isHex(v[1]) && isHex(v[2])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
