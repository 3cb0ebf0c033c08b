package engine

import (
	"context"
	"io"
	"time"

	"mlmf/formats"
)

// trackProgress wraps every tensor's Data so that a writer consuming them
// checks ctx before each tensor (cancel stops between tensors, leaving the
// atomic output unwritten) and reports progress after it. sizes are the
// tensors' output byte sizes.
func trackProgress(ctx context.Context, tensors []formats.Tensor, sizes []int64, start time.Time, progress func(Progress)) {
	var done, total int64
	for _, s := range sizes {
		total += s
	}
	for i := range tensors {
		inner, name := tensors[i].Data, tensors[i].Name
		tensors[i].Data = writerToFunc(func(w io.Writer) (int64, error) {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			n, err := inner.WriteTo(w)
			if err != nil {
				return n, err
			}
			done += sizes[i]
			if progress != nil {
				progress(Progress{Tensor: name, Index: i + 1, Count: len(tensors), Bytes: done, TotalBytes: total, Elapsed: time.Since(start)})
			}
			return n, nil
		})
	}
}

type writerToFunc func(w io.Writer) (int64, error)

func (f writerToFunc) WriteTo(w io.Writer) (int64, error) { return f(w) }
