package phlo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// An outcome says, for a failed attempt, whether the runner may have acted.
type outcome int

const (
	// answered: a status says what the runner did. A 5xx says that it may
	// have acted; the status is kept in the *APIError.
	answered outcome = iota
	// notSent: the request provably never reached the runner whole.
	notSent
	// mayHaveActed: the whole request may have reached the runner, and no
	// status came back.
	mayHaveActed
	// unreadable: a 2xx came back, cut short or not a valid reply. The
	// runner may have acted; it is never asked again.
	unreadable
)

// wire follows one attempt through net/http's client trace, so that a
// failure can be told apart afterwards: nothing written, or the whole
// request possibly delivered. The hooks run on the transport's goroutines,
// and an HTTP/2 stream may report its last write after RoundTrip returned,
// hence the lock.
type wire struct {
	trace httptrace.ClientTrace

	mu           sync.Mutex
	gettingConn  bool     // GetConn: net/http looks for a connection
	gotConn      bool     // GotConn: it has one
	conn         net.Conn // the connection, to tell HTTP/1.1 from HTTP/2
	counted      *countedConn
	writtenAt    int64 // the count of bytes written on it at GotConn
	wroteHeaders bool  // WroteHeaders: the headers went out (HTTP/2) or to the write buffer (HTTP/1.1)
	wroteRequest bool  // WroteRequest: the whole request went out (HTTP/2) or to the write buffer (HTTP/1.1)
	writeFailed  bool  // WroteRequest reported an error: not all of it was written
}

// wires keeps wires for reuse. A wire costs five allocations (itself and
// its four hooks), which would double what the SDK allocates of its own
// for a hold (BenchmarkHoldNoNetwork); reused, an attempt costs one, the
// context that carries the trace.
var wires = sync.Pool{New: func() any { return newWire() }}

// traced returns ctx with a wire to follow an attempt. When ctx carries
// the caller's own trace, httptrace composes the caller's hooks into a copy
// of the wire's, so that the wire's own trace stays as it was made.
func traced(ctx context.Context) (context.Context, *wire) {
	w := wires.Get().(*wire)
	trace := &w.trace
	if httptrace.ContextClientTrace(ctx) != nil {
		own := w.trace
		trace = &own
	}
	return httptrace.WithClientTrace(ctx, trace), w
}

// release returns w for reuse once no hook can fire any more: WroteRequest
// is the last, and an HTTP/2 stream may report it after RoundTrip
// returned; without a connection (or with a transport that reports
// nothing) none comes after RoundTrip. The trace itself is never written
// again, since net/http may still read its fields for the finished
// request.
func (w *wire) release() {
	w.mu.Lock()
	reusable := w.wroteRequest || !w.gotConn
	if reusable {
		w.gettingConn, w.gotConn, w.conn, w.counted, w.writtenAt = false, false, nil, nil, 0
		w.wroteHeaders, w.wroteRequest, w.writeFailed = false, false, false
	}
	w.mu.Unlock()
	if reusable {
		wires.Put(w)
	}
}

// newWire returns a wire whose trace is ready to go into an attempt's
// context.
func newWire() *wire {
	w := &wire{}
	w.trace = httptrace.ClientTrace{
		GetConn: func(string) {
			w.mu.Lock()
			w.gettingConn = true
			w.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			w.mu.Lock()
			w.gotConn, w.conn = true, info.Conn
			if w.counted = counted(info.Conn); w.counted != nil {
				w.writtenAt = w.counted.written.Load()
			}
			w.mu.Unlock()
		},
		WroteHeaders: func() {
			w.mu.Lock()
			w.wroteHeaders = true
			w.mu.Unlock()
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			w.mu.Lock()
			w.wroteRequest, w.writeFailed = true, info.Err != nil
			w.mu.Unlock()
		},
	}
	return w
}

// neverArrived reports whether the attempt that failed with err, before
// any status came, provably never delivered the whole request. ctxEnded
// says that the call's context has ended. It decides on evidence only: a
// transport that reports nothing through the trace (a mock, or one that is
// not net/http's) proves nothing beyond its error's type, and its failures
// count as possibly delivered.
func (w *wire) neverArrived(err error, ctxEnded bool) bool {
	if dialFailed(err) || refusedStream(err) || idleConnClosed(err) {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.gettingConn && !w.gotConn:
		// The dial, the proxy tunnel, the TLS handshake, the HTTP/2
		// preface, or the wait for a connection at the per-host cap.
		return true
	case !w.gotConn:
		return false
	case !w.wroteHeaders:
		// net/http returns an HTTP/1.1 failure once its writer is done;
		// an HTTP/2 stream that failed before its headers went out can no
		// longer send its body.
		return true
	case w.writeFailed:
		return true
	case !w.wroteRequest:
		// HTTP/2: the headers went out, the body did not finish. net/http
		// waits for the writer before it returns such a failure, unless the
		// context ended meanwhile: then the last frame may still go out.
		return !ctxEnded
	}
	// Over HTTP/2 the whole request went out. Over HTTP/1.1 WroteRequest
	// fires once the request is in net/http's buffer, before the flush: a
	// flush that failed is a failed write, and on the SDK's transport a
	// connection with nothing more written on it wrote nothing of it (the
	// attempt's writer is done by the time net/http returns).
	return !isH2(w.conn) && (writeOpFailed(err) || w.counted != nil && w.counted.written.Load() == w.writtenAt)
}

func isH2(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return ok && tc.ConnectionState().NegotiatedProtocol == "h2"
}

// dialFailed reports whether err proves that no connection was made: the
// connection to the server, or to the proxy before it, failed.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// writeOpFailed reports whether err is a failed write on the connection.
func writeOpFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "write"
}

// refusedStreamText is how net/http (and golang.org/x/net/http2) report an
// HTTP/2 stream the server refused, for a request whose body it cannot
// send again: only in the error's text, from a stream error whose cause is
// the peer. REFUSED_STREAM means, by RFC 9113 section 8.7, that the server
// did not process the request.
var refusedStreamText = regexp.MustCompile(`^http2: Transport: cannot retry err \[stream error: stream ID \d+; REFUSED_STREAM; received from peer\] after Request\.Body was written`)

// refusedStream reports whether err, or an error it wraps, is net/http's
// report of a stream the server refused.
func refusedStream(err error) bool {
	return inChain(err, func(e error) bool { return refusedStreamText.MatchString(e.Error()) })
}

// idleConnClosed reports whether err is net/http's report that it found
// the pooled HTTP/1.1 connection closed (or reset) while no request was on
// it, before this one was written: its reader saw the close first, and the
// connection was shut before the request could go out.
func idleConnClosed(err error) bool {
	return inChain(err, func(e error) bool {
		t := e.Error()
		return t == "http: server closed idle connection" || strings.HasPrefix(t, "readLoopPeekFailLocked: ")
	})
}

// inChain reports whether f holds for err or any error it wraps.
func inChain(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				if inChain(e, f) {
					return true
				}
			}
			return false
		}
		err = errors.Unwrap(err)
	}
	return false
}

// permanent reports whether err, from an attempt that never reached the
// runner, will come again however often the request is sent: the server's
// certificate cannot be trusted, TLS was refused with an alert, the
// handshake broke the protocol (crypto/tls says "tls: ..."), or the server
// does not speak TLS. A handshake that timed out, or that the peer closed,
// is not permanent.
func permanent(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		alert    tls.AlertError
		record   tls.RecordHeaderError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &alert) || errors.As(err, &record) ||
		errors.Is(err, http.ErrSchemeMismatch) ||
		inChain(err, func(e error) bool { return strings.HasPrefix(e.Error(), "tls: ") })
}

// countedConn counts the bytes written on a connection of the SDK's
// transport. Over HTTP/1.1, net/http knows whether an attempt wrote
// anything, but when the read of the reply fails first it returns the read's
// error alone (an EOF) whether the request went out or not; the count says
// which.
type countedConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// countWrites makes dial's connections count the bytes written on them.
func countWrites(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c}, nil
	}
}

// counted is c's count of bytes written, if c is, or runs over, a
// countedConn.
func counted(c net.Conn) *countedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cc, _ := c.(*countedConn)
	return cc
}
