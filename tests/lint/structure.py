#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The house rules docs/architecture.md states, checked on the sources:

- the one-way rule: cmd -> ops -> {evidence, smartcard, lib}; evidence -> lib;
  smartcard -> lib; sim -> lib. A layer includes only its own headers and
  those of the layers below it;
- evidence/ owns its records: no evidence record-type string literal in C
  outside evidence/ (tests aside; the dotted types, as "roster" and
  "exception" are also ordinary words);
- no function over 120 lines, no main() over 60 lines (tests aside);
- an SPDX line in every source file.
Exit 1 with one line per breach."""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
LAYERS = {  # layer -> the layers whose headers it may include (itself too)
    "lib": {"lib"},
    "smartcard": {"smartcard", "lib"},
    "evidence": {"evidence", "lib"},
    "sim": {"sim", "lib"},
    "ops": {"ops", "evidence", "smartcard", "lib"},
    "cmd": {"cmd", "ops", "evidence", "smartcard", "lib"},
}
RECORD_TYPES = ["ceremony.open", "roster", "step.begin", "step.end", "card.init",
                "admin.registered", "command.signed", "command.sent", "command.applied",
                "keypart.generated", "keypart.copied", "keypart.verified",
                "keypart.destroyed", "mk.loaded", "mk.committed", "mk.activated",
                "mk.finalized", "mk.destroyed", "reencipher.progress", "exception",
                "witness.ack", "checkpoint", "completion", "log.recovered",
                "domain.baseline"]


def sources():
    for top in ("lib", "smartcard", "evidence", "sim", "ops", "cmd", "tests"):
        for root, _, files in os.walk(os.path.join(SRC, top)):
            for f in files:
                yield top, os.path.relpath(os.path.join(root, f), SRC)


def header_home():
    """Each public header name -> the layer that offers it."""
    home = {}
    for top in LAYERS:
        for root, _, files in os.walk(os.path.join(SRC, top)):
            for f in files:
                if f.endswith(".h") and os.path.basename(root) == "hsmadm":
                    home["hsmadm/" + f] = top
    return home


def functions(text):
    """(name, first line, length) of every top-level C function body."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            m = re.match(r"^(\w+)\s*\(", lines[j])
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            yield (m.group(1) if m else "?", i + 1, k - i + 1)
            i = k
        i += 1


def main():
    bad = []
    home = header_home()
    # the dotted types only: "roster" or "exception" are also plain words
    # (a JSON member, a subcommand) that need no evidence/ to be spelled
    rec_re = re.compile(r'"(%s)"' % "|".join(re.escape(t) for t in RECORD_TYPES if "." in t))
    for top, path in sources():
        full = os.path.join(SRC, path)
        if path.endswith((".c", ".h", ".sh", ".cmake")) or path.endswith("CMakeLists.txt"):
            with open(full, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if "SPDX-License-Identifier:" not in text[:400]:
                bad.append(f"{path}: no SPDX line")
        if not path.endswith((".c", ".h")) or top == "tests":
            continue
        for n, line in enumerate(text.split("\n"), 1):
            m = re.match(r'\s*#\s*include\s+"(hsmadm/[\w.]+)"', line)
            if m and m.group(1) in home and home[m.group(1)] not in LAYERS[top]:
                bad.append(f"{path}:{n}: {top}/ includes {m.group(1)} of "
                           f"{home[m.group(1)]}/ (the one-way rule)")
            if top != "evidence" and rec_re.search(line):
                bad.append(f"{path}:{n}: an evidence record type outside evidence/: "
                           f"{line.strip()}")
        if path.endswith(".c"):
            for name, first, length in functions(text):
                limit = 60 if name == "main" else 120
                if length > limit:
                    bad.append(f"{path}:{first}: {name}() is {length} lines "
                               f"(at most {limit})")
    for b in bad:
        print(b)
    print(f"structure: {len(bad)} breach(es)" if bad else "structure: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
