#!/usr/bin/python3
"""Checks benchmark results against docs/json-schema.md, with no package
beyond the standard library.

Each argument is a results directory (its index.json and every run file it
lists are checked), a file of records (the JSON array that --export-json
writes, from any of the three backends), an index.json, or pool-bench's
JSON object; the kind of a file is told from its shape.

Prints one line per problem and a summary; exits 0 if everything is valid,
1 if anything is not, 2 on a usage error.
"""

import gzip
import json
import math
import os
import sys


def open_json(path):
    """A run file, plain or gzipped (bench.py gzips the large ones)."""
    if path.endswith(".gz"):
        return gzip.open(path, "rt")
    return open(path)


BACKENDS = ("threads", "loop", "asyncio")
WORKLOADS = ("http", "sleep", "cpu")
PATTERNS = ("iterator", "sequential", "gather", "wait", "as_completed", "tasks", "taskgroup")
PHASES = ("demo-sleep", "demo-http", "sweep", "throughput", "pool", "cost", "baseline")
STATUSES = ("ok", "failed", "skipped")
# Slack for the rounding of six-decimal times.
EPS = 2e-6


class Checker:
    def __init__(self):
        self.errors = []

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # -- primitive checks; each returns whether the value passed ------------

    def typed(self, where, obj, key, types, nullable=False):
        if key not in obj:
            self.err(where, f"missing field '{key}'")
            return False
        v = obj[key]
        if v is None:
            if not nullable:
                self.err(where, f"'{key}' is null")
            return nullable
        # bool is an int in Python; a count must not be a bool.
        if isinstance(v, bool) and bool not in types:
            self.err(where, f"'{key}' is a boolean, expected {self.names(types)}")
            return False
        if not isinstance(v, types):
            self.err(where, f"'{key}' is {type(v).__name__}, expected {self.names(types)}")
            return False
        if isinstance(v, float) and not math.isfinite(v):
            self.err(where, f"'{key}' is not finite")
            return False
        return True

    @staticmethod
    def names(types):
        return " or ".join({int: "integer", float: "number", str: "string", bool: "boolean",
                            list: "array", dict: "object"}[t] for t in types)

    def number(self, where, obj, key, lo=None, nullable=False):
        return self._bounded(where, obj, key, (int, float), lo, nullable)

    def integer(self, where, obj, key, lo=None, nullable=False):
        return self._bounded(where, obj, key, (int,), lo, nullable)

    def _bounded(self, where, obj, key, types, lo, nullable):
        if not self.typed(where, obj, key, types, nullable):
            return False
        v = obj[key]
        if v is not None and lo is not None and v < lo:
            self.err(where, f"'{key}' = {v} is below {lo}")
            return False
        return True

    def one_of(self, where, obj, key, allowed):
        if not self.typed(where, obj, key, (str,)):
            return False
        if obj[key] not in allowed:
            self.err(where, f"'{key}' = {obj[key]!r} is not one of {', '.join(allowed)}")
            return False
        return True

    # -- records ----------------------------------------------------------------

    def record(self, where, r):
        if not isinstance(r, dict):
            self.err(where, "a record must be an object")
            return
        ok_backend = self.one_of(where, r, "backend", BACKENDS)
        ok_workload = self.one_of(where, r, "workload", WORKLOADS)
        self.one_of(where, r, "pattern", PATTERNS)
        self.typed(where, r, "label", (str,))
        self.integer(where, r, "repeat", 0)
        self.integer(where, r, "n", 0)
        for k in ("wall_s", "cpu_user_s", "cpu_sys_s"):
            self.number(where, r, k, 0)
        for k in ("max_rss_kib", "threads_started", "peak_threads", "ok", "failed", "bytes"):
            self.integer(where, r, k, 0)
        for k in ("ctx_switches_voluntary", "ctx_switches_involuntary"):
            if k in r:
                self.integer(where, r, k, 0)
        self.typed(where, r, "error", (str,), nullable=True)
        backend = r.get("backend") if ok_backend else None
        workload = r.get("workload") if ok_workload else None

        if self.typed(where, r, "config", (dict,)):
            c, w = r["config"], where + ".config"
            self.integer(w, c, "threads", 0)
            self.integer(w, c, "max_threads", 0)
            self.integer(w, c, "connections", 0)
            if self.number(w, c, "scale") and c["scale"] <= 0:
                self.err(w, f"'scale' = {c['scale']} must be positive")
            self.integer(w, c, "delay_ms", -1)
            self.integer(w, c, "timeout_ms", 0)
            self.typed(w, c, "plain_http", (bool,))
            if "keep_connections" in c:
                self.typed(w, c, "keep_connections", (bool,))
            if backend in ("loop", "asyncio") and (c.get("threads") or c.get("max_threads")):
                self.err(w, f"the {backend} backend has no thread pool to size")

        if self.typed(where, r, "env", (dict,)):
            e, w = r["env"], where + ".env"
            self.integer(w, e, "cpus", 1)
            self.typed(w, e, "kernel", (str,))
            self.typed(w, e, "machine", (str,))
            self.typed(w, e, "libcurl", (str,), nullable=backend == "asyncio")
            self.typed(w, e, "tls", (str,), nullable=True)
            for k in ("python", "aiohttp", "openssl"):
                if k in e:
                    self.typed(w, e, k, (str,), nullable=True)
            if backend == "asyncio":
                for k in ("python", "aiohttp"):
                    if k not in e:
                        self.err(w, f"missing field '{k}' (required for asyncio)")

        if not self.typed(where, r, "requests", (list,)):
            return
        reqs = r["requests"]
        if isinstance(r.get("n"), int) and r["n"] != len(reqs):
            self.err(where, f"'n' = {r['n']} but there are {len(reqs)} requests")
        ok = nbytes = 0
        for i, q in enumerate(reqs):
            w = f"{where}.requests[{i}]"
            if not isinstance(q, dict):
                self.err(w, "a request must be an object")
                continue
            self.request(w, q, i, backend, workload, r.get("wall_s"))
            if q.get("error") is None:
                ok += 1
                if isinstance(q.get("bytes"), int):
                    nbytes += q["bytes"]
        if isinstance(r.get("ok"), int) and r["ok"] != ok:
            self.err(where, f"'ok' = {r['ok']} but {ok} requests have no error")
        if isinstance(r.get("ok"), int) and isinstance(r.get("failed"), int) \
                and r["ok"] + r["failed"] != len(reqs):
            self.err(where, f"ok + failed = {r['ok'] + r['failed']}, not {len(reqs)}")
        if workload == "http" and isinstance(r.get("bytes"), int) and r["bytes"] != nbytes:
            self.err(where, f"'bytes' = {r['bytes']} but the successful requests sum to {nbytes}")

    def request(self, w, q, i, backend, workload, wall):
        if self.integer(w, q, "index", 0) and q["index"] != i:
            self.err(w, f"'index' = {q['index']}, expected {i}")
        if workload == "http":
            if self.typed(w, q, "url", (str,)) and not q["url"].startswith(("http://", "https://")):
                self.err(w, f"'url' = {q['url'][:80]!r} is not an http(s) URL")
        elif workload in ("sleep", "cpu"):
            if "url" not in q or q["url"] is not None:
                self.err(w, f"'url' must be present and null for the {workload} workload")
            self.number(w, q, "delay_s", 0)
        self.integer(w, q, "status", 0)
        self.typed(w, q, "error", (str,), nullable=True)
        t_ok = self.number(w, q, "start_s", 0) & self.number(w, q, "end_s", 0)
        if t_ok and q["end_s"] + EPS < q["start_s"]:
            self.err(w, f"ends ({q['end_s']}) before it starts ({q['start_s']})")
        self.phases(w, q, t_ok)
        self.integer(w, q, "thread", 0)
        if "fiber" not in q:
            self.err(w, "missing field 'fiber'")
        elif backend == "threads" and q["fiber"] is not None:
            self.err(w, "'fiber' must be null in the threads build")
        elif q["fiber"] is not None:
            self.integer(w, q, "fiber", 0)
        self.integer(w, q, "bytes", 0)
        self.typed(w, q, "checksum_verified", (bool,))
        if q.get("error") is None and workload == "http" and isinstance(q.get("status"), int) \
                and not 100 <= q["status"] < 400:
            self.err(w, f"succeeded with status {q['status']}")

    def phases(self, w, q, t_ok):
        """sent_s and first_byte_s: absent in runs made before they existed;
        otherwise null or a time, in order between start_s and end_s."""
        times = [q["start_s"]] if t_ok else []
        for key in ("sent_s", "first_byte_s"):
            if key in q and self.number(w, q, key, 0, nullable=True) and q[key] is not None:
                times.append(q[key])
        if t_ok:
            times.append(q["end_s"])
            if any(b + EPS < a for a, b in zip(times, times[1:])):
                self.err(w, "start_s, sent_s, first_byte_s and end_s are out of order: "
                            f"{times}")

    # -- files --------------------------------------------------------------------

    def records_file(self, path, data):
        if not data:
            self.err(path, "no records")
        for k, r in enumerate(data):
            self.record(f"{path}[{k}]", r)
        return len(data)

    def pool_bench(self, path, d):
        for k in ("workers", "reps", "fib_n", "empty_tasks"):
            self.integer(path, d, k, 1)
        for k in ("fib_s", "omp_fib_s", "empty_s", "omp_empty_s"):
            self.number(path, d, k, 0)
        self.typed(path, d, "stats", (dict,))

    def index(self, path, d, root):
        """Checks an index.json and the run files it lists; returns how
        many records those hold."""
        if d.get("schema") != "tvl-bench-index/1":
            self.err(path, f"'schema' = {d.get('schema')!r}, expected 'tvl-bench-index/1'")
        self.typed(path, d, "quick", (bool,))
        self.typed(path, d, "machine", (dict,))
        if not self.typed(path, d, "runs", (list,)):
            return 0
        ids, nrec = set(), 0
        for i, run in enumerate(d["runs"]):
            w = f"{path}.runs[{i}]"
            if not isinstance(run, dict):
                self.err(w, "a run must be an object")
                continue
            if self.typed(w, run, "id", (str,)):
                if run["id"] in ids:
                    self.err(w, f"duplicate id {run['id']!r}")
                ids.add(run["id"])
                w = f"{path}: run {run['id']}"
            self.one_of(w, run, "phase", PHASES)
            ok_status = self.one_of(w, run, "status", STATUSES)
            self.typed(w, run, "backend", (str,))
            self.typed(w, run, "variant", (str,))
            self.typed(w, run, "params", (dict,))
            self.number(w, run, "estimate_s", 0)
            if run.get("phase") == "sweep":
                self.integer(w, run, "n", 1)
                self.one_of(w, run, "pattern", PATTERNS)
            if not ok_status:
                continue
            st = run["status"]
            if st in ("skipped", "failed"):
                self.typed(w, run, "reason", (str,))
            if st in ("ok", "failed"):
                self.number(w, run, "elapsed_s", 0)
                self.typed(w, run, "exit_code", (int,), nullable=True)
            if st == "ok" and not run.get("json"):
                self.err(w, "status ok but no 'json' file")
            if run.get("json"):
                fp = os.path.join(root, run["json"])
                if not os.path.isfile(fp):
                    self.err(w, f"'json' names {run['json']}, which does not exist")
                else:
                    phase = run.get("phase")
                    nrec += self.file(fp, expect="cost" if phase in ("cost", "baseline")
                                      else phase if phase == "pool" else "records")
        return nrec

    def file(self, path, expect=None):
        try:
            with open_json(path) as f:
                data = json.load(f)
        except OSError as e:
            self.err(path, f"cannot read: {e.strerror}")
            return 0
        except ValueError as e:
            self.err(path, f"not JSON: {e}")
            return 0
        if isinstance(data, list):
            if expect not in (None, "records"):
                self.err(path, f"expected a {expect} object, found an array")
                return 0
            return self.records_file(path, data)
        if isinstance(data, dict) and "runs" in data and expect is None:
            return self.index(path, data, os.path.dirname(path))
        if isinstance(data, dict) and "fib_s" in data and expect in (None, "pool"):
            self.pool_bench(path, data)
            return 0
        if isinstance(data, dict) and expect == "cost":
            # thread-cost and fiber-bench: flat objects of measured numbers.
            for k, v in data.items():
                if k not in ("backend",) and (not isinstance(v, (int, float)) or v < 0):
                    self.err(path, f"'{k}' = {v!r} is not a non-negative number")
            return 0
        self.err(path, "neither records, an index, nor pool-bench output")
        return 0


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    c = Checker()
    nfiles = nrec = 0
    for p in args:
        if os.path.isdir(p):
            idx = os.path.join(p, "index.json")
            if not os.path.isfile(idx):
                c.err(p, "no index.json")
                continue
            nrec += c.file(idx)
        elif os.path.exists(p):
            nrec += c.file(p)
        else:
            print(f"validate_results.py: no such file or directory: {p}", file=sys.stderr)
            return 2
        nfiles += 1
    for e in c.errors[:200]:
        print(e)
    if len(c.errors) > 200:
        print(f"... and {len(c.errors) - 200} more")
    print(f"validate: {nfiles} path(s), {nrec} record(s): "
          + ("valid" if not c.errors else f"{len(c.errors)} problem(s)"))
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
