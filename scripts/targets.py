#!/usr/bin/python3
"""The issues' performance targets, measured in one run (`make targets`).

Each target is measured --rounds times (the demos at most 3) and judged on
the median; the table also says how many of the runs that succeeded met
the limit. The bursts and the throughput runs, the figures that move most
with the machine's phase, are interleaved: every round runs each program
once, in an order that turns and reverses from round to round, each
against a delay server of its own, with the bare clients the issues name
as references (bare threads, the bare libcurl multi client) in the same
rounds, so that a slow phase falls on all of them alike. The fiber switch,
the demos and server-bench (one process, its own rounds) run in turn.

Targets (issue: what, limit):
  3  server CPU per request, 10,000 concurrent /delay/200, fresh and
     kept-alive connections: <= 20 us each (build/server-bench)
  3  six emulated sites, time-to-first-byte error under the demo's load:
     <= 1 ms (build/server-bench, the --spin-us run)
  4  sleep demo at --scale 0.1 (threads): every way within 3 ms of its ideal
  4  HTTP demo at --scale 1 (threads): every concurrent way within 5 ms of
     the slowest site's latency
  4  5,000 concurrent 200 ms requests (threads, gather, plain HTTP, no
     connection limit): <= 0.8 s wall, <= 170 MiB max RSS
  5  the same burst on the loop build: <= 0.6 s, <= 95 MiB
  5  10,000 zero-delay requests over 100 connections (loop): >= 40,000/s
  5  fiber switch: <= 20 ns (build/fiber-bench)

Usage: scripts/targets.py [--build DIR] [--rounds N] [--only LIST]
                          [--json FILE] [--list]
Exit status: 0 when every target's median is met and no run failed (a
bare client's included), 1 otherwise, 2 on a usage error.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

from delay_server import DelayServer, stop_on_sigterm  # scripts/delay_server.py

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BURST_N, BURST_DELAY_MS = 5000, 200
THROUGHPUT_N, THROUGHPUT_CONNECTIONS = 10000, 100
SEQUENTIAL_WAYS = ("iterator", "sequential")
SLEEP_DEMO_S = (0, 1, 2, 3)  # the sleep demo's four tasks (MISSION.md)
SLEEP_SCALE = 0.1


class RunFailed(Exception):
    pass


def run_status(argv, ok_status=(0,), timeout=600):
    """Runs a program; returns its stdout and the last line of its stderr.
    An exit status outside ok_status is a failed run (the programs here
    exit 1 when a request failed)."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{os.path.basename(argv[0])} took over {timeout} s")
    except OSError as e:
        raise RunFailed(f"cannot run {argv[0]}: {e.strerror}")
    last = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
    if p.returncode not in ok_status:
        raise RunFailed(f"{os.path.basename(argv[0])} exited {p.returncode}: {last}")
    return p.stdout, last


def run(argv):
    """Runs a program that must exit 0; returns its stdout."""
    return run_status(argv)[0]


def bench_records(build, backend, args):
    """Runs build/bench-BACKEND with --export-json; returns its records,
    after checking that every request of every record succeeded."""
    with tempfile.TemporaryDirectory(prefix="tvl-targets-") as d:
        out = os.path.join(d, "run.json")
        run([os.path.join(build, f"bench-{backend}"), "--quiet", "--export-json", out] + args)
        with open(out) as f:
            records = json.load(f)
    for r in records:
        if r["failed"] != 0 or r["ok"] != r["n"]:
            raise RunFailed(f"bench-{backend} {r['pattern']}: {r['failed']} of {r['n']} failed")
    return records


def bare(build, program, args, n):
    """Runs a bare libcurl client (one JSON line on stdout)."""
    out = run([os.path.join(build, program)] + args)
    rec = json.loads(out.strip().splitlines()[-1])
    if rec.get("ok") != n:
        raise RunFailed(f"{program}: {rec.get('ok')} of {n} requests succeeded")
    return rec


def site_latencies(build):
    """The six sites' latencies in seconds, as the server's --help states
    them (one source of truth: src/server/route.c)."""
    text = run([os.path.join(build, "delay-server"), "--help"])
    sites = {m.group(1): int(m.group(2)) / 1000.0
             for m in re.finditer(r"\b([a-z0-9]+) (\d+) ms \d+ B", text)}
    if len(sites) != 6:
        raise RunFailed(f"delay-server --help lists {len(sites)} sites, not 6")
    return sites


# --- measurements: each returns {figure name: value} for one round --------

def parse_server_bench(out, rounds):
    """server-bench's per-round CPU figures (fresh, then kept-alive) and
    its judged six-site run (the one with --spin-us above 0). A round with
    a failed request, or a FAIL line, is a failed run, not a figure."""
    fresh, kept, section, ttfb = [], [], None, None
    judged = False
    for line in out.splitlines():
        if line.startswith("== "):
            section = (fresh if "fresh connection" in line else
                       kept if "kept-alive" in line else None)
            m = re.search(r"--spin-us (\d+)", line)
            judged = m is not None and int(m.group(1)) > 0
        if "FAIL:" in line:
            raise RunFailed(f"server-bench: {line.strip()}")
        m = re.search(r"round \d+: \d+ ok, (\d+) failed", line)
        if m and int(m.group(1)) > 0:
            raise RunFailed(f"server-bench: {line.strip()}")
        m = re.search(r"= ([0-9.]+) us/request", line)
        if m and section is not None:
            section.append(float(m.group(1)))
        m = re.search(r"worst median ([0-9.]+) ms, worst single ([0-9.]+) ms", line)
        if m and judged:
            ttfb = (float(m.group(1)), float(m.group(2)))
    if len(fresh) != rounds or len(kept) != rounds or ttfb is None:
        raise RunFailed("server-bench printed fewer figures than asked for")
    return {"fresh": fresh, "kept": kept, "ttfb_median_ms": ttfb[0], "ttfb_worst_ms": ttfb[1]}


def m_server(build, rounds):
    """One server-bench run of `rounds` rounds; its per-round figures.
    Its exit status 1 only says a target was missed: the table says so."""
    out, last = run_status([os.path.join(build, "server-bench"), "--rounds", str(rounds)],
                           ok_status=(0, 1))
    try:
        return parse_server_bench(out, rounds)
    except RunFailed as e:
        raise RunFailed(f"{e} ({last})")


def m_sleep_demo(build):
    """Worst distance of a sequential way from the sum of the sleeps, and
    of a concurrent way from the longest, in ms."""
    recs = bench_records(build, "threads", ["--workload", "sleep", "--scale", str(SLEEP_SCALE)])
    n_seq = sum(r["pattern"] in SEQUENTIAL_WAYS for r in recs)
    if n_seq != 2 or len(recs) != 7:
        raise RunFailed(f"the sleep demo ran {n_seq} sequential and {len(recs) - n_seq} "
                        "concurrent ways, not 2 and 5")
    worst = {"sequential_ms": 0.0, "concurrent_ms": 0.0}
    for r in recs:
        seq = r["pattern"] in SEQUENTIAL_WAYS
        ideal = SLEEP_SCALE * (sum(SLEEP_DEMO_S) if seq else max(SLEEP_DEMO_S))
        key = "sequential_ms" if seq else "concurrent_ms"
        worst[key] = max(worst[key], abs(r["wall_s"] - ideal) * 1e3)
    return worst


def m_http_demo(build, slowest_s):
    recs = bench_records(build, "threads", [])
    conc = [r["wall_s"] for r in recs if r["pattern"] not in SEQUENTIAL_WAYS]
    if len(conc) != 5:
        raise RunFailed(f"the HTTP demo ran {len(conc)} concurrent ways, not 5")
    return {"worst_ms": (max(conc) - slowest_s) * 1e3}


def with_server(build, fn):
    """Runs fn(url) against a delay server of its own (plain HTTP), as the
    benchmark binaries' embedded one is, so that every program meets the
    same server: a new one, not one still closing the thousands of
    connections a previous client left it when it exited."""
    try:
        server = DelayServer(os.path.join(build, "delay-server"), True, 1.0)
    except RuntimeError as e:
        raise RunFailed(str(e))
    try:
        return fn(server.url)
    finally:
        server.stop()


def m_burst(build, backend, url):
    r = bench_records(build, backend, ["--pattern", "gather", "-n", str(BURST_N),
                                       "--connections", "0", f"{url}/delay/{BURST_DELAY_MS}"])[0]
    return {"wall_s": r["wall_s"], "rss_mib": r["max_rss_kib"] / 1024.0}


def m_bare_burst(build, program, url):
    r = bare(build, program, [str(BURST_N), f"{url}/delay/{BURST_DELAY_MS}"], BURST_N)
    return {"wall_s": r["wall_s"], "rss_mib": r["max_rss_kib"] / 1024.0}


def m_throughput(build, url):
    r = bench_records(build, "loop", ["--pattern", "gather", "-n", str(THROUGHPUT_N),
                                      "--connections", str(THROUGHPUT_CONNECTIONS),
                                      f"{url}/delay/0"])[0]
    return {"per_s": THROUGHPUT_N / r["wall_s"]}


def m_bare_throughput(build, url):
    r = bare(build, "bare-multi",
             [str(THROUGHPUT_N), f"{url}/delay/0", str(THROUGHPUT_CONNECTIONS)], THROUGHPUT_N)
    return {"per_s": THROUGHPUT_N / r["wall_s"]}


def m_fiber(build):
    r = json.loads(run([os.path.join(build, "fiber-bench"), "--json", "--runs", "3"]))
    return {"switch_ns": r["switch_ns"]}


# --- the table --------------------------------------------------------------

class Target:
    """One limit on one figure; `values` gets one entry a round."""

    def __init__(self, group, key, issue, what, unit, limit, at_least=False, digits=2):
        self.group, self.key, self.issue, self.what, self.unit = group, key, issue, what, unit
        self.limit, self.at_least, self.digits = limit, at_least, digits
        self.values, self.reference, self.error = [], None, None

    def meets(self, v):
        return v >= self.limit if self.at_least else v <= self.limit

    def median(self):
        return statistics.median(self.values) if self.values else None

    def verdict(self):
        if self.error is not None or not self.values:
            return "failed"
        return "PASS" if self.meets(self.median()) else "missed"

    def record(self):
        return {"key": self.key, "issue": self.issue, "what": self.what, "unit": self.unit,
                "limit": self.limit, "at_least": self.at_least, "values": self.values,
                "median": self.median(), "verdict": self.verdict(),
                "reference": self.reference, "error": self.error}


def make_targets():
    T = Target
    return [
        T("server", "server_fresh", 3, "server CPU a request, 10,000 fresh connections",
          "us", 20),
        T("server", "server_kept", 3, "server CPU a request, 10,000 kept-alive connections",
          "us", 20),
        T("server", "sites_ttfb", 3, "six sites: worst median time-to-first-byte error",
          "ms", 1, digits=3),
        T("sleep", "sleep_seq", 4, "sleep demo x0.1, threads: sequential ways off the sum",
          "ms", 3),
        T("sleep", "sleep_conc", 4, "sleep demo x0.1, threads: concurrent ways off the max",
          "ms", 3),
        T("http", "http_demo", 4, "HTTP demo, threads: slowest concurrent way past 430 ms",
          "ms", 5),
        T("burst", "threads_wall", 4, "5,000 x 200 ms, threads: wall", "s", 0.8, digits=3),
        T("burst", "threads_rss", 4, "5,000 x 200 ms, threads: max RSS", "MiB", 170, digits=1),
        T("burst", "loop_wall", 5, "5,000 x 200 ms, loop: wall", "s", 0.6, digits=3),
        T("burst", "loop_rss", 5, "5,000 x 200 ms, loop: max RSS", "MiB", 95, digits=1),
        T("throughput", "loop_throughput", 5, "10,000 x 0 ms over 100 connections, loop",
          "req/s", 40000, at_least=True, digits=0),
        T("fiber", "fiber_switch", 5, "fiber switch", "ns", 20),
    ]


def fmt(v, digits):
    return "-" if v is None else f"{v:,.{digits}f}"


def print_table(targets):
    print(f"\n{'':2}{'target (issue)':58} {'limit':>12} {'median':>10} {'range':>21} "
          f"{'met':>5}  verdict")
    for t in targets:
        lim = ("≥ " if t.at_least else "≤ ") + fmt(t.limit, 0 if t.limit >= 1 else t.digits)
        rng = (f"{fmt(min(t.values), t.digits)}–{fmt(max(t.values), t.digits)}"
               if t.values else "-")
        met = f"{sum(t.meets(v) for v in t.values)}/{len(t.values)}"
        print(f"  {t.what + f' ({t.issue})':58} {lim + ' ' + t.unit:>12} "
              f"{fmt(t.median(), t.digits):>10} {rng:>21} {met:>5}  {t.verdict()}")
        if t.reference is not None:
            print(f"  {'':4}{t.reference}")
        if t.error is not None:
            print(f"  {'':4}run failed: {t.error}")


# --- main -------------------------------------------------------------------

GROUPS = ("server", "sleep", "http", "burst", "throughput", "fiber")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="targets.py", description="Measures the issues' performance targets in one run.")
    p.add_argument("--build", default=os.path.join(REPO, "build"),
                   help="directory of the built programs (default: build/)")
    p.add_argument("--rounds", type=int, default=5,
                   help="rounds of every measurement (default 5; the demos run 3 at most)")
    p.add_argument("--only", default=",".join(GROUPS),
                   help="comma-separated subset of " + ",".join(GROUPS))
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    p.add_argument("--list", action="store_true", help="print the targets and exit")
    a = p.parse_args(argv)
    groups = [g for g in a.only.split(",") if g]
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        p.error(f"--only: unknown group {', '.join(bad) or '(none)'}; "
                f"choose from {','.join(GROUPS)}")
    if not 1 <= a.rounds <= 100:
        p.error("--rounds: 1..100")
    a.groups = groups
    return a


def measure(a, targets):
    """Runs what a.groups ask for; returns the failed runs' messages."""
    by = {t.key: t for t in targets}
    build, rounds = a.build, a.rounds
    demo_rounds = min(rounds, 3)
    failures = []

    def attempt(keys, fn):
        """Runs one measurement; a failure marks its targets failed and is
        kept for the summary. Output that is not what the program should
        print (JSON that does not parse, a field or a file missing) is a
        failed run too, not a traceback."""
        try:
            return fn()
        except RunFailed as e:
            msg = str(e)
        except (ValueError, KeyError, IndexError, TypeError, OSError) as e:
            msg = f"unreadable output: {type(e).__name__}: {e}"
        for k in keys:
            by[k].error = msg
        failures.append(msg)
        print(f"  failed: {msg}", file=sys.stderr)
        return None

    if "fiber" in a.groups:
        print("fiber switch ...", file=sys.stderr)
        for _ in range(rounds):
            r = attempt(["fiber_switch"], lambda: m_fiber(build))
            if r:
                by["fiber_switch"].values.append(r["switch_ns"])

    if "server" in a.groups:
        print(f"server-bench, {rounds} rounds ...", file=sys.stderr)
        r = attempt(["server_fresh", "server_kept", "sites_ttfb"], lambda: m_server(build, rounds))
        if r:
            by["server_fresh"].values += r["fresh"]
            by["server_kept"].values += r["kept"]
            by["sites_ttfb"].values.append(r["ttfb_median_ms"])
            by["sites_ttfb"].reference = (f"worst single request: {r['ttfb_worst_ms']:.3f} ms "
                                          "(one server-bench run of 10 rounds)")

    if "sleep" in a.groups:
        print(f"sleep demo, {demo_rounds} rounds ...", file=sys.stderr)
        for _ in range(demo_rounds):
            r = attempt(["sleep_seq", "sleep_conc"], lambda: m_sleep_demo(build))
            if r:
                by["sleep_seq"].values.append(r["sequential_ms"])
                by["sleep_conc"].values.append(r["concurrent_ms"])

    if "http" in a.groups:
        slowest = attempt(["http_demo"], lambda: max(site_latencies(build).values()))
        if slowest is not None:
            by["http_demo"].what = (f"HTTP demo, threads: slowest concurrent way past "
                                    f"{slowest * 1e3:.0f} ms")
            print(f"HTTP demo, {demo_rounds} rounds ...", file=sys.stderr)
            for _ in range(demo_rounds):
                r = attempt(["http_demo"], lambda: m_http_demo(build, slowest))
                if r:
                    by["http_demo"].values.append(r["worst_ms"])

    if "burst" in a.groups or "throughput" in a.groups:
        refs = {"bare-threads": [], "bare-multi": [], "bare-multi-tp": []}
        # The targets a program's run gives figures for (none: a reference).
        slot_targets = {"threads": ["threads_wall", "threads_rss"],
                        "loop": ["loop_wall", "loop_rss"], "loop-tp": ["loop_throughput"]}
        for i in range(rounds):
            print(f"bursts and throughput, round {i + 1} of {rounds} ...", file=sys.stderr)
            slots = []
            if "burst" in a.groups:
                slots += [("threads", lambda url: m_burst(build, "threads", url)),
                          ("loop", lambda url: m_burst(build, "loop", url)),
                          ("bare-threads", lambda url: m_bare_burst(build, "bare-threads", url)),
                          ("bare-multi", lambda url: m_bare_burst(build, "bare-multi", url))]
            if "throughput" in a.groups:
                slots += [("loop-tp", lambda url: m_throughput(build, url)),
                          ("bare-multi-tp", lambda url: m_bare_throughput(build, url))]
            # The programs take turns going first, round by round, and every
            # other round runs them in reverse, so that none always follows
            # the same one.
            shift = i % len(slots)
            order = slots[shift:] + slots[:shift]
            if i % 2:
                order.reverse()
            for name, fn in order:
                r = attempt(slot_targets.get(name, []), lambda fn=fn: with_server(build, fn))
                if r is None:
                    continue
                if name in ("threads", "loop"):
                    by[f"{name}_wall"].values.append(r["wall_s"])
                    by[f"{name}_rss"].values.append(r["rss_mib"])
                elif name == "loop-tp":
                    by["loop_throughput"].values.append(r["per_s"])
                else:
                    refs[name].append(r)

        def ref(runs, field, unit, digits, name):
            vals = [r[field] for r in runs]
            if not vals:
                return None
            return (f"{name}, same rounds: median {statistics.median(vals):,.{digits}f} {unit} "
                    f"({min(vals):,.{digits}f}–{max(vals):,.{digits}f})")

        for key, args in (
                ("threads_wall", (refs["bare-threads"], "wall_s", "s", 3,
                                  "bare threads, one curl_easy_perform each")),
                ("threads_rss", (refs["bare-threads"], "rss_mib", "MiB", 1, "bare threads")),
                ("loop_wall", (refs["bare-multi"], "wall_s", "s", 3,
                               "bare libcurl multi_socket + epoll client")),
                ("loop_rss", (refs["bare-multi"], "rss_mib", "MiB", 1, "bare multi client")),
                ("loop_throughput", (refs["bare-multi-tp"], "per_s", "req/s", 0,
                                     "bare multi client"))):
            if key in by:
                by[key].reference = ref(*args)
    return failures


def machine_now(build):
    """What the machine charges right now (build/thread-cost), since the
    figures move with it: None if it cannot tell."""
    try:
        cost = json.loads(run([os.path.join(build, "thread-cost"), "--threads", "100"]))
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"when_utc": now.strftime("%Y-%m-%d %H:%M:%S"), "kernel": os.uname().release,
                "syscall_ns": cost["syscall_ns"], "page_fault_ns": cost["page_fault_ns"],
                "thread_create_join_ns": cost["create_join_ns"]}
    except (RunFailed, ValueError, KeyError) as e:
        print(f"  (thread-cost: {e})", file=sys.stderr)
        return None


def main(argv=None):
    stop_on_sigterm()
    a = parse_args(argv if argv is not None else sys.argv[1:])
    targets = [t for t in make_targets() if t.group in a.groups]
    if a.list:
        for t in targets:
            lim = ("≥ " if t.at_least else "≤ ") + f"{t.limit:g} {t.unit}"
            print(f"issue {t.issue}  {t.key:16} {lim:>14}  {t.what}")
        return 0
    needs = {"server": ("server-bench", "delay-server"), "sleep": ("bench-threads",),
             "http": ("bench-threads", "delay-server"),
             "burst": ("bench-threads", "bench-loop", "bare-threads", "bare-multi", "delay-server"),
             "throughput": ("bench-loop", "bare-multi", "delay-server"), "fiber": ("fiber-bench",)}
    for prog in sorted({p for g in a.groups for p in needs[g]}):
        if not os.access(os.path.join(a.build, prog), os.X_OK):
            print(f"targets.py: {a.build}/{prog} is missing: run make first", file=sys.stderr)
            return 2
    out = None
    if a.json:
        try:  # before minutes of runs, not after
            out = open(a.json, "w")
        except OSError as e:
            print(f"targets.py: cannot write {a.json}: {e.strerror}", file=sys.stderr)
            return 2
    have_cost = os.access(os.path.join(a.build, "thread-cost"), os.X_OK)
    machine = machine_now(a.build) if have_cost else None
    try:
        failures = measure(a, targets)
    except KeyboardInterrupt:  # subprocess.run killed the running program
        print("\ntargets.py: interrupted", file=sys.stderr)
        return 130
    print_table(targets)
    if machine is not None:
        m = machine
        print(f"\n  the machine before the runs ({m['when_utc']} UTC, Linux {m['kernel']}; "
              f"build/thread-cost): a system call {m['syscall_ns']:.0f} ns, the first touch "
              f"of a page {m['page_fault_ns'] / 1e3:.1f} us, a thread created and joined "
              f"{m['thread_create_join_ns'] / 1e3:.0f} us")
    if failures:
        print(f"\n  {len(failures)} run(s) failed (a failed reference run counts too):")
        for msg in failures:
            print(f"    {msg}")
    if out is not None:
        with out:
            json.dump({"rounds": a.rounds, "machine": machine,
                       "targets": [t.record() for t in targets],
                       "failed_runs": failures}, out, indent=1)
            out.write("\n")
    return 0 if not failures and all(t.verdict() == "PASS" for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
