"""The fault table (issue 6, "Fault survival"): every fault the simulators
can inject, one row each, and one checker for all rows. docs/faults.md
lists the table in prose.

A row names the fault, how it is switched on (an x3sim / slacksim control
call or option), how it is cleared, and the audit record that must follow.
For every row the checker then verifies, once the fault is cleared and the
pipeline drained:

  1. nothing lost: every version the X3 simulator's ground truth says must
     be posted is in Slack (for Slack rows: in every routed channel), or,
     for message- and channel-class errors, was held as a dead letter and
     reaches Slack by `mlc replay` once the fault is gone;
  2. nothing doubled: each message id (a replay counts as its original) is
     in Slack at most once, unless the dispatcher audited it in_doubt;
  3. the row's audit record is in the journal (`mlc audit --json`);
  4. every process is still running (the same pid as before the fault).

Rows share pipelines by group, to keep the wall time CI can afford:
X3 faults one after the other on one Basic-auth GraphQL pipeline, token
faults on one OAuth2 (api1) pipeline, the untrusted certificate on an
HTTPS one, and every Slack fault at once on one pipeline (one channel per
row), followed by the token error that stops all posting. A stage is
restarted only where that is the designed fix (a new x3.ca_file, a fixed
Slack token), and only after the row's checks.

    python3 tests/e2e/test_faults.py --bin <cmake build dir>
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Pipeline, wait_for  # noqa: E402
from test_x3_auth import OAUTH2, login, pipeline  # noqa: E402
from test_x3_records import X3Pipeline, assert_exactly_once, delivered_exactly  # noqa: E402
from test_x3sim_auth import make_certs  # noqa: E402
import test_pipeline  # noqa: E402

ENTS = ("purchase_order",)
# Each journal read runs `mlc audit` (a process, under ASan in CI): poll
# it less often than the harness's default 50 ms.
AUDIT_EVERY = 0.25


class Row:
    """One fault: inject(p) switches it on, clear(p) off; expect(events)
    returns the audit records that prove it was met and handled (events are
    the journal's entries since the row began), or a false value."""

    def __init__(self, name, inject, clear, expect, what, check=None):
        self.name, self.inject, self.clear = name, inject, clear
        self.expect, self.what, self.check = expect, what, check


def kind(events, k, **fields):
    return [e for e in events if e["kind"] == k
            and all((f(e.get(n)) if callable(f) else e.get(n) == f) for n, f in fields.items())]


def has(text):
    return lambda v: isinstance(v, str) and text in v


def pids(p):
    return {n: p.procs[n].pid for n in p.names()}


def assert_alive(p, before):
    """(4): every stage runs, and it is the same process as before the fault."""
    for n in p.names():
        assert p.alive(n), "%s died" % n
        assert p.procs[n].pid == before[n], "%s was restarted" % n


def finish(p):
    """Stops everything and requires clean exits: exit 0 from every stage
    and simulator, and no sanitizer report in any log (CI builds with
    ASan and UBSan; a leak is reported only at exit)."""
    codes = p.stop_all()
    p.x3.stop()
    p.slack.stop()
    codes.update(x3sim=p.x3.proc.returncode, slacksim=p.slack.proc.returncode)
    assert all(c == 0 for c in codes.values()), codes
    for n in p.names() + ["x3sim", "slacksim"]:
        text = p.log_text(n)
        assert "Sanitizer" not in text and "runtime error:" not in text, (n, text[-2000:])


def x3_fault(q):
    f = lambda p: p.x3.post("/sim/fault?" + q)  # noqa: E731
    f.kind = q.split("&")[0].split("=")[1]
    return f


X3_CLEAR = x3_fault("kind=clear")


# ---- X3 faults, Basic auth, GraphQL -------------------------------------------

X3_ROWS = [
    Row("x3 5xx (HTML 503 on every data request)", x3_fault("kind=5xx&rate=100"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="failed", error=has("503"), retries=lambda r: r >= 2),
        "poll failed, error names HTTP 503 after x3.max_attempts; watermark kept",
        check=lambda e: e["wm_before"] == e["wm_after"]),
    Row("x3 latency within x3.timeout", x3_fault("kind=latency&ms=400"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="ok", retries=0, duration_ms=lambda d: d >= 400),
        "poll ok, no retry, duration_ms >= 400"),
    Row("x3 latency beyond x3.timeout", x3_fault("kind=latency&ms=1500"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="failed", error=has("after 3 attempts")),
        "poll failed 'after 3 attempts' (timeouts); watermark kept",
        check=lambda e: e["wm_before"] == e["wm_after"] and e["retries"] >= 2),
    Row("x3 licence throttling (503 $diagnoses)", x3_fault("kind=throttle&n=2"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="ok", retries=lambda r: r >= 1,
                        retry_reason=has("503")),
        "poll ok, retries >= 1, retry_reason names the 503 (no misleading config hint)",
        check=lambda e: "Licence" in e["retry_reason"] and "check x3." not in e["retry_reason"]),
    Row("x3 throttling 429 + Retry-After", x3_fault("kind=ratelimit&n=1&retry_after=2"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="ok", retries=lambda r: r >= 1,
                        retry_reason=has("429")),
        "poll ok, retries >= 1, retry_reason names the 429; the retry waited Retry-After",
        # 2 s, not the 200 ms x3.retry_backoff
        check=lambda e: e["duration_ms"] >= 2000),
    Row("x3 malformed JSON page", x3_fault("kind=malformed&n=1"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="failed", error=has("JSON")),
        "poll failed, error names the JSON defect and the page; watermark kept",
        check=lambda e: e["wm_before"] == e["wm_after"]
        and re.search(r"page \d+ of purchase_order", e["error"])),
    Row("x3 partial GraphQL answer (data + errors)", x3_fault("kind=partial&n=1"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="failed", error=has("partial data refused")),
        "poll failed 'partial data refused'; watermark kept",
        check=lambda e: e["wm_before"] == e["wm_after"]),
    # Consistency faults: no error to audit, the ok cycles must still read
    # every version (the checker's ground-truth comparison is the test).
    Row("x3 equal stamps (5 changes, one stamp)", x3_fault("kind=equal_stamps&n=5"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="ok", records=lambda r: r >= 1),
        "poll ok with the changes read"),
    Row("x3 late commits (stamped 30 s ago)", x3_fault("kind=late&n=3&age=30"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="ok", records=lambda r: r >= 1),
        "poll ok; the look-back window reads the late versions"),
    Row("x3 records change while paged", x3_fault("kind=paging_changes&n=2"), X3_CLEAR,
        lambda ev: kind(ev, "poll", outcome="ok", pages=lambda n: n >= 2),
        "poll ok over several pages while records change"),
]


def quiet_cycle(p):
    """Waits for a cycle that began after now and met no fault: the
    previous row's retries are over before the next fault goes in."""
    n = len(p.audit())
    wait_for(lambda: kind(p.audit()[n:], "poll", outcome="ok", retries=0), 30, "a clean cycle",
             interval=AUDIT_EVERY)


def run_x3_row(p, row, before):
    quiet_cycle(p)
    n = len(p.audit())
    # The simulator's counter proves the fault really fired.
    fired0 = p.x3.get("/sim/fault")["fired"]
    row.inject(p)
    fault = row.inject.kind
    p.x3.post("/sim/generate?n=5")
    fired = lambda: p.x3.get("/sim/fault")["fired"][fault] > fired0[fault]  # noqa: E731
    wait_for(fired, 30, "%s: the simulator to fire %s" % (row.name, fault))
    got = wait_for(lambda: row.expect(p.audit()[n:]), 40, "%s: %s" % (row.name, row.what),
                   interval=AUDIT_EVERY)
    if row.check is not None:
        assert any(row.check(e) for e in got), "%s: %s: %r" % (row.name, row.what, got)
    row.clear(p)
    # (1) (2): drained, every version that must be posted is there once.
    exp, msgs = delivered_exactly(p, ENTS)
    assert_exactly_once(exp, msgs)
    assert_alive(p, before)
    return got


def test_x3_faults(a):
    p = X3Pipeline(a.bin, entities=ENTS, api="graphql", keep=a.keep, timeout="1s", max_attempts=3,
                   x3_args=["--rate", "0", "--initial", "10", "--seed", "17"])
    try:
        p.start_all()
        delivered_exactly(p, ENTS)
        before = pids(p)
        for row in X3_ROWS:
            t0 = time.monotonic()
            run_x3_row(p, row, before)
            print("  row %-45s ok (%.1fs)" % (row.name, time.monotonic() - t0), flush=True)
        finish(p)
    finally:
        p.close()


# ---- X3 OAuth2 tokens: expired, revoked ---------------------------------------

# Long-lived tokens: only the injected fault makes the poller refresh.
OAUTH_SIM_LONG = ["--auth", "oauth2", "--client-id", "mlc-e2e", "--client-secret-env",
                  "X3_CLIENT_SECRET", "--access-ttl", "600", "--refresh-ttl", "3600",
                  "--rate", "0", "--initial", "6", "--seed", "23"]


def test_x3_token_faults(a):
    auth = OAUTH2.replace("refresh_ttl: 30s", "refresh_ttl: 1h").replace(
        "warn_first: 20s", "warn_first: 10m").replace("warn_last: 15s", "warn_last: 5m")
    p = pipeline(a, auth, OAUTH_SIM_LONG)
    try:
        p.start_all()
        # Not paired yet: the poller says so (its state exists), then pair.
        wait_for(lambda: kind(p.audit(), "alert", event="polling_stopped"), 30, "the not-paired alert",
                 interval=AUDIT_EVERY)
        login(p)
        delivered_exactly(p, ENTS)
        before = pids(p)

        # Row: expired access token -> one 401, refresh, retry; no failed cycle.
        n = len(p.audit())
        rejected0 = p.x3.get("/sim/token/stats")["expired_access_rejections"]
        p.x3.post("/sim/fault?kind=expire_tokens")
        p.x3.post("/sim/generate?n=5")
        wait_for(lambda: kind(p.audit()[n:], "token", event="refresh")
                 and kind(p.audit()[n:], "poll", outcome="ok"), 30,
                 "x3 expired token: a token refresh event and an ok cycle", interval=AUDIT_EVERY)
        assert p.x3.get("/sim/token/stats")["expired_access_rejections"] > rejected0, \
            "the expired token was never presented: the fault did not fire"
        exp, got = delivered_exactly(p, ENTS)
        assert_exactly_once(exp, got)
        assert not kind(p.audit()[n:], "poll", outcome="failed"), "a cycle failed on the 401"
        assert not kind(p.audit()[n:], "alert")
        assert_alive(p, before)
        print("  row %-45s ok" % "x3 expired access token", flush=True)

        # Row: revoked refresh token -> one alert, the poller idles (no crash,
        # no loop); a new pairing resumes and nothing is lost.
        n = len(p.audit())
        p.x3.post("/sim/token/revoke")
        p.x3.post("/sim/fault?kind=expire_tokens")   # make it refresh now
        p.x3.post("/sim/generate?n=5")
        alert = wait_for(lambda: kind(p.audit()[n:], "alert", event="refresh_rejected"), 30,
                         "x3 revoked token: the refresh_rejected alert", interval=AUDIT_EVERY)
        assert "mlc x3 login" in alert[0]["detail"], alert
        assert_alive(p, before)
        login(p)   # the fix
        exp, got = delivered_exactly(p, ENTS)
        assert_exactly_once(exp, got)
        assert len(kind(p.audit(), "alert", event="refresh_rejected")) == 1
        assert_alive(p, before)
        print("  row %-45s ok" % "x3 revoked refresh token", flush=True)
        finish(p)
    finally:
        p.close()


# ---- X3 behind a self-signed certificate, CA not configured ------------------

def sim_tls(p, path, ca):
    """GET on the HTTPS simulator's /sim/ routes, trusting its CA."""
    import json
    import ssl
    import urllib.request
    url = p.x3.url.replace("http://", "https://") + path
    with urllib.request.urlopen(url, timeout=10, context=ssl.create_default_context(cafile=ca)) as r:
        return json.loads(r.read().decode())


def test_x3_self_signed_tls_without_the_ca(a):
    from test_x3_records import by_record, expected_events
    work = harness.tempfile.mkdtemp(prefix="mlc-faults-tls-")
    ca, cert, key = make_certs(os.path.join(work, "pki"))
    p = X3Pipeline(a.bin, entities=ENTS, keep=a.keep,
                   x3_args=["--rate", "0", "--initial", "4", "--tls-cert", cert, "--tls-key", key])
    try:
        plain = p.x3.url
        https = plain.replace("http://", "https://")
        with open(p.config) as f:
            cfg = f.read()
        assert "  url: %s\n" % plain in cfg
        with open(p.config, "w") as f:
            f.write(cfg.replace("  url: %s\n" % plain, "  url: %s\n" % https, 1))
        p.start_all()
        before = pids(p)
        ev = wait_for(lambda: kind(p.audit(), "poll", outcome="failed"), 40,
                      "x3 untrusted TLS: an audited failed poll", interval=AUDIT_EVERY)
        err = ev[0]["error"].lower()
        assert "certificate" in err or "ssl" in err or "tls" in err, ev[0]
        n = len(kind(p.audit(), "poll"))
        wait_for(lambda: len(kind(p.audit(), "poll")) >= n + 2, 20, "later cycles (no crash, no stop)",
                 interval=AUDIT_EVERY)
        # Refused, not accepted: the simulator served nothing, nothing was
        # posted, every cycle failed, and every stage still runs.
        assert all(e["outcome"] == "failed" for e in kind(p.audit(), "poll"))
        stats = sim_tls(p, "/sim/stats", ca)
        assert stats["served_versions"] == 0 and stats["routes"]["api1"] == 0, stats
        assert p.messages() == []
        assert_alive(p, before)
        # The fix is configuration (x3.ca_file) and a restart of the poller:
        # then every version arrives, once.
        with open(p.config, "w") as f:
            f.write(cfg.replace("  url: %s\n" % plain, "  url: %s\n  ca_file: %s\n" % (https, ca), 1))
        p.kill("poller", sig=signal.SIGTERM)
        p.start("poller")

        def delivered():
            exp = expected_events("purchase_order", sim_tls(p, "/sim/truth?entity=po", ca)["versions"])
            got = by_record(p.messages())
            return (exp, got) if exp and all(r in got for r in exp) else None
        exp, got = wait_for(delivered, 40, "every version over trusted TLS")
        assert_exactly_once(exp, got)
        for n in p.names():
            assert p.alive(n), n
        print("  row %-45s ok" % "x3 self-signed TLS without the CA", flush=True)
        finish(p)
    finally:
        p.close()
        harness.subprocess.call(["rm", "-rf", work])


# ---- Slack faults: one channel per row, all at once ---------------------------

def posted_with(**fields):
    return lambda ev: kind(ev, "post", outcome="posted", **fields)


def outcome(name, error=None, at_least=1):
    def f(ev):
        got = kind(ev, "post", outcome=name, **({} if error is None else {"error": error}))
        return got if len(got) >= at_least else None
    return f


def both(*fs):
    def f(ev):
        parts = [g(ev) for g in fs]
        return sum(parts, []) if all(parts) else None
    return f


def timeout_error(v):
    return isinstance(v, str) and ("timeout" in v.lower() or "timed out" in v.lower())


# (name, fault, expected audit on that channel, what, dead-letter kind)
SLACK_ROWS = [
    ("slack 429 once (Retry-After 1)", {"ratelimit": "once", "retry_after": 1},
     outcome("ratelimited", "ratelimited"), "post ratelimited, then posted", None),
    ("slack 429 storm (4 in a row)", {"ratelimit": "always", "count": 4, "retry_after": 1},
     outcome("ratelimited", "ratelimited", at_least=4), ">= 4 post ratelimited, then posted", None),
    ("slack 429 without Retry-After", {"ratelimit": "no_retry_after", "count": 1},
     outcome("ratelimited", "ratelimited"), "post ratelimited (1 s default), then posted", None),
    ("slack HTML 503", {"http": 503, "count": 2},
     both(outcome("retry_in_doubt", "http_503", at_least=2), posted_with(checked_history=1)),
     "2 x retry_in_doubt http_503; posted after a history check", None),
    ("slack service_unavailable", {"error": "service_unavailable", "count": 1},
     outcome("retry", "service_unavailable"), "post retry service_unavailable", None),
    ("slack request_timeout", {"error": "request_timeout", "count": 1},
     outcome("retry", "request_timeout"), "post retry request_timeout", None),
    ("slack internal_error", {"error": "internal_error", "count": 1},
     both(outcome("retry_in_doubt", "internal_error"), posted_with(checked_history=1)),
     "retry_in_doubt internal_error; posted after a history check", None),
    ("slack connection reset", {"reset": True, "count": 1},
     both(outcome("retry_in_doubt"), posted_with(checked_history=1)),
     "retry_in_doubt (no answer); posted after a history check", None),
    ("slack slow answer within slack.timeout", {"slow_ms": 1000, "count": 1},
     lambda ev: None if kind(ev, "post", outcome=lambda o: o != "posted")
     else posted_with(latency_ms=lambda ms: ms >= 1000)(ev),
     "posted, latency_ms >= 1000, no retry", None),
    ("slack slow answer past slack.timeout", {"slow_ms": 5000, "count": 1},
     both(lambda ev: kind(ev, "post", outcome="retry_in_doubt", error=timeout_error),
          posted_with(resolved_by="history")),
     "retry_in_doubt (timeout); found in history, not resent", None),
    ("slack store-then-drop", {"store_then_drop": 100, "count": 1},
     both(outcome("retry_in_doubt"), posted_with(resolved_by="history")),
     "retry_in_doubt; found in history, not resent", None),
    ("slack message error invalid_blocks", {"error": "invalid_blocks", "count": 1},
     outcome("failed", "invalid_blocks"), "post failed invalid_blocks (dead letter)", "message"),
    ("slack message error msg_too_long", {"error": "msg_too_long", "count": 1},
     outcome("failed", "msg_too_long"), "post failed msg_too_long (dead letter)", "message"),
    ("slack fatal_error (may have posted)", {"error": "fatal_error", "count": 1},
     lambda ev: kind(ev, "post", outcome="failed", error="fatal_error", in_doubt=1),
     "post failed fatal_error in_doubt (dead letter, replay --force)", "fatal"),
    ("slack channel error channel_not_found", {"error": "channel_not_found"},
     outcome("failed", "channel_not_found", at_least=3),
     "every post failed channel_not_found + one alert", "channel"),
    ("slack channel error is_archived", {"error": "is_archived"},
     outcome("failed", "is_archived", at_least=3),
     "every post failed is_archived + one alert", "channel"),
    ("slack token_expired (rotation)", {"error": "token_expired", "count": 1},
     both(outcome("token_error", "token_expired"), posted_with()),
     "token refreshed (token event), post retried and posted", None),
]

N_ORDERS = 3


def base_id(mid):
    return mid.split("/replay/")[0]


def slack_state(p, chans):
    """{(record_id, channel): [msg ids]} of what is in Slack."""
    out = {}
    for m in p.messages():
        pl = m["metadata"]["event_payload"]
        out.setdefault((pl["record_id"], "#" + m["channel_name"]), []).append(pl["msg_id"])
    return out


def test_slack_faults(a):
    chans = ["#f-%02d" % i for i in range(len(SLACK_ROWS))]
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0", "--seed", "29"],
                 slack_args=["--rate-interval-ms", "0", "--rotate-tokens", "--token-ttl", "43200"],
                 keep=a.keep, channels=chans, slack_timeout="3s", min_interval="20ms")
    try:
        with open(p.config) as f:
            cfg = f.read()
        with open(p.config, "w") as f:
            f.write(cfg.replace("  max_attempts: 8\n", "  max_attempts: 8\n"
                                "  refresh_token_env: E2E_REFRESH\n  client_id: \"123.456\"\n"
                                "  client_secret_env: E2E_CLIENT_SECRET\n"))
        p.env["E2E_REFRESH"] = "xoxe-1-test-refresh"
        p.env["E2E_CLIENT_SECRET"] = "e2e-client-secret"
        for ch, row in zip(chans, SLACK_ROWS):
            p.slack.post("/sim/fault", dict(row[1], channel=ch))
        p.start_all()
        before = pids(p)
        p.x3.post("/sim/generate?n=%d&mode=create" % N_ORDERS)
        want = set()

        def served():
            want.clear()
            want.update((r, ch) for r in test_pipeline.expected(p) for ch in chans)
            return len(want) == N_ORDERS * len(chans)
        wait_for(served, 30, "the poller to read the new orders")

        # Drained: every (record, channel) has a final outcome.
        def finals():
            ev = p.audit()
            fin = {(e["record_id"], e["channel"]) for e in kind(ev, "post")
                   if e["outcome"] in ("posted", "failed")}
            return ev if want <= fin else None
        ev = wait_for(finals, 60, "a final outcome for each of %d posts" % len(want),
                      interval=AUDIT_EVERY)
        failed = {}
        for ch, row in zip(chans, SLACK_ROWS):
            name, _, expect, what, dead = row
            got = expect([e for e in ev if e.get("channel") == ch])
            assert got, "%s (%s): no audit record '%s'; journal for it: %r" % (
                name, ch, what, [e for e in ev if e.get("channel") == ch][:6])
            failed[ch] = kind(ev, "post", outcome="failed", channel=ch)
            assert bool(failed[ch]) == bool(dead), (name, failed[ch])
            for e in failed[ch]:
                for k in ("text", "channel", "route", "record_id", "msg_id"):
                    assert e.get(k), (name, k, e)
        # The simulator says each row's fault fired on its channel.
        # (A slow answer's call is recorded once answered, after the dispatcher
        # gave up on it and found the post in history: wait for it.)
        ids = {"#" + m["channel_name"]: m["channel"] for m in p.messages()}

        left = []

        def all_fired():
            calls = p.slack.get("/sim/calls")["calls"]
            hit = {c.get("channel") for c in calls if c.get("fault")}
            left[:] = [row[0] for ch, row in zip(chans, SLACK_ROWS) if not hit & {ch, ids.get(ch)}]
            return not left
        try:
            wait_for(all_fired, 15, "each Slack row's fault to fire on its channel")
        except AssertionError:
            raise AssertionError("faults that never fired: %r" % left)
        # One alert per refused channel, none for anything else.
        alerts = kind(ev, "alert")
        chan_rows = sorted(ch for ch, r in zip(chans, SLACK_ROWS) if r[4] == "channel")
        assert sorted(e["channel"] for e in alerts) == chan_rows, alerts
        assert kind(ev, "token", event="refreshed"), "token_expired: no refresh audited"
        assert_alive(p, before)

        # Clear the faults; reopen refused channels (SIGHUP), replay the dead
        # letters (--force for those that may have posted, after looking).
        p.slack.post("/sim/fault/clear")
        p.procs["dispatcher-0"].send_signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP: channels blocked" in p.log_text("dispatcher-0"), 20, "the reload")
        r = p.mlc("replay", "--failed")
        n_dead = sum(len(v) for v in failed.values())
        n_fatal = sum(len(failed[ch]) for ch, row in zip(chans, SLACK_ROWS) if row[4] == "fatal")
        # In-doubt dead letters are skipped (exit 1) until looked at.
        assert r.returncode == (1 if n_fatal else 0), r.stdout + r.stderr
        assert "%d sent, %d skipped" % (n_dead - n_fatal, n_fatal) in r.stdout, (n_dead, r.stdout)
        for ch, row in zip(chans, SLACK_ROWS):
            if row[4] == "fatal":
                for e in failed[ch]:
                    in_slack = [m for m in p.messages()
                                if m["metadata"]["event_payload"]["msg_id"] == e["msg_id"]]
                    assert not in_slack   # looked: the simulator stored nothing
                    r = p.mlc("replay", "--force", e["msg_id"])
                    assert r.returncode == 0 and "1 sent" in r.stdout, r.stdout + r.stderr
        check_slack_delivered(p, want, before)
        print("  %d Slack rows ok; %d dead letters replayed" % (len(SLACK_ROWS), n_dead), flush=True)

        # Row: a token error stops all posting with one alert; nothing is
        # dropped; fixed token + restart (as the alert says) posts the rest.
        n = len(p.audit())
        p.slack.post("/sim/fault", {"channel": "*", "error": "invalid_auth"})
        p.x3.post("/sim/generate?n=2&mode=create")
        wait_for(served, 30, "the poller to read 2 more orders")
        alert = wait_for(lambda: kind(p.audit()[n:], "alert", error="invalid_auth"), 30,
                         "slack token error: the alert", interval=AUDIT_EVERY)
        assert len(alert) == 1, alert
        assert_alive(p, before)
        assert not kind(p.audit()[n:], "post", outcome="failed"), "a token error dead-lettered"
        assert not kind(p.audit()[n:], "post", outcome="posted")
        tried = len([c for c in p.slack.get("/sim/calls")["calls"] if c["error"] == "invalid_auth"])
        assert tried <= len(chans), "posting went on after the token error: %d" % tried
        p.slack.post("/sim/fault/clear")
        p.kill("dispatcher-0", sig=signal.SIGTERM)
        p.start("dispatcher-0")
        before["dispatcher-0"] = p.procs["dispatcher-0"].pid
        check_slack_delivered(p, want, before)
        assert len(kind(p.audit()[n:], "alert")) == 1
        print("  row %-45s ok" % "slack token error invalid_auth", flush=True)
        finish(p)
    finally:
        p.close()


def check_slack_delivered(p, want, before):
    """(1) every (record, channel) in Slack; (2) each message id once unless
    audited in_doubt; (4) every stage still runs."""
    state = wait_for(lambda: (lambda s: s if want <= set(s) else None)(slack_state(p, None)),
                     60, "every (record, channel) in Slack")
    extra = set(state) - want
    assert not extra, "posted but not expected: %r" % sorted(extra)[:3]
    # Drained means journaled too: a post event for every message in Slack.
    in_slack = {i for ids in state.values() for i in ids}

    def journaled():
        ev = p.audit()
        return ev if in_slack <= {e["msg_id"] for e in kind(ev, "post", outcome="posted")} else None
    ev = wait_for(journaled, 30, "every post journaled", interval=AUDIT_EVERY)
    in_doubt = {e["msg_id"] for e in kind(ev, "post", in_doubt=1)}
    for key, ids in state.items():
        bases = [base_id(i) for i in ids]
        doubled = {b for b in bases if bases.count(b) > 1}
        assert doubled <= in_doubt, "posted twice: %s %r" % (key, ids)
        assert len(set(bases)) == 1, (key, ids)
    assert_alive(p, before)


def run_lanes(lanes):
    """Like harness.run, but the lanes run side by side (each its own
    pipelines, temp dir and ports): the X3 table waits on poll cycles, the
    rest on Slack, so together they take the time of the longer lane."""
    import threading
    import traceback
    a = harness.args()
    results = []

    def lane(tests):
        for t in tests:
            t0 = time.monotonic()
            try:
                t(a)
                results.append(True)
                print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
            except Exception:
                results.append(False)
                print("FAIL %s (%.1fs)\n%s" % (t.__name__, time.monotonic() - t0,
                                               traceback.format_exc()), flush=True)
    threads = [threading.Thread(target=lane, args=(tests,)) for tests in lanes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print("%d passed, %d failed" % (results.count(True), results.count(False)), flush=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    run_lanes([[test_x3_faults],
               [test_x3_token_faults, test_x3_self_signed_tls_without_the_ca, test_slack_faults]])
