package redisnonce_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phlogo/phlo/callback"
	"github.com/phlogo/phlo/callback/redisnonce"
	"github.com/phlogo/phlo/phlotest"
)

// startRedis starts the redis-server found on PATH on a free loopback
// port, with nothing persisted, and returns a client of it.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("these tests need redis-server on PATH (apt-get install redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { client.Close() })
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return client
		}
		if i == 100 {
			t.Fatalf("redis-server did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClaimRelease(t *testing.T) {
	client := startRedis(t)
	ctx := context.Background()
	s := redisnonce.New(client)
	claim := func(n string) bool {
		t.Helper()
		ok, err := s.Claim(ctx, n, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim("v3:1") {
		t.Fatal("a fresh nonce was not claimed")
	}
	if claim("v3:1") {
		t.Fatal("a nonce was claimed twice")
	}
	ttl, err := client.PTTL(ctx, redisnonce.KeyPrefix+"v3:1").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("the key's expiry is %v (%v), want the window", ttl, err)
	}
	if err := s.Release(ctx, "v3:1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, redisnonce.KeyPrefix+"v3:1").Result(); n != 0 {
		t.Fatal("Release left the key")
	}
	if !claim("v3:1") {
		t.Fatal("a released nonce was not claimed again")
	}
	if err := s.Release(ctx, "never-claimed"); err != nil {
		t.Fatal(err)
	}
}

// TestOneClaimWins: of concurrent claims of one nonce, through separate
// clients as separate replicas would make them, exactly one succeeds.
func TestOneClaimWins(t *testing.T) {
	client := startRedis(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		replica := redis.NewClient(&redis.Options{Addr: client.Options().Addr})
		defer replica.Close()
		wg.Go(func() {
			ok, err := redisnonce.New(replica).Claim(context.Background(), "v3:race", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims won", wins.Load())
	}
}

// TestReplicasShareClaims: two verifiers, as two replicas, sharing one
// Redis: a callback accepted by one is refused by the other as a replay.
func TestReplicasShareClaims(t *testing.T) {
	client := startRedis(t)
	const token = "replica-token"
	replica := func() http.Handler {
		other := redis.NewClient(&redis.Options{Addr: client.Options().Addr})
		t.Cleanup(func() { other.Close() })
		return callback.Verify(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
			callback.WithAllowedHosts("example.com"), callback.WithNonceStore(redisnonce.New(other), time.Hour))
	}
	a, b := replica(), replica()
	headers := phlotest.Sign(token, "GET", "/plivo/events?CallUUID=c-1", nil)
	send := func(h http.Handler) int {
		r := httptest.NewRequest("GET", "/plivo/events?CallUUID=c-1", nil)
		for k, v := range headers {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := send(a); code != http.StatusOK {
		t.Fatalf("replica A: %d", code)
	}
	if code := send(b); code != http.StatusConflict {
		t.Fatalf("replica B, the same callback: %d", code)
	}
}

// TestStoreDown: a Redis that cannot be reached is an error, and the
// Verifier refuses the request with 503 rather than passing it on.
func TestStoreDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	down := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer down.Close()
	s := redisnonce.New(down)
	if _, err := s.Claim(context.Background(), "v3:1", time.Minute); err == nil {
		t.Fatal("a claim on a server that is down succeeded")
	}
	var refusal error
	reached := false
	h := callback.Verify("t", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }),
		callback.WithAllowedHosts("example.com"), callback.WithNonceStore(s, time.Hour),
		callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			refusal = err
			callback.DefaultErrorHandler(w, r, err)
		}))
	r := httptest.NewRequest("GET", "/cb", nil)
	for k, v := range phlotest.Sign("t", "GET", "/cb", nil) {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || reached || !errors.Is(refusal, callback.ErrNonceStore) {
		t.Fatalf("status %d, passed on %v, error %v", w.Code, reached, refusal)
	}
}

func TestMisuse(t *testing.T) {
	ctx := context.Background()
	var zero redisnonce.Store
	if _, err := zero.Claim(ctx, "n", time.Minute); !errors.Is(err, redisnonce.ErrNoClient) {
		t.Fatalf("zero Store: %v", err)
	}
	if err := (*redisnonce.Store)(nil).Release(ctx, "n"); !errors.Is(err, redisnonce.ErrNoClient) {
		t.Fatalf("nil Store: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	if _, err := redisnonce.New(client).Claim(ctx, "n", time.Microsecond); !errors.Is(err, redisnonce.ErrShortWindow) {
		t.Fatalf("a window of 1µs: %v", err)
	}
}
