package fsm

import "slices"

// chunks is an append-only sequence of T kept in chunks of a fixed length,
// for the tables that grow with throughput (the applied ids). Growing it
// never copies what it holds — one large slice would, under the FSM's lock,
// in one go of hundreds of megabytes at a few million ids — and forgetting
// its oldest elements frees whole chunks.
//
// Elements are addressed by position: the number of elements reserved
// before them since the sequence began. An element is never written again
// once its writer returns, and a chunk is never reused, so a copy made by
// view may read what it covers while the sequence goes on, and a slice
// returned by at stays valid for as long as it is held.
type chunks[T any] struct {
	list  [][]T  // list[0] holds the positions from first on, 1<<shift each
	shift uint   // log2 of the chunk length
	first uint64 // position of list[0][0], a multiple of the chunk length
	end   uint64 // position past the last reserved element
}

func newChunks[T any](shift uint) chunks[T] { return chunks[T]{shift: shift} }

// reserve returns the position of n adjacent new elements (0 < n ≤ the
// chunk length) and the slice to write them to. When the current chunk has
// less room, the rest of it stays unused and the elements start the next.
func (c *chunks[T]) reserve(n int) (uint64, []T) {
	size := uint64(1) << c.shift
	if n <= 0 || uint64(n) > size {
		panic("fsm: chunks.reserve of more than a chunk") // the table's limits make it impossible
	}
	if c.end&(size-1)+uint64(n) > size {
		c.end = (c.end>>c.shift + 1) << c.shift
	}
	if c.end == c.first+uint64(len(c.list))<<c.shift {
		c.list = append(c.list, make([]T, size))
	}
	pos := c.end
	c.end += uint64(n)
	return pos, c.at(pos, n)
}

// at returns the n elements from position pos, which must be reserved and
// not forgotten.
func (c *chunks[T]) at(pos uint64, n int) []T {
	i := pos - c.first
	off := i & (1<<c.shift - 1)
	return c.list[i>>c.shift][off : off+uint64(n) : off+uint64(n)]
}

// forgetBefore frees the chunks that hold nothing at or after pos (the
// newest chunk is kept, to go on filling it).
func (c *chunks[T]) forgetBefore(pos uint64) {
	size := uint64(1) << c.shift
	for len(c.list) > 1 && c.first+size <= pos {
		c.list[0] = nil // views hold their own list
		c.list = c.list[1:]
		c.first += size
	}
}

// view returns a copy that reads the elements reserved so far while c goes
// on: it shares the chunks, not the list of them. It costs O(chunks).
func (c *chunks[T]) view() chunks[T] {
	v := *c
	v.list = slices.Clone(c.list)
	return v
}
