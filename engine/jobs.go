package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// JobID names a job within its Jobs registry.
type JobID int

// JobState is where a job is in its life.
type JobState uint8

const (
	JobRunning JobState = iota
	JobDone
	JobFailed
	JobCancelled
)

func (s JobState) String() string {
	switch s {
	case JobRunning:
		return "running"
	case JobDone:
		return "done"
	case JobFailed:
		return "failed"
	case JobCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("JobState(%d)", int(s))
}

// Finished reports whether the state is final.
func (s JobState) Finished() bool { return s != JobRunning }

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventStarted: the job was registered and its goroutine is starting.
	EventStarted EventKind = iota
	// EventProgress: the job reported progress. Under load a subscriber sees
	// only the latest progress of each job (older ones are merged away).
	EventProgress
	// EventDone, EventFailed and EventCancelled end a job; each subscriber
	// receives exactly one of them per job, never dropped.
	EventDone
	EventFailed
	EventCancelled
)

func (k EventKind) String() string {
	return [...]string{"started", "progress", "done", "failed", "cancelled"}[k]
}

// Event is one message of the engine's typed event stream.
type Event struct {
	Job      JobID
	Kind     EventKind
	Title    string
	Progress Progress
	// Result is the job function's result (EventDone only).
	Result any
	// Err is the failure (EventFailed) or the cancellation cause.
	Err error
	At  time.Time
}

// Terminal reports whether the event ends its job.
func (e Event) Terminal() bool { return e.Kind >= EventDone }

// JobFunc is the body of a job: long work in the engine's usual shape.
type JobFunc func(ctx context.Context, progress func(Progress)) (any, error)

// JobInfo is a snapshot of one job.
type JobInfo struct {
	ID       JobID
	Kind     string
	Title    string
	State    JobState
	Progress Progress
	Started  time.Time
	Finished time.Time
	Result   any
	Err      error
}

type job struct {
	info   JobInfo
	cancel context.CancelFunc
}

// Jobs is a registry of background jobs with one event stream. The zero value
// is not usable; call NewJobs.
type Jobs struct {
	mu     sync.Mutex
	next   JobID
	jobs   map[JobID]*job
	order  []JobID
	subs   map[*subscriber]struct{}
	active int
	idle   *sync.Cond
}

// NewJobs returns an empty registry.
func NewJobs() *Jobs {
	j := &Jobs{jobs: map[JobID]*job{}, subs: map[*subscriber]struct{}{}}
	j.idle = sync.NewCond(&j.mu)
	return j
}

// Start registers a job and then runs fn in its own goroutine. The job is
// visible to List, WaitIdle and subscribers before Start returns.
func (j *Jobs) Start(kind, title string, fn JobFunc) JobID {
	ctx, cancel := context.WithCancel(context.Background())
	j.mu.Lock()
	j.next++
	id := j.next
	jb := &job{info: JobInfo{ID: id, Kind: kind, Title: title, State: JobRunning, Started: time.Now()}, cancel: cancel}
	j.jobs[id] = jb
	j.order = append(j.order, id)
	j.active++
	j.publishLocked(Event{Job: id, Kind: EventStarted, Title: title, At: jb.info.Started})
	j.mu.Unlock()

	go func() {
		defer cancel()
		res, err := fn(ctx, func(p Progress) {
			j.mu.Lock()
			jb.info.Progress = p
			j.publishLocked(Event{Job: id, Kind: EventProgress, Title: title, Progress: p, At: time.Now()})
			j.mu.Unlock()
		})
		j.finish(jb, res, err, ctx)
	}()
	return id
}

func (j *Jobs) finish(jb *job, res any, err error, ctx context.Context) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ev := Event{Job: jb.info.ID, Title: jb.info.Title, Progress: jb.info.Progress, At: time.Now()}
	switch {
	case err == nil:
		jb.info.State, ev.Kind, ev.Result = JobDone, EventDone, res
		jb.info.Result = res
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		jb.info.State, ev.Kind, ev.Err = JobCancelled, EventCancelled, err
		jb.info.Err = err
	default:
		jb.info.State, ev.Kind, ev.Err = JobFailed, EventFailed, err
		jb.info.Err = err
	}
	jb.info.Finished = ev.At
	j.active--
	j.publishLocked(ev)
	j.idle.Broadcast()
}

// Cancel asks a running job to stop; it reports whether the job was running.
func (j *Jobs) Cancel(id JobID) bool {
	j.mu.Lock()
	jb, ok := j.jobs[id]
	running := ok && jb.info.State == JobRunning
	j.mu.Unlock()
	if running {
		jb.cancel()
	}
	return running
}

// CancelAll cancels every running job.
func (j *Jobs) CancelAll() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, jb := range j.jobs {
		if jb.info.State == JobRunning {
			jb.cancel()
		}
	}
}

// Get returns a snapshot of one job.
func (j *Jobs) Get(id JobID) (JobInfo, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	jb, ok := j.jobs[id]
	if !ok {
		return JobInfo{}, false
	}
	return jb.info, true
}

// List returns snapshots of every job, oldest first.
func (j *Jobs) List() []JobInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]JobInfo, 0, len(j.order))
	for _, id := range j.order {
		out = append(out, j.jobs[id].info)
	}
	return out
}

// Running returns how many jobs are running.
func (j *Jobs) Running() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.active
}

// WaitIdle blocks until no job is running or ctx ends.
func (j *Jobs) WaitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		j.mu.Lock()
		j.idle.Broadcast()
		j.mu.Unlock()
	})
	defer stop()
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.active > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		j.idle.Wait()
	}
	return nil
}

// Subscribe returns the event stream of every job started from now on (and
// the end of those already running) until ctx ends, when the channel closes.
// A slow reader never blocks a job: pending progress events of a job are
// merged into the latest one, while Started and terminal events queue.
func (j *Jobs) Subscribe(ctx context.Context) <-chan Event {
	s := &subscriber{out: make(chan Event), wake: make(chan struct{}, 1)}
	j.mu.Lock()
	j.subs[s] = struct{}{}
	j.mu.Unlock()
	go func() {
		defer close(s.out)
		defer func() {
			j.mu.Lock()
			delete(j.subs, s)
			j.mu.Unlock()
		}()
		for {
			ev, ok := s.pop()
			if !ok {
				select {
				case <-s.wake:
					continue
				case <-ctx.Done():
					return
				}
			}
			select {
			case s.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s.out
}

func (j *Jobs) publishLocked(ev Event) {
	for s := range j.subs {
		s.push(ev)
	}
}

// subscriber holds one reader's queue. Its queue holds at most one progress
// event per job, so its length is bounded by the number of jobs' starts and
// ends, never by how often they report progress.
type subscriber struct {
	mu    sync.Mutex
	queue []Event
	out   chan Event
	wake  chan struct{}
}

func (s *subscriber) push(ev Event) {
	s.mu.Lock()
	if ev.Kind == EventProgress {
		if i := slices.IndexFunc(s.queue, func(q Event) bool { return q.Job == ev.Job && q.Kind == EventProgress }); i >= 0 {
			s.queue[i] = ev
			s.mu.Unlock()
			return
		}
	}
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) pop() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Event{}, false
	}
	ev := s.queue[0]
	s.queue = slices.Delete(s.queue, 0, 1)
	return ev, true
}
