#!/usr/bin/env python3
"""Prints the PTX held by the gpu.binary ops of an MLIR file.

gpu-module-to-binary{format=isa} stores the PTX of each target as an escaped
string attribute of a #gpu.object (`assembly = "...\\0A\\09..."`). This script
finds those strings, undoes MLIR's string escapes (`\\XX` hex, `\\\\`, `\\"`,
`\\n`, `\\t`), and writes the PTX text, one object after the other.

Usage: extract_ptx.py [INPUT.mlir|-] [-o OUTPUT]
Exits with 1 when the input holds no #gpu.object string.
"""

import argparse
import re
import sys

# `#gpu.object<#nvvm.target<...>, properties = {...}, assembly = "...">` in
# MLIR 22; older releases print the string without the `assembly =` key.
OBJECT = re.compile(r'#gpu\.object<')
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
SIMPLE_ESCAPES = {'"': '"', '\\': '\\', 'n': '\n', 't': '\t'}


def unescape(body):
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != '\\':
            out += c.encode()
            i += 1
            continue
        nxt = body[i + 1:i + 3]
        if len(nxt) == 2 and all(ch in '0123456789abcdefABCDEF' for ch in nxt):
            out.append(int(nxt, 16))
            i += 3
        elif body[i + 1:i + 2] in SIMPLE_ESCAPES:
            out += SIMPLE_ESCAPES[body[i + 1]].encode()
            i += 2
        else:
            raise ValueError(f"bad escape {body[i:i + 3]!r} at offset {i}")
    return out.decode()


def objects(text):
    """Yields the last string attribute of each #gpu.object<...>."""
    for start in OBJECT.finditer(text):
        # Scan to the matching '>', skipping over strings.
        depth, i, last = 0, start.end() - 1, None
        while i < len(text):
            c = text[i]
            if c == '"':
                m = STRING.match(text, i)
                last = m.group(1)
                i = m.end()
                continue
            if c == '<':
                depth += 1
            elif c == '>':
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if last is not None:
            yield unescape(last)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", nargs="?", default="-")
    p.add_argument("-o", "--output", default="-")
    a = p.parse_args(argv)
    text = sys.stdin.read() if a.input == "-" else open(a.input).read()
    ptx = list(objects(text))
    if not ptx:
        sys.stderr.write("extract_ptx.py: no #gpu.object string in the "
                         "input\n")
        return 1
    out = sys.stdout if a.output == "-" else open(a.output, "w")
    for chunk in ptx:
        out.write(chunk)
        if not chunk.endswith("\n"):
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
