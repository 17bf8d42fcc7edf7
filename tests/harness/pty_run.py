# SPDX-License-Identifier: BSD-2-Clause
# pty_run.py TRANSCRIPT ANSWERS CMD...: run CMD on a pseudo-terminal, as a
# person at the workstation would, and answer each question once it is on
# the screen (a program that turns echo off flushes what was typed before).
# ANSWERS has one "PROMPT<TAB>KEYS" line per question, in order; KEYS may use
# Python escapes (\x1b for Esc, \x01 for Ctrl-A) and is followed by Enter.
# Everything the terminal showed goes into TRANSCRIPT; the exit status is
# CMD's (1 with a message if a question never came).
import codecs, os, pty, select, sys, time

transcript, answers_file, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
answers = []
with open(answers_file, "rb") as f:
    for line in f.read().decode().splitlines():
        prompt, _, keys = line.partition("\t")
        answers.append((prompt.encode(), codecs.decode(keys, "unicode_escape").encode() + b"\r"))

pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execvp(argv[0], argv)
out = b""


def more(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    out += data
    return bool(data)


pos = 0
for prompt, keys in answers:
    deadline = time.time() + 30
    while out.find(prompt, pos) < 0:
        if not more(deadline):
            open(transcript, "wb").write(out)
            sys.exit("no %r on the terminal; the transcript is in %s" % (prompt, transcript))
    pos = out.find(prompt, pos) + len(prompt)
    time.sleep(0.2)
    os.write(fd, keys)
deadline = time.time() + 30
while more(deadline):
    pass
open(transcript, "wb").write(out)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
