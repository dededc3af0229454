// Package benchmarks compares holding a multi-party call member, from its
// IDs, through this SDK, through Plivo's official Go SDK
// (github.com/plivo/plivo-go/v7), and by hand with net/http. It is a module
// of its own so that users of the SDK never download plivo-go.
//
//	cd benchmarks && go test -bench . -benchmem
//
// The runner they all talk to is phlotest's fake, in a child process on
// loopback, so that -benchmem counts the clients' allocations only.
package benchmarks
