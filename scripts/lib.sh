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
