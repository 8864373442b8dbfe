// Package bench is seatd's load generator: it drives a cluster over the raw
// client protocol and measures committed operations per second and request
// latency.
//
//	res, err := bench.Run(ctx, bench.Config{
//		Addrs:    []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"},
//		Workload: bench.WorkloadDistinct,
//		Target:   bench.TargetAll,
//		Clients:  16,
//		Duration: 10 * time.Second,
//		Warmup:   2 * time.Second,
//	})
//	if err != nil {
//		return err
//	}
//	fmt.Print(res.Text())
//
// The seat command runs it as "seat bench" and scripts/bench.sh runs the
// standard matrix of it against fresh local clusters; benchreport
// (bench/cmd/benchreport) turns saved JSON results into a markdown table and
// the SVG charts written by WriteCharts.
//
// # Load
//
// Each client is one TCP connection with at most Config.Pipeline requests in
// flight (closed loop: a new request is sent as soon as the window has room).
// A connection has a writer goroutine, which builds request lines straight
// into a buffered writer and flushes whenever the window is full, and a
// reader goroutine, which matches each answer line to the oldest outstanding
// request (the protocol answers in order). There is no goroutine and no heap
// allocation per request. A connection that fails is counted as an error and
// dialled again after a short pause, for as long as the run lasts.
//
// # Targets
//
// TargetAll spreads the clients round robin over Config.Addrs. TargetLeader
// puts every client on the leader and TargetFollower every client on one
// follower (the first address, in order, that is not the leader's). The
// leader is found by sending LEADER, which names the leader's node id only;
// the id is mapped to an address through Config.IDs, the node ids of Addrs in
// the same order (default n1, n2, ... as scripts/cluster.sh names them).
//
// # Workloads
//
//   - WorkloadDistinct: every request is "RESERVE <seat> b<client> id=<id>"
//     on a seat no request of the run used before, taken from a counter
//     running through [SeatStart, SeatStart+Seats). The run fails with an
//     error when the counter runs out.
//   - WorkloadContention: every client fights over seats 1–5 with
//     "RESERVE <s> b<client> id=<id>", and after a SUCCESS cancels the seat
//     again with "CANCEL <s> b<client> id=<id>", so the seats keep changing
//     hands. The cluster must have at least 5 seats.
//   - WorkloadMixed: half "STATUS <seat>" of a seat the run has already
//     booked, half distinct RESERVEs as above.
//   - WorkloadRead: "STATUS <seat>" of random seats 1..min(Seats, 1000).
//   - WorkloadFailover: distinct RESERVEs, each through its worker's own
//     client.Client over all the addresses (an id on every write, retries
//     across nodes): what an application sees while nodes restart. A
//     request counts as an error only when the library gives up on it.
//   - WorkloadOnSale: a sale's opening (see its doc comment): Clients
//     buyers (2,000 by default) for a new event of Seats seats (500), each
//     with its own client.Client, HOLD then RESERVE of a block of 1–4
//     adjacent seats, retried on a loss until seated or sold out. It runs
//     until every buyer is done, with no warm-up (Duration, 5 minutes by
//     default, only bounds it), measures the whole sale, and checks its
//     outcome against the cluster's seats; Result.OnSale has its figures.
//
// In all but the on-sale workload, a seat answered FAILED_INVALID_SEAT (a
// cluster, or an --event, with fewer seats than the run uses) fails the run
// at once with an error naming the seat count it needs: the figures would
// otherwise measure refusals.
//
// Every id is unique: a random prefix per run, the client number and a
// sequence number, so running twice against one cluster (whose applied ids
// are remembered for at least two minutes) never replays an earlier answer.
//
// # What is measured
//
// The first Config.Warmup of the run is not measured. After it, for
// Config.Duration, a request counts when it was sent after the warm-up ended
// and answered before the run ended. For each counted request the latency
// from writing its line to reading its answer goes into an HdrHistogram
// (1µs to 60s, 3 significant digits) of its client; the histograms are
// merged at the end. Answers are counted by kind: the first word of the line,
// or the first two for ERROR lines ("ERROR NO_LEADER"). Committed answers are
// all answers that are not ERROR lines: for writes, SUCCESS and FAILED_* are
// results of applied log entries; for reads, an answer is the result of a
// read confirmed by the leader. Result.OpsPerSec is committed answers divided
// by Config.Duration. Connection failures (dial, write, read) in the measured
// window are counted in Result.Errors.
package bench
