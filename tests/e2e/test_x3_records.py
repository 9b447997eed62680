"""End to end: each record kind (purchase order, supplier invoice, GL
entry) arrives in the simulated Slack over api1 and over GraphQL, with the
record id entity/key/stamp in the message metadata and the document number
in the text; versions that change nothing that matters are not posted.

Also holds the helpers the other test_x3_*.py files import: X3Pipeline (the
harness Pipeline with a config for all three entities, any API and auth)
and expected_events() (docs/records.md's event rules replayed over the
simulator's /sim/truth)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Pipeline, wait_for  # noqa: E402

ENTITIES = {
    "purchase_order": ("po", "PORDER", "POHNUM"),
    "supplier_invoice": ("pinv", "PINVOICE", "NUM"),
    "gl_entry": ("gl", "GACCENTRY", "NUM"),
}

CONFIG = """\
state_dir: {tmp}/state
log_level: info
resend_after: 1s
endpoints:
  poller_ack: ipc://{tmp}/poller-ack
  formatter_in: ipc://{tmp}/formatter-in
  formatter_ack: ipc://{tmp}/formatter-ack
  dispatchers:
    - in: ipc://{tmp}/dispatcher-0-in
      ack: ipc://{tmp}/dispatcher-0-ack
  auditor_in: ipc://{tmp}/auditor-in
  auditor_pub: ipc://{tmp}/auditor-pub
x3:
  url: {x3url}
  folder: SEED
  api: {api}
{auth}
  timeout: {timeout}
  page_size: {page_size}
  poll_interval: {poll_interval}
  initial_window: 24h
  lookback: {lookback}
  max_attempts: {max_attempts}
  retry_backoff: 200ms
  entities:
{entities}
slack:
  api_url: {slackurl}/api
  token_env: SLACK_BOT_TOKEN
  timeout: 5s
  min_interval: 0s
  max_attempts: 8
routes:
{routes}
auditor:
  http_listen: 127.0.0.1:0
"""

BASIC = """\
  auth: basic
  user: admin
  password_env: X3_PASSWORD"""


class X3Pipeline(Pipeline):
    """Pipeline with the given entities (names of ENTITIES), API and auth."""

    def __init__(self, bindir, entities=("purchase_order",), api="api1", auth=BASIC, x3_args=None,
                 keep=False, env=None, **over):
        sim_ents = ",".join(ENTITIES[e][0] for e in entities)
        args = list(x3_args or [])
        if "--entities" not in args:
            args += ["--entities", sim_ents]
        self.extra_env = env or {}
        super().__init__(bindir, x3_args=args, keep=keep)
        self.env.update(self.extra_env)
        ents = "".join("    - name: %s\n      class: %s\n      key: %s\n"
                       % (e, ENTITIES[e][1], ENTITIES[e][2]) for e in entities)
        routes = "".join('  - name: r-%s\n    entity: %s\n    channel: "#%s"\n'
                         % (e, e, e.replace("_", "-")) for e in entities)
        values = dict(tmp=self.tmp, x3url=self.x3.url, slackurl=self.slack.url, api=api, auth=auth,
                      timeout="5s", page_size=7, poll_interval="1s", lookback="5m", max_attempts=4,
                      entities=ents.rstrip("\n"), routes=routes.rstrip("\n"))
        values.update(over)
        with open(self.config, "w") as f:
            f.write(CONFIG.format(**values))

    def truth(self, entity="purchase_order"):
        return self.x3.get("/sim/truth?entity=" + ENTITIES[entity][0])["versions"]


def record_id(entity, key, stamp):
    return harness.record_id(key, stamp, entity)


def by_record(messages):
    out = {}
    for m in messages:
        rid = ((m.get("metadata") or {}).get("event_payload") or {}).get("record_id")
        out.setdefault(rid, []).append(m)
    return out


def _gl_status(v):
    return {"temporary": "1", "final": "2"}.get(str(v), str(v))


def _state(entity, f):
    """(fingerprint tuple, a, b) like poller/records.c, from truth fields
    (api1 names; the simulator's truth is api1-shaped)."""
    g = lambda k: None if f.get(k) is None else str(f.get(k))
    if entity == "purchase_order":
        fp = (g("BPSNUM"), g("CUR"), g("TOTORD"), g("TTVORD"), g("APPFLG"), g("CLEFLG"))
        return fp, g("APPFLG"), ""
    if entity == "supplier_invoice":
        fp = (g("BPR"), g("BPRVCR"), g("CUR"), g("AMTNOT"), g("AMTATI"), g("STA"), g("PAZ"))
        return fp, g("STA"), g("PAZ")
    lines = tuple((str(l.get("ACC")), str(l.get("CUR")), str(l.get("SNS")), str(l.get("AMTCUR")).lstrip("-"))
                  for l in f.get("GACCENTRYD") or [])
    return (g("CUR"), g("STA"), lines), _gl_status(g("STA")), ""


def number(entity, key, fields, api="api1"):
    # docs/records.md: api1 GL number is TYP-NUM, GraphQL's is journalEntry
    if entity == "gl_entry" and api == "api1" and fields.get("TYP"):
        return "%s-%s" % (fields["TYP"], key)
    return key


def expected_events(entity, truth, notify=None, api="api1"):
    """{record_id: event} for the versions that must be posted, replaying
    docs/records.md over the served versions in stamp order per key."""
    notify = notify or {"purchase_order": ("approved", "modified"),
                        "supplier_invoice": ("received", "status_changed"),
                        "gl_entry": ("posted", "status_changed")}[entity]
    per_key = {}
    for v in truth:
        per_key.setdefault(v["key"], []).append(v)
    out = {}
    for key, vs in per_key.items():
        prev = None
        for v in sorted(vs, key=lambda v: v["stamp"]):
            fp, a, b = _state(entity, v["fields"])
            ev = None
            if entity == "purchase_order":
                appr = lambda x: x in ("3", "5")
                if prev is None:
                    ev = "approved" if appr(a) else "created"
                elif prev[0] != fp:
                    ev = "approved" if appr(a) and not appr(prev[1]) else ("modified" if appr(prev[1]) else None)
            elif entity == "supplier_invoice":
                if prev is None:
                    ev = "received"
                elif prev[0] != fp and (prev[1] != a or prev[2] != b):
                    ev = "status_changed"
            else:
                if prev is None:
                    ev = "posted"
                elif prev[0] != fp and prev[1] != a:
                    ev = "posted" if a == "2" else "status_changed"
            prev = (fp, a, b)
            if ev in notify:
                out[record_id(entity, number(entity, key, v["fields"], api), v["stamp"])] = ev
    return out


def delivered_exactly(p, entities, timeout=60, api="api1"):
    """Waits until every expected record is in Slack; returns (expected, got)."""
    def check():
        got = by_record(p.messages())
        exp = {}
        for e in entities:
            exp.update(expected_events(e, p.truth(e), api=api))
        missing = [r for r in exp if r not in got]
        return (exp, got) if exp and not missing else None
    return wait_for(check, timeout, "every expected record in Slack")


def assert_exactly_once(exp, got):
    dups = {r: len(m) for r, m in got.items() if len(m) > 1}
    assert not dups, "posted more than once: %r" % list(dups.items())[:5]
    extra = [r for r in got if r not in exp]
    assert not extra, "posted but not expected: %r" % extra[:5]


def check_kinds(a, api):
    ents = tuple(ENTITIES)
    p = X3Pipeline(a.bin, entities=ents, api=api,
                   x3_args=["--rate", "0", "--initial", "20", "--seed", "5"], keep=a.keep)
    try:
        p.start_all()
        exp, got = delivered_exactly(p, ents, api=api)
        for e in ents:
            assert any(r.startswith(e + "/") for r in exp), "no %s expected" % e
        # each message names its document number in the text
        for rid, ms in got.items():
            key = rid.split("/")[1].replace("%2F", "/").replace("%25", "%")
            assert key in ms[0].get("text", ""), "%s: number %s not in %r" % (rid, key, ms[0].get("text"))
        p.x3.post("/sim/generate?n=30")
        exp, got = delivered_exactly(p, ents, api=api)
        n = len([e for e in p.audit() if e["kind"] == "poll"])
        wait_for(lambda: len([e for e in p.audit() if e["kind"] == "poll"]) >= n + 6, 30, "more cycles")
        exp, got = delivered_exactly(p, ents, api=api)
        assert_exactly_once(exp, got)
        polls = [e for e in p.audit() if e["kind"] == "poll"]
        assert all(e["outcome"] == "ok" for e in polls), [e for e in polls if e["outcome"] != "ok"][:2]
        assert {e["api"] for e in polls} == {api}
    finally:
        p.close()


def test_each_record_kind_arrives_over_api1(a):
    check_kinds(a, "api1")


def test_each_record_kind_arrives_over_graphql(a):
    check_kinds(a, "graphql")


if __name__ == "__main__":
    harness.run([test_each_record_kind_arrives_over_api1, test_each_record_kind_arrives_over_graphql])
