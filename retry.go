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
// request again. The API has no idempotency key, so the client repeats only
// what is safe to repeat:
//
//   - any request that got a 429, or that provably never left (the
//     connection could not be made);
//   - also on 502, 503, 504 and other transport errors, requests that are
//     safe to repeat: GETs, the member actions hold, unhold, hangup and
//     abort_transfer, and a Request marked Idempotent.
//
// call, warm_transfer, cold_transfer, resume_call, voicemail_drop and a PHLO
// run are never sent again once they may have reached the server: a second
// send could dial a second call. A 500 is never retried either, since the
// action may have happened.
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

// next decides, from the outcome of attempt n (counting from 1), whether to
// send again and after how long. It decides on the status alone, never on
// the body.
func (p RetryPolicy) next(ctx context.Context, n int, res outcome, repeatable bool) (time.Duration, bool) {
	if n > p.MaxRetries {
		return 0, false
	}
	if err := ctx.Err(); err != nil && errors.Is(res.err, err) {
		// The context ended the attempt itself. A context that ended
		// after a reply came is left to the wait, whose error keeps both.
		return 0, false
	}
	switch {
	case res.unsent, res.status == http.StatusTooManyRequests && !res.broken:
	case res.broken, res.status == http.StatusBadGateway, res.status == http.StatusServiceUnavailable, res.status == http.StatusGatewayTimeout:
		if !repeatable {
			return 0, false
		}
	default:
		return 0, false
	}
	wait := p.backoff(n)
	if res.retryAfter > 0 {
		if res.retryAfter > p.MaxDelay {
			return 0, false
		}
		wait = res.retryAfter
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

// parseRetryAfter reads a Retry-After header in either of its forms: a
// number of seconds or an HTTP date. Anything else is no wait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// sleep waits for d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
