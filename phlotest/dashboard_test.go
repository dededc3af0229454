package phlotest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// hostile is an address a client may send: markup that would run if the
// page ever put state in as HTML.
const hostile = `<img src=x onerror="document.title='pwned'">`

// showWait bounds each wait for the page to show a change. The page polls
// every second; the bound only keeps a broken page from hanging the test.
const showWait = 30 * time.Second

// TestDashboardInBrowser drives the dashboard in headless Chromium: a member
// added through the page, then held through the SDK, shows on hold without
// a reload; changes made through the runner, the control API and the
// page's own controls all show; nothing is loaded from another origin and
// nothing from state runs as markup.
func TestDashboardInBrowser(t *testing.T) {
	srv := phlotest.Start(t)
	d := openDashboard(t, srv)
	ctx := t.Context()
	call := srv.Client().Phlo("phlo-1").MultiPartyCall("node-1")

	d.eval(t, `window.__sameDocument = true`)
	d.fill(t, "add-member", map[string]string{"phlo_id": "phlo-1", "node_id": "node-1", "address": hostile, "role": "customer"})
	d.submit(t, "add-member")
	d.waitFor(t, "the added member, not on hold", memberAttr(hostile, "onHold"), "false")
	m, ok := srv.Member("phlo-1", "node-1", hostile)
	require.True(t, ok, "the page's form added no member")
	assert.Equal(t, phlo.RoleCustomer, m.Role)

	_, err := call.Member(hostile).Hold(ctx)
	require.NoError(t, err)
	d.waitFor(t, "the member on hold after a hold through the SDK", memberAttr(hostile, "onHold"), "true")
	assert.Equal(t, true, d.eval(t, `window.__sameDocument === true`), "the page reloaded")

	// The hostile address is text in the page, never an element.
	assert.Equal(t, hostile, d.eval(t, memberCell(hostile)))
	assert.Equal(t, float64(0), d.eval(t, `document.querySelectorAll("img").length`))
	assert.Equal(t, "phlo fake runner", d.eval(t, `document.title`))

	t.Run("control API", func(t *testing.T) {
		controlPut(t, srv, "/__phlo/phlo/phlo-1/conference_bridge/bridge-1/members/"+url.PathEscape("sip:bob@example.com"), `{}`)
		d.waitFor(t, "a bridge member added through the control API", bridgeAttr("sip:bob@example.com", "muted"), "false")
		_, err := srv.Client().Phlo("phlo-1").ConferenceBridge("bridge-1").Member("sip:bob@example.com").Mute(ctx)
		require.NoError(t, err)
		d.waitFor(t, "the bridge member muted through the SDK", bridgeAttr("sip:bob@example.com", "muted"), "true")
	})

	t.Run("runs and requests", func(t *testing.T) {
		_, err := srv.Client().Phlo("phlo-1").Run(ctx, map[string]any{"to": "+14155550111"})
		require.NoError(t, err)
		runs := srv.Runs("phlo-1")
		require.Len(t, runs, 1)
		d.waitFor(t, "the run", fmt.Sprintf(`[...document.querySelectorAll("[data-run-id]")].filter(e => e.dataset.runId === %s).length`, jsString(runs[0].RunID)), 1)
		d.waitFor(t, "the hold in the newest requests", `document.querySelectorAll('[data-request-action="hold"][data-request-status="201"]').length`, 1)
	})

	t.Run("faults", func(t *testing.T) {
		d.fill(t, "inject-fault", map[string]string{"status": "503", "times": "2", "action": "unhold"})
		d.submit(t, "inject-fault")
		d.waitFor(t, "the injected fault", faultCount("503", "unhold"), 1)
		assert.Equal(t, 2, srv.PendingFaults())

		member := "/v1/phlo/phlo-1/multi_party_call/node-1/members/" + url.PathEscape(hostile)
		runnerPost(t, srv, member, `{"action":"unhold"}`, http.StatusServiceUnavailable)
		runnerPost(t, srv, member, `{"action":"unhold"}`, http.StatusServiceUnavailable)
		d.waitFor(t, "no fault once it is used up", faultCount("503", "unhold"), 0)
		d.waitFor(t, "the faulted unholds in the newest requests", `document.querySelectorAll('[data-request-action="unhold"][data-request-status="503"]').length`, 2)
		d.waitFor(t, "the member still on hold", memberAttr(hostile, "onHold"), "true")
	})

	t.Run("refused", func(t *testing.T) {
		long := strings.Repeat("9", phlotest.MaxAddressBytes+1)
		d.fill(t, "add-member", map[string]string{"phlo_id": "phlo-1", "node_id": "node-1", "address": long, "role": "agent"})
		d.submit(t, "add-member")
		d.waitFor(t, "the server's refusal", `document.getElementById("message").className`, "bad")
		assert.Contains(t, d.eval(t, `document.getElementById("message").textContent`), "MaxAddressBytes")
		_, ok := srv.Member("phlo-1", "node-1", long)
		assert.False(t, ok)
	})

	t.Run("remove member", func(t *testing.T) {
		d.eval(t, fmt.Sprintf(`[...document.querySelectorAll('form[data-control="remove-member"]')]
			.find(f => f.elements.address.value === %s && f.elements.node_id.value === "node-1")
			.querySelector("button").click()`, jsString(hostile)))
		d.waitFor(t, "the removed member gone", memberAttr(hostile, "onHold"), "absent")
		_, ok := srv.Member("phlo-1", "node-1", hostile)
		assert.False(t, ok, "the page's remove control left the member in the call")
	})

	t.Run("reset", func(t *testing.T) {
		srv.AddMember("phlo-2", "node-9", "+14155550199", phlo.RoleAgent)
		d.waitFor(t, "a member added through Go", memberAttr("+14155550199", "onHold"), "false")
		srv.Inject(phlotest.Fault{Drop: true, Times: 3})
		d.waitFor(t, "a drop fault, which has no status", faultCount("0", ""), 1)

		d.submit(t, "reset")
		d.waitFor(t, "no member after a reset", `document.querySelectorAll("[data-address]").length`, 0)
		d.waitFor(t, "no run after a reset", `document.querySelectorAll("[data-run-id]").length`, 0)
		d.waitFor(t, "no fault after a reset", `document.querySelectorAll("[data-fault-status]").length`, 0)
		d.waitFor(t, "no request after a reset", `document.querySelectorAll("[data-request-action]").length`, 0)
		assert.Empty(t, srv.Members("phlo-2", "node-9"))
		assert.Zero(t, srv.PendingFaults())
		asked := d.dialogs()
		require.Len(t, asked, 1, "reset asks for confirmation once")
		assert.True(t, strings.HasPrefix(asked[0], "Reset the fake?"), asked[0])
	})

	assert.Equal(t, true, d.eval(t, `window.__sameDocument === true`), "a control left the page")
	d.checkOrigins(t)
}

// dashboard is the dashboard page open in a headless Chromium tab.
type dashboard struct {
	ctx context.Context
	srv *phlotest.Server

	mu         sync.Mutex
	urls       []string // every URL the page asked for
	challenges []string // "scheme realm" of each credentials prompt
	asked      []string // the message of each dialog the page opened
	problems   []string // exceptions, and errors the browser logged
}

// openDashboard starts Chromium, opens GET /__phlo/ and waits until the
// page shows the fake's state. The browser is asked for credentials, as a
// person would be, and answers with the server's.
// TestDashboardWithCredentialsInTheURL: opened at
// http://ID:TOKEN@host/__phlo/, the page still reads and changes the fake.
// fetch refuses a URL with credentials in it, so the page must build its
// request URLs from location.origin, never from the page's own address.
func TestDashboardWithCredentialsInTheURL(t *testing.T) {
	srv := phlotest.Start(t)
	u, err := url.Parse(srv.URL + "/__phlo/")
	require.NoError(t, err)
	u.User = url.UserPassword(srv.AuthID, srv.AuthToken)
	d := openDashboardAt(t, srv, u.String())

	d.fill(t, "add-member", map[string]string{"phlo_id": "phlo-1", "node_id": "node-1", "address": "+14155550100", "role": "agent"})
	d.submit(t, "add-member")
	d.waitFor(t, "the added member, not on hold", memberAttr("+14155550100", "onHold"), "false")
	m, ok := srv.Member("phlo-1", "node-1", "+14155550100")
	require.True(t, ok, "the page's form added no member")
	assert.Equal(t, phlo.RoleAgent, m.Role)
	assert.NotEqual(t, "bad", d.eval(t, `document.getElementById("message").className`))
}

func openDashboard(t *testing.T, srv *phlotest.Server) *dashboard {
	t.Helper()
	return openDashboardAt(t, srv, srv.URL+"/__phlo/")
}

// openDashboardAt opens the page at pageURL, which may carry the fake's
// credentials (http://ID:TOKEN@host/__phlo/), as a scripted browser is often
// given them; the browser is then not asked for them.
func openDashboardAt(t *testing.T, srv *phlotest.Server, pageURL string) *dashboard {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	tctx, cancelTab := chromedp.NewContext(actx)
	d := &dashboard{ctx: tctx, srv: srv}

	var handlers sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
		handlers.Wait()
	})
	paused := chromedp.Events(tctx, fetch.RequestPaused)
	auth := chromedp.Events(tctx, fetch.AuthRequired)
	dialogs := chromedp.Events(tctx, page.JavascriptDialogOpening)
	logged := chromedp.Events(tctx, cdplog.EntryAdded)
	thrown := chromedp.Events(tctx, runtime.ExceptionThrown)
	handlers.Go(func() { d.continueRequests(paused) })
	handlers.Go(func() { d.recordLogs(logged) })
	handlers.Go(func() { d.recordExceptions(thrown) })
	handlers.Go(func() { d.answerChallenges(auth) })
	handlers.Go(func() { d.acceptDialogs(dialogs) })
	_, err := chromedp.Call(tctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: ptr(true)})
	require.NoError(t, err)
	_, err = chromedp.Call(tctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)

	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(pageURL)))
	d.waitFor(t, "the page live", `document.getElementById("live").textContent.startsWith("live")`, true)
	if u, err := url.Parse(pageURL); err == nil && u.User == nil {
		d.mu.Lock()
		assert.Contains(t, d.challenges, "basic phlo", "the browser was never asked for the fake's credentials")
		d.mu.Unlock()
	}
	return d
}

// chromiumPath finds Chromium; without it the test is skipped, except
// under CI, where the browser test must run.
func chromiumPath(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium is not installed, and CI must run the dashboard's browser test: %v", err)
	}
	t.Skip("chromium is not installed (Debian: apt-get install chromium); skipping the dashboard's browser test. Under CI=true this fails instead.")
	return ""
}

func (d *dashboard) continueRequests(events iter.Seq2[fetch.EventRequestPaused, error]) {
	for ev, err := range events {
		if err != nil {
			return
		}
		d.mu.Lock()
		d.urls = append(d.urls, ev.Request.URL)
		d.mu.Unlock()
		chromedp.Call(d.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
	}
}

func (d *dashboard) answerChallenges(events iter.Seq2[fetch.EventAuthRequired, error]) {
	for ev, err := range events {
		if err != nil {
			return
		}
		d.mu.Lock()
		d.challenges = append(d.challenges, strings.ToLower(ev.AuthChallenge.Scheme)+" "+ev.AuthChallenge.Realm)
		d.mu.Unlock()
		chromedp.Call(d.ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{
			RequestID: ev.RequestID,
			AuthChallengeResponse: &fetch.AuthChallengeResponse{
				Response: fetch.AuthChallengeResponseResponseProvideCredentials,
				Username: d.srv.AuthID,
				Password: d.srv.AuthToken,
			},
		})
	}
}

func (d *dashboard) acceptDialogs(events iter.Seq2[page.EventJavascriptDialogOpening, error]) {
	for ev, err := range events {
		if err != nil {
			return
		}
		d.mu.Lock()
		d.asked = append(d.asked, ev.Message)
		d.mu.Unlock()
		chromedp.Call(d.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
	}
}

func (d *dashboard) recordLogs(events iter.Seq2[cdplog.EventEntryAdded, error]) {
	for ev, err := range events {
		if err != nil {
			return
		}
		// A network error is a reply's status, which the test provokes and
		// checks itself.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			d.mu.Lock()
			d.problems = append(d.problems, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			d.mu.Unlock()
		}
	}
}

func (d *dashboard) recordExceptions(events iter.Seq2[runtime.EventExceptionThrown, error]) {
	for ev, err := range events {
		if err != nil {
			return
		}
		d.mu.Lock()
		x := ev.ExceptionDetails
		text := x.Text
		if x.Exception != nil {
			text += " " + x.Exception.Description
		}
		d.problems = append(d.problems, fmt.Sprintf("exception at %d:%d: %s", x.LineNumber, x.ColumnNumber, text))
		d.mu.Unlock()
	}
}

func (d *dashboard) dialogs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// checkOrigins asserts that the page asked for nothing but the fake, and
// that nothing went wrong in it: no exception, no error logged, such as a
// refusal by its own content security policy.
func (d *dashboard) checkOrigins(t *testing.T) {
	d.mu.Lock()
	defer d.mu.Unlock()
	assert.Empty(t, d.problems)
	require.NotEmpty(t, d.urls)
	for _, u := range d.urls {
		assert.True(t, strings.HasPrefix(u, d.srv.URL+"/__phlo/"), "the page asked for %s", u)
	}
}

func (d *dashboard) eval(t *testing.T, expr string) any {
	t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Evaluate[any](expr))
	require.NoError(t, err, "evaluating %s", expr)
	return v
}

// waitFor evaluates expr until it equals want, as JSON, failing the test
// with the last value when showWait passes first.
func (d *dashboard) waitFor(t *testing.T, what, expr string, want any) {
	t.Helper()
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	deadline := time.Now().Add(showWait)
	for {
		got, err := json.Marshal(d.eval(t, expr))
		require.NoError(t, err)
		if string(got) == string(wantJSON) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show %s within %v: %s is %s, want %s", what, showWait, expr, got, wantJSON)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fill sets the fields of the form data-control=control.
func (d *dashboard) fill(t *testing.T, control string, fields map[string]string) {
	t.Helper()
	for name, value := range fields {
		sel := fmt.Sprintf(`form[data-control=%q] [name=%q]`, control, name)
		require.NoError(t, chromedp.Do(d.ctx, chromedp.SetValue(chromedp.CSS(sel), value)), "filling %s", sel)
	}
}

// submit clicks the submit button of the form data-control=control.
func (d *dashboard) submit(t *testing.T, control string) {
	t.Helper()
	sel := fmt.Sprintf(`form[data-control=%q] button[type="submit"]`, control)
	require.NoError(t, chromedp.Do(d.ctx, chromedp.Click(chromedp.CSS(sel))), "clicking %s", sel)
}

// memberAttr is the expression for a data-* attribute, by its dataset name,
// of the call member shown with address, or "absent".
func memberAttr(address, name string) string {
	return fmt.Sprintf(`([...document.querySelectorAll("[data-on-hold]")].find(e => e.dataset.address === %s) || {dataset: {%s: "absent"}}).dataset.%s`,
		jsString(address), name, name)
}

// bridgeAttr is memberAttr for a bridge member.
func bridgeAttr(address, name string) string {
	return fmt.Sprintf(`([...document.querySelectorAll("[data-muted]")].find(e => e.dataset.address === %s) || {dataset: {%s: "absent"}}).dataset.%s`,
		jsString(address), name, name)
}

// memberCell is the expression for the text of the first cell of the call
// member shown with address.
func memberCell(address string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("[data-on-hold]")].find(e => e.dataset.address === %s).querySelector("td").textContent`,
		jsString(address))
}

func faultCount(status, action string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("[data-fault-status]")].filter(e => e.dataset.faultStatus === %s && e.dataset.faultAction === %s).length`,
		jsString(status), jsString(action))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// controlPut sends a PUT to the control API, as a test in any language
// would.
func controlPut(t *testing.T, srv *phlotest.Server, path, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(srv.AuthID, srv.AuthToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	require.Equal(t, http.StatusOK, resp.StatusCode, "PUT %s", path)
}

// runnerPost sends a runner request by hand and checks its status.
func runnerPost(t *testing.T, srv *phlotest.Server, path, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(srv.AuthID, srv.AuthToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	require.Equal(t, want, resp.StatusCode, "POST %s", path)
}

// TestDashboardServed checks the page on the wire: behind the fake's
// credentials, with a policy that lets only its own inline style and script
// run, and naming no other origin.
func TestDashboardServed(t *testing.T) {
	srv := phlotest.Start(t)
	get := func(auth bool) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/__phlo/", nil)
		require.NoError(t, err)
		if auth {
			req.SetBasicAuth(srv.AuthID, srv.AuthToken)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		t.Cleanup(http.DefaultClient.CloseIdleConnections)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	resp, body := get(false)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Basic realm="phlo"`, resp.Header.Get("WWW-Authenticate"))
	assert.NotContains(t, body, "<script")

	resp, body = get(true)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	policy := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, policy, "default-src 'none'")
	assert.Contains(t, policy, "connect-src 'self'")
	assert.Contains(t, policy, "form-action 'none'")
	for _, m := range regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`).FindAllStringSubmatch(body, -1) {
		sum := sha256.Sum256([]byte(m[2]))
		assert.Contains(t, policy, m[1]+"-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'",
			"the policy does not let the page's inline %s run", m[1])
	}
	assert.Regexp(t, `<script>`, body)
	assert.NotRegexp(t, `(?i)<(script|link|img|iframe)[^>]+src=|@import|url\(`, body, "the page loads a resource")
	for _, m := range regexp.MustCompile(`(?i)\b(?:href|src|action)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(m[1])
		require.NoError(t, err)
		assert.True(t, u.Host == "" && (u.Scheme == "" || u.Scheme == "data"), "the page names another origin: %s", m[0])
	}
}
