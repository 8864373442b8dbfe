package protocol

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAnswerReader(t *testing.T) {
	long := "EVENTS " + strings.Repeat("x", 100_000)
	in := "SUCCESS\n" + long + "\nHELD 17\r\n\nLEADER n1\n"
	for name, r := range map[string]io.Reader{
		"whole":        strings.NewReader(in),
		"byte by byte": iotest.OneByteReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			a := NewAnswerReader(r)
			for _, want := range []string{"SUCCESS", long, "HELD 17\r", "", "LEADER n1"} {
				got, err := a.ReadLine()
				if err != nil || string(got) != want {
					t.Fatalf("ReadLine = %.30q (%d bytes), %v; want %.30q (%d bytes)", got, len(got), err, want, len(want))
				}
			}
			if _, err := a.ReadLine(); err != io.EOF {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
		})
	}
}

func TestAnswerReaderLimits(t *testing.T) {
	exact := strings.Repeat("a", MaxAnswer)
	a := NewAnswerReader(strings.NewReader(exact + "\n"))
	if got, err := a.ReadLine(); err != nil || len(got) != MaxAnswer {
		t.Fatalf("an answer of MaxAnswer bytes: %d bytes, %v", len(got), err)
	}
	a = NewAnswerReader(strings.NewReader(exact + "a\n"))
	if _, err := a.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("an answer over MaxAnswer: %v, want ErrLineTooLong", err)
	}
	for _, cut := range []string{"BOOKED al", strings.Repeat("b", 40_000)} {
		a = NewAnswerReader(strings.NewReader("SUCCESS\n" + cut))
		a.ReadLine()
		if _, err := a.ReadLine(); err != io.ErrUnexpectedEOF {
			t.Fatalf("a stream cut inside %d bytes of an answer: %v, want io.ErrUnexpectedEOF", len(cut), err)
		}
	}
}
