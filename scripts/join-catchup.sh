#!/usr/bin/env bash
# Measure how long a fresh node takes from `seatd --join` to voter.
#
#   scripts/join-catchup.sh [--booked 100000] [--snapshot]
#
# Starts a fresh three-node cluster (clients 127.0.0.1:7511-7513, Raft
# 8511-8513), books N seats spread over 1,000 events of 10,000 seats, then
# starts n4 (client 7514, Raft 8514) with --join and prints the time until
# `seat cluster list` names it a voter, with the leader's membership lines.
# With --snapshot the nodes compact their log first (--snapshot-threshold
# 64 --trailing-logs 16), so that n4 catches up from a snapshot rather than
# from the log. Logs and data go to a temporary directory, deleted at the end
# (kept, and named, when a step fails).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

booked=100000
flags=()
while (($# > 0)); do
	case $1 in
	--booked) booked=$2; shift 2 ;;
	--snapshot) flags=(--snapshot-threshold 64 --trailing-logs 16 --snapshot-interval 1s); shift ;;
	-h | --help) sed -n '2,13p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
cd "$(dirname "$0")/.."
go build -o bin/ ./cmd/seatd ./cmd/seat
work=$(mktemp -d /tmp/seatd-join.XXXXXX)
pids=()
ok=0
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if ((ok)); then rm -rf "$work"; else echo "join-catchup.sh: logs kept in $work" >&2; fi
}
trap cleanup EXIT
peers=n1=127.0.0.1:8511,n2=127.0.0.1:8512,n3=127.0.0.1:8513
addrs=127.0.0.1:7511,127.0.0.1:7512,127.0.0.1:7513
for a in 127.0.0.1:751{1,2,3,4} 127.0.0.1:851{1,2,3,4}; do
	! port_in_use "$a" || die "address already in use: $a"
done
for i in 1 2 3; do
	bin/seatd --id "n$i" --listen "127.0.0.1:751$i" --raft "127.0.0.1:851$i" \
		--data "$work/n$i" --peers "$peers" --seats 1000 "${flags[@]}" >"$work/n$i.log" 2>&1 &
	pids+=($!)
done
t0=$(now_ms)
until bin/seat --addr "$addrs" --timeout 1s status >/dev/null 2>&1; do
	for p in "${pids[@]}"; do alive "$p" || die "a node exited at start (logs in $work)"; done
	(($(now_ms) - t0 < 30000)) || die "no answer from the cluster 30 s after its start (logs in $work)"
	sleep 0.1
done
bin/seat --addr "$addrs" bench --fill-events 1000 --fill-event-seats 10000 --fill-booked "$booked" \
	--workload read --clients 1 --warmup 0s --duration 1s 2>&1 | grep '^filled'
if ((${#flags[@]} > 0)); then
	sleep 3 # a snapshot round (--snapshot-interval 1s) compacts the log
fi
t0=$(now_ms)
bin/seatd --id n4 --listen 127.0.0.1:7514 --raft 127.0.0.1:8514 \
	--data "$work/n4" --join 127.0.0.1:8512 "${flags[@]}" >"$work/n4.log" 2>&1 &
pids+=($!)
until bin/seat cluster --raft 127.0.0.1:8511,127.0.0.1:8512,127.0.0.1:8513 list 2>/dev/null | grep -q '^n4 .* voter'; do
	(($(now_ms) - t0 < 60000)) || die "n4 is not a voter 60 s after its start (logs in $work)"
	sleep 0.02
done
echo "n4 is a voter $(($(now_ms) - t0)) ms after its start, with $booked seats booked"
grep -h 'membership: \|installing snapshot\|Installed remote snapshot' "$work"/n*.log | cut -c1-150
ok=1
