package main

import "syscall"

// childProcAttr makes the kernel kill a seatd process when the test binary
// dies, so that no node outlives a crashed or timed-out test run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
