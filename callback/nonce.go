package callback

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Replay protection's defaults and limits.
const (
	// DefaultReplayWindow is how long a [Verifier] remembers a nonce
	// without [WithNonceStore].
	DefaultReplayWindow = time.Hour
	// DefaultMaxNonces is how many nonces the default store remembers at
	// most; past it, the oldest is dropped first. Only nonces of requests
	// whose signature matched are stored; at about 175 bytes each (for a
	// nonce of 20 bytes), a full default store holds some 175 MB.
	DefaultMaxNonces = 1_000_000
	// MaxNonceBytes is the longest nonce accepted; a longer one is refused
	// with [ErrNonceTooLong] before the body is read.
	MaxNonceBytes = 128
)

// NonceStore remembers the nonces of accepted requests, so that each
// signature is used once.
//
// Claim records nonce for ttl and reports true, or reports false when it
// is already recorded and its ttl has not passed; it must be atomic, since
// two copies of one request may be claimed at once. Release forgets nonce,
// for a request whose handler failed, so that Plivo's own retry of it is
// accepted. An error from either is a failure of the store: the request is
// refused with [ErrNonceStore] and not passed on.
//
// A [Verifier] gives Claim its request's context, and Release a context
// that is not cancelled with the request.
type NonceStore interface {
	Claim(ctx context.Context, nonce string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, nonce string) error
}

// NewMemoryNonceStore returns a [NonceStore] in memory that remembers at
// most max nonces, dropping the oldest claim first when full (so a nonce
// dropped early can be used again); max below 1 means [DefaultMaxNonces].
// It is the kind a [Verifier] uses by default, and serves one process: give
// replicas a shared store instead.
func NewMemoryNonceStore(max int) NonceStore {
	if max < 1 {
		max = DefaultMaxNonces
	}
	return &memoryStore{max: max, order: list.New(), byNonce: map[string]*list.Element{}}
}

type memoryStore struct {
	mu      sync.Mutex
	max     int
	order   *list.List // of *claim, oldest first
	byNonce map[string]*list.Element
}

type claim struct {
	nonce   string
	expires time.Time
}

// Claim records nonce unless a claim of it is still within its ttl.
func (s *memoryStore) Claim(_ context.Context, nonce string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if e, ok := s.byNonce[nonce]; ok {
		if now.Before(e.Value.(*claim).expires) {
			return false, nil
		}
		s.remove(e)
	}
	// Claims of one window expire in the order they were made, so the
	// expired ones are at the front.
	for e := s.order.Front(); e != nil && !now.Before(e.Value.(*claim).expires); e = s.order.Front() {
		s.remove(e)
	}
	for s.order.Len() >= s.max {
		s.remove(s.order.Front())
	}
	s.byNonce[nonce] = s.order.PushBack(&claim{nonce: nonce, expires: now.Add(ttl)})
	return true, nil
}

// Release forgets nonce.
func (s *memoryStore) Release(_ context.Context, nonce string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byNonce[nonce]; ok {
		s.remove(e)
	}
	return nil
}

func (s *memoryStore) remove(e *list.Element) {
	delete(s.byNonce, s.order.Remove(e).(*claim).nonce)
}
