#!/usr/bin/python3
"""Draws the figures of RESULTS.md from a results directory written by
scripts/bench.py (index.json and runs/*.json); runs nothing.

Every figure is written as PNG and SVG into results/figures/ (or --out),
titled with what it compares, axes labelled with units, and a footer with
the machine, kernel, libcurl and OpenSSL versions taken from the records.
Skipped and failed runs are absent from the curves; a point whose run
finished with failed requests is drawn hollow.

Usage: scripts/plot.py [--results DIR] [--out DIR]
Needs matplotlib (Debian: python3-matplotlib); run with /usr/bin/python3.
"""

import argparse
import gzip
import json
import math
import statistics
import os
import sys
from urllib.parse import urlsplit

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def open_json(path):
    """A run file, plain or gzipped (bench.py gzips the large ones)."""
    if path.endswith(".gz"):
        return gzip.open(path, "rt")
    return open(path)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WAYS = ("iterator", "sequential", "gather", "wait", "as_completed", "tasks", "taskgroup")
SEQUENTIAL = ("iterator", "sequential")
BACKENDS = ("threads", "loop", "asyncio")
BACKEND_COLOR = {"threads": "#1f77b4", "loop": "#d62728", "asyncio": "#2ca02c"}
BACKEND_NAME = {"threads": "threads build (pthread pool)",
                "loop": "loop build (epoll + fibers)", "asyncio": "Python asyncio + aiohttp"}
# The emulated sites' latencies (include/tvl/delay_server.h), for the ideal
# totals of the HTTP demo.
SITE_DELAY_MS = {"blog": 310, "securityheaders": 240, "hstspreload": 215, "isc2": 430,
                 "sans": 370, "scotthelme": 95}

VARIANT_STYLE = {  # sweep variants: label, colour, marker, line style
    "loop": ("loop build", "#d62728", "o", "-"),
    "threads-comp": ("threads build, compensating pool", "#1f77b4", "s", "-"),
    "threads-fixed2": ("threads build, fixed pool of 2", "#9ecae1", "v", "--"),
    "threads-fixed16": ("threads build, fixed pool of 16", "#6baed6", "^", "--"),
    "threads-fixed128": ("threads build, fixed pool of 128", "#3182bd", "D", "--"),
    "asyncio-c100": ("asyncio, 100 connections (aiohttp default)", "#2ca02c", "P", "-."),
    "asyncio-c0": ("asyncio, no connection limit", "#98df8a", "X", "-."),
}


# ---- loading --------------------------------------------------------------------

class Results:
    def __init__(self, root):
        self.root = root
        path = os.path.join(root, "index.json")
        try:
            with open(path) as f:
                self.index = json.load(f)
        except (OSError, ValueError) as e:
            raise SystemExit(f"plot.py: cannot read {path}: {e} (run `make bench` first)")
        self.runs = self.index.get("runs", [])
        self._cache = {}

    def records(self, run):
        rel = run.get("json")
        if not rel or run.get("phase") in ("pool", "cost", "baseline"):
            return None
        if rel not in self._cache:
            try:
                with open_json(os.path.join(self.root, rel)) as f:
                    data = json.load(f)
                self._cache[rel] = data if isinstance(data, list) else None
            except (OSError, ValueError):
                self._cache[rel] = None
        return self._cache[rel]

    def find(self, **kw):
        return [r for r in self.runs if all(r.get(k) == v for k, v in kw.items())]

    def footer(self):
        """Machine, kernel, libcurl and OpenSSL, from the records' env (the
        C builds' first, asyncio's for Python), the index as a fallback."""
        env_c = env_py = None
        for run in self.runs:
            recs = self.records(run) if run.get("status") in ("ok", "failed") else None
            if not recs:
                continue
            env = recs[0].get("env", {})
            if run.get("backend") == "asyncio":
                env_py = env_py or env
            else:
                env_c = env_c or env
            if env_c and env_py:
                break
        m = self.index.get("machine", {})
        base = env_c or env_py or {}
        parts = []
        machine = base.get("machine") or m.get("uname", {}).get("machine")
        cpus = base.get("cpus") or m.get("nproc")
        if machine:
            parts.append(f"{machine}, {cpus} CPUs" if cpus else machine)
        kernel = base.get("kernel") or m.get("uname", {}).get("release")
        if kernel:
            parts.append(f"Linux {kernel}")
        if env_c:
            parts.append(f"libcurl {env_c.get('libcurl')}")
            parts.append(f"{env_c.get('tls')}")
        elif m.get("libcurl"):
            parts.append(m["libcurl"])
        if env_py:
            parts.append(f"Python {env_py.get('python')}, aiohttp {env_py.get('aiohttp')}, "
                         f"{env_py.get('openssl') or env_py.get('tls')}")
        when = self.index.get("started")
        if when:
            parts.append(f"run {when[:10]}" + (" (QUICK)" if self.index.get("quick") else ""))
        return "  ·  ".join(str(p) for p in parts)


def save(fig, out, name, footer, written):
    fig.text(0.5, 0.005, footer, ha="center", va="bottom", fontsize=7, color="#555555")
    for ext in ("png", "svg"):
        path = os.path.join(out, f"{name}.{ext}")
        fig.savefig(path, dpi=110 if ext == "png" else None)
        written.append(path)
    plt.close(fig)


def ideal_totals(workload, records):
    """(sum, max) of the items' own delays, in seconds: the sequential ways
    cannot beat the sum, the concurrent ones the max."""
    rec = records[0]
    delays = []
    for r in rec["requests"]:
        if workload == "sleep":
            delays.append(r.get("delay_s") or 0.0)
            continue
        parts = urlsplit(r.get("url") or "").path.strip("/").split("/")
        d = None
        for k, v in zip(parts[::2], parts[1::2]):
            if k == "site" and v in SITE_DELAY_MS:
                d = SITE_DELAY_MS[v] / 1000 * (rec["config"].get("scale") or 1.0)
            elif k == "delay":
                try:
                    d = float(v) / 1000
                except ValueError:
                    d = None
        if d is None:
            return None
        delays.append(d)
    return (sum(delays), max(delays)) if delays else None


# ---- (a) the seven ways -----------------------------------------------------------

def plot_ways(res, out, footer, written):
    for workload in ("sleep", "http"):
        by_backend = {}
        for b in BACKENDS:
            runs = res.find(phase=f"demo-{workload}", backend=b)
            recs = res.records(runs[0]) if runs else None
            if recs:
                by_backend[b] = recs
        if not by_backend:
            continue
        fig, ax = plt.subplots(figsize=(11, 5.6))
        width = 0.8 / len(BACKENDS)
        any_failed = False
        for j, b in enumerate(BACKENDS):
            recs = by_backend.get(b)
            if not recs:
                continue
            xs, means, lo, hi, hatches = [], [], [], [], []
            for i, w in enumerate(WAYS):
                walls = [r["wall_s"] for r in recs if r["pattern"] == w]
                if not walls:
                    continue
                m = sum(walls) / len(walls)
                xs.append(i + (j - 1) * width)
                means.append(m)
                lo.append(m - min(walls))
                hi.append(max(walls) - m)
                failed = any(r["failed"] for r in recs if r["pattern"] == w)
                any_failed |= failed
                hatches.append("//" if failed else "")
            reps = max(r["repeat"] for r in recs) + 1
            bars = ax.bar(xs, means, width, color=BACKEND_COLOR[b],
                          label=BACKEND_NAME[b] + (f" (mean of {reps}, min–max)" if reps > 1
                                                   else ""),
                          yerr=[lo, hi] if reps > 1 else None, capsize=2)
            for bar, h in zip(bars, hatches):
                bar.set_hatch(h)
        ideal = ideal_totals(workload, next(iter(by_backend.values())))
        if ideal:
            for i, w in enumerate(WAYS):
                y = ideal[0] if w in SEQUENTIAL else ideal[1]
                ax.hlines(y, i - 0.45, i + 0.45, colors="black", linestyles="--", linewidth=1.2)
            ax.plot([], [], "k--", label=f"ideal: sum of delays ({ideal[0]:.2f} s) for the "
                                         f"sequential ways, max ({ideal[1]:.2f} s) for the others")
        ax.set_xticks(range(len(WAYS)))
        ax.set_xticklabels([w.replace("_", "_\u200b") for w in WAYS])
        ax.set_xlabel("way (pattern)")
        ax.set_ylabel("wall time of the way (s)")
        what = ("sleep demo: work(t) for t in 0, 1, 2, 3 s" if workload == "sleep"
                else "HTTP demo: six emulated sites over TLS")
        scale = next(iter(by_backend.values()))[0]["config"].get("scale")
        ax.set_title(f"The seven ways, threads vs event loop vs asyncio — {what}"
                     + (f", scale {scale:g}" if workload == "sleep" else ""))
        if any_failed:
            ax.bar([], [], color="white", edgecolor="black", hatch="//",
                   label="hatched: some requests failed")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        save(fig, out, f"ways-{workload}", footer, written)


# ---- (b)-(e) the sweep ----------------------------------------------------------------

def sweep_points(res, variant, pattern):
    """[(n, record, failed_requests)] of the runs that produced a record."""
    pts = []
    for run in res.find(phase="sweep", variant=variant, pattern=pattern):
        if run.get("status") not in ("ok", "failed"):
            continue
        recs = res.records(run)
        if not recs:
            continue
        pts.append((run["n"], recs[0], recs[0]["failed"] > 0 or run["status"] != "ok"))
    return sorted(pts, key=lambda p: p[0])


def plot_sweep_metric(res, out, footer, written, name, title, ylabel, value,
                      logy=True, ideal=None, waves=False):
    runs = res.find(phase="sweep")
    if not runs:
        return
    profile = res.index.get("profile", {})
    patterns = profile.get("sweep_patterns") or sorted({r["pattern"] for r in runs})
    variants = [v for v in VARIANT_STYLE if any(r["variant"] == v for r in runs)]
    delay_ms = profile.get("sweep_delay_ms", 200)
    fig, axes = plt.subplots(1, len(patterns), figsize=(6.2 * len(patterns), 5.4),
                             sharey=True, squeeze=False)
    any_hollow = False
    all_n = sorted({r["n"] for r in runs if r.get("n") and res.records(r)})
    for ax, pattern in zip(axes[0], patterns):
        missing = []
        for v in variants:
            label, color, marker, ls = VARIANT_STYLE[v]
            pts = sweep_points(res, v, pattern)
            # Points not run, by variant; QUICK's cut at N = 1000 is by
            # design and not listed.
            gone = [r for r in res.find(phase="sweep", variant=v, pattern=pattern)
                    if (r.get("status") == "skipped" and
                        not (r.get("reason") or "").startswith("QUICK"))
                    or (r.get("status") == "failed" and not res.records(r))]
            if gone and not pts:
                missing.append(f"{v}: not run ({gone[0].get('reason')})"[:70])
            elif gone:
                missing.append(f"{v}: N = " + ", ".join(
                    f"{r['n']}{' failed' if r['status'] == 'failed' else ''}" for r in gone))
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [value(p[1]) for p in pts]
            ax.plot(xs, ys, ls, color=color, label=label, linewidth=1.4)
            full = [(x, y) for x, y, p in zip(xs, ys, pts) if not p[2]]
            hollow = [(x, y) for x, y, p in zip(xs, ys, pts) if p[2]]
            for group, face in ((full, color), (hollow, "white")):
                if group:
                    ax.plot([g[0] for g in group], [g[1] for g in group], marker, color=color,
                            markerfacecolor=face, markersize=6, linestyle="")
            any_hollow |= bool(hollow)
            if waves and v.startswith("threads-fixed") and all_n:
                w = int(v[len("threads-fixed"):])
                ax.plot(all_n, [math.ceil(n / w) * delay_ms / 1000 for n in all_n], ":",
                        color=color, linewidth=1, alpha=0.8)
        if ideal is not None:
            ax.axhline(ideal, color="black", linestyle="--", linewidth=1.2,
                       label=f"ideal: the server delay, {ideal:g} s")
        if waves:
            ax.plot([], [], "k:", linewidth=1, label="waves of a fixed pool of W: ⌈N/W⌉ × delay")
        if missing:
            shown = missing if len(missing) <= 8 else missing[:7] + [f"... {len(missing) - 7} more"]
            ax.text(0.01, 0.99, "not run (reasons in results/index.json):\n" + "\n".join(shown),
                    transform=ax.transAxes, ha="left", va="top", fontsize=6, color="#444444",
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#cccccc"})
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        else:
            ax.set_yscale("symlog", linthresh=1)
            ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.set_xlabel("N, concurrent requests (log)")
        ax.set_title(f"pattern: {pattern}")
        ax.grid(True, which="both", alpha=0.25)
    axes[0][0].set_ylabel(ylabel)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if any_hollow:
        handles.append(plt.Line2D([], [], marker="o", color="grey", markerfacecolor="white",
                                  linestyle=""))
        labels.append("hollow: some requests failed")
    fig.suptitle(f"{title} — GET /delay/{delay_ms} on the loopback delay server (plain HTTP)")
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.03))
    fig.tight_layout(rect=(0, 0.22, 1, 0.96))
    save(fig, out, name, footer, written)


def plot_sweep(res, out, footer, written):
    delay = res.index.get("profile", {}).get("sweep_delay_ms", 200) / 1000
    plot_sweep_metric(res, out, footer, written, "sweep-wall",
                      "Wall time vs concurrency, per build and pool size",
                      "wall time of the way (s, log)", lambda r: r["wall_s"],
                      ideal=delay, waves=True)
    plot_sweep_metric(res, out, footer, written, "sweep-cpu",
                      "CPU time (user + sys) vs concurrency",
                      "CPU time, user + sys (s, log)",
                      lambda r: max(r["cpu_user_s"] + r["cpu_sys_s"], 1e-4))
    plot_sweep_metric(res, out, footer, written, "sweep-rss",
                      "Peak resident memory vs concurrency",
                      "max RSS during the way (MiB, log)", lambda r: r["max_rss_kib"] / 1024)
    plot_sweep_metric(res, out, footer, written, "sweep-threads",
                      "OS threads started vs concurrency",
                      "threads started during the way (symlog)", lambda r: r["threads_started"],
                      logy=False)


# ---- (f) timelines --------------------------------------------------------------------

def lanes_of(record):
    """Lane index per request: one per fiber where tasks are fibers (loop,
    asyncio), one per OS thread otherwise, numbered in order of first use."""
    use_fiber = any(r.get("fiber") is not None for r in record["requests"])
    order = sorted(record["requests"], key=lambda r: r["start_s"])
    lanes = {}
    for r in order:
        key = r.get("fiber") if use_fiber else r.get("thread")
        if key not in lanes:
            lanes[key] = len(lanes)
    out = [lanes.get(r.get("fiber") if use_fiber else r.get("thread")) for r in
           record["requests"]]
    return out, ("fiber (task)" if use_fiber else "OS thread"), len(lanes)


# An HTTP request's bar in three tones: connecting (TCP, TLS: light), waiting
# for the server (the backend's colour), reading the body (dark).
PHASE_NAMES = ("connecting", "waiting for the server", "reading the body")
CONNECTING_ALPHA = 0.35  # the backend's colour, this opaque


def phase_spans(r):
    """(from, to, phase index) for a request with sent_s and first_byte_s
    (runs made before they existed have neither: one span, phase 1)."""
    s, e = r["start_s"], r["end_s"]
    sent, first = r.get("sent_s"), r.get("first_byte_s")
    if sent is None or first is None:
        return [(s, e, 1)]
    return [(s, sent, 0), (sent, first, 1), (first, e, 2)]


def darker(color, f=0.55):
    rgb = to_rgb(color)
    return tuple(c * f for c in rgb)


def phase_legend(fig):
    """The three tones, in grey (each panel has its backend's colour)."""
    grey = "#707070"
    handles = [Patch(facecolor=grey, alpha=CONNECTING_ALPHA, label=PHASE_NAMES[0]),
               Patch(facecolor=grey, label=PHASE_NAMES[1]),
               Patch(facecolor=darker(grey), label=PHASE_NAMES[2])]
    fig.legend(handles=handles, fontsize=7, loc="upper right", ncol=3, frameon=False,
               bbox_to_anchor=(0.99, 0.955))


def has_phases(record):
    return any(r.get("sent_s") is not None for r in record["requests"])


def draw_gantt(ax, record, color, show_xlabel):
    lanes, kind, nlanes = lanes_of(record)
    started = [(r, lane) for r, lane in zip(record["requests"], lanes)
               if r["start_s"] > 0 or r["end_s"] > 0]  # never started: no bar
    if started:
        edge = 0.3 if len(started) < 500 else 0
        ax.barh([lane for _, lane in started],
                [max(r["end_s"] - r["start_s"], 1e-4) for r, _ in started],
                left=[r["start_s"] for r, _ in started], height=0.7,
                color=["#bbbbbb" if r.get("error") else color for r, _ in started],
                edgecolor="black", linewidth=edge)
        phased = [(r, lane) for r, lane in started
                  if not r.get("error") and r.get("sent_s") is not None
                  and r.get("first_byte_s") is not None]
        # Over the bar in the backend's colour: connecting lightened (white
        # laid over it), reading the body darkened.
        overlays = {0: ("white", 1.0 - CONNECTING_ALPHA), 2: (darker(color), 1.0)}
        for phase, (tone, alpha) in overlays.items():
            spans = [(a, b, lane) for r, lane in phased for a, b, k in phase_spans(r)
                     if k == phase and b > a]
            if spans:
                ax.barh([lane for _, _, lane in spans], [b - a for a, b, _ in spans],
                        left=[a for a, _, _ in spans], height=0.7, color=tone, alpha=alpha,
                        linewidth=0)

    ax.axvline(record["wall_s"], color="black", linewidth=0.8, linestyle=":")
    ax.set_ylim(-0.6, max(nlanes, 1) - 0.4)
    ax.invert_yaxis()
    ax.set_ylabel(f"{kind}\nlane", fontsize=7)
    ax.tick_params(axis="both", labelsize=7)
    if nlanes > 12:
        ax.set_yticks([])
    else:
        ax.set_yticks(range(nlanes))
    if show_xlabel:
        ax.set_xlabel("time since the way started (s)")
    return kind


def plot_gantt_demo(res, out, footer, written):
    for workload in ("sleep", "http"):
        for b in BACKENDS:
            runs = res.find(phase=f"demo-{workload}", backend=b)
            recs = res.records(runs[0]) if runs else None
            if not recs:
                continue
            first = {r["pattern"]: r for r in recs if r["repeat"] == 0}
            ways = [w for w in WAYS if w in first]
            fig, axes = plt.subplots(len(ways), 1, figsize=(10, 1.15 * len(ways) + 1.6),
                                     sharex=True, squeeze=False)
            kind = None
            for i, (ax, w) in enumerate(zip(axes[:, 0], ways)):
                kind = draw_gantt(ax, first[w], BACKEND_COLOR[b], i == len(ways) - 1)
                ax.set_title(f"{w}: {first[w]['wall_s']:.3f} s", fontsize=8, loc="left")
            what = "sleep demo" if workload == "sleep" else "HTTP demo"
            fig.suptitle(f"Per-request timeline of each way, {BACKEND_NAME[b]}, {what} "
                         f"(one lane per {kind}; dotted: the way's end)", fontsize=10)
            fig.tight_layout(rect=(0, 0.03, 1, 0.95))
            if any(has_phases(r) for r in first.values()):
                phase_legend(fig)
            save(fig, out, f"gantt-{workload}-{b}", footer, written)


def plot_gantt_connect(res, out, footer, written):
    """The first milliseconds of the HTTP demo's gather, one panel per
    backend: each way opens six new connections (a new session, as the
    original), and how their TCP and TLS set-up overlaps is most of what
    separates a concurrent way from the slowest site's latency."""
    rows = []
    for b in BACKENDS:
        runs = res.find(phase="demo-http", backend=b)
        recs = res.records(runs[0]) if runs else None
        recs = [r for r in recs or () if r["pattern"] == "gather"]
        # The last repeat: later ways resume TLS sessions, as a warm client does.
        rec = max(recs, key=lambda r: r["repeat"]) if recs else None
        if rec and has_phases(rec):
            rows.append((b, rec))
    if not rows:
        return
    sent = [q["sent_s"] for _, rec in rows for q in rec["requests"] if q.get("sent_s")]
    right = max(0.005, 1.25 * max(sent))
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.3 + 1.5 * len(rows)), sharex=True,
                             squeeze=False)
    for i, (ax, (b, rec)) in enumerate(zip(axes[:, 0], rows)):
        draw_gantt(ax, rec, BACKEND_COLOR[b], i == len(rows) - 1)
        ax.set_xlim(0, right)
        qs = [q["sent_s"] for q in rec["requests"] if q.get("sent_s") is not None]
        ax.set_title(f"{BACKEND_NAME[b]}, gather #{rec['repeat'] + 1} ({rec['wall_s']:.3f} s): "
                     f"requests sent {1e3 * min(qs):.1f} to {1e3 * max(qs):.1f} ms after the "
                     "way started", fontsize=8, loc="left")
    axes[-1, 0].xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{1e3 * x:g}"))
    axes[-1, 0].set_xlabel("time since the way started (ms)")
    fig.suptitle("The first milliseconds of gather in the HTTP demo: six new connections "
                 "(TCP, then TLS) before any request goes out", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.93))
    phase_legend(fig)
    save(fig, out, "gantt-http-connect", footer, written)


def plot_gantt_waves(res, out, footer, written):
    """A fixed pool of 2 from the sweep: blocking requests in waves of 2."""
    cands = []
    for run in res.find(phase="sweep", variant="threads-fixed2"):
        recs = res.records(run) if run.get("status") in ("ok", "failed") else None
        if recs and run["n"] and run["n"] >= 4:
            cands.append((abs(run["n"] - 10), run["pattern"] != "gather", run, recs[0]))
    if not cands:
        return
    _, _, run, rec = min(cands, key=lambda c: c[:2])
    comp = None
    for run2 in res.find(phase="sweep", variant="loop", pattern=run["pattern"], n=run["n"]):
        recs = res.records(run2)
        if recs:
            comp = recs[0]
    rows = [("threads build, fixed pool of 2", rec, BACKEND_COLOR["threads"])]
    if comp:
        rows.append(("loop build", comp, BACKEND_COLOR["loop"]))
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.6 + 1.7 * len(rows)), sharex=True,
                             squeeze=False)
    for i, (ax, (name, r, color)) in enumerate(zip(axes[:, 0], rows)):
        draw_gantt(ax, r, color, i == len(rows) - 1)
        ax.set_title(f"{name}: {r['wall_s']:.3f} s", fontsize=8, loc="left")
    delay = res.index.get("profile", {}).get("sweep_delay_ms", 200)
    fig.suptitle(f"Waves: N = {run['n']} requests of {delay} ms, pattern {run['pattern']}, "
                 "on 2 blocking workers" + (" vs one event loop" if comp else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    save(fig, out, "gantt-waves-fixed2", footer, written)


# ---- throughput -----------------------------------------------------------------------

def plot_throughput(res, out, footer, written):
    rows = []
    for b in BACKENDS:
        for run in res.find(phase="throughput", backend=b):
            recs = res.records(run) if run.get("status") in ("ok", "failed") else None
            if recs:
                rows.append((b, recs))
    if not rows:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.6))
    names = [b for b, _ in rows]
    colors = [BACKEND_COLOR[b] for b in names]

    def bars(ax, values):
        """One bar per backend at the median of its repeats, with the
        range of the repeats as an error bar."""
        mid = [statistics.median(v) for v in values]
        err = [[m - min(v) for m, v in zip(mid, values)], [max(v) - m for m, v in zip(mid, values)]]
        ax.bar(names, mid, color=colors, yerr=err, capsize=4, ecolor="black")

    bars(ax1, [[r["ok"] / r["wall_s"] if r["wall_s"] > 0 else 0 for r in recs] for _, recs in rows])
    ax1.set_ylabel("requests completed per second")
    ax1.set_title("throughput", fontsize=9)
    bars(ax2, [[(r["cpu_user_s"] + r["cpu_sys_s"]) / max(r["n"], 1) * 1e6 for r in recs]
               for _, recs in rows])
    ax2.set_ylabel("client CPU per request, user + sys (µs)")
    ax2.set_title("cost per request", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xlabel("backend")
        ax.grid(axis="y", alpha=0.3)
    n = rows[0][1][0]["n"]
    reps = max(len(recs) for _, recs in rows)
    what = f"median of {reps} runs, bars: their range" if reps > 1 else "one run"
    fig.suptitle(f"Throughput: {n} zero-delay GETs over 100 connections (gather), plain HTTP "
                 f"({what})", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    save(fig, out, "throughput", footer, written)


FIGURES = (plot_ways, plot_sweep, plot_gantt_demo, plot_gantt_connect, plot_gantt_waves,
           plot_throughput)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Draws the benchmark's figures from results/.")
    ap.add_argument("--results", default=os.path.join(REPO, "results"),
                    help="results directory with index.json (default results/)")
    ap.add_argument("--out", help="where the figures go (default RESULTS/figures)")
    a = ap.parse_args(argv)
    out = a.out or os.path.join(a.results, "figures")
    os.makedirs(out, exist_ok=True)
    res = Results(a.results)
    footer = res.footer()
    written = []
    for draw in FIGURES:
        draw(res, out, footer, written)
    print(f"plot: {len(written)} files in {os.path.relpath(out)}", file=sys.stderr)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
