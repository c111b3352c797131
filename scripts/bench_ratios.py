#!/usr/bin/env python3
"""Prints the criterion results of one `cargo bench` run as packets/s and ratios.

Usage: python3 scripts/bench_ratios.py [TARGET_DIR]   (default: target)
Reads TARGET_DIR/criterion/<group>/<function>/new/estimates.json (median time per packet).
For each group the ratios are to the group's limit (ring-seal, from the protect group of the
same cipher) and to the faster of the two webrtc-rs references in that group.
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target") / "criterion"
results = {}
for est in sorted(root.glob("*/*/new/estimates.json")):
    fn_dir = est.parent.parent
    group_dir = fn_dir.parent
    # criterion stores "protect_1200/gcm128" as "protect_1200_gcm128"
    meta = json.loads((est.parent / "benchmark.json").read_text())
    group, fn = meta["group_id"], meta["function_id"]
    ns = json.loads(est.read_text())["median"]["point_estimate"]
    results.setdefault(group, {})[fn] = ns

if not results:
    sys.exit(f"no criterion results under {root}; run `cargo bench --bench srtp` first")

limit = {}
for group, fns in results.items():
    if "ring-seal" in fns:
        limit[group.split("/")[-1]] = fns["ring-seal"]

for group in sorted(results):
    fns = results[group]
    cipher = group.split("/")[-1]
    refs = [fns[r] for r in ("rtc-srtp", "webrtc-srtp") if r in fns]
    fastest_ref = min(refs) if refs else None
    print(f"\n{group}")
    print(f"  {'implementation':<14} {'M packets/s':>11} {'vs ring seal':>13} {'vs faster ref':>14}")
    for fn, ns in sorted(fns.items(), key=lambda kv: kv[1]):
        mpps = 1e3 / ns
        vs_limit = f"{limit[cipher] / ns:.2f}x" if cipher in limit else "-"
        vs_ref = f"{fastest_ref / ns:.2f}x" if fastest_ref else "-"
        print(f"  {fn:<14} {mpps:>11.2f} {vs_limit:>13} {vs_ref:>14}")
