#!/usr/bin/python3
"""The benchmark sweep behind `make bench`: runs the two demos, a scaling
sweep, a throughput run and the pool micro benchmark, each as a process of
its own writing JSON into results/, and a manifest (results/index.json) of
every run, skipped point and the machine. Builds nothing: make does.

Every step's time is estimated before anything runs, the plan is cut to fit
a time budget, and a running total is kept; a step that fails is recorded
with its exit status and the tail of its stderr, and the sweep goes on.

The layout of results/ is described in results/README.md, the records in
docs/json-schema.md.

Usage: scripts/bench.py [--quick] [--dry-run] [--results DIR] [--build DIR]
"""

import argparse
import datetime
import gzip
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

from delay_server import DelayServer, stop_on_sigterm  # scripts/delay_server.py

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The sweep: concurrency against a server that answers after SWEEP_DELAY_MS.
SWEEP_DELAY_MS = 200
SWEEP_PATTERNS = ("gather", "taskgroup")
SWEEP_N = (1, 10, 100, 1000, 5000, 10000)
FIXED_POOLS = (2, 16, 128)
# The compensating pool's ceiling (TVL_POOL_DEFAULT_MAX_THREADS), lowered by
# the pool itself to fit RLIMIT_NPROC.
POOL_DEFAULT_MAX_THREADS = 10240


class Profile:
    """What `make bench` and `make bench QUICK=1` run, and their bounds."""

    def __init__(self, quick):
        self.quick = quick
        self.sleep_scale = 0.1 if quick else 0.25
        self.http_scale = 1.0
        self.http_repeat = 1 if quick else 3
        # A sweep point whose expected time (waves x delay) exceeds this is
        # skipped: a fixed pool of 2 at N=1000 would take 100 s to say what
        # N=100 already says.
        self.point_bound_s = 5.0 if quick else 20.0
        self.max_n = 1000 if quick else max(SWEEP_N)
        self.throughput_n = 2000 if quick else 10000
        # The whole run, builds and plots excluded (those take ~30 s more).
        self.budget_s = 100.0 if quick else 540.0
        self.pool_args = ["--reps", "2", "--tasks", "200000"] if quick else []


# ---- estimates ------------------------------------------------------------------
#
# Seconds, fitted to a run on a 2-core x86-64 VM (threads build and asyncio;
# the loop build's are guesses, on the pessimistic side).
# They decide what fits the budget, so they are printed next to the measured
# times at the end, and the index keeps both.

START_C = 0.1          # exec, curl_global_init, pool start
START_PY = 0.6         # interpreter, import aiohttp
PER_REQ = {            # client time per request in the sweep, serialised on 2 cores
    "loop": 150e-6,           # a guess until the loop build has run here
    "threads-comp": 0.8e-3,   # a thread started (and retired) per request in flight
    "threads-fixed": 150e-6,
    "asyncio-c100": 0.45e-3, "asyncio-c0": 0.8e-3,
}
THROUGHPUT_PER_REQ = {"threads": 0.5e-3, "loop": 0.2e-3, "asyncio": 0.4e-3}
# The throughput run is short (under a second in C) and this machine's speed
# swings from one minute to the next: it is repeated, and plotted as the
# median with the range.
THROUGHPUT_REPEAT = 3
HTTP_DEMO_SUM_S = 1.66   # the six sites' latencies, summed (scale 1)
HTTP_DEMO_MAX_S = 0.43   # and the slowest
HTTP_DEMO_SLACK_S = 0.4  # TLS handshakes, bodies, per repeat


def waves(n, width):
    return math.ceil(n / width) if width else 1


def estimate_sweep(variant, n, delay_s):
    kind = variant["kind"]
    if kind == "asyncio":
        key = "asyncio-c0" if variant["connections"] == 0 else "asyncio-c100"
        return START_PY + waves(n, variant["connections"]) * delay_s + n * PER_REQ[key]
    width = variant.get("workers") or (POOL_DEFAULT_MAX_THREADS if kind == "threads" else 0)
    key = kind if kind == "loop" else ("threads-fixed" if variant.get("workers") else "threads-comp")
    return START_C + waves(n, width) * delay_s + n * PER_REQ[key]


def expected_wall(variant, n, delay_s):
    """The time the sweep point must take at best: a fixed pool of W runs N
    blocking requests in ceil(N/W) waves; a limit of C connections, in
    ceil(N/C)."""
    if variant["kind"] == "asyncio":
        return waves(n, variant["connections"]) * delay_s
    return waves(n, variant.get("workers") or 0) * delay_s


# ---- the machine ------------------------------------------------------------------

def rlimit(which):
    soft, hard = resource.getrlimit(which)
    inf = resource.RLIM_INFINITY
    return [None if soft == inf else soft, None if hard == inf else hard]


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def command_lines(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines() if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def machine_facts(build, python):
    u = os.uname()
    facts = {
        "uname": {"sysname": u.sysname, "node": u.nodename, "release": u.release,
                  "version": u.version, "machine": u.machine},
        "nproc": len(os.sched_getaffinity(0)),
        "cpus_online": os.cpu_count(),
        "rlimit_nofile": rlimit(resource.RLIMIT_NOFILE),
        "rlimit_nproc": rlimit(resource.RLIMIT_NPROC),
        "threads_max": read_int("/proc/sys/kernel/threads-max"),
        "mem_total_kib": None,
        "versions": {},
    }
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    facts["mem_total_kib"] = int(line.split()[1])
    except OSError:
        pass
    for name in ("bench-threads", "bench-loop", "delay-server"):
        lines = command_lines([os.path.join(build, name), "--version"])
        if lines:
            facts["versions"][name] = lines
    # `bench-threads --version`: name line, then curl_version(), then OpenSSL.
    lines = facts["versions"].get("bench-threads") or facts["versions"].get("bench-loop") or []
    facts["libcurl"] = lines[1] if len(lines) > 1 else None
    facts["openssl"] = lines[2] if len(lines) > 2 else None
    py = command_lines([python, "-c",
                        "import platform, ssl\n"
                        "try:\n import aiohttp; v = aiohttp.__version__\n"
                        "except ImportError:\n v = ''\n"
                        "print(platform.python_version()); print(v); print(ssl.OPENSSL_VERSION)"])
    facts["python"] = py[0] if py else None
    facts["aiohttp"] = (py[1] or None) if py and len(py) > 1 else None
    facts["python_openssl"] = py[2] if py and len(py) > 2 else None
    return facts


# ---- the plan -----------------------------------------------------------------------

class Step:
    """One process to run (or a point skipped): its id names its files."""

    def __init__(self, sid, phase, backend, variant, argv, estimate_s, params,
                 pattern=None, n=None, trace=False, json_from_stdout=False):
        self.id = sid
        self.phase = phase
        self.backend = backend
        self.variant = variant
        self.argv = argv            # without the output options; may hold {URL}, {CA}
        self.estimate_s = estimate_s
        self.params = params
        self.pattern = pattern
        self.n = n
        self.trace = trace
        self.json_from_stdout = json_from_stdout
        self.status = "planned"
        self.reason = None
        self.result = {}

    def skip(self, reason):
        self.status = "skipped"
        self.reason = reason


def sweep_variants(build, python, ref):
    bt, bl = os.path.join(build, "bench-threads"), os.path.join(build, "bench-loop")
    v = [
        {"name": "loop", "kind": "loop", "backend": "loop", "argv": [bl], "connections": 0},
        {"name": "threads-comp", "kind": "threads", "backend": "threads", "argv": [bt],
         "connections": 0},
    ]
    for w in FIXED_POOLS:
        v.append({"name": f"threads-fixed{w}", "kind": "threads", "backend": "threads",
                  "argv": [bt, "--threads", str(w)], "workers": w, "connections": 0})
    for c in (100, 0):
        v.append({"name": f"asyncio-c{c}", "kind": "asyncio", "backend": "asyncio",
                  "argv": [python, ref, "--connections", str(c)], "connections": c})
    return v


def limit_reason(variant, n, facts):
    """Why this machine cannot run the point, or None."""
    nofile = facts["rlimit_nofile"][1]
    in_flight = n if not variant.get("workers") else min(n, variant["workers"])
    if variant["kind"] == "asyncio" and variant["connections"]:
        in_flight = min(n, variant["connections"])
    if nofile is not None and in_flight + 64 > nofile:
        return f"needs {in_flight} sockets; ulimit -n (hard) is {nofile}"
    if variant["kind"] == "threads" and not variant.get("workers"):
        nproc = facts["rlimit_nproc"][0]
        tmax = facts["threads_max"]
        for lim, what in ((nproc, "ulimit -u"), (tmax, "kernel.threads-max")):
            if lim is not None and n + 256 > lim:
                return f"needs up to {n} threads; {what} is {lim}"
    return None


def make_plan(prof, build, python, facts, have_aiohttp, assume_built=False):
    ref = os.path.join(REPO, "scripts", "asyncio_reference.py")
    bt, bl = os.path.join(build, "bench-threads"), os.path.join(build, "bench-loop")
    demo_backends = [("threads", [bt]), ("loop", [bl]), ("asyncio", [python, ref])]
    steps = []

    # Program A: sleeps 0..3 s, scaled. Sum for the sequential ways, max for
    # the five concurrent ones.
    s = prof.sleep_scale
    for backend, argv in demo_backends:
        est = (START_PY if backend == "asyncio" else START_C) + (2 * 6 + 5 * 3) * s
        steps.append(Step(f"demo-sleep-{backend}", "demo-sleep", backend, backend,
                          argv + ["--workload", "sleep", "--scale", f"{s:g}"], est,
                          {"scale": s, "repeat": 1}, trace=True))
    # Program B: the six emulated sites over TLS, the same URLs for all three.
    r = prof.http_repeat
    for backend, argv in demo_backends:
        est = ((START_PY if backend == "asyncio" else START_C)
               + r * (2 * HTTP_DEMO_SUM_S + 5 * HTTP_DEMO_MAX_S + HTTP_DEMO_SLACK_S))
        steps.append(Step(f"demo-http-{backend}", "demo-http", backend, backend,
                          argv + ["--repeat", str(r), "--cacert", "{CA}", "{SITES}"], est,
                          {"scale": prof.http_scale, "repeat": r, "tls": True}, trace=True))
    # Throughput: many zero-delay requests over 100 connections.
    tn = prof.throughput_n
    tr = THROUGHPUT_REPEAT
    for backend, argv in demo_backends:
        est = ((START_PY if backend == "asyncio" else START_C)
               + tr * tn * THROUGHPUT_PER_REQ[backend])
        steps.append(Step(f"throughput-{backend}", "throughput", backend, backend,
                          argv + ["--quiet", "--pattern", "gather", "-n", str(tn),
                                  "--connections", "100", "--repeat", str(tr),
                                  "{URL}/delay/0"], est,
                          {"delay_ms": 0, "connections": 100, "tls": False, "repeat": tr},
                          pattern="gather", n=tn))
    # The pool on its own: fork-join fib and empty tasks, against OpenMP.
    steps.append(Step("pool-bench", "pool", "threads", "pool",
                      [os.path.join(build, "pool-bench"), "--json"] + prof.pool_args,
                      4.0 if prof.quick else 12.0, {"args": prof.pool_args},
                      json_from_stdout=True))

    # The baselines: what bare libcurl does with no runtime at all, at the
    # sweep's biggest common point and at the throughput run: N pthreads
    # each in one blocking curl_easy_perform, and one multi handle on epoll.
    bn = 1000 if prof.quick else 5000
    steps.append(Step(f"baseline-bare-threads-n{bn}", "baseline", "threads", "bare",
                      [os.path.join(build, "bare-threads"), str(bn),
                       f"{{URL}}/delay/{SWEEP_DELAY_MS}"],
                      1.0 + bn * 0.0005, {"n": bn}, json_from_stdout=True))
    steps.append(Step(f"baseline-bare-multi-n{bn}", "baseline", "loop", "bare",
                      [os.path.join(build, "bare-multi"), str(bn),
                       f"{{URL}}/delay/{SWEEP_DELAY_MS}"],
                      1.0 + bn * 0.0003, {"n": bn}, json_from_stdout=True))
    steps.append(Step("baseline-bare-multi-throughput", "baseline", "loop", "bare",
                      [os.path.join(build, "bare-multi"), str(tn), "{URL}/delay/0", "100"],
                      1.0 + tn * 0.00005, {"n": tn, "connections": 100},
                      json_from_stdout=True))

    # What the runtimes' units cost here: an OS thread (creation, memory,
    # a context switch) and a fiber (a switch, creation, memory).
    steps.append(Step("thread-cost", "cost", "threads", "cost",
                      [os.path.join(build, "thread-cost"), "--threads", "1000"],
                      2.0 if prof.quick else 4.0, {}, json_from_stdout=True))
    steps.append(Step("fiber-cost", "cost", "loop", "cost",
                      [os.path.join(build, "fiber-bench"), "--json", "--runs", "3",
                       "--iterations", "1000000"],
                      3.0 if prof.quick else 5.0, {}, json_from_stdout=True))

    # The sweep, N ascending across every variant, so that running out of
    # budget costs the largest points only.
    delay_s = SWEEP_DELAY_MS / 1000
    variants = sweep_variants(build, python, ref)
    for n in SWEEP_N:
        for variant in variants:
            for pattern in SWEEP_PATTERNS:
                sid = f"sweep-{variant['name']}-{pattern}-n{n}"
                params = {"delay_ms": SWEEP_DELAY_MS, "connections": variant["connections"],
                          "workers": variant.get("workers", 0), "tls": False,
                          "pool": "fixed" if variant.get("workers") else
                          ("compensating" if variant["kind"] == "threads" else None)}
                st = Step(sid, "sweep", variant["backend"], variant["name"],
                          variant["argv"] + ["--quiet", "--pattern", pattern, "-n", str(n),
                                             f"{{URL}}/delay/{SWEEP_DELAY_MS}"],
                          estimate_sweep(variant, n, delay_s), params, pattern=pattern, n=n)
                exp = expected_wall(variant, n, delay_s)
                st.params["expected_wall_s"] = round(exp, 3)
                lim = limit_reason(variant, n, facts)
                if n > prof.max_n:
                    st.skip(f"QUICK=1 stops at N = {prof.max_n}")
                elif exp > prof.point_bound_s:
                    st.skip(f"expected {exp:.1f} s ({waves(n, variant.get('workers') or variant['connections'])}"
                            f" waves x {delay_s:g} s) exceeds the {prof.point_bound_s:g} s bound")
                elif lim:
                    st.skip(lim)
                steps.append(st)

    # What cannot run here.
    for st in steps:
        if st.status != "planned":
            continue
        prog = st.argv[0]
        if st.backend == "asyncio" and not have_aiohttp:
            st.skip("aiohttp is not importable by " + python)
        elif st.backend != "asyncio" and not assume_built and not os.access(prog, os.X_OK):
            st.skip(f"{os.path.relpath(prog, REPO)} is not built")

    # The budget: the demos, throughput and pool first, then sweep points in
    # order while they fit.
    total = 0.0
    for st in steps:
        if st.status != "planned":
            continue
        if total + st.estimate_s > prof.budget_s:
            st.skip(f"over the {prof.budget_s:g} s time budget (estimated total so far "
                    f"{total:.0f} s)")
            continue
        total += st.estimate_s
    return steps, total


# ---- servers ---------------------------------------------------------------------------

SITES = ("blog", "securityheaders", "hstspreload", "isc2", "sans", "scotthelme")


# ---- running -----------------------------------------------------------------------------

class Progress:
    """A bar on a terminal, one line per step otherwise (make's logs, CI)."""

    def __init__(self, total_steps, total_est):
        self.tty = sys.stderr.isatty()
        self.total_steps, self.total_est = total_steps, max(total_est, 1e-9)
        self.done_steps, self.done_est = 0, 0.0
        self.t0 = time.monotonic()

    def bar(self, label, running_s=0.0, est=0.0):
        if not self.tty:
            return
        frac = min(1.0, (self.done_est + min(running_s, est)) / self.total_est)
        width = 30
        fill = int(frac * width)
        line = (f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done_steps}/{self.total_steps} "
                f"{time.monotonic() - self.t0:5.0f}/{self.total_est:.0f} s  {label}")
        sys.stderr.write(line[:shutil.get_terminal_size((100, 20)).columns - 1].ljust(60) + "\033[K")
        sys.stderr.flush()

    def finished(self, st):
        self.done_steps += 1
        self.done_est += st.estimate_s
        el = st.result.get("elapsed_s", 0.0)
        msg = (f"[{self.done_steps:3d}/{self.total_steps}] {st.id:<42} {st.status:<7} "
               f"{el:7.2f} s (est {st.estimate_s:6.2f} s)")
        if st.status != "ok":
            msg += f"  {st.reason or ''}"
        if self.tty:
            if st.status != "ok":  # keep failures on screen, above the bar
                sys.stderr.write("\r\033[K" + msg + "\n")
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    def notice(self, text):
        sys.stderr.write(("\r\033[K" if self.tty else "") + text + "\n")
        sys.stderr.flush()

    def close(self):
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def tail(path, lines=15, limit=2000):
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])[-limit:] or None


def run_step(st, out_dir, subst, progress):
    """Runs one step as its own process, outputs into out_dir; fills
    st.status and st.result. The process's own rusage comes from wait4."""
    runs, logs = os.path.join(out_dir, "runs"), os.path.join(out_dir, "logs")
    argv = []
    for a in st.argv:
        if a == "{SITES}":
            argv += [subst["URL"] + "/site/" + s for s in SITES]
        elif a == "{CA}":
            argv.append(subst.get("CA") or "/nonexistent-ca.pem")
        else:
            argv.append(a.replace("{URL}", subst.get("URL", "http://127.0.0.1:1")))
    json_rel = f"runs/{st.id}.json"
    trace_rel = f"runs/{st.id}.trace.json" if st.trace else None
    if not st.json_from_stdout:
        argv += ["--export-json", os.path.join(out_dir, json_rel)]
    if trace_rel:
        argv += ["--trace", os.path.join(out_dir, trace_rel)]
    out_log = os.path.join(logs, f"{st.id}.out")
    err_log = os.path.join(logs, f"{st.id}.err")
    st.result = {"cmd": argv, "log": f"logs/{st.id}.out", "stderr_log": f"logs/{st.id}.err"}
    os.makedirs(runs, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    # Generous: a step killed here is a hang, not a slow machine.
    timeout = max(30.0, 4 * st.estimate_s + 10)
    t0 = time.monotonic()
    with open(out_log, "w") as out, open(err_log, "w") as err:
        env = dict(os.environ, NO_COLOR="1")
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env,
                                    stdin=subprocess.DEVNULL)
        except OSError as e:
            st.status, st.reason = "failed", f"cannot start {argv[0]}: {e.strerror}"
            st.result["elapsed_s"] = 0.0
            return
        killed = False
        try:
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                el = time.monotonic() - t0
                if el > timeout and not killed:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
                progress.bar(st.id, el, st.estimate_s)
                time.sleep(0.02)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the step must not outlive the sweep
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - t0
    code = proc.returncode
    st.result.update({
        "elapsed_s": round(elapsed, 3), "exit_code": code,
        "process": {"user_s": round(ru.ru_utime, 4), "sys_s": round(ru.ru_stime, 4),
                    "max_rss_kib": ru.ru_maxrss},
    })
    json_path = os.path.join(out_dir, json_rel)
    if st.json_from_stdout and code == 0:
        try:
            with open(out_log) as f:
                obj = json.load(f)
            with open(json_path, "w") as f:
                json.dump(obj, f, indent=1)
                f.write("\n")
        except (OSError, ValueError) as e:
            code = -1
            st.reason = f"no JSON on stdout: {e}"
    if os.path.exists(json_path):
        st.result["json"] = compress_if_large(out_dir, json_rel)
    if trace_rel and os.path.exists(os.path.join(out_dir, trace_rel)):
        st.result["trace"] = trace_rel
    if killed:
        st.status, st.reason = "failed", f"killed after {timeout:.0f} s (hung?)"
    elif code == 0:
        st.status = "ok"
    else:
        st.status = "failed"
        if st.reason is None:
            st.reason = (f"exit status {code}" +
                         (" (some requests failed; see the JSON)" if code == 1 and
                          "json" in st.result else ""))
    if st.status == "failed":
        st.result["stderr_tail"] = tail(err_log)


# Run files above this size are kept gzipped (runs/ID.json.gz): the sweep's
# and the throughput run's per-request records are 1-2 MB each as text,
# 34 MB in all, and compress about tenfold. plot.py and
# validate_results.py read either form.
GZIP_ABOVE_BYTES = 256 * 1024


def compress_if_large(out_dir, rel):
    """Gzips out_dir/rel when it is large; returns the name to record."""
    path = os.path.join(out_dir, rel)
    if os.path.getsize(path) <= GZIP_ABOVE_BYTES:
        return rel
    with open(path, "rb") as src, gzip.open(path + ".gz", "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)
    os.remove(path)
    return rel + ".gz"


PHASE_SERVER = {  # phase -> (plain_http, scale attribute of Profile or 1)
    "demo-http": (False, "http_scale"),
    "throughput": (True, None),
    "baseline": (True, None),
    "sweep": (True, None),
}


def step_record(st):
    rec = {"id": st.id, "phase": st.phase, "backend": st.backend, "variant": st.variant,
           "pattern": st.pattern, "n": st.n, "params": st.params, "status": st.status,
           "reason": st.reason, "estimate_s": round(st.estimate_s, 3)}
    for k in ("elapsed_s", "exit_code", "json", "trace", "log", "stderr_log", "process",
              "stderr_tail", "cmd"):
        if k in st.result:
            rec[k] = st.result[k]
    if "json" not in rec:
        rec["json"] = None
    return rec


def write_index(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    stop_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", default=os.environ.get("QUICK") == "1",
                    help="the reduced sweep (make bench QUICK=1)")
    ap.add_argument("--results", default=os.path.join(REPO, "results"),
                    help="output directory (default results/)")
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="where the binaries are (default build/)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the asyncio reference (default this one)")
    ap.add_argument("--budget", type=float, help="override the time budget, in seconds")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the plan with its estimates and stop")
    ap.add_argument("--assume-built", action="store_true",
                    help="with --dry-run: plan as if every binary existed")
    a = ap.parse_args(argv)

    prof = Profile(a.quick)
    if a.budget is not None:
        prof.budget_s = a.budget
    build = os.path.abspath(a.build)
    out_dir = os.path.abspath(a.results)
    facts = machine_facts(build, a.python)
    have_aiohttp = facts["aiohttp"] is not None
    steps, total_est = make_plan(prof, build, a.python, facts, have_aiohttp,
                                 a.assume_built and a.dry_run)
    planned = [s for s in steps if s.status == "planned"]

    print(f"bench: {'QUICK ' if prof.quick else ''}plan: {len(planned)} runs, "
          f"{len(steps) - len(planned)} skipped, estimated {total_est:.0f} s "
          f"(budget {prof.budget_s:g} s)", file=sys.stderr)
    if not have_aiohttp:
        print(f"bench: aiohttp is missing for {a.python}: the asyncio reference is skipped "
              "(Debian: apt-get install python3-aiohttp)", file=sys.stderr)
    if a.dry_run:
        for st in steps:
            print(f"  {st.id:<42} {st.status:<8} est {st.estimate_s:7.2f} s"
                  + (f"  ({st.reason})" if st.reason else ""))
        return 0

    # A fresh results/: old runs must not mix with new ones.
    os.makedirs(out_dir, exist_ok=True)
    for sub in ("runs", "logs", "figures"):
        shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
    index_path = os.path.join(out_dir, "index.json")
    started = datetime.datetime.now(datetime.timezone.utc)
    doc = {
        "schema": "tvl-bench-index/1",
        "started": started.isoformat(timespec="seconds"),
        "finished": None,
        "quick": prof.quick,
        "profile": {"sleep_scale": prof.sleep_scale, "http_scale": prof.http_scale,
                    "http_repeat": prof.http_repeat, "sweep_delay_ms": SWEEP_DELAY_MS,
                    "sweep_n": list(SWEEP_N), "sweep_patterns": list(SWEEP_PATTERNS),
                    "fixed_pools": list(FIXED_POOLS), "point_bound_s": prof.point_bound_s,
                    "max_n": prof.max_n, "throughput_n": prof.throughput_n,
                    "budget_s": prof.budget_s},
        "machine": facts,
        "estimated_s": round(total_est, 1),
        "elapsed_s": None,
        "runs": [],
    }

    progress = Progress(len(planned), total_est)
    # $TVL_DELAY_SERVER names another binary, as for the C library's spawn.
    server_prog = os.environ.get("TVL_DELAY_SERVER") or os.path.join(build, "delay-server")
    t_start = time.monotonic()
    phases = []
    for st in steps:
        if st.phase not in phases:
            phases.append(st.phase)
    was_interrupted = False
    try:
        for phase in phases:
            todo = [s for s in steps if s.phase == phase and s.status == "planned"]
            if not todo:
                continue
            server, subst = None, {}
            if phase in PHASE_SERVER:
                plain, scale_attr = PHASE_SERVER[phase]
                scale = getattr(prof, scale_attr) if scale_attr else 1.0
                try:
                    server = DelayServer(server_prog, plain, scale,
                                         spin_us=2000 if phase == "demo-http" else 0)
                    subst = {"URL": server.url, "CA": server.ca}
                except (OSError, RuntimeError) as e:
                    for st in todo:
                        st.status, st.reason = "failed", f"the delay server did not start: {e}"
                        progress.finished(st)
                    continue
            try:
                for st in todo:
                    if time.monotonic() - t_start + st.estimate_s > prof.budget_s * 1.15:
                        st.skip("the time budget ran out (measured times above the estimates)")
                        progress.finished(st)
                        continue
                    run_step(st, out_dir, subst, progress)
                    progress.finished(st)
                    doc["runs"] = [step_record(s) for s in steps]
                    write_index(index_path, doc)
            finally:
                if server is not None:
                    server.stop()
    except KeyboardInterrupt:
        was_interrupted = True
        progress.notice("bench: interrupted; the index lists what ran")
        for st in steps:
            if st.status == "planned":
                st.skip("interrupted")
    progress.close()

    elapsed = time.monotonic() - t_start
    doc["runs"] = [step_record(s) for s in steps]
    doc["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    doc["elapsed_s"] = round(elapsed, 1)
    write_index(index_path, doc)

    counts = {}
    for st in steps:
        counts[st.status] = counts.get(st.status, 0) + 1
    print(f"bench: {counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed, "
          f"{counts.get('skipped', 0)} skipped; {elapsed:.0f} s measured, {total_est:.0f} s "
          f"estimated; index: {os.path.relpath(index_path)}", file=sys.stderr)
    for st in steps:
        if st.status == "failed":
            print(f"  failed: {st.id}: {st.reason}", file=sys.stderr)
    if was_interrupted:
        return 130
    # Failed runs are results too (recorded, plotted as missing): exit 0
    # unless nothing at all ran.
    return 0 if counts.get("ok", 0) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
