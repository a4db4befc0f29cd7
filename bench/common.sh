# Sourced by the benchmarks: the fixtures (a fake host with an uplink to a fake internet) and
# how a command is timed.  Nothing here runs by itself.

# fixtures HOST INET: host 203.0.113.1 on up0, default route via the internet's 203.0.113.2
fixtures() {
	ip netns add "$1"; ip netns add "$2"
	ip link add up0 netns "$1" type veth peer name wan0 netns "$2"
	ip -n "$1" addr add 203.0.113.1/24 dev up0; ip -n "$1" link set up0 up
	ip -n "$1" link set lo up; ip -n "$1" route add default via 203.0.113.2
	ip -n "$2" addr add 203.0.113.2/24 dev wan0; ip -n "$2" link set wan0 up
	ip -n "$2" link set lo up
}
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# timed FILE CMD...: appends the command's wall time (us) to FILE
timed() { local f=$1; shift; local a=$EPOCHREALTIME; "$@" >/dev/null; local b=$EPOCHREALTIME
	echo $(( ${b/./} - ${a/./} )) >> "$f"; }
say() { echo "-- $*" >&2; }
