#!/usr/bin/env python3
"""Throughput benchmark: a backlog of record versions through the whole
pipeline (poller -> formatter -> dispatcher -> Slack, every stage journaling
durably in LMDB and audited) into unthrottled simulators.

    python3 bench/throughput.py --bin <cmake build dir> [--records 100000]
                                [--dispatchers 1] [--no-wrk] [--json]

Set-up: mlc-x3sim holds --records purchase orders (--initial N --rate 0),
each a new version the poller turns into one record (notify includes
`created`); 24 routes, one per (supplier, site) pair of the simulator's
data, send each record to exactly one of 24 channels, so one request in
flight per channel is not the limit; slack.min_interval 0 and mlc-slacksim
--rate-interval-ms 0, so pacing is not either. x3.page_size 1000.

Measured: wall time from starting the stages to the simulator holding the
last message; records/s end to end; CPU seconds per 1,000 records of each
stage (utime+stime from /proc/PID/stat) and of the simulators; peak RSS of
each process (VmHWM). Then, as the ceiling on the same machine, the Slack
simulator's own chat.postMessage rate under `wrk` (2 threads, 64
connections, 5 s). JSON on stdout with --json; a summary on stderr.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """utime + stime of a process in seconds (fields 14 and 15 of stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return None


def sim_pairs():
    """(supplier codes, site codes) of the X3 simulator's generated data."""
    with open(os.path.join(ROOT, "sim", "x3sim", "gen.c")) as f:
        src = f.read()
    block = re.search(r"suppliers\[\]\s*=\s*\{(.*?)\n\};", src, re.S).group(1)
    suppliers = re.findall(r'\{\s*"([A-Z0-9]+)"\s*,', block)
    sites = re.findall(r'"([A-Z0-9]+)"', re.search(r"\*sites\[\]\s*=\s*\{([^}]*)\}", src).group(1))
    if not suppliers or not sites:
        raise SystemExit("cannot read the simulator's suppliers and sites from sim/x3sim/gen.c")
    return suppliers, sites


def routes_yaml(suppliers, sites):
    out = []
    for sp in suppliers:
        for st in sites:
            out.append('  - name: b-%s-%s\n    entity: purchase_order\n    suppliers: [%s]\n'
                       '    sites: [%s]\n    channel: "#bench-%s-%s"\n'
                       % (sp.lower(), st.lower(), sp, st, sp.lower(), st.lower()))
    return "".join(out)


def wrk_ceiling(bindir, seconds=5):
    """chat.postMessage requests/s the Slack simulator answers under wrk."""
    if shutil.which("wrk") is None:
        return {"error": "wrk not installed (Debian package wrk; bench/run_all.sh installs it)"}
    tmp = tempfile.mkdtemp(prefix="mlc-wrk-")
    env = dict(os.environ, SLACK_BOT_TOKEN="xoxb-bench-token")
    sim = harness.Sim(os.path.join(bindir, "sim", "mlc-slacksim"), ["--rate-interval-ms", "0"], tmp, "slacksim", env)
    try:
        lua = os.path.join(tmp, "post.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\n'
                    'wrk.headers["Content-Type"] = "application/json; charset=utf-8"\n'
                    'wrk.headers["Authorization"] = "Bearer xoxb-bench-token"\n'
                    'local n = 0\n'
                    'request = function()\n'
                    '  n = n + 1\n'
                    '  local body = string.format(\'{"channel":"#wrk-%d","text":"wrk %d"}\', n % 24, n)\n'
                    '  return wrk.format(nil, nil, nil, body)\n'
                    'end\n')
        r = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds, "-s", lua, sim.url + "/api/chat.postMessage"],
                           capture_output=True, text=True, timeout=seconds + 30)
        m = re.search(r"Requests/sec:\s*([\d.]+)", r.stdout)
        non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", r.stdout)
        stats = sim.get("/sim/stats")
        return {"requests_per_s": float(m.group(1)) if m else None,
                "non_2xx": int(non2xx.group(1)) if non2xx else 0,
                "posted": stats.get("posted"), "seconds": seconds,
                "command": "wrk -t2 -c64 -d%ds -s post.lua %s/api/chat.postMessage" % (seconds, "http://127.0.0.1:PORT")}
    finally:
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="cmake build directory (a release build)")
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--dispatchers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed for the backlog")
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    n = a.records
    suppliers, sites = sim_pairs()
    t_load = time.monotonic()
    p = harness.Pipeline(a.bin, x3_args=["--rate", "0", "--initial", str(n), "--entities", "po", "--seed", "7",
                                         "--max-versions", str(max(n * 2, 1000))],
                         slack_args=["--rate-interval-ms", "0"], keep=a.keep, n_dispatchers=a.dispatchers,
                         log_level="warn", page_size=1000, poll_interval="1s", min_interval="0s",
                         resend_after="3s", slack_timeout="10s")
    load_s = time.monotonic() - t_load
    res = {"records": n, "dispatchers": a.dispatchers, "channels": len(suppliers) * len(sites)}
    try:
        with open(p.config) as f:
            cfg = f.read()
        if "notify:" not in cfg:
            cfg = cfg.replace("      key: POHNUM\n", "      key: POHNUM\n      notify: [approved, modified, created]\n", 1)
        cfg = cfg.replace("  initial_window: 24h\n", "  initial_window: 3650d\n")
        # Replace the routes section (up to the next top-level key) with ours.
        b = cfg.index("\nroutes:\n") + len("\nroutes:\n")
        nxt = re.search(r"^[a-z_]+:", cfg[b:], re.M)
        e = b + nxt.start() if nxt else len(cfg)
        cfg = cfg[:b] + routes_yaml(suppliers, sites) + cfg[e:]
        if "\nauditor:" not in cfg and "http_listen" not in cfg:
            # The auditor's HTTP listener has a fixed default port: off here,
            # so a benchmark never collides with another pipeline.
            cfg = cfg.rstrip("\n") + '\nauditor:\n  http_listen: ""\n'
        with open(p.config, "w") as f:
            f.write(cfg)
        t0 = time.monotonic()
        p.start_all()
        pids = {name: pr.pid for name, pr in p.procs.items()}
        pids["x3sim"] = p.x3.proc.pid
        pids["slacksim"] = p.slack.proc.pid
        cpu0 = {k: proc_cpu_s(v) for k, v in pids.items()}
        deadline = t0 + a.timeout
        posted = 0
        last_report = t0
        while True:
            posted = p.slack.get("/sim/stats")["posted"]
            now = time.monotonic()
            if posted >= n:
                break
            for name in p.names():
                if not p.alive(name):
                    raise SystemExit("%s died:\n%s" % (name, p.log_text(name)[-2000:]))
            if now > deadline:
                raise SystemExit("only %d of %d messages after %.0f s" % (posted, n, now - t0))
            if now - last_report > 10:
                print("throughput: %d/%d posted after %.0f s" % (posted, n, now - t0), file=sys.stderr, flush=True)
                last_report = now
            time.sleep(0.1)
        wall = time.monotonic() - t0
        cpu = {k: proc_cpu_s(v) - cpu0[k] for k, v in pids.items()}
        hwm = {k: proc_status(v, "VmHWM") for k, v in pids.items()}
        stages = [k for k in pids if k not in ("x3sim", "slacksim")]
        stats = p.slack.get("/sim/stats")
        res.update({
            "x3sim_load_s": round(load_s, 1),
            "wall_s": round(wall, 2),
            "records_per_s": round(n / wall),
            "posted": stats["posted"],
            "ratelimited": stats.get("ratelimited"),
            "cpu_s_per_1000": {k: round(cpu[k] / n * 1000, 4) for k in pids},
            "cpu_s_per_1000_stages_total": round(sum(cpu[k] for k in stages) / n * 1000, 4),
            "peak_rss_kb": hwm,
        })
    finally:
        p.close()
    if not a.no_wrk:
        res["wrk_slacksim"] = wrk_ceiling(a.bin)
    if a.json:
        print(json.dumps(res))
    s = res
    print("throughput: %d records in %.2f s = %d records/s end to end; CPU s/1000 records: %s; peak RSS kB: %s%s"
          % (n, s["wall_s"], s["records_per_s"], s["cpu_s_per_1000"], s["peak_rss_kb"],
             ("; slacksim under wrk: %s req/s" % s["wrk_slacksim"].get("requests_per_s")) if "wrk_slacksim" in s else ""),
          file=sys.stderr)
    return 0 if s["posted"] >= n else 1


if __name__ == "__main__":
    sys.exit(main())
