#!/usr/bin/python3
"""Writes tests/scripts/fixture/: a small results directory (index.json and
runs/*.json) in the exact layout of scripts/bench.py, for the plotting and
validation tests.

The records are synthetic but modelled on real runs: the delays are the
delay server's, the threads build runs sequential ways on the main thread
and concurrent ones on pool workers (spares added as they block), the loop
build runs everything on one thread with a fiber per task, a fixed pool of
W runs N requests in ceil(N/W) waves. Deterministic: rerun after changing
it and commit the result.
"""

import json
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixture")

WAYS = ("iterator", "sequential", "gather", "wait", "as_completed", "tasks", "taskgroup")
CONCURRENT = set(WAYS[2:])
C_LABELS = {
    "iterator": "Use async for-loop with Asynchronous Iterator (tvl_aiter_next)",
    "sequential": "Sequential Asyncio For-Loop (await each in turn)",
    "gather": "Async for-loop with asyncio.gather() (tvl_gather)",
    "wait": "Async for-loop with asyncio.wait() (tvl_wait)",
    "as_completed": "Async for-loop with asyncio.as_completed() (tvl_as_completed_next)",
    "tasks": "Async for-loop with list comprehension of Tasks (tvl_spawn, then tvl_await)",
    "taskgroup": "Async for-loop with asyncio.TaskGroup() (tvl_group_spawn, tvl_group_wait)",
}
PY_LABELS = {
    "iterator": "Use async for-loop with Asynchronous Iterator (async for over __anext__)",
    "sequential": "Sequential Asyncio For-Loop (await each in turn)",
    "gather": "Async for-loop with asyncio.gather()",
    "wait": "Async for-loop with asyncio.wait()",
    "as_completed": "Async for-loop with asyncio.as_completed()",
    "tasks": "Async for-loop with list comprehension of Tasks (asyncio.create_task, then await)",
    "taskgroup": "Async for-loop with asyncio.TaskGroup()",
}
SITES = (("blog", 310, 96000), ("securityheaders", 240, 38000), ("hstspreload", 215, 17000),
         ("isc2", 430, 245000), ("sans", 370, 190000), ("scotthelme", 95, 72000))
ENV_C = {"cpus": 2, "kernel": "6.1.0-18-amd64", "machine": "x86_64",
         "libcurl": "8.4.0", "tls": "OpenSSL/3.0.11"}
ENV_PY = {"cpus": 2, "kernel": "6.1.0-18-amd64", "machine": "x86_64", "libcurl": None,
          "tls": "OpenSSL 3.0.11 19 Sep 2023", "python": "3.11.2", "aiohttp": "3.8.4",
          "openssl": "OpenSSL 3.0.11 19 Sep 2023"}
BASE_TLS = "https://127.0.0.1:40211"
BASE_PLAIN = "http://127.0.0.1:40377"
MAIN_TID = 51200

rng = random.Random(6)


class Lanes:
    """Thread ids of a compensating or fixed pool: which worker runs what."""

    def __init__(self, fixed=None):
        self.fixed = fixed
        self.next_tid = MAIN_TID + 1
        self.workers = []
        self.started = 0
        self.fiber = 0

    def worker(self, k):
        while len(self.workers) <= k:
            self.workers.append(self.next_tid)
            self.next_tid += 1
            self.started += 1
        return self.workers[k]


def rec(backend, workload, pattern, repeat, reqs, wall, config, threads_started, peak,
        rss, cpu_per_req, failed_error=None):
    n = len(reqs)
    ok = sum(1 for r in reqs if r["error"] is None)
    user = 0.002 + cpu_per_req * n * 0.6
    sys_ = 0.001 + cpu_per_req * n * 0.4
    return {
        "backend": backend, "workload": workload, "pattern": pattern,
        "label": (PY_LABELS if backend == "asyncio" else C_LABELS)[pattern],
        "repeat": repeat, "n": n, "wall_s": round(wall, 6),
        "cpu_user_s": round(user, 6), "cpu_sys_s": round(sys_, 6), "max_rss_kib": rss,
        "threads_started": threads_started, "peak_threads": peak, "ok": ok,
        "failed": n - ok, "bytes": sum(r["bytes"] for r in reqs if r["error"] is None),
        "error": failed_error, "config": config,
        "env": ENV_PY if backend == "asyncio" else ENV_C, "requests": reqs,
    }


def config(backend, scale=1.0, delay_ms=-1, threads=0, connections=None, plain=False):
    if connections is None:
        connections = 100 if backend == "asyncio" else 0
    return {"threads": threads, "max_threads": 0, "connections": connections, "scale": scale,
            "delay_ms": delay_ms, "timeout_ms": 0, "plain_http": plain}


def schedule(backend, pattern, durations, width=None, lanes=None):
    """Start and end of each item, and its lane id (thread or fiber)."""
    t = 0.00002
    out = []
    if pattern not in CONCURRENT:
        for d in durations:
            s = t
            e = s + d + rng.uniform(0.0001, 0.0008)
            out.append((s, e, MAIN_TID, 1 if backend != "threads" else None))
            t = e + rng.uniform(0.00001, 0.00005)
        return out
    if backend == "threads":
        slots = width or len(durations)
        free_at = [0.0] * slots
        for d in durations:
            k = min(range(slots), key=lambda i: (free_at[i], i))
            s = max(free_at[k], t) + rng.uniform(0.00002, 0.0001)
            e = s + d + rng.uniform(0.0002, 0.001)
            free_at[k] = e
            out.append((s, e, lanes.worker(k), None))
            t += 0.00003
        return out
    # One thread; a fiber per task; a connection limit makes waves.
    slots = width or len(durations)
    free_at = [0.0] * slots
    for d in durations:
        k = min(range(slots), key=lambda i: (free_at[i], i))
        s = max(free_at[k], t) + rng.uniform(0.000005, 0.00003)
        e = s + d + rng.uniform(0.0002, 0.0009)
        free_at[k] = e
        lanes.fiber += 1
        out.append((s, e, MAIN_TID, lanes.fiber))
        t += 0.00001
    return out


def requests(workload, items, sched, fail_index=None):
    reqs = []
    for i, ((url, delay_s, nbytes), (s, e, tid, fiber)) in enumerate(zip(items, sched)):
        r = {"index": i, "url": url}
        if workload == "sleep":
            r["delay_s"] = delay_s
        failed = i == fail_index
        # An HTTP request's phases: connecting, waiting for the server (its
        # delay), reading the body.
        sent = None if workload == "sleep" else round(s + 0.02 * (e - s), 6)
        first = None if workload == "sleep" else round(e - 0.02 * (e - s), 6)
        r.update({"status": 0 if workload == "sleep" else (500 if failed else 200),
                  "error": "HTTP status 500" if failed else None,
                  "start_s": round(s, 6), "sent_s": sent, "first_byte_s": first,
                  "end_s": round(e, 6), "thread": tid,
                  "fiber": fiber, "bytes": 0 if failed else nbytes,
                  "checksum_verified": workload == "http" and not failed})
        reqs.append(r)
    return reqs


def demo(backend, workload, repeat_count):
    records = []
    lanes = Lanes()
    for rep in range(repeat_count):
        for w in WAYS:
            if workload == "sleep":
                items = [(None, 0.25 * k, 0) for k in range(4)]
                durs = [x[1] for x in items]
            else:
                items = [(f"{BASE_TLS}/site/{n}", d / 1000, b) for n, d, b in SITES]
                durs = [d / 1000 + b / 4e8 + (0.004 if backend != "loop" else 0.002)
                        for _, d, b in SITES]
            sch = schedule(backend, w, durs, lanes=lanes)
            wall = max(e for _, e, _, _ in sch) + 0.0002
            started_before = lanes.started
            reqs = requests(workload, items, sch)
            threads_started = lanes.started - started_before if backend == "threads" else 0
            peak = (1 + len(lanes.workers)) if backend == "threads" else 1
            rss = {"threads": 9800, "loop": 8100, "asyncio": 38000}[backend]
            cpu = {"threads": 0.0009, "loop": 0.0005, "asyncio": 0.004}[backend]
            if workload == "sleep":
                cpu /= 8
            records.append(rec(backend, workload, w, rep, reqs, wall,
                               config(backend, scale=0.25 if workload == "sleep" else 1.0),
                               threads_started, peak, rss + 40 * len(lanes.workers), cpu))
    return records


SWEEP_VARIANTS = (
    ("loop", "loop", {}),
    ("threads-comp", "threads", {}),
    ("threads-fixed2", "threads", {"workers": 2}),
    ("threads-fixed16", "threads", {"workers": 16}),
    ("threads-fixed128", "threads", {"workers": 128}),
    ("asyncio-c100", "asyncio", {"connections": 100}),
    ("asyncio-c0", "asyncio", {"connections": 0}),
)
SWEEP_N = (1, 4, 16)


def sweep_record(variant, backend, opts, pattern, n):
    lanes = Lanes()
    width = opts.get("workers") or opts.get("connections") or None
    durs = [0.2 + rng.uniform(0.0003, 0.0012) for _ in range(n)]
    sch = schedule(backend, pattern, durs, width=width, lanes=lanes)
    wall = max(e for _, e, _, _ in sch) + 0.0003
    items = [(f"{BASE_PLAIN}/delay/200", 0, 0) for _ in range(n)]
    reqs = requests("http", items, sch)
    per = {"loop": 60e-6, "threads": 140e-6, "asyncio": 500e-6}[backend]
    rss = {"loop": 7400 + 12 * n, "threads": 7900 + 70 * len(lanes.workers),
           "asyncio": 36000 + 25 * n}[backend]
    started = len(lanes.workers) if backend == "threads" else 0
    peak = 1 + len(lanes.workers) if backend == "threads" else 1
    cfg = config(backend, threads=opts.get("workers", 0),
                 connections=opts.get("connections", 0))
    return [rec(backend, "http", pattern, 0, reqs, wall, cfg, started, peak, rss, per)]


def index_run(rid, phase, backend, variant, status, json_rel, pattern=None, n=None, params=None,
              reason=None, est=1.0, elapsed=1.0, trace=None, exit_code=0, tail=None):
    r = {"id": rid, "phase": phase, "backend": backend, "variant": variant, "pattern": pattern,
         "n": n, "params": params or {}, "status": status, "reason": reason,
         "estimate_s": est, "json": json_rel}
    if status != "skipped":
        r.update({"elapsed_s": elapsed, "exit_code": exit_code,
                  "log": f"logs/{rid}.out", "stderr_log": f"logs/{rid}.err",
                  "process": {"user_s": 0.05, "sys_s": 0.02, "max_rss_kib": 9000},
                  "cmd": ["build/bench-" + backend if backend != "asyncio" else
                          "scripts/asyncio_reference.py"]})
    if trace:
        r["trace"] = trace
    if tail:
        r["stderr_tail"] = tail
    return r


def main():
    runs_dir = os.path.join(OUT, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    for f in os.listdir(runs_dir):
        os.remove(os.path.join(runs_dir, f))
    index_runs = []

    def write(rid, records):
        with open(os.path.join(runs_dir, rid + ".json"), "w") as f:
            f.write("[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
                    + "\n]\n")
        return f"runs/{rid}.json"

    for workload, reps in (("sleep", 1), ("http", 2)):
        for backend in ("threads", "loop", "asyncio"):
            rid = f"demo-{workload}-{backend}"
            rel = write(rid, demo(backend, workload, reps))
            index_runs.append(index_run(rid, f"demo-{workload}", backend, backend, "ok", rel,
                                        params={"scale": 0.25 if workload == "sleep" else 1.0,
                                                "repeat": reps}, est=7.0, elapsed=6.9))
    for backend in ("threads", "loop", "asyncio"):
        rid = f"throughput-{backend}"
        n = 50
        lanes = Lanes()
        durs = [0.0004 + rng.uniform(0, 0.0003) for _ in range(n)]
        sch = schedule(backend, "gather", durs, width=100 if backend != "threads" else None,
                       lanes=lanes)
        items = [(f"{BASE_PLAIN}/delay/0", 0, 0)] * n
        wall = max(e for _, e, _, _ in sch) * {"threads": 3.0, "loop": 1.2, "asyncio": 6.0}[backend]
        per = {"loop": 50e-6, "threads": 130e-6, "asyncio": 420e-6}[backend]
        r = rec(backend, "http", "gather", 0, requests("http", items, sch), wall,
                config(backend, connections=100), len(lanes.workers),
                1 + len(lanes.workers), 9000, per)
        index_runs.append(index_run(rid, "throughput", backend, backend, "ok", write(rid, [r]),
                                    pattern="gather", n=n,
                                    params={"delay_ms": 0, "connections": 100, "tls": False}))
    pool = {"workers": 2, "reps": 5, "fib_n": 30, "fib_value": 832040, "fib_s": 0.021,
            "fib_median_s": 0.023, "omp_fib_s": 0.018, "omp_fib_median_s": 0.019,
            "fib_ratio": 1.17, "fib_median_ratio": 1.21, "empty_tasks": 1000000,
            "empty_s": 0.11, "empty_median_s": 0.12, "omp_empty_s": 0.09,
            "omp_empty_median_s": 0.095, "empty_ratio": 1.22, "empty_median_ratio": 1.26,
            "stats": {"threads_started": 2, "peak_threads": 3, "tasks_run": 11000000,
                      "steals": 4100, "parks": 950}}
    with open(os.path.join(runs_dir, "pool-bench.json"), "w") as f:
        json.dump(pool, f, indent=1)
        f.write("\n")
    index_runs.append(index_run("pool-bench", "pool", "threads", "pool", "ok",
                                "runs/pool-bench.json"))

    for n in SWEEP_N:
        for variant, backend, opts in SWEEP_VARIANTS:
            for pattern in ("gather", "taskgroup"):
                rid = f"sweep-{variant}-{pattern}-n{n}"
                w = opts.get("workers") or opts.get("connections") or 0
                exp = math.ceil(n / w) * 0.2 if w else 0.2
                params = {"delay_ms": 200, "connections": opts.get("connections", 0),
                          "workers": opts.get("workers", 0), "tls": False,
                          "pool": "fixed" if opts.get("workers") else
                          ("compensating" if backend == "threads" else None),
                          "expected_wall_s": round(exp, 3)}
                if variant == "threads-fixed2" and n == 16 and pattern == "taskgroup":
                    index_runs.append(index_run(
                        rid, "sweep", backend, variant, "skipped", None, pattern, n, params,
                        reason="expected 1.6 s (8 waves x 0.2 s) exceeds the 1 s bound",
                        est=1.7))
                    continue
                if variant == "asyncio-c0" and n == 16 and pattern == "taskgroup":
                    index_runs.append(index_run(
                        rid, "sweep", backend, variant, "failed", None, pattern, n, params,
                        exit_code=1, reason="exit status 1",
                        tail="Traceback (most recent call last):\n  ...\n"
                             "OSError: [Errno 24] Too many open files"))
                    continue
                rel = write(rid, sweep_record(variant, backend, opts, pattern, n))
                index_runs.append(index_run(rid, "sweep", backend, variant, "ok", rel, pattern,
                                            n, params, est=round(exp + 0.1, 3),
                                            elapsed=round(exp + 0.12, 3)))

    index = {
        "schema": "tvl-bench-index/1",
        "started": "2025-01-01T12:00:00+00:00", "finished": "2025-01-01T12:03:00+00:00",
        "quick": True,
        "profile": {"sleep_scale": 0.25, "http_scale": 1.0, "http_repeat": 2,
                    "sweep_delay_ms": 200, "sweep_n": list(SWEEP_N),
                    "sweep_patterns": ["gather", "taskgroup"], "fixed_pools": [2, 16, 128],
                    "point_bound_s": 1.0, "max_n": 16, "throughput_n": 50, "budget_s": 100.0},
        "machine": {
            "uname": {"sysname": "Linux", "node": "fixture", "release": "6.1.0-18-amd64",
                      "version": "#1 SMP Debian 6.1.76-1", "machine": "x86_64"},
            "nproc": 2, "cpus_online": 2, "rlimit_nofile": [20000, 20000],
            "rlimit_nproc": [96364, 96364], "threads_max": 192729, "mem_total_kib": 24683520,
            "versions": {"bench-threads": ["bench-threads (tvl 0.1.0, threads runtime)",
                                           "libcurl/8.4.0 OpenSSL/3.0.11 zlib/1.2.13",
                                           "OpenSSL 3.0.11 19 Sep 2023"]},
            "libcurl": "libcurl/8.4.0 OpenSSL/3.0.11 zlib/1.2.13",
            "openssl": "OpenSSL 3.0.11 19 Sep 2023",
            "python": "3.11.2", "aiohttp": "3.8.4",
            "python_openssl": "OpenSSL 3.0.11 19 Sep 2023"},
        "estimated_s": 170.0, "elapsed_s": 176.3,
        "runs": index_runs,
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
