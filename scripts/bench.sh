#!/usr/bin/env bash
# Run seatd's standard benchmark matrix and write a report.
#
#   scripts/bench.sh [--duration 10s] [--warmup 2s] [--out docs] [--keep] [--only REGEX] [--seatd FILE]
#
# Builds bin/seatd, bin/seat and benchreport, then for each cell of the
# matrix starts a FRESH three-node cluster (n1 n2 n3 on 127.0.0.1, clients
# 7201-7203, Raft 8201-8203, --seats 1000000, data and logs in a temporary
# directory), waits for a leader, runs one `seat bench --json` (with the
# disk-flush probe in the same directory), and stops
# the cluster with SIGTERM (every node must exit 0). The matrix:
#
#   distinct   clients 1, 16, 64, 256   through all nodes (target all)
#   distinct   clients 1, 16, 64, 256   through one follower (target follower)
#   contention clients 64               through all nodes
#   read       clients 64               through all nodes
#   onsale     clients 2000             through all nodes: a sale of 500 seats,
#                                       run until sold out (no --duration)
#
# Then benchreport writes OUT/benchmarks.md (machine, commands, results
# table, a "## Profiles" section to fill in by hand), OUT/bench-throughput.svg,
# OUT/bench-latency-cdf.svg and, with the on-sale cell, OUT/bench-onsale.svg
# (OUT is the repository's docs/ unless --out says otherwise). The temporary
# directory (node logs, JSON results) is deleted at the end unless --keep is
# given or a step failed.
# Extra seatd flags for every node: SEATD_FLAGS="--log-store boltdb" scripts/bench.sh
# The nodes run with seatd's defaults: on one machine's loopback they share
# its CPUs by themselves (GOMAXPROCS = CPUs / 3, at least 1, unless GOMAXPROCS
# is set; docs/operations.md, "Several nodes on one machine").
# A short smoke for CI: scripts/bench.sh --duration 5s --warmup 1s --out /tmp/x
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: scripts/bench.sh [--duration 10s] [--warmup 2s] [--out docs] [--keep] [--only REGEX] [--seatd FILE]
  --duration D  measured time of each run (default 10s)
  --warmup D    load before measuring starts, in each run (default 2s)
  --out DIR     where benchmarks.md and its SVG charts go (default: the repository's docs/)
  --keep        keep the temporary directory with node logs and JSON results
  --only REGEX  run only the cells whose name matches (e.g. 'c256', 'follower');
                names: distinct-all-c1 ... distinct-follower-c256, contention-all-c64, read-all-c64,
                onsale-all-c2000
  --seatd FILE  run this seatd binary instead of building bin/seatd (another build,
                to compare; bin/seat is still built from this tree)
Runs 11 benchmarks, each on a fresh three-node cluster on 127.0.0.1
(client ports 7201-7203, Raft ports 8201-8203).
EOF
}

start_dir=$PWD
duration=10s
warmup=2s
out="" # default: the repository's docs/, wherever the script is run from
keep=0
only=""
seatd=""
while (($# > 0)); do
	case $1 in
	--duration | --warmup | --out | --only | --seatd)
		(($# >= 2)) || die "$1 needs a value"
		declare "${1#--}=$2"
		shift 2
		;;
	--duration=* | --warmup=* | --out=* | --only=* | --seatd=*)
		opt=${1%%=*}
		declare "${opt#--}=${1#*=}"
		shift
		;;
	--keep)
		keep=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		die "unknown argument: $1"
		;;
	esac
done
dur_re='^[0-9]+(\.[0-9]+)?(ms|s|m)$'
[[ $duration =~ $dur_re ]] || die "--duration wants a Go duration like 10s, not '$duration'"
[[ $warmup =~ $dur_re ]] || die "--warmup wants a Go duration like 2s, not '$warmup'"

cd "$(dirname "$0")/.."
root=$PWD
if [[ -z $out ]]; then
	out=$root/docs
elif [[ $out != /* ]]; then
	out=$start_dir/$out
fi
out=$(realpath -m -- "$out")
if [[ -n $seatd ]]; then
	[[ $seatd == /* ]] || seatd=$start_dir/$seatd
	[[ -x $seatd ]] || die "--seatd $seatd is not an executable"
fi

ids=(n1 n2 n3)
client_addr=(127.0.0.1:7201 127.0.0.1:7202 127.0.0.1:7203)
raft_addr=(127.0.0.1:8201 127.0.0.1:8202 127.0.0.1:8203)
peers=n1=${raft_addr[0]},n2=${raft_addr[1]},n3=${raft_addr[2]}
all_addrs=$(
	IFS=,
	echo "${client_addr[*]}"
)
all_ids=$(
	IFS=,
	echo "${ids[*]}"
)
seats=1000000
leader_timeout_ms=20000 # longest wait for a leader after starting
stop_timeout_s=30       # longest a node may take to stop before SIGKILL

# The matrix: name workload target clients.
cells=(
	"distinct-all-c1 distinct all 1"
	"distinct-all-c16 distinct all 16"
	"distinct-all-c64 distinct all 64"
	"distinct-all-c256 distinct all 256"
	"distinct-follower-c1 distinct follower 1"
	"distinct-follower-c16 distinct follower 16"
	"distinct-follower-c64 distinct follower 64"
	"distinct-follower-c256 distinct follower 256"
	"contention-all-c64 contention all 64"
	"read-all-c64 read all 64"
	"onsale-all-c2000 onsale all 2000"
)

declare -A node_pid=() # id -> pid of a running seatd
work=""
ok=0

# wait_ports_free: the cluster's ports are free (waits up to 5 s for a
# previous cluster's sockets to go away).
wait_ports_free() {
	local a busy t0
	t0=$(now_ms)
	while :; do
		busy=()
		for a in "${client_addr[@]}" "${raft_addr[@]}"; do
			if port_in_use "$a"; then
				busy+=("$a")
			fi
		done
		((${#busy[@]} > 0)) || return 0
		if (($(now_ms) - t0 > 5000)); then
			die "address already in use: ${busy[*]} (another cluster running? see: ss -ltnp 'sport >= :7201 and sport <= :8203')"
		fi
		sleep 0.1
	done
}

# start_cluster DIR: start n1 n2 n3 with data and logs in DIR.
start_cluster() {
	local dir=$1 i id
	for i in 0 1 2; do
		id=${ids[i]}
		# shellcheck disable=SC2086 # SEATD_FLAGS is a list of extra flags
		"$seatd_bin" --id "$id" --listen "${client_addr[i]}" --raft "${raft_addr[i]}" \
			--data "$dir/$id" --peers "$peers" --seats "$seats" ${SEATD_FLAGS:-} >>"$dir/$id.log" 2>&1 &
		node_pid[$id]=$!
	done
}

show_log_tails() {
	local dir=$1 id
	for id in "${ids[@]}"; do
		echo "--- last lines of $dir/$id.log" >&2
		tail -n 20 "$dir/$id.log" >&2 || true
	done
}

# wait_leader DIR: until some node names a leader; sets leader.
wait_leader() {
	local dir=$1 t0 answer id
	t0=$(now_ms)
	while :; do
		if answer=$(bin/seat --addr "$all_addrs" --timeout 1s LEADER 2>&1) && [[ $answer == "LEADER "* ]]; then
			leader=$(cut -d' ' -f2 <<<"$answer")
			return 0
		fi
		for id in "${ids[@]}"; do
			if ! alive "${node_pid[$id]}"; then
				show_log_tails "$dir"
				die "$id exited during startup"
			fi
		done
		if (($(now_ms) - t0 > leader_timeout_ms)); then
			show_log_tails "$dir"
			die "no leader $((leader_timeout_ms / 1000)) s after start; last answer: $answer"
		fi
		sleep 0.1
	done
}

# stop_cluster: SIGTERM every node, wait (SIGKILL after stop_timeout_s),
# and report. Returns 1 when a node did not exit 0.
stop_cluster() {
	local id status rc=0 deadline
	((${#node_pid[@]} > 0)) || return 0
	for id in "${!node_pid[@]}"; do
		kill -TERM "${node_pid[$id]}" 2>/dev/null || true
	done
	deadline=$((SECONDS + stop_timeout_s))
	for id in "${ids[@]}"; do
		[[ -n ${node_pid[$id]:-} ]] || continue
		while alive "${node_pid[$id]}" && ((SECONDS < deadline)); do
			sleep 0.05
		done
		if alive "${node_pid[$id]}"; then
			printf 'bench.sh: %s did not stop within %d s after SIGTERM: killed\n' "$id" "$stop_timeout_s" >&2
			kill -KILL "${node_pid[$id]}" 2>/dev/null || true
			rc=1
		fi
		status=0
		wait "${node_pid[$id]}" 2>/dev/null || status=$?
		unset "node_pid[$id]"
		if ((status != 0)); then
			printf 'bench.sh: %s exited with status %d after SIGTERM\n' "$id" "$status" >&2
			rc=1
		fi
	done
	return "$rc"
}

# shellcheck disable=SC2317 # trap handler
cleanup() {
	local rc=$?
	trap '' INT TERM
	stop_cluster || rc=1
	if [[ -n $work && -d $work ]]; then
		if ((keep || !ok)); then
			echo "bench.sh: node logs and results are in $work" >&2
		else
			rm -rf -- "$work"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# mark_logs DIR: remember how long the node logs are, so that log_notes
# looks only at what they log afterwards (not at the first election).
declare -A log_mark=()
mark_logs() {
	local dir=$1 id
	for id in "${ids[@]}"; do
		log_mark[$id]=$(wc -l <"$dir/$id.log")
	done
}

# new_log_lines DIR: the node log lines written since mark_logs.
new_log_lines() {
	local dir=$1 id
	for id in "${ids[@]}"; do
		tail -n "+$((log_mark[$id] + 1))" "$dir/$id.log" | sed "s/^/$id /"
	done
}

# log_notes DIR: one line counting the WARN and ERROR lines the nodes
# logged since mark_logs, with the most frequent messages.
log_notes() {
	local dir=$1 warn err
	warn=$(new_log_lines "$dir" | grep -c '\[WARN\]' || true)
	err=$(new_log_lines "$dir" | grep -c '\[ERROR\]' || true)
	printf '%s WARN, %s ERROR log lines' "$warn" "$err"
	if ((warn + err > 0)); then
		printf '; most frequent: '
		new_log_lines "$dir" | grep -E '\[(WARN|ERROR)\]' |
			sed -E 's/^[^[]*\[(WARN|ERROR)\] *//; s/[0-9]+(\.[0-9]+)?(ms|s|µs)?/N/g' |
			sort | uniq -c | sort -rn | head -n 3 |
			awk '{c=$1; $1=""; printf "%s%dx%s", (NR>1?" | ":""), c, $0}'
	fi
	printf '\n'
}

# --- build ---------------------------------------------------------------

wait_ports_free
mkdir -p bin "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/seatd-bench.XXXXXX")
echo "bench.sh: building bin/seatd, bin/seat and benchreport"
seatd_bin=bin/seatd
if [[ -n $seatd ]]; then
	seatd_bin=$seatd
	echo "bench.sh: nodes run $seatd"
else
	go build -o bin/seatd ./cmd/seatd
fi
go build -o bin/seat ./cmd/seat
go build -o "$work/benchreport" ./bench/cmd/benchreport
echo "bench.sh: runs of $warmup warm-up + $duration each; work directory $work"

# --- the matrix ------------------------------------------------------------

report_args=()
commands=()
notes=()
n=0
selected=()
for cell in "${cells[@]}"; do
	if [[ -z $only || ${cell%% *} =~ $only ]]; then
		selected+=("$cell")
	fi
done
((${#selected[@]} > 0)) || die "--only '$only' matches no cell"
for cell in "${selected[@]}"; do
	read -r name workload target clients <<<"$cell"
	n=$((n + 1))
	dir=$work/$name
	mkdir -p "$dir"
	wait_ports_free
	t0=$(now_ms)
	start_cluster "$dir"
	wait_leader "$dir"
	printf '\n== [%d/%d] %s (fresh cluster, leader %s after %d ms)\n' "$n" "${#selected[@]}" "$name" "$leader" "$(($(now_ms) - t0))"
	mark_logs "$dir"
	cmd=(bin/seat bench --addr "$all_addrs" --ids "$all_ids" --workload "$workload" --target "$target"
		--clients "$clients" --flush-probe "$dir" --cpu-pids "${node_pid[n1]},${node_pid[n2]},${node_pid[n3]}" --json)
	if [[ $workload != onsale ]]; then # a sale runs until sold out, on an event of its own
		cmd+=(--duration "$duration" --warmup "$warmup" --seats "$seats")
	fi
	printf '   $ %s\n' "${cmd[*]}"
	if ! "${cmd[@]}" >"$dir/result.json" 2>"$dir/bench.err"; then
		cat "$dir/bench.err" >&2
		show_log_tails "$dir"
		die "$name: seat bench failed"
	fi
	if ! stop_cluster; then
		show_log_tails "$dir"
		die "$name: the cluster did not stop cleanly"
	fi
	label="$workload c=$clients via $target"
	report_args+=("$label=$dir/result.json")
	commands+=("${cmd[*]}")
	note="leader $leader; nodes logged $(log_notes "$dir")"
	notes+=("$label: $note")
	"$work/benchreport" "$label=$dir/result.json" | tail -n 1 | sed 's/^/   /'
	printf '   %s\n' "$note"
done

# --- the report --------------------------------------------------------------

only_arg=""
if [[ -n $only ]]; then
	only_arg=" --only '$only'"
fi
table=$("$work/benchreport" --svg-dir "$out" --svg-prefix bench- "${report_args[@]}")
onsale_chart=""
if [[ " ${selected[*]} " == *" onsale "* ]]; then
	onsale_chart=$'\n![seats sold over time in the on-sale run](bench-onsale.svg)\n'
fi
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain 2>/dev/null || true) ]]; then
	commit="$commit (with uncommitted changes)"
fi
if [[ -n $seatd ]]; then
	commit="nodes ran $seatd; bin/seat from $commit"
fi
# How the nodes sized their schedulers: by themselves, or as GOMAXPROCS said.
procs_env=""
procs_text="with seatd's defaults: nodes on
loopback addresses size the Go scheduler to their share of the CPUs by
themselves (GOMAXPROCS = the runtime's default ÷ 3, at least 1;
docs/operations.md, \"Several nodes on one machine\")"
if [[ -n ${GOMAXPROCS:-} ]]; then
	procs_env="GOMAXPROCS=$GOMAXPROCS "
	procs_text="with GOMAXPROCS=$GOMAXPROCS from the environment, which the nodes keep"
fi
{
	cat <<EOF
# seatd benchmarks

Written by \`scripts/bench.sh --duration $duration --warmup $warmup$only_arg\` on $(date -u '+%Y-%m-%d %H:%M UTC').
Numbers from one machine and one run each: compare them with each other, not
with other machines.

## Machine

- CPUs (\`nproc\`): $(nproc)
- CPU model: ${cpu_model:-unknown}
- Go: $(go version)
- seatd commit: $commit
- memory (\`free -h\`):

\`\`\`
$(free -h)
\`\`\`

## How it was run

Every run has a fresh three-node cluster on this machine (all on 127.0.0.1,
so the "network" is loopback and the three nodes share the CPUs and the disk
with the load generator), started as below, $procs_text.

\`\`\`
${procs_env}bin/seatd --id n1 --listen ${client_addr[0]} --raft ${raft_addr[0]} --data DIR/n1 --peers $peers --seats $seats${SEATD_FLAGS:+ $SEATD_FLAGS}
${procs_env}bin/seatd --id n2 --listen ${client_addr[1]} --raft ${raft_addr[1]} --data DIR/n2 --peers $peers --seats $seats${SEATD_FLAGS:+ $SEATD_FLAGS}
${procs_env}bin/seatd --id n3 --listen ${client_addr[2]} --raft ${raft_addr[2]} --data DIR/n3 --peers $peers --seats $seats${SEATD_FLAGS:+ $SEATD_FLAGS}
\`\`\`

and, once it has a leader, loaded by one of these (each client is one TCP
connection with one request in flight; the first \`--warmup\` is not
measured; see \`seat bench --help\` and the bench package's documentation):

\`\`\`
$(printf '%s\n' "${commands[@]}")
\`\`\`

- **distinct**: every request books a seat never booked before
  (\`RESERVE <seat> b<client> id=<unique>\`): one Raft log entry per batch of writes.
- **contention**: all clients fight over seats 1-5 (RESERVE, and CANCEL after a SUCCESS).
- **read**: \`STATUS <seat>\` of random seats 1-1000, confirmed by the leader.
- **onsale**: a sale's opening: 2,000 buyers (one connection each, through the Go
  client library, an id on every write) arrive at once for a new event of 500
  seats; each wants 1-4 adjacent seats, HOLDs a block it believes free, RESERVEs
  it 50 ms later, and after a lost HOLD reads the event's summary and tries
  another block, until seated or sold out. Measured whole, then checked: every
  seat booked by exactly one seated buyer, no block split, nothing left held.
- **via all**: clients spread round robin over n1, n2, n3 (two thirds of
  the requests are forwarded by a follower; a single client is on n1,
  leader or not: see which node led below); **via follower**: every client
  on one follower, which forwards everything to the leader.
- **server CPU µs/op**: the three nodes' CPU time (user + system, from \`/proc\`)
  over the measured window, divided by the committed operations.
- **disk flush**: beside each run, \`seat bench --flush-probe\` timed a 700-byte
  append with fdatasync every 5 ms in the run's directory (the nodes' disk): the
  disk's own p99 and worst flush while the cluster was loaded, and the CPU time
  (user + system) the probe's thread spent per append and flush.

## Results

Committed ops/s counts answers that are not \`ERROR\` lines (for writes,
SUCCESS and FAILED_* are results of applied log entries). Latency is from
writing the request to reading its answer, in milliseconds. "conn errors"
are broken connections; "ERROR answers" are \`ERROR ...\` lines.

$table

![committed ops/s by clients](bench-throughput.svg)

![latency by percentile](bench-latency-cdf.svg)
$onsale_chart

Which node led, and the WARN and ERROR lines the nodes logged from the start
of each run's \`seat bench\` until they had stopped (so the first election's
warning is left out, the shutdown included):

$(printf -- '- %s\n' "${notes[@]}")

## Profiles

(filled in by hand; see below)
EOF
} >"$out/benchmarks.md"

ok=1
printf '\n%s\n\n' "$table"
echo "bench.sh: wrote $out/benchmarks.md and its charts (bench-*.svg)"
