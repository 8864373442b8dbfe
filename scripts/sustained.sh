#!/usr/bin/env bash
# A sale runs for minutes, a benchmark for seconds: load one cluster at full
# speed for many minutes, with an id on every write, and show whether it
# stays flat (docs/benchmarks.md, "Sustained load").
#
#   scripts/sustained.sh [--bin DIR] [--minutes 10] [--clients 64]
#
# Starts a fresh three-node cluster (clients 7221-7223, Raft 8221-8223, HTTP
# 9221-9223) from DIR/seatd (default: built into bin/), then once a minute:
# creates events m<k> and n<k> of 1,000,000 seats, books distinct seats of
# each for 28 s (`seat bench --workload distinct --event m<k> --clients N`,
# ids on every write), and deletes the events of minute k-2, so that the booked seats stay bounded
# while the applied ids keep coming (they are never deleted: only retention
# forgets them). After each minute it prints one line:
#
#   minute  ops/s  p50  p99  max    the minute's two benches (after a 1 s warm-up
#                                   each): mean ops/s, the worse p50, p99, max
#   rss_mb                          the leader's resident memory
#   heap_mb                         the leader's Go heap in use (/metrics)
#   snap_mb                         the leader's newest snapshot file
#   snap_ms                         mean time of the snapshots taken that minute
#                                   (raft's fsm snapshot + persist, from /metrics)
#
# SUSTAINED_SECONDS=N shortens each minute's benches to N seconds in all (a smoke).
#
# Nodes run with the default snapshot policy. Logs and data go to a
# temporary directory, kept on failure or with KEEP_SUSTAINED=1.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=""
minutes=10
clients=64
while (($# > 0)); do
	case $1 in
	--bin) bin=$2; shift 2 ;;
	--minutes) minutes=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	-h | --help) sed -n '2,27p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
[[ $minutes =~ ^[0-9]+$ ]] && ((minutes >= 1)) || die "--minutes wants a whole number of minutes, not '$minutes'"
[[ $clients =~ ^[0-9]+$ ]] && ((clients >= 1)) || die "--clients wants a number, not '$clients'"
command -v curl >/dev/null || die "sustained.sh reads the leader's /metrics with curl: install curl"
[[ -z $bin || $bin == /* ]] || bin=$PWD/$bin # relative to where it was run
cd "$(dirname "$0")/.."
bin=$(binaries "$bin")

ids=(n1 n2 n3)
client_addr=(127.0.0.1:7221 127.0.0.1:7222 127.0.0.1:7223)
raft_addr=(127.0.0.1:8221 127.0.0.1:8222 127.0.0.1:8223)
http_addr=(127.0.0.1:9221 127.0.0.1:9222 127.0.0.1:9223)
peers=n1=${raft_addr[0]},n2=${raft_addr[1]},n3=${raft_addr[2]}
addrs=${client_addr[0]},${client_addr[1]},${client_addr[2]}
for a in "${client_addr[@]}" "${raft_addr[@]}" "${http_addr[@]}"; do
	! port_in_use "$a" || die "address already in use: $a"
done
work=$(mktemp -d /tmp/seatd-sustained.XXXXXX)
declare -A pid=()
for i in 0 1 2; do
	"$bin/seatd" --id "${ids[i]}" --listen "${client_addr[i]}" --raft "${raft_addr[i]}" \
		--http "${http_addr[i]}" --data "$work/${ids[i]}" --peers "$peers" >>"$work/${ids[i]}.log" 2>&1 &
	pid[${ids[i]}]=$!
done
cleanup() {
	local id
	for id in "${!pid[@]}"; do kill -TERM "${pid[$id]}" 2>/dev/null || true; done
	for id in "${!pid[@]}"; do wait "${pid[$id]}" 2>/dev/null || true; done
	if ((${ok:-0})) && [[ -z ${KEEP_SUSTAINED:-} ]]; then rm -rf "$work"; else echo "sustained.sh: logs kept in $work" >&2; fi
}
trap cleanup EXIT

seat() { "$bin/seat" --addr "$addrs" --timeout 10s "$@"; }
t0=$(now_ms)
until answer=$(seat LEADER 2>/dev/null) && [[ $answer == "LEADER "* ]]; do
	(($(now_ms) - t0 < 30000)) || die "no leader 30 s after start (logs in $work)"
	sleep 0.1
done

# metric NAME: the leader's value of a Prometheus series (first match).
metric() {
	curl -s "http://$leader_http/metrics" | awk -v n="$1" '$1 == n {print $2; exit}' || true
}
# leader_of: the current leader's index.
leader_index() {
	local id
	id=$(seat LEADER | cut -d' ' -f2)
	for i in 0 1 2; do [[ ${ids[i]} == "$id" ]] && echo "$i" && return; done
	die "unknown leader $id"
}

printf '%-6s %8s %7s %7s %7s %7s %8s %8s %8s\n' minute ops/s p50 p99 max rss_mb heap_mb snap_mb snap_ms
snap_sum0=0 snap_n0=0
for ((k = 1; k <= minutes; k++)); do
	# Two events a minute: at 20,000 writes/s a minute books more than one
	# event's 1,000,000 seats.
	[[ $(seat EVENT CREATE "m$k" 1000000) == SUCCESS ]] || die "EVENT CREATE m$k failed"
	[[ $(seat EVENT CREATE "n$k" 1000000) == SUCCESS ]] || die "EVENT CREATE n$k failed"
	half=$(( ${SUSTAINED_SECONDS:-56} / 2 ))
	seat bench --workload distinct --event "m$k" --clients "$clients" --warmup 1s --duration "${half}s" --seats 1000000 --json >"$work/minute-$k-a.json"
	seat bench --workload distinct --event "n$k" --clients "$clients" --warmup 1s --duration "${half}s" --seats 1000000 --json >"$work/minute-$k-b.json"
	if ((k > 2)); then
		for e in "m$((k - 2))" "n$((k - 2))"; do
			[[ $(seat EVENT DELETE "$e") == SUCCESS ]] || die "EVENT DELETE $e failed"
		done
	fi
	li=$(leader_index)
	leader_http=${http_addr[li]}
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/${pid[${ids[li]}]}/status")
	heap=$(metric go_memstats_heap_inuse_bytes)
	snap=$(find "$work/${ids[li]}/snapshots" -name state.bin -printf '%T@ %s\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2 || true)
	# Raft's snapshot timings are summaries in ms: sum and count over the
	# run; the difference since the last minute gives this minute's mean.
	sum=0 n=0
	for m in seatd_raft_fsm_snapshot seatd_raft_snapshot_persist; do
		s=$(metric "${m}_sum"); c=$(metric "${m}_count")
		sum=$(awk -v a="$sum" -v b="${s:-0}" 'BEGIN {print a + b}')
		[[ $m == seatd_raft_fsm_snapshot ]] && n=${c:-0}
	done
	# (The sink drops a series not updated for a minute: a smaller count
	# means it started again.)
	if ((n < snap_n0)); then snap_sum0=0 snap_n0=0; fi
	snap_ms=$(awk -v s="$sum" -v s0="$snap_sum0" -v n="$n" -v n0="$snap_n0" 'BEGIN {if (n > n0) printf "%.1f", (s - s0) / (n - n0); else print "-"}')
	snap_sum0=$sum snap_n0=$n
	# The minute's figures: mean ops/s, and the worse p50, p99 and max of its two halves.
	field() { cat "$work/minute-$k-a.json" "$work/minute-$k-b.json" | grep -o "\"$1\": *[0-9.e+-]*" | cut -d: -f2 | tr -d " " || true; }
	mean() { field "$1" | awk '{s += $1; n++} END {if (n) print s / n; else print 0}'; }
	worst() { field "$1" | awk 'NR == 1 || $1 > m {m = $1} END {print m + 0}'; }
	printf '%-6d %8.0f %7.2f %7.2f %7.1f %7d %8.1f %8.2f %8s\n' "$k" "$(mean ops_per_sec)" "$(worst p50)" "$(worst p99)" \
		"$(worst max)" "$((rss / 1024))" "$(awk -v b="${heap:-0}" 'BEGIN {print b / 1048576}')" \
		"$(awk -v b="${snap:-0}" 'BEGIN {print b / 1e6}')" "$snap_ms"
done
ok=1
