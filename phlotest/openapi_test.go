package phlotest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

// The dashboard is text, as kin-openapi reads text/plain.
func init() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.RegisteredBodyDecoder("text/plain"))
}

// TestOpenAPI: the description the fake serves is valid OpenAPI 3, and
// the fake's replies, successes and errors, runner and control API, are
// what it describes. Every operation it describes is exercised.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, c := startCtl(t)
	r := c.do("GET", "/__phlo/openapi.json", "")
	require.Equal(t, 200, r.status)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx))
	require.Equal(t, "/", doc.Servers[0].URL, "the API is on the server that serves its description")
	doc.Servers[0].URL = srv.URL // where the relative URL resolves
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)

	srv.AddPhlo(pID, "Support")
	srv.AddMember(pID, nID, agent, phlo.RoleAgent)
	srv.AddMember(pID, nID, customer, phlo.RoleCustomer)
	srv.AddBridgeMember(pID, "b1", customer)
	run, err := srv.Client().Phlo(pID).Run(ctx, map[string]any{"to": "+1"})
	require.NoError(t, err)
	mpc, bridge := "/v1/phlo/"+pID+"/multi_party_call/"+nID, "/v1/phlo/"+pID+"/conference_bridge/b1"
	ctlMpc, ctlBridge := "/__phlo/phlo/"+pID+"/multi_party_call/"+nID, "/__phlo/phlo/"+pID+"/conference_bridge/b1"
	runPath := "/v1/account/" + srv.AuthID + "/phlo/" + pID
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v1/phlo/" + pID, "", 200},
		{"GET", "/v1/phlo/nope", "", 404},
		{"POST", "/v1/phlo/" + pID, "{}", 405},
		{"POST", runPath, `{"to":"+1"}`, 201},
		{"POST", runPath, ``, 201},
		{"POST", runPath, `[`, 400},
		{"GET", "/v1/phlo/" + pID + "/runs/" + run.RunID, "", 200},
		{"GET", "/v1/phlo/" + pID + "/runs/nope", "", 404},
		{"GET", mpc, "", 200},
		{"POST", mpc, `{"action":"call","trigger_source":"` + agent + `","to":"+14155550111","role":"customer"}`, 201},
		{"POST", mpc, `{"action":"call","trigger_source":"` + agent + `"}`, 400},
		{"POST", mpc, `{"action":"call","trigger_source":"` + agent + `","to":"` + strings.Repeat("1", 300) + `"}`, 409},
		{"POST", mpc + "/members/" + customer, `{"action":"hold"}`, 201},
		{"POST", mpc + "/members/+19", `{"action":"hold"}`, 404},
		{"GET", bridge, "", 200},
		{"POST", bridge + "/members/" + customer, `{"action":"mute"}`, 201},
		{"GET", "/__phlo/", "", 200},
		{"GET", "/__phlo/health", "", 200},
		{"GET", "/__phlo/openapi.json", "", 200},
		{"GET", "/__phlo/state", "", 200},
		{"GET", "/__phlo/requests", "", 200},
		{"GET", "/__phlo/requests?action=hold", "", 200},
		{"POST", "/__phlo/faults", `{"status":503,"action":"nothing","header":{"X-A":"b"}}`, 201},
		{"POST", "/__phlo/faults", `{"status":42}`, 400},
		{"GET", "/__phlo/faults", "", 200},
		{"PUT", "/__phlo/phlo/p2", `{"name":"Sales"}`, 200},
		{"GET", "/__phlo/phlo/" + pID, "", 200},
		{"PUT", ctlMpc, `{"name":"Queue"}`, 200},
		{"GET", ctlMpc, "", 200},
		{"PUT", ctlMpc + "/members/+15", `{"role":"customer"}`, 200},
		{"PUT", ctlMpc + "/members/+16", `{"role":"boss"}`, 400},
		{"GET", ctlMpc + "/members/+15", "", 200},
		{"GET", ctlMpc + "/members/+16", "", 404},
		{"DELETE", ctlMpc + "/members/+15", "", 204},
		{"PUT", ctlBridge, `{}`, 200},
		{"GET", ctlBridge, "", 200},
		{"PUT", ctlBridge + "/members/+17", `{}`, 200},
		{"GET", ctlBridge + "/members/+17", "", 200},
		{"DELETE", ctlBridge + "/members/+17", "", 204},
		{"DELETE", ctlBridge, "", 204},
		{"PUT", "/__phlo/phlo/p3/conference_bridge/x", ``, 200},
		{"DELETE", "/__phlo/phlo/p3/multi_party_call/x", "", 404},
		{"DELETE", "/__phlo/phlo/p2", "", 204},
		{"DELETE", "/__phlo/faults", "", 204},
		{"DELETE", "/__phlo/requests", "", 204},
		{"POST", "/__phlo/reset", "", 204},
		{"GET", "/__phlo/state", "", 200},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
		require.NoError(t, err)
		req.SetBasicAuth(srv.AuthID, srv.AuthToken)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, routeErr := router.FindRoute(req)
		if tc.status == http.StatusMethodNotAllowed {
			require.Error(t, routeErr, "%s %s is not described", tc.method, tc.path)
			get := req.Clone(ctx)
			get.Method = "GET"
			_, _, err := router.FindRoute(get)
			require.NoError(t, err, "GET %s is described", tc.path)
		} else {
			require.NoError(t, routeErr, "%s %s is described", tc.method, tc.path)
			seen[route.Operation.OperationID] = true
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s: %s", tc.method, tc.path, data)

		if routeErr != nil {
			continue
		}
		if tc.body != "" {
			req.Body = io.NopCloser(strings.NewReader(tc.body))
		}
		err = validateReply(ctx, req, route, params, resp, data)
		assert.NoError(t, err, "%s %s answered %d %s", tc.method, tc.path, resp.StatusCode, data)
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			assert.True(t, seen[op.OperationID], "operation %s is exercised", op.OperationID)
		}
	}
}

// validateReply checks a reply against the operation route describes.
func validateReply(ctx context.Context, req *http.Request, route *routers.Route, params map[string]string, resp *http.Response, data []byte) error {
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(data)),
		Options:                opts,
	}
	return openapi3filter.ValidateResponse(ctx, in)
}

// TestOpenAPIRefusesWhatItDoesNotDescribe: a reply with a field the
// description does not name fails the check, so the check can fail.
func TestOpenAPIRefusesWhatItDoesNotDescribe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c := startCtl(t)
	doc, err := openapi3.NewLoader().LoadFromData(c.do("GET", "/__phlo/openapi.json", "").body)
	require.NoError(t, err)
	doc.Servers[0].URL = c.srv.URL
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	req, _ := http.NewRequest("GET", c.srv.URL+"/__phlo/health", nil)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}}
	assert.NoError(t, validateReply(ctx, req, route, params, resp, []byte(`{"status":"ok"}`)))
	assert.Error(t, validateReply(ctx, req, route, params, resp, []byte(`{"status":"ok","extra":1}`)))
	assert.Error(t, validateReply(ctx, req, route, params, &http.Response{StatusCode: 500, Header: resp.Header}, []byte(`{}`)))
}
