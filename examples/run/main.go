// Command run starts a PHLO and reads the run back.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it runs the PHLO named by
// PHLO_ID with PHLO_FROM and PHLO_TO as its payload, on the runner
// PHLO_BASE_URL names (Plivo's when it is not set). Without them it uses a
// fake PHLO runner in the process; either way it says which runner it acts
// on:
//
//	go run ./examples/run
//
// To use it in a service, copy it and delete the block that starts the fake.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phloID, from, to := os.Getenv("PHLO_ID"), os.Getenv("PHLO_FROM"), os.Getenv("PHLO_TO")

	// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN, the runner's
	// address from PHLO_BASE_URL when it is set.
	client, err := phlo.NewRestClient("", "", phlo.WithUserAgent("phlo-example/1"))
	fake := errors.Is(err, phlo.ErrMissingCredentials)
	if fake {
		// No credentials: use a fake runner in this process instead, but
		// only when none of the runner's variables is set, so that a typo
		// in one never silently tests the fake.
		if err := onlyFakeWithNothingSet(); err != nil {
			fail(err)
		}
		srv := phlotest.NewServer()
		defer srv.Close()
		phloID, from, to = "demo-phlo", "+14155550100", "+14155550111"
		srv.AddPhlo(phloID, "Demo PHLO")
		fmt.Printf("%s and %s are not set: ", phlo.EnvAuthID, phlo.EnvAuthToken)
		client, err = phlo.NewRestClient(srv.AuthID, srv.AuthToken, phlo.WithBaseURL(srv.URL), phlo.WithUserAgent("phlo-example/1"))
	}
	if err != nil {
		fail(err)
	}
	fmt.Println("acting on " + describeRunner(client, fake))
	if phloID == "" || from == "" || to == "" {
		fail(errors.New("credentials are set, so this example runs a PHLO of that runner; set PHLO_ID, PHLO_FROM, PHLO_TO too"))
	}

	p := client.Phlo(phloID)
	info, err := p.Get(ctx)
	if err != nil {
		fail(err)
	}
	fmt.Printf("PHLO %s %q, created %s\n", info.PhloID, info.Name, info.CreatedOn.Format(time.RFC3339))

	res, err := p.Run(ctx, map[string]any{"from": from, "to": to})
	if err != nil {
		fail(err)
	}
	fmt.Printf("run: api_id=%s run_id=%s message=%q\n", res.APIID, res.RunID, res.Message)

	run, err := p.GetRun(ctx, res.RunID)
	if err != nil {
		fail(err)
	}
	fmt.Printf("run %s: calls=%v messages=%v recordings=%v\n", run.RunID, run.CallUUIDs, run.MessageUUIDs, run.RecordingIDs)
}

// onlyFakeWithNothingSet refuses the fake when only some of the runner's
// variables are set: the user meant a real runner and mistyped or forgot one,
// and says which one is missing.
func onlyFakeWithNothingSet() error {
	id, token, base := os.Getenv(phlo.EnvAuthID) != "", os.Getenv(phlo.EnvAuthToken) != "", os.Getenv(phlo.EnvBaseURL) != ""
	switch {
	case id && !token:
		return fmt.Errorf("%s is set but %s is not: set both to act on a real call, or neither to use the fake", phlo.EnvAuthID, phlo.EnvAuthToken)
	case token && !id:
		return fmt.Errorf("%s is set but %s is not: set both to act on a real call, or neither to use the fake", phlo.EnvAuthToken, phlo.EnvAuthID)
	case base:
		return fmt.Errorf("%s is set but %s and %s are not: set them to act on that runner, or unset %s to use the fake",
			phlo.EnvBaseURL, phlo.EnvAuthID, phlo.EnvAuthToken, phlo.EnvBaseURL)
	}
	return nil
}

// describeRunner says which runner the client acts on, so that a run
// against a fake is never taken for a real call.
func describeRunner(client *phlo.RestClient, fake bool) string {
	base := strings.TrimSuffix(client.BaseURL(), "/v1")
	switch {
	case fake:
		return "the fake PHLO runner in this process, at " + base
	case base == phlo.DefaultBaseURL:
		return "Plivo's PHLO runner, at " + base + ": real calls"
	}
	return "the PHLO runner at " + base + " (" + phlo.EnvBaseURL + "), not Plivo's"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
