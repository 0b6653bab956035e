#!/usr/bin/env python3
"""Sums up the valgrind XML reports `make memcheck` collected: the errors
whose stack holds res_sticky (the figure that must be 0), apart from
Asterisk's own, and what the suppressions in tests/valgrind.supp hid.
Exits 1 when res_sticky has an error."""

import collections
import glob
import os
import re
import sys


def tag(block, name):
    found = re.search(r"<%s>(.*?)</%s>" % (name, name), block, re.S)
    return found.group(1).strip() if found else ""


def frames(block):
    stack = re.search(r"<stack>(.*?)</stack>", block, re.S)
    if not stack:
        return []
    return [(tag(f, "fn") or "?", os.path.basename(tag(f, "obj")) or "?")
            for f in re.findall(r"<frame>(.*?)</frame>", stack.group(1), re.S)]


def main(directory):
    reports = sorted(glob.glob(os.path.join(directory, "*.xml")))
    ours, theirs = collections.Counter(), collections.Counter()
    examples, noise = {}, {}
    suppressed = collections.Counter()
    complete = 0
    for path in reports:
        text = open(path, errors="replace").read()
        complete += "</valgrindoutput>" in text
        for block in re.findall(r"<error>(.*?)</error>", text, re.S):
            kind = tag(block, "kind")
            stack = frames(block)
            key = (kind,) + tuple(stack[:4])
            if any("res_sticky" in fn or obj.startswith("res_sticky") for fn, obj in stack):
                ours[key] += 1
                examples.setdefault(key, (path, stack))
            else:
                theirs[key] += 1
                supp = re.search(r"<rawtext>\s*<!\[CDATA\[(.*?)\]\]>", block, re.S)
                if supp:
                    noise.setdefault(key, supp.group(1))
        for pair in re.findall(r"<pair>(.*?)</pair>", tag(text, "suppcounts"), re.S):
            suppressed[tag(pair, "name")] += int(tag(pair, "count") or 0)
    print(f"valgrind reports: {len(reports)} Asterisk processes ({complete} ran to exit with a leak check)")
    print(f"res_sticky errors: {sum(ours.values())} ({len(ours)} distinct)")
    for key, count in ours.most_common():
        path, stack = examples[key]
        print(f"  {count} x {key[0]} ({os.path.basename(path)})")
        for fn, obj in stack[:12]:
            print(f"      {fn}  [{obj}]")
    print(f"Asterisk's own errors, not suppressed: {sum(theirs.values())} ({len(theirs)} distinct)")
    for key, count in theirs.most_common(20):
        print(f"  {count} x {key[0]}: " + " < ".join(fn for fn, _ in key[1:]))
    print(f"suppressed (valgrind's defaults and tests/valgrind.supp): {sum(suppressed.values())}")
    for name, count in suppressed.most_common():
        print(f"  {count} x {name}")
    if noise:
        with open(os.path.join(directory, "unsuppressed.supp"), "w") as out:
            out.write("\n".join(noise.values()) + "\n")
        print(f"suppressions for the unsuppressed ones: {os.path.join(directory, 'unsuppressed.supp')}")
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/memcheck"))
