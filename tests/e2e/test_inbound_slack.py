"""End to end: the signed inbound Slack endpoint on the auditor (slash
commands, Events API, SSL check), each request audited without the secret,
and the dead-letter alert in the ops channel, then `/x3 replay failed`."""
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import Pipeline, wait_for

SECRET = "e2e-signing-secret-0123456789abcdef"


def post(url, body, ctype, ts=None, secret=SECRET, sig=None, headers=None):
    if isinstance(body, str):
        body = body.encode()
    h = {"Content-Type": ctype}
    if ts is not None:
        h["X-Slack-Request-Timestamp"] = str(ts)
        base = b"v0:" + str(ts).encode() + b":" + body
        h["X-Slack-Signature"] = sig or "v0=" + hmac.new(secret.encode(), base,
                                                        hashlib.sha256).hexdigest()
    h.update(headers or {})
    req = urllib.request.Request(url, data=body, method="POST", headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def command(url, user, text, ts=None):
    body = urllib.parse.urlencode({"token": "x", "team_id": "T1", "user_id": user,
                                   "command": "/x3", "text": text,
                                   "response_url": "https://hooks.slack.com/commands/x"})
    return post(url + "/slack/commands", body, "application/x-www-form-urlencoded",
                ts=int(time.time()) if ts is None else ts)


def journal(p, *f):
    r = p.mlc("audit", "--json", *f)
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def test_signed_requests_are_answered_and_the_rest_refused(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0", "--seed", "3"], keep=a.keep,
                 extra='  alert_channel: "#ops"\ninbound:\n  signing_secret_env: MLC_E2E_SIGNING\n'
                       '  replay_users: UOPS1234,UOTHER99\n')
    p.env["MLC_E2E_SIGNING"] = SECRET
    try:
        p.start_all()
        st = wait_for(lambda: (lambda r: json.loads(r.stdout) if r.returncode in (0, 1) and r.stdout
                               else None)(p.mlc("status", "--json")), 30, "the auditor")
        url = "http://" + st["http"]
        wait_for(lambda: journal(p, "--kind", "poll"), 30, "a first poll")

        t0 = time.monotonic()
        code, body = command(url, "UANYONE1", "status")
        took = time.monotonic() - t0
        assert code == 200 and took < 3.0, (code, took)
        reply = json.loads(body)
        assert reply["response_type"] == "ephemeral" and "purchase_order" in reply["text"], reply
        print("  /x3 status answered in %.3f s" % took)

        # Rejects: 401 and nothing else.
        now = int(time.time())
        good = urllib.parse.urlencode({"command": "/x3", "text": "status", "user_id": "U1"})
        for what, args in (
                ("bad signature", dict(ts=now, sig="v0=" + "0" * 64)),
                ("stale", dict(ts=now - 301)),
                ("future", dict(ts=now + 301)),
                ("unsigned", dict()),
                ("wrong secret", dict(ts=now, secret="not-the-secret"))):
            code, body = post(url + "/slack/commands", good, "application/x-www-form-urlencoded", **args)
            assert (code, body) == (401, ""), (what, code, body)
        big = "text=" + "a" * (70 * 1024)
        code, body = post(url + "/slack/commands", big, "application/x-www-form-urlencoded", ts=now)
        assert (code, body) == (401, ""), ("oversized", code)
        # The SSL check is unsigned and answered.
        code, _ = post(url + "/slack/commands", "ssl_check=1&token=x", "application/x-www-form-urlencoded")
        assert code == 200
        # Events API: url_verification, and a retry of the same event_id.
        code, body = post(url + "/slack/events", json.dumps(
            {"token": "x", "challenge": "abc123", "type": "url_verification"}),
            "application/json", ts=now)
        assert code == 200 and json.loads(body) == {"challenge": "abc123"}, body
        ev = json.dumps({"type": "event_callback", "event_id": "Ev0E2E",
                         "event": {"type": "app_mention"}})
        assert post(url + "/slack/events", ev, "application/json", ts=now)[0] == 200
        assert post(url + "/slack/events", ev, "application/json", ts=now,
                    headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
        inbound = wait_for(lambda: (lambda j: j if len(j) >= 11 else None)(
            journal(p, "--kind", "inbound")), 10, "inbound events journaled")
        outcomes = [(e["type"], e["outcome"]) for e in inbound]
        assert outcomes.count(("request", "rejected")) == 6, outcomes
        assert ("event", "ok") in outcomes and ("event", "duplicate") in outcomes, outcomes
        assert ("url_verification", "ok") in outcomes and ("ssl_check", "ok") in outcomes

        # A dead letter raises one alert in #ops; /x3 replay failed replays it.
        p.slack.post("/sim/fault", {"channel": "#procure", "error": "msg_too_long", "count": 1})

        def failed():
            f = journal(p, "--kind", "post", "--outcome", "failed")
            if not f and not journal(p, "--kind", "post"):
                p.x3.post("/sim/generate?n=3&mode=create")
            return f
        f = wait_for(failed, 60, "a dead letter", interval=1.0)[0]
        alerts = wait_for(lambda: p.slack.get("/sim/messages?channel=%23ops")["messages"], 30,
                          "the alert in #ops")
        assert len(alerts) == 1 and f["msg_id"] in alerts[0]["text"], alerts
        code, body = command(url, "UANYONE1", "replay failed")
        assert code == 200 and "not allowed" in json.loads(body)["text"], body
        code, body = command(url, "UOPS1234", "replay failed")
        assert code == 200 and "Replaying 1 " in json.loads(body)["text"], body
        rid = f["record_id"]
        wait_for(lambda: [m for m in p.messages() if m.get("channel_name") == "procure" and
                          ((m.get("metadata") or {}).get("event_payload") or {}).get("record_id") == rid],
                 30, "the replayed message")
        replays = journal(p, "--kind", "replay")
        assert [r["by"] for r in replays] == ["slack:UOPS1234"], replays
        assert len(p.slack.get("/sim/messages?channel=%23ops")["messages"]) == 1

        blob = json.dumps(journal(p)) + "".join(p.log_text(n) for n in p.names())
        assert SECRET not in blob
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_signed_requests_are_answered_and_the_rest_refused])
