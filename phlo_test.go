package phlo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

func TestGetPhlo(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusOK, `{"api_id":"g-1","phlo_id":"p:1","name":"Support line","created_on":"2020-08-01 09:05:11.846982+00:00"}`)
	p := c.Phlo("p:1")
	assert.Equal(t, "p:1", p.ID())
	info, err := p.Get(context.Background())
	require.NoError(t, err)
	assert.True(t, info.CreatedOn.Equal(time.Date(2020, 8, 1, 9, 5, 11, 846982000, time.UTC)))
	info.CreatedOn = time.Time{}
	assert.Equal(t, &phlo.PhloInfo{APIID: "g-1", PhloID: "p:1", Name: "Support line"}, info)

	w := rec.last(t)
	assert.Equal(t, http.MethodGet, w.Method)
	assert.Equal(t, "/v1/phlo/p:1", w.Path)
	assertJSONHeaders(t, w, false)
}

func TestCreatedOnFormats(t *testing.T) {
	t.Parallel()
	want := time.Date(2020, 8, 1, 9, 5, 11, 846982000, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`"2020-08-01 09:05:11.846982+00:00"`, want},
		{`"2020-08-01 14:35:11.846982+05:30"`, want},
		{`"2020-08-01T09:05:11.846982Z"`, want},
		{`"2020-08-01 09:05:11.846982"`, want},
		{`"2020-08-01 09:05:11+00:00"`, want.Truncate(time.Second)},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
	} {
		var info phlo.PhloInfo
		require.NoError(t, json.Unmarshal([]byte(`{"created_on":`+tc.in+`}`), &info), tc.in)
		assert.True(t, info.CreatedOn.Equal(tc.want), "%s gave %v", tc.in, info.CreatedOn)
	}
	for _, bad := range []string{`"yesterday"`, `42`, `{}`} {
		var info phlo.NodeInfo
		assert.Error(t, json.Unmarshal([]byte(`{"created_on":`+bad+`}`), &info), bad)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		payload  map[string]any
		wantBody string
	}{
		{"nil payload sends {}", nil, `{}`},
		{"empty payload", map[string]any{}, `{}`},
		{"payload", map[string]any{"from": "+14155550100", "to": "+14155550111", "n": 3}, `{"from":"+14155550100","n":3,"to":"+14155550111"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := mockClient(t, http.StatusCreated, `{"api_id":"run-1","phlo_id":"p","message":"PHLO run initiated."}`)
			res, err := c.Phlo("p").Run(context.Background(), tc.payload)
			require.NoError(t, err)
			assert.Equal(t, &phlo.RunResult{APIID: "run-1", PhloID: "p", RunID: "run-1", Message: "PHLO run initiated."}, res)

			w := rec.last(t)
			assert.Equal(t, http.MethodPost, w.Method)
			assert.Equal(t, "/v1/account/"+testAuthID+"/phlo/p", w.Path)
			assertJSONHeaders(t, w, true)
			assert.Equal(t, tc.wantBody, string(w.Body))
		})
	}
}

func TestRunKeepsRunID(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t, http.StatusCreated, `{"api_id":"a","phlo_id":"p","phlo_run_id":"r","message":"ok"}`)
	res, err := c.Phlo("p").Run(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, "r", res.RunID)
	assert.Equal(t, "a", res.APIID)
}

func TestRunRejectsBadInput(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusCreated, `{}`)
	_, err := c.Phlo("").Run(context.Background(), nil)
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	_, err = c.Phlo("p").Run(context.Background(), map[string]any{"bad\x00key": 1})
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	_, err = c.Phlo("p").Run(context.Background(), map[string]any{"f": func() {}})
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "Request.Body")
	assert.Empty(t, rec.all())
}

func TestGetRun(t *testing.T) {
	t.Parallel()
	body := `{"api_id":"g-9","phlo_id":"p","run_id":"r/1","call_uuids":["c1","c2"],"message_uuids":[],"recording_ids":["rec1"],"status":"completed"}`
	c, rec := mockClient(t, http.StatusOK, body)
	run, err := c.Phlo("p").GetRun(context.Background(), "r/1")
	require.NoError(t, err)
	assert.Equal(t, "g-9", run.APIID)
	assert.Equal(t, "p", run.PhloID)
	assert.Equal(t, "r/1", run.RunID)
	assert.Equal(t, []string{"c1", "c2"}, run.CallUUIDs)
	assert.Equal(t, []string{}, run.MessageUUIDs)
	assert.Equal(t, []string{"rec1"}, run.RecordingIDs)
	assert.JSONEq(t, body, string(run.Raw), "fields the SDK does not know are kept")

	w := rec.last(t)
	assert.Equal(t, http.MethodGet, w.Method)
	assert.Equal(t, "/v1/phlo/p/runs/r%2F1", w.Path)
	assertJSONHeaders(t, w, false)

	_, err = c.Phlo("p").GetRun(context.Background(), "..")
	var argErr *phlo.ArgumentError
	require.ErrorAs(t, err, &argErr)
	assert.Equal(t, "runID", argErr.Name)
	assert.Len(t, rec.all(), 1)
}
