#!/usr/bin/env bash
# Run a local three-node seatd cluster in the foreground.
#
#   scripts/cluster.sh [--data DIR] [--fresh] [--seats N] [--tls] [-- extra seatd flags...]
#
# Builds bin/seatd and bin/seat, starts nodes n1 n2 n3 (clients on
# 127.0.0.1:7001-7003, Raft on 127.0.0.1:8001-8003, HTTP and the live page
# on 127.0.0.1:9001-9003, data in DIR/n1..n3,
# DIR defaulting to ./data in the repository), shows each node's output with
# an [n1]/[n2]/[n3] prefix (a copy goes to DIR/n1.log ...), waits for a
# leader, then runs until Ctrl-C or SIGTERM, which stop the nodes cleanly.
# A node that dies on its own is reported; the others keep running, so a
# node can be killed by hand to watch a failover.
# The nodes share this machine's CPUs by themselves (GOMAXPROCS = CPUs / 3,
# at least 1, unless GOMAXPROCS is set: docs/operations.md).
# With --tls, development certificates are created in DIR/pki (once; --fresh
# wipes them with the rest) and every port speaks mutual TLS: clients need
# the CA and a client certificate (DIR/pki/alice.crt, identity "alice").
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
	echo "cluster.sh: needs bash 5.1 or newer (wait -n -p)" >&2
	exit 1
fi

usage() {
	cat <<'EOF'
usage: scripts/cluster.sh [--data DIR] [--fresh] [--seats N] [--tls] [-- extra seatd flags...]
  --data DIR   node data directories DIR/n1..n3 (default: data/ in the repository)
  --fresh      delete DIR first (a new, empty cluster; includes DIR/pki)
  --seats N    seat count of a new cluster (fixed when the cluster is created)
  --tls        mutual TLS on client and Raft ports; creates a development CA,
               a node certificate and a client certificate "alice" in DIR/pki
               unless DIR/pki/ca.crt exists (clients then need
               bin/seat --ca DIR/pki/ca.crt --cert DIR/pki/alice.crt --key DIR/pki/alice.key)
  -- ...       everything after -- is passed to every seatd
Starts n1 n2 n3 on 127.0.0.1 (client ports 7001-7003, Raft ports 8001-8003,
HTTP and the live page on 9001-9003)
and runs until Ctrl-C or SIGTERM.
EOF
}

start_dir=$PWD
data=""
fresh=0
seats=""
tls=0
extra=()
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
	--fresh)
		fresh=1
		shift
		;;
	--tls)
		tls=1
		shift
		;;
	--seats)
		(($# >= 2)) || die "--seats needs a number"
		seats=$2
		shift 2
		;;
	--seats=*)
		seats=${1#--seats=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		extra=("$@")
		break
		;;
	*)
		usage >&2
		die "unknown argument: $1"
		;;
	esac
done
if [[ -n $seats && ! $seats =~ ^[1-9][0-9]*$ ]]; then
	die "--seats wants a positive number, not '$seats'"
fi

cd "$(dirname "$0")/.."
root=$PWD
# --data is relative to where the script was started, the default to the repo.
if [[ -z $data ]]; then
	data=$root/data
elif [[ $data != /* ]]; then
	data=$start_dir/$data
fi
data=$(realpath -m -- "$data")

ids=(n1 n2 n3)
client_addr=(127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003)
raft_addr=(127.0.0.1:8001 127.0.0.1:8002 127.0.0.1:8003)
http_addr=(127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003)
peers=n1=${raft_addr[0]},n2=${raft_addr[1]},n3=${raft_addr[2]}
ready_timeout_ms=15000 # how long to wait for a leader
stop_timeout_s=30      # how long a node may take to stop before SIGKILL

check_ports() {
	local a busy=()
	for a in "${client_addr[@]}" "${raft_addr[@]}" "${http_addr[@]}"; do
		if port_in_use "$a"; then
			busy+=("$a")
		fi
	done
	if ((${#busy[@]} > 0)); then
		printf 'cluster.sh: address already in use: %s\n' "${busy[*]}" >&2
		printf '  another cluster (or program) is listening there; stop it first.\n' >&2
		printf "  to see who: ss -ltnp 'sport >= :7001 and sport <= :9003'\n" >&2
		exit 1
	fi
}

if ((fresh)); then
	case $data in
	/ | "$root" | "$HOME" | "$start_dir")
		die "refusing to wipe $data with --fresh; give a dedicated --data directory"
		;;
	esac
fi

# Fail before building, and again just before starting (the build takes a while).
check_ports

echo "cluster.sh: building bin/seatd and bin/seat in $root"
mkdir -p bin
go build -o bin/seatd ./cmd/seatd
go build -o bin/seat ./cmd/seat

check_ports
if ((fresh)); then
	echo "cluster.sh: --fresh: deleting $data"
	rm -rf -- "$data"
fi
mkdir -p "$data"
echo "cluster.sh: data directory $data (nodes in n1 n2 n3, logs in n1.log n2.log n3.log)"

# TLS: node flags and the client flags of bin/seat (empty without --tls).
pki=$data/pki
node_tls=()
seat_tls=()
if ((tls)); then
	if [[ ! -e $pki/ca.crt ]]; then
		echo "cluster.sh: --tls: creating development certificates in $pki"
		bin/seat certs ca --dir "$pki"
		bin/seat certs node --ca-dir "$pki" --out "$pki" --name node --hosts 127.0.0.1,localhost
		bin/seat certs client --ca-dir "$pki" --out "$pki" --name alice
	else
		echo "cluster.sh: --tls: using the certificates in $pki"
	fi
	node_tls=(--tls-cert "$pki/node.crt" --tls-key "$pki/node.key" --tls-client-ca "$pki/ca.crt"
		--peer-cert "$pki/node.crt" --peer-key "$pki/node.key" --peer-ca "$pki/ca.crt")
	seat_tls=(--ca "$pki/ca.crt" --cert "$pki/alice.crt" --key "$pki/alice.key")
fi

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/seatd-cluster.XXXXXX")
declare -A node_pid=()   # id -> pid of a seatd still to be reaped
declare -A prefix_pid=() # id -> pid of its output prefixer
stopping=0

start_node() {
	local i=$1
	local id=${ids[i]}
	local fifo=$run_dir/$id.out
	mkfifo "$fifo"
	printf '=== %s cluster.sh: starting %s\n' "$(date -Is)" "$id" >>"$data/$id.log"
	# The prefixer ignores SIGINT: Ctrl-C reaches the whole process group and
	# the node's last lines (shutting down, stopped) must still be shown.
	(
		trap '' INT
		tee -a "$data/$id.log" | sed -u "s/^/[$id] /"
	) <"$fifo" &
	prefix_pid[$id]=$!
	local args=(--id "$id" --listen "${client_addr[i]}" --raft "${raft_addr[i]}" --http "${http_addr[i]}"
		--data "$data/$id" --peers "$peers")
	if [[ -n $seats ]]; then
		args+=(--seats "$seats")
	fi
	bin/seatd "${args[@]}" "${node_tls[@]}" "${extra[@]}" >"$fifo" 2>&1 &
	node_pid[$id]=$!
}

# stop_nodes: SIGTERM every node still running, wait for each (SIGKILL after
# stop_timeout_s), report how each ended. Returns 1 if any did not exit 0.
# shellcheck disable=SC2317 # called from the traps below
stop_nodes() {
	local id status rc=0 deadline report=()
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
			report+=("$id did not stop within ${stop_timeout_s}s: killed")
			kill -KILL "${node_pid[$id]}" 2>/dev/null || true
		fi
		status=0
		wait "${node_pid[$id]}" 2>/dev/null || status=$?
		unset "node_pid[$id]"
		if ((status == 0)); then
			report+=("$id stopped (exit 0)")
		else
			report+=("$id ended with exit status $status")
			rc=1
		fi
	done
	# Let the prefixers print the nodes' last lines first.
	for id in "${!prefix_pid[@]}"; do
		wait "${prefix_pid[$id]}" 2>/dev/null || true
		unset "prefix_pid[$id]"
	done
	printf 'cluster.sh: %s\n' "${report[@]}"
	return "$rc"
}

# shellcheck disable=SC2317 # trap handler
cleanup() {
	local rc=$?
	trap '' INT TERM
	stop_nodes || rc=1
	rm -rf -- "$run_dir"
	exit "$rc"
}

# shellcheck disable=SC2317 # trap handler
on_signal() {
	((stopping)) && return 0
	stopping=1
	trap '' INT TERM
	printf '\ncluster.sh: %s received, stopping the nodes\n' "$1"
	local rc=0
	stop_nodes || rc=1
	exit "$rc"
}

trap cleanup EXIT
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM

show_log_tails() {
	local id
	for id in "${ids[@]}"; do
		echo "--- last lines of $data/$id.log" >&2
		tail -n 20 "$data/$id.log" >&2 || true
	done
}

started=$(now_ms)
for i in 0 1 2; do
	start_node "$i"
done

# Wait for a leader, asking n1 (which forwards to the leader once there is one).
answer=""
while :; do
	if answer=$(bin/seat "${seat_tls[@]}" --addr "${client_addr[0]}" --timeout 1s LEADER 2>&1) &&
		[[ $answer == "LEADER "* ]]; then
		break
	fi
	for id in "${ids[@]}"; do
		if ! alive "${node_pid[$id]}"; then
			show_log_tails
			die "$id exited during startup (see its log above)"
		fi
	done
	if (($(now_ms) - started > ready_timeout_ms)); then
		show_log_tails
		die "no leader after $((ready_timeout_ms / 1000)) s; last answer from ${client_addr[0]}: $answer"
	fi
	sleep 0.2
done

if [[ $start_dir == "$root" ]]; then
	seat=bin/seat
else
	# %q-quote the paths (spaces etc.) so the commands can be pasted as shown.
	seat=$(printf '%q' "$root/bin/seat")
fi
if ((tls)); then
	seat="$seat --ca $(printf '%q' "$pki/ca.crt") --cert $(printf '%q' "$pki/alice.crt") --key $(printf '%q' "$pki/alice.key")"
	try_lines=" TLS:  mutual TLS on all ports; certificates in $pki
 try:  $seat RESERVE 1     (books seat 1 for alice, the certificate's identity)
       $seat STATUS 1
       $seat STATUS
       $seat               (interactive prompt)"
else
	try_lines=" try:  $seat RESERVE 1 alice
       $seat STATUS 1
       $seat STATUS
       $seat                       (interactive prompt)"
fi
cat <<EOF

==================================================================
 seatd cluster ready in $(($(now_ms) - started)) ms; leader: $(cut -d" " -f2 <<<"$answer")
 clients: ${client_addr[*]}   data: $data
$try_lines
 Ctrl-C stops the cluster.
==================================================================

EOF

# Run until a signal; report nodes that end on their own. The cluster keeps
# serving with two of three nodes.
declare -A node_id=()
for id in "${ids[@]}"; do
	node_id[${node_pid[$id]}]=$id
done
failed=0
while ((${#node_pid[@]} > 0)); do
	done_pid=""
	status=0
	wait -n -p done_pid "${node_pid[@]}" 2>/dev/null || status=$?
	if [[ -z $done_pid ]]; then
		((status != 127)) || die "lost track of the nodes (wait: no such child)"
		continue
	fi
	id=${node_id[$done_pid]}
	unset "node_pid[$id]"
	if ((status != 0)); then
		failed=1
	fi
	echo "cluster.sh: $id exited on its own with status $status; $((${#node_pid[@]})) node(s) left" >&2
done
echo "cluster.sh: all nodes have exited" >&2
exit $((failed ? 1 : 0))
