package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// entry builds raw entry bytes: header, then the given parts (bytes, raw
// strings or uvarints).
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

// str is the encoding of a string: its length and its bytes.
func str(s string) []byte { return appendStr(nil, s) }

// seatW2 is the raw format-2 encoding of a seat write: op, event, the
// seat count, the seats as given (first, then gaps), holder, id and, when
// ttl is not nil, the ttl.
func seatW2(op Op, event string, seats []uint64, holder, id string, ttl ...uint64) []byte {
	out := []byte{byte(op)}
	out = appendStr(out, event)
	out = binary.AppendUvarint(out, uint64(len(seats)))
	for _, s := range seats {
		out = binary.AppendUvarint(out, s)
	}
	out = appendStr(out, holder)
	out = appendStr(out, id)
	for _, t := range ttl {
		out = binary.AppendUvarint(out, t)
	}
	return out
}

func TestEncodingFormat(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"init", AppendInit([]byte("pre"), 0x0102030405060708, 300),
			[]byte{'p', 'r', 'e', 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0xac, 0x02}},
		{"tick", AppendTick(nil, 5), []byte{2, 3, 0, 0, 0, 0, 0, 0, 0, 5}},
		{"format", AppendFormat([]byte{9}, -2, 2), []byte{9, 2, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 2}},
		{"format-1 batch", AppendBatch(nil, FormatV1, -1, []Write{rsv(1, "ab", "x"), cnl(200, "", "")}),
			[]byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,
				1, 1, 2, 'a', 'b', 1, 'x',
				2, 0xc8, 0x01, 0, 0}},
		{"format-2 batch", AppendBatch(nil, FormatV2, 0x100, []Write{
			rsv(1, "ab", "x"),
			in("ev", many(cnl(0, "", ""), 3, 10, 200)),
			hld(5, "h", 300, "i"),
			mkEvent("e", MaxSeats, "c"),
			delEvent("e", ""),
			in(DefaultEvent, rsv(7, "", "")),
		}),
			[]byte{2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 6,
				1, 0, 1, 1, 2, 'a', 'b', 1, 'x',
				2, 2, 'e', 'v', 3, 3, 7, 0xbe, 0x01, 0, 0,
				3, 0, 1, 5, 1, 'h', 1, 'i', 0xac, 0x02,
				4, 1, 'e', 0xc0, 0x84, 0x3d, 1, 'c',
				5, 1, 'e', 0,
				1, 7, 'd', 'e', 'f', 'a', 'u', 'l', 't', 1, 7, 0, 0}},
	}
	for _, tc := range tests {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, tc.got, tc.want)
		}
	}
}

// canonicalWrites are writes in the form Decode returns them: one seat in
// Seat, several in Seats; ttl only for a hold, count only for a create.
func canonicalWrites() []Write {
	ws := []Write{
		rsv(1, "", ""),
		rsv(1, "alice", "req-1"),
		cnl(2, "", "r2"),
		cnl(3, "bob", ""),
		rsv(math.MaxUint32, holder64, id64),
		cnl(0, "A-z.0_9@:", "a.B_c:-"),
		rsv(127, "", ""), rsv(128, "", ""), rsv(16383, "", ""), rsv(16384, "", ""),
		hld(1, "h", 1, ""),
		hld(MaxSeats, holder64, MaxTTL, id64),
		in("ev", hld(9, "h", 300, "x")),
		in(event64, many(rsv(0, "", ""), 1, 2)),
		in("A-z.0_9", many(cnl(0, "c", "i"), 0, 5, 1000, 1_000_000)),
		many(hld(0, "h", 60, ""), seatRange(1, MaxSeatsPerWrite)...),
		many(rsv(0, "", ""), math.MaxUint32-1, math.MaxUint32),
		mkEvent("e", 1, ""),
		mkEvent(event64, MaxSeats, id64),
		mkEvent(DefaultEvent, 5, "x"),
		delEvent("e", ""),
		delEvent(DefaultEvent, "d"),
	}
	return ws
}

func TestDecodeRoundTrip(t *testing.T) {
	v2 := canonicalWrites()
	var v1 []Write
	for _, w := range v2 {
		if CanEncode(FormatV1, &w) {
			v1 = append(v1, w)
		}
	}
	var many1, many2 []Write
	for i := 0; i < 1000; i++ {
		w := Write{Op: Op(1 + i%2), Seat: uint32(i * 4099), Holder: strings.Repeat("h", i%65), ID: strings.Repeat("i", (i*7)%65)}
		many1 = append(many1, w)
		many2 = append(many2, w, v2[i%len(v2)])
	}
	batches := []struct {
		format uint8
		ws     []Write
	}{
		{FormatV1, v1}, {FormatV1, many1}, {FormatV1, v1[:1]},
		{FormatV2, v2}, {FormatV2, many2}, {FormatV2, v2[len(v2)-1:]},
	}
	for _, w := range v2 {
		batches = append(batches, struct {
			format uint8
			ws     []Write
		}{FormatV2, []Write{w}})
	}
	times := []int64{0, 1, 1_700_000_000_000, -1, math.MaxInt64, math.MinInt64}
	for _, tm := range times {
		for i, b := range batches {
			data := AppendBatch([]byte("prefix"), b.format, tm, b.ws)
			if string(data[:6]) != "prefix" {
				t.Fatalf("AppendBatch did not keep dst")
			}
			e, err := Decode(data[6:])
			if err != nil {
				t.Fatalf("batch %d at %d: Decode: %v", i, tm, err)
			}
			want := Entry{Version: b.format, Type: TypeBatch, Time: tm, Writes: b.ws}
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("batch %d at %d: Decode = %+v, want %+v", i, tm, e, want)
			}
			// Header + AppendWrite builds the same bytes.
			inc := AppendBatchHeader(nil, b.format, tm, len(b.ws))
			for j := range b.ws {
				inc = AppendWrite(inc, b.format, &b.ws[j])
			}
			if !bytes.Equal(inc, data[6:]) {
				t.Fatalf("batch %d: AppendBatchHeader+AppendWrite differs from AppendBatch", i)
			}
		}
		for _, seats := range []uint32{1, 5, 127, 128, MaxSeats} {
			e, err := Decode(AppendInit(nil, tm, seats))
			if want := (Entry{Version: FormatV1, Type: TypeInit, Time: tm, Seats: seats}); err != nil || !reflect.DeepEqual(e, want) {
				t.Fatalf("Decode(Init) = %+v, %v; want %+v", e, err, want)
			}
		}
		e, err := Decode(AppendTick(nil, tm))
		if want := (Entry{Version: FormatV2, Type: TypeTick, Time: tm}); err != nil || !reflect.DeepEqual(e, want) {
			t.Fatalf("Decode(Tick) = %+v, %v; want %+v", e, err, want)
		}
		for _, v := range []uint8{FormatV1, FormatV2} {
			e, err := Decode(AppendFormat(nil, tm, v))
			if want := (Entry{Version: FormatV2, Type: TypeFormat, Time: tm, Format: v}); err != nil || !reflect.DeepEqual(e, want) {
				t.Fatalf("Decode(Format) = %+v, %v; want %+v", e, err, want)
			}
		}
	}
}

// A write whose Seats list has one seat is encoded as a write of one seat:
// it decodes with Seat set and no list, and is answered like one.
func TestListOfOneSeatIsOneSeat(t *testing.T) {
	w := many(rsv(0, "a", "i"), 7)
	data := AppendBatch(nil, FormatV2, 1, []Write{w})
	if !bytes.Equal(data, AppendBatch(nil, FormatV2, 1, []Write{rsv(7, "a", "i")})) {
		t.Fatalf("a list of one seat encodes differently from one seat")
	}
	e, err := Decode(data)
	if err != nil || e.Writes[0].Seats != nil || e.Writes[0].Seat != 7 {
		t.Fatalf("Decode = %+v, %v", e, err)
	}
}

// Varints need not be minimal: the decoder takes any encoding of a number,
// and re-encoding yields the minimal (shorter) one.
func TestDecodeNonMinimalVarints(t *testing.T) {
	padded := entry(2, 2, 5, []byte{0x81, 0x00}, seatW2(OpReserve, "", []uint64{3}, "", ""))
	e, err := Decode(padded)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Version: 2, Type: TypeBatch, Time: 5, Writes: []Write{rsv(3, "", "")}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("Decode = %+v", e)
	}
	if re := encodeEntry(e); len(re) >= len(padded) {
		t.Fatalf("re-encoding is not shorter: % x", re)
	}
}

func TestCanEncode(t *testing.T) {
	tests := []struct {
		w      Write
		v1, v2 bool
	}{
		{rsv(1, "a", "i"), true, true},
		{cnl(1, "", ""), true, true},
		{rsv(0, "", ""), true, true},
		{hld(1, "a", 5, ""), false, true},
		{mkEvent("e", 3, ""), false, true},
		{delEvent("e", ""), false, true},
		{in("e", rsv(1, "", "")), false, true},
		{in(DefaultEvent, rsv(1, "", "")), false, true}, // only "" is format 1's event
		{many(rsv(0, "", ""), 1, 2), false, true},
		{many(rsv(0, "", ""), 1), false, true},
	}
	for _, tc := range tests {
		if got := CanEncode(FormatV1, &tc.w); got != tc.v1 {
			t.Errorf("CanEncode(1, %+v) = %v, want %v", tc.w, got, tc.v1)
		}
		if got := CanEncode(FormatV2, &tc.w); got != tc.v2 {
			t.Errorf("CanEncode(2, %+v) = %v, want %v", tc.w, got, tc.v2)
		}
		// Version 3 changes no entry: it encodes what version 2 does.
		if got := CanEncode(FormatV3, &tc.w); got != tc.v2 {
			t.Errorf("CanEncode(3, %+v) = %v, want %v", tc.w, got, tc.v2)
		}
		for _, f := range []uint8{0, MaxFormat + 1, 255} {
			if CanEncode(f, &tc.w) {
				t.Errorf("CanEncode(%d, %+v) = true", f, tc.w)
			}
		}
		// AppendWrite panics exactly when CanEncode is false.
		for _, f := range []uint8{FormatV1, FormatV2, 3} {
			want := CanEncode(f, &tc.w)
			got := func() (ok bool) {
				defer func() { ok = recover() == nil }()
				AppendWrite(nil, f, &tc.w)
				return
			}()
			if got != want {
				t.Errorf("AppendWrite(%d, %+v): panicked = %v, want %v", f, tc.w, !got, !want)
			}
		}
	}
	// And so does AppendBatch, before writing a part-3 write into format 1.
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("AppendBatch(format 1) of a hold did not panic")
			}
		}()
		AppendBatch(nil, FormatV1, 1, []Write{rsv(1, "", ""), hld(1, "h", 5, "")})
	}()
}

func TestDecodeMaxBatch(t *testing.T) {
	ws := make([]Write, MaxBatch)
	for i := range ws {
		ws[i] = rsv(uint32(i), "", "")
	}
	for _, f := range []uint8{FormatV1, FormatV2} {
		e, err := Decode(AppendBatch(nil, f, 1, ws))
		if err != nil || len(e.Writes) != MaxBatch {
			t.Fatalf("format %d: Decode of MaxBatch writes: %d writes, %v", f, len(e.Writes), err)
		}
		if _, err := Decode(AppendBatch(nil, f, 1, append(slices.Clip(ws), rsv(1, "", "")))); !errors.Is(err, ErrCorruptData) {
			t.Fatalf("format %d: Decode of MaxBatch+1 writes: %v, want ErrCorruptData", f, err)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	w := []byte{byte(OpReserve), 1, 0, 0} // version 1: RESERVE 1, anonymous, no id
	w2 := seatW2(OpReserve, "", []uint64{1}, "", "")
	long := strings.Repeat("x", 65)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorruptData},
		{"one byte", []byte{1}, ErrCorruptData},
		{"header minus one", entry(2, 3, 0)[:headerLen-1], ErrCorruptData},
		{"version 0", entry(0, 2, 0, 1, w), ErrVersion},
		{"version 4", entry(MaxFormat+1, 2, 0, 1, w), ErrVersion},
		{"version 4 tick", entry(MaxFormat+1, 3, 0), ErrVersion},
		{"version 255", []byte{255, 1, 0, 0, 0, 0, 0, 0, 0, 0}, ErrVersion},
		{"v1 type 0", entry(1, 0, 0, 1, w), ErrEntryType},
		{"v1 tick", entry(1, 3, 0), ErrEntryType},
		{"v1 format", entry(1, 4, 0, []byte{2}), ErrEntryType},
		{"v1 type 255", entry(1, 255, 0), ErrEntryType},
		{"v2 init", entry(2, 1, 0, 5), ErrEntryType},
		{"v2 type 0", entry(2, 0, 0), ErrEntryType},
		{"v2 type 5", entry(2, 5, 0), ErrEntryType},
		{"init without seats", entry(1, 1, 0), ErrCorruptData},
		{"init 0 seats", entry(1, 1, 0, 0), ErrCorruptData},
		{"init MaxSeats+1", entry(1, 1, 0, MaxSeats+1), ErrCorruptData},
		{"init 2^32+5 seats", entry(1, 1, 0, uint64(1)<<32+5), ErrCorruptData},
		{"init seats overflow uvarint", entry(1, 1, 0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), ErrCorruptData},
		{"init truncated uvarint", entry(1, 1, 0, []byte{0x80}), ErrCorruptData},
		{"init trailing byte", entry(1, 1, 0, 5, []byte{0}), ErrCorruptData},
		{"tick trailing byte", entry(2, 3, 0, []byte{0}), ErrCorruptData},
		{"format without version", entry(2, 4, 0), ErrCorruptData},
		{"format trailing byte", entry(2, 4, 0, []byte{2, 0}), ErrCorruptData},
		{"format raising to 4", entry(2, 4, 0, []byte{MaxFormat + 1}), ErrVersion},
		{"format raising to 0", entry(2, 4, 0, []byte{0}), ErrVersion},
		{"batch without count", entry(1, 2, 0), ErrCorruptData},
		{"batch count 0", entry(1, 2, 0, 0), ErrCorruptData},
		{"v2 batch count 0", entry(2, 2, 0, 0), ErrCorruptData},
		{"batch count 0 with trailing write", entry(1, 2, 0, 0, w), ErrCorruptData},
		{"count larger than writes", entry(1, 2, 0, 2, w), ErrCorruptData},
		{"v2 count larger than writes", entry(2, 2, 0, 2, w2), ErrCorruptData},
		{"count too large for the bytes", entry(1, 2, 0, 1000, w, w), ErrCorruptData},
		{"count above MaxBatch", entry(1, 2, 0, MaxBatch+1, bytes.Repeat(w, MaxBatch+1)), ErrCorruptData},
		{"count 2^64-1", entry(1, 2, 0, uint64(math.MaxUint64), w), ErrCorruptData},
		{"count overflows uvarint", entry(1, 2, 0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, w), ErrCorruptData},
		{"v1 op 0", entry(1, 2, 0, 1, []byte{0, 1, 0, 0}), ErrEntryType},
		{"v1 op hold", entry(1, 2, 0, 1, []byte{3, 1, 1, 'h', 0}), ErrEntryType},
		{"v1 op event create", entry(1, 2, 0, 1, []byte{4, 1, 'e', 1, 0}), ErrEntryType},
		{"v1 op event delete", entry(1, 2, 0, 1, []byte{5, 1, 'e', 0}), ErrEntryType},
		{"v1 op 255 in second write", entry(1, 2, 0, 2, w, []byte{255, 1, 0, 0}), ErrEntryType},
		{"v2 op 0", entry(2, 2, 0, 1, []byte{0, 0, 1, 1, 0, 0}), ErrEntryType},
		{"v2 op 6", entry(2, 2, 0, 1, []byte{6, 0, 1, 1, 0, 0}), ErrEntryType},
		{"v2 op 255 in second write", entry(2, 2, 0, 2, w2, []byte{255, 0, 1, 1, 0, 0}), ErrEntryType},
		{"trailing byte", entry(1, 2, 0, 1, w, []byte{0}), ErrCorruptData},
		{"trailing write", entry(1, 2, 0, 1, w, w), ErrCorruptData},
		{"v2 trailing byte", entry(2, 2, 0, 1, w2, []byte{0}), ErrCorruptData},
		{"truncated write", entry(1, 2, 0, 1, w[:3]), ErrCorruptData},
		{"seat 2^32", entry(1, 2, 0, 1, []byte{1}, uint64(1)<<32, 0, 0), ErrCorruptData},
		{"seat 2^64-1", entry(1, 2, 0, 1, []byte{1}, uint64(math.MaxUint64), 0, 0), ErrCorruptData},
		{"seat overflows uvarint", entry(1, 2, 0, 1, []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0}), ErrCorruptData},
		{"holder of 65 bytes", entry(1, 2, 0, 1, []byte{1}, 1, 65, long, 0), ErrCorruptData},
		{"holder length 2^63", entry(1, 2, 0, 1, []byte{1}, 1, uint64(1)<<63, 0), ErrCorruptData},
		{"holder longer than entry", entry(1, 2, 0, 1, []byte{1}, 1, 10, "abc", 0), ErrCorruptData},
		{"id of 65 bytes", entry(1, 2, 0, 1, []byte{1}, 1, 0, 65, long), ErrCorruptData},
		{"id longer than entry", entry(1, 2, 0, 1, []byte{1}, 1, 0, 5, "abcd"), ErrCorruptData},
		{"id length missing", entry(1, 2, 0, 1, []byte{1}, 1, 1, "a"), ErrCorruptData},
		{"v2 seat 2^32", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{1 << 32}, "", "")), ErrCorruptData},
		{"v2 no seats", entry(2, 2, 0, 1, seatW2(OpReserve, "", nil, "", ""), []byte{0, 0}), ErrCorruptData},
		{"v2 101 seats", entry(2, 2, 0, 1, seatW2(OpReserve, "", append([]uint64{1}, slices.Repeat([]uint64{1}, 100)...), "", "")), ErrCorruptData},
		{"v2 seat count 2^64-1", entry(2, 2, 0, 1, []byte{1, 0}, uint64(math.MaxUint64), 1, 0, 0), ErrCorruptData},
		{"v2 seats not ascending (gap 0)", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{3, 0}, "", "")), ErrCorruptData},
		{"v2 seat list beyond 2^32-1", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{math.MaxUint32, 1}, "", "")), ErrCorruptData},
		{"v2 first of a list 2^32", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{1 << 32, 1}, "", "")), ErrCorruptData},
		{"v2 seat list truncated", entry(2, 2, 0, 1, []byte{1, 0, 3, 1, 1}), ErrCorruptData},
		{"v2 seat write with a bad event name", entry(2, 2, 0, 1, seatW2(OpReserve, "a/b", []uint64{1}, "", "")), ErrCorruptData},
		{"v2 event name of 65 bytes", entry(2, 2, 0, 1, seatW2(OpReserve, long, []uint64{1}, "", "")), ErrCorruptData},
		{"v2 hold without holder", entry(2, 2, 0, 1, seatW2(OpHold, "", []uint64{1}, "", "", 5)), ErrCorruptData},
		{"v2 hold of ttl 0", entry(2, 2, 0, 1, seatW2(OpHold, "", []uint64{1}, "h", "", 0)), ErrCorruptData},
		{"v2 hold of ttl 3601", entry(2, 2, 0, 1, seatW2(OpHold, "", []uint64{1}, "h", "", MaxTTL+1)), ErrCorruptData},
		{"v2 hold of ttl 2^64-1", entry(2, 2, 0, 1, seatW2(OpHold, "", []uint64{1}, "h", "", math.MaxUint64)), ErrCorruptData},
		{"v2 hold without ttl", entry(2, 2, 0, 1, seatW2(OpHold, "", []uint64{1}, "h", "")), ErrCorruptData},
		{"v2 reserve with a ttl", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{1}, "h", "", 5)), ErrCorruptData},
		{"v2 create of an empty name", entry(2, 2, 0, 1, []byte{4}, str(""), 5, str("")), ErrCorruptData},
		{"v2 create of a name with a space", entry(2, 2, 0, 1, []byte{4}, str("a b"), 5, str("")), ErrCorruptData},
		{"v2 create of a name with @", entry(2, 2, 0, 1, []byte{4}, str("a@b"), 5, str("")), ErrCorruptData},
		{"v2 create of a name with :", entry(2, 2, 0, 1, []byte{4}, str("a:b"), 5, str("")), ErrCorruptData},
		{"v2 create of a name of 65 bytes", entry(2, 2, 0, 1, []byte{4}, str(long), 5, str("")), ErrCorruptData},
		{"v2 create of 0 seats", entry(2, 2, 0, 1, []byte{4}, str("e"), 0, str("")), ErrCorruptData},
		{"v2 create of MaxSeats+1 seats", entry(2, 2, 0, 1, []byte{4}, str("e"), MaxSeats+1, str("")), ErrCorruptData},
		{"v2 create without count", entry(2, 2, 0, 1, []byte{4}, str("e")), ErrCorruptData},
		{"v2 create without id", entry(2, 2, 0, 1, []byte{4}, str("e"), 5), ErrCorruptData},
		{"v2 delete of an empty name", entry(2, 2, 0, 1, []byte{5}, str(""), str("")), ErrCorruptData},
		{"v2 delete of a bad name", entry(2, 2, 0, 1, []byte{5}, str("é"), str("")), ErrCorruptData},
		{"v2 delete without id", entry(2, 2, 0, 1, []byte{5}, str("e")), ErrCorruptData},
		{"v2 good write, then a bad one", entry(2, 2, 0, 2, w2, seatW2(OpHold, "", []uint64{1}, "", "", 5)), ErrCorruptData},
	}
	sentinels := []error{ErrVersion, ErrEntryType, ErrCorruptData}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode(% x) succeeded, want %v", tc.data, tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(% x) = %v, want an error wrapping %v", tc.data, err, tc.want)
			}
			for _, other := range sentinels {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("Decode error %v also wraps %v", err, other)
				}
			}
			// Apply halts on it and changes nothing.
			h := newHarness(t, testOpts)
			h.init(10, 5)
			h.ok(10, hld(1, "h", 1, "i"))
			before := dump(h.f)
			h.halts(tc.data, tc.want)
			before.Halted = true
			requireSameState(t, "after a corrupt entry", dump(h.f), before)
		})
	}
}

// Values at the limits are accepted.
func TestDecodeLimits(t *testing.T) {
	chars := "ABCXYZabcxyz0189._-"
	tests := []struct {
		name string
		data []byte
		want Entry
	}{
		{"holder and id of 64 bytes", entry(1, 2, 7, 1, []byte{2}, 3, 64, holder64, 64, id64),
			Entry{Version: 1, Type: TypeBatch, Time: 7, Writes: []Write{cnl(3, holder64, id64)}}},
		{"seat 2^32-1", entry(1, 2, 7, 1, []byte{1}, uint64(math.MaxUint32), 0, 0),
			Entry{Version: 1, Type: TypeBatch, Time: 7, Writes: []Write{rsv(math.MaxUint32, "", "")}}},
		{"seat 0", entry(1, 2, 7, 1, []byte{1}, 0, 0, 0),
			Entry{Version: 1, Type: TypeBatch, Time: 7, Writes: []Write{rsv(0, "", "")}}},
		{"init MaxSeats", entry(1, 1, -7, MaxSeats), Entry{Version: 1, Type: TypeInit, Time: -7, Seats: MaxSeats}},
		{"init 1 seat", entry(1, 1, 0, 1), Entry{Version: 1, Type: TypeInit, Seats: 1}},
		{"format 1", entry(2, 4, 3, []byte{1}), Entry{Version: 2, Type: TypeFormat, Time: 3, Format: 1}},
		{"tick at the earliest time", entry(2, 3, math.MinInt64), Entry{Version: 2, Type: TypeTick, Time: math.MinInt64}},
		{"v2 100 seats", entry(2, 2, 0, 1, seatW2(OpCancel, "", append([]uint64{1}, slices.Repeat([]uint64{1}, 99)...), "", "")),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{many(cnl(0, "", ""), seatRange(1, 100)...)}}},
		{"v2 seat list ending at 2^32-1", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{math.MaxUint32 - 5, 5}, "", "")),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{many(rsv(0, "", ""), math.MaxUint32-5, math.MaxUint32)}}},
		{"v2 seat list from seat 0", entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{0, 1}, "", "")),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{many(rsv(0, "", ""), 0, 1)}}},
		{"v2 hold of ttl 1 and 3600", entry(2, 2, 0, 2, seatW2(OpHold, "", []uint64{1}, "h", "", 1), seatW2(OpHold, "", []uint64{1}, "h", "", MaxTTL)),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{hld(1, "h", 1, ""), hld(1, "h", MaxTTL, "")}}},
		{"v2 event name of 64 bytes", entry(2, 2, 0, 1, seatW2(OpReserve, event64, []uint64{1}, "", "")),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{in(event64, rsv(1, "", ""))}}},
		{"v2 every character of an event name", entry(2, 2, 0, 2, []byte{4}, str(chars), 1, str(""), []byte{5}, str(chars), str("")),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{mkEvent(chars, 1, ""), delEvent(chars, "")}}},
		{"v2 create of MaxSeats", entry(2, 2, 0, 1, []byte{4}, str("e"), MaxSeats, str("i")),
			Entry{Version: 2, Type: TypeBatch, Writes: []Write{mkEvent("e", MaxSeats, "i")}}},
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
		AppendTick(nil, 5),
		AppendFormat(nil, 5, 2),
		AppendBatch(nil, FormatV1, 5, []Write{rsv(1, "alice", "id-1"), cnl(300, holder64, id64), rsv(2, "", "")}),
		AppendBatch(nil, FormatV2, 5, canonicalWrites()),
	} {
		if _, err := Decode(data); err != nil {
			t.Fatalf("full entry: %v", err)
		}
		for n := 0; n < len(data); n++ {
			if _, err := Decode(data[:n]); !errors.Is(err, ErrCorruptData) {
				t.Errorf("Decode of %d of %d bytes = %v, want ErrCorruptData", n, len(data), err)
			}
		}
	}
}

// Decode does not keep references into its input: the strings it returns
// survive the caller reusing the buffer (raft reuses log buffers).
func TestDecodeCopiesStrings(t *testing.T) {
	data := AppendBatch(nil, FormatV2, 1, []Write{in("ev", many(hld(0, "alice", 5, "id-1"), 1, 2))})
	e, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'Z'
	}
	w := e.Writes[0]
	if w.Holder != "alice" || w.ID != "id-1" || w.Event != "ev" || !slices.Equal(w.Seats, []uint32{1, 2}) {
		t.Fatalf("decoded write changed with the buffer: %+v", w)
	}
}
