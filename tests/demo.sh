#!/usr/bin/env bash
# The main job of `make demo`. For now: every command answers --version.
# Later: the whole initial ceremony on virtual cards and emulated modules.
set -euo pipefail
build=${1:-build}
bin="$build/bin"
status=0
for exe in "$bin"/hsmadm-*; do
	[ -x "$exe" ] || continue
	"$exe" --version || status=1
done
exit $status
