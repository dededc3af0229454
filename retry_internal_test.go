package phlo

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":          0,
		"0":         0,
		"-5":        0,
		"3":         3 * time.Second,
		" 120 ":     2 * time.Minute,
		"999999999": 24 * time.Hour,
		"soon":      0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"Wed, 25 Nov 2026 12:00:30 GMT":                   30 * time.Second,
		"Wednesday, 25-Nov-26 12:00:30 GMT":               30 * time.Second,
	}
	for in, want := range cases {
		assert.Equal(t, want, parseRetryAfter(in, now), "%q", in)
	}
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxRetries: 10, MinDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for n := 1; n <= 40; n++ {
		ceiling := min(p.MaxDelay, p.MinDelay<<min(n-1, 20))
		for range 200 {
			d := p.backoff(n)
			assert.GreaterOrEqual(t, d, p.MinDelay)
			assert.LessOrEqual(t, d, ceiling, "retry %d", n)
		}
	}
	// Full jitter: later retries spread over the whole range.
	seen := map[bool]bool{}
	for range 500 {
		seen[p.backoff(5) > 550*time.Millisecond] = true
	}
	assert.Len(t, seen, 2)

	zero := RetryPolicy{MaxRetries: 1}
	assert.Equal(t, time.Duration(0), zero.backoff(1))
}
