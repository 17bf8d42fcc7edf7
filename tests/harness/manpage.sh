# SPDX-License-Identifier: BSD-2-Clause
# manpage.sh - read a troff man page's EXAMPLES the way the tests that run
# them as written need it (sourced; bash only).

# man_examples MANPAGE: the commands of the EXAMPLES section, one a line:
# the lines inside .nf/.fi, "\-" undone, leading blanks and trailing
# " # comments" dropped, continuation lines (ending in "\e") joined.
man_examples() {
	awk '
	/^\.SH EXAMPLES/ { ex = 1; next }
	/^\.SH / { ex = 0 }
	ex && /^\.nf/ { nf = 1; next }
	ex && /^\.fi/ { nf = 0; next }
	ex && nf && !/^\./ {
		line = $0
		gsub(/\\-/, "-", line)
		sub(/^ +/, "", line)
		sub(/ +#.*$/, "", line)
		if (sub(/ *\\e$/, " ", line)) { acc = acc line; next }
		print acc line
		acc = ""
	}' "$1"
}
