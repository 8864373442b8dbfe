package fsm

import (
	"fmt"
	"time"
)

// PredictEntry returns the results the writes of an encoded batch entry
// would have if it were applied now, without changing the state: it applies
// the entry to a copy. Only the robustness suite's mutant "earlyack" has
// this file (see robustness/mutants.go).
//
// The copy shares the seat trees copy-on-write (copying a tree marks it
// shared, a write: hence the write lock) and has its own event and id maps;
// of the applied ids it holds only those the entry names, so a copy costs
// O(events + writes), not O(ids).
func (f *FSM) PredictEntry(data []byte) ([]Result, error) {
	e, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	if e.Type != TypeBatch {
		return nil, fmt.Errorf("predict: entry of type %d is not a batch", e.Type)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.st
	c := &state{
		format:      s.format,
		lastTimeMs:  s.lastTimeMs,
		nextEventID: s.nextEventID,
		events:      make(map[string]*event, len(s.events)),
		byID:        make(map[uint64]*event, len(s.byID)),
		expiries:    s.expiries.Copy(),
		ids:         newIDTable(Options{IDRetention: time.Duration(s.ids.retentionMs) * time.Millisecond, MinIDs: s.ids.minIDs}),
	}
	for _, ev := range s.events {
		ec := *ev
		ec.recs = ev.recs.Copy()
		c.addEvent(&ec)
	}
	for _, w := range e.Writes {
		if w.ID == "" {
			continue
		}
		if r, ok := s.ids.lookup(w.ID); ok {
			c.ids.add(w.ID, s.lastTimeMs, r)
		}
	}
	return c.apply(&e, 0), nil
}
