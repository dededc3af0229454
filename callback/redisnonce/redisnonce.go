// Package redisnonce is a [callback.NonceStore] on Redis, for a service
// whose replicas must share the nonces they accept, so that a callback
// accepted by one is a replay to every other:
//
//	store := redisnonce.New(redis.NewClient(&redis.Options{Addr: "redis:6379"}))
//	http.Handle("/plivo/events", callback.Verify(authToken, events,
//		callback.WithAllowedHosts("callbacks.example.com"),
//		callback.WithNonceStore(store, time.Hour)))
//
// It is a module of its own, so that the SDK's module does not depend on a
// Redis client.
package redisnonce

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phlogo/phlo/callback"
)

// KeyPrefix is put before each nonce to make its Redis key.
const KeyPrefix = "phlo:callback:nonce:"

// The errors of a Store that cannot claim at all; a [callback.Verifier]
// refuses the request with [callback.ErrNonceStore] wrapping them, as it
// does Redis's own errors.
var (
	ErrNoClient    = errors.New("redisnonce: the Store has no client: build it with New")
	ErrShortWindow = errors.New("redisnonce: a window under a millisecond cannot be kept")
)

// Store is a [callback.NonceStore] on Redis. A claim is one SET NX with
// the window as expiry, atomic across every replica that shares the
// server; Redis drops a claim when its window ends.
type Store struct {
	client redis.UniversalClient
}

var _ callback.NonceStore = (*Store)(nil)

// New returns a Store that keeps nonces with client: a single server, a
// cluster or a failover client.
func New(client redis.UniversalClient) *Store {
	return &Store{client: client}
}

// Claim sets the key of nonce, with ttl as its expiry, unless it is set:
// true if it set it. A nil or zero Store, or a ttl under a millisecond
// (which Redis cannot keep), is an error.
func (s *Store) Claim(ctx context.Context, nonce string, ttl time.Duration) (bool, error) {
	if s == nil || s.client == nil {
		return false, ErrNoClient
	}
	if ttl < time.Millisecond {
		return false, ErrShortWindow
	}
	return s.client.SetNX(ctx, KeyPrefix+nonce, 1, ttl).Result()
}

// Release deletes the key of nonce.
func (s *Store) Release(ctx context.Context, nonce string) error {
	if s == nil || s.client == nil {
		return ErrNoClient
	}
	return s.client.Del(ctx, KeyPrefix+nonce).Err()
}
