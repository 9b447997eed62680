"""The dispatcher's error classes (reference/slack.md section 1) and its
no-duplicates rule, against faults switched on in the Slack simulator:

- 5xx, service_unavailable, internal_error, resets: retried with backoff,
  in-doubt ones looked up in conversations.history first, posted once;
- a message error: that message dead-lettered (with what replay needs);
- a channel error: every message of that channel dead-lettered, one alert;
- a token error: all posting stops, one alert;
- token_expired with rotation: see test_dispatch_rotation.py;
- store-then-drop on 10% of posts with the dispatcher killed mid-run:
  every message exactly once in Slack;
- without the channels:history scope: said once, resends marked in_doubt.
"""
import os
import subprocess
import time

import harness
from harness import Pipeline, wait_for

NO_RATE = ["--rate-interval-ms", "0"]


def start(p):
    p.start("auditor")
    for i in range(p.n_dispatchers):
        p.start("dispatcher-%d" % i)
    wait_for(lambda: sum(1 for c in p.slack.get("/sim/calls")["calls"]
                         if c["method"] == "auth.test") >= p.n_dispatchers, 30, "dispatchers up")


def feed(p, channels, messages, prefix, run="r1"):
    exe = os.path.join(p.bindir, "dispatcher", "mlc-pace-feed")
    r = subprocess.run([exe, "-c", p.config, "--channels", str(channels), "--messages", str(messages),
                        "--prefix", prefix, "--run", run], capture_output=True, text=True,
                       timeout=60, env=p.env)
    assert r.returncode == 0, r.stdout + r.stderr


def msg_ids(p):
    return [m["metadata"]["event_payload"]["msg_id"] for m in p.messages()]


def posts(p, channel=None):
    return [e for e in p.audit() if e["kind"] == "post" and (channel is None or e["channel"] == channel)]


def final_outcomes(p, n):
    def done():
        ev = [e for e in posts(p) if e["outcome"] in ("posted", "failed")]
        return ev if len(ev) >= n else None
    return wait_for(done, 40, "%d final outcomes" % n)


def test_each_error_class_has_its_outcome_audit_and_alert(a):
    p = Pipeline(a.bin, slack_args=NO_RATE, keep=a.keep, min_interval="20ms")
    try:
        start(p)
        faults = [
            {"channel": "#ec-0", "http": 503, "count": 2},
            {"channel": "#ec-1", "error": "service_unavailable", "count": 1},
            {"channel": "#ec-2", "error": "internal_error", "count": 1},
            {"channel": "#ec-3", "reset": True, "count": 1},
            {"channel": "#ec-4", "error": "invalid_blocks", "count": 1},
            {"channel": "#ec-5", "error": "channel_not_found", "count": -1},
        ]
        for f in faults:
            p.slack.post("/sim/fault", f)
        feed(p, 6, 2, "ec")
        final_outcomes(p, 12)
        ids = msg_ids(p)
        assert len(ids) == len(set(ids)), "a message was posted twice"
        stored = {}
        for m in p.messages():
            stored[m["channel_name"]] = stored.get(m["channel_name"], 0) + 1
        # Retryable classes: both messages of ec-0..3 posted, once each.
        for ch in ("ec-0", "ec-1", "ec-2", "ec-3"):
            assert stored.get(ch) == 2, (ch, stored)
        ev = posts(p)
        by = lambda ch: [e for e in ev if e["channel"] == "#" + ch]
        assert [e["outcome"] for e in by("ec-0")][:2] == ["retry_in_doubt", "retry_in_doubt"], by("ec-0")
        assert by("ec-0")[0]["error"] == "http_503"
        # In doubt (5xx, internal_error, reset): looked up before the resend.
        for ch in ("ec-0", "ec-2", "ec-3"):
            fin = [e for e in by(ch) if e["outcome"] == "posted"]
            assert fin[0].get("checked_history") == 1 and "in_doubt" not in fin[0], (ch, fin)
        # No post had answered on those channels yet, so their IDs came from
        # conversations.list (Slack's history and info take IDs only).
        methods = [c["method"] for c in p.slack.get("/sim/calls")["calls"]]
        assert "conversations.list" in methods and "conversations.info" not in methods, \
            sorted(set(methods))
        assert by("ec-1")[0]["outcome"] == "retry" and by("ec-1")[0]["error"] == "service_unavailable"
        assert by("ec-2")[0]["outcome"] == "retry_in_doubt" and by("ec-2")[0]["error"] == "internal_error"
        # Message error: that message is a dead letter with what replay needs; the next is posted.
        f4 = [e for e in by("ec-4") if e["outcome"] == "failed"]
        assert len(f4) == 1 and f4[0]["error"] == "invalid_blocks", by("ec-4")
        for k in ("text", "blocks", "channel", "route", "record_id"):
            assert f4[0].get(k), (k, f4[0])
        assert stored.get("ec-4") == 1, stored
        # Channel error: both dead-lettered, one alert naming the channel.
        f5 = [e for e in by("ec-5") if e["outcome"] == "failed"]
        assert len(f5) == 2 and all(e["error"] == "channel_not_found" for e in f5), by("ec-5")
        assert "ec-5" not in stored
        # Later messages for the refused channel go straight to dead letters.
        feed(p, 6, 1, "ec", run="r2")
        final_outcomes(p, 18)
        f5 = [e for e in posts(p, "#ec-5") if e["outcome"] == "failed"]
        assert len(f5) == 3, f5
        tries = [c for c in p.slack.get("/sim/calls")["calls"]
                 if c["method"] == "chat.postMessage" and c["channel"] == "#ec-5"]
        assert len(tries) == 1, "Slack was asked again after a channel error: %d" % len(tries)
        alerts = [e for e in p.audit() if e["kind"] == "alert"]
        assert len(alerts) == 1 and alerts[0]["channel"] == "#ec-5" \
            and alerts[0]["error"] == "channel_not_found", alerts
        ids = msg_ids(p)
        assert len(ids) == len(set(ids)) == 4 * 3 + 1 * 1 + 1, len(ids)
    finally:
        p.close()


def test_token_error_stops_all_posting_with_one_alert(a):
    p = Pipeline(a.bin, slack_args=NO_RATE, keep=a.keep, min_interval="20ms")
    try:
        start(p)
        p.slack.post("/sim/fault", {"channel": "*", "error": "invalid_auth"})
        feed(p, 3, 2, "tok")
        wait_for(lambda: [e for e in p.audit() if e["kind"] == "alert"], 20, "an alert")
        time.sleep(1.5)  # would any other channel keep trying? (absence of an event)
        alerts = [e for e in p.audit() if e["kind"] == "alert"]
        assert len(alerts) == 1 and alerts[0]["error"] == "invalid_auth", alerts
        assert p.messages() == []
        tries = [c for c in p.slack.get("/sim/calls")["calls"] if c["method"] == "chat.postMessage"]
        assert len(tries) <= 3, "posting went on after the token error: %d" % len(tries)
        assert not [e for e in posts(p) if e["outcome"] in ("posted", "failed")]
    finally:
        p.close()


def test_store_then_drop_10pct_and_a_kill_mid_run_post_each_exactly_once(a):
    p = Pipeline(a.bin, slack_args=NO_RATE, keep=a.keep, min_interval="150ms")
    try:
        start(p)
        p.slack.post("/sim/fault", {"channel": "*", "store_then_drop": 10, "count": -1})
        feed(p, 20, 10, "std")
        wait_for(lambda: len(p.messages()) >= 60, 30, "60 stored")
        p.kill("dispatcher-0")
        p.start("dispatcher-0")
        wait_for(lambda: len(set(msg_ids(p))) == 200, 60, "all 200 messages")
        final_outcomes(p, 200)
        ids = msg_ids(p)
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        assert not doubled, "posted twice: %s" % doubled[:5]
        drops = [c for c in p.slack.get("/sim/calls")["calls"] if c.get("dropped")]
        assert drops, "the fault never fired"
        resolved = [e for e in posts(p) if e.get("resolved_by") == "history"]
        assert resolved, "no in-doubt post was resolved from history"
        print("  %d answers dropped, %d posts found in history instead of resent"
              % (len(drops), len(resolved)))
    finally:
        p.close()


def test_without_history_scope_resends_are_marked_in_doubt(a):
    p = Pipeline(a.bin, slack_args=NO_RATE + ["--scopes", "chat:write"], keep=a.keep,
                 min_interval="20ms")
    try:
        start(p)
        p.slack.post("/sim/fault", {"channel": "#ns-0", "store_then_drop": 100, "count": 1})
        feed(p, 1, 2, "ns")
        final_outcomes(p, 2)
        ids = msg_ids(p)
        assert len(ids) == 3 and len(set(ids)) == 2, ids   # the dropped one was resent
        fin = [e for e in posts(p) if e["outcome"] == "posted"]
        assert [e.get("in_doubt") for e in fin] == [1, None], fin
        warn = [e for e in p.audit() if e["kind"] == "warning"]
        assert len(warn) == 1 and "no channels:history scope" in warn[0]["message"], warn
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_each_error_class_has_its_outcome_audit_and_alert,
                 test_token_error_stops_all_posting_with_one_alert,
                 test_store_then_drop_10pct_and_a_kill_mid_run_post_each_exactly_once,
                 test_without_history_scope_resends_are_marked_in_doubt])
