package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/tui/common"
)

// Forward sends every engine event to send (a Program's Send) until ctx
// ends: the one goroutine that carries the engine's event stream into the UI.
func Forward(ch <-chan engine.Event, send func(tea.Msg)) {
	for ev := range ch {
		send(common.EventMsg{Event: ev})
	}
}

// Run runs the TUI until the user quits, cancelling running jobs on the way out.
func Run(ctx context.Context, opt Options, progOpts ...tea.ProgramOption) error {
	m := New(opt)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := m.c.Deps.Jobs.Subscribe(ctx)
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, progOpts...)...)
	go Forward(events, p.Send)
	_, err := p.Run()
	m.c.Deps.Jobs.CancelAll()
	return err
}
