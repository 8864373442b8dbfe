package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// entry builds raw entry bytes: header, then the given parts (bytes or
// uvarints).
func entry(version, typ byte, timeMs int64, parts ...interface{}) []byte {
	out := []byte{version, typ}
	out = binary.BigEndian.AppendUint64(out, uint64(timeMs))
	for _, p := range parts {
		switch v := p.(type) {
		case []byte:
			out = append(out, v...)
		case string:
			out = append(out, v...)
		case uint64:
			out = binary.AppendUvarint(out, v)
		case int:
			out = binary.AppendUvarint(out, uint64(v))
		default:
			panic(fmt.Sprintf("entry: %T", p))
		}
	}
	return out
}

func TestEncodingFormat(t *testing.T) {
	got := AppendInit([]byte("pre"), 0x0102030405060708, 300)
	want := []byte{'p', 'r', 'e', 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0xac, 0x02}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendInit = % x, want % x", got, want)
	}
	got = AppendBatch(nil, -1, []Write{rsv(1, "ab", "x"), cnl(200, "", "")})
	want = []byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,
		1, 1, 2, 'a', 'b', 1, 'x',
		2, 0xc8, 0x01, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendBatch = % x, want % x", got, want)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	batches := [][]Write{
		{rsv(1, "", "")},
		{rsv(1, "alice", "req-1"), cnl(2, "", "r2"), cnl(3, "bob", "")},
		{rsv(math.MaxUint32, holder64, id64), cnl(0, "A-z.0_9@:", "a.B_c:-")},
		{rsv(127, "", ""), rsv(128, "", ""), rsv(16383, "", ""), rsv(16384, "", "")},
	}
	var many []Write
	for i := 0; i < 1000; i++ {
		many = append(many, Write{Op: Op(1 + i%2), Seat: uint32(i * 4099), Holder: strings.Repeat("h", i%65), ID: strings.Repeat("i", (i*7)%65)})
	}
	batches = append(batches, many)
	times := []int64{0, 1, 1_700_000_000_000, -1, math.MaxInt64, math.MinInt64}
	for _, tm := range times {
		for i, ws := range batches {
			data := AppendBatch([]byte("prefix"), tm, ws)
			if string(data[:6]) != "prefix" {
				t.Fatalf("AppendBatch did not keep dst")
			}
			e, err := Decode(data[6:])
			if err != nil {
				t.Fatalf("batch %d at %d: Decode: %v", i, tm, err)
			}
			want := Entry{Type: TypeBatch, Time: tm, Writes: ws}
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("batch %d at %d: Decode = %+v, want %+v", i, tm, e, want)
			}
			// Header + AppendWrite builds the same bytes.
			inc := AppendBatchHeader(nil, tm, len(ws))
			for _, w := range ws {
				inc = AppendWrite(inc, w)
			}
			if !bytes.Equal(inc, data[6:]) {
				t.Fatalf("batch %d: AppendBatchHeader+AppendWrite differs from AppendBatch", i)
			}
		}
		for _, seats := range []uint32{1, 5, 127, 128, MaxSeats} {
			e, err := Decode(AppendInit(nil, tm, seats))
			if err != nil {
				t.Fatalf("Init %d at %d: %v", seats, tm, err)
			}
			if want := (Entry{Type: TypeInit, Time: tm, Seats: seats}); !reflect.DeepEqual(e, want) {
				t.Fatalf("Decode(Init) = %+v, want %+v", e, want)
			}
		}
	}
}

func TestDecodeMaxBatch(t *testing.T) {
	ws := make([]Write, MaxBatch)
	for i := range ws {
		ws[i] = rsv(uint32(i), "", "")
	}
	e, err := Decode(AppendBatch(nil, 1, ws))
	if err != nil || len(e.Writes) != MaxBatch {
		t.Fatalf("Decode of MaxBatch writes: %d writes, %v", len(e.Writes), err)
	}
	ws = append(ws, rsv(1, "", ""))
	if _, err := Decode(AppendBatch(nil, 1, ws)); !errors.Is(err, ErrCorruptData) {
		t.Fatalf("Decode of MaxBatch+1 writes: %v, want ErrCorruptData", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	w := []byte{byte(OpReserve), 1, 0, 0} // RESERVE 1, anonymous, no id
	long := strings.Repeat("x", 65)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrShortEntry},
		{"one byte", []byte{1}, ErrShortEntry},
		{"header minus one", entry(1, 2, 0)[:headerLen-1], ErrShortEntry},
		{"version 0", entry(0, 2, 0, 1, w), ErrVersion},
		{"version 2", entry(2, 2, 0, 1, w), ErrVersion},
		{"version 255 short", []byte{255, 1, 0, 0, 0, 0, 0, 0, 0, 0}, ErrVersion},
		{"type 0", entry(1, 0, 0, 1, w), ErrEntryType},
		{"type 3", entry(1, 3, 0, 1, w), ErrEntryType},
		{"type 255", entry(1, 255, 0), ErrEntryType},
		{"init without seats", entry(1, 1, 0), ErrCorruptData},
		{"init 0 seats", entry(1, 1, 0, 0), ErrCorruptData},
		{"init MaxSeats+1", entry(1, 1, 0, MaxSeats+1), ErrCorruptData},
		{"init 2^32 seats", entry(1, 1, 0, uint64(1)<<32), ErrCorruptData},
		{"init 2^32+5 seats", entry(1, 1, 0, uint64(1)<<32+5), ErrCorruptData},
		{"init seats overflow uvarint", entry(1, 1, 0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), ErrCorruptData},
		{"init truncated uvarint", entry(1, 1, 0, []byte{0x80}), ErrCorruptData},
		{"init trailing byte", entry(1, 1, 0, 5, []byte{0}), ErrCorruptData},
		{"batch without count", entry(1, 2, 0), ErrCorruptData},
		{"batch count 0", entry(1, 2, 0, 0), ErrCorruptData},
		{"batch count 0 with trailing write", entry(1, 2, 0, 0, w), ErrCorruptData},
		{"count larger than writes", entry(1, 2, 0, 2, w), ErrCorruptData},
		{"count too large for the bytes", entry(1, 2, 0, 1000, w, w), ErrCorruptData},
		{"count above MaxBatch", entry(1, 2, 0, MaxBatch+1, bytes.Repeat(w, MaxBatch+1)), ErrCorruptData},
		{"count 2^64-1", entry(1, 2, 0, uint64(math.MaxUint64), w), ErrCorruptData},
		{"count overflows uvarint", entry(1, 2, 0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, w), ErrCorruptData},
		{"op 0", entry(1, 2, 0, 1, []byte{0, 1, 0, 0}), ErrCorruptData},
		{"op 3", entry(1, 2, 0, 1, []byte{3, 1, 0, 0}), ErrCorruptData},
		{"op 255 in second write", entry(1, 2, 0, 2, w, []byte{255, 1, 0, 0}), ErrCorruptData},
		{"trailing byte", entry(1, 2, 0, 1, w, []byte{0}), ErrCorruptData},
		{"trailing write", entry(1, 2, 0, 1, w, w), ErrCorruptData},
		{"truncated write", entry(1, 2, 0, 1, w[:3]), ErrCorruptData},
		{"seat 2^32", entry(1, 2, 0, 1, []byte{1}, uint64(1)<<32, 0, 0), ErrCorruptData},
		{"seat 2^32+1", entry(1, 2, 0, 1, []byte{1}, uint64(1)<<32+1, 0, 0), ErrCorruptData},
		{"seat 2^64-1", entry(1, 2, 0, 1, []byte{1}, uint64(math.MaxUint64), 0, 0), ErrCorruptData},
		{"seat overflows uvarint", entry(1, 2, 0, 1, []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0}), ErrCorruptData},
		{"holder of 65 bytes", entry(1, 2, 0, 1, []byte{1}, 1, 65, long, 0), ErrCorruptData},
		{"holder length 2^63", entry(1, 2, 0, 1, []byte{1}, 1, uint64(1)<<63, 0), ErrCorruptData},
		{"holder longer than entry", entry(1, 2, 0, 1, []byte{1}, 1, 10, "abc", 0), ErrCorruptData},
		{"id of 65 bytes", entry(1, 2, 0, 1, []byte{1}, 1, 0, 65, long), ErrCorruptData},
		{"id longer than entry", entry(1, 2, 0, 1, []byte{1}, 1, 0, 5, "abcd"), ErrCorruptData},
		{"id length missing", entry(1, 2, 0, 1, []byte{1}, 1, 1, "a"), ErrCorruptData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode(% x) succeeded, want %v", tc.data, tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(% x) = %v, want an error wrapping %v", tc.data, err, tc.want)
			}
			for _, other := range []error{ErrShortEntry, ErrVersion, ErrEntryType, ErrCorruptData} {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("Decode error %v also wraps %v", err, other)
				}
			}
			// Apply refuses it the same way and changes nothing.
			h := newHarness(t, testOpts)
			h.init(10, 5)
			before := dump(h.f)
			got := h.raw(tc.data)
			if err, ok := got.(error); !ok || !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %#v, want an error wrapping %v", got, tc.want)
			}
			requireSameState(t, "after corrupt entry", dump(h.f), before)
		})
	}
}

// Lengths at the limits are accepted.
func TestDecodeLimits(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want Entry
	}{
		{"holder and id of 64 bytes", entry(1, 2, 7, 1, []byte{2}, 3, 64, holder64, 64, id64),
			Entry{Type: TypeBatch, Time: 7, Writes: []Write{cnl(3, holder64, id64)}}},
		{"seat 2^32-1", entry(1, 2, 7, 1, []byte{1}, uint64(math.MaxUint32), 0, 0),
			Entry{Type: TypeBatch, Time: 7, Writes: []Write{rsv(math.MaxUint32, "", "")}}},
		{"seat 0", entry(1, 2, 7, 1, []byte{1}, 0, 0, 0),
			Entry{Type: TypeBatch, Time: 7, Writes: []Write{rsv(0, "", "")}}},
		{"init MaxSeats", entry(1, 1, -7, MaxSeats), Entry{Type: TypeInit, Time: -7, Seats: MaxSeats}},
		{"init 1 seat", entry(1, 1, 0, 1), Entry{Type: TypeInit, Seats: 1}},
	}
	for _, tc := range tests {
		e, err := Decode(tc.data)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(e, tc.want) {
			t.Errorf("%s: Decode = %+v, want %+v", tc.name, e, tc.want)
		}
	}
}

// Every proper prefix of a valid entry is refused.
func TestDecodeTruncated(t *testing.T) {
	for _, data := range [][]byte{
		AppendInit(nil, 5, MaxSeats),
		AppendBatch(nil, 5, []Write{rsv(1, "alice", "id-1"), cnl(300, holder64, id64), rsv(2, "", "")}),
	} {
		if _, err := Decode(data); err != nil {
			t.Fatalf("full entry: %v", err)
		}
		for n := 0; n < len(data); n++ {
			_, err := Decode(data[:n])
			want := ErrCorruptData
			if n < headerLen {
				want = ErrShortEntry
			}
			if !errors.Is(err, want) {
				t.Errorf("Decode of %d of %d bytes = %v, want %v", n, len(data), err, want)
			}
		}
	}
}

// Decode does not keep references into its input: the strings it returns
// survive the caller reusing the buffer (raft reuses log buffers).
func TestDecodeCopiesStrings(t *testing.T) {
	data := AppendBatch(nil, 1, []Write{rsv(1, "alice", "id-1")})
	e, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'Z'
	}
	if e.Writes[0].Holder != "alice" || e.Writes[0].ID != "id-1" {
		t.Fatalf("decoded strings changed with the buffer: %+v", e.Writes[0])
	}
}
