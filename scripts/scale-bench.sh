#!/usr/bin/env bash
# Measure what booked state costs a running cluster (docs/benchmarks.md,
# "State at scale").
#
#   scripts/scale-bench.sh [--bin DIR] [--booked N] [--duration 4s] [--flat] [--default-snapshots]
#
# Starts a fresh three-node cluster (clients 7211-7213, Raft 8211-8213,
# --seats 1000000) from DIR/seatd, books N seats
# spread at random over 1,000 events of 10,000 seats (`seat bench
# --fill-events`), then prints one line of figures:
#
#   booked     seats booked before the run
#   ops/s p50 p99  `seat bench --workload distinct --clients 64` on the
#              default event (its seats are never the filled ones)
#   rss_mb     the three nodes' resident memory after the run (max)
#   snap_mb    the largest snapshot file on any node at the end (nodes run
#              with --snapshot-threshold 1024 --snapshot-interval 1s, so
#              the measured run also pays for the snapshots it causes, a
#              snapshot every second or so; --default-snapshots runs them
#              with seatd's default snapshot policy instead)
#   restart_s  from starting all nodes again (after a SIGTERM of all) until STATUS of seat 1
#              answers (restore of the snapshot, log replay and an election)
#
# --flat measures a build without events (the flat seat array of 424dfdf):
# the N seats are booked in the default event instead (seats 1..N, by a
# pipelined distinct run), and the measured run uses the remaining seats.
# The nodes share the CPUs by themselves, as in scripts/bench.sh. Logs and
# data go to a temporary directory, kept on failure or with KEEP_SCALE=1.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=""
booked=0
duration=4s
flat=0
snapshot_flags=(--snapshot-threshold 1024 --snapshot-interval 1s)
while (($# > 0)); do
	case $1 in
	--bin) bin=$2; shift 2 ;;
	--booked) booked=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--flat) flat=1; shift ;;
	--default-snapshots) snapshot_flags=(); shift ;;
	-h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
[[ $booked =~ ^[0-9]+$ ]] || die "--booked wants a number, not '$booked'"
((booked <= 1000000)) || die "--booked is at most 1000000"
((!flat || booked < 1000000)) || die "--flat --booked is at most 999999: the run books the seats left of the 1,000,000"
[[ -z $bin || $bin == /* ]] || bin=$PWD/$bin # relative to where it was run
cd "$(dirname "$0")/.."
bin=$(binaries "$bin")

ids=(n1 n2 n3)
client_addr=(127.0.0.1:7211 127.0.0.1:7212 127.0.0.1:7213)
raft_addr=(127.0.0.1:8211 127.0.0.1:8212 127.0.0.1:8213)
peers=n1=${raft_addr[0]},n2=${raft_addr[1]},n3=${raft_addr[2]}
addrs=${client_addr[0]},${client_addr[1]},${client_addr[2]}
for a in "${client_addr[@]}" "${raft_addr[@]}"; do
	! port_in_use "$a" || die "address already in use: $a"
done
work=$(mktemp -d /tmp/seatd-scale.XXXXXX)
declare -A pid=()

start() {
	local i
	for i in 0 1 2; do
		"$bin/seatd" --id "${ids[i]}" --listen "${client_addr[i]}" --raft "${raft_addr[i]}" \
			--data "$work/${ids[i]}" --peers "$peers" --seats 1000000 \
			${snapshot_flags[@]+"${snapshot_flags[@]}"} >>"$work/${ids[i]}.log" 2>&1 &
		pid[${ids[i]}]=$!
	done
}
stop() {
	local id
	for id in "${!pid[@]}"; do kill -TERM "${pid[$id]}" 2>/dev/null || true; done
	for id in "${!pid[@]}"; do wait "${pid[$id]}" 2>/dev/null || true; done
	pid=()
}
cleanup() {
	stop
	if ((${ok:-0})); then rm -rf "$work"; else echo "scale-bench.sh: logs kept in $work" >&2; fi
}
trap cleanup EXIT
# wait_answer: until STATUS of seat 1 answers through any node (30 s at most).
wait_answer() {
	local t0
	t0=$(now_ms)
	until "$bin/seat" --addr "$addrs" --timeout 1s status 1 >/dev/null 2>&1; do
		(($(now_ms) - t0 < 30000)) || die "no answer 30 s after start (logs in $work)"
		sleep 0.02
	done
}

start
wait_answer
run=(--addr "$addrs" bench --workload distinct --clients 64 --warmup 1s --duration "$duration" --json)
if ((flat)); then
	if ((booked > 0)); then
		# Book seats 1..N: a pipelined distinct run longer than it needs,
		# which stops with "seat space exhausted" once every seat is booked.
		if "$bin/seat" --addr "$addrs" bench --workload distinct --clients 64 --pipeline 16 --seats "$booked" \
			--warmup 0s --duration "$((booked / 2000 + 10))s" >"$work/fill.txt" 2>&1 ||
			! grep -q 'seat space exhausted' "$work/fill.txt"; then
			die "the fill did not book all $booked seats (see $work/fill.txt)"
		fi
	fi
	run+=(--seat-start "$((booked + 1))" --seats "$((1000000 - booked))")
elif ((booked > 0)); then
	"$bin/seat" --addr "$addrs" bench --fill-events 1000 --fill-event-seats 10000 --fill-booked "$booked" \
		--workload read --clients 1 --warmup 0s --duration 1s >"$work/fill.txt" 2>&1
fi
result=$("$bin/seat" "${run[@]}")
echo "$result" >"$work/result.json"
rss=0
for id in "${ids[@]}"; do
	r=$(awk '/^VmRSS/ {print $2}' "/proc/${pid[$id]}/status")
	((r > rss)) && rss=$r
done
stop
snap=$(find "$work" -name state.bin -printf '%s\n' | sort -n | tail -1)
t0=$(now_ms)
start
wait_answer
restart_ms=$(($(now_ms) - t0))
field() { grep -o "\"$1\": *[0-9.e+-]*" <<<"$result" | head -1 | cut -d: -f2 | tr -d " "; }
printf 'booked=%s ops/s=%.0f p50=%.2f p99=%.2f max=%.1f rss_mb=%d snap_mb=%.2f restart_s=%.2f\n' \
	"$booked" "$(field ops_per_sec)" "$(field p50)" "$(field p99)" "$(field max)" "$((rss / 1024))" \
	"$(awk -v b="${snap:-0}" 'BEGIN {print b / 1e6}')" "$(awk -v m="$restart_ms" 'BEGIN {print m / 1000}')"
ok=${KEEP_SCALE:+0}; ok=${ok:-1}
