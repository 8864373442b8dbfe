package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 on
// every Linux this runs on (it is fixed at 100 in the kernel's ABI for
// x86 and arm64).
const clockTicks = 100

// processCPU returns the CPU time (user + system) process pid has used.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing parenthesis. utime and stime are
	// fields 14 and 15, so the 12th and 13th after it.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("cpu of pid %d: unexpected /proc stat %q", pid, s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cpu of pid %d: unexpected /proc stat %q", pid, s)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// totalCPU sums processCPU over pids.
func totalCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// startCPUWatch samples the CPU time of Config.CPUPids at the start of the
// measured window and when the run stops; the function it returns gives
// the CPU seconds used in between (0 without pids).
func (r *runner) startCPUWatch() func() (float64, error) {
	if len(r.cfg.CPUPids) == 0 {
		return func() (float64, error) { return 0, nil }
	}
	type outcome struct {
		secs float64
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		t := time.NewTimer(r.warm - r.now())
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.stopCh:
			done <- outcome{err: fmt.Errorf("cpu: the run stopped before its window")}
			return
		}
		start, err := totalCPU(r.cfg.CPUPids)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		<-r.stopCh
		end, err := totalCPU(r.cfg.CPUPids)
		done <- outcome{secs: (end - start).Seconds(), err: err}
	}()
	return func() (float64, error) {
		o := <-done
		return o.secs, o.err
	}
}
