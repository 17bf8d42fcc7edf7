#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every command line of every shipped ceremony script names a command that
# exists and options it accepts: each run/each/finally line is run with its
# placeholders replaced by "1" and --help appended. The command must exit 0
# (an unknown option is a usage error, exit 2, before --help is reached),
# and its help must name the subcommand words, so a renamed subcommand or
# option fails here and not in the room.
. "${HSMADM_SRC:?}/tests/harness/check.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export HSMADM_HOME=$W/home
S=$HSMADM_SRC/ceremony-scripts
n=0
for f in "$S"/*.script; do
	lineno=0
	while IFS= read -r line; do
		lineno=$((lineno + 1))
		case $line in
		"run "*) words=${line#run } ;;
		"each "* | "finally "*) words=${line#* }; words=${words#* } ;;
		*) continue ;;
		esac
		# shellcheck disable=SC2206 # the script format separates words by spaces
		orig=($words)
		# shellcheck disable=SC2207
		argv=($(sed 's/{[^}]*}/1/g' <<<"$words"))
		[ -x "$HSMADM_BIN/${argv[0]}" ] || fail "${f##*/}:$lineno: no command ${argv[0]} in $HSMADM_BIN"
		nopts=$(grep -c -- '^--' < <(printf '%s\n' "${orig[@]}")) || true
		got=0
		"$HSMADM_BIN/${argv[0]}" "${argv[@]:1}" --help </dev/null >"$W/out" 2>"$W/err" || got=$?
		# hsmadm-domain takes --help only before its command word, and a
		# subcommand of fixed arguments refuses one more: a line without
		# options then has nothing to check but its words, in the help.
		if [ "$got" = 2 ] && [ "$nopts" = 0 ]; then
			got=0
			"$HSMADM_BIN/${argv[0]}" --help >"$W/out" 2>"$W/err" || got=$?
		fi
		[ "$got" = 0 ] || { cat "$W/err" >&2; fail "${f##*/}:$lineno: '${argv[*]} --help' exits $got"; }
		grep -q "Usage" "$W/out" || fail "${f##*/}:$lineno: ${argv[0]} --help printed no usage"
		# The subcommand words (before the first option, placeholders
		# aside) must be in the help; the options are proved by the exit 0.
		for w in "${orig[@]:1}"; do
			case $w in
			--*=*) fail "${f##*/}:$lineno: write '${w%%=*} VALUE', not $w" ;;
			--* | *\{*) break ;;
			esac
			grep -qw -- "$w" "$W/out" || fail "${f##*/}:$lineno: ${argv[0]} --help has no '$w'"
		done
		n=$((n + 1))
	done <"$f"
done
[ "$n" -ge 60 ] || fail "only $n command lines found in $S"
pass "$n command lines: each command exists and takes the options its script gives"
echo "PASS: ceremony_script_commands"
