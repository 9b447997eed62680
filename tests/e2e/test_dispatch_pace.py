"""The dispatcher at Slack's pace: per-channel pacing with all channels in
parallel, a 429 on one channel delaying only that channel, and replicas
sharing the channels without doubling a post.

The dispatchers get their messages straight from mlc-pace-feed (as the
formatter would send them); the Slack simulator enforces 1 post/s per
channel with burst 1 and answers 429 otherwise."""
import os
import subprocess

import harness
from harness import Pipeline, wait_for

RATE = ["--rate-interval-ms", "1000", "--burst", "1"]


def start(p):
    p.start("auditor")
    for i in range(p.n_dispatchers):
        p.start("dispatcher-%d" % i)
    # Each dispatcher calls auth.test once it is up.
    wait_for(lambda: sum(1 for c in p.slack.get("/sim/calls")["calls"]
                         if c["method"] == "auth.test") >= p.n_dispatchers, 30, "dispatchers up")


def feed(p, channels, messages, prefix, run="r1"):
    exe = os.path.join(p.bindir, "dispatcher", "mlc-pace-feed")
    r = subprocess.run([exe, "-c", p.config, "--channels", str(channels), "--messages", str(messages),
                        "--prefix", prefix, "--run", run], capture_output=True, text=True,
                       timeout=60, env=p.env)
    assert r.returncode == 0, r.stdout + r.stderr


def by_channel(msgs):
    out = {}
    for m in msgs:
        out.setdefault(m["channel_name"], []).append(m)
    return out


def assert_exactly_once(msgs, want):
    ids = [m["metadata"]["event_payload"]["msg_id"] for m in msgs]
    doubled = {i for i in ids if ids.count(i) > 1}
    assert not doubled, "posted twice: %s" % sorted(doubled)[:5]
    assert len(ids) == want, (len(ids), want)


def test_20_channels_x_5_messages_at_1_per_s_without_a_429(a):
    p = Pipeline(a.bin, slack_args=RATE, keep=a.keep, min_interval="1s")
    try:
        start(p)
        feed(p, 20, 5, "pace")
        wait_for(lambda: p.slack.get("/sim/stats")["posted"] >= 100, 40, "100 messages")
        msgs = p.messages()
        assert_exactly_once(msgs, 100)
        assert p.slack.get("/sim/stats")["ratelimited"] == 0, p.slack.get("/sim/stats")
        at = [m["received_at_ms"] for m in msgs]
        wall = (max(at) - min(at)) / 1000.0
        # Floor 4 s; a loaded CI host gets a generous margin.
        assert wall <= 4.0 + 4.0, "took %.2f s" % wall
        for name, ms in by_channel(msgs).items():
            assert [m["text"].split()[-1] for m in ms] == ["0", "1", "2", "3", "4"], name
        # The auditor's metrics: a stats event while busy and one when drained.
        def drained():
            st = [e for e in p.audit() if e["kind"] == "stats"]
            return st if st and st[-1]["backlog"] == 0 else None
        st = wait_for(drained, 20, "a stats event with backlog 0")
        assert any(e["backlog"] > 0 for e in st), st
        for k in ("channels", "dead_letters", "ratelimited_total", "retries_total", "posted_total"):
            assert k in st[-1], (k, st[-1])
        assert st[-1]["posted_total"] == 100, st[-1]
        posts = [e for e in p.audit() if e["kind"] == "post"]
        assert all(isinstance(e.get("latency_ms"), int) for e in posts), posts[:2]
        print("  20 x 5: first->last stored %.2f s (floor 4 s)" % wall)
    finally:
        p.close()


def test_429_with_retry_after_5_on_one_channel_leaves_19_at_1_per_s(a):
    p = Pipeline(a.bin, slack_args=RATE, keep=a.keep, min_interval="1s")
    try:
        start(p)
        p.slack.post("/sim/fault", {"channel": "#iso-0", "ratelimit": "once", "retry_after": 5})
        feed(p, 20, 5, "iso")
        wait_for(lambda: p.slack.get("/sim/stats")["posted"] >= 100, 40, "100 messages")
        msgs = p.messages()
        assert_exactly_once(msgs, 100)
        chans = by_channel(msgs)
        t0 = min(m["received_at_ms"] for m in msgs)
        slow = chans.pop("iso-0")
        # The limited channel waited its 5 s ...
        assert slow[0]["received_at_ms"] - t0 >= 4800, slow[0]["received_at_ms"] - t0
        # ... while every other channel kept its pace: 1 s apart, not more
        # than a loaded host's slack, all done before the slow one began.
        for name, ms in chans.items():
            at = [m["received_at_ms"] for m in ms]
            gaps = [b - x for x, b in zip(at, at[1:])]
            assert all(990 <= g <= 2000 for g in gaps), (name, gaps)
            assert at[0] - t0 < 1500, (name, at[0] - t0)
        calls = p.slack.get("/sim/calls")["calls"]
        limited = [c for c in calls if c["status"] == 429]
        assert len(limited) == 1, limited
        ev = [e for e in p.audit() if e["kind"] == "post" and e["outcome"] == "ratelimited"]
        assert len(ev) == 1 and ev[0]["channel"] == "#iso-0", ev
    finally:
        p.close()


def test_three_replicas_30_channels_keep_pace_and_post_each_once(a):
    p = Pipeline(a.bin, slack_args=RATE, keep=a.keep, min_interval="1s", n_dispatchers=3)
    try:
        start(p)
        feed(p, 30, 4, "rep")
        wait_for(lambda: p.slack.get("/sim/stats")["posted"] >= 120, 40, "120 messages")
        msgs = p.messages()
        assert_exactly_once(msgs, 120)
        assert p.slack.get("/sim/stats")["ratelimited"] == 0
        for name, ms in by_channel(msgs).items():
            at = [m["received_at_ms"] for m in ms]
            assert all(b - x >= 990 for x, b in zip(at, at[1:])), (name, at)
        # The channels really were shared: each replica posted some, and
        # each channel was posted by one replica only.
        def journaled():
            ev = [e for e in p.audit() if e["kind"] == "post" and e["outcome"] == "posted"]
            return ev if len(ev) == 120 else None
        ev = wait_for(journaled, 20, "120 posts journaled")
        owners = {}
        for e in ev:
            owners.setdefault(e["channel"], set()).add(e["from"])
        assert all(len(o) == 1 for o in owners.values()), owners
        assert len({e["from"] for e in ev}) == 3, {e["from"] for e in ev}
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_20_channels_x_5_messages_at_1_per_s_without_a_429,
                 test_429_with_retry_after_5_on_one_channel_leaves_19_at_1_per_s,
                 test_three_replicas_30_channels_keep_pace_and_post_each_once])
