#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/man.sh BUILD_DIR: the man pages in BUILD_DIR/man/ cover the CLI in BUILD_DIR/vpcnet.
#
# - every noun under "Nouns:" in `vpcnet --help` has its page, vpcnet-NOUN.8 (but `version`,
#   which vpcnet.8 documents), so a new noun without a page fails;
# - every option (--long, or -x) that `vpcnet NOUN --help` prints, and that
#   `vpcnet NOUN VERB --help` prints for each verb its usage lines list, appears in the
#   rendered text of vpcnet-NOUN.8;
# - every option of `vpcnet --help` appears in vpcnet.8;
# - vpcnet-cni.8 exists (the CNI plugin is the binary run with CNI_COMMAND set, not a noun).
#
# Pages are rendered by man(1) with LC_ALL=C.UTF-8 on very wide lines (no line breaks, so
# no hyphenation inside an option); hyphens that groff may render as U+2010, U+2011 or
# U+2212 are turned back into "-".  Prints "PAGE: OPTION missing" for each gap and exits 1
# if there is any.
set -u

B=${1:?usage: tests/man.sh BUILD_DIR}
VPCNET=$B/vpcnet
MAN=$B/man
[ -x "$VPCNET" ] || { echo "man.sh: $VPCNET: not built" >&2; exit 2; }
[ -d "$MAN" ] || { echo "man.sh: $MAN: no man pages built" >&2; exit 2; }
command -v man >/dev/null || { echo "man.sh: man(1) (man-db) is not installed" >&2; exit 2; }

# Nouns documented in vpcnet.8 rather than a page of their own.
IN_MAIN_PAGE="version"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# --help never reaches the store; a scratch one all the same, in case a verb's did.
vpcnet() { "$VPCNET" --state-dir "$tmp/state" "$@"; }

# The options an option-bearing text mentions: --long (a letter, then letters, digits and
# dashes) and -x (one letter), each not inside a word ("set-sg", "1-32", "N-M" are not).
options() {
	grep -oE -- '(^|[^A-Za-z0-9_-])(--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z])([^A-Za-z0-9_-]|$)' |
		sed -E 's/^[^-]*//; s/[^A-Za-z0-9-]$//' | sort -u
}

# A page's text as man renders it, hyphens as "-", one file per page.
render() {
	out=$tmp/$(basename "$1").txt
	[ -f "$out" ] && { echo "$out"; return; }
	LC_ALL=C.UTF-8 MANWIDTH=10000 MAN_KEEP_FORMATTING= man -l "$1" 2>/dev/null |
		sed -e 's/.\x08//g' -e 's/\xe2\x80\x90/-/g; s/\xe2\x80\x91/-/g; s/\xe2\x88\x92/-/g' \
		> "$out"
	echo "$out"
}

# check PAGE TEXTFILE: each option that the help text in TEXTFILE prints is in PAGE.
check() {
	if [ ! -f "$MAN/$1" ]; then
		grep -qxF -- "$1" "$tmp/told" 2>/dev/null && return
		echo "$1" >> "$tmp/told"
		echo "$1: missing (no page)"
		fail=1
		return
	fi
	txt=$(render "$MAN/$1")
	for opt in $(options < "$2"); do
		grep -qE -- "(^|[^A-Za-z0-9_-])$opt([^A-Za-z0-9_-]|$)" "$txt" && continue
		grep -qxF -- "$1 $opt" "$tmp/told" 2>/dev/null && continue
		echo "$1 $opt" >> "$tmp/told"
		echo "$1: $opt missing"
		fail=1
	done
}

vpcnet --help > "$tmp/main.help" || { echo "man.sh: vpcnet --help failed" >&2; exit 2; }
check vpcnet.8 "$tmp/main.help"

nouns=$(sed -n '/^Nouns:/,/^$/p' "$tmp/main.help" | sed -nE 's/^  ([a-z][a-z0-9-]*)( .*)?$/\1/p')
[ -n "$nouns" ] || { echo "man.sh: no nouns under 'Nouns:' in vpcnet --help" >&2; exit 2; }

for noun in $nouns; do
	page=vpcnet-$noun.8
	case " $IN_MAIN_PAGE " in *" $noun "*) page=vpcnet.8 ;; esac
	if ! vpcnet "$noun" --help > "$tmp/$noun.help"; then
		echo "$page: vpcnet $noun --help failed"
		fail=1
		continue
	fi
	check "$page" "$tmp/$noun.help"
	# The verbs: the lowercase words after the noun on its usage lines ("rule add").
	sed -nE "s/^(Usage:)? *vpcnet (\[GLOBAL OPTIONS\] )?$noun ((([a-z][a-z-]*) ?)+).*/\3/p" \
		"$tmp/$noun.help" | sed -E 's/ +$//' | sort -u > "$tmp/$noun.verbs"
	while read -r verb; do
		[ -n "$verb" ] || continue
		# shellcheck disable=SC2086 # "rule add" is two words
		if ! vpcnet "$noun" $verb --help > "$tmp/$noun.verb.help"; then
			echo "$page: vpcnet $noun $verb --help failed"
			fail=1
			continue
		fi
		check "$page" "$tmp/$noun.verb.help"
	done < "$tmp/$noun.verbs"
done

# The CNI plugin is the binary run with CNI_COMMAND set: no noun, a page all the same.
[ -f "$MAN/vpcnet-cni.8" ] || { echo "vpcnet-cni.8: missing (no page)"; fail=1; }

exit $fail
