package phlotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/phlogo/phlo"
)

// Remote is a fake runner in another process or container, such as
// `phlo serve`, driven through its control API alone. It is safe for
// concurrent use.
type Remote struct {
	base      string // the base URL, without a trailing slash
	authID    string
	authToken string
	client    *http.Client
}

// Connect returns a Remote for the fake at baseURL (the PHLO_BASE_URL
// `phlo serve` prints, such as "http://127.0.0.1:8089") with its
// credentials. It sends nothing: a URL that is not http(s) with a host, or
// empty credentials, are an error at once.
func Connect(baseURL, authID, authToken string) (*Remote, error) {
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("phlotest: Connect: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("phlotest: Connect: %q is not an http or https URL with a host", baseURL)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("phlotest: Connect: %q has a query, fragment or user: give the base URL alone", baseURL)
	case authID == "" || authToken == "":
		return nil, errors.New("phlotest: Connect: the fake's auth ID and auth token are both needed")
	}
	return &Remote{
		base:      strings.TrimSuffix(u.String(), "/"),
		authID:    authID,
		authToken: authToken,
		client:    &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: time.Minute},
	}, nil
}

// RemoteError is a control request the fake refused.
type RemoteError struct {
	// Method and Path are the control request's.
	Method, Path string
	// StatusCode is the fake's answer.
	StatusCode int
	// Message is the fake's {"error"} text, or the start of its body.
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("phlotest: %s %s: %d %s", e.Method, e.Path, e.StatusCode, e.Message)
}

// CloseIdleConnections closes the connections r keeps open between calls.
func (r *Remote) CloseIdleConnections() { r.client.CloseIdleConnections() }

// AddMember puts a member into a multi-party call, creating the PHLO and
// the node if absent (PUT on the member's control path). An empty role is
// RoleAgent; a member already in the call takes the new role.
func (r *Remote) AddMember(ctx context.Context, phloID, nodeID, address string, role phlo.Role) error {
	body := map[string]phlo.Role{}
	if role != "" {
		body["role"] = role
	}
	return r.do(ctx, http.MethodPut, memberPath("multi_party_call", phloID, nodeID, address), body, nil)
}

// Member returns a call member's state; false if the call has no such
// member.
func (r *Remote) Member(ctx context.Context, phloID, nodeID, address string) (MemberState, bool, error) {
	var m MemberState
	found, err := r.get(ctx, memberPath("multi_party_call", phloID, nodeID, address), &m)
	return m, found, err
}

// AddBridgeMember puts a member into a conference bridge, creating the
// PHLO and the node if absent.
func (r *Remote) AddBridgeMember(ctx context.Context, phloID, nodeID, address string) error {
	return r.do(ctx, http.MethodPut, memberPath("conference_bridge", phloID, nodeID, address), struct{}{}, nil)
}

// BridgeMember returns a conference bridge member's state; false if the
// bridge has no such member.
func (r *Remote) BridgeMember(ctx context.Context, phloID, nodeID, address string) (BridgeMemberState, bool, error) {
	var m BridgeMemberState
	found, err := r.get(ctx, memberPath("conference_bridge", phloID, nodeID, address), &m)
	return m, found, err
}

// Inject queues f in the fake. A Fault with Match is refused, since a
// function cannot cross to another process: say it with Method, Action
// and PathPrefix. Delay is sent in whole milliseconds and RetryAfter in
// whole seconds, each rounded up.
func (r *Remote) Inject(ctx context.Context, f Fault) error {
	if f.Match != nil {
		return errors.New("phlotest: Remote.Inject: a Fault with Match cannot be sent to another process: use Method, Action and PathPrefix")
	}
	j := f.toJSON()
	j.DelayMS = int64((f.Delay + time.Millisecond - 1) / time.Millisecond)
	return r.do(ctx, http.MethodPost, "/__phlo/faults", j, nil)
}

// Requests returns the runner requests the fake received, oldest first,
// as Server.Requests does but without their headers, which the control API
// does not show.
func (r *Remote) Requests(ctx context.Context) ([]Request, error) {
	var got []requestJSON
	if err := r.do(ctx, http.MethodGet, "/__phlo/requests", nil, &got); err != nil {
		return nil, err
	}
	out := make([]Request, len(got))
	for i, g := range got {
		out[i] = Request{Method: g.Method, Path: g.Path, RawQuery: g.Query, Body: []byte(g.Body), Action: g.Action, Status: g.Status}
	}
	return out, nil
}

// Reset returns the fake to its start state and forgets its requests and
// faults.
func (r *Remote) Reset(ctx context.Context) error {
	return r.do(ctx, http.MethodPost, "/__phlo/reset", nil, nil)
}

// memberPath is the control path of a member, each ID one escaped segment.
func memberPath(kind, phloID, nodeID, address string) string {
	return "/__phlo/phlo/" + url.PathEscape(phloID) + "/" + kind + "/" + url.PathEscape(nodeID) + "/members/" + url.PathEscape(address)
}

// get reads path into out; false, with no error, for a 404.
func (r *Remote) get(ctx context.Context, path string, out any) (bool, error) {
	err := r.do(ctx, http.MethodGet, path, nil, out)
	var re *RemoteError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// do sends a control request with in as its JSON body, if not nil, and
// decodes a 2xx reply into out, if not nil.
func (r *Remote) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("phlotest: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, body)
	if err != nil {
		return fmt.Errorf("phlotest: %s %s: %w", method, path, err)
	}
	req.SetBasicAuth(r.authID, r.authToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("phlotest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxRecordedBytes*2))
	if err != nil {
		return fmt.Errorf("phlotest: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = logSafe(string(data), maxLoggedPath)
		}
		return &RemoteError{Method: method, Path: path, StatusCode: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("phlotest: %s %s: the reply is not what the control API sends: %w", method, path, err)
		}
	}
	return nil
}
