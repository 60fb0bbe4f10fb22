#!/usr/bin/python3
"""Puts two `make bench` results side by side: the same headline figures
from each, and their ratio.

    compare_runs.py A B [--all] [--label-a NAME] [--label-b NAME]

A and B are results directories (their index.json and run files). The
usual use: the same code on two machines, or one machine in two states, to
see which figures follow the machine and by how much. The table starts with
what the machine charged in each run (build/thread-cost and fiber-bench,
measured by the sweep itself), then the demos, the bursts, the sweep's
larger points and the throughput runs. A figure missing from either run (a
skipped or failed point, a --quick sweep) is left out and counted at the end.

Prints a Markdown table on stdout; exits 0, 1 if a directory cannot be read,
2 on a usage error. Standard library only.
"""

import argparse
import gzip
import json
import os
import statistics
import sys

SEQUENTIAL = ("iterator", "sequential")
# The sleep demo's four tasks and the HTTP demo's six sites, unscaled
# (src/patterns/work.c and src/server/body.c).
SLEEP_TASKS_S = (0.0, 1.0, 2.0, 3.0)
SITE_LATENCY_S = (0.310, 0.240, 0.215, 0.430, 0.370, 0.095)
BACKENDS = ("threads", "loop", "asyncio")
# Sweep points shown without --all.
SWEEP_N = (1000, 5000, 10000)


class Unreadable(Exception):
    pass


def load_json(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt") as f:
                return json.load(f)
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError, EOFError) as e:
        raise Unreadable(f"{path}: {e}") from e


class Results:
    """One results directory: its index and the run files it lists, read
    when first asked for."""

    def __init__(self, path):
        self.path = path
        self.index = load_json(os.path.join(path, "index.json"))
        if not isinstance(self.index, dict) or not isinstance(self.index.get("runs"), list):
            raise Unreadable(f"{path}/index.json: not a results index (no runs list)")
        self.runs = {r.get("id"): r for r in self.index["runs"] if isinstance(r, dict)}
        self.cache = {}

    def data(self, run_id):
        """The run file of a run that succeeded, or None."""
        r = self.runs.get(run_id)
        if r is None or r.get("status") != "ok" or not r.get("json"):
            return None
        if run_id not in self.cache:
            self.cache[run_id] = load_json(os.path.join(self.path, r["json"]))
        return self.cache[run_id]

    def params(self, run_id):
        return (self.runs.get(run_id) or {}).get("params") or {}

    def kernel(self):
        return ((self.index.get("machine") or {}).get("uname") or {}).get("release", "?")


# ---- figures: each takes a Results and returns a number or None ------------

def cost(key, scale=1.0, run_id="thread-cost"):
    def get(res):
        d = res.data(run_id)
        if not isinstance(d, dict) or not isinstance(d.get(key), (int, float)):
            return None
        return d[key] * scale
    return get


def ways(res, run_id):
    d = res.data(run_id)
    return d if isinstance(d, list) else None


def demo_off(run_id, concurrent, worst, reference):
    """Milliseconds by which the concurrent (or sequential) ways exceeded
    reference(scale): the worst one, or the median."""
    def get(res):
        recs = ways(res, run_id)
        if not recs:
            return None
        scale = res.params(run_id).get("scale", 1.0)
        offs = [(w["wall_s"] - reference(scale)) * 1e3 for w in recs
                if (w.get("pattern") not in SEQUENTIAL) == concurrent and "wall_s" in w]
        if not offs:
            return None
        return max(offs) if worst else statistics.median(offs)
    return get


def demo_cpu_ms(run_id):
    """Median CPU (user + system) of a concurrent way, in ms: what the six
    fetches cost the client, the connections included."""
    def get(res):
        recs = ways(res, run_id)
        if not recs:
            return None
        cpu = [(w["cpu_user_s"] + w["cpu_sys_s"]) * 1e3 for w in recs
               if w.get("pattern") not in SEQUENTIAL and "cpu_user_s" in w]
        return statistics.median(cpu) if cpu else None
    return get


def record_of(res, run_id):
    """A run's one summary record: the object a baseline prints, or the
    median-wall record of a bench program's array."""
    d = res.data(run_id)
    if isinstance(d, dict):
        return d
    if isinstance(d, list) and d and all("wall_s" in w for w in d):
        return sorted(d, key=lambda w: w["wall_s"])[(len(d) - 1) // 2]
    return None


def field(run_id, key, scale=1.0):
    def get(res):
        rec = record_of(res, run_id)
        v = rec.get(key) if rec else None
        return v * scale if isinstance(v, (int, float)) else None
    return get


def cpu_us_per_request(run_id):
    def get(res):
        rec = record_of(res, run_id)
        if not rec or not rec.get("n"):
            return None
        return (rec["cpu_user_s"] + rec["cpu_sys_s"]) / rec["n"] * 1e6
    return get


def requests_per_s(run_id):
    def get(res):
        rec = record_of(res, run_id)
        if not rec:
            return None
        if isinstance(rec.get("requests_per_s"), (int, float)):
            return rec["requests_per_s"]
        return rec["n"] / rec["wall_s"] if rec.get("wall_s") else None
    return get


def sleep_max(scale):
    return max(SLEEP_TASKS_S) * scale


def sleep_sum(scale):
    return sum(SLEEP_TASKS_S) * scale


def site_max(scale):
    return max(SITE_LATENCY_S) * scale


def site_sum(scale):
    return sum(SITE_LATENCY_S) * scale


# ---- the table ---------------------------------------------------------------

def rows(a, b, show_all):
    """(section, figure, unit, getter, decimals) for every row worth
    printing; sweep rows are taken from the points both runs have."""
    out = [
        ("machine", "a system call", "ns", cost("syscall_ns"), 0),
        ("machine", "first touch of a page", "ns", cost("page_fault_ns"), 0),
        ("machine", "a thread created and joined", "us", cost("create_join_ns", 1e-3), 1),
        ("machine", "a context switch (two threads)", "ns", cost("context_switch_ns"), 0),
        ("machine", "a fiber switch", "ns", cost("switch_ns", run_id="fiber-cost"), 1),
    ]
    for be in BACKENDS:
        rid = f"demo-sleep-{be}"
        out.append(("sleep demo", f"{be}: worst concurrent way off the longest task", "ms",
                    demo_off(rid, True, True, sleep_max), 2))
        out.append(("sleep demo", f"{be}: worst sequential way off the sum", "ms",
                    demo_off(rid, False, True, sleep_sum), 2))
    for be in BACKENDS:
        rid = f"demo-http-{be}"
        out.append(("HTTP demo", f"{be}: slowest concurrent way past the slowest site", "ms",
                    demo_off(rid, True, True, site_max), 2))
        out.append(("HTTP demo", f"{be}: median concurrent way past the slowest site", "ms",
                    demo_off(rid, True, False, site_max), 2))
        out.append(("HTTP demo", f"{be}: CPU of a concurrent way", "ms", demo_cpu_ms(rid), 2))
    for rid, who in (("baseline-bare-threads-n5000", "bare threads"),
                     ("baseline-bare-multi-n5000", "bare multi")):
        out.append(("5,000 x 200 ms", f"{who}: wall", "s", field(rid, "wall_s"), 3))
        out.append(("5,000 x 200 ms", f"{who}: CPU a request", "us", cpu_us_per_request(rid), 1))
        out.append(("5,000 x 200 ms", f"{who}: max RSS", "MiB", field(rid, "max_rss_kib", 1 / 1024), 1))
    sweep = sorted({(r.get("variant"), r.get("pattern"), r.get("n")) for r in a.index["runs"]
                    if r.get("phase") == "sweep"} &
                   {(r.get("variant"), r.get("pattern"), r.get("n")) for r in b.index["runs"]
                    if r.get("phase") == "sweep"}, key=lambda t: (t[2] or 0, str(t[0]), str(t[1])))
    for variant, pattern, n in sweep:
        if not show_all and (pattern != "gather" or n not in SWEEP_N):
            continue
        rid = f"sweep-{variant}-{pattern}-n{n}"
        what = f"{variant} {pattern} n={n}"
        out.append(("sweep, 200 ms", f"{what}: wall", "s", field(rid, "wall_s"), 3))
        out.append(("sweep, 200 ms", f"{what}: CPU a request", "us", cpu_us_per_request(rid), 1))
        out.append(("sweep, 200 ms", f"{what}: max RSS", "MiB", field(rid, "max_rss_kib", 1 / 1024), 1))
    for be in BACKENDS:
        rid = f"throughput-{be}"
        out.append(("throughput, 0 ms", f"{be}: requests a second (median run)", "/s", requests_per_s(rid), 0))
        out.append(("throughput, 0 ms", f"{be}: CPU a request", "us", cpu_us_per_request(rid), 1))
    out.append(("throughput, 0 ms", "bare multi: requests a second", "/s",
                requests_per_s("baseline-bare-multi-throughput"), 0))
    out.append(("pool", "fib(30), tvl pool", "ms", field("pool-bench", "fib_s", 1e3), 2))
    out.append(("pool", "1,000,000 empty tasks, tvl pool", "ms", field("pool-bench", "empty_s", 1e3), 2))
    out.append(("pool", "1,000,000 empty tasks, libgomp", "ms", field("pool-bench", "omp_empty_s", 1e3), 2))
    return out


def fmt(v, decimals):
    return f"{v:,.{decimals}f}"


def table(a, b, la, lb, show_all):
    lines = [f"| figure | {la} | {lb} | {lb} / {la} |", "|---|---:|---:|---:|"]
    lines.append(f"| kernel | {a.kernel()} | {b.kernel()} | |")
    missing = 0
    section = None
    for sec, name, unit, get, dec in rows(a, b, show_all):
        try:
            va, vb = get(a), get(b)
        except (KeyError, TypeError, ZeroDivisionError):
            va = vb = None
        if va is None or vb is None:
            missing += 1
            continue
        if sec != section:
            lines.append(f"| **{sec}** | | | |")
            section = sec
        ratio = f"{vb / va:.2f}" if va > 0 and vb >= 0 else ""
        lines.append(f"| {name} ({unit}) | {fmt(va, dec)} | {fmt(vb, dec)} | {ratio} |")
    return lines, missing


def main(argv):
    ap = argparse.ArgumentParser(
        description="Two make bench results side by side: headline figures and their ratio.")
    ap.add_argument("a", help="the first results directory (the reference)")
    ap.add_argument("b", help="the second results directory")
    ap.add_argument("--all", action="store_true", help="every sweep point both runs have")
    ap.add_argument("--label-a", help="column name for A (default: its directory)")
    ap.add_argument("--label-b", help="column name for B (default: its directory)")
    args = ap.parse_args(argv)
    for d in (args.a, args.b):
        if not os.path.isdir(d):
            print(f"compare_runs.py: {d}: not a directory", file=sys.stderr)
            return 2
    try:
        a, b = Results(args.a), Results(args.b)
        la = args.label_a or os.path.basename(os.path.normpath(args.a))
        lb = args.label_b or os.path.basename(os.path.normpath(args.b))
        if la == lb:
            la, lb = f"A ({la})", f"B ({lb})"
        lines, missing = table(a, b, la, lb, args.all)
    except Unreadable as e:
        print(f"compare_runs.py: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    if missing:
        print(f"\n{missing} figure(s) missing from one run or both (skipped, failed or not run), left out.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
