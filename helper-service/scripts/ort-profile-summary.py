#!/usr/bin/env python3
"""Summarises an ONNX Runtime profile (graph-check.js --profile): the last run's node time by operator
type and its slowest nodes. Run the check with CUDA_LAUNCH_BLOCKING=1 on CUDA, or node times are launch
times. Usage: python3 ort-profile-summary.py PROFILE.json [TOP]"""
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
for e in sorted(nodes, key=lambda e: -e["dur"])[:top]:
    print(f'  {e["dur"] / 1000:9.1f} ms  {e["args"]["op_name"]:16s} {e["name"][:-12]}  {e["args"].get("output_type_shape")}')
