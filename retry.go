package phlo

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how often and how long the client waits before sending a
// request again. The API has no idempotency key, so a request that may have
// reached the runner is repeated only when it is idempotent, where sending
// it twice leaves the call as sending it once would:
//
//   - any request that got a 429, or that provably never reached the
//     runner whole (it fails with [ErrNotSent]): the connection, the proxy
//     tunnel or the TLS handshake failed, net/http did not write it, or an
//     HTTP/2 server refused the stream;
//   - also on 502, 503, 504, and on a failure after the request was
//     written and before a status came, idempotent requests: GETs, the
//     member actions hold and unhold, the bridge's mute and unmute, and a
//     Request marked Idempotent.
//
// call, warm_transfer, cold_transfer, resume_call, voicemail_drop, hangup,
// abort_transfer, the bridge's hangup and a PHLO run are never sent again
// once they may have reached the runner: a second send could dial a second
// call, or hang up or abort whatever is at the address by then. A 500, and
// a 2xx reply that is cut short or cannot be read, are never retried, since
// the action may have happened; nor is a failure that would come again: a
// certificate that cannot be trusted, a TLS alert or protocol error, a
// server that does not speak TLS, an invalid reply, any other status.
//
// Only this policy sends a request again: the SDK gives net/http no way to
// resend one on its own, over HTTP/1.1 or HTTP/2, so a request reaches the
// server at most MaxRetries+1 times per call.
type RetryPolicy struct {
	// MaxRetries is how many times a request may be sent again after the
	// first attempt; 0 means never.
	MaxRetries int
	// MinDelay is the first backoff cap and the shortest wait.
	MinDelay time.Duration
	// MaxDelay caps every wait. A Retry-After longer than MaxDelay is not
	// waited for: the error comes back at once with APIError.RetryAfter set.
	MaxDelay time.Duration
}

// DefaultRetryPolicy returns the policy a client uses unless WithRetryPolicy
// says otherwise: 2 retries, waits from 250 ms, each at most 5 s. It is a
// function, not a variable, so that no package state can change it.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, MinDelay: 250 * time.Millisecond, MaxDelay: 5 * time.Second}
}

// WithRetryPolicy replaces DefaultRetryPolicy. MaxRetries 0 never retries.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(s *settings) error {
		switch {
		case p.MaxRetries < 0:
			return invalidArgument("RetryPolicy.MaxRetries", "must not be negative")
		case p.MinDelay < 0:
			return invalidArgument("RetryPolicy.MinDelay", "must not be negative")
		case p.MaxDelay < p.MinDelay:
			return invalidArgument("RetryPolicy.MaxDelay", "must not be less than MinDelay")
		}
		s.retry = p
		return nil
	}
}

// next decides, from the error of attempt n (counting from 1) and what it
// says of the runner, whether to send again and after how long. A reply's
// status decides, never its body: a 429 for any request; a 502, 503 or 504
// for an idempotent one. Without a status, what never reached the runner
// is sent again, whatever it is, unless it would fail the same way again;
// what may have reached it, only when it is idempotent. A 500, and a 2xx
// that cannot be read, are never sent again.
func (p RetryPolicy) next(ctx context.Context, n int, err error, o outcome, idempotent bool) (time.Duration, bool) {
	if n > p.MaxRetries {
		return 0, false
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		// The context ended the attempt itself. A context that ended
		// after a reply came is left to the wait, whose error keeps both.
		return 0, false
	}
	var retryAfter time.Duration
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		switch apiErr.StatusCode {
		case http.StatusTooManyRequests:
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if !idempotent {
				return 0, false
			}
		default:
			return 0, false
		}
		retryAfter = apiErr.RetryAfter
	case o == notSent:
		if permanent(err) {
			return 0, false
		}
	case o == unreadable, !idempotent:
		return 0, false
	}
	wait := p.backoff(n)
	if retryAfter > 0 {
		if retryAfter > p.MaxDelay || retryAfter >= MaxRetryAfter {
			return 0, false
		}
		wait = retryAfter
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		return 0, false
	}
	return wait, true
}

// backoff is exponential with full jitter: the wait before retry n is drawn
// uniformly between MinDelay and min(MaxDelay, MinDelay·2^(n-1)), so that
// many clients that failed together do not come back together.
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.MaxDelay
	if n-1 < 32 && p.MinDelay<<(n-1) < ceiling && p.MinDelay<<(n-1) > 0 {
		ceiling = p.MinDelay << (n - 1)
	}
	if ceiling <= p.MinDelay {
		return p.MinDelay
	}
	return p.MinDelay + rand.N(ceiling-p.MinDelay+1)
}

// MaxRetryAfter caps a Retry-After the SDK reads, in either form: a longer
// wait, or a number too large to represent, reads as MaxRetryAfter, which
// is longer than any wait the SDK makes.
const MaxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header in either of its forms: a
// number of seconds or an HTTP date. Anything else is no wait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter // too large to represent is longer than any wait
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		switch {
		case d <= 0:
			return 0
		case d > MaxRetryAfter:
			return MaxRetryAfter
		}
		return d.Round(time.Second)
	}
	return 0
}

// sleep waits for d or until ctx ends, whichever is first, and returns
// ctx's error if it has ended by then: an attempt started on an ended
// context would fail before net/http reports anything of it.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return ctx.Err()
}
