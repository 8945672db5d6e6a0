# SPDX-License-Identifier: MIT
"""bench/cluster_report.py: the Markdown table of bench/cluster.sh's runs
(JSON lines from loadgen): per scenario, the single node and the cluster,
medians of their runs (min-max), then issue 10's targets and whether each
holds.

Usage: python3 bench/cluster_report.py FILE.jsonl...
"""
import json
import statistics
import sys


def per_delivery_us(run, key):
    cpu = run.get(key, -1)
    return cpu / run["unique"] * 1e6 if cpu >= 0 and run["unique"] > 0 else None


def figures(run):
    n = run["clients"] * run["lines"]
    mem = [run.get("redis_mem_before", -1), run.get("redis_mem_setup", -1),
           run.get("redis_mem_after", -1)]
    node_us = per_delivery_us(run, "server_cpu_s")
    redis_us = per_delivery_us(run, "redis_cpu_s")
    return {
        "deliveries/s": run["deliveries_per_s"],
        "lost": int(run["lost"]),
        "p50 ms": run["lat_p50_ms"],
        "p99 ms": run["lat_p99_ms"],
        "cross-node p50 ms": run.get("xlat_p50_ms", -1),
        "cross-node p99 ms": run.get("xlat_p99_ms", -1),
        "setup p99 ms": run["setup_p99_ms"],
        "nodes CPU s": run["server_cpu_s"],
        "Redis CPU s": run.get("redis_cpu_s", -1),
        "nodes µs/delivery": node_us,
        "Redis µs/delivery": redis_us,
        "Redis B/client": (mem[1] - mem[0]) / run["clients"] if min(mem) >= 0 else None,
        # negative when the connections' buffers Redis freed outweigh the lines
        "Redis B/line": (mem[2] - mem[1]) / n if min(mem) >= 0 and n and mem[2] > mem[1] else None,
        "other load": run["other_cpu_s"] / run["window_s"] if run["window_s"] > 0 else None,
    }


def fmt(v):
    if v is None or v == -1:
        return "–"
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(values):
    values = [v for v in values if v is not None and v != -1]
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1 or min(values) == max(values):
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def main(paths):
    runs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            runs += [json.loads(line) for line in f if line.strip()]
    failed = [r for r in runs if not r["ok"]]
    runs = [r for r in runs if r["ok"]]
    scenarios = list(dict.fromkeys(r["scenario"] for r in runs))
    medians = {}
    for scen in scenarios:
        first = next(r for r in runs if r["scenario"] == scen)
        print(f"### {scen}: {first['clients']} clients in 1 room, {first['rate']:g} lines/s each, "
              f"{first['lines']} lines each (offered {first['offered_dps'] / 1000:.1f} k deliveries/s)\n")
        keys = list(figures(first).keys())
        print("| setup | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for label in ("single", "cluster"):
            mine = [figures(r) for r in runs if r["scenario"] == scen and r["server"] == label]
            if not mine:
                continue
            nodes = next(r["nodes"] for r in runs if r["scenario"] == scen and r["server"] == label)
            name = "1 node" if label == "single" else f"{nodes} nodes + Redis"
            print(f"| {name} ({len(mine)} runs) | "
                  + " | ".join(cell([m[k] for m in mine]) for k in keys) + " |")
            medians[(scen, label)] = {
                k: statistics.median([m[k] for m in mine if m[k] is not None] or [-1])
                for k in keys}
        print()
    print("### Issue 10 targets\n")
    print("| target | measured | holds |")
    print("|---|---|---|")
    lost = sum(r["lost"] for r in runs if r["server"] == "cluster")
    print(f"| no loss (cluster, every run) | {lost} lost | {'yes' if lost == 0 else 'NO'} |")
    light = medians.get(("light-c", "cluster"))
    if light:
        p99 = light["cross-node p99 ms"]
        print(f"| cross-node p99 < 10 ms at light load | {fmt(p99)} ms | "
              f"{'yes' if 0 <= p99 < 10 else 'NO'} |")
    single = medians.get(("wide-hot-c", "single"))
    cluster = medians.get(("wide-hot-c", "cluster"))
    if single and cluster and single["nodes µs/delivery"] > 0:
        ratio = cluster["nodes µs/delivery"] / single["nodes µs/delivery"]
        with_redis = (cluster["nodes µs/delivery"] + max(cluster["Redis µs/delivery"], 0)) \
            / single["nodes µs/delivery"]
        print(f"| a cluster node's CPU per delivery < 1.5x a single node's at wide-hot | "
              f"{ratio:.2f}x ({fmt(cluster['nodes µs/delivery'])} vs "
              f"{fmt(single['nodes µs/delivery'])} µs; with Redis {with_redis:.2f}x) | "
              f"{'yes' if ratio < 1.5 else 'NO'} |")
    if failed:
        print(f"\n{len(failed)} run(s) failed their setup: "
              + "; ".join(f"{r['server']} {r['scenario']}: {r['error']}" for r in failed))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: cluster_report.py FILE.jsonl...")
    main(sys.argv[1:])
