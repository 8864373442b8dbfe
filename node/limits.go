package node

import (
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// limitLogger logs limit hits (refused connections, slow senders, failed
// handshakes) at most once per second per message, with the count since
// the last line, so an attack cannot flood the log.
type limitLogger struct {
	logger hclog.Logger
	mu     sync.Mutex
	last   map[string]time.Time
	counts map[string]int
}

func (l *limitLogger) note(msg string, args ...any) {
	l.mu.Lock()
	if l.last == nil {
		l.last, l.counts = map[string]time.Time{}, map[string]int{}
	}
	l.counts[msg]++
	now := time.Now()
	if now.Sub(l.last[msg]) < time.Second {
		l.mu.Unlock()
		return
	}
	count := l.counts[msg]
	l.counts[msg] = 0
	l.last[msg] = now
	l.mu.Unlock()
	if l.logger != nil {
		l.logger.Warn(msg, append(args, "count", count)...)
	}
}
