"""Compares the weights an artifact names with a `make_weights.py --list`."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                "utils"))
import inspect_artifact  # noqa: E402

header, _ = inspect_artifact.load(sys.argv[1])
values = {v["id"]: v for v in header["graph"]["values"]}
named = {}
for node in header["graph"]["nodes"]:
    if node["op"] == "weight":
        (name,) = node["attrs"]["names"]
        named[name] = "x".join(map(str, values[node["results"][0]]["shape"]))
with open(sys.argv[2]) as f:
    listed = dict(line.split() for line in f)
if named != listed:
    for name in sorted(set(named) | set(listed)):
        if named.get(name) != listed.get(name):
            print(f"mismatch {name}: step {named.get(name)}, "
                  f"checkpoint {listed.get(name)}")
    sys.exit(1)
print(f"{len(named)} tensors match")
