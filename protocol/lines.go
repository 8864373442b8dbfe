package protocol

import (
	"bufio"
	"errors"
	"io"
)

// ErrLineTooLong is returned by LineReader.ReadLine for a line longer than
// MaxLine bytes. The stream cannot be resynchronised afterwards: the caller
// answers ERROR LINE_TOO_LONG and closes the connection.
var ErrLineTooLong = errors.New("protocol: line longer than 4096 bytes")

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
