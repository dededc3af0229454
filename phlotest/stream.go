package phlotest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
)

// The big control replies (the whole state, the journal) are written a
// piece at a time, one at a time: encoding/json would build each whole in
// memory, tens of MiB at the caps, as many times as clients ask at once.

// streamed is a control reply written as it is made.
type streamed func(ctx context.Context, w *bufio.Writer) error

// bigReplyTurn waits until no other big reply is being made, and returns
// the function that ends this one's turn: only one big reply is in memory
// at a time.
func (s *Server) bigReplyTurn(r *http.Request) (func(), error) {
	select {
	case s.bigReply <- struct{}{}:
		return func() { <-s.bigReply }, nil
	case <-r.Context().Done():
	case <-s.closed:
	}
	return nil, fail(http.StatusServiceUnavailable, "the request ended before its turn")
}

// writeStreamed writes a streamed JSON reply.
func writeStreamed(w http.ResponseWriter, r *http.Request, write streamed) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	if write(r.Context(), bw) == nil {
		bw.Flush()
	}
}

// streamedList is a big reply that writes items as a JSON array, each with
// write, between begin and end, and then ends the reply's turn with
// release. Once the client is gone it writes no more items.
func streamedList[T any](release func(), begin string, items []T, write func(*jsonWriter, T), end string) streamed {
	return func(ctx context.Context, w *bufio.Writer) error {
		defer release()
		j := &jsonWriter{w: w}
		j.raw(begin)
		list(j, items, func(item T) {
			if ctx.Err() == nil {
				write(j, item)
			}
		})
		j.raw(end)
		return cmp.Or(j.err, ctx.Err())
	}
}

// jsonWriter writes JSON a piece at a time, keeping the first error.
type jsonWriter struct {
	w   *bufio.Writer
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonWriter) value(v any) {
	if j.err != nil {
		return
	}
	data, err := json.Marshal(v)
	if err == nil {
		_, err = j.w.Write(data)
	}
	j.err = err
}

// list writes items as a JSON array, each with write.
func list[T any](j *jsonWriter, items []T, write func(T)) {
	j.raw("[")
	for i, item := range items {
		if i > 0 {
			j.raw(",")
		}
		write(item)
	}
	j.raw("]")
}

// phlo writes p as json.Marshal would, its members one at a time.
func (j *jsonWriter) phlo(p PhloState) {
	j.raw(`{"phlo_id":`)
	j.value(p.PhloID)
	j.raw(`,"name":`)
	j.value(p.Name)
	j.raw(`,"multi_party_calls":`)
	list(j, p.MultiPartyCalls, func(n CallState) { writeNode(j, n.NodeID, n.Name, n.Members) })
	j.raw(`,"conference_bridges":`)
	list(j, p.ConferenceBridges, func(n BridgeState) { writeNode(j, n.NodeID, n.Name, n.Members) })
	j.raw(`,"runs":`)
	list(j, p.Runs, func(r RunState) { j.value(r) })
	j.raw("}")
}

// writeNode writes a node of either kind.
func writeNode[M any](j *jsonWriter, id, name string, members []M) {
	j.raw(`{"node_id":`)
	j.value(id)
	j.raw(`,"name":`)
	j.value(name)
	j.raw(`,"members":`)
	list(j, members, func(m M) { j.value(m) })
	j.raw("}")
}
