//go:build linux && !race

// The memory check runs without -race, which would slow the load it sends
// tenfold; .ci/run runs it on its own.

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/phlotest"
)

// TestServeMemoryIsBounded: `phlo serve`, built as users build it, stays
// under 150 MiB of resident memory through 200,000 mixed requests with
// distinct addresses and headers of up to 60 KiB, members added up to the
// caps, a full journal and full runs, and big control reads.
func TestServeMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 200,000 requests")
	}
	const (
		id, token = "MAMEMORYMEMORYMEMORY", "memory-token"
		total     = 200_000
		limit     = 150 << 20
	)
	bin := filepath.Join(t.TempDir(), "phlo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--auth-id", id, "--auth-token", token)
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=off", "GOGC=100") // as users run it, whatever the test's environment
	cmd.Stderr = io.Discard                                      // the request log: read, so that it never blocks
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := ""
	lines := bufio.NewScanner(stdout)
	for base == "" && lines.Scan() {
		base, _ = strings.CutPrefix(lines.Text(), "fake PHLO runner listening on ")
	}
	require.NotEmpty(t, base, "serve announced its URL")
	go io.Copy(io.Discard, stdout)

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // VmHWM is the peak; sampling also shows the course
		defer close(sampled)
		for {
			if hwm := procStatus(t, cmd.Process.Pid, "VmHWM"); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	l := &load{base: base, id: id, token: token, tr: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer l.tr.CloseIdleConnections()
	l.run(t, 8, total, l.mixed)
	close(stop)
	<-sampled

	counts := l.statusCounts()
	t.Logf("statuses: %v; peak RSS %.1f MiB", counts, float64(peak.Load())/(1<<20))
	assert.Equal(t, int64(total), l.sent.Load())
	for _, status := range []int{200, 201, 204, 401, 404, 409} {
		assert.NotZero(t, counts[status], "the load drew %d answers", status)
	}
	assert.Less(t, peak.Load(), int64(limit), "peak resident memory")
}

// load sends requests to a `phlo serve`.
type load struct {
	base, id, token string
	tr              *http.Transport
	sent            atomic.Int64
	mu              sync.Mutex
	statuses        map[int]int
}

// run has workers send n requests in all, the i-th made by next(i).
func (l *load) run(t *testing.T, workers, n int, next func(i int) *http.Request) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				resp, err := l.tr.RoundTrip(next(i))
				if !assert.NoError(t, err, "request %d", i) {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				l.sent.Add(1)
				l.mu.Lock()
				if l.statuses == nil {
					l.statuses = map[int]int{}
				}
				l.statuses[resp.StatusCode]++
				l.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (l *load) statusCounts() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.statuses
}

var (
	bigHeader  = strings.Repeat("h", 60<<10-100)
	bigPayload = []byte(`{"big":"` + strings.Repeat("p", phlotest.MaxRecordedBody-12) + `"}`)
)

// mixed is request i of the load. First, members are added through the
// control API, distinct and as long as may be, up to every cap; then, in
// turn: unauthenticated requests with 60 KiB headers, holds of distinct
// addresses with headers of up to 60 KiB, runs with payloads of what is
// recorded at most, calls past the caps, members taken out and put in
// again at the caps, and now and then the whole state and journal read
// back.
func (l *load) mixed(i int) *http.Request {
	addr := fmt.Sprintf("sip:%0240d@x", i) // distinct, near MaxAddressBytes
	const setup = phlotest.MaxPhlos + phlotest.MaxMembers
	if i < phlotest.MaxPhlos {
		return l.req("PUT", fmt.Sprintf("/__phlo/phlo/p%d", i), nil, "", true)
	}
	if i < setup {
		return l.req("PUT", memberPath(i-phlotest.MaxPhlos, addr), strings.NewReader(`{"role":"customer"}`), "", true)
	}
	switch i % 1000 {
	case 0:
		return l.req("GET", "/__phlo/state", nil, "", true)
	case 500:
		return l.req("GET", "/__phlo/requests", nil, "", true)
	}
	member := "/v1/phlo/p0/multi_party_call/n0/members/" + addr
	switch i % 10 {
	case 0, 5:
		return l.req("POST", member, strings.NewReader(`{"action":"hold"}`), bigHeader, false)
	case 1, 6:
		return l.req("POST", member, strings.NewReader(`{"action":"hold"}`), bigHeader[:i%len(bigHeader)], true)
	case 2, 7:
		return l.req("POST", "/v1/account/"+l.id+"/phlo/p1", bytes.NewReader(bigPayload), "", true)
	case 3, 8:
		body := `{"action":"call","trigger_source":"` + fmt.Sprintf("sip:%0240d@x", phlotest.MaxPhlos) + `","to":"` + addr + `"}`
		return l.req("POST", "/v1/phlo/p0/multi_party_call/n0", strings.NewReader(body), "", true)
	case 4:
		// One of the first members out, once: room for the next. The
		// first stays, to trigger the calls.
		j := 1 + (i-setup)/10%(phlotest.MaxMembers-1)
		return l.req("DELETE", memberPath(j, fmt.Sprintf("sip:%0240d@x", j+phlotest.MaxPhlos)), nil, "", true)
	}
	return l.req("PUT", fmt.Sprintf("/__phlo/phlo/p%d/conference_bridge/b/members/%s", i%phlotest.MaxPhlos, addr), nil, "", true)
}

// memberPath is the control path of the j-th member the load adds, filling
// the nodes of the first PHLOs one after the other.
func memberPath(j int, addr string) string {
	perPhlo := phlotest.MaxNodesPerPhlo * phlotest.MaxMembersPerNode
	return fmt.Sprintf("/__phlo/phlo/p%d/multi_party_call/n%d/members/%s", j/perPhlo, j/phlotest.MaxMembersPerNode%phlotest.MaxNodesPerPhlo, addr)
}

func (l *load) req(method, path string, body io.Reader, pad string, auth bool) *http.Request {
	req, err := http.NewRequest(method, l.base+path, body)
	if err != nil {
		panic(err) // the load's own paths: a bug in the test
	}
	if auth {
		req.SetBasicAuth(l.id, l.token)
	}
	if pad != "" {
		req.Header.Set("X-Pad", pad)
	}
	return req
}

// procStatus reads a size field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0 // the process has ended
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
