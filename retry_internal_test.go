package phlo

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"999999999":                     MaxRetryAfter,
		"86400":                         24 * time.Hour,
		"99999999999999999999":          MaxRetryAfter, // too large to represent: longer than any wait
		"+5":                            0,
		"1.5":                           0,
		"Fri, 31 Dec 9999 23:59:59 GMT": MaxRetryAfter,
		now.Add(48 * time.Hour).Format(http.TimeFormat): MaxRetryAfter,
		"soon": 0,
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

// TestReadBodyTrustsNoContentLength: a reply that promises more than it
// sends costs a small buffer, not what it promised.
func TestReadBodyTrustsNoContentLength(t *testing.T) {
	t.Parallel()
	for _, promised := range []int64{-1, 0, 10, smallReply, 1 << 20, 1 << 40} {
		data, tooLarge, err := readBody(strings.NewReader(`{"api_id":"a"}`), promised, 0)
		assert.NoError(t, err)
		assert.False(t, tooLarge)
		assert.Equal(t, `{"api_id":"a"}`, string(data))
		assert.LessOrEqual(t, cap(data), smallReply, "promised %d", promised)
	}
	data, tooLarge, err := readBody(strings.NewReader(strings.Repeat("a", MaxResponseBytes+10)), -1, 0)
	assert.NoError(t, err)
	assert.True(t, tooLarge)
	assert.Len(t, data, MaxResponseBytes+1)
	// The slack is read too, so that a credential across the limit is
	// redacted whole before the cut.
	data, tooLarge, err = readBody(strings.NewReader(strings.Repeat("a", MaxResponseBytes+100)), -1, 40)
	assert.NoError(t, err)
	assert.True(t, tooLarge)
	assert.Len(t, data, MaxResponseBytes+41)
}

// TestCleanText: one line, no control or format characters, within the
// bound, cut at a character boundary.
func TestCleanText(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"plain":                        "plain",
		"  a\n\tb\r\nc  ":              "a b c",
		"\x1b]0;title\x07\x1b[2J":      "]0;title [2J",
		"\u202eevil\u200b":             "evil",
		"\xff\xfe":                     "\uFFFD\uFFFD",
		"é" + strings.Repeat("é", 300): strings.Repeat("é", 254) + "…",
	}
	for in, want := range cases {
		got := cleanText(in, 512)
		assert.Equal(t, want, got, "%q", in)
		assert.LessOrEqual(t, len(got), 512)
	}
	assert.Equal(t, "abc…", cleanText("abcdefgh", 6)) // 6 bytes
}
