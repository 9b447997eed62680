#!/usr/bin/env python3
"""Footprint benchmark: memory and CPU of each process while the pipeline
is idle between two polls.

    python3 bench/footprint.py --bin <cmake build dir> [--window 20] [--json]

Starts the simulators and the four stages (x3.poll_interval 60 s), lets a
first poll deliver a few purchase orders, waits until the simulated Slack
holds them, then measures each stage over a --window second window that
falls between two polls: RSS at its end (VmRSS) and the peak (VmHWM),
CPU time used in the window from /proc/PID/task/*/schedstat (nanoseconds,
every thread, so ZeroMQ's I/O threads count too) and the number of
context switches (wake-ups) in it. JSON on stdout with --json; a summary
on stderr. Image size needs a Docker engine and is not measured here.
"""
import argparse
import glob
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
import harness  # noqa: E402


def cpu_ns(pid):
    total = 0
    for f in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(f) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just exited
    return total


def switches(pid):
    total = 0
    for f in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(f) as fh:
                for line in fh:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def rollup_kb(pid, key):
    """A field of /proc/PID/smaps_rollup (kB), None if unreadable."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def threads(pid):
    return len(glob.glob("/proc/%d/task/*" % pid))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--window", type=float, default=20.0, help="seconds measured, < poll interval")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    p = harness.Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "20", "--entities", "po", "--seed", "3"],
                         slack_args=["--rate-interval-ms", "0"], keep=a.keep, log_level="warn",
                         poll_interval="60s", min_interval="0s")
    try:
        with open(p.config) as f:
            cfg = f.read()
        if "notify:" not in cfg:
            cfg = cfg.replace("      key: POHNUM\n", "      key: POHNUM\n      notify: [approved, modified, created]\n", 1)
        if "\nauditor:" not in cfg and "http_listen" not in cfg:
            # The auditor's HTTP listener has a fixed default port: off here,
            # so a benchmark never collides with another pipeline.
            cfg = cfg.rstrip("\n") + '\nauditor:\n  http_listen: ""\n'
        with open(p.config, "w") as f:
            f.write(cfg)
        t_start = time.monotonic()
        p.start_all()
        harness.wait_for(lambda: p.slack.get("/sim/stats")["posted"] >= 20, 30, "the first poll's 20 messages")
        # Let acknowledgements and audit events settle before measuring.
        time.sleep(3)
        if time.monotonic() - t_start + a.window > 58:
            raise SystemExit("the window would reach the next poll; use a shorter --window")
        pids = {name: pr.pid for name, pr in p.procs.items()}
        c0 = {k: cpu_ns(v) for k, v in pids.items()}
        s0 = {k: switches(v) for k, v in pids.items()}
        t0 = time.monotonic()
        time.sleep(a.window)
        dt = time.monotonic() - t0
        res = {"window_s": round(dt, 2), "poll_interval_s": 60, "processes": {}}
        for k, v in pids.items():
            res["processes"][k] = {
                "rss_kb": status_kb(v, "VmRSS"),
                "peak_rss_kb": status_kb(v, "VmHWM"),
                # Private memory vs pages of shared libraries (counted in
                # every process that maps them, but stored once).
                "rss_anon_kb": status_kb(v, "RssAnon"),
                "rss_file_kb": status_kb(v, "RssFile"),
                # Proportional set size: shared library pages divided among
                # the processes mapping them (the stages and simulators
                # share most of theirs), i.e. what this process costs.
                "pss_kb": rollup_kb(v, "Pss"),
                "cpu_ms_in_window": round((cpu_ns(v) - c0[k]) / 1e6, 3),
                "cpu_percent": round((cpu_ns(v) - c0[k]) / 1e9 / dt * 100, 4),
                "wakeups_per_s": round((switches(v) - s0[k]) / dt, 2),
                "threads": threads(v),
            }
        res["image_size"] = "not measured: needs a Docker engine (none on the build machines)"
    finally:
        p.close()
    if a.json:
        print(json.dumps(res))
    for k, v in res["processes"].items():
        print("footprint: %-13s RSS %6d kB (peak %6d kB, anonymous %5d kB, PSS %s kB), %.3f ms CPU in %.0f s idle, "
              "%.2f wake-ups/s, %d threads"
              % (k, v["rss_kb"], v["peak_rss_kb"], v["rss_anon_kb"], v["pss_kb"], v["cpu_ms_in_window"],
                 res["window_s"], v["wakeups_per_s"], v["threads"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
