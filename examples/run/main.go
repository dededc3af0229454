// Command run starts a PHLO and reads the run back.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it runs the real PHLO named by
// PHLO_ID with PHLO_FROM and PHLO_TO as its payload. Without them it uses a
// fake PHLO runner in the process:
//
//	go run ./examples/run
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/phlogo/phlo/examples/internal/demo"
)

func main() {
	need := map[string]string{"PHLO_FROM": "+14155550100", "PHLO_TO": "+14155550111"}
	setup, vars, err := demo.Connect(false, need, nil)
	if err != nil {
		demo.Fail(err)
	}
	defer setup.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p := setup.Client.Phlo(setup.PhloID)
	info, err := p.Get(ctx)
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("PHLO %s %q, created %s\n", info.PhloID, info.Name, info.CreatedOn.Format(time.RFC3339))

	res, err := p.Run(ctx, map[string]any{"from": vars["PHLO_FROM"], "to": vars["PHLO_TO"]})
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("run: api_id=%s run_id=%s message=%q\n", res.APIID, res.PhloRunID, res.Message)

	run, err := p.GetRun(ctx, res.PhloRunID)
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("run %s: calls=%v messages=%v recordings=%v\n", run.RunID, run.CallUUIDs, run.MessageUUIDs, run.RecordingIDs)
}
