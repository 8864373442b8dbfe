#!/usr/bin/env bash
# Show a seatd cluster surviving the loss of its leader, with timings.
#
#   scripts/failover-demo.sh [--data DIR]
#
# 1. build, start a fresh three-node cluster, find the leader
# 2. book seats 1-3 through a follower
# 3. kill -9 the leader and measure how long the cluster has no leader
# 4. show every booking intact on both survivors
# 5. book on the survivors; show that a retried write (same id=) applies once
# 6. restart the killed node on its data and measure how long it takes to catch up
# 7. print the figures and stop the nodes with SIGTERM (each must exit 0)
#
# The nodes listen on 127.0.0.1: clients 7101-7103, Raft 8101-8103, so the
# demo does not collide with scripts/cluster.sh. Node logs go to files in the
# data directory: DIR with --data (kept), else a temporary one, deleted at
# the end unless a check failed (then it is kept for the logs). Exits
# non-zero, saying what was expected, when any answer is wrong.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
usage: scripts/failover-demo.sh [--data DIR]
  --data DIR   keep the nodes' data and logs in DIR (default: a temporary
               directory, deleted unless a check fails); any earlier demo
               state in DIR (n1 n2 n3, n*.log) is deleted first
EOF
}

start_dir=$PWD
data=""
while (($# > 0)); do
	case $1 in
	--data)
		(($# >= 2)) || die "--data needs a directory"
		data=$2
		shift 2
		;;
	--data=*)
		data=${1#--data=}
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

cd "$(dirname "$0")/.."
root=$PWD
seat=$root/bin/seat

ids=(n1 n2 n3)
declare -A index=([n1]=0 [n2]=1 [n3]=2)
client_addr=(127.0.0.1:7101 127.0.0.1:7102 127.0.0.1:7103)
raft_addr=(127.0.0.1:8101 127.0.0.1:8102 127.0.0.1:8103)
peers=n1=${raft_addr[0]},n2=${raft_addr[1]},n3=${raft_addr[2]}
all_addrs=$(
	IFS=,
	echo "${client_addr[*]}"
)
seats=5
wait_limit_ms=20000 # longest wait for a leader or a catch-up before failing

declare -A node_pid=() # id -> pid of a seatd not yet reaped
helpers=()             # background pollers to stop on exit
keep_data=0            # --data given: never delete it
ok=0                   # set when every step passed
interrupted=0          # stopped by SIGINT or SIGTERM
run_dir=""
step_no=0
step_started=0

# --- output -----------------------------------------------------------------

step() {
	step_no=$1
	step_started=$(now_ms)
	printf '\n== %s. %s\n' "$1" "$2"
}

step_done() {
	printf '   (step %s took %d ms)\n' "$step_no" "$(($(now_ms) - step_started))"
}

say() {
	printf '   %s\n' "$*"
}

fail() {
	printf '\nFAILED in step %s: %s\n' "$step_no" "$*" >&2
	exit 1
}

# --- nodes ------------------------------------------------------------------

start_node() {
	local id=$1
	local i=${index[$id]}
	printf '=== %s failover-demo.sh: starting %s\n' "$(date -Is)" "$id" >>"$data/$id.log"
	# --leader-wait 200ms: a node holds a request for up to this long while
	# it knows no leader before answering ERROR NO_LEADER (default 3s). Kept
	# short so that step 3's LEADER polls come back soon after a leader
	# exists, instead of the gap being rounded up by long waits.
	"$root/bin/seatd" --id "$id" --listen "${client_addr[i]}" --raft "${raft_addr[i]}" \
		--data "$data/$id" --peers "$peers" --seats "$seats" --leader-wait 200ms \
		>>"$data/$id.log" 2>&1 &
	node_pid[$id]=$!
	say "started $id (pid ${node_pid[$id]}): client ${client_addr[i]}, raft ${raft_addr[i]}, log $data/$id.log"
}

# stop_node ID SIGNAL TIMEOUT_S: signal the node, wait (SIGKILL after
# TIMEOUT_S) and reap it.
# shellcheck disable=SC2317 # called from the EXIT trap
stop_node() {
	local id=$1 sig=$2 limit=$3 pid t0
	pid=${node_pid[$id]}
	t0=$(now_ms)
	kill "-$sig" "$pid" 2>/dev/null || true
	while alive "$pid" && (($(now_ms) - t0 < limit * 1000)); do
		sleep 0.02
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	unset "node_pid[$id]"
}

# shellcheck disable=SC2317 # trap handler
cleanup() {
	local rc=$? id pid
	trap '' INT TERM
	for pid in "${helpers[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for id in "${!node_pid[@]}"; do
		echo "failover-demo.sh: stopping leftover node $id" >&2
		stop_node "$id" TERM 5
	done
	[[ -z $run_dir ]] || rm -rf -- "$run_dir"
	if [[ -n $data && -d $data ]] && ((!keep_data)) && ((ok || interrupted)); then
		rm -rf -- "$data"
	elif [[ -n $data && -d $data ]] && ((!ok)); then
		echo "failover-demo.sh: data and node logs are in $data" >&2
	fi
	exit "$rc"
}

# --- client -----------------------------------------------------------------

# ask ADDR ARGS...: one seat request; sets answer, answer_rc, answer_ms.
ask() {
	local addr=$1 t0
	shift
	t0=$(now_ms)
	answer_rc=0
	answer=$("$seat" --addr "$addr" "$@" 2>&1) || answer_rc=$?
	answer_ms=$(($(now_ms) - t0))
}

# expect WANT ADDR ARGS...: ask, show, and fail unless the answer is WANT
# with the exit status seat documents for it.
expect() {
	local want=$1 addr=$2 want_rc=0
	shift 2
	ask "$addr" "$@"
	printf '   $ seat --addr %-14s %-24s -> %-24s (%d ms)\n' "$addr" "$*" "$answer" "$answer_ms"
	case $want in
	FAILED_* | INVALID_COMMAND) want_rc=1 ;;
	ERROR*) want_rc=2 ;;
	esac
	if [[ $answer != "$want" ]]; then
		fail "seat --addr $addr $*: expected '$want', got '$answer' (exit $answer_rc)"
	fi
	if ((answer_rc != want_rc)); then
		fail "seat --addr $addr $*: answered '$answer' but exited $answer_rc, expected $want_rc"
	fi
}

# leader_of ANSWER: the node id in "LEADER <id> ...", or nothing.
leader_of() {
	local words
	read -r -a words <<<"$1"
	if ((${#words[@]} >= 2)) && [[ ${words[0]} == LEADER ]]; then
		printf '%s\n' "${words[1]}"
	fi
}

# poll_leader ID SINCE_MS OLD_LEADER: ask node ID for the leader every ~20 ms
# until it names one other than OLD_LEADER. Each change of answer goes to
# run_dir/ID.trace; the result ("<ms since SINCE_MS> <leader> <polls>") to
# run_dir/ID.result. Runs in the background.
poll_leader() {
	local id=$1 since=$2 old=$3 addr last="" polls=0 t who shown
	addr=${client_addr[${index[$id]}]}
	while (($(now_ms) - since < wait_limit_ms)); do
		ask "$addr" --timeout 1s LEADER
		polls=$((polls + 1))
		t=$(($(now_ms) - since))
		who=$(leader_of "$answer")
		if [[ $answer != "$last" ]]; then
			shown=$answer
			if ((answer_rc == 2)) && [[ $answer != ERROR* ]]; then
				shown="(no answer within the client's 1 s)"
			elif [[ $who == "$old" ]]; then
				shown="$answer  (the dead leader: $id has not noticed yet)"
			fi
			printf '   +%5d ms  %s (%s): %s\n' "$t" "$id" "$addr" "$shown" >>"$run_dir/$id.trace"
			last=$answer
		fi
		if [[ -n $who && $who != "$old" ]]; then
			printf '%s %s %s\n' "$t" "$who" "$polls" >"$run_dir/$id.result"
			return 0
		fi
		sleep 0.02
	done
	printf 'timeout - %s\n' "$polls" >"$run_dir/$id.result"
}

# count_lines FILE PATTERN: how many lines of FILE contain PATTERN.
count_lines() {
	grep -cF -- "$2" "$1" || true
}

# --- 1 ----------------------------------------------------------------------

if [[ -n $data ]]; then
	[[ $data == /* ]] || data=$start_dir/$data
	data=$(realpath -m -- "$data")
	keep_data=1
fi
trap cleanup EXIT
trap 'interrupted=1; exit 130' INT
trap 'interrupted=1; exit 143' TERM

step 1 "Build and start a fresh three-node cluster"
for a in "${client_addr[@]}" "${raft_addr[@]}"; do
	if port_in_use "$a"; then
		fail "$a is already in use (an earlier demo still running?); the demo needs 127.0.0.1:7101-7103 and 8101-8103"
	fi
done
t0=$(now_ms)
mkdir -p bin
go build -o bin/seatd ./cmd/seatd
go build -o bin/seat ./cmd/seat
say "built bin/seatd and bin/seat in $(($(now_ms) - t0)) ms"

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/seatd-demo-run.XXXXXX")
if ((keep_data)); then
	mkdir -p "$data"
	for id in "${ids[@]}"; do
		if [[ -e $data/$id || -e $data/$id.log ]]; then
			say "deleting the previous demo state $data/$id and $id.log"
			rm -rf -- "${data:?}/$id" "${data:?}/$id.log"
		fi
	done
else
	data=$(mktemp -d "${TMPDIR:-/tmp}/seatd-demo.XXXXXX")
fi
say "data directory: $data"

t_start=$(now_ms)
for id in "${ids[@]}"; do
	start_node "$id"
done
leader=""
while :; do
	ask "$all_addrs" --timeout 1s LEADER
	leader=$(leader_of "$answer")
	[[ -z $leader ]] || break
	for id in "${ids[@]}"; do
		alive "${node_pid[$id]}" || fail "$id exited during startup; see $data/$id.log"
	done
	if (($(now_ms) - t_start > wait_limit_ms)); then
		fail "no leader $((wait_limit_ms / 1000)) s after start; last answer: $answer"
	fi
	sleep 0.05
done
first_leader_ms=$(($(now_ms) - t_start))
[[ -n ${index[$leader]:-} ]] || fail "LEADER named '$leader', which is not one of ${ids[*]}"
say "\$ seat LEADER -> $answer"
say "leader: $leader, elected $first_leader_ms ms after the nodes were started"
follower=""
for id in "${ids[@]}"; do
	if [[ $id != "$leader" ]]; then
		follower=$id
		break
	fi
done
follower_addr=${client_addr[${index[$follower]}]}
step_done

# --- 2 ----------------------------------------------------------------------

step 2 "Book seats 1-3 through the follower $follower ($follower_addr); it forwards to $leader"
expect SUCCESS "$follower_addr" RESERVE 1 alice
expect SUCCESS "$follower_addr" RESERVE 2 bob
expect SUCCESS "$follower_addr" RESERVE 3 carol
expect "SEATS 5 FREE 2 BOOKED 3" "$follower_addr" STATUS
step_done

# --- 3 ----------------------------------------------------------------------

step 3 "kill -9 the leader $leader (pid ${node_pid[$leader]}) and measure the time without a leader"
survivors=()
for id in "${ids[@]}"; do
	[[ $id == "$leader" ]] || survivors+=("$id")
done
killed=$leader
killed_pid=${node_pid[$killed]}
# disown: bash would otherwise print a "Killed" job notice in the middle of
# the output; the node is still reaped, and its fate is known.
disown "$killed_pid"
unset "node_pid[$killed]"
t_kill=$(now_ms)
kill -KILL "$killed_pid"
for id in "${survivors[@]}"; do
	poll_leader "$id" "$t_kill" "$killed" &
	helpers+=("$!")
done
while alive "$killed_pid"; do
	(($(now_ms) - t_kill < 5000)) || fail "$killed (pid $killed_pid) still runs 5 s after SIGKILL"
	sleep 0.005
done
say "$killed is dead (SIGKILL) after $(($(now_ms) - t_kill)) ms; polling ${survivors[*]} with 'seat --timeout 1s LEADER' every ~20 ms"
for pid in "${helpers[@]}"; do
	wait "$pid" || true
done
helpers=()
cat "$run_dir"/*.trace
gap_ms=""
new_leader=""
for id in "${survivors[@]}"; do
	read -r t who polls <"$run_dir/$id.result"
	[[ $t != timeout ]] || fail "$id named no new leader within $((wait_limit_ms / 1000)) s (see $data/$id.log)"
	say "$id names $who as leader $t ms after the kill (polls: $polls)"
	if [[ -z $gap_ms ]] || ((t < gap_ms)); then
		gap_ms=$t
	fi
	if [[ -n $new_leader && $who != "$new_leader" ]]; then
		fail "the survivors disagree about the new leader: $new_leader and $who"
	fi
	new_leader=$who
done
[[ $new_leader != "$killed" && -n ${index[$new_leader]:-} ]] || fail "unexpected new leader '$new_leader'"
say "no leader for $gap_ms ms; new leader: $new_leader"
new_leader_addr=${client_addr[${index[$new_leader]}]}
for id in "${survivors[@]}"; do
	[[ $id == "$new_leader" ]] || other=$id
done
other_addr=${client_addr[${index[$other]}]}
step_done

# --- 4 ----------------------------------------------------------------------

step 4 "Every booking is intact on both survivors"
for id in "${survivors[@]}"; do
	addr=${client_addr[${index[$id]}]}
	expect "BOOKED alice" "$addr" STATUS 1
	expect "BOOKED bob" "$addr" STATUS 2
	expect "BOOKED carol" "$addr" STATUS 3
	expect "SEATS 5 FREE 2 BOOKED 3" "$addr" STATUS
done
step_done

# --- 5 ----------------------------------------------------------------------

step 5 "Write through the survivors; a retried write with the same id= applies once"
expect SUCCESS "$other_addr" RESERVE 4 dave
say "A write with an explicit id, sent twice (the second as a client's retry, to another node):"
expect SUCCESS "$other_addr" RESERVE 5 erin id=demo-1
expect SUCCESS "$new_leader_addr" RESERVE 5 erin id=demo-1
expect "BOOKED erin" "$other_addr" STATUS 5
expect "SEATS 5 FREE 0 BOOKED 5" "$other_addr" STATUS
say "Free seat 5, then retry the old write once more: the cluster answers the"
say "recorded SUCCESS of id=demo-1 and does not book the seat again."
expect SUCCESS "$other_addr" CANCEL 5 erin
expect SUCCESS "$new_leader_addr" RESERVE 5 erin id=demo-1
expect FREE "$other_addr" STATUS 5
expect "SEATS 5 FREE 1 BOOKED 4" "$new_leader_addr" STATUS
step_done

# --- 6 ----------------------------------------------------------------------

killed_addr=${client_addr[${index[$killed]}]}
step 6 "Restart $killed on its data and ports; measure how long it takes to catch up"
leader_log=$data/$new_leader.log
pipeline_mark="pipelining replication: peer=\"{Voter $killed "
marks_before=$(count_lines "$leader_log" "$pipeline_mark")
t_restart=$(now_ms)
start_node "$killed"
# The leader (hashicorp/raft) logs "pipelining replication" for a peer after
# its first successful AppendEntries to it, which carries every entry the
# peer lacked (up to 256): from then on the restarted node's log matches
# the leader's. Watch for that line in the background.
(
	while (($(now_ms) - t_restart < wait_limit_ms)); do
		if (($(count_lines "$leader_log" "$pipeline_mark") > marks_before)); then
			printf '%s\n' "$(($(now_ms) - t_restart))" >"$run_dir/log-caught-up"
			exit 0
		fi
		sleep 0.01
	done
) &
log_watcher=$!
helpers+=("$log_watcher")
polls=0
serve_ms=""
last=""
while (($(now_ms) - t_restart < wait_limit_ms)); do
	ask "$killed_addr" --timeout 1s STATUS 4
	polls=$((polls + 1))
	t=$(($(now_ms) - t_restart))
	if [[ $answer != "$last" ]]; then
		shown=$answer
		if ((answer_rc == 2)) && [[ $answer != ERROR* ]]; then
			shown="(no answer within the client's 1 s: ${answer##*: })"
		fi
		printf '   +%5d ms  STATUS 4 on %s (%s): %s\n' "$t" "$killed" "$killed_addr" "$shown"
		last=$answer
	fi
	if [[ $answer == "BOOKED dave" ]]; then
		serve_ms=$t
		break
	fi
	alive "${node_pid[$killed]}" || fail "$killed exited after its restart; see $data/$killed.log"
	sleep 0.02
done
[[ -n $serve_ms ]] || fail "$killed did not answer 'BOOKED dave' for STATUS 4 within $((wait_limit_ms / 1000)) s (last: $answer)"
say "caught up in $serve_ms ms (polls: $polls): $killed answers STATUS 4 = BOOKED dave on its own port"
say "Note: STATUS is linearizable, so $killed forwards it to the leader $new_leader and"
say "relays the answer: this shows $killed is up and in touch with the leader, not"
say "that its own copy of the state is current. seatd has no local read to ask"
say "for that, so the demo also watches the leader's log for the moment its"
say "replication to $killed succeeds (the restarted node's log then matches):"
wait "$log_watcher" || true
log_ms=""
if [[ -s $run_dir/log-caught-up ]]; then
	log_ms=$(<"$run_dir/log-caught-up")
	say "log caught up in $log_ms ms: $new_leader logged 'pipelining replication' to $killed"
else
	say "(the leader's log showed no 'pipelining replication' line for $killed within $((wait_limit_ms / 1000)) s)"
fi
expect "BOOKED alice" "$killed_addr" STATUS 1
expect "BOOKED dave" "$killed_addr" STATUS 4
expect FREE "$killed_addr" STATUS 5
expect "SEATS 5 FREE 1 BOOKED 4" "$killed_addr" STATUS
expect "LEADER $new_leader" "$killed_addr" LEADER
step_done

# --- 7 ----------------------------------------------------------------------

step 7 "Summary, then stop every node with SIGTERM"
printf '   %-58s %8s\n' "measure" "ms"
printf '   %-58s %8s\n' "first leader elected after the nodes started" "$first_leader_ms"
printf '   %-58s %8s\n' "no leader: kill -9 of $killed until $new_leader answered as leader" "$gap_ms"
printf '   %-58s %8s\n' "restarted $killed answering STATUS 4 = BOOKED dave" "$serve_ms"
printf '   %-58s %8s\n' "restarted $killed log caught up (leader's log)" "${log_ms:-n/a}"
t_term=$(now_ms)
for id in "${!node_pid[@]}"; do
	kill -TERM "${node_pid[$id]}" 2>/dev/null || true
done
say "sent SIGTERM to ${ids[*]}"
bad=0
for id in "${ids[@]}"; do
	pid=${node_pid[$id]}
	while alive "$pid" && (($(now_ms) - t_term < 20000)); do
		sleep 0.01
	done
	if alive "$pid"; then
		say "$id still running 20 s after SIGTERM: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	status=0
	wait "$pid" 2>/dev/null || status=$?
	unset "node_pid[$id]"
	say "$id exited with status $status (by $(($(now_ms) - t_term)) ms after SIGTERM)"
	if ((status != 0)); then
		bad=1
	fi
done
((bad == 0)) || fail "a node did not exit 0 after SIGTERM (see the logs in $data)"
ok=1
if ((keep_data)); then
	say "data and logs kept in $data"
else
	say "removing $data"
fi
step_done
