#!/usr/bin/env python3
"""Freshness of the catalog under search load: the driver of bench/search_freshness.sh.

Usage:
    python3 bench/freshness.py --base URL --db SQLITE_FILE --user NAME --password PW \
        --pid SERVER_PID [--cycles 20] [--teacher 1]

Each cycle takes one new course through the changes a seller and the buyers make, and times
each from the moment the change is committed (the console API answered, or the database
write committed) until the public API shows it (polled every 10 ms). Each change comes after
a random pause of up to --spread seconds (default 2, the default catalog.refresh_seconds), so
that changes do not fall in step with the server's refresher:

  create     POST /api/v1/admin/courses/ (name "Fresh<i>kiwi course", 19.90): search finds it
  edit       the same course renamed "Fresh<i>mango course" and repriced 29.90: search finds
             the new name with the new price
  hide       is_show false: search finds nothing
  show       is_show true again: search finds it
  learners   UPDATE courses SET students = students + 7 and the course noted in
             learner_changes, in one transaction (what a payment's shop_db::orders::
             add_students does, no catalog write): the course's page shows 7 learners
  delete     POST /api/v1/admin/catalog/delete/ (confirmed): search finds nothing

With --cycles 0 it changes nothing and reads the memory every 15 s for 5 minutes: the
baseline of the same search load without updates.

After each cycle it reads the server's resident memory (VmRSS) and its peak (VmHWM) from
/proc/<pid>/status. Prints one line per change and per cycle, then a summary (median and
maximum per kind of change, memory after the first and the last cycle). Standard library only.
"""

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

POLL = 0.01
TIMEOUT = 60.0


def request(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.headers, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


def memory_mb(pid):
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) // 1024
    return values["VmRSS"], values["VmHWM"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--pid", required=True, type=int)
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--teacher", type=int, default=1)
    p.add_argument("--spread", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=20261201)
    a = p.parse_args()
    rng = random.Random(a.seed)

    status, headers, body = request(a.base, "POST", "/api/v1/admin/session/",
                                    {"username": a.user, "password": a.password})
    if status != 200:
        sys.exit(f"console login failed: {status} {body}")
    console = {"Cookie": headers["Set-Cookie"].split(";")[0], "X-CSRF-Token": body["result"]["csrf_token"]}

    def admin(path, payload):
        time.sleep(rng.uniform(0, a.spread))
        status, _, answer = request(a.base, "POST", path, payload, console)
        if status != 200:
            sys.exit(f"{path}: {status} {answer}")
        return answer["result"]

    def search(term):
        _, _, answer = request(a.base, "GET", "/api/v1/course/search/?search=" + urllib.parse.quote(term))
        return answer

    def timed(kind, ready):
        """Seconds from now until ready() holds."""
        start = time.monotonic()
        while not ready():
            if time.monotonic() - start > TIMEOUT:
                sys.exit(f"{kind}: not visible after {TIMEOUT} s")
            time.sleep(POLL)
        took = time.monotonic() - start
        print(f"change: {kind} {took * 1000:.0f} ms", flush=True)
        return took

    def ids(answer):
        return [c["id"] for c in answer.get("results", [])]

    times = {}
    memory = []
    if a.cycles == 0:
        # The baseline: the same search load and no change, memory read every 15 s, 20 times.
        for i in range(1, 21):
            time.sleep(15)
            rss, peak = memory_mb(a.pid)
            memory.append((rss, peak))
            print(f"sample: {i} server-rss {rss} MB peak {peak} MB", flush=True)
        print(f"memory: no changes; server RSS after 15 s {memory[0][0]} MB, after {15 * len(memory)} s "
              f"{memory[-1][0]} MB, max {max(m[0] for m in memory)} MB, peak (VmHWM) {memory[-1][1]} MB")
        return
    db = sqlite3.connect(a.db, timeout=30)
    for i in range(1, a.cycles + 1):
        course = {"name": f"Fresh{i}kiwi course", "course_type": 1, "category_id": None,
                  "teacher_id": a.teacher, "level": 0, "status": 0, "price": "19.90", "period": 30}
        cid = admin("/api/v1/admin/courses/", course)["id"]
        times.setdefault("create", []).append(timed("create", lambda: ids(search(f"fresh{i}kiwi")) == [cid]))

        course.update(id=cid, name=f"Fresh{i}mango course", price="29.90")
        admin("/api/v1/admin/courses/", course)

        def renamed():
            answer = search(f"fresh{i}mango")
            return ids(answer) == [cid] and answer["results"][0]["price"] == "29.90"
        times.setdefault("edit", []).append(timed("edit", renamed))

        course.update(is_show=False)
        admin("/api/v1/admin/courses/", course)
        times.setdefault("hide", []).append(timed("hide", lambda: search(f"fresh{i}mango")["count"] == 0))
        course.update(is_show=True)
        admin("/api/v1/admin/courses/", course)
        times.setdefault("show", []).append(timed("show", lambda: ids(search(f"fresh{i}mango")) == [cid]))

        time.sleep(rng.uniform(0, a.spread))
        with db:
            db.execute("UPDATE courses SET students = students + 7 WHERE id = ?", (cid,))
            db.execute("INSERT INTO learner_changes (course_id) VALUES (?)", (cid,))
        times.setdefault("learners", []).append(timed(
            "learners", lambda: request(a.base, "GET", f"/api/v1/course/list/{cid}/")[2].get("students") == 7))

        admin("/api/v1/admin/catalog/delete/", {"kind": "course", "id": cid, "confirm": True})
        times.setdefault("delete", []).append(timed("delete", lambda: search(f"fresh{i}mango")["count"] == 0))

        rss, peak = memory_mb(a.pid)
        memory.append((rss, peak))
        print(f"cycle: {i} server-rss {rss} MB peak {peak} MB", flush=True)

    print("| change | n | median | max |")
    print("|---|---:|---:|---:|")
    for kind, values in times.items():
        print(f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |")
    every = [v for values in times.values() for v in values]
    print(f"freshness: {len(every)} changes, median {statistics.median(every) * 1000:.0f} ms, "
          f"max {max(every) * 1000:.0f} ms")
    print(f"memory: server RSS after cycle 1 {memory[0][0]} MB, after cycle {len(memory)} {memory[-1][0]} MB, "
          f"max after a cycle {max(m[0] for m in memory)} MB, peak (VmHWM) {memory[-1][1]} MB")


if __name__ == "__main__":
    main()
