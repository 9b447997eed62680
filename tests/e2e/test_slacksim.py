#!/usr/bin/env python3
"""End-to-end test of mlc-slacksim, the Slack Web API simulator.

Starts the real binary on an ephemeral loopback port (learned from
--port-file, awaited with a deadline), drives it over HTTP and checks that it
answers like slack.com where the connector depends on it: auth errors, JSON
and form bodies, charset warnings, Block Kit limits, the per-(token, channel)
rate limit with Retry-After, ts ordering, conversations.*, and the /sim
introspection routes. Stdlib only.

    python3 test_slacksim.py --bin <cmake build dir>
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

TOKEN = "xoxb-test-token"
TS_RE_LEN = 17


class Sim:
    """One running mlc-slacksim; stopped with SIGTERM (must exit 0)."""

    def __init__(self, binary, args=(), env=None):
        self.dir = tempfile.TemporaryDirectory(prefix="slacksim-e2e-")
        self.port_file = os.path.join(self.dir.name, "port")
        self.stdout_path = os.path.join(self.dir.name, "stdout")
        self.stderr_path = os.path.join(self.dir.name, "stderr")
        self.out = open(self.stdout_path, "wb")
        self.err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", self.port_file, *args],
            stdout=self.out, stderr=self.err,
            env=env if env is not None else os.environ.copy())
        deadline = time.monotonic() + 20
        self.port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mlc-slacksim exited early: " + self.stderr())
            try:
                with open(self.port_file) as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.port = int(text)
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("no port file within 20 s")
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict lower-cased, parsed JSON or raw text)."""
        c = conn or self.conn
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = raw.decode("utf-8", "replace")
        return r.status, hdrs, doc

    def api_json(self, method, payload, token=TOKEN,
                 ctype="application/json; charset=utf-8", conn=None):
        headers = {"Content-Type": ctype}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        return self.request("POST", "/api/" + method,
                            json.dumps(payload).encode(), headers, conn=conn)

    def api_form(self, method, fields):
        return self.request("POST", "/api/" + method,
                            urllib.parse.urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def get(self, path):
        return self.request("GET", path)

    def stop(self):
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.out.close()
        self.err.close()
        return rc


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def is_ts(ts):
    return (isinstance(ts, str) and len(ts) == TS_RE_LEN and ts[10] == "."
            and ts[:10].isdigit() and ts[11:].isdigit())


# ---- tests against the default instance (1 msg/s per channel, burst 1) ----

@test
def test_missing_token_is_not_authed(sim, **_):
    st, _h, doc = sim.api_json("auth.test", {}, token=None)
    check(st == 200 and doc == {"ok": False, "error": "not_authed"}, doc)


@test
def test_wrong_token_is_invalid_auth(sim, **_):
    st, _h, doc = sim.api_json("auth.test", {}, token="xoxb-wrong")
    check(st == 200 and doc == {"ok": False, "error": "invalid_auth"}, doc)
    st, _h, doc = sim.api_form("auth.test", {"token": "xoxb-wrong"})
    check(doc == {"ok": False, "error": "invalid_auth"}, doc)


@test
def test_token_field_in_json_body_does_not_authenticate(sim, **_):
    st, _h, doc = sim.api_json("auth.test", {"token": TOKEN}, token=None)
    check(doc.get("error") == "not_authed", doc)


@test
def test_auth_test_answers_identity_on_post_and_get(sim, **_):
    want = {"ok": True, "url": "https://sim.slack.com/", "team": "Sim Team",
            "user": "mlcbot", "team_id": "T0SIMTEAM1", "user_id": "U0SIMBOT01",
            "bot_id": "B0SIMBOT01"}
    st, _h, doc = sim.api_json("auth.test", {})
    check(st == 200 and doc == want, doc)
    st, _h, doc = sim.request("GET", "/api/auth.test",
                              headers={"Authorization": "Bearer " + TOKEN})
    check(st == 200 and doc == want, doc)


@test
def test_json_post_is_stored_with_metadata(sim, **_):
    meta = {"event_type": "mlc_po", "event_payload": {"po": "PO-0001"}}
    st, _h, doc = sim.api_json("chat.postMessage",
                               {"channel": "#e2e-json", "text": "PO-0001 <ok>",
                                "metadata": meta})
    check(st == 200 and doc["ok"] is True, doc)
    cid = doc["channel"]
    check(cid.startswith("C") and len(cid) == 11 and cid.isalnum()
          and cid.upper() == cid, cid)
    check(is_ts(doc["ts"]), doc["ts"])
    m = doc["message"]
    check(m["type"] == "message" and m["text"] == "PO-0001 <ok>"
          and m["bot_id"] == "B0SIMBOT01" and m["ts"] == doc["ts"]
          and m["metadata"] == meta, m)
    check("warning" not in doc, "no warning with charset=utf-8")
    st, _h, got = sim.get("/sim/messages?channel=e2e-json")
    msgs = got["messages"]
    check(len(msgs) == 1, msgs)
    check(msgs[0]["channel"] == cid and msgs[0]["channel_name"] == "e2e-json"
          and msgs[0]["ts"] == doc["ts"] and msgs[0]["text"] == "PO-0001 <ok>"
          and msgs[0]["metadata"] == meta and msgs[0]["blocks"] is None
          and isinstance(msgs[0]["received_at_ms"], int), msgs[0])
    # The same channel by ID filters the same way.
    st, _h, got = sim.get("/sim/messages?channel=" + cid)
    check(len(got["messages"]) == 1, got)


@test
def test_channel_id_is_stable_and_accepted(sim, **_):
    st, _h, a = sim.api_json("chat.postMessage", {"channel": "e2e-stable", "text": "1"})
    check(a["ok"], a)
    st, _h, info = sim.api_json("conversations.info", {"channel": a["channel"]})
    check(info["ok"] and info["channel"]["id"] == a["channel"]
          and info["channel"]["name"] == "e2e-stable"
          and info["channel"]["is_member"] is True
          and info["channel"]["is_archived"] is False, info)
    # Like Slack, conversations.info takes an ID only; a name is found
    # with conversations.list, page by page.
    st, _h, info = sim.api_json("conversations.info", {"channel": "#e2e-stable"})
    check(info == {"ok": False, "error": "channel_not_found"}, info)
    for i in range(3):
        st, _h, b = sim.api_json("chat.postMessage", {"channel": "e2e-list-%d" % i, "text": "x"})
        check(b["ok"], b)
    found, cursor, pages = {}, "", 0
    while True:
        st, _h, page = sim.api_form("conversations.list",
                                    {"token": TOKEN, "limit": "2", "cursor": cursor})
        check(page["ok"] and len(page["channels"]) <= 2, page)
        pages += 1
        for ch in page["channels"]:
            check(ch["name"] not in found, "listed twice: %r" % ch)
            found[ch["name"]] = ch["id"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor or pages > 100:
            break
    check(found.get("e2e-stable") == a["channel"] and "e2e-list-2" in found
          and pages >= 2, found)
    st, _h, bad = sim.api_form("conversations.list", {"token": TOKEN, "cursor": "bm9wZQ=="})
    check(bad == {"ok": False, "error": "invalid_cursor"}, bad)


@test
def test_unknown_channel_id_is_channel_not_found(sim, **_):
    st, _h, doc = sim.api_json("chat.postMessage", {"channel": "C0NOTKNOWN1", "text": "x"})
    check(st == 200 and doc == {"ok": False, "error": "channel_not_found"}, doc)
    st, _h, doc = sim.api_json("chat.postMessage", {"text": "x"})
    check(doc.get("error") == "channel_not_found", doc)
    st, _h, doc = sim.api_json("conversations.info", {"channel": "never-posted"})
    check(doc.get("error") == "channel_not_found", doc)


@test
def test_post_without_text_or_blocks_is_no_text(sim, **_):
    st, _h, doc = sim.api_json("chat.postMessage", {"channel": "e2e-notext"})
    check(st == 200 and doc == {"ok": False, "error": "no_text"}, doc)


@test
def test_form_post_with_blocks_json_string(sim, **_):
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "PO-0002"}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "*total* 12.50 EUR"},
               "fields": [{"type": "mrkdwn", "text": "a"}, {"type": "plain_text", "text": "b"}]}]
    meta = {"event_type": "mlc_po", "event_payload": {"po": "PO-0002"}}
    st, _h, doc = sim.api_form("chat.postMessage", {
        "token": TOKEN, "channel": "e2e-form", "text": "PO-0002 & more",
        "blocks": json.dumps(blocks), "metadata": json.dumps(meta)})
    check(st == 200 and doc["ok"], doc)
    check(doc["message"]["text"] == "PO-0002 & more", doc)
    st, _h, got = sim.get("/sim/messages?channel=e2e-form")
    m = got["messages"][0]
    check(m["blocks"] == blocks and m["metadata"] == meta, m)


@test
def test_form_blocks_that_are_not_json_are_invalid_blocks_format(sim, **_):
    st, _h, doc = sim.api_form("chat.postMessage", {
        "token": TOKEN, "channel": "e2e-badform", "text": "t", "blocks": "[{"})
    check(doc == {"ok": False, "error": "invalid_blocks_format"}, doc)


@test
def test_json_without_charset_earns_missing_charset_warning(sim, **_):
    st, _h, doc = sim.api_json("chat.postMessage", {"channel": "e2e-charset", "text": "x"},
                               ctype="application/json")
    check(st == 200 and doc["ok"], doc)
    check(doc.get("warning") == "missing_charset", doc)
    check(doc.get("response_metadata", {}).get("warnings") == ["missing_charset"], doc)


@test
def test_invalid_json_body(sim, **_):
    st, _h, doc = sim.request("POST", "/api/chat.postMessage", b'{"channel":',
                              {"Content-Type": "application/json; charset=utf-8",
                               "Authorization": "Bearer " + TOKEN})
    check(st == 200 and doc == {"ok": False, "error": "invalid_json"}, doc)


@test
def test_header_over_150_chars_is_invalid_blocks(sim, **_):
    def post(n, channel):
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": "h" * n}}]
        return sim.api_json("chat.postMessage", {"channel": channel, "text": "t",
                                                 "blocks": blocks})[2]
    doc = post(151, "e2e-blocks151")
    check(doc == {"ok": False, "error": "invalid_blocks"}, doc)
    doc = post(150, "e2e-blocks150")
    check(doc["ok"], doc)


@test
def test_other_block_kit_limits(sim, **_):
    cases = [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        [{"type": "divider"}] * 51,
        [{"text": "no type"}],
        "not-an-array-of-blocks",
    ]
    for i, blocks in enumerate(cases):
        st, _h, doc = sim.api_json("chat.postMessage",
                                   {"channel": "e2e-limits-%d" % i, "text": "t",
                                    "blocks": blocks if i < 5 else [blocks]})
        check(doc == {"ok": False, "error": "invalid_blocks"}, (i, doc))


@test
def test_long_text_is_truncated_with_warning(sim, **_):
    st, _h, doc = sim.api_json("chat.postMessage",
                               {"channel": "e2e-long", "text": "é" * 40001})
    check(doc["ok"] and doc.get("warning") == "message_truncated", doc.get("warning"))
    check(len(doc["message"]["text"]) == 40000, len(doc["message"]["text"]))


@test
def test_rate_limit_429_per_channel(sim, **_):
    # Two posts well inside one interval; a stalled host (ASan, 2 cores) can
    # legitimately let the second through, so such an attempt is repeated.
    for attempt in range(3):
        chan = "e2e-rl-a%d" % attempt
        t0 = time.monotonic()
        st, _h, a = sim.api_json("chat.postMessage", {"channel": chan, "text": "1"})
        check(st == 200 and a["ok"], a)
        st, h, b = sim.api_json("chat.postMessage", {"channel": chan, "text": "2"})
        if st == 200 and time.monotonic() - t0 >= 0.9:
            continue
        break
    check(st == 429, (st, b))
    check(b == {"ok": False, "error": "ratelimited"}, b)
    ra = h.get("retry-after", "")
    check(ra.isdigit() and int(ra) >= 1, "Retry-After %r" % ra)
    # Another channel has its own bucket.
    st, _h, c = sim.api_json("chat.postMessage", {"channel": "e2e-rl-b", "text": "3"})
    check(st == 200 and c["ok"], c)
    st, _h, stats = sim.get("/sim/stats")
    check(stats["ratelimited"] >= 1, stats)
    st, _h, calls = sim.get("/sim/calls")
    limited = [x for x in calls["calls"] if x["status"] == 429]
    check(limited and limited[-1]["error"] == "ratelimited"
          and limited[-1]["ok"] is False and limited[-1]["channel"] == a["channel"]
          and limited[-1]["method"] == "chat.postMessage", limited)
    # The rejected message was not stored.
    st, _h, got = sim.get("/sim/messages?channel=" + chan)
    check([m["text"] for m in got["messages"]] == ["1"], got)


@test
def test_history_finds_message_by_metadata(sim, **_):
    meta = {"event_type": "mlc_po", "event_payload": {"key": "PO-0042"}}
    st, _h, doc = sim.api_json("chat.postMessage",
                               {"channel": "e2e-hist", "text": "PO-0042", "metadata": meta})
    check(doc["ok"], doc)
    st, _h, h = sim.api_form("conversations.history", {
        "token": TOKEN, "channel": doc["channel"], "limit": "10",
        "include_all_metadata": "true"})
    check(h["ok"] and h["has_more"] is False, h)
    hits = [m for m in h["messages"]
            if m.get("metadata", {}).get("event_payload", {}).get("key") == "PO-0042"]
    check(len(hits) == 1 and hits[0]["ts"] == doc["ts"] and hits[0]["text"] == "PO-0042", h)
    st, _h, h = sim.api_json("conversations.history",
                             {"channel": doc["channel"], "oldest": doc["ts"]})
    check(h["ok"] and h["messages"] == [], "oldest is exclusive: %r" % h)


@test
def test_unknown_method(sim, **_):
    st, _h, doc = sim.api_json("chat.doesNotExist", {})
    check(doc == {"ok": False, "error": "unknown_method"}, doc)


@test
def test_body_over_1_mib_is_413(sim, **_):
    body = b'{"channel":"x","text":"' + b"a" * (1024 * 1024) + b'"}'
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        st, _h, doc = sim.request("POST", "/api/chat.postMessage", body,
                                  {"Content-Type": "application/json; charset=utf-8",
                                   "Authorization": "Bearer " + TOKEN}, conn=conn)
    except (BrokenPipeError, ConnectionResetError):
        st = 413  # the server may close while we are still sending
    finally:
        conn.close()
    check(st == 413, st)


@test
def test_listening_line_names_the_bound_port(sim, **_):
    want = "mlc-slacksim listening on http://127.0.0.1:%d\n" % sim.port
    check(sim.stdout() == want, repr(sim.stdout()))


@test
def test_token_is_never_logged(sim, **_):
    check(TOKEN not in sim.stderr() and TOKEN not in sim.stdout(), "token in output")


# ---- tests that need their own instance ----------------------------------

@test
def test_ts_strictly_increasing_without_rate_limit(binary, **_):
    s = Sim(binary, ["--rate-interval-ms", "0", "--quiet", "--print"])
    try:
        tss = []
        for i in range(50):
            st, _h, doc = s.api_json("chat.postMessage", {"channel": "e2e-ts", "text": "m%d" % i})
            check(st == 200 and doc["ok"], doc)
            tss.append(doc["ts"])
        check(all(is_ts(t) for t in tss), tss)
        check(all(a < b for a, b in zip(tss, tss[1:])),
              "ts not strictly increasing: %r" % tss)
        st, _h, got = s.get("/sim/messages")
        check([m["ts"] for m in got["messages"]] == tss, "arrival order")
        # History newest first, paginated with a cursor.
        seen, cursor = [], ""
        for _ in range(10):
            st, _h, h = s.api_json("conversations.history",
                                   {"channel": doc["channel"], "limit": 20, "cursor": cursor})
            check(h["ok"], h)
            seen += [m["ts"] for m in h["messages"]]
            cursor = h["response_metadata"]["next_cursor"]
            if not h["has_more"]:
                break
        check(seen == tss[::-1], "history pages newest first")
        check(s.stdout().count("[#e2e-ts] m") == 50, "--print lines")
        st, _h, r = s.request("POST", "/sim/reset")
        st, _h, stats = s.get("/sim/stats")
        check(stats["posted"] == 0 and stats["calls"] == 0, stats)
        st, _h, got = s.get("/sim/messages")
        check(got["messages"] == [], got)
    finally:
        check(s.stop() == 0, "exit status on SIGTERM")


@test
def test_burst_and_retry_after_rounding_with_token_env(binary, **_):
    secret = "xoxb-e2e-secret-value"
    env = os.environ.copy()
    env["E2E_SLACK_TOKEN"] = secret
    s = Sim(binary, ["--token-env", "E2E_SLACK_TOKEN", "--burst", "3",
                     "--rate-interval-ms", "60000"], env=env)
    try:
        st, _h, doc = s.api_json("auth.test", {}, token=TOKEN)
        check(doc.get("error") == "invalid_auth", "default token must not work")
        for i in range(3):
            st, _h, doc = s.api_json("chat.postMessage", {"channel": "burst", "text": str(i)},
                                     token=secret)
            check(st == 200 and doc["ok"], (i, doc))
        st, h, doc = s.api_json("chat.postMessage", {"channel": "burst", "text": "x"},
                                token=secret)
        check(st == 429 and h["retry-after"].isdigit()
              and 58 <= int(h["retry-after"]) <= 60, h.get("retry-after"))
    finally:
        rc = s.stop()
    check(rc == 0, "exit status")
    check(secret not in s.stderr() and secret not in s.stdout(), "token leaked")


@test
def test_two_hundred_concurrent_keepalive_connections(binary, **_):
    s = Sim(binary, ["--rate-interval-ms", "0", "--quiet"])
    n = 200
    conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for _ in range(n)]
    errors = []
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            c = conns[i]
            for j in range(3):
                if j == 1:
                    barrier.wait(timeout=30)  # all 200 open at once
                st, _h, doc = s.api_json("chat.postMessage",
                                         {"channel": "conc-%d" % (i % 7),
                                          "text": "%d-%d" % (i, j)}, conn=c)
                if st != 200 or not doc.get("ok"):
                    errors.append((i, j, st, doc))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        check(not errors, errors[:5])
        st, _h, stats = s.get("/sim/stats")
        check(stats["posted"] == 3 * n, stats)
        st, _h, got = s.get("/sim/messages?channel=conc-0")
        tss = [m["ts"] for m in got["messages"]]
        check(len(set(tss)) == len(tss) and tss == sorted(tss), "ts unique per channel")
    finally:
        for c in conns:
            c.close()
        check(s.stop() == 0, "exit status")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="cmake build directory")
    args = ap.parse_args()
    binary = os.path.join(args.bin, "sim", "mlc-slacksim")
    if not os.access(binary, os.X_OK):
        print("no executable at %s" % binary)
        return 1
    sim = Sim(binary)
    passed = failed = 0
    try:
        for fn in TESTS:
            try:
                fn(sim=sim, binary=binary)
                passed += 1
                print("PASS %s" % fn.__name__)
            except Exception:  # noqa: BLE001 - each failure is reported
                failed += 1
                print("FAIL %s" % fn.__name__)
                traceback.print_exc()
                # A failure can leave the shared connection mid-response.
                sim.conn.close()
    finally:
        rc = sim.stop()
        if rc != 0:
            print("FAIL default instance exited %d on SIGTERM" % rc)
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
