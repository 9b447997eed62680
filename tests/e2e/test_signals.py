"""SIGTERM drains, SIGHUP reloads (docs/operations.md, "Stopping and
reloading").

SIGTERM to a dispatcher whose posts Slack answers slowly: it starts no new
post, waits for the answers of those in flight, records them, and exits 0;
after a restart nothing is lost, doubled, in doubt or looked up again. With
a drain timeout shorter than the answer it exits at the timeout, and the
restart resolves the unanswered post from the channel's history (no
duplicate). SIGHUP: a new poll schedule takes effect; a broken file is
refused (error audited with file:line, process alive, old routes working);
a new route takes effect for the next records without losing or doubling
any; a changed restart-only key is reported and kept."""
import json
import os
import re
import signal
import subprocess
import time

import harness
from harness import Pipeline, wait_for


def per_msg(p):
    counts = {}
    for m in p.messages():
        mid = m["metadata"]["event_payload"]["msg_id"]
        counts[mid] = counts.get(mid, 0) + 1
    return counts


def chan(m):
    return m["channel_name"].lstrip("#")


def rids(truth):
    return {harness.record_id(v["key"], v["stamp"]) for v in truth}


def stop_record(events, process):
    recs = [e for e in events if e["kind"] == "stop" and e.get("process") == process]
    return recs[-1] if recs else None


def sigterm_and_time(p, name):
    proc = p.procs[name]
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    return code, time.monotonic() - t0


def set_drain_timeout(p, value):
    with open(p.config) as f:
        text = f.read()
    text = re.sub(r"drain_timeout: \S+", "drain_timeout: " + value, text)
    with open(p.config, "w") as f:
        f.write(text)


def test_sigterm_drains_inflight_posts_then_timeout_leaves_them_to_the_restart(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep,
                 channels=("#procure", "#finance"),
                 extra="shutdown:\n  drain_timeout: 10s\n")
    try:
        p.start_all()
        # Part 1: answers 1.5 s late, drain timeout 10 s.
        p.slack.post("/sim/fault", {"channel": "*", "slow_ms": 1500})
        p.x3.post("/sim/generate?n=3&mode=create")
        wait_for(lambda: len(p.messages()) >= 1, 30, "a first post stored by Slack")
        code, took = sigterm_and_time(p, "dispatcher-0")
        assert code == 0, "dispatcher exit code %r" % code
        assert took < 10, "the drain took %.1fs, longer than its timeout" % took
        stored = p.messages()
        per_chan = {}
        for m in stored:
            per_chan[m["channel_name"]] = per_chan.get(m["channel_name"], 0) + 1
        # One request in flight per channel, and none started after SIGTERM.
        assert all(n == 1 for n in per_chan.values()), per_chan
        at_exit = {m["metadata"]["event_payload"]["msg_id"] for m in stored}

        def recorded():
            ev = p.audit()
            posted = {e["msg_id"] for e in ev if e["kind"] == "post" and e["outcome"] == "posted"}
            return ev if at_exit <= posted and stop_record(ev, "dispatcher-0") else None

        ev = wait_for(recorded, 20, "every answered post journaled before the exit")
        rec = stop_record(ev, "dispatcher-0")
        assert rec["drain_outcome"] == "done", rec
        assert rec["inflight_at_stop"] >= 1 and rec["inflight_left"] == 0, rec
        assert "drained in" in p.log_text("dispatcher-0")

        p.slack.post("/sim/fault/clear")
        p.start("dispatcher-0")
        want = 6  # 3 orders x 2 channels

        def all_journaled():
            ev = p.audit()
            posted = [e for e in ev if e["kind"] == "post" and e["outcome"] == "posted"]
            return posted if len({e["msg_id"] for e in posted}) == want else None

        posted = wait_for(all_journaled, 40, "all 6 posts journaled after the restart")
        counts = per_msg(p)
        assert len(counts) == want and max(counts.values()) == 1, counts
        assert not [e for e in posted if e.get("in_doubt") or e.get("resolved_by")
                    or e.get("checked_history")], "a drained post was left in doubt: %s" % posted
        assert len(posted) == want, "a post journaled twice: %s" % posted

        # Part 2: the drain timeout (1 s) is shorter than the answer (4 s).
        set_drain_timeout(p, "1s")
        p.kill("dispatcher-0", signal.SIGTERM)
        p.start("dispatcher-0")
        wait_for(lambda: "started" in p.log_text("dispatcher-0").split("drained in")[-1],
                 20, "the dispatcher to start again")
        p.slack.post("/sim/fault", {"channel": "*", "slow_ms": 4000})
        before = len(p.messages())
        p.x3.post("/sim/generate?n=2&mode=create")
        wait_for(lambda: len(p.messages()) > before, 30, "a post stored by Slack, answer pending")
        code, took = sigterm_and_time(p, "dispatcher-0")
        assert code == 0, "dispatcher exit code %r" % code
        assert 0.8 <= took < 3.5, "exit %.1fs after SIGTERM with a 1s drain timeout" % took
        ev = wait_for(lambda: (lambda e: e if (stop_record(e, "dispatcher-0") or {}).get(
            "drain_outcome") == "timeout" else None)(p.audit()), 20, "the timed-out stop record")
        rec = stop_record(ev, "dispatcher-0")
        assert rec["inflight_left"] >= 1, rec
        p.slack.post("/sim/fault/clear")
        p.start("dispatcher-0")
        want = 10  # 5 orders x 2 channels

        def all_posted():
            ev = p.audit()
            posted = [e for e in ev if e["kind"] == "post" and e["outcome"] == "posted"]
            return posted if len({e["msg_id"] for e in posted}) == want else None

        posted = wait_for(all_posted, 40, "all 10 posts journaled after the second restart")
        counts = per_msg(p)
        assert len(counts) == want and max(counts.values()) == 1, counts
        found = [e for e in posted if e.get("resolved_by") == "history"]
        assert found, "the unanswered post should have been found in history: %s" % posted
        assert not [e for e in posted if e.get("in_doubt")], posted
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


def audit(p, cli_config=None):
    """The journal, read by `mlc audit` with a config it can load (the
    stages' file may be broken on purpose)."""
    if cli_config is None:
        return p.audit()
    r = subprocess.run([os.path.join(p.bindir, "cli", "mlc"), "audit", "--json", "-c", cli_config],
                       capture_output=True, text=True, timeout=30, env=p.env)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_sigterm_abandons_a_slow_x3_page_at_the_drain_timeout(a):
    # X3 answers 4.5 s late (x3.timeout is 5 s); the drain timeout is 1 s.
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep,
                 extra="shutdown:\n  drain_timeout: 1s\n")
    try:
        p.start_all()
        p.x3.post("/sim/generate?n=3&mode=create")
        wait_for(lambda: len(p.messages()) == 3, 30, "3 posts")
        p.x3.post("/sim/fault?kind=latency&ms=4500")
        p.x3.post("/sim/generate?n=2&mode=create")
        wait_for(lambda: p.x3.get("/sim/fault")["fired"]["latency"] >= 1, 10,
                 "a page request held up by X3")
        code, took = sigterm_and_time(p, "poller")
        assert code == 0, "poller exit code %r" % code
        assert took < 3.0, "the poller took %.1fs to stop with a 1s drain timeout" % took
        p.x3.post("/sim/fault?kind=clear")
        ev = wait_for(lambda: (lambda e: e if stop_record(e, "poller") else None)(p.audit()), 20,
                      "the poller's stop record")
        assert stop_record(ev, "poller")["drain_outcome"] in ("timeout", "done"), ev
        stopped = [e for e in ev if e["kind"] == "poll" and e["outcome"] == "stopped"]
        assert stopped and stopped[-1]["wm_before"] == stopped[-1]["wm_after"], \
            [e for e in ev if e["kind"] == "poll"][-3:]
        # The abandoned page is read again after the restart: nothing lost.
        p.start("poller")
        want = rids(wait_for(lambda: (lambda t: t if len(t) == 5 else None)(p.truth()), 10,
                             "5 orders in X3"))

        def delivered():
            got = per_msg(p)
            recs = {m["metadata"]["event_payload"]["record_id"] for m in p.messages()}
            return got if recs == want else None

        got = wait_for(delivered, 30, "all 5 orders posted")
        assert max(got.values()) == 1, got
    finally:
        p.close()


def reloads(p, process, outcome, cli_config=None):
    return [e for e in audit(p, cli_config) if e["kind"] == "reload"
            and e.get("process") == process and e.get("outcome") == outcome]


def hup(p, *names):
    for n in names:
        p.procs[n].send_signal(signal.SIGHUP)


def test_sighup_reloads_schedule_and_routes_and_refuses_a_broken_file(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep,
                 poll_interval="1h")
    try:
        p.start_all()
        with open(p.config) as f:
            good = f.read()
        polls = lambda: [e for e in p.audit() if e["kind"] == "poll"]
        wait_for(lambda: len(polls()) >= 1, 20, "the first poll cycle")

        # Schedule: 1h -> 1s. (SIGHUP itself runs one cycle at once; more
        # than that within a few seconds is the new interval.)
        new = good.replace("poll_interval: 1h", "poll_interval: 1s")
        with open(p.config, "w") as f:
            f.write(new)
        n0 = len(polls())
        hup(p, "poller")
        wait_for(lambda: reloads(p, "poller", "ok"), 20, "the poller's reload record")
        wait_for(lambda: len(polls()) >= n0 + 4, 15, "cycles every second after the reload")

        # Records reach #procure.
        p.x3.post("/sim/generate?n=3&mode=create")
        wait_for(lambda: len(p.messages()) == 3, 30, "3 posts to #procure")

        # A broken file: refused by every stage, which keep running on the
        # old one; the error names the route's channel line.
        good_copy = os.path.join(p.tmp, "good.yaml")
        with open(good_copy, "w") as f:
            f.write(new)
        lines = new.split("\n")
        idx = next(i for i, l in enumerate(lines) if l.strip().startswith("channel:"))
        lines[idx] = '    channel: "#Not A Channel"'
        with open(p.config, "w") as f:
            f.write("\n".join(lines))
        hup(p, "formatter", "poller", "dispatcher-0", "auditor")
        for proc in ("formatter", "poller", "dispatcher-0", "auditor"):
            bad = wait_for(lambda: reloads(p, proc, "failed", good_copy), 20,
                           proc + " refusing the file")
            err = bad[-1]["error"]
            assert "%s:%d" % (p.config, idx + 1) in err and "routes[0].channel" in err, err
            assert p.alive(proc), proc + " died on a bad reload"
        assert "keeping the running one" in p.log_text("formatter")
        p.x3.post("/sim/generate?n=2&mode=create")
        wait_for(lambda: len(p.messages()) == 5, 30, "2 more posts on the old route")
        assert {chan(m) for m in p.messages()} == {"procure"}, p.messages()

        # A new route, and a restart-only change, while records are on
        # their way: each record goes to exactly one of the two channels.
        p.x3.post("/sim/generate?n=4&mode=create")
        newer = new.replace('channel: "#procure"', 'channel: "#finance"') \
                   .replace("resend_after: 1s", "resend_after: 2s")
        with open(p.config, "w") as f:
            f.write(newer)
        hup(p, "formatter")
        ok = wait_for(lambda: reloads(p, "formatter", "ok"), 20, "the formatter's reload record")
        assert ok[-1].get("needs_restart") == "resend_after", ok[-1]
        before = rids(wait_for(lambda: (lambda t: t if len(t) == 9 else None)(p.truth()), 20,
                               "9 orders in X3"))
        p.x3.post("/sim/generate?n=3&mode=create")
        want = rids(wait_for(lambda: (lambda t: t if len(t) == 12 else None)(p.truth()), 20,
                             "12 orders in X3"))

        def delivered():
            got = {}
            for m in p.messages():
                rid = m["metadata"]["event_payload"]["record_id"]
                got.setdefault(rid, []).append(chan(m))
            return got if set(got) == want else None

        got = wait_for(delivered, 40, "every order posted once")
        assert all(len(c) == 1 for c in got.values()), "a record posted twice: %s" % got
        for rid in want - before:
            assert got[rid] == ["finance"], "a record made after the reload: %s" % got
        for n in p.names():
            assert p.alive(n), n + " died"
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_sigterm_drains_inflight_posts_then_timeout_leaves_them_to_the_restart,
                 test_sigterm_abandons_a_slow_x3_page_at_the_drain_timeout,
                 test_sighup_reloads_schedule_and_routes_and_refuses_a_broken_file])
