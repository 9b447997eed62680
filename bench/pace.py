#!/usr/bin/env python3
"""Pacing benchmark: N channels x M messages through mlc-dispatcher into
mlc-slacksim enforcing 1 post/s per channel with burst 1.

    python3 bench/pace.py --bin <cmake build dir> [--channels 200] [--messages 10]
                          [--dispatchers 1] [--json]

Starts the Slack simulator (--rate-interval-ms 1000 --burst 1), an auditor
and the dispatcher(s) (slack.min_interval 1s, burst 1) on ipc endpoints in a
temp dir, pushes every message frame into the dispatchers at once with
mlc-pace-feed (as the formatter would), then waits until the simulator holds
them all. It reports the wall time from the first to the last message the
simulator stored (the floor is (M - 1) seconds), the 429s the simulator
answered, and whether every message arrived exactly once. Exit status 0 when
all arrived exactly once with zero 429s. Stdlib only.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="cmake build directory")
    ap.add_argument("--channels", type=int, default=200)
    ap.add_argument("--messages", type=int, default=10)
    ap.add_argument("--dispatchers", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    want = a.channels * a.messages
    p = harness.Pipeline(a.bin, slack_args=["--rate-interval-ms", "1000", "--burst", "1"],
                         keep=a.keep, n_dispatchers=a.dispatchers, min_interval="1s",
                         log_level=os.environ.get("PACE_LOG", "warn"))
    try:
        p.start("auditor")
        for i in range(a.dispatchers):
            p.start("dispatcher-%d" % i)
        # Each dispatcher calls auth.test once it is up: feed after that, so
        # that what is measured is the pacing, not the start-up.
        harness.wait_for(lambda: sum(1 for c in p.slack.get("/sim/calls")["calls"]
                                     if c["method"] == "auth.test") >= a.dispatchers,
                         30, "the dispatchers to start")
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(a.bin, "dispatcher", "mlc-pace-feed"), "-c", p.config,
                            "--channels", str(a.channels), "--messages", str(a.messages),
                            "--prefix", "pace", "--run", "bench"],
                           capture_output=True, text=True, timeout=120, env=p.env)
        if r.returncode != 0:
            raise SystemExit("mlc-pace-feed failed: " + r.stderr)
        fed = time.monotonic() - t0
        harness.wait_for(lambda: p.slack.get("/sim/stats")["posted"] >= want,
                         60 + 2 * a.messages, "all %d messages in the simulator" % want, interval=0.2)
        msgs = p.messages()
        stats = p.slack.get("/sim/stats")
        ids = [m["metadata"]["event_payload"]["msg_id"] for m in msgs]
        at = [m["received_at_ms"] for m in msgs]
        wall = (max(at) - min(at)) / 1000.0
        per = {}
        for m in msgs:
            per.setdefault(m["channel"], []).append(m["received_at_ms"])
        firsts = [min(v) for v in per.values()]
        gaps = sorted(b - a_ for v in per.values() for a_, b in zip(sorted(v), sorted(v)[1:]))
        res = {
            "channels": a.channels, "messages_per_channel": a.messages,
            "dispatchers": a.dispatchers, "delivered": len(msgs),
            "distinct": len(set(ids)), "ratelimited": stats["ratelimited"],
            "wall_s": round(wall, 3), "floor_s": float(a.messages - 1),
            "feed_s": round(fed, 3),
            # Where the time above the floor goes: channels starting late
            # (the feed takes ~1 s) and the gap between posts on a channel.
            "first_spread_s": round((max(firsts) - min(firsts)) / 1000.0, 3) if firsts else 0,
            "median_gap_ms": gaps[len(gaps) // 2] if gaps else 0,
            "max_channel_span_s": round(max(max(v) - min(v) for v in per.values()) / 1000.0, 3)
            if per else 0,
        }
        if os.environ.get("PACE_DETAIL"):
            f0 = min(firsts)
            fs = sorted(f - f0 for f in firsts)
            q = lambda v, x: v[min(len(v) - 1, int(x * len(v)))]
            res["first_offsets_ms"] = [q(fs, x) for x in (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)]
            res["gap_ms_pcts"] = [q(gaps, x) for x in (0.1, 0.5, 0.9, 0.99, 1.0)]
            ends = sorted(max(v) - f0 for v in per.values())
            res["end_offsets_ms"] = [q(ends, x) for x in (0.0, 0.5, 0.9, 1.0)]
        ok = res["delivered"] == want and res["distinct"] == want and res["ratelimited"] == 0
        if a.json:
            print(json.dumps(res))
        else:
            print("%(delivered)d delivered (%(distinct)d distinct), %(ratelimited)d x 429, "
                  "first->last stored %(wall_s).3f s (floor %(floor_s).0f s); "
                  "frames fed in %(feed_s).2f s; first posts spread over %(first_spread_s).3f s, "
                  "median gap %(median_gap_ms)d ms, longest channel %(max_channel_span_s).3f s" % res)
        return 0 if ok else 1
    finally:
        p.close()


if __name__ == "__main__":
    sys.exit(main())
