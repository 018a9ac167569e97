#!/usr/bin/env python3
"""Inspects an infer artifact (.art): checks the container of docs/artifact.md
and summarizes its JSON header.

  inspect_artifact.py model.art            # summary
  inspect_artifact.py model.art --header   # the JSON header, pretty-printed
  inspect_artifact.py model.art --nodes    # one line per graph node
  inspect_artifact.py model.art --kernel NAME [--format ptx] -o out.ptx
"""
import argparse
import collections
import json
import signal
import struct
import sys

MAGIC = b"INFERART"
VERSION = 1
PREAMBLE = 24
ALIGN = 256


class ArtifactError(Exception):
    pass


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < PREAMBLE:
        raise ArtifactError(f"{path}: {len(data)} bytes, shorter than the "
                            f"{PREAMBLE}-byte preamble")
    if data[:8] != MAGIC:
        raise ArtifactError(f"{path}: bad magic {data[:8]!r}, expected "
                            f"{MAGIC!r}")
    version, reserved, length = struct.unpack_from("<IIQ", data, 8)
    if version != VERSION:
        raise ArtifactError(f"{path}: format version {version}, expected "
                            f"{VERSION}")
    if PREAMBLE + length > len(data):
        raise ArtifactError(f"{path}: header length {length} runs past the "
                            f"end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[PREAMBLE:PREAMBLE + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path}: header is not JSON: {e}")
    for kernel in header.get("kernels", []):
        for fmt, blob in blobs_of(kernel):
            offset, size = blob["offset"], blob["size"]
            if offset % ALIGN or offset < PREAMBLE + length or \
                    offset + size > len(data):
                raise ArtifactError(
                    f"{path}: kernels[{kernel.get('name')}].{fmt}: blob "
                    f"[{offset}, {offset + size}) is misaligned or outside "
                    f"the file")
    return header, data


def blobs_of(kernel):
    return [(k, v) for k, v in kernel.items()
            if isinstance(v, dict) and set(v) == {"offset", "size"}]


def summarize(header, data, out):
    model = header.get("model", {})
    graph = header.get("graph", {})
    nodes = graph.get("nodes", [])
    out.write(f"keys: {', '.join(sorted(header))}\n")
    out.write(f"model: {json.dumps(model, sort_keys=True)}\n")
    out.write(f"kv_cache: {json.dumps(header.get('kv_cache'), sort_keys=True)}"
              "\n")
    out.write(f"graph: role={graph.get('role')} values="
              f"{len(graph.get('values', []))} nodes={len(nodes)}\n")
    out.write(f"inputs: {json.dumps(graph.get('inputs'), sort_keys=True)}\n")
    out.write(f"outputs: {json.dumps(graph.get('outputs'), sort_keys=True)}\n")
    ops = collections.Counter(n["op"] for n in nodes)
    out.write("ops: " + ", ".join(f"{op}={n}" for op, n in sorted(ops.items()))
              + "\n")
    weights = [name for n in nodes if n["op"] == "weight"
               for name in n["attrs"]["names"]]
    out.write(f"weights: {len(weights)} tensors\n")
    launches = sum(1 for n in nodes if "launches" in n)
    kernels = header.get("kernels", [])
    out.write(f"kernels: {len(kernels)} (nodes with launches: {launches})\n")
    for k in kernels:
        blobs = ", ".join(f"{fmt} {b['size']} B @ {b['offset']}"
                          for fmt, b in blobs_of(k))
        out.write(f"  {k.get('name')} [{k.get('arch')}]: {blobs}\n")
    out.write(f"file: {len(data)} bytes\n")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("artifact")
    p.add_argument("--header", action="store_true",
                   help="print the JSON header")
    p.add_argument("--nodes", action="store_true",
                   help="print one line per graph node")
    p.add_argument("--kernel", help="extract the blob of this kernel entry")
    p.add_argument("--format", default="ptx", help="blob format to extract")
    p.add_argument("-o", dest="output", help="file for --kernel")
    args = p.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    try:
        header, data = load(args.artifact)
    except (OSError, ArtifactError) as e:
        sys.exit(f"inspect_artifact: error: {e}")
    if args.header:
        json.dump(header, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    elif args.nodes:
        for i, n in enumerate(header["graph"]["nodes"]):
            attrs = json.dumps(n.get("attrs", {}), sort_keys=True)
            roles = json.dumps(n.get("operand_roles", {}), sort_keys=True)
            print(f"{i}: {n['results']} = {n['op']} {n['operands']} "
                  f"attrs={attrs} roles={roles}")
    elif args.kernel:
        for k in header.get("kernels", []):
            blob = k.get(args.format)
            if k.get("name") == args.kernel and blob:
                chunk = data[blob["offset"]:blob["offset"] + blob["size"]]
                if args.output:
                    with open(args.output, "wb") as f:
                        f.write(chunk)
                else:
                    sys.stdout.buffer.write(chunk)
                return
        sys.exit(f"inspect_artifact: error: no kernel '{args.kernel}' with a "
                 f"'{args.format}' blob")
    else:
        summarize(header, data, sys.stdout)


if __name__ == "__main__":
    main()
