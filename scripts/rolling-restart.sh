#!/usr/bin/env bash
# Restart every node of a three-node cluster in turn while clients keep
# booking, and report what the clients saw.
#
#   scripts/rolling-restart.sh [--clients 16] [--settle 2s] [--keep]
#
# Builds bin/seatd and bin/seat, starts a fresh cluster (clients on
# 127.0.0.1:7301-7303, Raft on 127.0.0.1:8301-8303, data and logs in a
# temporary directory), and starts `seat bench --workload failover`: clients
# of the Go client library booking distinct seats, which retry across
# nodes with an id on every write, as an application would. Then, for each
# node in turn (n1, n2, n3): SIGTERM (a leader hands its leadership over
# first), wait for it to exit 0, start it again on its data, wait until it
# answers through its own port, let it settle. At the end it prints the
# clients' figures: committed bookings, failed requests (requests the
# library gave up on, and any answer but SUCCESS), and the longest stall (the
# slowest request, retries included). Exits 1 if a request failed, a node
# did not exit 0, or a node did not come back.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

clients=16
settle=2
keep=0
while (($# > 0)); do
	case $1 in
	--clients)
		(($# >= 2)) || die "--clients needs a number"
		clients=$2
		shift 2
		;;
	--settle)
		(($# >= 2)) || die "--settle needs a duration in seconds, like 2s"
		settle=${2%s}
		shift 2
		;;
	--keep)
		keep=1
		shift
		;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
[[ $clients =~ ^[0-9]+$ ]] && ((clients > 0)) || die "--clients wants a positive number, not '$clients'"
[[ $settle =~ ^[0-9]+$ ]] || die "--settle wants whole seconds like 2s, not '$settle'"

cd "$(dirname "$0")/.."
go build -o bin/ ./cmd/seatd ./cmd/seat

ids=(n1 n2 n3)
client_addr=(127.0.0.1:7301 127.0.0.1:7302 127.0.0.1:7303)
raft_addr=(127.0.0.1:8301 127.0.0.1:8302 127.0.0.1:8303)
peers=n1=${raft_addr[0]},n2=${raft_addr[1]},n3=${raft_addr[2]}
addrs=${client_addr[0]},${client_addr[1]},${client_addr[2]}
for a in "${client_addr[@]}" "${raft_addr[@]}"; do
	! port_in_use "$a" || die "address already in use: $a"
done
work=$(mktemp -d /tmp/seatd-rolling.XXXXXX)
declare -A pid=()
bench_pid=""
ok=0

start_node() {
	local i=$1
	printf '==== %s rolling-restart.sh: start %s\n' "$(date -Is)" "${ids[i]}" >>"$work/${ids[i]}.log"
	bin/seatd --id "${ids[i]}" --listen "${client_addr[i]}" --raft "${raft_addr[i]}" \
		--data "$work/${ids[i]}" --peers "$peers" --seats 1000000 >>"$work/${ids[i]}.log" 2>&1 &
	pid[${ids[i]}]=$!
}

# stop_node I: SIGTERM, wait up to 30 s, and require exit status 0.
stop_node() {
	local i=$1 id=${ids[$1]} status=0
	kill -TERM "${pid[$id]}"
	local deadline=$((SECONDS + 30))
	while alive "${pid[$id]}" && ((SECONDS < deadline)); do
		sleep 0.05
	done
	if alive "${pid[$id]}"; then
		kill -KILL "${pid[$id]}" 2>/dev/null || true
		wait "${pid[$id]}" 2>/dev/null || true
		unset "pid[$id]"
		die "$id did not exit within 30 s of SIGTERM (logs in $work)"
	fi
	wait "${pid[$id]}" || status=$?
	unset "pid[$id]"
	((status == 0)) || die "$id exited with status $status after SIGTERM (logs in $work)"
}

# wait_serving I: until node I answers a read through its own port (it knows
# a leader and the leader confirms), 30 s at most.
wait_serving() {
	local i=$1 t0
	t0=$(now_ms)
	until bin/seat --addr "${client_addr[i]}" --timeout 1s status >/dev/null 2>&1; do
		(($(now_ms) - t0 < 30000)) || die "${ids[i]} did not serve within 30 s of its start (logs in $work)"
		sleep 0.05
	done
}

cleanup() {
	if [[ -n $bench_pid ]]; then
		kill "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	for id in "${!pid[@]}"; do kill -TERM "${pid[$id]}" 2>/dev/null || true; done
	for id in "${!pid[@]}"; do wait "${pid[$id]}" 2>/dev/null || true; done
	if ((ok && !keep)); then rm -rf "$work"; else echo "rolling-restart.sh: logs and data in $work" >&2; fi
}
trap cleanup EXIT

for i in 0 1 2; do start_node "$i"; done
for i in 0 1 2; do wait_serving "$i"; done

# Long enough for three restarts and their settling (checked below).
restart_budget=$((3 * (settle + 8) + 4))
bin/seat --addr "$addrs" bench --workload failover --clients "$clients" --warmup 1s \
	--duration "${restart_budget}s" --json >"$work/result.json" 2>"$work/bench.err" &
bench_pid=$!
sleep 2 # the warm-up, and a second of load before the first restart

t_start=$(now_ms)
for i in 0 1 2; do
	role=follower
	if [[ $(bin/seat --addr "$addrs" --timeout 2s leader 2>/dev/null || true) == "LEADER ${ids[i]}" ]]; then
		role=leader
	fi
	t0=$(now_ms)
	stop_node "$i"
	t_stopped=$(now_ms)
	start_node "$i"
	wait_serving "$i"
	printf 'restarted %s (%s): stopped in %d ms, serving again %d ms after its start\n' \
		"${ids[i]}" "$role" "$((t_stopped - t0))" "$(($(now_ms) - t_stopped))"
	sleep "$settle"
done
restarts_ms=$(($(now_ms) - t_start))
printf 'all three restarts took %.1f s\n' "$(awk -v ms=$restarts_ms 'BEGIN {print ms / 1000}')"
# The load must have run through every restart.
((restarts_ms / 1000 + 3 < restart_budget)) || die "the restarts took longer than the load ran (${restart_budget}s): raise the budget"

if ! wait "$bench_pid"; then
	bench_pid=""
	cat "$work/bench.err" >&2
	die "seat bench failed"
fi
bench_pid=""
result=$(cat "$work/result.json")
# field NAME: the first number after "NAME": in the JSON result.
field() { grep -o "\"$1\": *[0-9.e+-]*" <<<"$result" | head -1 | cut -d: -f2 | tr -d ' '; }
answers=$(field answers)
errors=$(field errors)
successes=$(grep -o '"SUCCESS": *[0-9]*' <<<"$result" | head -1 | cut -d: -f2 | tr -d ' ')
committed=${successes:-0}
# Every request books a seat never asked for before: any answer but SUCCESS
# (an ERROR, or FAILED_ALREADY_BOOKED, which would mean a write applied
# twice) is a failed request, as is one the client library gave up on.
failed=$((errors + answers - committed))
printf 'clients: %s bookings committed (%.0f/s), %d requests failed, longest stall %s ms (p99 %s ms)\n' \
	"$committed" "$(field ops_per_sec)" "$failed" "$(field max)" "$(field p99)"
if ((failed > 0)); then
	grep -A6 '"error_samples"' <<<"$result" >&2 || true
	die "$failed client requests failed"
fi
ok=1
