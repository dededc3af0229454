package phlotest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// syncBuffer is a bytes.Buffer safe for the server's handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

// TestRequestLog: one line per runner request, refused ones included,
// none for control requests, each bounded, with nothing of the
// credentials.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	srv := phlotest.Start(t, phlotest.WithRequestLog(&log))
	srv.AddMember(pID, nID, customer, phlo.RoleCustomer)
	r := raw{t, srv}
	member := "/v1/phlo/" + pID + "/multi_party_call/" + nID + "/members/" + customer
	r.do("POST", member, `{"action":"hold"}`, true)
	r.do("POST", member, `{"action":"hold"}`, false)
	r.do("POST", member, `{"action":"`+strings.Repeat("x", 5000)+`"}`, true)
	r.do("GET", "/v1/phlo/"+strings.Repeat("%0A", 3000), "", true)
	r.do("GET", "/__phlo/health", "", false)

	lines := log.lines()
	require.Len(t, lines, 4, "%q", lines)
	line := regexp.MustCompile(`^(\S+) (\S+) action=(\S+) status=(\d+) duration=\S+$`)
	for _, l := range lines {
		assert.Regexp(t, line, l)
		assert.Less(t, len(l), 512, "a line is bounded")
		assert.NotContains(t, l, srv.AuthToken)
	}
	assert.Equal(t, []string{lines[0], "POST", member, "hold", "201"}, line.FindStringSubmatch(lines[0])[:5])
	assert.Equal(t, []string{"POST", member, "-", "401"}, line.FindStringSubmatch(lines[1])[1:5], "a refused body is not read")
	assert.Equal(t, "400", line.FindStringSubmatch(lines[2])[4])
	assert.Equal(t, "404", line.FindStringSubmatch(lines[3])[4])

	_, err := phlotest.Listen("127.0.0.1:0", phlotest.WithRequestLog(nil))
	assert.EqualError(t, err, "phlotest: WithRequestLog: the writer is nil")
}

// TestRefusedRequestsAreNotKept: a request refused for its credentials or
// its size leaves nothing in the journal, and meets no fault.
func TestRefusedRequestsAreNotKept(t *testing.T) {
	t.Parallel()
	srv, r := setup(t)
	srv.Inject(phlotest.Fault{Status: 500})
	status, _ := r.do("POST", "/v1/phlo/"+pID+"/multi_party_call/"+nID, `{}`, false)
	assert.Equal(t, 401, status)
	status, _ = r.do("POST", "/v1/account/"+srv.AuthID+"/phlo/"+pID, `{"x":"`+strings.Repeat("x", 1<<20)+`"}`, true)
	assert.Equal(t, 413, status)
	assert.Empty(t, srv.Requests())
	assert.Empty(t, srv.Runs(pID))
	assert.Equal(t, 1, srv.PendingFaults())
}

// TestJournalCuts: headers, path, query and body are cut to their bounds.
func TestJournalCuts(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	path := "/v1/phlo/" + strings.Repeat("p", 3000)
	req, err := http.NewRequest("POST", srv.URL+path+"?"+strings.Repeat("q", 3000), strings.NewReader(strings.Repeat("b", 100<<10)))
	require.NoError(t, err)
	req.SetBasicAuth(srv.AuthID, srv.AuthToken)
	for i := range 10 {
		req.Header.Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("h", 1000))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	assert.Equal(t, 405, resp.StatusCode)
	assert.Equal(t, "GET", resp.Header.Get("Allow"))

	got := srv.Requests()[0]
	assert.Equal(t, path[:phlotest.MaxRecordedPath], got.Path)
	assert.Len(t, got.RawQuery, phlotest.MaxRecordedPath)
	assert.Len(t, got.Body, phlotest.MaxRecordedBody)
	size := 0
	for k, vs := range got.Header {
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	assert.LessOrEqual(t, size, phlotest.MaxRecordedHeader)
	assert.NotEmpty(t, got.Header.Get("X-Big-0"), "whole headers are kept while they fit")
	assert.Equal(t, 405, got.Status)
}

// TestJournalBytesAreBounded: big requests are forgotten, oldest first,
// once MaxRecordedBytes is reached; runs likewise past MaxRunBytes.
func TestJournalBytesAreBounded(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	big := strings.Repeat("x", phlotest.MaxRecordedBody-100)
	send := func(method, path string, i int) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(fmt.Sprintf(`{"n":%d,"big":"%s"}`, i, big)))
		require.NoError(t, err)
		req.SetBasicAuth(srv.AuthID, srv.AuthToken)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	// A GET's body is kept but not decoded: the quickest way to fill the journal.
	n := phlotest.MaxRecordedBytes/phlotest.MaxRecordedBody + 10
	for i := range n {
		send("GET", "/v1/phlo/"+pID, i)
	}
	reqs := srv.Requests()
	assert.Less(t, len(reqs), n)
	assert.Greater(t, len(reqs), n-30)
	kept := 0
	for _, r := range reqs {
		kept += len(r.Body)
	}
	assert.LessOrEqual(t, kept, phlotest.MaxRecordedBytes)
	assert.True(t, strings.HasPrefix(string(reqs[len(reqs)-1].Body), fmt.Sprintf(`{"n":%d,`, n-1)), "the newest are kept")

	n = phlotest.MaxRunBytes/phlotest.MaxRecordedBody + 10
	for i := range n {
		send("POST", "/v1/account/"+srv.AuthID+"/phlo/"+pID, i)
	}
	runs := srv.Runs(pID)
	runBytes := 0
	for _, r := range runs {
		runBytes += len(r.Payload)
	}
	assert.Less(t, len(runs), n)
	assert.LessOrEqual(t, runBytes, phlotest.MaxRunBytes)
	assert.Greater(t, runBytes, phlotest.MaxRunBytes-2*phlotest.MaxRecordedBody)
	assert.True(t, strings.HasPrefix(string(runs[len(runs)-1].Payload), fmt.Sprintf(`{"n":%d,`, n-1)), "the newest are kept")
}

// TestHeadersAreCapped: headers past MaxHeaderBytes are refused with 431;
// 60 KiB of them pass.
func TestHeadersAreCapped(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	send := func(size int) int {
		req, err := http.NewRequest("GET", srv.URL+"/v1/phlo/"+pID, nil)
		require.NoError(t, err)
		req.SetBasicAuth(srv.AuthID, srv.AuthToken)
		req.Header.Set("X-Big", strings.Repeat("h", size))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	assert.Equal(t, 200, send(60<<10))
	assert.Equal(t, 431, send(phlotest.MaxHeaderBytes))
	assert.Len(t, srv.Requests(), 1)
}

// TestCredentialsAreFixed: the fields that show the credentials cannot
// change what the server accepts.
func TestCredentialsAreFixed(t *testing.T) {
	t.Parallel()
	srv, r := setup(t)
	id, token := srv.AuthID, srv.AuthToken
	srv.AuthID, srv.AuthToken = "MAOTHER", "other"
	status, _ := r.do("GET", "/v1/phlo/"+pID, "", true)
	assert.Equal(t, 401, status, "the changed fields are not accepted")
	srv.AuthID, srv.AuthToken = id, token
	status, _ = r.do("GET", "/v1/phlo/"+pID, "", true)
	assert.Equal(t, 200, status)
	_, err := srv.Client().Phlo(pID).Get(context.Background())
	require.NoError(t, err)
}

// TestClientThatReadsNothingIsCutOff: a client that sends a request and
// never reads the reply is cut off once the write timeout passes, rather
// than holding the connection for as long as it likes.
func TestClientThatReadsNothingIsCutOff(t *testing.T) {
	t.Parallel()
	srv, err := phlotest.Listen("127.0.0.1:0", phlotest.WithWriteTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer srv.Close()
	srv.AddPhlo(pID, "x")
	const size = 64 << 20 // more than any socket buffers
	srv.Inject(phlotest.Fault{Status: 200, Body: strings.Repeat("x", size)})
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	req, err := http.NewRequest("GET", srv.URL+"/v1/phlo/"+pID, nil)
	require.NoError(t, err)
	req.SetBasicAuth(srv.AuthID, srv.AuthToken)
	require.NoError(t, req.Write(conn))

	time.Sleep(time.Second) // read nothing, well past the timeout
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open")
	assert.Less(t, n, int64(size), "the reply was cut off")
}
