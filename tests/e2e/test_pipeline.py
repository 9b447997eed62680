"""End to end: purchase orders from the X3 simulator reach the Slack
simulator through the four stages, each served version exactly once, with
the right fields, escaped, at Slack's pace, and audited."""
import json
import re
import time

import harness
from harness import Pipeline, wait_for
from test_x3_records import expected_events

# The harness's purchase_order entity notifies these events (docs/records.md).
NOTIFY = ("approved", "modified", "created")


def expected(p):
    """{record_id: event} for the served versions that must reach Slack: a
    version saved again with no change that matters is rightly not posted."""
    return expected_events("purchase_order", p.truth(), notify=NOTIFY)


def money(text):
    """'12345.6' -> '12,345.60' (the formatter's rendering), via integers."""
    neg = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    frac = (frac + "00")[:2]
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ("-" if neg else "") + ",".join(groups) + "." + frac


def slack_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def by_record(messages):
    out = {}
    for m in messages:
        rid = ((m.get("metadata") or {}).get("event_payload") or {}).get("record_id")
        out.setdefault(rid, []).append(m)
    return out


def converged(p):
    """True once every version that must be posted has reached Slack."""
    exp = expected(p)
    got = by_record(p.messages())
    return (exp and all(r in got for r in exp)) or None


def test_every_version_that_matters_arrives_exactly_once_with_its_fields(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "25", "--seed", "11"], keep=a.keep)
    try:
        p.start_all()
        wait_for(lambda: converged(p), 60, "first 25 purchase orders in Slack")
        # Changes while the pipeline runs: new orders and modified ones.
        for _ in range(3):
            p.x3.post("/sim/generate?n=15")
            wait_for(lambda: converged(p), 60, "generated changes in Slack")
        # Let a few more poll cycles pass: nothing more may arrive.
        cycles = lambda: sum(1 for e in p.audit() if e["kind"] == "poll")
        n = cycles()
        wait_for(lambda: cycles() >= n + 3, 30, "three more poll cycles")
        truth = p.truth()
        exp = expected(p)
        msgs = p.messages()
        got = by_record(msgs)
        assert set(got) == set(exp), "posted %s, expected %s" % (sorted(set(got) - set(exp)),
                                                               sorted(set(exp) - set(got)))
        assert len(msgs) == len(exp), "%d messages for %d notifiable versions" % (len(msgs), len(exp))
        checked = 0
        for v in truth:
            rid = harness.record_id(v["key"], v["stamp"])
            if rid not in exp:
                continue
            assert len(got[rid]) == 1, "%s posted %d times" % (rid, len(got[rid]))
            m = got[rid][0]
            assert m["channel_name"] == "procure", m
            if v.get("revisions", 1) != 1:
                continue  # changed twice within its one-second stamp
            f = v["fields"]
            text = m["text"]
            assert v["key"] in text, text
            assert f["BPSNUM"] in text, text
            assert slack_escape(f["BPSNUM_REF"]["$description"]) in text, text
            assert "%s %s" % (money(str(f["TOTORD"])), f["CUR"]) in text, (text, f["TOTORD"])
            assert f["POHFCY"] in text
            blocks = m["blocks"]
            assert blocks[0]["type"] == "header" and v["key"] in blocks[0]["text"]["text"]
            fields = " ".join(x["text"] for x in blocks[1]["fields"])
            assert money(str(f["TOTORD"])) in fields and f["ORDDAT"] in fields
            checked += 1
        assert checked >= 20, checked
        # Untrusted X3 text never reaches Slack unescaped.
        for m in msgs:
            blob = m["text"] + json.dumps(m["blocks"])
            assert "<!channel>" not in blob and "<Ltd>" not in blob, blob
        # The journal has every poll cycle and every post.
        events = p.audit()
        polls = [e for e in events if e["kind"] == "poll"]
        posts = [e for e in events if e["kind"] == "post"]
        assert polls and all(e["outcome"] == "ok" for e in polls), polls[:3]
        assert sum(e["records"] for e in polls) == len(exp)
        assert len(posts) == len(exp) and all(e["outcome"] == "posted" for e in posts)
        assert all(re.match(r"^\d{10}\.\d{6}$", e["slack_ts"]) for e in posts)
        assert not [e for e in events if e["kind"] in ("error", "alert")]
        # Secrets never reach logs or the journal.
        blob = json.dumps(events) + "".join(p.log_text(n) for n in p.names())
        assert Pipeline.X3_PASSWORD not in blob and Pipeline.SLACK_TOKEN not in blob
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


def test_posts_to_one_channel_are_paced_one_per_second(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "5", "--seed", "5"],
                 slack_args=["--rate-interval-ms", "1000", "--burst", "1"], keep=a.keep,
                 min_interval="1s")
    try:
        p.start_all()
        wait_for(lambda: len(p.messages()) >= 5, 30, "5 messages")
        times = [m["received_at_ms"] for m in p.messages()]
        gaps = [b - a_ for a_, b in zip(times, times[1:])]
        assert all(g >= 990 for g in gaps), gaps
        assert p.slack.get("/sim/stats")["ratelimited"] == 0
    finally:
        p.close()


def test_mlc_up_runs_the_pipeline_and_leaves_nothing_behind(a):
    import os
    import signal
    import subprocess
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "6"], keep=a.keep)
    up = None
    try:
        up = subprocess.Popen([os.path.join(a.bin, "cli", "mlc"), "up", "-c", p.config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=p.env,
                              start_new_session=True)
        wait_for(lambda: len(p.messages()) >= 6, 60, "6 messages via mlc up")
        # A stage that dies is restarted.
        out = subprocess.run(["pgrep", "-f", "-s", str(up.pid), "mlc-formatter"],
                             capture_output=True, text=True).stdout.split()
        assert len(out) == 1, out
        os.kill(int(out[0]), signal.SIGKILL)
        wait_for(lambda: [x for x in subprocess.run(["pgrep", "-s", str(up.pid), "-f", "mlc-formatter"],
                          capture_output=True, text=True).stdout.split() if x != out[0]],
                 15, "formatter restarted")
        p.x3.post("/sim/generate?n=3")
        wait_for(lambda: converged(p), 60, "changes after the restart")
        up.send_signal(signal.SIGINT)
        assert up.wait(30) == 0
        left = subprocess.run(["pgrep", "-s", str(up.pid)], capture_output=True, text=True).stdout.split()
        assert left == [], "processes left behind: %s" % left
        err = up.stderr.read().decode()
        assert "restarting" in err and "stopped" in err, err
    finally:
        if up is not None and up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        p.close()


def test_mlc_up_stops_when_a_stage_cannot_start(a):
    import os
    import signal
    import subprocess
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "1"], keep=a.keep)
    up = None
    try:
        env = dict(p.env)
        del env["SLACK_BOT_TOKEN"]  # the dispatcher cannot start without its token
        up = subprocess.Popen([os.path.join(a.bin, "cli", "mlc"), "up", "-c", p.config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                              start_new_session=True)
        assert up.wait(30) == 2, "mlc up must give up, not restart a stage that refuses to start"
        err = up.stderr.read().decode()
        assert "SLACK_BOT_TOKEN" in err and "could not start" in err, err
        assert "restarting" not in err, err
        left = subprocess.run(["pgrep", "-s", str(up.pid)], capture_output=True, text=True).stdout.split()
        assert left == [], "processes left behind: %s" % left
    finally:
        if up is not None and up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        p.close()


def test_mlc_tail_streams_events_as_json(a):
    import subprocess
    import os
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep)
    tail = None
    try:
        p.start("auditor")
        tail = subprocess.Popen([os.path.join(a.bin, "cli", "mlc"), "tail", "--json", "-c", p.config],
                                stdout=subprocess.PIPE, text=True, env=p.env)
        for n in p.names()[1:]:
            p.start(n)
        line = json.loads(tail.stdout.readline())
        assert line["kind"] in ("start", "poll"), line
        assert "at" in line and "from" in line
    finally:
        if tail is not None:
            tail.terminate()
            tail.wait(10)
        p.close()


if __name__ == "__main__":
    harness.run([
        test_every_version_that_matters_arrives_exactly_once_with_its_fields,
        test_posts_to_one_channel_are_paced_one_per_second,
        test_mlc_up_runs_the_pipeline_and_leaves_nothing_behind,
        test_mlc_up_stops_when_a_stage_cannot_start,
        test_mlc_tail_streams_events_as_json,
    ])
