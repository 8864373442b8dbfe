package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readerKinds wraps a stream in the ways a network connection may deliver
// it: all at once, one byte per Read, half of what was asked, and with the
// final data and io.EOF in the same Read.
var readerKinds = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
	{"onebyte-dataerr", func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(r)) }},
}

// readLines reads lines until the first error, copying each line (the
// slice is only valid until the next call).
func readLines(t *testing.T, lr *LineReader) ([]string, error) {
	t.Helper()
	var lines []string
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("ReadLine never returned an error")
		}
		line, err := lr.ReadLine()
		if err != nil {
			if line != nil {
				t.Errorf("ReadLine returned %d bytes together with error %v", len(line), err)
			}
			return lines, err
		}
		lines = append(lines, string(line))
	}
}

func TestLineReader(t *testing.T) {
	max := strings.Repeat("a", MaxLine)            // the longest legal line
	over := strings.Repeat("b", MaxLine+1)         // one byte too long
	maxCR := strings.Repeat("c", MaxLine-1) + "\r" // the longest legal line, '\r' included
	for _, tc := range []struct {
		name  string
		input string
		want  []string
		err   error
	}{
		{"empty stream", "", nil, io.EOF},
		{"one line", "STATUS\n", []string{"STATUS"}, io.EOF},
		{"cr kept for Parse", "STATUS\r\n", []string{"STATUS\r"}, io.EOF},
		{"several lines", "RESERVE 1\nCANCEL 1 bob\r\n\n  \nSTATUS\nLEADER\n",
			[]string{"RESERVE 1", "CANCEL 1 bob\r", "", "  ", "STATUS", "LEADER"}, io.EOF},
		{"empty lines", "\n\n\r\n", []string{"", "", "\r"}, io.EOF},
		{"unterminated final line", "STATUS\nLEADER", []string{"STATUS"}, io.ErrUnexpectedEOF},
		{"only an unterminated line", "LEADER", nil, io.ErrUnexpectedEOF},
		{"unterminated cr", "LEADER\r", nil, io.ErrUnexpectedEOF},
		{"exactly MaxLine", max + "\n", []string{max}, io.EOF},
		{"exactly MaxLine then more", max + "\nSTATUS\n" + max + "\n", []string{max, "STATUS", max}, io.EOF},
		{"MaxLine after a short line", "STATUS\n" + max + "\nLEADER\n", []string{"STATUS", max, "LEADER"}, io.EOF},
		{"exactly MaxLine with its cr", maxCR + "\n", []string{maxCR}, io.EOF},
		{"MaxLine unterminated", max, nil, io.ErrUnexpectedEOF},
		{"MaxLine unterminated after a line", "STATUS\n" + max, []string{"STATUS"}, io.ErrUnexpectedEOF},
		{"MaxLine+1", over + "\n", nil, ErrLineTooLong},
		{"MaxLine+1 after good lines", "STATUS\nLEADER\n" + over + "\nSTATUS\n", []string{"STATUS", "LEADER"}, ErrLineTooLong},
		{"MaxLine and cr", max + "\r\n", nil, ErrLineTooLong},
		{"MaxLine+1 unterminated", over, nil, ErrLineTooLong},
		{"MaxLine and cr unterminated", max + "\r", nil, ErrLineTooLong},
		{"far too long", strings.Repeat("x", 3*MaxLine) + "\n", nil, ErrLineTooLong},
		{"far too long unterminated", strings.Repeat("x", 3*MaxLine), nil, ErrLineTooLong},
	} {
		for _, rk := range readerKinds {
			t.Run(tc.name+"/"+rk.name, func(t *testing.T) {
				lr := NewLineReader(rk.wrap(strings.NewReader(tc.input)))
				got, err := readLines(t, lr)
				if !errors.Is(err, tc.err) {
					t.Fatalf("error = %v, want %v", err, tc.err)
				}
				if !equalLines(got, tc.want) {
					t.Fatalf("lines = %q, want %q", abbrev(got), abbrev(tc.want))
				}
				if err == io.EOF {
					// EOF is sticky.
					if line, err := lr.ReadLine(); err != io.EOF || line != nil {
						t.Fatalf("ReadLine after EOF = %q, %v; want nil, EOF", line, err)
					}
				}
			})
		}
	}
}

// TestLineReaderBuffered: a server flushes when Buffered is zero, so it must
// count exactly the bytes read from the stream and not yet returned.
func TestLineReaderBuffered(t *testing.T) {
	lr := NewLineReader(strings.NewReader("STATUS\nLEADER\r\nRES"))
	if n := lr.Buffered(); n != 0 {
		t.Fatalf("Buffered before reading = %d, want 0", n)
	}
	want := []struct {
		line     string
		buffered int
	}{
		{"STATUS", len("LEADER\r\nRES")},
		{"LEADER\r", len("RES")},
	}
	for _, w := range want {
		line, err := lr.ReadLine()
		if err != nil || string(line) != w.line {
			t.Fatalf("ReadLine = %q, %v; want %q", line, err, w.line)
		}
		if n := lr.Buffered(); n != w.buffered {
			t.Fatalf("Buffered after %q = %d, want %d", w.line, n, w.buffered)
		}
	}
	if line, err := lr.ReadLine(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("unterminated \"RES\": ReadLine = %q, %v; want io.ErrUnexpectedEOF", line, err)
	}

	// With a one-byte reader nothing is read ahead of the line.
	lr = NewLineReader(iotest.OneByteReader(strings.NewReader("STATUS\nLEADER\n")))
	if line, err := lr.ReadLine(); err != nil || string(line) != "STATUS" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	if n := lr.Buffered(); n != 0 {
		t.Fatalf("Buffered after a one-byte read of a full line = %d, want 0", n)
	}
}

// TestLineReaderError: a read error other than EOF is passed on.
func TestLineReaderError(t *testing.T) {
	boom := errors.New("boom")
	lr := NewLineReader(iotest.ErrReader(boom))
	if line, err := lr.ReadLine(); !errors.Is(err, boom) || line != nil {
		t.Fatalf("ReadLine = %q, %v; want nil, boom", line, err)
	}

	// Lines completed before the error are still delivered.
	r := io.MultiReader(strings.NewReader("STATUS\nLEADER\n"), iotest.ErrReader(boom))
	lr = NewLineReader(r)
	got, err := readLines(t, lr)
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
	if !equalLines(got, []string{"STATUS", "LEADER"}) {
		t.Fatalf("lines = %q", got)
	}

	// A timeout (as from a deadline) surfaces as the reader's error.
	lr = NewLineReader(iotest.TimeoutReader(strings.NewReader("STATUS\nLEADER\n")))
	if line, err := lr.ReadLine(); err != nil || string(line) != "STATUS" {
		t.Fatalf("first ReadLine = %q, %v", line, err)
	}
	if line, err := lr.ReadLine(); err != nil || string(line) != "LEADER" {
		t.Fatalf("second ReadLine = %q, %v", line, err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("third ReadLine error = %v, want ErrTimeout", err)
	}
}

// TestLineReaderParse feeds a pipelined stream through ReadLine and Parse,
// the way the node does.
func TestLineReaderParse(t *testing.T) {
	stream := "reserve 1 alice id=a\r\n\r\n  \t\nSTATUS 1\nCANCEL\t1 alice\nLEADER\nbogus\nSTATUS\n" +
		"HOLD 3,4 alice ttl=60\r\nevent list\nHISTORY 2 event=gala\nRESERVE 1-101\n"
	want := []struct {
		req Request
		err error
	}{
		{reserve(1, "alice", "a"), nil},
		{Request{}, ErrEmpty},
		{Request{}, ErrEmpty},
		{statusSeat(1), nil},
		{cancel(1, "alice", ""), nil},
		{leader, nil},
		{Request{}, ErrInvalid},
		{statusSummary, nil},
		{withTTL(listed(hold(0, "alice", ""), 3, 4), 60), nil},
		{eventList, nil},
		{inEvent(history(2), "gala"), nil},
		{Request{}, ErrInvalid},
	}
	for _, rk := range readerKinds {
		lr := NewLineReader(rk.wrap(strings.NewReader(stream)))
		for i, w := range want {
			line, err := lr.ReadLine()
			if err != nil {
				t.Fatalf("%s: line %d: ReadLine error %v", rk.name, i, err)
			}
			req, err := Parse(line)
			if err != w.err || !reflect.DeepEqual(req, w.req) {
				t.Fatalf("%s: line %d (%q): Parse = %+v, %v; want %+v, %v", rk.name, i, line, req, err, w.req, w.err)
			}
		}
		if _, err := lr.ReadLine(); err != io.EOF {
			t.Fatalf("%s: final ReadLine error = %v, want EOF", rk.name, err)
		}
	}
}

func TestErrLineTooLong(t *testing.T) {
	if !strings.Contains(ErrLineTooLong.Error(), "4096") {
		t.Errorf("ErrLineTooLong = %q does not name the limit", ErrLineTooLong)
	}
	if MaxLine != 4096 {
		t.Errorf("MaxLine = %d, PROTOCOL.md says 4096", MaxLine)
	}
	if MaxTokenLen != 64 {
		t.Errorf("MaxTokenLen = %d, PROTOCOL.md says 64", MaxTokenLen)
	}
}

func BenchmarkLineReader(b *testing.B) {
	var buf bytes.Buffer
	for buf.Len() < 64<<10 {
		buf.WriteString("RESERVE 12345 alice id=0123456789abcdef\r\n")
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		lr := NewLineReader(bytes.NewReader(data))
		for {
			if _, err := lr.ReadLine(); err != nil {
				break
			}
		}
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// abbrev shortens long lines in failure messages.
func abbrev(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 40 {
			l = fmt.Sprintf("%s…[%d bytes]…%s", l[:16], len(l), l[len(l)-8:])
		}
		out[i] = l
	}
	return out
}
