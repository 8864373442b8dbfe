package fsm

// appliedID is one remembered exactly-once id, in apply order.
type appliedID struct {
	id     string
	timeMs int64
	result Result
}

// idTable remembers the results of applied exactly-once ids for at least
// the retention (in log time) or the last minIDs ids, whichever keeps more.
type idTable struct {
	results map[string]Result
	// order holds the remembered ids oldest first; order[head:] is live.
	// Elements are never modified in place, so a snapshot may share it.
	order []appliedID
	head  int

	// retentionMs is the retention of the cluster's format: legacyMs
	// before FormatV3, v3Ms from it (useFormat).
	retentionMs, legacyMs, v3Ms int64
	minIDs                      int
}

func newIDTable(opts Options) idTable {
	legacy := opts.IDRetention.Milliseconds()
	v3 := legacy
	if opts.IDRetentionV3 != 0 {
		v3 = opts.IDRetentionV3.Milliseconds()
	}
	return idTable{results: make(map[string]Result), retentionMs: legacy, legacyMs: legacy, v3Ms: v3, minIDs: opts.MinIDs}
}

// useFormat sets the retention of the cluster's format version.
func (t *idTable) useFormat(format uint8) {
	if format >= FormatV3 {
		t.retentionMs = t.v3Ms
	} else {
		t.retentionMs = t.legacyMs
	}
}

func (t *idTable) lookup(id string) (Result, bool) {
	r, ok := t.results[id]
	return r, ok
}

func (t *idTable) add(id string, timeMs int64, r Result) {
	t.results[id] = r
	t.order = append(t.order, appliedID{id: id, timeMs: timeMs, result: r})
}

// live returns the remembered ids, oldest first, in a slice a snapshot may
// keep while the table goes on.
func (t *idTable) live() []appliedID {
	return t.order[t.head:len(t.order):len(t.order)]
}

// len returns how many ids are remembered.
func (t *idTable) len() int { return len(t.order) - t.head }

// forgetOld drops the oldest ids while more than minIDs are kept and the
// oldest is older than the retention, measured in log time.
func (t *idTable) forgetOld(nowMs int64) {
	cutoff := nowMs - t.retentionMs
	for len(t.order)-t.head > t.minIDs && t.order[t.head].timeMs < cutoff {
		// The element is not cleared: a snapshot may still be reading it.
		delete(t.results, t.order[t.head].id)
		t.head++
	}
	// Compact once the dead prefix is the larger part of the slice.
	if t.head > 1024 && t.head*2 > len(t.order) {
		t.order = append(t.order[:0:0], t.order[t.head:]...)
		t.head = 0
	}
}
