package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

func collect(t *testing.T, ch <-chan Event, until func(Event) bool) []Event {
	t.Helper()
	var evs []Event
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
			if until(ev) {
				return evs
			}
		case <-timeout:
			t.Fatalf("timed out; events so far: %+v", evs)
		}
	}
}

func TestJobsLifecycle(t *testing.T) {
	t.Parallel()
	j := NewJobs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := j.Subscribe(ctx)

	boom := errors.New("boom")
	tests := []struct {
		name string
		fn   JobFunc
		want EventKind
	}{
		{"done", func(ctx context.Context, p func(Progress)) (any, error) {
			p(Progress{Index: 1, Count: 1})
			return 42, nil
		}, EventDone},
		{"failed", func(ctx context.Context, p func(Progress)) (any, error) { return nil, boom }, EventFailed},
	}
	for _, tc := range tests {
		id := j.Start("test", tc.name, tc.fn)
		evs := collect(t, ch, func(e Event) bool { return e.Job == id && e.Terminal() })
		if evs[0].Kind != EventStarted || evs[0].Job != id {
			t.Errorf("%s: first event %+v, want started", tc.name, evs[0])
		}
		last := evs[len(evs)-1]
		if last.Kind != tc.want {
			t.Errorf("%s: last event %v, want %v", tc.name, last.Kind, tc.want)
		}
		info, _ := j.Get(id)
		switch tc.want {
		case EventDone:
			if last.Result != 42 || info.State != JobDone {
				t.Errorf("done: result %v state %v", last.Result, info.State)
			}
		case EventFailed:
			if !errors.Is(last.Err, boom) || info.State != JobFailed {
				t.Errorf("failed: err %v state %v", last.Err, info.State)
			}
		}
	}
	if got := len(j.List()); got != 2 {
		t.Errorf("List has %d jobs, want 2", got)
	}
}

func TestJobsCancel(t *testing.T) {
	t.Parallel()
	j := NewJobs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := j.Subscribe(ctx)
	started := make(chan struct{})
	id := j.Start("test", "blocker", func(ctx context.Context, p func(Progress)) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if j.Running() != 1 {
		t.Fatalf("Running = %d right after Start, want 1 (registered before the goroutine)", j.Running())
	}
	<-started
	if !j.Cancel(id) {
		t.Fatal("Cancel of a running job returned false")
	}
	evs := collect(t, ch, func(e Event) bool { return e.Terminal() })
	if k := evs[len(evs)-1].Kind; k != EventCancelled {
		t.Fatalf("terminal event %v, want cancelled", k)
	}
	if err := j.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j.Cancel(id) {
		t.Error("Cancel of a finished job returned true")
	}
}

// A subscriber that does not read while a job reports thousands of progress
// events must not block the job, and must still get every terminal event.
func TestJobsSlowSubscriberCoalesces(t *testing.T) {
	t.Parallel()
	j := NewJobs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := j.Subscribe(ctx)
	const jobs, steps = 5, 10000
	for i := range jobs {
		j.Start("test", "spam", func(ctx context.Context, p func(Progress)) (any, error) {
			for s := range steps {
				p(Progress{Index: s + 1, Count: steps})
			}
			return i, nil
		})
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := j.WaitIdle(wctx); err != nil {
		t.Fatalf("jobs blocked by a subscriber that does not read: %v", err)
	}
	done := 0
	var progress int
	evs := collect(t, ch, func(e Event) bool {
		if e.Kind == EventDone {
			done++
		}
		return done == jobs
	})
	for _, e := range evs {
		if e.Kind == EventProgress {
			progress++
			if e.Progress.Index != steps {
				t.Errorf("merged progress of job %d is %d, want the latest (%d)", e.Job, e.Progress.Index, steps)
			}
		}
	}
	if progress > jobs {
		t.Errorf("%d progress events reached an idle subscriber, want at most %d", progress, jobs)
	}
}

func TestJobsWaitIdleHonoursContext(t *testing.T) {
	t.Parallel()
	j := NewJobs()
	release := make(chan struct{})
	j.Start("test", "held", func(ctx context.Context, p func(Progress)) (any, error) {
		<-release
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := j.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle = %v, want deadline exceeded", err)
	}
	close(release)
	if err := j.WaitIdle(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSubscribeClosesOnCancel(t *testing.T) {
	t.Parallel()
	j := NewJobs()
	ctx, cancel := context.WithCancel(context.Background())
	ch := j.Subscribe(ctx)
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("got an event, want a closed channel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}
