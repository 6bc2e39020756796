#!/usr/bin/env python3
"""Summarises an ONNX Runtime profile (graph-check.js --profile): the last run's node time by operator
type, by output size, and its slowest nodes. With CUDA_LAUNCH_BLOCKING=1 on CUDA node times are GPU
times; without it they are the host's time to launch each node. Usage: python3 ort-profile-summary.py PROFILE.json [TOP]"""
import collections
import json
import sys

events = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
last = runs[-1]
nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= last["ts"]]
by_op, count = collections.Counter(), collections.Counter()
for e in nodes:
    by_op[e["args"]["op_name"]] += e["dur"]
    count[e["args"]["op_name"]] += 1
print("runs (ms):", [round(e["dur"] / 1000) for e in runs])
print(f"last run: {sum(by_op.values()) / 1000:.0f} ms in {len(nodes)} nodes")
for op, us in by_op.most_common(top):
    print(f"  {op:24s} {us / 1000:9.1f} ms  {count[op]:5d} nodes")


def output_bytes(e) -> int:
    width = {"float16": 2, "float": 4, "int64": 8, "bool": 1}
    total = 0
    for out in e["args"].get("output_type_shape", []):
        for dtype, shape in out.items():
            n = 1
            for d in shape:
                n *= d
            total += n * width.get(dtype, 4)
    return total


# Launch cost shows as many small nodes whose time does not shrink with their output.
bounds = [(0, 1 << 20, "< 1 MB"), (1 << 20, 16 << 20, "1-16 MB"), (16 << 20, 256 << 20, "16-256 MB"), (256 << 20, 1 << 62, ">= 256 MB")]
for low, high, label in bounds:
    hits = [e for e in nodes if low <= output_bytes(e) < high]
    us = sum(e["dur"] for e in hits)
    print(f"  outputs {label:10s} {us / 1000:9.1f} ms  {len(hits):5d} nodes  {us / max(len(hits), 1):6.1f} us each")
for e in sorted(nodes, key=lambda e: -e["dur"])[:top]:
    print(f'  {e["dur"] / 1000:9.1f} ms  {e["args"]["op_name"]:16s} {e["name"][:-12]}  {e["args"].get("output_type_shape")}')
