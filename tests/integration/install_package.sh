#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# install_package.sh - hsmadm installs like a tool: `cmake --install` puts the
# commands, man pages, bash completion and documentation under a prefix; the
# completion offers each command's subcommands and options; `cpack -G DEB`
# makes a Debian package of the same files, which is installed on this
# machine (as root; otherwise unpacked into a private root, and the test says
# so), where `hsmadm-audit --version` and `man hsmadm-ceremony` work; the
# package is removed again.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/harness/check.sh"
: "${HSMADM_BUILD:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-install.XXXXXX")
INSTALLED=
cleanup() {
	[ -z "$INSTALLED" ] || dpkg -r hsmadm >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT

cmake --install "$HSMADM_BUILD" --prefix "$T/prefix" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log" >&2; fail "cmake --install failed"; }
for f in bin/hsmadm-audit bin/hsmadm-rotate bin/hsmadm-simd bin/hsmadm-vcard \
	share/man/man1/hsmadm-ceremony.1 share/man/man1/hsmadm-rotate.1 \
	share/bash-completion/completions/hsmadm-domain share/doc/hsmadm/rotation.md; do
	[ -e "$T/prefix/$f" ] && ok "installed $f" || fail "not installed: $f"
done
[ ! -d "$HSMADM_SRC/ceremony-scripts" ] || [ -d "$T/prefix/share/hsmadm/ceremony-scripts" ] &&
	ok "ceremony scripts under share/hsmadm" || fail "ceremony-scripts not installed"
"$T/prefix/bin/hsmadm-audit" --version >"$T/v" && grep -q "hsmadm" "$T/v" && ok "installed hsmadm-audit runs" ||
	fail "installed hsmadm-audit --version"

# The completion, as bash would call it.
words=$(PATH="$T/prefix/bin:$PATH" bash -c '
	. "$1"
	COMP_WORDS=(hsmadm-rotate st); COMP_CWORD=1; _hsmadm; echo "${COMPREPLY[*]}"
	COMP_WORDS=(hsmadm-rotate finalize --no-b); COMP_CWORD=2; _hsmadm; echo "${COMPREPLY[*]}"
	' _ "$T/prefix/share/bash-completion/completions/hsmadm-rotate")
grep -qx "stage" <<<"$(sed -n 1p <<<"$words")" && ok "completion: hsmadm-rotate st -> stage" ||
	fail "completion of 'st': '$(sed -n 1p <<<"$words")'"
[ "$(sed -n 2p <<<"$words")" = "--no-blobs" ] && ok "completion: --no-b -> --no-blobs" ||
	fail "completion of '--no-b': '$(sed -n 2p <<<"$words")'"

# The Debian package.
(cd "$HSMADM_BUILD" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 ||
	{ cat "$T/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$T"/pkg/hsmadm_*.deb)
ok "package $(basename "$deb")"
# (listings into files first: grep -q closing a pipe early fails it under pipefail)
dpkg-deb -f "$deb" Depends >"$T/depends"
dpkg-deb -c "$deb" >"$T/contents"
grep -q "libssl3" "$T/depends" && ok "the package depends on libssl3" ||
	fail "Depends lacks libssl3: $(cat "$T/depends")"
grep -q "usr/share/man/man1/hsmadm-ceremony.1" "$T/contents" && ok "man pages packaged" ||
	fail "man page not in the package"

if [ "$(id -u)" = 0 ] && ! dpkg -s hsmadm >/dev/null 2>&1; then
	dpkg -i "$deb" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log" >&2; fail "dpkg -i failed"; }
	INSTALLED=1
	/usr/bin/hsmadm-audit --version >"$T/v" && grep -q hsmadm "$T/v" && ok "/usr/bin/hsmadm-audit --version" ||
		fail "installed hsmadm-audit"
	MANPAGER=cat man hsmadm-ceremony >"$T/man" 2>/dev/null; grep -q "HSMADM-CEREMONY" "$T/man" &&
		ok "man hsmadm-ceremony" || fail "man hsmadm-ceremony shows no page"
	dpkg -r hsmadm >/dev/null 2>&1 && INSTALLED= && ok "package removed" || fail "dpkg -r"
else
	echo "not root, or hsmadm is installed already: the package is unpacked into a private root"
	dpkg-deb -x "$deb" "$T/root"
	"$T/root/usr/bin/hsmadm-audit" --version >"$T/v" && grep -q hsmadm "$T/v" && ok "unpacked hsmadm-audit runs" ||
		fail "unpacked hsmadm-audit"
	MANPAGER=cat man -l "$T/root/usr/share/man/man1/hsmadm-ceremony.1" >"$T/man"
	grep -q "HSMADM-CEREMONY" "$T/man" &&
		ok "man page of the package renders" || fail "man page of the package"
fi
echo "all checks passed"
