package client

import (
	"sort"
	"strings"
)

// helpSummary is what "help" prints in the interactive session.
const helpSummary = `requests (verbs in any case; answers as docs/protocol.md describes):
  RESERVE <seats> [<holder>] [event=<e>] [id=<id>]   book seats, all or none (confirms your holds)
  CANCEL  <seats> [<holder>] [event=<e>] [id=<id>]   free your bookings or holds, all or none
  HOLD    <seats> <holder> [ttl=<s>] [event=<e>] [id=<id>]   hold seats for ttl seconds
  STATUS  [<seat>] [event=<e>]                       one seat, or the event's summary
  HISTORY <seat> [event=<e>]                         the seat's last changes
  EVENT CREATE <name> <N> | EVENT DELETE <name> | EVENT LIST
  LEADER                                             the node that leads
<seats> is one seat (3), a list (3,4,9), a range (10-20) or both (3,10-20), at most 100.
session: help <verb> explains a verb; use <event> names an event for the requests that
name none (use default to go back); up/down recall earlier lines; quit or ^D leaves.
`

// helpVerbs explains each verb for "help <verb>".
var helpVerbs = map[string]string{
	"RESERVE": `RESERVE <seats> [<holder>] [event=<e>] [id=<id>]
  Books every seat named, or none. A seat you hold is confirmed (booked); a seat you
  already booked stays yours. Without a holder the booking is anonymous (with a client
  certificate, it is yours). Answers: SUCCESS; FAILED_ALREADY_BOOKED, FAILED_INVALID_SEAT
  (for several seats followed by the seats that failed: FAILED_ALREADY_BOOKED 4,9);
  FAILED_NO_EVENT.
  e.g. RESERVE 10-13 bob event=gala
`,
	"CANCEL": `CANCEL <seats> [<holder>] [event=<e>] [id=<id>]
  Frees every seat named, or none: your bookings, and your holds (released at once).
  Answers: SUCCESS; FAILED_NOT_BOOKED, FAILED_NOT_HOLDER, FAILED_INVALID_SEAT (with the
  seats that failed when several were named); FAILED_NO_EVENT.
  e.g. CANCEL 3,4 alice event=gala
`,
	"HOLD": `HOLD <seats> <holder> [ttl=<seconds>] [event=<e>] [id=<id>]
  Holds every seat named for ttl seconds (default 300, at most 3600), or none. A held seat
  is taken: others cannot reserve or hold it. Your RESERVE confirms it, your CANCEL
  releases it, and when the hold runs out the seat is free again. HOLD again renews it.
  Answers: HELD <expires-unix-ms>; FAILED_ALREADY_BOOKED (with seats when several);
  FAILED_INVALID_SEAT; FAILED_NO_EVENT.
  e.g. HOLD 3,4 alice ttl=120 event=gala
`,
	"STATUS": `STATUS [<seat>] [event=<e>]
  One seat: FREE, BOOKED, BOOKED <holder>, HELD <holder> <expires-unix-ms>,
  FAILED_INVALID_SEAT. No seat: SEATS <total> FREE <free> BOOKED <booked>, and HELD <held>
  once the event has seen a hold. FAILED_NO_EVENT for an unknown event.
  e.g. STATUS 3 event=gala
`,
	"HISTORY": `HISTORY <seat> [event=<e>]
  The seat's last changes, oldest first: HISTORY <n> op,holder,log-index,time-ms ...
  with op one of HOLD RESERVE CONFIRM CANCEL RELEASE EXPIRE and an empty holder for
  anonymous. At least the last 16 changes are kept.
  e.g. HISTORY 12 event=gala  ->  HISTORY 2 HOLD,alice,41,1767225600000 CONFIRM,alice,44,1767225630000
`,
	"EVENT": `EVENT CREATE <name> <N> [id=<id>]   a new event of seats 1..N (N up to 1,000,000): SUCCESS, FAILED_EXISTS
EVENT DELETE <name> [id=<id>]       the event, its seats, holds and history are gone: SUCCESS, FAILED_NO_EVENT
EVENT LIST                          EVENTS <name> <name> ...
  Names are 1-64 of A-Z a-z 0-9 . _ -; the event "default" always exists and cannot be deleted.
`,
	"LEADER": `LEADER
  LEADER <node-id>: the node that leads the cluster now (ERROR NO_LEADER during an election).
`,
	"USE": `use <event>
  A session command: later requests that name no event= name this one; "use default" goes back.
`,
}

// Help returns the help of the interactive session: the summary, or the
// explanation of one verb.
func Help(verb string) string {
	if verb == "" {
		return helpSummary
	}
	if text, ok := helpVerbs[strings.ToUpper(strings.Fields(verb)[0])]; ok {
		return text
	}
	names := make([]string, 0, len(helpVerbs))
	for v := range helpVerbs {
		names = append(names, strings.ToLower(v))
	}
	sort.Strings(names)
	return "no help for " + verb + "; try help " + strings.Join(names, ", help ") + "\n"
}
