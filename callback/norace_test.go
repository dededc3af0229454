//go:build !race

package callback_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/callback"
)

// TestMemoryStoreDefaultCap claims a million nonces, which the race
// detector makes take half a minute; .ci/run runs it without -race.
func TestMemoryStoreDefaultCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, max := range []int{0, -1} {
		s := callback.NewMemoryNonceStore(max)
		for i := range callback.DefaultMaxNonces + 1 {
			ok, _ := s.Claim(ctx, strconv.Itoa(i), time.Hour)
			require.True(t, ok)
		}
		ok, _ := s.Claim(ctx, "1", time.Hour)
		assert.False(t, ok, "the second nonce is still remembered")
		ok, _ = s.Claim(ctx, "0", time.Hour)
		assert.True(t, ok, "the first was dropped at 1,000,001")
	}
}
