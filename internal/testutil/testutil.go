// Package testutil holds helpers shared by seatd's tests: a raw line client
// that speaks the protocol byte for byte, polling with deadlines, and a log
// sink that shows node logs only for failed tests.
package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// LineConn is a raw protocol connection for tests.
type LineConn struct {
	Conn net.Conn
	r    *bufio.Reader
}

// DialLine connects to a node's client address.
func DialLine(t testing.TB, addr string) *LineConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &LineConn{Conn: c, r: bufio.NewReader(c)}
}

// NewLineConn wraps an open connection (for example a TLS one).
func NewLineConn(t testing.TB, c net.Conn) *LineConn {
	t.Cleanup(func() { c.Close() })
	return &LineConn{Conn: c, r: bufio.NewReader(c)}
}

// Send writes raw bytes.
func (l *LineConn) Send(t testing.TB, s string) {
	t.Helper()
	l.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(l.Conn, s); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// ReadLine reads one response line (without '\n') within timeout.
func (l *LineConn) ReadLine(timeout time.Duration) (string, error) {
	l.Conn.SetReadDeadline(time.Now().Add(timeout))
	s, err := l.r.ReadString('\n')
	if err != nil {
		return s, err
	}
	return strings.TrimSuffix(s, "\n"), nil
}

// Do sends one request line and returns the answer.
func (l *LineConn) Do(t testing.TB, req string) string {
	t.Helper()
	l.Send(t, req+"\n")
	resp, err := l.ReadLine(15 * time.Second)
	if err != nil {
		t.Fatalf("%q: read answer: %v", req, err)
	}
	return resp
}

// Request opens a connection, sends one request and returns the answer or
// an error; it does not fail the test (for use while nodes die).
func Request(addr, req string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return "", err
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(s, "\n"), nil
}

// WaitFor polls cond every 10ms until it returns true or timeout passes, and
// fails the test with what on timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// LogSink collects log output and prints it only if the test failed.
type LogSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLogSink returns a sink registered to dump into t on failure.
func NewLogSink(t testing.TB) *LogSink {
	s := &LogSink{}
	t.Cleanup(func() {
		if t.Failed() {
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Logf("node logs:\n%s", s.buf.String())
		}
	})
	return s
}

// Write implements io.Writer.
func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() > 32<<20 {
		return len(p), nil
	}
	return s.buf.Write(p)
}

// Prefixed returns a writer that prefixes every write with name.
func (s *LogSink) Prefixed(name string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		s.Write([]byte(fmt.Sprintf("[%s] %s", name, p)))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Try sends one request line and returns the answer or an error, without
// failing the test: for load goroutines, which must not call t.Fatal.
func (l *LineConn) Try(req string) (string, error) {
	l.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(l.Conn, req+"\n"); err != nil {
		return "", fmt.Errorf("send %q: %w", req, err)
	}
	return l.ReadLine(30 * time.Second)
}

// Count reports how many times sub occurs in the collected logs.
func (s *LogSink) Count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Count(s.buf.Bytes(), []byte(sub))
}

// ContainsLine reports whether one line of the collected logs contains
// every one of parts (say, a node's prefix and a message).
func (s *LogSink) ContainsLine(parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, line := range bytes.Split(s.buf.Bytes(), []byte{'\n'}) {
		for _, p := range parts {
			if !bytes.Contains(line, []byte(p)) {
				continue next
			}
		}
		return true
	}
	return false
}

// Contains reports whether the collected logs contain sub.
func (s *LogSink) Contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.buf.Bytes(), []byte(sub))
}
