#!/usr/bin/python3
"""A lab for a class on threads vs an event loop (`make lab`).

Six short experiments, each run on both builds (build/bench-threads and
build/bench-loop, the same pattern code) and on the Python original
(scripts/asyncio_reference.py, when the interpreter has aiohttp), each
showing one lesson with this machine's own numbers: the figures, what the
model predicts, whether the prediction held, and the lesson in a
sentence. docs/lab.md has a run of it and questions to ask about each
experiment. asyncio runs with no connection limit unless an experiment
sets one, as the C builds do (aiohttp's own default is 100).

  sum       the sleep demo's seven ways: sequential ways take the sum of
            the waits, concurrent ways the longest one
  cost      N concurrent 200 ms requests: what a waiting request costs in
            threads, memory and CPU on each build
  limit     20 requests of 100 ms under a limit of 4 (a fixed pool of 4
            threads, 4 connections): the limit sets the time, not the
            runtime
  failure   one request fails among slow ones: gather raises at once and
            lets the others run, wait raises nothing, a task group cancels
            the siblings
  timeout   a server that never answers: a per-request timeout turns the
            hang into one counted failure
  cpu       the same four tasks computing instead of sleeping: one thread
            (the loop build, asyncio) takes the sum even with gather,
            threads overlap them on the cores

Experiments 2-5 share one plain-HTTP delay server (build/delay-server on a
free loopback port), stopped at exit.

Usage: scripts/lab.py [--build DIR] [--only LIST] [--quick] [--requests N]
                      [--keep DIR] [--python PY] [--no-asyncio]
Exit status: 0 when every run went as it should and every prediction
held, 1 otherwise (each run or prediction that did not is named), 2 on a
usage error.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

from delay_server import DelayServer, stop_on_sigterm  # scripts/delay_server.py
from targets import RunFailed, machine_now, run_status  # scripts/targets.py

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C_BACKENDS = ("threads", "loop")
ASYNCIO = os.path.join(REPO, "scripts", "asyncio_reference.py")
LOOP_NAMES = {"loop": "the loop build", "asyncio": "asyncio"}
EXPERIMENTS = ("sum", "cost", "limit", "failure", "timeout", "cpu")
NEEDS_SERVER = ("cost", "limit", "failure", "timeout")
WAYS = ("iterator", "sequential", "gather", "wait", "as_completed", "tasks", "taskgroup")
SEQUENTIAL_WAYS = ("iterator", "sequential")
SLEEP_DEMO_S = (0, 1, 2, 3)  # the sleep demo's four tasks (MISSION.md)
RUN_TIMEOUT_S = 120
WIDTH = 100  # output lines are wrapped to this many columns


def say(label, text):
    """One indented paragraph: label, then text wrapped under it."""
    print(textwrap.fill(text, WIDTH, initial_indent=f"   {label}",
                        subsequent_indent=" " * (3 + len(label))))


class Lab:
    """Runs the programs and keeps the tally of predictions."""

    def __init__(self, build, keep, python):
        self.build = build
        self.keep = keep
        self.python = python  # None: no asyncio column
        self.backends = C_BACKENDS + (("asyncio",) if python else ())
        self.runs = 0
        self.held = 0
        self.missed = []
        self.failed_runs = []

    def bench(self, backend, args, expect_status=0):
        """Runs bench-BACKEND (or the asyncio reference) --quiet
        --export-json; returns its records by pattern. A run whose exit
        status is not expect_status (1 where a request is meant to fail) or
        whose counts do not add up is a failed run."""
        self.runs += 1
        if backend == "asyncio":
            name, prog = "asyncio_reference.py", [self.python, ASYNCIO]
            if "--connections" not in args:  # aiohttp's default is 100; the C builds': none
                args = ["--connections", "0"] + args
        else:
            name, prog = f"bench-{backend}", [os.path.join(self.build, f"bench-{backend}")]
        with tempfile.TemporaryDirectory(prefix="tvl-lab-") as d:
            out = os.path.join(self.keep or d, f"{self.runs:02d}-{backend}.json")
            argv = prog + ["--quiet", "--export-json", out] + args
            try:  # 1 is a failed request: expected where a request must fail
                run_status(argv, ok_status=(expect_status,), timeout=RUN_TIMEOUT_S)
            except RunFailed as e:
                raise RunFailed(f"{name}: {e}" if backend == "asyncio" else str(e))
            try:
                with open(out) as f:
                    records = json.load(f)
                for r in records:
                    if r["ok"] + r["failed"] != r["n"] or len(r["requests"]) != r["n"]:
                        raise RunFailed(f"{name} {r['pattern']}: ok {r['ok']} + failed "
                                        f"{r['failed']} != n {r['n']}")
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise RunFailed(f"{name}: no readable records ({e})")
        return {r["pattern"]: r for r in records}

    def every(self):
        """How a prediction names the backends it was checked on."""
        return "both builds and asyncio" if self.python else "both builds"

    def predict(self, holds, what, why_not=""):
        """Prints one prediction and whether it held."""
        if holds:
            self.held += 1
            say("held: ", what)
        else:
            self.missed.append(what)
            say("did not hold: ", what + (f" ({why_not})" if why_not else ""))


def near(got, ideal, rel=0.1, abs_s=0.02):
    """Within a generous band of the ideal: this is a lesson, not a target."""
    return abs(got - ideal) <= abs_s + rel * ideal


def heading(n, title, setup):
    print(f"\n{n}. {title}")
    say("", setup)


def lesson(text):
    say("lesson: ", text)


# ---- 1. sum or max ---------------------------------------------------------------------

def exp_sum(lab, a, server):
    scale = a.scale
    waits = [t * scale for t in SLEEP_DEMO_S]
    heading(1, "Sum or max?",
            f"the sleep demo: four tasks sleeping {', '.join(f'{w:g}' for w in waits)} s "
            f"(--workload sleep --scale {scale:g}), the seven ways, on {lab.every()}")
    bs = lab.backends
    recs = {b: lab.bench(b, ["--workload", "sleep", "--scale", f"{scale:g}"]) for b in bs}
    print(f"   {'way':<14}{'ideal':>9}" + "".join(f"{b:>11}" for b in bs))
    for way in WAYS:
        ideal = sum(waits) if way in SEQUENTIAL_WAYS else max(waits)
        row = [recs[b][way]["wall_s"] for b in bs]
        print(f"   {way:<14}{ideal:>8.3f}s" + "".join(f"{w:>10.4f}s" for w in row))

    def off(ways, ideal):
        """The ways that missed their ideal, by how much."""
        return "; ".join(f"{b} {w}: {(recs[b][w]['wall_s'] - ideal) * 1e3:+.1f} ms"
                         for b in bs for w in ways if not near(recs[b][w]["wall_s"], ideal))

    concurrent = [w for w in WAYS if w not in SEQUENTIAL_WAYS]
    seq_off, con_off = off(SEQUENTIAL_WAYS, sum(waits)), off(concurrent, max(waits))
    lab.predict(not seq_off, f"the two sequential ways took the sum of the waits "
                             f"({sum(waits):g} s) on {lab.every()}", seq_off)
    lab.predict(not con_off, f"the five concurrent ways took the longest wait "
                             f"({max(waits):g} s) on {lab.every()}", con_off)
    lesson("async code is only concurrent where tasks are started before they are awaited; "
           "the iterator and the await-each-in-turn loop wait one task at a time, whatever "
           "the runtime underneath.")


# ---- 2. what a waiting request costs ---------------------------------------------------

def exp_cost(lab, a, server):
    n = a.requests
    url = f"{server.url}/delay/200"
    heading(2, "What does a waiting request cost?",
            f"gather over {n} concurrent requests of 200 ms (plain HTTP), and over 1 for the "
            f"baseline, on {lab.every()}")
    bs = lab.backends
    one = {b: lab.bench(b, ["--pattern", "gather", "-n", "1", url])["gather"] for b in bs}
    many = {b: lab.bench(b, ["--pattern", "gather", "-n", str(n), url])["gather"] for b in bs}
    per_kib = {b: (many[b]["max_rss_kib"] - one[b]["max_rss_kib"]) / (n - 1) for b in bs}
    cpu_us = {b: (many[b]["cpu_user_s"] + many[b]["cpu_sys_s"]) / n * 1e6 for b in bs}
    rows = (("wall", lambda b: f"{many[b]['wall_s']:.3f} s"),
            ("OS threads started", lambda b: f"{many[b]['threads_started']}"),
            ("most threads alive at once", lambda b: f"{many[b]['peak_threads']}"),
            ("peak memory (RSS)", lambda b: f"{many[b]['max_rss_kib'] / 1024:.1f} MiB"),
            ("memory a waiting request", lambda b: f"{per_kib[b]:.1f} KiB"),
            ("CPU a request", lambda b: f"{cpu_us[b]:.0f} us"))
    print(f"   {'':<28}" + "".join(f"{b:>12}" for b in bs))
    for label, fmt in rows:
        print(f"   {label:<28}" + "".join(f"{fmt(b):>12}" for b in bs))
    print(f"   (memory a waiting request: peak RSS above the 1-request run's, / {n - 1})")
    # Threads alive at the peak, not threads started: the pool's first
    # workers exist before the way and take the first requests.
    t = many["threads"]["peak_threads"]
    lab.predict(t >= 0.9 * n, f"the threads build had a thread for nearly every waiting request "
                              f"({t} alive at the peak for {n} requests)")
    one_thread = [b for b in bs if b != "threads"]
    lab.predict(all(many[b]["threads_started"] == 0 and many[b]["peak_threads"] == 1
                    for b in one_thread),
                f"{' and '.join(LOOP_NAMES[b] for b in one_thread)} ran them all on one thread",
                ", ".join(f"{b}: {many[b]['threads_started']} started, {many[b]['peak_threads']} "
                          "at most" for b in one_thread))
    lab.predict(0 < per_kib["loop"] < per_kib["threads"],
                f"a waiting request held less memory as a fiber ({per_kib['loop']:.1f} KiB) "
                f"than as a blocked thread ({per_kib['threads']:.1f} KiB)")
    lesson("beside its connection, a blocking wait parks a whole thread (a kernel task and "
           "its stack), an event loop a fiber (in asyncio, a coroutine); all finish in about the delay, the "
           "difference is what each waiting request holds and what starting it costs.")


# ---- 3. the limit, not the runtime -----------------------------------------------------

def exp_limit(lab, a, server):
    n, delay_s, width = 20, 0.1, 4
    url = f"{server.url}/delay/{delay_s * 1e3:.0f}"
    waves = -(-n // width)
    heading(3, "What sets the time: the runtime or the limit?",
            f"gather over {n} requests of {delay_s * 1e3:.0f} ms, with and without a limit "
            f"of {width}")
    cases = (("threads", "no limit", [], delay_s),
             ("threads", f"a fixed pool of {width} threads (--threads {width})",
              ["--threads", str(width)], waves * delay_s),
             ("threads", f"{width} connections (--connections {width})",
              ["--connections", str(width)], waves * delay_s),
             ("loop", "no limit", [], delay_s),
             ("loop", f"{width} connections (--connections {width})",
              ["--connections", str(width)], waves * delay_s),
             ("asyncio", "no limit (--connections 0)", [], delay_s),
             ("asyncio", f"{width} connections (aiohttp's limit={width})",
              ["--connections", str(width)], waves * delay_s))
    cases = [c for c in cases if c[0] in lab.backends]
    print(f"   {'runtime':<9}{'limit':<44}{'ideal':>8}{'wall':>10}")
    off = []
    for backend, label, extra, ideal in cases:
        r = lab.bench(backend, ["--pattern", "gather", "-n", str(n)] + extra + [url])["gather"]
        print(f"   {backend:<9}{label:<44}{ideal:>7.3f}s{r['wall_s']:>9.3f}s")
        if not near(r["wall_s"], ideal):
            off.append(f"{backend}, {label}: {r['wall_s']:.3f} s")
    lab.predict(not off, f"with no limit each runtime took one delay ({delay_s:g} s); with a "
                         f"limit of {width}, {waves} waves ({waves * delay_s:g} s), "
                         "whatever enforced it", "; ".join(off))
    lesson(f"{n} waits through {width} slots take ⌈{n}/{width}⌉ rounds of the delay; a pool of "
           f"{width} threads is a limit of {width} waits, like a semaphore or a connection "
           "limit in an event loop.")


# ---- 4. when one request fails ---------------------------------------------------------

def exp_failure(lab, a, server):
    u = server.url
    urls = [f"{u}/delay/300", f"{u}/delay/50/fault/reset", f"{u}/delay/400", f"{u}/status/500"]
    heading(4, "When one request fails",
            "4 requests: 300 ms; reset by the server after 50 ms; 400 ms; an immediate 500 "
            "(gather, wait, taskgroup)")
    print(f"   {'way':<11}{'runtime':<9}{'returned after':>15}{'ok':>4}{'failed':>8}"
          f"{'cancelled':>11}  raised")
    bs = lab.backends
    recs = {b: lab.bench(b, ["--pattern", "gather,wait,taskgroup"] + urls, expect_status=1)
            for b in bs}
    for way in ("gather", "wait", "taskgroup"):
        for b in bs:
            r = recs[b][way]
            cancelled = sum(1 for q in r["requests"] if q["error"] == "cancelled")
            print(f"   {way:<11}{b:<9}{r['wall_s']:>14.3f}s{r['ok']:>4}{r['failed']:>8}"
                  f"{cancelled:>11}  {r['error'] or '-'}")
    print("   (ok, failed, cancelled: requests; a cancelled request counts as failed)")

    def all_of(way, cond):
        return all(cond(recs[b][way]) for b in bs)

    def cancelled(r):
        return sum(1 for q in r["requests"] if q["error"] == "cancelled")

    lab.predict(all_of("gather", lambda r: r["wall_s"] < 0.05 and "status" in (r["error"] or "")
                       and r["ok"] == 2),
                "gather raised the first error (the 500) at once, and the two slow requests "
                "still finished")
    lab.predict(all_of("wait", lambda r: r["wall_s"] >= 0.39 and not r["error"]
                       and r["ok"] == 2 and r["failed"] == 2),
                "wait raised nothing: it returned when all four had ended, the failures "
                "inside the done set")
    lab.predict(all_of("taskgroup", lambda r: r["wall_s"] < 0.05 and r["error"]
                       and r["ok"] == 0 and cancelled(r) == 3),
                "the task group cancelled its three running children at the first failure")
    lesson("gather's first error does not stop the other tasks (they run on, unwatched); a "
           "task group does, and reports its children's own failures (cancelled ones are not "
           "failures); wait leaves the choice to you.")


# ---- 5. a server that never answers ----------------------------------------------------

def exp_timeout(lab, a, server):
    timeout_ms = 200
    urls = [f"{server.url}/fault/stall", f"{server.url}/delay/100"]
    heading(5, "A server that never answers",
            f"gather over /fault/stall (no answer, ever) and /delay/100, with --timeout-ms "
            f"{timeout_ms}")
    ok = True
    for b in lab.backends:
        r = lab.bench(b, ["--pattern", "gather", "--timeout-ms", str(timeout_ms)] + urls,
                      expect_status=1)["gather"]
        errs = [q["error"] for q in r["requests"] if q["error"]]
        say(f"{b:<9}", f"{r['wall_s']:.3f} s, {r['ok']} ok, {r['failed']} failed: "
                       f"{errs[0] if errs else '-'}")
        ok = ok and near(r["wall_s"], timeout_ms / 1e3) and r["ok"] == 1 and len(errs) == 1 \
            and errs[0].startswith("timed out")
    lab.predict(ok, f"the stalled request failed as timed out after {timeout_ms} ms on "
                    f"{lab.every()}, and the other one succeeded")
    lesson("without a timeout this way never ends (the server keeps the connection open until "
           "the client closes it); every wait on something outside the program needs a bound, and "
           "its expiry is an answer to count, not a hang.")


# ---- 6. what an event loop cannot overlap ----------------------------------------------

def exp_cpu(lab, a, server):
    scale = a.scale
    work = [t * scale for t in SLEEP_DEMO_S]
    cores = len(os.sched_getaffinity(0))
    heading(6, "What can an event loop not overlap?",
            f"the same four tasks computing for {', '.join(f'{w:g}' for w in work)} s of CPU "
            f"instead of sleeping (--workload cpu --scale {scale:g}), on {lab.every()}; this "
            f"process may use {cores} core(s)")
    bs = lab.backends
    ways = ("sequential", "gather", "taskgroup")
    recs = {b: lab.bench(b, ["--workload", "cpu", "--scale", f"{scale:g}",
                             "--pattern", ",".join(ways)]) for b in bs}
    print(f"   {'way':<14}{'sum':>9}" + "".join(f"{b:>11}" for b in bs))
    for way in ways:
        print(f"   {way:<14}{sum(work):>8.3f}s"
              + "".join(f"{recs[b][way]['wall_s']:>10.4f}s" for b in bs))
    one_thread = [b for b in bs if b != "threads"]
    off = "; ".join(f"{b} {w}: {recs[b][w]['wall_s']:.3f} s" for b in one_thread
                    for w in ways[1:] if not near(recs[b][w]["wall_s"], sum(work)))
    lab.predict(not off, f"on {' and '.join(LOOP_NAMES[b] for b in one_thread)} gather and the "
                         f"task group took the sum ({sum(work):g} s), as the sequential way "
                         "does", off)
    if cores >= 2:
        bound = 0.85 * sum(work)  # two cores could halve it; a busy machine eats some
        slow = "; ".join(f"{w}: {recs['threads'][w]['wall_s']:.3f} s" for w in ways[1:]
                         if recs["threads"][w]["wall_s"] > bound)
        lab.predict(not slow, f"the threads build overlapped them on {cores} cores: gather and "
                              f"the task group took under {bound:g} s", slow)
    else:
        print("   (one core: the threads build has nothing to overlap them on; no prediction)")
    lesson("an event loop overlaps waiting, not computing: a task that computes (or makes a "
           "blocking call) keeps the loop's one thread until it ends, and every other task "
           "waits. Threads run it on every core, in C; in CPython the GIL would serialise "
           "the threads too.")


RUNNERS = {"sum": exp_sum, "cost": exp_cost, "limit": exp_limit, "failure": exp_failure,
           "timeout": exp_timeout, "cpu": exp_cpu}


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    p = Parser(prog="lab.py", description="Six experiments on threads vs an event loop, "
               "measured on this machine with both builds (docs/lab.md).",
               epilog="Exit status: 0 when every run went as it should and every prediction "
               "held, 1 otherwise, 2 on a usage error.")
    p.add_argument("--build", default=os.path.join(REPO, "build"), metavar="DIR",
                   help="where the binaries are (default: build/)")
    p.add_argument("--only", default=",".join(EXPERIMENTS), metavar="LIST",
                   help=f"a comma-separated subset of {','.join(EXPERIMENTS)}")
    p.add_argument("--quick", action="store_true",
                   help="smaller: the sleep demo at --scale 0.05, 200 requests in 'cost'")
    p.add_argument("--requests", type=int, default=None, metavar="N",
                   help="requests in 'cost', 100..2000 (default 1000; --quick 200)")
    p.add_argument("--keep", metavar="DIR", help="keep every run's JSON records in DIR")
    p.add_argument("--python", default=sys.executable, metavar="PY",
                   help="the interpreter for the asyncio column (default: this one); it "
                   "needs aiohttp, else the column is left out")
    p.add_argument("--no-asyncio", action="store_true", help="leave the asyncio column out")
    a = p.parse_args(argv)
    a.groups = [g for g in a.only.split(",") if g]
    for g in a.groups:
        if g not in EXPERIMENTS:
            raise UsageError(f"unknown experiment {g} (choose from {','.join(EXPERIMENTS)})")
    if not a.groups:
        raise UsageError("--only names no experiment")
    if a.requests is None:
        a.requests = 200 if a.quick else 1000
    # At least 100, so that one request's memory shows above the noise; at
    # most 2,000, so that the threads build's pool stays under its ceiling.
    if not 100 <= a.requests <= 2000:
        raise UsageError(f"--requests {a.requests}: must be 100..2000")
    a.scale = 0.05 if a.quick else 0.1
    if a.keep:
        try:
            os.makedirs(a.keep, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--keep {a.keep}: {e.strerror}")
    return a


def has_aiohttp(python):
    """(python, None) if it can run the asyncio reference, else (None, why)."""
    try:
        p = subprocess.run([python, "-c", "import aiohttp"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"cannot run {python}: {getattr(e, 'strerror', None) or e}"
    if p.returncode != 0:
        return None, f"{python} cannot import aiohttp (Debian: apt-get install python3-aiohttp)"
    return python, None


def main(argv=None):
    stop_on_sigterm()
    try:
        a = parse_args(sys.argv[1:] if argv is None else argv)
        needs = ["bench-threads", "bench-loop"]
        if any(g in NEEDS_SERVER for g in a.groups):
            needs.append("delay-server")
        for prog in needs:
            if not os.access(os.path.join(a.build, prog), os.X_OK):
                raise UsageError(f"{a.build}/{prog} is missing: run make first")
    except UsageError as e:
        print(f"lab.py: {e} (try --help)", file=sys.stderr)
        return 2
    python, why_no_asyncio = None, "--no-asyncio"
    if not a.no_asyncio:
        python, why_no_asyncio = has_aiohttp(a.python)
    lab = Lab(a.build, a.keep, python)
    print("make lab: threads vs an event loop in six experiments, measured here")
    print("(build/bench-threads and build/bench-loop: the same pattern code, two runtimes; "
          + ("asyncio: scripts/asyncio_reference.py, the Python original)" if python else
             f"no asyncio column: {why_no_asyncio})"))
    # What the machine charges moves every figure here (RESULTS.md, section
    # 11): say it, as make targets does.
    if os.access(os.path.join(a.build, "thread-cost"), os.X_OK):
        m = machine_now(a.build)
        if m is not None:
            print(f"(the machine, {m['when_utc']} UTC: a system call {m['syscall_ns']:.0f} ns, "
                  f"the first touch of a page {m['page_fault_ns'] / 1e3:.1f} us, a thread "
                  f"created and joined {m['thread_create_join_ns'] / 1e3:.0f} us; "
                  "build/thread-cost)")
    server, no_server = None, None
    try:
        if any(g in NEEDS_SERVER for g in a.groups):
            try:
                server = DelayServer(os.path.join(a.build, "delay-server"), plain_http=True,
                                     scale=1.0)
            except RuntimeError as e:
                no_server = f"not run: {e}"
                print(f"\n{no_server}")
        for g in a.groups:
            if g in NEEDS_SERVER and server is None:
                lab.failed_runs.append(f"{g}: {no_server}")
                continue
            try:
                RUNNERS[g](lab, a, server)
            except RunFailed as e:
                lab.failed_runs.append(f"{g}: {e}")
                print(f"   run failed: {e}")
            except (KeyError, TypeError, ValueError, IndexError) as e:
                # A record without a way or a field the experiment reads
                # (another version's program, say): its run failed.
                msg = f"records without what the experiment reads: {type(e).__name__}: {e}"
                lab.failed_runs.append(f"{g}: {msg}")
                print(f"   run failed: {msg}")
    except KeyboardInterrupt:  # subprocess.run has killed the running program
        print("\nlab.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()
    total = lab.held + len(lab.missed)
    print(f"\n{lab.held} of {total} predictions held, in {lab.runs} runs"
          + (f"; {len(lab.failed_runs)} experiment(s) could not finish" if lab.failed_runs
             else ""))
    for m in lab.missed:
        print(f"  did not hold: {m}")
    for f in lab.failed_runs:
        print(f"  failed: {f}")
    return 0 if not lab.missed and not lab.failed_runs else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader left (| head): the server was stopped on the way out
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
