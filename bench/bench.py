#!/usr/bin/env python3
"""Roost against Dovecot, the same workloads on the same machine, in one run.

Each workload runs against each server in turn (A B A B ...) for --rounds
rounds; the report gives every round's figure, the median per server and
the ratio Roost/Dovecot with its spread. See bench/README.md.
"""
import argparse
import asyncio
import datetime
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402
import ceilings  # noqa: E402
from clients import Imap, Lmtp, Pop3, Stats  # noqa: E402
from servers import (DOMAIN, PASSWORD, Dovecot, Roost, cpu_seconds, crypt_hash,  # noqa: E402
                     make_cert, memory_kib)

HERE = Path(__file__).resolve().parent
SEED = 20251101


def progress(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


# ---------------------------------------------------------------- corpus --

class Layout:
    """Corpus sizes. "full" is the issue's workload; "quick" a small run of
    minutes; "smoke" a tiny one the test command runs so the harness never
    rots (its numbers mean nothing)."""

    SIZES = {  # mixed users, msgs each, pop3, large, idle conns, idle accounts
        "full": (200, 100, 5000, 100000, 10000, 1000),
        "quick": (200, 40, 1000, 10000, 500, 100),
        "smoke": (20, 30, 40, 300, 20, 10),
    }

    def __init__(self, size):
        self.size = size
        self.quick = size != "full"
        mixed, self.mixed_msgs, self.pop_msgs, self.large_msgs, self.idle_conns, \
            self.idle_accounts = self.SIZES[size]
        self.mixed_users = [f"mix{i:03d}" for i in range(mixed)]
        # Stamps name the sizes, so a changed layout is generated anew.
        self.tag = size + "-v2-" + "-".join(str(n) for n in self.SIZES[size])
        self.users = (self.mixed_users + ["popbulk", "large"] +
                      [f"idle{i:04d}" for i in range(self.idle_accounts)])

    def generate(self, root: Path):
        stamp = root / f"done-{self.tag}"
        if stamp.exists():
            return
        discard(root)
        progress("generating the corpus (once; deterministic)")
        for i, u in enumerate(self.mixed_users):
            corpus.write_maildir(root / u, SEED + i, self.mixed_msgs, max_size=64 * 1024)
        corpus.write_maildir(root / "popbulk", SEED + 7000, self.pop_msgs)  # 1 KiB to 5 MiB
        corpus.write_maildir(root / "large", SEED + 8000, self.large_msgs, max_size=4096)
        for i in range(self.idle_accounts):
            corpus.write_maildir(root / f"idle{i:04d}", SEED + 9000 + i, 0)
        stamp.write_text("ok\n")


def discard(path: Path):
    """Removes a tree in the background: unlinking tens of thousands of
    files is slow on some disks and needs no waiting for."""
    if path.exists():
        trash = path.with_name(f".trash-{path.name}-{time.time_ns()}")
        path.rename(trash)
        subprocess.Popen(["rm", "-rf", str(trash)])


def install(server, layout, src: Path):
    """A copy of the corpus for one server, made once per corpus. The
    workloads leave the mailboxes as they found them (the mixed sessions
    append one message and expunge one), so later runs reuse it."""
    stamp = server.root / f"installed-{layout.tag}"
    if stamp.exists():
        return
    discard(server.root / "mail")
    for d in server.index_dirs():
        discard(d)
    mail = server.root / "mail" / DOMAIN
    mail.mkdir(parents=True)
    # Hard links: neither server rewrites a message file in place (flag
    # changes rename, expunges unlink), so the two copies stay independent
    # and setting up takes no disk bandwidth away from the measurements.
    for u in layout.users:
        subprocess.run(["cp", "-al", str(src / u), str(mail / u)], check=True)
    stamp.write_text("ok\n")


# ------------------------------------------------------------- workloads --

def run_in_procs(fn, args_list):
    with multiprocessing.Pool(len(args_list)) as pool:
        return pool.starmap(fn, args_list)


def mixed_worker(port, tls, users, seconds, reconnect, seed, msgs):
    rnd = random.Random(seed)
    stats = Stats()
    msg = corpus.message(SEED, 7, max_size=2048)

    async def one(user):
        deadline = time.time() + seconds
        c = None
        while time.time() < deadline:
            try:
                if c is None:
                    c = Imap(stats)
                    await c.connect(port, tls)
                    await c.cmd(f"LOGIN {user}@{DOMAIN} {PASSWORD}")
                    await c.cmd("SELECT INBOX")
                # Within the mailbox: n..n+19 must exist, and n+1 is expunged.
                n = rnd.randint(1, max(1, msgs - 21))
                await c.cmd(f"FETCH {n}:{n + 19} (FLAGS UID)")
                await c.cmd(f"FETCH {n}:{n + 9} (ENVELOPE RFC822.SIZE)")
                await c.cmd(f"FETCH {n} (BODY.PEEK[])")
                await c.cmd(f"STORE {n} +FLAGS (\\Seen)")
                await c.cmd("APPEND INBOX (\\Seen)", literal=msg)
                await c.cmd("NOOP")
                # One out, one in: the mailbox keeps its size across rounds.
                await c.cmd(f"STORE {n + 1} +FLAGS.SILENT (\\Deleted)")
                await c.cmd("EXPUNGE")
                if reconnect:
                    await c.cmd("LOGOUT")
                    c.close()
                    c = None
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                stats.errors += 1
                if c:
                    c.close()
                c = None
        if c:
            await c.cmd("LOGOUT")
            c.close()

    async def main():
        await asyncio.gather(*(one(u) for u in users))

    start = time.time()
    asyncio.run(main())
    return stats, time.time() - start


def workload_mixed(server, layout, clients, tls, reconnect, seconds):
    # One session per account: concurrent expunges in one mailbox make
    # FETCHes of messages another session removed fail on any server, which
    # would measure the workload's races, not the server. (The smoke corpus
    # has fewer accounts, so fewer clients.)
    clients = min(clients, len(layout.mixed_users))
    users = layout.mixed_users[:clients]
    procs = 2
    parts = [users[i::procs] for i in range(procs)]
    cpu0 = cpu_seconds(server.pid())
    port = server.ports["imaps" if tls else "imap"]
    results = run_in_procs(mixed_worker, [(port, tls, p, seconds, reconnect, i,
                                           layout.mixed_msgs)
                                          for i, p in enumerate(parts)])
    cpu = cpu_seconds(server.pid()) - cpu0
    stats = Stats()
    elapsed = max(r[1] for r in results)
    for s, _ in results:
        stats.merge(s)
    return {"commands_per_s": len(stats.latencies) / elapsed,
            "p50_ms": pct(stats.latencies, 50) * 1000, "p99_ms": pct(stats.latencies, 99) * 1000,
            "errors": stats.errors, "cpu_s": cpu, "mem_kib": memory_kib(server.pid()),
            "error_samples": stats.samples}


def pop3_worker(port, tls, user):
    stats = Stats()

    async def main():
        c = Pop3(stats)
        await c.connect(port, tls)
        await c.cmd(f"USER {user}@{DOMAIN}")
        await c.cmd(f"PASS {PASSWORD}")
        first = await c.cmd("STAT")
        count = int(first.split()[1])
        await c.cmd("LIST", multiline=True)
        await c.cmd("UIDL", multiline=True)
        t0 = time.perf_counter()
        b0 = stats.bytes
        for i in range(1, count + 1):
            await c.cmd(f"RETR {i}", multiline=True)
        t = time.perf_counter() - t0
        await c.cmd("QUIT")
        c.close()
        return (stats.bytes - b0) / t / 1e6

    mbps = asyncio.run(main())
    return stats, mbps


def workload_pop3(server, layout, tls):
    cpu0 = cpu_seconds(server.pid())
    stats, mbps = run_in_procs(pop3_worker, [(server.ports["pop3s" if tls else "pop3"], tls,
                                              "popbulk")])[0]
    return {"MB_per_s": mbps, "errors": stats.errors, "cpu_s": cpu_seconds(server.pid()) - cpu0,
            "mem_kib": memory_kib(server.pid())}


def login_worker(port, seconds, concurrency, users):
    stats = Stats()

    async def one(i):
        deadline = time.time() + seconds
        n = 0
        while time.time() < deadline:
            c = Imap(stats)
            try:
                t0 = time.perf_counter()
                await c.connect(port, True)
                await c.cmd(f"LOGIN {users[i % len(users)]}@{DOMAIN} {PASSWORD}")
                await c.cmd("LOGOUT")
                stats.latencies.append(time.perf_counter() - t0)
                n += 1
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                stats.errors += 1
            c.close()
        return n

    async def main():
        return sum(await asyncio.gather(*(one(i) for i in range(concurrency))))

    t0 = time.time()
    n = asyncio.run(main())
    return n, time.time() - t0, stats.errors


def workload_login(server, layout, seconds):
    cpu0 = cpu_seconds(server.pid())
    res = run_in_procs(login_worker, [(server.ports["imaps"], seconds, 8,
                                       layout.mixed_users)] * 2)
    n = sum(r[0] for r in res)
    return {"logins_per_s": n / max(r[1] for r in res), "errors": sum(r[2] for r in res),
            "cpu_s": cpu_seconds(server.pid()) - cpu0}


def idle_worker(port, users, source, hold, ready_q, go_q):
    """Opens one TLS IMAP session per entry of `users`, each logged in with
    INBOX selected and in IDLE; reports readiness, then records when each
    session first hears an EXISTS (the delivery phase), until `hold` s after
    the go signal."""
    stats = Stats()
    heard = []  # (user, unix time of the first EXISTS)

    async def main():
        conns = []
        for i in range(0, len(users), 100):
            batch = users[i:i + 100]
            cs = [Imap(stats) for _ in batch]

            async def up(c, u):
                await c.connect(port, True, source)
                await c.cmd(f"LOGIN {u}@{DOMAIN} {PASSWORD}")
                await c.cmd("SELECT INBOX")
                await c.idle()
            await asyncio.gather(*(up(c, u) for c, u in zip(cs, batch)))
            conns += cs
        ready_q.put(len(conns))

        async def listen(c, u):
            try:
                while True:
                    line = await c.readline()
                    if not line:
                        return
                    if line.startswith(b"* ") and line.rstrip().endswith(b"EXISTS"):
                        heard.append((u, time.time()))
                        return
            except (ConnectionError, OSError):
                return

        tasks = [asyncio.ensure_future(listen(c, u)) for c, u in zip(conns, users)]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, go_q.get)
        await asyncio.wait(tasks, timeout=hold)
        for c in conns:
            c.close()

    asyncio.run(main())
    return stats.errors, heard


def deliver_worker(port, rcpts, seed, stamp):
    """Delivers one message to each address of `rcpts` over one LMTP
    connection; returns (stats, {address: unix time the final dot went out},
    elapsed seconds)."""
    stats = Stats()
    sent = {}
    msg = corpus.message(SEED, seed, max_size=8192)

    async def main():
        c = Lmtp(stats)
        await c.connect(port)
        for r in rcpts:
            await c.deliver(r, msg, (lambda r=r: sent.__setitem__(r, time.time())) if stamp else None)
        c.close()

    t0 = time.time()
    asyncio.run(main())
    return stats, sent, time.time() - t0


def workload_idle(server, layout, hold=60, settle=8, window=10):
    """Memory and CPU of idle TLS sessions, then one LMTP delivery to every
    idle account and the time until each of its sessions hears EXISTS."""
    users = [f"idle{i % layout.idle_accounts:04d}" for i in range(layout.idle_conns)]
    procs = 4
    parts = [users[i::procs] for i in range(procs)]
    # A fresh server for every round: memory a previous round freed stays
    # with the process (the allocator keeps it), so a delta over it reads as
    # nothing; and Dovecot would still be winding down the last round's
    # 10,000 sessions while this one is timed.
    server.stop()
    server.start()
    time.sleep(2)
    base = memory_kib(server.pid())
    mgr = multiprocessing.Manager()
    ready, go = mgr.Queue(), mgr.Queue()
    with multiprocessing.Pool(procs) as pool:
        async_res = pool.starmap_async(idle_worker, [(server.ports["imaps"], p,
                                                      f"127.0.1.{i + 2}", hold, ready, go)
                                                     for i, p in enumerate(parts)])
        for _ in range(procs):
            ready.get(timeout=900)
        time.sleep(settle)  # let the servers settle (Dovecot hibernates after 5 s)
        mem = memory_kib(server.pid())
        cpu0 = cpu_seconds(server.pid())
        time.sleep(window)
        cpu = cpu_seconds(server.pid()) - cpu0
        for _ in range(procs):
            go.put(1)
        accounts = [f"idle{i:04d}@{DOMAIN}" for i in range(layout.idle_accounts)]
        dl = run_in_procs(deliver_worker, [(server.ports["lmtp"], accounts[i::8], i, True)
                                           for i in range(8)])
        sent = {}
        for _, part, _ in dl:
            sent.update(part)
        results = async_res.get(timeout=hold + 900)
    errors = sum(r[0] for r in results) + sum(d[0].errors for d in dl)
    lat = [max(0.0, t - sent[f"{u}@{DOMAIN}"]) for r in results for u, t in r[1]
           if f"{u}@{DOMAIN}" in sent]
    n = len(users)
    return {"kib_per_conn": (mem - base) / n, "connections": n,
            "idle_cpu_s_per_10s": cpu * 10 / window,
            "notify_p50_ms": pct(lat, 50) * 1000, "notify_p99_ms": pct(lat, 99) * 1000,
            "notify_missed": n - len(lat), "errors": errors}


def workload_delivery(server, layout, clients, seconds_hint):
    """LMTP delivery rate into the idle accounts (durable on both sides),
    from `clients` concurrent connections, and fsync calls per message
    counted machine-wide by perf while it runs."""
    accounts = [f"idle{i:04d}@{DOMAIN}" for i in range(layout.idle_accounts)]
    per_client = max(20, (10 if layout.quick else 150) * seconds_hint // clients)
    jobs = [([accounts[(c * 7919 + k) % len(accounts)] for k in range(per_client)], c, False)
            for c in range(clients)]
    cpu0 = cpu_seconds(server.pid())
    perf = ceilings.FsyncCounter()
    res = run_in_procs(deliver_worker, [(server.ports["lmtp"],) + j for j in jobs])
    fsyncs = perf.stop()
    stats = Stats()
    for st, _, _ in res:
        stats.merge(st)
    n = len(stats.latencies)
    out = {"msgs_per_s": n / max(r[2] for r in res), "p99_ms": pct(stats.latencies, 99) * 1000,
           "errors": stats.errors, "cpu_s": cpu_seconds(server.pid()) - cpu0}
    if fsyncs is not None and n:
        out["fsyncs_per_msg"] = fsyncs / n
    return out


def large_worker(port, ops):
    stats = Stats()
    out = {}

    async def qresync_after_changes(c, n_changes, total):
        """A second device changes flags on `n_changes` messages; this one
        then resynchronises with QRESYNC from the state it had."""
        c.lines = []
        await c.cmd("ENABLE QRESYNC")
        await c.cmd("SELECT INBOX")
        uidvalidity = modseq = None
        for line in c.lines:
            m = re.search(rb"UIDVALIDITY (\d+)", line)
            uidvalidity = m.group(1).decode() if m else uidvalidity
            m = re.search(rb"HIGHESTMODSEQ (\d+)", line)
            modseq = m.group(1).decode() if m else modseq
        c.lines = None
        await c.cmd("UNSELECT")
        other = Imap(stats)
        await other.connect(port, False)
        await other.cmd(f"LOGIN large@{DOMAIN} {PASSWORD}")
        await other.cmd("SELECT INBOX")
        # Set or clear, whichever undoes the previous round.
        other.lines = []
        await other.cmd("FETCH 1 (FLAGS)")
        flagged = "-" if any(b"\\Flagged" in x for x in other.lines) else "+"
        other.lines = None
        step = max(1, total // n_changes)
        for k in range(min(n_changes, total)):
            await other.cmd(f"STORE {1 + k * step} {flagged}FLAGS.SILENT (\\Flagged)")
        await other.cmd("LOGOUT")
        other.close()
        t0 = time.perf_counter()
        status = await c.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
        return time.perf_counter() - t0, status

    async def main():
        c = Imap(stats)
        await c.connect(port, False)
        await c.cmd(f"LOGIN large@{DOMAIN} {PASSWORD}")
        for name, command in ops:
            if name == "qresync_100":
                out[name], status = await qresync_after_changes(c, 100, int(command))
            else:
                t0 = time.perf_counter()
                status = await c.cmd(command)
                out[name] = time.perf_counter() - t0
            if status != b"OK":
                out[name + "_status"] = status.decode()
        await c.cmd("LOGOUT")
        c.close()

    asyncio.run(main())
    return out, stats.errors


def workload_large(server, layout, cold):
    n = layout.large_msgs
    ops = [("select", "SELECT INBOX"),
           ("fetch_uid_flags", "FETCH 1:* (UID FLAGS)"),
           ("fetch_last50_env", f"UID FETCH {n - 49}:* (UID ENVELOPE)"),
           ("search_subject", "SEARCH SUBJECT \"budget concert\""),
           ("search_body", "SEARCH BODY \"weekly garden\""),
           ("qresync_100", str(n))]
    out = {}
    if cold:
        ops = ops[:1]
        if not getattr(server, "imported", False):
            # The first SELECT ever of a Maildir a server has not seen (a
            # migration) may do more than an index rebuild: Roost renames
            # each file once to carry its UID and size. Timed apart.
            server.stop()
            server.drop_indexes()
            server.start()
            res, errors = run_in_procs(large_worker, [(server.ports["imap"], ops)])[0]
            out["first_import_s"] = res["select"]
            server.imported = True
        server.stop()
        server.drop_indexes()
        server.start()
    res, errors = run_in_procs(large_worker, [(server.ports["imap"], ops)])[0]
    out.update({f"{k}_s": v for k, v in res.items() if isinstance(v, float)})
    out.update({k: v for k, v in res.items() if not isinstance(v, float)})
    out["errors"] = errors
    return out


# ---------------------------------------------------------------- report --

def summarise(results):
    """Median per server and ratio Roost/Dovecot per metric."""
    rows = []
    for wl, per_server in results.items():
        metrics = sorted({k for runs in per_server.values() for r in runs for k in r
                          if isinstance(r[k], (int, float))})
        for m in metrics:
            vals = {s: [r[m] for r in runs if m in r] for s, runs in per_server.items()}
            if not all(vals.get(s) for s in ("roost", "dovecot")):
                continue
            med = {s: statistics.median(v) for s, v in vals.items()}
            ratios = [a / b for a, b in zip(vals["roost"], vals["dovecot"]) if b]
            rows.append({"workload": wl, "metric": m, "roost": med["roost"],
                         "dovecot": med["dovecot"],
                         "ratio": med["roost"] / med["dovecot"] if med["dovecot"] else None,
                         "ratio_min": min(ratios) if ratios else None,
                         "ratio_max": max(ratios) if ratios else None,
                         "roost_runs": vals["roost"], "dovecot_runs": vals["dovecot"]})
    return rows


def write_report(out_dir: Path, meta, results, rows):
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / datetime.date.today().isoformat()
    stem.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "results": results, "summary": rows}, indent=1))
    lines = [f"# Roost / Dovecot, {meta['date']}", "",
             f"{meta['machine']}; {meta['rounds']} rounds per workload, servers alternating. "
             "Ratio = Roost median / Dovecot median; spread = min..max of the per-round ratios. "
             "Higher is better for rates, lower for times, latencies, memory and CPU.", "",
             "| workload | metric | Roost | Dovecot | ratio | spread |",
             "|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['metric']} | {r['roost']:.4g} | {r['dovecot']:.4g} "
                     f"| {r['ratio']:.3g} | {r['ratio_min']:.3g}..{r['ratio_max']:.3g} |"
                     if r["ratio"] is not None else
                     f"| {r['workload']} | {r['metric']} | {r['roost']:.4g} | {r['dovecot']:.4g} | - | - |")
    lines += ["", "Ceilings of this machine, measured without a mail server (bench/ceilings.py):", "",
              "| what | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.4g} |" for k, v in meta.get("ceilings", {}).items()]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        shown = [r for r in rows if r["ratio"] and r["metric"] not in ("errors",)]
        fig, ax = plt.subplots(figsize=(10, max(3, 0.35 * len(shown))))
        y = range(len(shown))
        ax.barh(list(y), [r["ratio"] for r in shown],
                xerr=[[r["ratio"] - r["ratio_min"] for r in shown],
                      [r["ratio_max"] - r["ratio"] for r in shown]], color="#4a7ab5")
        ax.set_yticks(list(y))
        ax.set_yticklabels([f"{r['workload']}: {r['metric']}" for r in shown], fontsize=8)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("Roost / Dovecot (median; bars = min..max of rounds)")
        ax.set_xscale("log")
        fig.tight_layout()
        fig.savefig(stem.with_suffix(".png"), dpi=110)
    except ImportError:
        progress("matplotlib missing (run with Debian's /usr/bin/python3): no chart")
        stem.with_suffix(".png").unlink(missing_ok=True)  # an older run's chart would mislead
    return stem


# ------------------------------------------------------------------ main --

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=str(HERE.parent / "build-release"))
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10, help="length of each timed run")
    ap.add_argument("--quick", action="store_true", help="small corpus, 1 round (minutes)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny corpus, 1 round, short runs: checks the harness, not the servers")
    ap.add_argument("--only", default="", help="comma list of workloads")
    args = ap.parse_args()
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    if size != "full":
        args.rounds = min(args.rounds, 1)
        args.seconds = min(args.seconds, 1 if args.smoke else 4)
    work = Path(args.work)
    layout = Layout(size)
    src = work / ("corpus" if size == "full" else f"corpus-{size}")
    layout.generate(src)
    cert, key = make_cert(work / "tls")
    servers = [Roost(work / "roost", layout.users, cert, key, args.build),
               Dovecot(work / "dovecot", layout.users, cert, key)]
    for s in servers:
        s.root.mkdir(parents=True, exist_ok=True)
        install(s, layout, src)
        s.write()  # config for this run's ports; Dovecot: ownership of the mail
    workloads = {
        "mixed_50_plain_reconnect": lambda s: workload_mixed(s, layout, 50, False, True, args.seconds),
        "mixed_50_tls_reconnect": lambda s: workload_mixed(s, layout, 50, True, True, args.seconds),
        "mixed_50_plain_long": lambda s: workload_mixed(s, layout, 50, False, False, args.seconds),
        "mixed_200_tls_long": lambda s: workload_mixed(s, layout, 200, True, False, args.seconds),
        "pop3_retr_tls": lambda s: workload_pop3(s, layout, True),
        "pop3_retr_plain": lambda s: workload_pop3(s, layout, False),
        "login_storm_tls": lambda s: workload_login(s, layout, args.seconds),
        "lmtp_1_client": lambda s: workload_delivery(s, layout, 1, args.seconds),
        "lmtp_8_clients": lambda s: workload_delivery(s, layout, 8, args.seconds),
        "large_cold_select": lambda s: workload_large(s, layout, True),
        "large_warm": lambda s: workload_large(s, layout, False),
        "idle_tls": (lambda s: workload_idle(s, layout, 5, 6, 1)) if args.smoke else
                    (lambda s: workload_idle(s, layout)),
    }
    only = [w for w in args.only.split(",") if w]
    unknown = [w for w in only if w not in workloads]
    if unknown:
        ap.error(f"unknown workload(s): {', '.join(unknown)}; known: {', '.join(workloads)}")
    progress("measuring this machine's ceilings (no mail server involved)")
    pop_bytes = sum(f.stat().st_size for f in (src / "popbulk").rglob("*") if f.is_file())
    ceiling = ceilings.measure(cert, key, work, pop_bytes, crypt_hash(PASSWORD), PASSWORD,
                               size != "full")
    results = {}
    failures = 0
    for s in servers:
        s.start()
    try:
        for wl, fn in workloads.items():
            if only and wl not in only:
                continue
            results[wl] = {s.name: [] for s in servers}
            for rnd in range(1, args.rounds + 1):
                for s in servers:
                    progress(f"{wl}: round {rnd}/{args.rounds}, {s.name}")
                    try:
                        r = fn(s)
                    except Exception as e:  # a failed run is reported, not hidden
                        r = {"failed": repr(e)}
                    # A session that never heard its EXISTS is Roost's bug
                    # but only a figure for the server it is compared with.
                    if ("failed" in r or r.get("errors") or
                            (s.name == "roost" and r.get("notify_missed"))):
                        failures += 1
                        progress(f"  not clean: {r}")
                    results[wl][s.name].append(r)
    finally:
        for s in servers:
            s.stop()
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "rounds": args.rounds, "seconds": args.seconds, "size": size,
            "dovecot": subprocess.run(["dovecot", "--version"], capture_output=True,
                                      text=True).stdout.strip(),
            "ceilings": ceiling, "unclean_runs": failures}
    rows = summarise(results)
    stem = write_report(Path(args.results), meta, results, rows)
    written = [x for x in (".json", ".md", ".png") if stem.with_suffix(x).exists()]
    progress(f"wrote {stem}: {', '.join(written)}")
    print(Path(str(stem) + ".md").read_text())
    if failures:
        progress(f"{failures} run(s) failed or saw protocol errors (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
