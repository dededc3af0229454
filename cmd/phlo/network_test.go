package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"
)

// network stands in for the network between containers, such as docker
// compose's. TestMain points HTTP_PROXY and HTTPS_PROXY at it, for this
// process and those it starts, so every request to a host that is not
// loopback comes to it on loopback (net/http never proxies loopback). It
// forwards a request for a host a test routed to that test's server on
// loopback, and answers any other with 502: no test reaches beyond
// loopback, even by mistake.
var network = &fakeNetwork{routes: map[string]*url.URL{}}

type fakeNetwork struct {
	srv       *httptest.Server
	transport *http.Transport // to the servers on loopback, never proxied

	mu     sync.Mutex
	routes map[string]*url.URL // host:port → base URL on loopback
}

// start serves the network and points the proxy variables at it; the
// function it returns shuts it down.
func (n *fakeNetwork) start() (stop func()) {
	n.transport = &http.Transport{}
	n.srv = httptest.NewServer(n)
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		os.Setenv(k, n.srv.URL)
	}
	for _, k := range []string{"NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "REQUEST_METHOD"} {
		os.Unsetenv(k)
	}
	return func() {
		n.srv.Close()
		n.transport.CloseIdleConnections()
	}
}

// route sends the requests for hostPort to target, until the test ends.
func (n *fakeNetwork) route(t *testing.T, hostPort, target string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[hostPort] = u
	t.Cleanup(func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.routes, hostPort)
	})
}

func (n *fakeNetwork) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	target := n.routes[r.Host]
	n.mu.Unlock()
	if target == nil || r.Method == http.MethodConnect {
		http.Error(w, "the test network has no route to "+r.Host, http.StatusBadGateway)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: n.transport,
	}
	proxy.ServeHTTP(w, r)
}
