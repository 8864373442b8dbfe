package metrics

import "testing"

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
