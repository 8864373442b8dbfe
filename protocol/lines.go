package protocol

import (
	"bufio"
	"errors"
	"io"
)

// ErrLineTooLong is returned by LineReader.ReadLine for a request line
// longer than MaxLine bytes, and by AnswerReader.ReadLine for an answer
// longer than MaxAnswer. The stream cannot be resynchronised afterwards: a
// node answers ERROR LINE_TOO_LONG and closes the connection, a client
// gives the connection up.
var ErrLineTooLong = errors.New("protocol: line too long (a request over 4096 bytes, or an answer over 8 MiB)")

// LineReader splits a stream into request lines without copying them.
type LineReader struct {
	r *bufio.Reader
}

// NewLineReader returns a LineReader reading from r with a buffer just large
// enough for the longest legal line and its '\n'.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, MaxLine+1)}
}

// ReadLine returns the next line without its '\n' (a '\r' is left for Parse to
// drop). The slice is valid only until the next call. At the end of the stream
// it returns io.EOF, or io.ErrUnexpectedEOF when the stream ends inside a
// line: an unterminated line is never a request. A line longer than
// MaxLine yields ErrLineTooLong.
func (l *LineReader) ReadLine() ([]byte, error) {
	line, err := l.r.ReadSlice('\n')
	switch {
	case err == nil:
		return line[:len(line)-1], nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, ErrLineTooLong
	case errors.Is(err, io.EOF) && len(line) > 0:
		if len(line) > MaxLine {
			return nil, ErrLineTooLong
		}
		// A request ends with '\n'. A stream that stops in mid-line
		// (a client dying while it writes "RESERVE 12") must not turn
		// into a different request ("RESERVE 1").
		return nil, io.ErrUnexpectedEOF
	}
	return nil, err
}

// Buffered reports how many bytes are already read from the stream but not
// yet returned; a server flushes its answers when this is zero.
func (l *LineReader) Buffered() int { return l.r.Buffered() }

// MaxAnswer is the longest answer line an AnswerReader accepts. Requests
// are bounded by MaxLine, answers are not that short: EVENT LIST names every
// event (at most 100,000 names of up to 64 bytes), HISTORY lists its changes.
const MaxAnswer = 8 << 20

// AnswerReader splits a stream of answer lines (what a node sends back)
// into lines of up to MaxAnswer bytes. Lines that fit its buffer are
// returned without copying; longer ones are gathered in a growing buffer.
type AnswerReader struct {
	r    *bufio.Reader
	long []byte
}

// NewAnswerReader returns an AnswerReader reading from r.
func NewAnswerReader(r io.Reader) *AnswerReader {
	return &AnswerReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// ReadLine returns the next answer without its '\n'. The slice is valid only
// until the next call. At the end of the stream it returns io.EOF, or
// io.ErrUnexpectedEOF when the stream ends inside a line; a line longer than
// MaxAnswer yields ErrLineTooLong.
func (a *AnswerReader) ReadLine() ([]byte, error) {
	line, err := a.r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	a.long = append(a.long[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(a.long) > MaxAnswer {
			return nil, ErrLineTooLong
		}
		line, err = a.r.ReadSlice('\n')
		a.long = append(a.long, line...)
	}
	switch {
	case err == nil && len(a.long) > MaxAnswer+1:
		return nil, ErrLineTooLong
	case err == nil:
		return a.long[:len(a.long)-1], nil
	case errors.Is(err, io.EOF) && len(a.long) > 0:
		return nil, io.ErrUnexpectedEOF
	}
	return nil, err
}

// Buffered reports how many bytes are already read from the stream but not
// yet returned.
func (a *AnswerReader) Buffered() int { return a.r.Buffered() }
