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
