#!/usr/bin/env python3
"""Writes the objects of the `gpu.binary` ops in an MLIR file (the output of
`infer-decode-to-cuda-pipeline`) to files, decoding MLIR's string escapes.

  extract-ptx.py in.mlir -o out.ptx          # the first object (PTX with format=isa)
  extract-ptx.py in.mlir -o out.cubin        # the same, raw bytes (format=bin)
  extract-ptx.py in.mlir --dir DIR           # every object, DIR/<binary>.<n>.<ext>
  extract-ptx.py - < in.mlir                 # the first object to stdout

`-` reads stdin. The extension of --dir files is `ptx` when the object is
text, else `cubin` (or `fatbin` for a fatbinary).
"""
import argparse
import os
import re
import sys

BINARY = re.compile(r'gpu\.binary\s+@([\w$.-]+)')
OBJECT = re.compile(r'#gpu\.object<')


def parse_string(text, pos):
    """Decodes the MLIR string literal starting at text[pos] == '"'."""
    assert text[pos] == '"'
    out = bytearray()
    i = pos + 1
    while True:
        c = text[i]
        if c == '"':
            return bytes(out), i + 1
        if c == '\\':
            nxt = text[i + 1]
            if nxt in '"\\':
                out += nxt.encode()
                i += 2
            elif nxt == 'n':
                out += b'\n'
                i += 2
            elif nxt == 't':
                out += b'\t'
                i += 2
            else:
                out.append(int(text[i + 1:i + 3], 16))
                i += 3
            continue
        out += c.encode('utf-8')
        i += 1


def objects(text):
    """Yields (binary name, index, bytes) for every object of every binary."""
    for match in BINARY.finditer(text):
        name = match.group(1)
        end = text.find('\n', match.end())
        segment = text[match.end():end if end >= 0 else len(text)]
        index = 0
        for obj in OBJECT.finditer(segment):
            # The payload is the last string of the object: skip the target
            # (which holds quoted chip names) by matching angle brackets.
            depth, i = 1, obj.end()
            last = None
            while depth:
                c = segment[i]
                if c == '"':
                    last, i = parse_string(segment, i)
                    continue
                if c == '<':
                    depth += 1
                elif c == '>':
                    depth -= 1
                i += 1
            yield name, index, last
            index += 1


def extension(data):
    if data.startswith(b'\x7fELF'):
        return 'cubin'
    if data[:4] == b'\x50\xed\x55\xba':
        return 'fatbin'
    return 'ptx'


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('input', help='MLIR file, or - for stdin')
    parser.add_argument('-o', '--output', help='file for the first object')
    parser.add_argument('--dir', help='write every object here')
    args = parser.parse_args()
    text = sys.stdin.read() if args.input == '-' else open(args.input).read()
    found = list(objects(text))
    if not found:
        sys.exit('extract-ptx: no gpu.binary object in ' + args.input)
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
        for name, index, data in found:
            path = os.path.join(args.dir, f'{name}.{index}.{extension(data)}')
            with open(path, 'wb') as f:
                f.write(data)
        return
    data = found[0][2]
    if args.output:
        with open(args.output, 'wb') as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)


if __name__ == '__main__':
    main()
