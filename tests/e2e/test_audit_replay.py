"""End to end: the audit trail answers "did it post, when, where, and if not
why"; `mlc replay` posts a failed message once and never twice; `mlc tail
--json --errors` shows a failure within a second; /metrics, /healthz and
`mlc status` reflect the pipeline; the journal survives a restart and
`mlc tail --since` joins history and live without a gap or a repeat."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import harness
from harness import Pipeline, wait_for


class Tail:
    """`mlc tail ...` in the background, its lines collected with the wall
    time each was read."""

    def __init__(self, p, *args):
        self.lines = []
        self.proc = subprocess.Popen([os.path.join(p.bindir, "cli", "mlc"), "tail"] + list(args)
                                     + ["-c", p.config], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=p.env)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    def events(self):
        return [(t, json.loads(l)) for t, l in list(self.lines)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        err = self.proc.stderr.read()
        assert self.proc.returncode == 0, (self.proc.returncode, err)


def mlc_json(p, *argv):
    r = p.mlc(*argv)
    assert r.returncode == 0, (argv, r.returncode, r.stdout, r.stderr)
    return r.stdout


def journal(p, *filters):
    out = mlc_json(p, "audit", "--json", *filters)
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def iso_ms(s):
    """'2026-01-01T00:00:00.123Z' -> epoch seconds (float)."""
    import calendar
    base, _, frac = s.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return t + (int(frac) / 1000.0 if frac else 0)


def msgs_for(p, record_id):
    return [m for m in p.messages()
            if ((m.get("metadata") or {}).get("event_payload") or {}).get("record_id") == record_id]


def test_failed_post_is_replayed_once_and_tail_shows_the_failure_within_1s(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0", "--seed", "21"], keep=a.keep)
    tail = None
    try:
        p.start_all()
        tail = Tail(p, "--json", "--errors")
        wait_for(lambda: journal(p, "--kind", "poll"), 30, "a first poll cycle")
        # The next post to #procure is refused for good: a dead letter.
        p.slack.post("/sim/fault", {"channel": "#procure", "error": "msg_too_long", "count": 1})
        # Only approved orders are posted: make new ones until one is.
        def failure():
            got = [e for t, e in tail.events()
                   if e.get("kind") == "post" and e.get("outcome") == "failed"]
            if not got and not journal(p, "--kind", "post"):
                p.x3.post("/sim/generate?n=3&mode=create")
            return got
        wait_for(failure, 60, "the failure in mlc tail --json --errors", interval=1.0)
        t_read, ev = [(t, e) for t, e in tail.events() if e.get("outcome") == "failed"][0]
        delay = t_read - iso_ms(ev["at"])
        print("  tail showed the failure %.3f s after the dispatcher audited it" % delay)
        assert delay < 1.0, delay
        # Only failures in --errors.
        assert all(e.get("outcome") not in ("ok", "posted") for _, e in tail.events()), tail.events()
        msg_id, rid = ev["msg_id"], ev["record_id"]
        assert ev["text"] and ev["channel"] == "#procure", ev
        assert msgs_for(p, rid) == [], "the failed message is not in Slack"

        # Dead-lettered; the journal has it by record, channel and outcome.
        key = ev["key"]
        assert [e for e in journal(p, "--record", key, "--outcome", "failed")], key
        assert [e for e in journal(p, "--channel", "#procure", "--outcome", "failed")]

        out = mlc_json(p, "replay", "--failed", "--since", "1h")
        assert "1 sent, 0 skipped" in out, out
        wait_for(lambda: len(msgs_for(p, rid)) == 1, 30, "the replayed message in Slack")
        posted = wait_for(lambda: [e for e in journal(p, "--kind", "post", "--outcome", "posted")
                                   if e["msg_id"] == msg_id + "/replay/1"],
                          30, "the replay's post event")
        assert posted[0]["record_id"] == rid

        # Again: nothing is sent, by --failed or by id.
        out = mlc_json(p, "replay", "--failed")
        assert "0 sent, 1 skipped" in out and "already posted" in out, out
        out = mlc_json(p, "replay", msg_id)
        assert "0 sent" in out and "already posted" in out, out
        r = p.mlc("replay", "no/such/message")
        assert r.returncode == 1 and "unknown message id" in r.stdout, r.stdout
        # A few more poll cycles: still exactly one copy.
        n = len(journal(p, "--kind", "poll"))
        wait_for(lambda: len(journal(p, "--kind", "poll")) >= n + 2, 30, "two more poll cycles")
        assert len(msgs_for(p, rid)) == 1, msgs_for(p, rid)
        replays = journal(p, "--kind", "replay")
        assert [r["outcome"] for r in replays] == ["sent", "skipped", "skipped", "skipped"], replays
        assert all(r["by"] == "cli" for r in replays)
        tail.stop()
        tail = None
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        if tail is not None:
            tail.stop()
        p.close()


def scrape(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


PROM_LINE = re.compile(r'^(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* '
                       r'(counter|gauge|histogram)|[a-zA-Z_:][a-zA-Z0-9_:]*'
                       r'(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? -?[0-9.]+)$')


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return None


def test_metrics_health_status_and_a_restart(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "12", "--seed", "5"], keep=a.keep,
                 extra="  health_max_silence: 3s\n")
    try:
        p.start_all()
        wait_for(lambda: len(p.messages()) >= 1, 60, "orders in Slack")
        n_posts = len(p.messages())
        # Each stage's start event travels apart from the records: wait until
        # the auditor has heard from every stage (status exit 0) first.
        wait_for(lambda: p.mlc("status", "--json").returncode == 0, 30, "every stage heard from")
        st = json.loads(mlc_json(p, "status", "--json"))
        addr = st["http"]
        assert re.match(r"^127\.0\.0\.1:\d+$", addr), addr
        base = "http://" + addr

        def posted():
            code, ctype, text = scrape(base + "/metrics")
            v = metric(text, 'mlc_messages_posted_total{channel="#procure"}')
            return (code, ctype, text) if v is not None and v >= n_posts else None
        code, ctype, text = wait_for(posted, 30, "the posts counted in /metrics")
        assert code == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
        bad = [l for l in text.splitlines() if not PROM_LINE.match(l)]
        assert not bad, bad
        assert metric(text, 'mlc_records_polled_total{entity="purchase_order"}') >= n_posts
        assert metric(text, "mlc_messages_failed_total") == 0
        assert metric(text, "mlc_poll_duration_seconds_count") >= 1
        assert metric(text, 'mlc_poll_duration_seconds_bucket{le="+Inf"}') == \
            metric(text, "mlc_poll_duration_seconds_count")
        assert metric(text, 'mlc_watermark_age_seconds{entity="purchase_order"}') is not None
        code, ctype, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            scrape(base + "/healthz")), 30, "healthz 200")
        assert json.loads(body)["status"] == "ok", body
        # Status: per entity and per channel.
        st = json.loads(mlc_json(p, "status", "--json"))
        ent = [e for e in st["entities"] if e["entity"] == "purchase_order"][0]
        assert ent["outcome"] == "ok" and ent["watermark"] and ent["watermark_age_s"] >= 0, ent
        ch = [c for c in st["channels"] if c["channel"] == "#procure"][0]
        assert ch["last_post"] and ch["posted_total"] >= n_posts, ch
        human = mlc_json(p, "status")
        assert "purchase_order" in human and "#procure" in human and "poller" in human, human
        # A poller that dies goes silent: /healthz turns 503 and says why.
        p.kill("poller")
        code, _, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(
            scrape(base + "/healthz")), 30, "healthz 503")
        assert "silent" in json.loads(body)["stages"]["poller"]["why"], body
        p.start("poller")
        wait_for(lambda: scrape(base + "/healthz")[0] == 200, 30, "healthz 200 again")

        # The journal survives a restart; tail --since starts with history.
        before = journal(p)
        p.kill("auditor", signal.SIGTERM)
        p.start("auditor")
        after = wait_for(lambda: (lambda r: r if r.returncode == 0 and r.stdout else None)(
            p.mlc("audit", "--json")), 30, "the restarted auditor").stdout
        after = [json.loads(l) for l in after.splitlines()]
        assert [e["id"] for e in after[:len(before)]] == [e["id"] for e in before]
        seqs = [e["jseq"] for e in after]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        tail = Tail(p, "--json", "--since", "1h")
        try:
            n = len(after)
            wait_for(lambda: len(tail.events()) >= n, 30, "the history in tail --since")
            # Live events after the history: the poller's next cycles.
            wait_for(lambda: len([1 for _, e in tail.events()[n:] if e.get("kind") == "poll"]) >= 3,
                     30, "live poll cycles in tail --since")
        finally:
            tail.stop()
        got = [e["jseq"] for _, e in tail.events()]
        assert got == list(range(got[0], got[0] + len(got))), "gap or repeat at the seam: %s" % got
        assert got[0] == 1, got[:3]
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_failed_post_is_replayed_once_and_tail_shows_the_failure_within_1s,
                 test_metrics_health_status_and_a_restart])
