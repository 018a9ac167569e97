#!/usr/bin/env python3
"""Extracts the PTX/cubin of a gpu.binary and the decode.launches of a module.

usage: extract.py BINARY.mlir OUT_PREFIX
Writes OUT_PREFIX.ptx or OUT_PREFIX.cubin (by the object's format) and
OUT_PREFIX.launches.json (per op with launches: its name, its `layer`
attribute, the value of the `layer` scalar, and the parsed `decode.launches`).
"""
import json
import re
import sys


def unescape(body: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c == '\\':
            nxt = body[i + 1]
            if nxt in '\\"':
                out.append(ord(nxt))
                i += 2
            elif nxt == 'n':
                out.append(10)
                i += 2
            elif nxt == 't':
                out.append(9)
                i += 2
            else:
                out.append(int(body[i + 1:i + 3], 16))
                i += 3
        else:
            out.extend(c.encode('utf-8'))
            i += 1
    return bytes(out)


def parse_launch(d):
    arr = lambda k: [int(x) for x in re.search(
        k + r' = array<i64: ([^>]*)>', d).group(1).split(',')]
    num = lambda k: int(re.search(k + r' = (-?\d+)', d).group(1))
    strs = lambda k: re.findall(r'"([^"]*)"', re.search(
        k + r' = \[([^\]]*)\]', d).group(1))
    return {'kernel': re.search(r'kernel = @\w+::@(\w+)', d).group(1),
            'max_tokens': num('max_tokens'), 'grid': arr('grid'),
            'grid_scale': strs('grid_scale'), 'block': arr('block'),
            'shared_bytes': num('shared_bytes'),
            'workspace_bytes': num('workspace_bytes'),
            'workspace_bytes_per_token': num('workspace_bytes_per_token'),
            'counter_words_per_token': (num('counter_words_per_token')
                                        if 'counter_words_per_token' in d
                                        else 0),
            'args': strs('args')}


def main():
    text = open(sys.argv[1]).read()
    prefix = sys.argv[2]
    m = re.search(r'gpu\.binary @\w+\s*\[#gpu\.object<#nvvm\.target<[^>]*>'
                  r"(?:, properties = \{[^}]*\})?, (bin|isa|assembly)\s*=\s*\""
                  r'((?:[^"\\]|\\.)*)"', text, re.S)
    if not m:
        m = re.search(r'gpu\.binary[^\[]*\[#gpu\.object<.*?"((?:[^"\\]|\\.)*)"',
                      text, re.S)
        data = unescape(m.group(1))
    else:
        data = unescape(m.group(2))
    is_ptx = data.lstrip().startswith(b'//') or b'.version' in data[:2000]
    path = prefix + ('.ptx' if is_ptx else '.cubin')
    open(path, 'wb').write(data)
    ops = []
    for m in re.finditer(r'decode\.launches = \[', text):
        depth, i = 1, m.end()
        while depth:
            depth += {'[': 1, ']': -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i - 1]
        # The op's name follows the attribute dictionary.
        tail = text[i:i + 400]
        name = re.search(r'^[^\n]*?\b(?:"?)(decode\.\w+)', text[
            text.rfind('\n', 0, m.start()) + 1:m.start()])
        # The rest of the op's attributes (the `layer` scalar's value).
        rest = text[i:text.find('\n', i)]
        layer = re.search(r'\blayer = (\d+) : i64', rest)
        ops.append({'op': name.group(1) if name else '?',
                    'layer': int(layer.group(1)) if layer else None,
                    'launches': [parse_launch(d) for d in
                                 re.findall(r'\{([^{}]*)\}', body)]})
    json.dump(ops, open(prefix + '.launches.json', 'w'), indent=1)
    print(path, len(data), 'bytes;', len(ops), 'ops with launches')


if __name__ == '__main__':
    main()
