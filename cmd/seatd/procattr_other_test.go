//go:build unix && !linux

package main

import "syscall"

// childProcAttr: only Linux can tie a child's life to its parent's; the
// tests' cleanup kills every node it started.
func childProcAttr() *syscall.SysProcAttr { return nil }
