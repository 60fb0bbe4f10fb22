#!/usr/bin/python3
"""Tests of the Python side of the benchmark: the validator, the plots, the
asyncio reference, the sweep's plan, compare_runs.py, targets.py and
lab.py. Most run on the committed fixture (tests/scripts/fixture/, made by
make_fixture.py) or on stand-in programs; those that need the C binaries
take them from $B (default build/) and are skipped when they are not
built. Nothing leaves loopback. Prints one line per test and `N passed, M
failed`; exits 1 if any failed. Run with the interpreter that has
matplotlib (make test-scripts).
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(REPO, "scripts")
FIXTURE = os.path.join(HERE, "fixture")
PY = sys.executable

sys.path.insert(0, SCRIPTS)
import validate_results  # noqa: E402
from plot import SITE_DELAY_MS  # noqa: E402

EXPECTED_FIGURES = (
    "ways-sleep", "ways-http",
    "sweep-wall", "sweep-cpu", "sweep-rss", "sweep-threads",
    "gantt-sleep-threads", "gantt-sleep-loop", "gantt-sleep-asyncio",
    "gantt-http-threads", "gantt-http-loop", "gantt-http-asyncio", "gantt-http-connect",
    "gantt-waves-fixed2", "throughput",
)

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(argv, timeout=60):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def errors_of(records):
    c = validate_results.Checker()
    c.records_file("t", records)
    return c.errors


def fixture_records(name):
    with open(os.path.join(FIXTURE, "runs", name + ".json")) as f:
        return json.load(f)


# ---- the validator ------------------------------------------------------------------

@test
def validator_accepts_the_fixture():
    r = run([PY, os.path.join(SCRIPTS, "validate_results.py"), FIXTURE])
    check(r.returncode == 0, f"exit {r.returncode}: {r.stdout[-2000:]}")
    check("valid" in r.stdout, r.stdout)


@test
def validator_accepts_every_backend_of_the_fixture():
    for name in ("demo-sleep-threads", "demo-http-loop", "demo-http-asyncio",
                 "sweep-threads-fixed2-gather-n16"):
        errs = errors_of(fixture_records(name))
        check(not errs, f"{name}: {errs[:3]}")


BREAKAGES = {
    "a missing field": lambda r: r.pop("wall_s"),
    "an unknown backend": lambda r: r.__setitem__("backend", "goroutines"),
    "an unknown pattern": lambda r: r.__setitem__("pattern", "map"),
    "a negative CPU time": lambda r: r.__setitem__("cpu_user_s", -0.1),
    "a count that is a string": lambda r: r.__setitem__("ok", "6"),
    "ok that does not match the requests": lambda r: r.__setitem__("ok", r["ok"] - 1),
    "n that does not match the requests": lambda r: r["requests"].pop(),
    "a request ending before it starts": lambda r: r["requests"][1].__setitem__("end_s", 0.0),
    "an answer before its request went out":
        lambda r: r["requests"][1].__setitem__("first_byte_s", r["requests"][1]["sent_s"] - 0.01),
    "a request sent before it started":
        lambda r: r["requests"][0].__setitem__("sent_s", r["requests"][0]["start_s"] - 0.01),
    "a fiber in the threads build": lambda r: r["requests"][0].__setitem__("fiber", 3),
    "a request index out of place": lambda r: r["requests"][2].__setitem__("index", 7),
    "a success with status 500": lambda r: r["requests"][0].__setitem__("status", 500),
    "env without libcurl": lambda r: r["env"].pop("libcurl"),
    "config without connections": lambda r: r["config"].pop("connections"),
}


@test
def validator_rejects_each_broken_record():
    base = fixture_records("demo-http-threads")[:1]
    check(not errors_of(base), "the base record must be valid")
    for what, breakit in BREAKAGES.items():
        broken = copy.deepcopy(base)
        breakit(broken[0])
        check(errors_of(broken), f"{what} was accepted")


@test
def validator_fails_on_a_broken_file_and_a_dangling_index():
    with tempfile.TemporaryDirectory() as tmp:
        recs = fixture_records("demo-sleep-loop")
        recs[0]["requests"][0]["url"] = "http://not-for-sleeps/"
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump(recs, f)
        r = run([PY, os.path.join(SCRIPTS, "validate_results.py"), bad])
        check(r.returncode == 1, f"broken file: exit {r.returncode}\n{r.stdout}")
        check("url" in r.stdout, r.stdout)

        with open(os.path.join(FIXTURE, "index.json")) as f:
            index = json.load(f)
        index["runs"][0]["json"] = "runs/missing.json"
        with open(os.path.join(tmp, "index.json"), "w") as f:
            json.dump(index, f)
        os.symlink(os.path.join(FIXTURE, "runs"), os.path.join(tmp, "runs"))
        r = run([PY, os.path.join(SCRIPTS, "validate_results.py"), tmp])
        check(r.returncode == 1 and "does not exist" in r.stdout,
              f"dangling index: exit {r.returncode}\n{r.stdout[-1000:]}")


# ---- the plots ----------------------------------------------------------------------

@test
def plot_draws_every_figure_from_the_fixture():
    with tempfile.TemporaryDirectory() as tmp:
        r = run([PY, os.path.join(SCRIPTS, "plot.py"), "--results", FIXTURE, "--out", tmp],
                timeout=120)
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}")
        missing = []
        for name in EXPECTED_FIGURES:
            for ext in ("png", "svg"):
                p = os.path.join(tmp, f"{name}.{ext}")
                if not os.path.isfile(p) or os.path.getsize(p) == 0:
                    missing.append(f"{name}.{ext}")
        check(not missing, f"missing or empty: {', '.join(missing)}")
        with open(os.path.join(tmp, "ways-http.png"), "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "ways-http.png is not a PNG")
        with open(os.path.join(tmp, "sweep-wall.svg")) as f:
            svg = f.read()
        check("<svg" in svg, "sweep-wall.svg is not an SVG")
        # The footer carries the versions from the records' env.
        check("8.4.0" in svg and "OpenSSL" in svg, "the footer lacks libcurl/OpenSSL")


@test
def gzipped_run_files_validate_and_plot():
    """bench.py gzips large run files (runs/ID.json.gz): the validator and
    the plots read them as they read plain ones."""
    sys.path.insert(0, SCRIPTS)
    import bench
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(FIXTURE, os.path.join(tmp, "r"))
        root = os.path.join(tmp, "r")
        small = os.path.join(root, "runs", "small.json")
        with open(small, "w") as f:
            f.write("[]")
        check(bench.compress_if_large(root, "runs/small.json") == "runs/small.json",
              "a small file stays as it is")
        with open(os.path.join(root, "index.json")) as f:
            index = json.load(f)
        saved = bench.GZIP_ABOVE_BYTES
        bench.GZIP_ABOVE_BYTES = 0  # gzip every run file of the fixture
        try:
            for entry in index["runs"]:
                if entry.get("json"):
                    entry["json"] = bench.compress_if_large(root, entry["json"])
                    check(entry["json"].endswith(".gz") and
                          os.path.isfile(os.path.join(root, entry["json"])), entry["json"])
        finally:
            bench.GZIP_ABOVE_BYTES = saved
        with open(os.path.join(root, "index.json"), "w") as f:
            json.dump(index, f)
        r = run([PY, os.path.join(SCRIPTS, "validate_results.py"), root])
        check(r.returncode == 0, f"validate: exit {r.returncode}\n{r.stdout[-1500:]}")
        out = os.path.join(tmp, "fig")
        r = run([PY, os.path.join(SCRIPTS, "plot.py"), "--results", root, "--out", out],
                timeout=120)
        check(r.returncode == 0, f"plot: exit {r.returncode}: {r.stderr[-1500:]}")
        check(os.path.isfile(os.path.join(out, "sweep-wall.png")), "sweep-wall.png drawn")


@test
def plot_without_results_says_so():
    with tempfile.TemporaryDirectory() as tmp:
        r = run([PY, os.path.join(SCRIPTS, "plot.py"), "--results", tmp])
        check(r.returncode != 0 and "make bench" in r.stderr, r.stderr)


# ---- the asyncio reference ----------------------------------------------------------

@test
def asyncio_reference_sleep_demo_writes_valid_records():
    with tempfile.TemporaryDirectory() as tmp:
        out, trace = os.path.join(tmp, "s.json"), os.path.join(tmp, "s.trace.json")
        r = run([PY, os.path.join(SCRIPTS, "asyncio_reference.py"), "--workload", "sleep",
                 "--scale", "0.02", "--export-json", out, "--trace", trace])
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
        check("Async for-loop with asyncio.gather() : [" in r.stdout, r.stdout)
        check("> work(0.06) finished [" in r.stdout, r.stdout)
        with open(out) as f:
            recs = json.load(f)
        check(not errors_of(recs), errors_of(recs)[:3])
        check([x["pattern"] for x in recs] == list(validate_results.PATTERNS), "way order")
        byname = {x["pattern"]: x for x in recs}
        # Sum of 0, .02, .04, .06 for the sequential ways, the max otherwise.
        check(byname["sequential"]["wall_s"] >= 0.12 - 1e-3, "sequential is the sum")
        check(byname["gather"]["wall_s"] < 0.11, f"gather is the max: {byname['gather']}")
        check(all(x["backend"] == "asyncio" for x in recs), "backend")
        with open(trace) as f:
            check(len(json.load(f)["traceEvents"]) > 7, "trace events")


@test
def asyncio_reference_cpu_tasks_hold_the_loop():
    """The cpu workload: work(t) computes instead of sleeping, with no
    await inside, so even gather takes the sum; the records validate."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "c.json")
        r = run([PY, os.path.join(SCRIPTS, "asyncio_reference.py"), "--workload", "cpu",
                 "--scale", "0.02", "--pattern", "gather,taskgroup", "--export-json", out])
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
        check("> work(0.06) computed [" in r.stdout, r.stdout)
        with open(out) as f:
            recs = json.load(f)
    check(not errors_of(recs), errors_of(recs)[:3])
    for rec in recs:
        check(rec["workload"] == "cpu" and rec["ok"] == 4, str(rec)[:300])
        check(rec["wall_s"] >= 0.12 - 1e-3, f"{rec['pattern']} is the sum: {rec['wall_s']}")
        spans = sorted((q["start_s"], q["end_s"]) for q in rec["requests"])
        check(all(b[0] >= a[1] - 1e-6 for a, b in zip(spans, spans[1:])),
              f"{rec['pattern']}: tasks interleaved: {spans}")


@test
def both_c_builds_write_records_the_schema_accepts():
    """The JSON and the trace of bench-threads and bench-loop, from a real
    run (the sleep demo, and the HTTP demo against the embedded server),
    validate against docs/json-schema.md. Skipped where the binaries are not
    built (make builds them before this runs)."""
    build = os.environ.get("B", os.path.join(REPO, "build"))
    for backend in ("threads", "loop"):
        binary = os.path.join(build, "bench-" + backend)
        if not os.path.exists(binary):
            print(f"     ({binary} not built: skipped)")
            continue
        for args in (["--workload", "sleep", "--scale", "0.01"],
                     ["--workload", "cpu", "--scale", "0.01", "--pattern", "sequential,gather"],
                     ["--scale", "0.02", "--pattern", "gather,taskgroup"]):
            with tempfile.TemporaryDirectory() as tmp:
                out, trace = os.path.join(tmp, "r.json"), os.path.join(tmp, "t.json")
                r = run([binary, "--quiet", "--export-json", out, "--trace", trace] + args)
                check(r.returncode == 0, f"{backend} {args}: exit {r.returncode}: {r.stderr}")
                with open(out) as f:
                    recs = json.load(f)
                check(recs and all(x["backend"] == backend for x in recs), "backend")
                check(not errors_of(recs), f"{backend}: {errors_of(recs)[:3]}")
                with open(trace) as f:
                    events = json.load(f)["traceEvents"]
                check(len(events) > len(recs), "trace events")
                if "--workload" not in args:
                    check_phases(recs, 0.02, f"{backend} {args}")
                    check(any(e.get("cat") == "phase" for e in events), "no phase slices")


def check_phases(recs, scale, what):
    """Every request of an HTTP demo run has its phases, in order, the
    site's delay before the first byte, and most of it after the request
    went out (libcurl marks a request sent just after sending it, so a
    thread preempted in between marks it late; under a sanitizer,
    TVL_TEST_SLOW, by more than a small delay: only the order is checked
    there)."""
    slow = bool(os.environ.get("TVL_TEST_SLOW"))
    for rec in recs:
        for q in rec["requests"]:
            site = q["url"].rstrip("/").rsplit("/", 1)[-1]
            check(q.get("sent_s") is not None and q.get("first_byte_s") is not None,
                  f"{what}: {q['url']} lacks its phases")
            delay = SITE_DELAY_MS[site] / 1000 * scale
            check(q["start_s"] <= q["sent_s"] <= q["first_byte_s"] <= q["end_s"],
                  f"{what}: {site}: phases out of order: {q}")
            check(q["first_byte_s"] - q["start_s"] >= delay - 0.0002,
                  f"{what}: {site}: first byte {q['first_byte_s']} before the delay {delay}")
            check(slow or q["first_byte_s"] - q["sent_s"] >= delay / 2,
                  f"{what}: {site}: first byte {q['first_byte_s']} - sent {q['sent_s']} "
                  f"< half the delay {delay}")


@test
def asyncio_reference_http_demo_records_phases():
    """The asyncio reference against the embedded server (spawned from
    build/), with aiohttp's trace hooks giving the request phases."""
    build = os.environ.get("B", os.path.join(REPO, "build"))
    server = os.path.join(build, "delay-server")
    if not os.path.exists(server):
        print(f"     ({server} not built: skipped)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "a.json")
        r = run([PY, os.path.join(SCRIPTS, "asyncio_reference.py"), "--quiet", "--server", server,
                 "--scale", "0.02", "--pattern", "gather,sequential", "--export-json", out])
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}")
        with open(out) as f:
            recs = json.load(f)
        check(not errors_of(recs), errors_of(recs)[:3])
        check_phases(recs, 0.02, "asyncio")


@test
def asyncio_reference_usage_errors_exit_2():
    ref = os.path.join(SCRIPTS, "asyncio_reference.py")
    for argv in (["--workload", "sleep", "http://127.0.0.1/"],
                 ["--workload", "cpu", "http://127.0.0.1/"], ["--pattern", "map"],
                 ["-n", "0"], ["not-a-url"], ["--scale", "0"]):
        r = run([PY, ref] + argv)
        check(r.returncode == 2, f"{argv}: exit {r.returncode}")
    r = run([PY, ref, "--help"])
    check(r.returncode == 0 and "--connections" in r.stdout, "--help")


@test
def asyncio_reference_checksum_is_the_servers():
    sys.path.insert(0, SCRIPTS)
    import asyncio_reference as ar
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = bytes(10 if i % 64 == 63 else alphabet[(i % 64 + (i // 64) % 64) % 64]
                 for i in range(100))
    # X-Body-Checksum of GET /bytes/100 from build/delay-server.
    check(f"{ar.body_checksum(body):08x}" == "174503a7", "CRC-32 of /bytes/100")
    check(ar.body_checksum(body[40:], ar.body_checksum(body[:40])) == ar.body_checksum(body),
          "incremental")
    check(ar.body_checksum(b"") == 0, "empty body")


# ---- the sweep's plan ------------------------------------------------------------------

@test
def bench_plans_fit_their_budgets():
    for extra, limit in (([], 540), (["--quick"], 100)):
        r = run([PY, os.path.join(SCRIPTS, "bench.py"), "--dry-run", "--assume-built"] + extra)
        check(r.returncode == 0, f"{extra}: exit {r.returncode}: {r.stderr}")
        m = re.search(r"estimated (\d+) s", r.stderr)
        check(m and int(m.group(1)) <= limit, f"{extra}: {r.stderr.strip()}")
        lines = r.stdout.splitlines()
        if extra:
            check(all("skipped" in ln for ln in lines if "-n5000" in ln or "-n10000" in ln),
                  "QUICK runs N > 1000")
        else:
            fixed2 = [ln for ln in lines if "sweep-threads-fixed2-gather-n1000 " in ln]
            check(fixed2 and "exceeds" in fixed2[0], "a fixed pool of 2 at N=1000 is skipped")


# ---- two results side by side (scripts/compare_runs.py) -------------------------------

def compare(*args):
    return run([PY, os.path.join(SCRIPTS, "compare_runs.py")] + list(args))


def table_row(out, figure):
    """The cells of the row whose figure starts with `figure`."""
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0].startswith(figure):
            return cells
    raise AssertionError(f"no row {figure!r} in:\n{out}")


@test
def compare_runs_puts_two_results_side_by_side():
    """B is the fixture with the threads HTTP demo 10 ms slower in every
    way and the pool's fib twice as slow, and without the loop's sleep
    demo: the rows show the change and its ratio, the missing run is
    counted and left out, and a run against itself gives ratios of 1."""
    with tempfile.TemporaryDirectory() as tmp:
        b = os.path.join(tmp, "slower")
        shutil.copytree(FIXTURE, b)
        path = os.path.join(b, "runs", "demo-http-threads.json")
        with open(path) as f:
            ways = json.load(f)
        for w in ways:
            w["wall_s"] += 0.010
        with open(path, "w") as f:
            json.dump(ways, f)
        path = os.path.join(b, "runs", "pool-bench.json")
        with open(path) as f:
            pool = json.load(f)
        pool["fib_s"] *= 2
        with open(path, "w") as f:
            json.dump(pool, f)
        with open(os.path.join(b, "index.json")) as f:
            index = json.load(f)
        index["runs"] = [r for r in index["runs"] if r["id"] != "demo-sleep-loop"]
        with open(os.path.join(b, "index.json"), "w") as f:
            json.dump(index, f)

        r = compare(FIXTURE, b, "--all")
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
        cells = table_row(r.stdout, "threads: slowest concurrent way past")
        va, vb = float(cells[1]), float(cells[2])
        check(abs(vb - va - 10.0) < 0.02, f"10 ms slower: {cells}")
        cells = table_row(r.stdout, "fib(30)")
        check(cells[3] == "2.00", f"fib twice as slow: {cells}")
        check(not any(ln.startswith("| loop: worst") for ln in r.stdout.splitlines()),
              "the loop's sleep demo is missing from B: no row")
        check("n=16: wall" in r.stdout, "--all shows the fixture's sweep points")

        same = compare(FIXTURE, FIXTURE, "--all")
        check(same.returncode == 0, same.stderr)
        # The fixture has no cost or baseline runs: those rows are missing
        # from both; B lacks the loop's two sleep-demo figures besides.
        def missing(out):
            m = re.search(r"^(\d+) figure\(s\) missing", out, re.M)
            return int(m.group(1)) if m else 0
        check(missing(r.stdout) == missing(same.stdout) + 2,
              f"missing: {missing(r.stdout)} against {missing(same.stdout)} + 2")
        ratios = [ln.rstrip(" |").rsplit("|", 1)[1].strip() for ln in same.stdout.splitlines()
                  if ln.startswith("| ") and not ln.startswith("| **") and "kernel" not in ln
                  and "figure" not in ln]
        check(ratios and all(x in ("1.00", "") for x in ratios), f"self ratios: {ratios[:8]}")


@test
def compare_runs_bad_input():
    r = compare(FIXTURE)
    check(r.returncode == 2, f"one directory: exit {r.returncode}")
    r = compare(FIXTURE, "/nonexistent/results")
    check(r.returncode == 2 and "not a directory" in r.stderr, f"{r.returncode}: {r.stderr}")
    with tempfile.TemporaryDirectory() as tmp:
        r = compare(FIXTURE, tmp)
        check(r.returncode == 1 and r.stderr.count("\n") == 1 and "index.json" in r.stderr,
              f"no index: {r.returncode}: {r.stderr}")


# ---- the targets table (scripts/targets.py) -------------------------------------------

def built(name):
    path = os.path.join(os.environ.get("B", os.path.join(REPO, "build")), name)
    return path if os.path.exists(path) else None


@test
def targets_usage_errors_exit_2():
    script = os.path.join(SCRIPTS, "targets.py")
    for args, says in ((["--only", "bogus"], "unknown group bogus"),
                       (["--rounds", "0"], "--rounds"),
                       (["--build", "/nonexistent", "--only", "fiber"], "missing")):
        r = run([PY, script] + args)
        check(r.returncode == 2, f"{args}: exit {r.returncode}")
        last = r.stderr.strip().splitlines()[-1]
        check(says in last, f"{args}: {last}")


@test
def targets_list_every_issue_target():
    r = run([PY, os.path.join(SCRIPTS, "targets.py"), "--list"])
    check(r.returncode == 0, r.stderr)
    lines = r.stdout.splitlines()
    check(len(lines) == 12, f"{len(lines)} targets listed")
    check({ln.split()[1] for ln in lines} == {"3", "4", "5"}, "issues 3, 4 and 5")


@test
def targets_read_what_server_bench_prints():
    """The parser against a real, small server-bench run: its format and
    the parser must not drift apart."""
    prog = built("server-bench")
    if prog is None:
        print("     (server-bench not built: skipped)")
        return
    r = run([prog, "--connections", "200", "--rounds", "2", "--site-rounds", "2"], timeout=120)
    check(r.returncode in (0, 1), f"server-bench exit {r.returncode}: {r.stderr}")
    import targets  # noqa: E402 - scripts/ is on the path
    got = targets.parse_server_bench(r.stdout, 2)
    check(len(got["fresh"]) == 2 and len(got["kept"]) == 2, str(got))
    check(all(v > 0 for v in got["fresh"] + got["kept"]), str(got))
    check(0 <= got["ttfb_median_ms"] <= got["ttfb_worst_ms"], str(got))


@test
def targets_judge_a_measured_run():
    """One round of the sleep demo, judged: each figure is a real run's and
    the verdict follows the limit."""
    if built("bench-threads") is None:
        print("     (bench-threads not built: skipped)")
        return
    build = os.environ.get("B", os.path.join(REPO, "build"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.json")
        r = run([PY, os.path.join(SCRIPTS, "targets.py"), "--build", build, "--only", "sleep",
                 "--rounds", "1", "--json", out], timeout=120)
        check(r.returncode in (0, 1), f"exit {r.returncode}: {r.stderr}")
        with open(out) as f:
            doc = json.load(f)
    ts = doc["targets"]
    check([t["key"] for t in ts] == ["sleep_seq", "sleep_conc"], str(ts))
    for t in ts:
        check(len(t["values"]) == 1 and t["error"] is None, str(t))
        # A way cannot end before its ideal by more than timer slack, nor
        # take seconds at a scale of 0.1.
        check(0 <= t["values"][0] < 1000, str(t))
        check(t["verdict"] == ("PASS" if t["values"][0] <= t["limit"] else "missed"), str(t))
        check(t["what"] in r.stdout, "the table names the target")
    check(r.returncode == (0 if all(t["verdict"] == "PASS" for t in ts) else 1), "exit status")
    # What the machine charged, from build/thread-cost, beside the figures.
    m = doc["machine"]
    check(m is not None and m["syscall_ns"] > 0 and m["page_fault_ns"] > 0, str(m))
    check("the machine before the runs" in r.stdout, r.stdout[-300:])


# Stand-ins for the C programs, to drive targets.py through what real runs
# rarely do: a program that writes nothing useful, a server-bench whose
# requests failed. Each is a tiny Python script in a build directory of its
# own.
FAKE_SERVER = """import signal, sys, time
print("READY url=http://127.0.0.1:9 ca=- pid=0", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
time.sleep(60)
"""
FAKE_BENCH_LOOP = """import json, sys
a = sys.argv
n = int(a[a.index("-n") + 1])
out = a[a.index("--export-json") + 1]
json.dump([{"pattern": "gather", "n": n, "ok": n, "failed": 0, "wall_s": n / 50000.0,
            "max_rss_kib": 90000}], open(out, "w"))
"""
FAKE_BARE_MULTI = """import sys
n = int(sys.argv[1])
print('{"n": %d, "ok": %d, "wall_s": %f, "max_rss_kib": 88000}' % (n, n, n / 30000.0))
"""


def fake_build(tmp, programs):
    for name, text in programs.items():
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(f"#!{PY}\n{text}")
        os.chmod(path, 0o755)
    return tmp


def run_targets(build, *args):
    return run([PY, os.path.join(SCRIPTS, "targets.py"), "--build", build] + list(args))


@test
def targets_run_one_group_alone_and_judge_it():
    """Only the throughput group: its target and its reference, and no
    other target's; 50,000 a second against a limit of 40,000 passes."""
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": FAKE_SERVER, "bench-loop": FAKE_BENCH_LOOP,
                                 "bare-multi": FAKE_BARE_MULTI})
        out = os.path.join(tmp, "t.json")
        r = run_targets(build, "--only", "throughput", "--rounds", "2", "--json", out)
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr[-500:]}")
        with open(out) as f:
            doc = json.load(f)
    (t,) = doc["targets"]
    check(t["key"] == "loop_throughput" and t["values"] == [50000.0, 50000.0], str(t))
    check(t["verdict"] == "PASS" and "30,000 req/s" in t["reference"], str(t))
    check(doc["failed_runs"] == [], str(doc))


@test
def targets_report_unreadable_output_as_failed_runs():
    """A fiber-bench that prints no JSON, a bench-threads that writes no
    record, a bare client that fails: each a failed run with its reason,
    exit 1, never a traceback nor a PASS."""
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {
            "fiber-bench": "print('not json')\n",
            "bench-threads": ("import json, sys\na = sys.argv\n"
                              "json.dump([], open(a[a.index('--export-json') + 1], 'w'))\n"),
            "delay-server": FAKE_SERVER, "bench-loop": FAKE_BENCH_LOOP,
            "bare-multi": "import sys\nsys.exit(3)\n"})
        out = os.path.join(tmp, "t.json")
        r = run_targets(build, "--only", "fiber,sleep,throughput", "--rounds", "1", "--json", out)
        check(r.returncode == 1, f"exit {r.returncode}")
        check("Traceback" not in r.stderr + r.stdout, r.stderr[-800:])
        with open(out) as f:
            doc = json.load(f)
    verdicts = {t["key"]: t["verdict"] for t in doc["targets"]}
    check(verdicts == {"sleep_seq": "failed", "sleep_conc": "failed", "loop_throughput": "PASS",
                       "fiber_switch": "failed"}, str(verdicts))
    fails = " | ".join(doc["failed_runs"])
    check("unreadable output" in fails and "0 sequential and 0 concurrent" in fails
          and "bare-multi exited 3" in fails, fails)
    check("run(s) failed" in r.stdout, r.stdout[-500:])


@test
def targets_refuse_figures_from_a_failed_server_bench():
    """A round with failed requests, or a judged six-site run that failed,
    is a failed run: no figure is taken from it, nor from the unjudged run."""
    import targets  # noqa: E402 - scripts/ is on the path
    head = ("== 10 concurrent GET /delay/200 over plain HTTP, a fresh connection per request\n"
            "  round 1: 10 ok, 0 failed, 0.2 s wall; server CPU 0.2 ms = 20.00 us/request\n"
            "== 10 concurrent GET /delay/200 over plain HTTP, on kept-alive connections\n"
            "  round 1: 10 ok, 0 failed, 0.2 s wall; server CPU 0.2 ms = 15.00 us/request\n"
            "== the six sites, 6 concurrent HTTPS requests per round, 2 rounds, --spin-us 0 (x)\n"
            "  time-to-first-byte error: worst median 0.500 ms, worst single 0.900 ms; x\n"
            "== the six sites, 6 concurrent HTTPS requests per round, 2 rounds, --spin-us 2000 (x)\n")
    good = head + "  time-to-first-byte error: worst median 0.200 ms, worst single 0.300 ms; x\n"
    got = targets.parse_server_bench(good, 1)
    check(got["ttfb_median_ms"] == 0.2 and got["fresh"] == [20.0], str(got))
    for bad in (head + "  FAIL: a transfer failed\n",
                head.replace("10 ok, 0 failed, 0.2 s wall; server CPU 0.2 ms = 15",
                             "7 ok, 3 failed, 0.2 s wall; server CPU 0.2 ms = 15") + good[len(head):],
                head):
        try:
            targets.parse_server_bench(bad, 1)
        except targets.RunFailed:
            continue
        raise AssertionError("figures taken from a failed run:\n" + bad)


# ---- the lab (scripts/lab.py) -----------------------------------------------------------

def run_lab(*args, timeout=60):
    return run([PY, os.path.join(SCRIPTS, "lab.py")] + list(args), timeout=timeout)


@test
def lab_usage_errors_exit_2():
    for args, says in ((["--only", "bogus"], "unknown experiment bogus"),
                       (["--only", ","], "no experiment"),
                       (["--requests", "1"], "--requests 1"),
                       (["--build", "/nonexistent"], "missing: run make first")):
        r = run_lab(*args)
        check(r.returncode == 2, f"{args}: exit {r.returncode}")
        last = r.stderr.strip().splitlines()[-1]
        check(says in last and last.startswith("lab.py: "), f"{args}: {last}")


@test
def lab_runs_every_experiment_on_both_builds():
    """The quick lab on the real binaries: six experiments, every
    prediction judged (held or not: timing is the machine's), no run
    failed, and every run's records kept with their counts adding up."""
    if not all(built(p) for p in ("bench-threads", "bench-loop", "delay-server")):
        print("     (bench-threads, bench-loop or delay-server not built: skipped)")
        return
    build = os.environ.get("B", os.path.join(REPO, "build"))
    with tempfile.TemporaryDirectory() as tmp:
        r = run_lab("--build", build, "--quick", "--keep", tmp, timeout=300)
        check(r.returncode in (0, 1), f"exit {r.returncode}: {r.stderr[-500:]}")
        out = r.stdout
        check(re.search(r"^\(the machine, .* UTC: a system call \d+ ns", out, re.M), out[:500])
        for n, title in enumerate(("Sum or max?", "What does a waiting request cost?",
                                   "What sets the time", "When one request fails",
                                   "A server that never answers",
                                   "What can an event loop not overlap?"), 1):
            check(f"\n{n}. {title}" in out, f"experiment {n} missing")
        verdicts = re.findall(r"^   (held|did not hold): ", out, re.M)
        check(len(verdicts) == LAB_PREDICTIONS, f"{len(verdicts)} predictions judged")
        held = verdicts.count("held")
        # 17 runs of the two builds, 8 more with the asyncio column (when
        # this interpreter has aiohttp, as make test's does once check-deps ran)
        asyncio = "asyncio: scripts/asyncio_reference.py" in out
        runs = 25 if asyncio else 17
        check(f"{held} of {LAB_PREDICTIONS} predictions held, in {runs} runs\n" in out,
              out[-400:])
        check("run failed" not in out and "could not finish" not in out, out[-400:])
        check(r.returncode == (0 if held == LAB_PREDICTIONS else 1),
              "exit status follows the verdicts")
        kept = sorted(os.listdir(tmp))
        check(len(kept) == runs, str(kept))
        check(len([k for k in kept if k.endswith("-asyncio.json")]) == (8 if asyncio else 0),
              str(kept))
        for name in kept:
            with open(os.path.join(tmp, name)) as f:
                for rec in json.load(f):
                    check(rec["ok"] + rec["failed"] == rec["n"], f"{name}: {rec['pattern']}")
    if not asyncio:
        print("     (no asyncio column: this interpreter has no aiohttp)")
    for line in re.findall(r"^  did not hold: .*", out, re.M):  # timing is the machine's
        print(f"     (on this run: {line.strip()})")


FAKE_BENCH_CRASH = """import sys
sys.stderr.write("bench: something broke\\n")
sys.exit(3)
"""


# A stand-in for both benchmark binaries that answers every experiment of
# the lab with made-up records: as the lesson says when LAB_FAKE=good, and
# breaking it when LAB_FAKE=bad (a gather that waits for everything, a pool
# that starts no threads, a fiber dearer than a thread, a limit ignored, a
# task group that cancels nothing, a timeout that fires late, CPU work that
# threads do not overlap and one thread does), so that every prediction is
# seen to fail when its lesson does not show.
FAKE_BENCH_LESSONS = """import json, math, os, sys
a = sys.argv
bad = os.environ["LAB_FAKE"] == "bad"
threads = os.path.basename(a[0]) == "bench-threads"
def opt(name, default=None):
    return a[a.index(name) + 1] if name in a else default
ways = opt("--pattern", "iterator,sequential,gather,wait,as_completed,tasks,taskgroup").split(",")
urls = [x for x in a[1:] if x.startswith("http")]
n = int(opt("-n", "0")) or len(urls) or 4
def rec(way, wall, errors, error=None, started=0, peak=1, rss=10000):
    reqs = [{"url": "u", "status": 200 if e is None else 0, "error": e} for e in errors]
    ok = sum(e is None for e in errors)
    return {"pattern": way, "n": len(errors), "ok": ok, "failed": len(errors) - ok,
            "wall_s": wall, "error": error, "threads_started": started, "peak_threads": peak,
            "max_rss_kib": rss, "cpu_user_s": 0.001 * n, "cpu_sys_s": 0.001 * n,
            "requests": reqs}
out = []
if opt("--workload") == "sleep":
    waits = [t * float(opt("--scale")) for t in (0, 1, 2, 3)]
    for w in ways:
        seq = w in ("iterator", "sequential") or (bad and w == "gather")
        out.append(rec(w, sum(waits) if seq else max(waits), [None] * 4))
elif opt("--workload") == "cpu":
    work = [t * float(opt("--scale")) for t in (0, 1, 2, 3)]
    for w in ways:
        if w == "sequential":
            wall = sum(work)
        elif threads:  # good: overlapped on two cores; bad: not at all
            wall = sum(work) if bad else sum(work) * 2 / 3
        else:  # good: one thread takes the sum; bad: an overlap it cannot have
            wall = max(work) if bad else sum(work)
        out.append(rec(w, wall, [None] * 4))
elif any("/fault/stall" in u for u in urls):
    late = 0.5 if bad else 0.2
    out.append(rec("gather", late, ["timed out: after 200 ms", None], error="timed out"))
elif len(urls) == 4:
    e500, reset = "HTTP status 500", "connection lost: reset"
    for w in ways:
        if w == "gather":
            out.append(rec(w, 0.4 if bad else 0.001, [None, reset, None, e500], error=e500))
        elif w == "wait":
            out.append(rec(w, 0.4, [None, reset, None, e500]))
        elif bad:
            out.append(rec(w, 0.4, [None, reset, None, e500], error="group failed"))
        else:
            out.append(rec(w, 0.001, ["cancelled"] * 3 + [e500], error="group failed"))
elif "/delay/200" in urls[0]:
    if threads:
        started, peak, per = (0, 3, 40) if bad else (n, n + 3, 40)
    else:
        started, peak, per = (5, 6, 80) if bad else (0, 1, 20)
    out.append(rec("gather", 0.25, [None] * n, started=started, peak=peak,
                   rss=10000 + per * (n - 1)))
else:
    limit = int(opt("--threads", 0) or opt("--connections", 0))
    waves = 1 if bad or not limit else math.ceil(n / limit)
    out.append(rec("gather", 0.1 * waves, [None] * n))
json.dump(out, open(opt("--export-json"), "w"))
sys.exit(1 if any(r["failed"] for r in out) else 0)
"""


def lab_on_stand_ins(mode):
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": FAKE_SERVER, "bench-threads": FAKE_BENCH_LESSONS,
                                 "bench-loop": FAKE_BENCH_LESSONS})
        r = subprocess.run([PY, os.path.join(SCRIPTS, "lab.py"), "--build", build,
                            "--no-asyncio"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, LAB_FAKE=mode))
    return r, re.findall(r"^   (held|did not hold): (\S+ \S+ \S+)", r.stdout, re.M)


# The lab judges the threads build's overlap of CPU work only where this
# process may use two cores or more.
LAB_PREDICTIONS = 12 if len(os.sched_getaffinity(0)) >= 2 else 11


@test
def lab_predictions_hold_when_the_lessons_show():
    r, verdicts = lab_on_stand_ins("good")
    check(r.returncode == 0, f"exit {r.returncode}: {r.stdout[-800:]}{r.stderr[-300:]}")
    check([v for v, _ in verdicts] == ["held"] * LAB_PREDICTIONS, str(verdicts))
    check(f"{LAB_PREDICTIONS} of {LAB_PREDICTIONS} predictions held, in 17 runs" in r.stdout,
          r.stdout[-300:])


@test
def lab_predictions_fail_when_the_lessons_do_not_show():
    """Each broken lesson is caught by its own prediction, and only the
    two left intact (sequential ways, wait) still hold."""
    r, verdicts = lab_on_stand_ins("bad")
    check(r.returncode == 1, f"exit {r.returncode}: {r.stderr[-300:]}")
    held = [what for v, what in verdicts if v == "held"]
    check(len(verdicts) == LAB_PREDICTIONS, str(verdicts))
    check(held == ["the two sequential", "wait raised nothing:"], str(verdicts))
    check(f"2 of {LAB_PREDICTIONS} predictions held, in 17 runs" in r.stdout, r.stdout[-300:])
    words = " ".join(r.stdout.split())  # as if not wrapped
    check("(threads gather: +300.0 ms; loop gather: +300.0 ms)" in words,
          "the ways that missed are named, by how much")


@test
def lab_reports_records_it_cannot_read_as_failed_runs():
    """A program that writes records without the ways or fields the
    experiment reads: a failed run named with what is missing, no
    traceback, and the other experiments still run."""
    with tempfile.TemporaryDirectory() as tmp:
        empty = "import json, sys\njson.dump([], open(sys.argv[sys.argv.index('--export-json') + 1], 'w'))\n"
        build = fake_build(tmp, {"delay-server": FAKE_SERVER, "bench-threads": empty,
                                 "bench-loop": empty})
        r = run_lab("--build", build, "--no-asyncio", "--only", "sum,limit")
    check(r.returncode == 1 and "Traceback" not in r.stdout + r.stderr, r.stderr[-500:])
    check("failed: sum: records without what the experiment reads: KeyError: 'iterator'"
          in r.stdout, r.stdout[-500:])
    check("failed: limit: records without what the experiment reads: KeyError: 'gather'"
          in r.stdout, r.stdout[-500:])


@test
def lab_without_its_server_runs_what_needs_none():
    """A delay server that exits at once: the sleep experiment still runs
    and holds, each experiment that needs the server is named as not run."""
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": "import sys\nsys.exit(3)\n",
                                 "bench-threads": FAKE_BENCH_LESSONS,
                                 "bench-loop": FAKE_BENCH_LESSONS})
        r = subprocess.run([PY, os.path.join(SCRIPTS, "lab.py"), "--build", build,
                            "--no-asyncio", "--only", "sum,limit,timeout"], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, LAB_FAKE="good"))
    check(r.returncode == 1, f"exit {r.returncode}: {r.stderr[-300:]}")
    check("2 of 2 predictions held, in 2 runs; 2 experiment(s) could not finish" in r.stdout,
          r.stdout[-500:])
    for g in ("limit", "timeout"):
        check(f"failed: {g}: not run: " in r.stdout and "did not print its READY line"
              in r.stdout, r.stdout[-500:])


@test
def lab_without_aiohttp_leaves_the_asyncio_column_out():
    """An interpreter without aiohttp: the lab says why and runs the two
    builds (here stand-ins that crash, so that nothing real runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"bench-threads": FAKE_BENCH_CRASH,
                                 "bench-loop": FAKE_BENCH_CRASH})
        r = run_lab("--build", build, "--only", "sum", "--python", "/bin/false")
        check(r.returncode == 1, f"exit {r.returncode}: {r.stderr[-300:]}")
        check("no asyncio column: /bin/false cannot import aiohttp" in r.stdout, r.stdout[:400])
        check("asyncio_reference.py" not in r.stdout.split("\n", 2)[2], r.stdout)
        r = run_lab("--build", build, "--only", "sum", "--no-asyncio")
        check("no asyncio column: --no-asyncio" in r.stdout, r.stdout[:400])


@test
def lab_names_a_failed_run_and_stops_its_server():
    """A bench-loop that crashes: the experiment is reported as failed
    with the program's message, the others still run, exit 1, and the
    delay server the lab started is stopped."""
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": FAKE_SERVER, "bench-threads": FAKE_BENCH_CRASH,
                                 "bench-loop": FAKE_BENCH_CRASH})
        t0 = time.monotonic()
        r = run_lab("--build", build, "--only", "sum,timeout")
        check(r.returncode == 1, f"exit {r.returncode}: {r.stderr[-300:]}")
        check(time.monotonic() - t0 < 30, "the fake server was waited for, not stopped")
        for exp in ("sum", "timeout"):
            check(f"failed: {exp}: bench-threads exited 3: bench: something broke" in r.stdout,
                  r.stdout[-600:])
        check("0 of 0 predictions held, in 2 runs; 2 experiment(s) could not finish"
              in r.stdout, r.stdout[-400:])


# Stand-ins that say who they are: each writes its pid into $TVL_TEST_PIDDIR
# (server.pid, bench.pid) so that a test can tell whether it outlived the
# script that started it.
FAKE_SERVER_PIDFILE = """import os, signal, sys, time
if "--version" in sys.argv:
    print("delay-server (stand-in)")
    sys.exit(0)
open(os.path.join(os.environ["TVL_TEST_PIDDIR"], "server.pid"), "w").write(str(os.getpid()))
print("READY url=http://127.0.0.1:9 ca=- pid=0", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
time.sleep(60)
"""
FAKE_BENCH_HANG = """import os, sys, time
if "-c" in sys.argv:  # as an interpreter, asked for its versions (bench.py)
    print("3.11.2")
    print("3.8.4 (stand-in aiohttp)")
    print("OpenSSL (stand-in)")
    sys.exit(0)
if os.environ.get("HANG_ONLY_ON") and not any(os.environ["HANG_ONLY_ON"] in a for a in sys.argv):
    sys.exit(1)
open(os.path.join(os.environ["TVL_TEST_PIDDIR"], "bench.pid"), "w").write(str(os.getpid()))
time.sleep(60)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not running
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def sigterm_leaves_nothing_running(argv, piddir, says, env=None):
    """Starts a script, waits until its stand-in program runs, sends the
    script SIGTERM: it must exit 130 with `says` on stderr, and neither the
    program nor the delay server it started may still run."""
    import signal
    env = dict(os.environ, TVL_TEST_PIDDIR=piddir, **(env or {}))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=REPO)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(piddir, "bench.pid")):
        if time.monotonic() > deadline or p.poll() is not None:
            p.kill()
            out, err = p.communicate()
            raise AssertionError(f"the stand-in never ran: exit {p.returncode}: {err[-500:]}")
        time.sleep(0.05)
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("still running 20 s after SIGTERM")
    check(p.returncode == 130, f"exit {p.returncode}: {err[-500:]}")
    check(says in err, err[-500:])
    for name in ("server.pid", "bench.pid"):
        with open(os.path.join(piddir, name)) as f:
            pid = int(f.read())
        check(not alive(pid), f"{name}: {pid} still running")


@test
def lab_stopped_by_sigterm_leaves_nothing_running():
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": FAKE_SERVER_PIDFILE,
                                 "bench-threads": FAKE_BENCH_HANG, "bench-loop": FAKE_BENCH_HANG})
        sigterm_leaves_nothing_running([PY, os.path.join(SCRIPTS, "lab.py"), "--build", build,
                                        "--only", "limit"], tmp, "lab.py: interrupted")


@test
def targets_stopped_by_sigterm_leave_nothing_running():
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": FAKE_SERVER_PIDFILE,
                                 "bench-loop": FAKE_BENCH_HANG, "bare-multi": FAKE_BENCH_HANG})
        sigterm_leaves_nothing_running([PY, os.path.join(SCRIPTS, "targets.py"), "--build",
                                        build, "--only", "throughput"], tmp,
                                       "targets.py: interrupted")


@test
def bench_stopped_by_sigterm_leaves_nothing_running_and_says_so():
    """The sweep's asyncio HTTP demo (run by a stand-in interpreter that
    hangs on it) is stopped by SIGTERM: the index is still written, every
    run that did not finish marked interrupted."""
    with tempfile.TemporaryDirectory() as tmp:
        build = fake_build(tmp, {"delay-server": FAKE_SERVER_PIDFILE,
                                 "python": FAKE_BENCH_HANG})
        results = os.path.join(tmp, "results")
        sigterm_leaves_nothing_running(
            [PY, os.path.join(SCRIPTS, "bench.py"), "--build", build, "--results", results,
             "--quick", "--python", os.path.join(build, "python")], tmp, "interrupted",
            env={"HANG_ONLY_ON": "127.0.0.1"})
        with open(os.path.join(results, "index.json")) as f:
            runs = json.load(f)["runs"]
        byid = {r["id"]: r for r in runs}
        check(byid["demo-sleep-asyncio"]["status"] == "failed", str(byid["demo-sleep-asyncio"]))
        check(byid["demo-http-asyncio"]["status"] == "skipped" and
              byid["demo-http-asyncio"]["reason"] == "interrupted", str(byid["demo-http-asyncio"]))


def main():
    passed = failed = 0
    t0 = time.monotonic()
    for fn in TESTS:
        t = time.monotonic()
        try:
            fn()
        except Exception:  # noqa: BLE001 - a test's failure, reported
            failed += 1
            print(f"FAIL {fn.__name__} ({time.monotonic() - t:.1f} s)")
            print("     " + traceback.format_exc().strip().replace("\n", "\n     "))
        else:
            passed += 1
            print(f"ok   {fn.__name__} ({time.monotonic() - t:.1f} s)")
    print(f"scripts tests took {time.monotonic() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
