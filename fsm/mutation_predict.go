//go:build seatd_mut_earlyack

package fsm

// Predict computes the results writes would have if applied now, without
// changing anything. Only the deliberately broken early-ack build uses it
// (build tag seatd_mut_earlyack): it answers clients from a prediction
// before the entry is committed.
func (f *FSM) Predict(writes []Write) []Result {
	f.mu.RLock()
	defer f.mu.RUnlock()
	overlay := map[uint32]seat{}
	results := make([]Result, len(writes))
	for i, w := range writes {
		if w.ID != "" {
			if r, ok := f.st.ids[w.ID]; ok {
				results[i] = r
				continue
			}
		}
		if w.Seat == 0 || int(w.Seat) > len(f.st.seats) {
			results[i] = ResultInvalidSeat
			continue
		}
		s, ok := overlay[w.Seat]
		if !ok {
			s = f.st.seats[w.Seat-1]
		}
		switch {
		case w.Op == OpReserve && !s.booked:
			s, results[i] = seat{booked: true, holder: w.Holder}, ResultSuccess
		case w.Op == OpReserve && w.Holder != "" && s.holder == w.Holder:
			results[i] = ResultSuccess
		case w.Op == OpReserve:
			results[i] = ResultAlreadyBooked
		case !s.booked:
			results[i] = ResultNotBooked
		case s.holder != w.Holder:
			results[i] = ResultNotHolder
		default:
			s, results[i] = seat{}, ResultSuccess
		}
		overlay[w.Seat] = s
	}
	return results
}
