#!/usr/bin/python3
"""The seven ways of the original tutorial in Python asyncio with aiohttp,
the reference the two C builds are measured against.

It runs the same two programs (the sleep demo, the HTTP demo), takes the
options of bench-threads and bench-loop where they apply, prints the same
lines, and writes the same JSON records (docs/json-schema.md) with backend
"asyncio", so that one schema and one plotting script cover all three.

Differences from the C builds, on purpose:
  --connections defaults to 100, aiohttp's own default (TCPConnector(limit=100));
    0 means no limit, as in C.
  --threads and --max-threads do not exist: asyncio runs every task on one
    thread.
  --base-url URL uses a delay server that is already running (the sweep passes
    one); without it and without URLs, build/delay-server is spawned, as the
    C binaries do.
  The body checksum (CRC-32) is zlib.crc32, C code as in the C builds.

Needs Debian's interpreter (/usr/bin/python3, Python 3.11) and python3-aiohttp.
Exit status: 0 when every request succeeded, 1 when some failed, 2 on a
usage error.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import ssl
import sys
import threading
import time
import weakref
import zlib

from delay_server import DelayServer  # scripts/delay_server.py

# aiohttp is imported by main() when the HTTP workload needs it: the sleep
# demo, --help and usage errors work without it, and start faster.
aiohttp = None

# The six sites the delay server emulates (include/tvl/delay_server.h).
SITES = ("blog", "securityheaders", "hstspreload", "isc2", "sans", "scotthelme")

# Same names and order as src/patterns/ways.c; the labels are the original's,
# with the Python call in parentheses where the original does not name it.
WAYS = (
    ("iterator", "Use async for-loop with Asynchronous Iterator (async for over __anext__)"),
    ("sequential", "Sequential Asyncio For-Loop (await each in turn)"),
    ("gather", "Async for-loop with asyncio.gather()"),
    ("wait", "Async for-loop with asyncio.wait()"),
    ("as_completed", "Async for-loop with asyncio.as_completed()"),
    ("tasks", "Async for-loop with list comprehension of Tasks (asyncio.create_task, then await)"),
    ("taskgroup", "Async for-loop with asyncio.TaskGroup()"),
)
WAY_NAMES = tuple(name for name, _ in WAYS)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GREY_ITALIC = "\033[3;90m"
RED = "\033[31m"
BOLD = "\033[1m"
RESET = "\033[0m"


def body_checksum(data, state=0):
    """Continues the delay server's X-Body-Checksum, the CRC-32 of zlib
    (include/tvl/delay_server.h), over data; start with 0."""
    return zlib.crc32(data, state)


# ---- the command line ------------------------------------------------------

class UsageError(Exception):
    pass


def url_is_valid(url):
    """Mirrors tvl_url_is_valid(): http:// or https://, a host, no spaces or
    control characters."""
    for prefix in ("http://", "https://"):
        if url.startswith(prefix):
            rest = url[len(prefix):]
            break
    else:
        return False
    host_len = len(rest)
    for i, c in enumerate(rest):
        if c in "/?#":
            host_len = i
            break
    if host_len == 0 or rest[0] in ":@":
        return False
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return False
    return len(url) < 4096


def int_in(lo, hi, what):
    def parse(s):
        try:
            v = int(s, 10)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(
                f"{what} needs a whole number from {lo} to {hi}, not '{s[:40]}'")
        return v
    return parse


def scale_type(s):
    try:
        v = float(s)
    except ValueError:
        v = None
    if v is None or not (0 < v <= 1000):
        raise argparse.ArgumentTypeError(f"--scale needs a number in (0, 1000], not '{s[:40]}'")
    return v


def pattern_list(s):
    names = s.split(",")
    for name in names:
        if name not in WAY_NAMES:
            raise argparse.ArgumentTypeError(
                f"unknown pattern '{name[:64]}' (choose from {','.join(WAY_NAMES)})")
    return [w for w in WAY_NAMES if w in names]


def build_parser():
    p = argparse.ArgumentParser(
        prog="asyncio_reference.py",
        description="Runs the same job seven ways in Python asyncio with aiohttp and prints "
                    "how long each way took; the reference for bench-threads and bench-loop.",
        epilog="Exit status: 0 when every request succeeded, 1 when some failed, "
               "2 on a usage error.")
    w = p.add_argument_group("workload")
    w.add_argument("--workload", choices=("http", "sleep", "cpu"), default="http",
                   help="the HTTP demo (default), the sleep demo (0, 1, 2, 3 s), or the "
                        "same tasks computing for that much CPU time")
    w.add_argument("--scale", type=scale_type, default=1.0,
                   help="multiply every delay: sleeps and the emulated sites (default 1)")
    w.add_argument("--pattern", type=pattern_list, default=list(WAY_NAMES),
                   help="comma-separated subset of " + ",".join(WAY_NAMES))
    w.add_argument("-n", type=int_in(1, 1000000, "-n"), default=0,
                   help="N requests or tasks, cycling through the sites, sleeps or URLs")
    w.add_argument("--delay-ms", type=int_in(0, 3600000, "--delay-ms"), default=-1,
                   help="the same delay for every generated request or sleep")
    w.add_argument("--plain-http", action="store_true",
                   help="a spawned delay server speaks plain HTTP")
    w.add_argument("--base-url", help="a delay server already running, e.g. http://127.0.0.1:PORT")
    w.add_argument("--server", default=None,
                   help="the delay-server binary to spawn (default $TVL_DELAY_SERVER, "
                        "else build/delay-server)")
    w.add_argument("--url-file", help="URLs to fetch, one a line; '#' starts a comment")
    w.add_argument("urls", nargs="*", metavar="URL", help="URLs to fetch")
    r = p.add_argument_group("runtime")
    r.add_argument("--connections", type=int_in(0, 100000, "--connections"), default=100,
                   help="aiohttp TCPConnector(limit=C); 0: no limit (default 100, aiohttp's)")
    r.add_argument("--timeout-ms", type=int_in(0, 86400000, "--timeout-ms"), default=0,
                   help="per-request timeout (default 0: none)")
    r.add_argument("--keep-connections", action="store_true",
                   help="one ClientSession for the whole run: each way reuses the connections "
                        "of the ways before it (default: a new session per way, as the original)")
    r.add_argument("--repeat", type=int_in(1, 1000, "--repeat"), default=1,
                   help="run each way R times (default 1)")
    t = p.add_argument_group("TLS")
    t.add_argument("--cacert", help="trust the CAs in FILE (PEM) instead of the system's")
    o = p.add_argument_group("output")
    o.add_argument("--quiet", action="store_true", help="no per-request lines")
    o.add_argument("--export-json", metavar="FILE", help="one JSON record per (way, repeat)")
    o.add_argument("--trace", metavar="FILE", help="Chrome trace-event JSON")
    o.add_argument("--version", action="store_true", help="print versions and exit")
    return p


def check_args(a):
    for u in a.urls:
        if not url_is_valid(u):
            raise UsageError(f"malformed URL '{u[:200]}' (expected http://HOST/... or https://HOST/...)")
    given = bool(a.urls) or a.url_file is not None
    if a.workload != "http" and (given or a.base_url):
        raise UsageError(f"the {a.workload} workload takes no URLs")
    if given and a.plain_http:
        raise UsageError("--plain-http is for the embedded server; give http:// URLs instead")
    if given and a.delay_ms >= 0:
        raise UsageError("--delay-ms is for the embedded server or sleeps, not for URLs given")
    if given and a.base_url:
        raise UsageError("--base-url and URLs exclude each other")
    if a.base_url and not url_is_valid(a.base_url):
        raise UsageError(f"malformed --base-url '{a.base_url[:200]}'")
    if a.base_url and a.plain_http:
        raise UsageError("--plain-http is for a spawned server; --base-url says the scheme")


def read_url_file(path):
    """URLs one a line, '#' starts a comment. Raises UsageError."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}")
    urls = []
    for no, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not url_is_valid(line):
            raise UsageError(f"{path}:{no}: malformed URL '{line[:200]}'")
        urls.append(line)
    if not urls:
        raise UsageError(f"{path}: no URL")
    return urls


# ---- the delay server --------------------------------------------------------

def default_server_program():
    return os.environ.get("TVL_DELAY_SERVER") or os.path.join(REPO, "build", "delay-server")


# ---- measuring ----------------------------------------------------------------

def reset_peak_rss():
    """Resets the kernel's high-water mark (Linux 4.0+), as the C harness
    does, so that each way's peak is its own; best effort."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def thread_ids():
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return {str(threading.get_native_id())}


class ThreadWatch:
    """asyncio starts no thread per task, but aiohttp or the loop may start
    helpers (a resolver, the default executor). Threads are sampled from
    /proc/self/task every 50 ms: threads_started counts ids not there when
    the way began, peak_threads the most seen at once. A thread that lives
    less than 50 ms can be missed; the C builds count exactly."""

    def __init__(self):
        self.before = thread_ids()
        self.seen = set(self.before)
        self.peak = len(self.before)

    def sample(self):
        ids = thread_ids()
        self.seen |= ids
        self.peak = max(self.peak, len(ids))

    async def run(self):
        while True:
            await asyncio.sleep(0.05)
            self.sample()

    def started(self):
        return len(self.seen - self.before)


# ---- the items -----------------------------------------------------------------

class Item:
    """One unit of work (a sleep or a fetch) and what became of it."""

    __slots__ = ("index", "url", "delay_s", "ran", "status", "error", "start", "sent",
                 "first_byte", "end", "thread", "fiber", "bytes", "checksum_verified")

    def __init__(self, index, url=None, delay_s=0.0):
        self.index, self.url, self.delay_s = index, url, delay_s
        self.reset()

    def reset(self):
        self.ran = False
        self.status = 0
        self.error = None
        self.start = self.sent = self.first_byte = self.end = 0.0
        self.thread = 0
        self.fiber = None
        self.bytes = 0
        self.checksum_verified = False


class ItemFailed(Exception):
    """Raised by a task body whose item failed; carries the item, so that a
    way can tell which one it was."""

    def __init__(self, item):
        super().__init__(item.error)
        self.item = item


class Job:
    """The n items a way runs, the client session, and the bookkeeping that
    makes fiber ids: a small number per asyncio task, 0 for the main task,
    restarting at every way (so lanes in a timeline are few and stable)."""

    def __init__(self, args, items, color):
        self.args = args
        self.items = items
        self.quiet = args.quiet
        self.color = color
        self.session = None
        self.shared_session = None  # --keep-connections: the run's one session
        self.ssl = None
        self.t0 = 0.0
        self.tasks = []
        self.fiber_ids = weakref.WeakKeyDictionary()

    def fiber_of(self, task):
        fid = self.fiber_ids.get(task)
        if fid is None:
            fid = len(self.fiber_ids)
            self.fiber_ids[task] = fid
        return fid

    def print_line(self, failed, text):
        if self.quiet:
            return
        if self.color:
            text = (RED if failed else GREY_ITALIC) + text + RESET
        # One write per line; asyncio runs one task at a time anyway.
        sys.stdout.write(text + "\n")


async def run_sleep(job, it):
    it.start = time.monotonic()
    try:
        await asyncio.sleep(it.delay_s)
    except asyncio.CancelledError:
        it.end = time.monotonic()
        it.error = "cancelled"
        raise
    it.end = time.monotonic()
    job.print_line(False, f"> work({it.delay_s:g}) finished [ {it.end - it.start:.5f} s ]")


async def run_compute(job, it):
    """work(t) as CPU-bound code, as in src/patterns/work.c: arithmetic
    until this thread has used t more seconds of CPU. No await inside, so
    the event loop runs nothing else meanwhile (and, with the GIL, threads
    would not run it in parallel either)."""
    it.start = time.monotonic()
    until = time.thread_time() + it.delay_s
    x = it.index + 1
    while time.thread_time() < until:
        for _ in range(2000):
            x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    it.end = time.monotonic()
    job.print_line(False, f"> work({it.delay_s:g}) computed [ {it.end - it.start:.5f} s ]")


async def run_fetch(job, it):
    it.start = time.monotonic()
    try:
        async with job.session.get(it.url, trace_request_ctx=it) as resp:
            it.status = resp.status
            expected = resp.headers.get("X-Body-Checksum")
            h = 0
            async for chunk in resp.content.iter_any():
                it.bytes += len(chunk)
                h = body_checksum(chunk, h)
            announced = resp.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and int(announced) != it.bytes:
                it.error = f"short body: {it.bytes} of {announced} bytes"
            elif expected is not None:
                if len(expected) == 8 and int(expected, 16) == h:
                    it.checksum_verified = True
                else:
                    it.error = f"body checksum mismatch: got {h:08x}, expected {expected[:16]}"
            if it.error is None and resp.status >= 400:
                it.error = f"HTTP status {resp.status}"
    except asyncio.CancelledError:
        it.error = "cancelled"
        it.end = time.monotonic()
        raise
    except asyncio.TimeoutError:
        it.error = "timed out"
    except aiohttp.ClientError as e:
        it.error = f"{type(e).__name__}: {e}"[:199]
    except (OSError, ValueError) as e:
        it.error = f"{type(e).__name__}: {e}"[:199]
    it.end = time.monotonic()
    took = it.end - it.start
    if it.error is None:
        job.print_line(False, f"> [{it.status}] Completed {it.url} [ {took:.5f} s ]")
    elif it.status > 0:
        job.print_line(True, f"> [{it.status}] Failed {it.url}: {it.error} [ {took:.5f} s ]")
    else:
        job.print_line(True, f"> [---] Failed {it.url}: {it.error} [ {took:.5f} s ]")


async def run_item(job, it):
    """The body of one item, awaited inline or as a task; records the
    outcome and prints the completion line. Returns whether it succeeded."""
    it.ran = True
    it.thread = threading.get_native_id()
    it.fiber = job.fiber_of(asyncio.current_task())
    if job.args.workload == "sleep":
        await run_sleep(job, it)
    elif job.args.workload == "cpu":
        await run_compute(job, it)
    else:
        await run_fetch(job, it)
    return it.error is None


async def item_task(job, it):
    """The task body: like run_item, but a failure raises, as the aiohttp
    call would, so that gather and TaskGroup see it. Returns the item."""
    if not await run_item(job, it):
        raise ItemFailed(it)
    return it


def spawn(job, it):
    t = asyncio.create_task(item_task(job, it))
    job.tasks.append(t)
    return t


# ---- the seven ways ---------------------------------------------------------------

class ItemIterator:
    """An asynchronous iterator whose __anext__ itself runs the next item:
    consuming it is sequential by nature."""

    def __init__(self, job):
        self.job, self.next = job, 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.next == len(self.job.items):
            raise StopAsyncIteration
        it = self.job.items[self.next]
        self.next += 1
        await run_item(self.job, it)
        return it


async def way_iterator(job):
    async for _ in ItemIterator(job):
        pass  # the item printed its own line


async def way_sequential(job):
    for it in job.items:
        await run_item(job, it)


async def way_gather(job):
    # return_exceptions=False: the first failure is raised here and the
    # other tasks go on running (the harness waits for them, untimed).
    await asyncio.gather(*[spawn(job, it) for it in job.items])


async def way_wait(job):
    tasks = [spawn(job, it) for it in job.items]
    if tasks:
        await asyncio.wait(tasks, return_when=asyncio.ALL_COMPLETED)


async def way_as_completed(job):
    tasks = [spawn(job, it) for it in job.items]
    # Python 3.11's as_completed yields new coroutines, not the tasks given
    # (3.13 yields the tasks, as the C version does). Which task finished is
    # known from what the awaited coroutine returns or raises: item_task
    # returns its item, and ItemFailed carries it.
    for next_done in asyncio.as_completed(tasks):
        try:
            it = await next_done
        except ItemFailed as e:
            it = e.item
        del it  # the item printed its own line


async def way_tasks(job):
    tasks = [spawn(job, it) for it in job.items]
    for t in tasks:
        try:
            await t
        except ItemFailed:
            pass  # an item's failure is in its record


async def way_taskgroup(job):
    # The first failure cancels the siblings still running; the group
    # raises every failure together (an ExceptionGroup).
    async with asyncio.TaskGroup() as tg:
        for it in job.items:
            job.tasks.append(tg.create_task(item_task(job, it)))


WAY_FUNCS = {
    "iterator": way_iterator, "sequential": way_sequential, "gather": way_gather,
    "wait": way_wait, "as_completed": way_as_completed, "tasks": way_tasks,
    "taskgroup": way_taskgroup,
}


def way_error_message(e):
    if isinstance(e, ItemFailed):
        return e.item.error
    if isinstance(e, BaseExceptionGroup):
        return f"{len(e.exceptions)} task(s) failed in the task group"
    return f"{type(e).__name__}: {e}"


async def on_connection_ready(session, ctx, params):
    # A new connection is set up (TCP and TLS), or a kept-alive one taken:
    # the request goes out now, as the C builds' pre-request callback marks it.
    ctx.trace_request_ctx.sent = time.monotonic()


async def on_response_head(session, ctx, params):
    # aiohttp's request end is the response head read: the nearest it
    # tells to libcurl's first byte.
    ctx.trace_request_ctx.first_byte = time.monotonic()


def phase_tracing():
    """The request phases of the JSON records (sent_s, first_byte_s)."""
    tc = aiohttp.TraceConfig()
    tc.on_connection_create_end.append(on_connection_ready)
    tc.on_connection_reuseconn.append(on_connection_ready)
    tc.on_request_end.append(on_response_head)
    return tc


def new_session(job):
    a = job.args
    connector = aiohttp.TCPConnector(limit=a.connections, ssl=job.ssl)
    timeout = aiohttp.ClientTimeout(total=a.timeout_ms / 1000 if a.timeout_ms else None)
    return aiohttp.ClientSession(connector=connector, timeout=timeout,
                                 trace_configs=[phase_tracing()])


@contextlib.asynccontextmanager
async def way_session(job):
    """The way's client session: a new one, as the original opens one per
    way, or with --keep-connections the run's one session, left open."""
    if job.shared_session is not None:
        yield job.shared_session
        return
    async with new_session(job) as session:
        yield session


async def run_way(job, name, repeat):
    """Runs one way, timed, then (untimed) waits for any task it left
    running so that every item has an outcome; returns the run's numbers."""
    for it in job.items:
        it.reset()
    job.tasks = []
    job.fiber_ids = weakref.WeakKeyDictionary()
    job.fiber_of(asyncio.current_task())  # the main task is fiber 0
    a = job.args
    reset_peak_rss()
    watch = ThreadWatch()
    watcher = asyncio.create_task(watch.run())
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    error = None
    job.t0 = time.monotonic()
    try:
        if a.workload == "http":
            async with way_session(job) as session:
                job.session = session
                try:
                    await WAY_FUNCS[name](job)
                except Exception as e:  # noqa: BLE001 - the way's own error, reported
                    error = way_error_message(e)
                wall = time.monotonic() - job.t0
                # Stragglers (gather raised early) still need the session.
                await asyncio.gather(*job.tasks, return_exceptions=True)
        else:
            try:
                await WAY_FUNCS[name](job)
            except Exception as e:  # noqa: BLE001
                error = way_error_message(e)
            wall = time.monotonic() - job.t0
            await asyncio.gather(*job.tasks, return_exceptions=True)
    finally:
        job.session = None
        watcher.cancel()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    watch.sample()
    ok = failed = nbytes = 0
    for it in job.items:
        if not it.ran and it.error is None:
            it.error = "cancelled before it started"
        if it.error is None:
            ok += 1
            nbytes += it.bytes
        else:
            failed += 1
    return {
        "pattern": name, "repeat": repeat, "t0": job.t0, "wall_s": wall,
        "cpu_user_s": ru1.ru_utime - ru0.ru_utime, "cpu_sys_s": ru1.ru_stime - ru0.ru_stime,
        "max_rss_kib": peak_rss_kib(), "threads_started": watch.started(),
        "peak_threads": watch.peak, "ok": ok, "failed": failed, "bytes": nbytes,
        "error": error,
        "requests": [request_record(job, it) for it in job.items],
    }


def request_record(job, it):
    rec = {"index": it.index, "url": it.url if job.args.workload == "http" else None}
    if job.args.workload != "http":
        rec["delay_s"] = it.delay_s
    rec.update({
        "status": it.status, "error": it.error,
        "start_s": round(it.start - job.t0, 6) if it.start > 0 else 0.0,
        "sent_s": round(it.sent - job.t0, 6) if it.sent > 0 else None,
        "first_byte_s": round(it.first_byte - job.t0, 6) if it.first_byte > 0 else None,
        "end_s": round(it.end - job.t0, 6) if it.end > 0 else 0.0,
        "thread": it.thread, "fiber": it.fiber if it.ran else None,
        "bytes": it.bytes, "checksum_verified": it.checksum_verified,
    })
    return rec


# ---- output ---------------------------------------------------------------------

LABELS = dict(WAYS)


def total_line(run, color):
    on, off = (BOLD, RESET) if color else ("", "")
    s = f"{on}{LABELS[run['pattern']]} : [{run['wall_s']:.6f} sec]{off}"
    if run["failed"]:
        s += f"  ({run['ok']} ok, {run['failed']} failed)"
    if run["error"]:
        s += f"  raised: {run['error']}"
    return s


def env_record():
    import_aiohttp()  # the sleep demo ran without it; the record names it anyway
    u = os.uname()
    return {
        "cpus": os.cpu_count() or 0, "kernel": u.release, "machine": u.machine,
        "libcurl": None, "tls": ssl.OPENSSL_VERSION,
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__ if aiohttp else None,
        "openssl": ssl.OPENSSL_VERSION,
    }


def record(args, run, env):
    """One JSON record, the same fields in the same order as report.c."""
    return {
        "backend": "asyncio", "workload": args.workload, "pattern": run["pattern"],
        "label": LABELS[run["pattern"]], "repeat": run["repeat"], "n": len(run["requests"]),
        "wall_s": round(run["wall_s"], 6), "cpu_user_s": round(run["cpu_user_s"], 6),
        "cpu_sys_s": round(run["cpu_sys_s"], 6), "max_rss_kib": run["max_rss_kib"],
        "threads_started": run["threads_started"], "peak_threads": run["peak_threads"],
        "ok": run["ok"], "failed": run["failed"], "bytes": run["bytes"], "error": run["error"],
        "config": {
            "threads": 0, "max_threads": 0, "connections": args.connections,
            "scale": args.scale, "delay_ms": args.delay_ms, "timeout_ms": args.timeout_ms,
            "plain_http": bool(args.plain_http),
            "keep_connections": bool(args.keep_connections),
        },
        "env": env,
        "requests": run["requests"],
    }


def write_json(path, records):
    with open(path, "w") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in records))
        f.write("\n]\n")


PHASES = (("connecting", "start_s", "sent_s"),
          ("waiting for the server", "sent_s", "first_byte_s"),
          ("reading the body", "first_byte_s", "end_s"))


def phase_slices(pid, r):
    """A request's phases as slices nested in its own, as report.c writes
    them."""
    out = []
    for name, a, b in PHASES:
        t0, t1 = r.get(a), r.get(b)
        if t0 is not None and t1 is not None and t0 > 0 and t1 >= t0:
            out.append({"ph": "X", "cat": "phase", "name": name, "pid": pid, "tid": r["fiber"],
                        "ts": round(t0 * 1e6, 3), "dur": round((t1 - t0) * 1e6, 3)})
    return out


def write_trace(path, runs, workload):
    """Chrome trace-event JSON like report.c's: one process per (way,
    repeat), one lane per task (fiber id), the way and each request as
    complete events."""
    events = []
    for k, run in enumerate(runs):
        pid = k + 1
        events.append({"ph": "M", "name": "process_name", "pid": pid,
                       "args": {"name": f"asyncio {run['pattern']} #{run['repeat'] + 1}"}})
        events.append({"ph": "X", "cat": "way", "name": run["pattern"], "pid": pid, "tid": 0,
                       "ts": 0, "dur": round(run["wall_s"] * 1e6, 3),
                       "args": {"ok": run["ok"], "failed": run["failed"]}})
        for r in run["requests"]:
            if r["fiber"] is None or r["start_s"] <= 0:
                continue
            name = f"GET {r['url'][:80]}" if workload == "http" else f"work({r['delay_s']:g})"
            events.append({"ph": "X", "cat": "request", "name": name, "pid": pid,
                           "tid": r["fiber"], "ts": round(r["start_s"] * 1e6, 3),
                           "dur": round((r["end_s"] - r["start_s"]) * 1e6, 3),
                           "args": {"index": r["index"], "status": r["status"],
                                    "thread": r["thread"], "error": r["error"]}})
            events += phase_slices(pid, r)
    with open(path, "w") as f:
        json.dump({"displayTimeUnit": "ms", "traceEvents": events,
                   "otherData": {"backend": "asyncio", "lanes": "fiber"}}, f)
        f.write("\n")


# ---- main -------------------------------------------------------------------------

def raise_fd_limit():
    """Every request holds a socket; let N go as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def make_items(args, urls):
    if args.workload != "http":
        n = args.n or 4
        return [Item(i, delay_s=((args.delay_ms / 1000.0) if args.delay_ms >= 0 else float(i % 4))
                     * args.scale) for i in range(n)]
    n = args.n or len(urls)
    return [Item(i, url=urls[i % len(urls)]) for i in range(n)]


def target_urls(args, base):
    """The URLs of the HTTP demo on a delay server at base: one /delay/MS
    URL, or the six sites. The scale goes to a spawned server as --scale;
    to a server already running, as its ?scale= query override."""
    base = base.rstrip("/")
    query = "" if args.scale == 1.0 else f"?scale={args.scale:g}"
    if args.delay_ms >= 0:
        return [f"{base}/delay/{args.delay_ms}{query}"]
    return [f"{base}/site/{s}{query}" for s in SITES]


async def amain(args, items, ssl_ctx, color):
    job = Job(args, items, color)
    job.ssl = ssl_ctx
    if args.keep_connections and args.workload == "http":
        job.shared_session = new_session(job)
    runs = []
    try:
        for r in range(args.repeat):
            for name in args.pattern:
                run = await run_way(job, name, r)
                print(total_line(run, color), flush=True)
                if run["failed"] and not args.quiet:
                    for it in items:
                        if it.error is not None:
                            print(f"  failed: {it.url or 'work'}: {it.error}", file=sys.stderr)
                runs.append(run)
    finally:
        if job.shared_session is not None:
            await job.shared_session.close()
    return runs


def import_aiohttp():
    global aiohttp
    try:
        import aiohttp as module
    except ImportError:
        return False
    aiohttp = module
    return True


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    prog = "asyncio_reference.py"
    if args.version:
        import_aiohttp()
        print(f"{prog} (tvl, asyncio runtime)")
        print(f"Python/{platform.python_version()} aiohttp/"
              f"{aiohttp.__version__ if aiohttp else 'missing'}")
        print(ssl.OPENSSL_VERSION)
        return 0
    try:
        check_args(args)
        urls = list(args.urls)
        if args.url_file:
            urls = read_url_file(args.url_file) + urls
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    if args.workload == "http" and not import_aiohttp():
        print(f"{prog}: aiohttp is missing (Debian: apt-get install python3-aiohttp)",
              file=sys.stderr)
        return 1
    raise_fd_limit()

    server = None
    cacert = args.cacert
    try:
        if args.workload == "http" and not urls:
            if args.base_url:
                urls = target_urls(args, args.base_url)
            else:
                try:
                    server = DelayServer(args.server or default_server_program(),
                                         args.plain_http, args.scale)
                except RuntimeError as e:
                    print(f"{prog}: cannot start the embedded delay server: {e}", file=sys.stderr)
                    return 1
                if cacert is None:
                    cacert = server.ca
                # The spawned server applies the scale itself.
                saved, args.scale = args.scale, 1.0
                urls = target_urls(args, server.url)
                args.scale = saved
        ssl_ctx = None
        if args.workload == "http":
            try:
                # Verification on, always; --cacert replaces the system store.
                ssl_ctx = ssl.create_default_context(cafile=cacert) if cacert \
                    else ssl.create_default_context()
            except (OSError, ssl.SSLError) as e:
                print(f"{prog}: cannot load --cacert {cacert}: {e}", file=sys.stderr)
                return 2
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        items = make_items(args, urls)
        runs = asyncio.run(amain(args, items, ssl_ctx, color))
    finally:
        if server is not None:
            server.stop()

    exit_code = 1 if any(r["failed"] for r in runs) else 0
    env = env_record()
    try:
        if args.export_json:
            write_json(args.export_json, [record(args, r, env) for r in runs])
        if args.trace:
            write_trace(args.trace, runs, args.workload)
    except OSError as e:
        print(f"{prog}: cannot write {e.filename}: {e.strerror}", file=sys.stderr)
        exit_code = 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
