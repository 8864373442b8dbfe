package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ReadResultFile reads a Result from a JSON file written by
// "seat bench --json".
func ReadResultFile(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: reading result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("bench: result %s: %w", path, err)
	}
	if r.Workload == "" || r.Clients == 0 {
		return nil, fmt.Errorf("bench: result %s: not a seat bench result (no workload or clients)", path)
	}
	return &r, nil
}

// MarkdownTable returns a markdown table of results, one row each: label,
// workload, target, clients, pipeline, committed ops/s, latency p50, p90,
// p99, p99.9 and max in ms, connection errors, ERROR answers, the answers
// by kind, and, when any run measured them, the nodes' CPU per committed
// operation (Config.CPUPids) and the disk's own fdatasync p99 and max
// beside the load, with the CPU one flush costs (Config.FlushProbeDir).
func MarkdownTable(results []LabeledResult) string {
	probed, cpu := false, false
	for _, lr := range results {
		probed = probed || (lr.Result != nil && lr.Result.FlushProbe != nil)
		cpu = cpu || (lr.Result != nil && lr.Result.CPUPerOpMicros > 0)
	}
	var b strings.Builder
	b.WriteString("| run | workload | target | clients | pipeline | committed ops/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | conn errors | ERROR answers | answers |")
	if cpu {
		b.WriteString(" server CPU µs/op |")
	}
	if probed {
		b.WriteString(" disk flush p99 ms | disk flush max ms | CPU µs per flush |")
	}
	b.WriteString("\n|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	if cpu {
		b.WriteString("--:|")
	}
	if probed {
		b.WriteString("--:|--:|--:|")
	}
	b.WriteString("\n")
	for _, lr := range results {
		r := lr.Result
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %d | %d | %s |",
			mdEscape(lr.Label), r.Workload, r.Target, r.Clients, r.Pipeline, r.OpsPerSec,
			fmtMs(r.Latency.P50), fmtMs(r.Latency.P90), fmtMs(r.Latency.P99),
			fmtMs(r.Latency.P999), fmtMs(r.Latency.Max),
			r.Errors, r.ErrorAnswers(), mdEscape(r.AnswerSummary()))
		if cpu {
			fmt.Fprintf(&b, " %.0f |", r.CPUPerOpMicros)
		}
		switch {
		case !probed:
		case r.FlushProbe == nil:
			b.WriteString(" — | — | — |")
		default:
			fmt.Fprintf(&b, " %s | %s | %.0f |", fmtMs(r.FlushProbe.Latency.P99), fmtMs(r.FlushProbe.Latency.Max), r.FlushProbe.CPUPerFlushMicros)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// OnSaleMarkdown returns a markdown table of the on-sale results among
// results, one row each (empty when there are none): buyers and seats,
// the time to sell out, how many HOLDs each seated buyer's success cost,
// the HOLD (won and lost) and confirm latencies, and the final check.
func OnSaleMarkdown(results []LabeledResult) string {
	var b strings.Builder
	for _, lr := range results {
		s := lr.Result.onSale()
		if s == nil {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| run | buyers | seats | sold out in s | seats sold / buyers seated | HOLDs (lost) | HOLDs per seated buyer | reads | HOLD won p50 / p99 ms | HOLD lost p50 / p99 ms | confirm p50 / p99 ms | max ms | server CPU µs/op | check |\n")
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %d / %d | %d (%d) | %.1f | %d | %s / %s | %s / %s | %s / %s | %s | %.0f | %s |\n",
			mdEscape(lr.Label), s.Buyers, s.Seats, s.SellOutSec, s.SeatsSold, s.Seated, s.Holds, s.HoldsLost,
			s.AttemptsPerSeated, s.Reads,
			fmtMs(s.HoldLatency.P50), fmtMs(s.HoldLatency.P99), fmtMs(s.LostHoldLatency.P50), fmtMs(s.LostHoldLatency.P99),
			fmtMs(s.ConfirmLatency.P50), fmtMs(s.ConfirmLatency.P99), fmtMs(lr.Result.Latency.Max),
			lr.Result.CPUPerOpMicros, mdEscape(s.Check))
	}
	return b.String()
}

// onSale is r's on-sale report, nil for other workloads (and a nil r).
func (r *Result) onSale() *OnSale {
	if r == nil {
		return nil
	}
	return r.OnSale
}
