package phlo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Phlo is a handle on one PHLO, made by [RestClient.Phlo]. Making it costs
// no I/O; it is checked when a call is made, and a handle that no
// [RestClient] made, or an empty ID, is an error matching
// [ErrInvalidArgument] before anything is sent.
type Phlo struct {
	client *RestClient
	id     string
}

// Phlo returns a handle on the PHLO phloID, to reach its nodes through
// [Phlo.MultiPartyCall] and [Phlo.ConferenceBridge].
func (c *RestClient) Phlo(phloID string) *Phlo {
	return &Phlo{client: c, id: phloID}
}

// ID returns the PHLO's ID, or "" for a nil handle.
func (p *Phlo) ID() string {
	if p == nil {
		return ""
	}
	return p.id
}

// errNoClient is the error of a handle that no RestClient made.
var errNoClient = &ArgumentError{Name: "client", Reason: "is nil: make one with NewRestClient", kind: ErrInvalidArgument}

func (p *Phlo) check() error {
	if p == nil || p.client == nil || p.client.creds == nil {
		return errNoClient
	}
	return checkSegment("phloID", p.id)
}

// PhloInfo describes a PHLO, as [Phlo.Get] reads it.
type PhloInfo struct {
	// APIID identifies the request.
	APIID string `json:"api_id"`
	// PhloID is the PHLO's ID.
	PhloID string `json:"phlo_id"`
	// Name is the PHLO's name.
	Name string `json:"name"`
	// CreatedOn is when the PHLO was created.
	CreatedOn time.Time `json:"created_on"`
}

// UnmarshalJSON reads created_on in the API's own format.
func (i *PhloInfo) UnmarshalJSON(data []byte) error {
	type plain PhloInfo
	var v struct {
		*plain
		CreatedOn apiTime `json:"created_on"`
	}
	v.plain = (*plain)(i)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	i.CreatedOn = time.Time(v.CreatedOn)
	return nil
}

// Get fetches the PHLO's details.
func (p *Phlo) Get(ctx context.Context) (*PhloInfo, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	var info PhloInfo
	r := Request{Method: http.MethodGet, Path: []string{"phlo", p.id}, op: operation{action: "get"}}
	if err := p.client.do(ctx, &r, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// RunResult is the reply to [Phlo.Run].
type RunResult struct {
	// APIID identifies the request; for a run it is the run's ID.
	APIID string `json:"api_id"`
	// PhloID is the PHLO's ID.
	PhloID string `json:"phlo_id"`
	// RunID identifies the run, for [Phlo.GetRun]. It is the reply's
	// phlo_run_id, or its api_id when there is none: the runner's api_id
	// for a run is the run's ID.
	RunID string `json:"phlo_run_id"`
	// Message is the runner's word on the run.
	Message string `json:"message"`
}

// Run starts the PHLO. payload holds the values its Start node defines, such
// as {"from": "+14155550100", "to": "+14155550111"}; nil sends {}.
//
// A run is never sent twice once it may have reached the server, since a
// second send could start a second set of calls.
func (p *Phlo) Run(ctx context.Context, payload map[string]any) (*RunResult, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	for k := range payload {
		if err := checkText("payload key", k); err != nil {
			return nil, err
		}
	}
	var body any = emptyObject
	if payload != nil {
		body = payload
	}
	var res RunResult
	r := Request{Method: http.MethodPost, Path: []string{"account", p.client.creds().authID, "phlo", p.id}, Body: body, op: operation{action: "run"}}
	if err := p.client.do(ctx, &r, &res); err != nil {
		return nil, err
	}
	if res.RunID == "" {
		res.RunID = res.APIID
	}
	return &res, nil
}

var emptyObject any = json.RawMessage(`{}`)

// PhloRun is what the runner reports about one run of a PHLO, as
// [Phlo.GetRun] reads it.
type PhloRun struct {
	// APIID identifies the request.
	APIID string `json:"api_id"`
	// PhloID is the PHLO's ID.
	PhloID string `json:"phlo_id"`
	// RunID is the run's ID.
	RunID string `json:"run_id"`
	// CallUUIDs are the calls the run made.
	CallUUIDs []string `json:"call_uuids"`
	// MessageUUIDs are the messages the run sent.
	MessageUUIDs []string `json:"message_uuids"`
	// RecordingIDs are the recordings the run made.
	RecordingIDs []string `json:"recording_ids"`
	// Raw is the whole reply, so that fields the SDK does not know yet are
	// not lost.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw reply beside the known fields.
func (r *PhloRun) UnmarshalJSON(data []byte) error {
	type plain PhloRun
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	r.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// GetRun fetches one run of the PHLO, by the [RunResult.RunID] that
// [Phlo.Run] returned.
//
// The run endpoint's reply is not fully documented: the fields of [PhloRun]
// are those one official SDK reads, and [PhloRun.Raw] holds everything the
// server sent.
func (p *Phlo) GetRun(ctx context.Context, runID string) (*PhloRun, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if err := checkSegment("runID", runID); err != nil {
		return nil, err
	}
	var run PhloRun
	r := Request{Method: http.MethodGet, Path: []string{"phlo", p.id, "runs", runID}, op: operation{action: "get_run"}}
	if err := p.client.do(ctx, &r, &run); err != nil {
		return nil, err
	}
	return &run, nil
}

// apiTime reads the runner's timestamps, "2020-08-01 09:05:11.846982+00:00",
// and RFC 3339 as well, in case the format is ever made standard.
type apiTime time.Time

var apiTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// UnmarshalJSON reads null or "" as the zero time.
func (t *apiTime) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("created_on: %w", err)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	for _, layout := range apiTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = apiTime(v)
			return nil
		}
	}
	return fmt.Errorf("created_on: unknown time format %q", s)
}
