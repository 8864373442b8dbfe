package metrics

import (
	"testing"
	"time"

	gometrics "github.com/armon/go-metrics"
)

func TestResultLabel(t *testing.T) {
	for answer, want := range map[string]string{
		"SUCCESS":                       "SUCCESS",
		"FAILED_ALREADY_BOOKED 4,9":     "FAILED_ALREADY_BOOKED",
		"HELD 1700000000000":            "HELD",
		"ERROR TIMEOUT outcome unknown": "ERROR_TIMEOUT",
		"ERROR NO_LEADER":               "ERROR_NO_LEADER",
		"SEATS 5 FREE 5 BOOKED 0":       "SEATS",
		"":                              "",
	} {
		if got := resultLabel(answer); got != want {
			t.Errorf("resultLabel(%q) = %q, want %q", answer, got, want)
		}
	}
}

// gauges gathers the Set's registry and returns the gauge family name's
// values by their labels.
func gauges(t *testing.T, s *Set, name string) map[string]float64 {
	t.Helper()
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				got[labelsOf(m)] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

// TestPeerClocks: a round of clock offsets is served one gauge per member,
// and the next round replaces it whole (a member that did not answer is
// no longer shown).
func TestPeerClocks(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	offsets := func() map[string]float64 { return gauges(t, s, "seatd_peer_clock_offset_seconds") }
	if got := offsets(); len(got) != 0 {
		t.Errorf("before any round: %v", got)
	}
	s.ObservePeerClocks(map[string]time.Duration{"n2": 1500 * time.Millisecond, "n3": -20 * time.Millisecond})
	if got := offsets(); len(got) != 2 || got["peer=n2"] != 1.5 || got["peer=n3"] != -0.02 {
		t.Errorf("after a round: %v", got)
	}
	s.ObservePeerClocks(map[string]time.Duration{"n2": 0})
	if got := offsets(); len(got) != 1 || got["peer=n2"] != 0 {
		t.Errorf("after the next round, without n3: %v", got)
	}
}

// TestClusterMembers: seatd_cluster_members is read from the configuration
// at each scrape, and not served before MembersFrom.
func TestClusterMembers(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	members := func() map[string]float64 { return gauges(t, s, "seatd_cluster_members") }
	if got := members(); len(got) != 0 {
		t.Errorf("before MembersFrom: %v", got)
	}
	voters, nonvoters := []string{"n1", "n2", "n3"}, []string{"n4"}
	s.MembersFrom(func() ([]string, []string) { return voters, nonvoters })
	if got := members(); len(got) != 2 || got["suffrage=voter"] != 3 || got["suffrage=nonvoter"] != 1 {
		t.Errorf("3 voters and 1 non-voter: %v", got)
	}
	voters, nonvoters = []string{"n1", "n2", "n3", "n4"}, nil // the non-voter was promoted
	if got := members(); got["suffrage=voter"] != 4 || got["suffrage=nonvoter"] != 0 {
		t.Errorf("after a promotion: %v", got)
	}
}

// TestRemovedPeerSeriesLeftOut: Raft's per-peer series are served while
// the peer is in the configuration, and left out once it is removed.
func TestRemovedPeerSeriesLeftOut(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	sink := newRaftSink("seatd")
	sink.members = s.members
	for _, p := range []string{"n2", "n3"} {
		sink.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 1, []gometrics.Label{{Name: "peer_id", Value: p}})
	}
	sink.IncrCounter([]string{"raft", "apply"}, 1)
	peers := func() map[string]bool {
		t.Helper()
		got := map[string]bool{}
		for _, m := range gatherSink(t, sink)["seatd_raft_replication_appendEntries_logs"].GetMetric() {
			got[labelsOf(m)] = true
		}
		return got
	}
	if got := peers(); len(got) != 2 {
		t.Errorf("before the configuration is known: %v, want both peers", got)
	}
	voters := []string{"n1", "n2", "n3"}
	s.MembersFrom(func() ([]string, []string) { return voters, nil })
	if got := peers(); len(got) != 2 {
		t.Errorf("both in the configuration: %v", got)
	}
	voters = []string{"n1", "n2"}
	if got := peers(); len(got) != 1 || !got["peer_id=n2"] {
		t.Errorf("n3 removed: %v, want n2 only", got)
	}
	if gatherSink(t, sink)["seatd_raft_apply"] == nil {
		t.Error("a series without a peer was left out")
	}
}
