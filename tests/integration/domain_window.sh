#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# domain_window.sh - a signed command's validity window is bounded
# (docs/formats/command.md): hsmadm-domain --valid-for takes at most 7 days,
# a proposal of 7 days carries a window the module accepts and applies, and
# a command file whose window was stretched to 30 days is refused as
# malformed by every tool that reads it (exit 3), naming the limit.
. "$(dirname "$0")/domain_common.sh"
D=hsmadm-domain

init_module m1 DC1-M01
start_module m1
setup_workstation m1
keyfile alice; keyfile bob
expect_exit 0 "group of one domain" -- $D group create solo m1:2

expect_exit 2 "--valid-for over 7 days is refused" -- \
	$D admin add solo --pubkey-file "$T/alice.pem" --name Alice --identity alice \
	--valid-for 604801 --out "$T/long.json"
out_has "at most 7 days" "the message names the limit"
[ ! -e "$T/long.json" ] && ok "no command file written" || fail "a command file was written"

expect_exit 0 "a proposal valid for 7 days" -- \
	$D admin add solo --pubkey-file "$T/alice.pem" --name Alice --identity alice \
	--valid-for 604800 --out "$T/week.json"
w=$(jq '.body.not_after - .body.not_before' "$T/week.json")
if [ "$w" -le 608400 ] && [ "$w" -ge 604800 ]; then ok "its window is $w s"; else
	fail "window of $w s"; fi

# The same command with not_after moved 30 days on: no tool takes it.
jq -c '.body.not_after = .body.not_before + 2592000' "$T/week.json" >"$T/month.json"
expect_exit 3 "a 30-day command file is refused when signed" -- \
	$D sign "$T/month.json" --key-file "$T/bob.pem"
out_has "7 days" "the refusal names the limit"
expect_exit 3 "and when submitted" -- $D submit "$T/month.json"

expect_exit 0 "the 7-day command applies (imprint mode, unsigned)" -- $D submit "$T/week.json"
finish
