package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Disk-flush probe: beside the load, one goroutine appends 700 bytes (a
// log entry of about twenty batched writes) to a file and fdatasyncs it,
// every probeEvery, and records how long each flush took. The cluster's
// commit latency can be no better than its disk's flushes: with the probe's
// figures in the same report, a latency spike can be told apart from one
// of the disk's own stalls.
const (
	probeBytes = 700
	probeEvery = 5 * time.Millisecond
)

// FlushProbe is what the probe measured in the window, in milliseconds.
// CPUPerFlushMicros is the CPU time (user + system) the probe's thread spent
// in one append and its fdatasync, on average: what a flush costs the
// processor besides the wait, which counts in every node's CPU per
// operation.
type FlushProbe struct {
	Flushes           int64   `json:"flushes"`
	Dir               string  `json:"dir"`
	Latency           Latency `json:"latency_ms"`
	CPUPerFlushMicros float64 `json:"cpu_us_per_flush,omitempty"`
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runFlushProbe probes the disk under dir until stop is closed, recording
// the flushes that start and end inside the runner's window. It returns
// what it measured, or an error if the file cannot be written.
func (r *runner) runFlushProbe(dir string, stop <-chan struct{}) (*FlushProbe, error) {
	f, err := os.CreateTemp(dir, "seat-bench-flush-probe-*")
	if err != nil {
		return nil, fmt.Errorf("flush probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	hist := hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)
	buf := make([]byte, probeBytes)
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	// One OS thread, so that its CPU time is the flushes'.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	for {
		select {
		case <-stop:
			lat, _ := summarise(hist)
			p := &FlushProbe{Flushes: hist.TotalCount(), Dir: filepath.Clean(dir), Latency: lat}
			if p.Flushes > 0 {
				p.CPUPerFlushMicros = float64(cpu.Microseconds()) / float64(p.Flushes)
			}
			return p, nil
		case <-tick.C:
		}
		cpu0 := threadCPU()
		sent := r.now()
		if _, err := f.Write(buf); err != nil {
			return nil, fmt.Errorf("flush probe: %w", err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("flush probe: %w", err)
		}
		done := r.now()
		if r.inWindow(sent, done) {
			_ = hist.RecordValue(min(max((done-sent).Microseconds(), histMinMicros), histMaxMicros))
			cpu += threadCPU() - cpu0
		}
	}
}

// startFlushProbe starts the probe when Config.FlushProbeDir is set (after
// r.base); the function it returns waits, after the run stopped, for what
// the probe measured (nil when there was no probe).
func (r *runner) startFlushProbe() func() (*FlushProbe, error) {
	if r.cfg.FlushProbeDir == "" {
		return func() (*FlushProbe, error) { return nil, nil }
	}
	type outcome struct {
		probe *FlushProbe
		err   error
	}
	done := make(chan outcome, 1)
	go func() {
		p, err := r.runFlushProbe(r.cfg.FlushProbeDir, r.stopCh)
		done <- outcome{p, err}
	}()
	return func() (*FlushProbe, error) {
		o := <-done
		return o.probe, o.err
	}
}
