#!/usr/bin/env bash
# Checks the bash completion (dist/bash-completion/vpcnet) against the CLI's own help: every
# noun of `vpcnet --help`, every verb and --option of each `vpcnet NOUN --help` usage, each
# at its place; then (root) the names it offers from a real state dir and host namespace.
# Usage: tests/completion.sh BUILD_DIR
set -u
VPCNET=$(realpath "${1:?usage: tests/completion.sh BUILD_DIR}")/vpcnet
SRC=$(dirname "$(realpath "$0")")/../dist/bash-completion/vpcnet
[ -x "$VPCNET" ] || { echo "no $VPCNET (make all first)"; exit 1; }
[ -r /usr/share/bash-completion/bash_completion ] || { echo "bash-completion is missing"; exit 1; }

source /usr/share/bash-completion/bash_completion
source "$SRC"
compopt() { :; }  # only works under readline; the completion only sets nospace with it
func=$(complete -p vpcnet 2>/dev/null | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
fails=0 checks=0
ERR=$(mktemp /tmp/vpcnet-completion.XXXXXX)  # what the completion prints: nothing, or it fails
trap 'rm -f "$ERR"' EXIT
trap 'exit 1' INT TERM HUP PIPE

# complete LINE: COMPREPLY for the cursor at the end of LINE, the words split as bash splits
# them (at blanks, and around = and :, which are in COMP_WORDBREAKS).
complete_line() {
	local line=$1
	COMP_LINE=$line COMP_POINT=${#line}
	read -ra COMP_WORDS <<<"$(sed 's/[=:]\{1,\}/ & /g' <<<"$line")"
	[[ $line == *' ' || -z $line ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>>"$ERR"
}

# expect MODE LINE WORD...: after completing LINE, COMPREPLY holds each WORD (has), holds
# exactly the WORDs (is), or none of them (lacks).
expect() {
	local mode=$1 line=$2 w got want; shift 2
	complete_line "$line"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort -u | grep .)
	want=$(printf '%s\n' "$@" | sort -u | grep .)
	local ok=1
	case $mode in
	is) [ "$got" = "$want" ] || ok=0 ;;
	has) for w; do grep -qxF -- "$w" <<<"$got" || ok=0; done ;;
	lacks) for w; do grep -qxF -- "$w" <<<"$got" && ok=0; done ;;
	esac
	if [ -s "$ERR" ]; then
		echo "FAIL: '$line' printed on the terminal: $(head -3 "$ERR")"; : >"$ERR"; ok=0
	fi
	checks=$((checks + 1))
	if [ $ok = 0 ]; then
		fails=$((fails + 1))
		echo "FAIL: '$line<TAB>' $mode [$*], offers [$(echo $got)]"
	fi
}

# The usage block of `vpcnet NOUN --help` as lines "VERB...|--OPT --OPT": the lower-case
# words after the noun, then every option after it (continuation lines included).
usages() {
	"$VPCNET" "$1" --help | sed -e '/^$/q' -e 's/^Usage://' | awk -v noun="$1" '
		function opt(s) { if (s == "--") opts = opts " --"  # exec ID -- CMD
			while (match(s, /--[a-z][a-z-]*/)) {
				opts = opts " " substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) } }
		$1 == "vpcnet" {
			for (k = 2; k <= NF && $k != noun; k++) ;
			if (n++) print verbs "|" opts
			verbs = ""; opts = ""
			for (i = k + 1; i <= NF && $i ~ /^[a-z][a-z-]*$/; i++) verbs = verbs (verbs ? " " : "") $i
			for (; i <= NF; i++) opt($i)
			next
		}
		{ for (i = 1; i <= NF; i++) opt($i) }
		END { if (n) print verbs "|" opts }'
}

[ -n "$func" ] || { echo "FAIL: $SRC registers no completion for vpcnet"; exit 1; }

echo "== nouns, verbs and options, from the help texts"
nouns=$("$VPCNET" --help | sed -n '/^Nouns:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')
[ -n "$nouns" ] || { echo "FAIL: no nouns in vpcnet --help"; exit 1; }
expect is "vpcnet sa" sandbox
expect has "vpcnet " $nouns
globals=$("$VPCNET" --help | sed -n '/^Global options/,/^$/s/^  \(--[a-z][a-z-]*\).*/\1/p')
[ -n "$globals" ] || { echo "FAIL: no global options in vpcnet --help"; exit 1; }
expect is "vpcnet --" $globals --help
expect has "vpcnet --json " $nouns
expect has "vpcnet --state-dir /tmp " $nouns
expect has "vpcnet --state-dir=/tmp --host-netns x sg " create rule
for noun in $nouns; do
	use=$(usages "$noun")
	[ -n "$use" ] || { echo "FAIL: no usage in vpcnet $noun --help"; fails=$((fails + 1)); continue; }
	# Each verb after what precedes it: `sg ` offers rule, `sg rule ` offers add and del.
	declare -A next=()
	while IFS='|' read -r verbs _; do
		set -- $verbs; pre=""
		for v; do next[k$pre]+=" $v"; pre+="$v "; done
	done <<<"$use"
	for k in "${!next[@]}"; do
		expect is "vpcnet $noun ${k#k}" ${next[$k]}
	done
	unset next
	# Each verb's options, right after it and after an argument ("--" of exec only there).
	while IFS='|' read -r verbs opts; do
		at="vpcnet $noun ${verbs:+$verbs }"
		expect is "$at--" $(printf '%s\n' $opts | grep -vx -- --)
		[ -n "$verbs" ] && expect is "${at}x --" $opts
	done <<<"$use"
done

echo "== values"
expect has "vpcnet --state-dir /t" /tmp
expect has "vpcnet --state-dir=/t" /tmp
expect has "vpcnet sandbox create x --netns /proc/self/ns/n" /proc/self/ns/net
expect is "vpcnet sandbox exec x " --
expect has "vpcnet sandbox exec x -- ech" echo
expect lacks "vpcnet sandbox exec x -- sh -" --vpc  # the command's own completion
expect is "vpcnet sg rule add g egress " tcp: udp: icmp all
expect is "vpcnet sg rule del g ingress ic" icmp
expect is "vpcnet sg rule add g egress tcp:80 0.0.0." 0.0.0.0/0
expect is "$VPCNET --state-dir /tmp/vpcnet-test-t$$-none vpc show " ""
if [ -e "/tmp/vpcnet-test-t$$-none" ]; then
	echo "FAIL: completing made the state dir"; fails=$((fails + 1)); rm -rf "/tmp/vpcnet-test-t$$-none"
fi

if [ "$(id -u)" != 0 ]; then
	echo "== names skipped: they need root (namespaces)"
else
	echo "== names, from a state dir and a host namespace made for the test"
	T=t$$- HOST=t$$-comp-host INET=t$$-comp-inet STATE=/tmp/vpcnet-test-t$$
	VPC=${T}comp SBX=${T}sbx
	vn() { timeout 30 "$VPCNET" --state-dir "$STATE" --host-netns "$HOST" "$@" >/dev/null; }
	cleanup() {
		timeout 60 "$VPCNET" --state-dir "$STATE" --host-netns "$HOST" vpc delete --force \
			"$VPC" >/dev/null 2>&1
		local ns  # what a failed delete left
		for ns in $(ls /run/netns 2>/dev/null | grep -E -- "-t$$-"); do
			ip netns del "$ns" 2>/dev/null
		done
		ip netns del "$HOST" 2>/dev/null
		ip netns del "$INET" 2>/dev/null
		rm -rf "$STATE" "$ERR"
	}
	trap cleanup EXIT
	# A fake host with an uplink (up0, default route) to a fake internet.
	ip netns add "$HOST" && ip netns add "$INET" &&
		ip link add up0 netns "$HOST" type veth peer name wan0 netns "$INET" &&
		ip -n "$HOST" addr add 203.0.113.1/24 dev up0 && ip -n "$HOST" link set up0 up &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" route add default via 203.0.113.2 &&
		ip -n "$INET" addr add 203.0.113.2/24 dev wan0 && ip -n "$INET" link set wan0 up &&
		mkdir -p "$STATE" &&
		vn vpc create "$VPC" --cidr 10.99.0.0/24 &&
		vn sg create "${T}web" --vpc "$VPC" && vn sg create "${T}db" --vpc "$VPC" &&
		vn sandbox create "$SBX" --vpc "$VPC" --sg "${T}web" ||
		{ echo "FAIL: the fixture (host namespace, VPC, groups, sandbox)"; exit 1; }
	G="$VPCNET --state-dir $STATE --host-netns $HOST"  # the completion runs this vpcnet
	expect has "vpcnet --host-netns t$$-" "$HOST" "$INET"
	expect is "$G sandbox show " "$SBX"
	expect is "$G sandbox exec ${SBX:0:4}" "$SBX"
	expect is "$G sandbox set-sg $SBX a," "a,default" "a,${T}web" "a,${T}db"
	expect is "$G sandbox create x --vpc " "$VPC"
	expect is "$G sandbox create x --vpc $VPC --sg a," "a,default" "a,${T}web" "a,${T}db"
	expect is "$G sandbox create x --sg=a,${T}w" "a,${T}web"
	expect is "$G instance create x --sg " default "${T}web" "${T}db"
	expect is "$G instance show " ""
	expect is "$G vpc delete " "$VPC"
	expect is "$G vpc create x --uplink u" up0  # the links of the host namespace
	expect is "$G pool fill " "$VPC"
	expect is "$G sg show " default "${T}web" "${T}db"
	expect is "$G sg rule " add del
	expect is "$G sg rule del " default "${T}web" "${T}db"
	expect is "$G sg rule add ${T}d" "${T}db"
	expect is "$G sg rule add ${T}db ingress tcp:5432 sg:${T}w" "${T}web"  # after the colon
	expect is "$G --json sg delete --vpc $VPC ${T}w" "${T}web"
	expect is "$G sg delete --vpc no-such-vpc " ""
	expect is "$VPCNET --state-dir $STATE --host-netns no-such-t$$-ns sandbox show " ""
	expect lacks "$VPCNET --state-dir $STATE/missing --host-netns $HOST sandbox show " "$SBX"
	[ -e "$STATE/missing" ] && { echo "FAIL: completing made the state dir"; fails=$((fails + 1)); }
fi

echo "completion: $checks checks, $fails failed"
[ "$fails" = 0 ]
