# shellcheck shell=bash
# Helpers shared by the scripts in this directory; sourced, not run.

# die MSG: print "<script>: MSG" to stderr and exit 1.
die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# now_ms: milliseconds since the epoch.
now_ms() {
	local t
	t=$(date +%s%N)
	printf '%s\n' "$((t / 1000000))"
}

# port_in_use HOST:PORT: something accepts connections there.
port_in_use() {
	(exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# alive PID: the process exists and is not a zombie.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# node_procs NODES: the GOMAXPROCS each of NODES seatd processes sharing this
# machine should get: the user's GOMAXPROCS when set, otherwise the CPUs
# divided among the nodes (at least 1). Every Go process sizes itself for the
# whole machine by default; three nodes that each do so hand goroutines
# between threads that then wait for each other's CPUs, which on a 2-core VM
# cost one client 0.15 ms per request (docs/benchmarks.md).
node_procs() {
	if [[ -n ${GOMAXPROCS:-} ]]; then
		printf '%s\n' "$GOMAXPROCS"
		return
	fi
	local cpus
	cpus=$(nproc 2>/dev/null || echo 1)
	printf '%s\n' "$((cpus / $1 > 0 ? cpus / $1 : 1))"
}

# binaries DIR: prints DIR, checking that it holds seatd and seat; with no
# DIR, builds both from this tree into bin/ and prints that (run it from
# the repository's root).
binaries() {
	local dir=${1:-}
	if [[ -z $dir ]]; then
		dir=$PWD/bin
		go build -o "$dir/" ./cmd/seatd ./cmd/seat >&2 || die "go build failed"
	fi
	[[ -x $dir/seatd && -x $dir/seat ]] || die "no seatd and seat in $dir"
	printf '%s\n' "$dir"
}
