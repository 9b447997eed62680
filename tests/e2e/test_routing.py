"""End to end: routing rules and per-kind messages.

The X3 simulator serves purchase orders, supplier invoices and GL entries;
the pipeline runs with several routes (events, an amount threshold with a
template, accounts and journals, two routes naming one channel) and the
Slack simulator's per-channel log is checked against the simulator's truth:
each record reaches exactly the channels its rules name, once per channel,
rendered with escaped X3 text."""
import json
import os

import harness
from harness import Pipeline, wait_for

THRESHOLD = "10000"

ROUTES = """\
  - name: approved-pos
    entity: purchase_order
    event: [approved]
    channel: "#procure"
  - name: new-invoices
    entity: supplier_invoice
    event: received
    channel: "#procure"
  - name: large-invoices
    entity: supplier_invoice
    amount_gte: "%s"
    channel: "#finance"
    template: "*{kind} {number}* from {supplier_name}: {amount_excl_tax} {currency} ({event})"
  - name: gl-entries
    entity: gl_entry
    channel: "#gl"
  - name: gl-expenses
    entity: gl_entry
    accounts: ["6*"]
    channel: "#gl"
  - name: gl-misc
    entity: "*"
    journals: [MISC]
    channel: "#gl-misc"
""" % THRESHOLD

ENTITIES = """\
    - name: purchase_order
      class: PORDER
      key: POHNUM
    - name: supplier_invoice
      class: PINVOICE
      key: NUM
    - name: gl_entry
      class: GACCENTRY
      key: NUM
"""


def money(text):
    """'12345.6' -> '12,345.60' (two decimals: the simulator's currencies)."""
    neg = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    frac = (frac + "00")[:2]
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ("-" if neg else "") + ",".join(groups) + "." + frac


def dec(text):
    """Decimal text -> (integer, scale) compared exactly, never as a float."""
    neg = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    v = int(whole + frac.ljust(9, "0")[:9])
    return -v if neg else v


def slack_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_pipeline(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "24", "--seed", "7"], keep=a.keep,
                 channels=("#procure",))
    # The harness's config has one entity and one route per channel; this
    # test needs the three kinds and its own routes.
    with open(p.config) as f:
        text = f.read()
    start = text.index("  entities:\n") + len("  entities:\n")
    end = text.index("slack:\n")
    text = text[:start] + ENTITIES + text[end:]
    text = text[:text.index("routes:\n") + len("routes:\n")] + ROUTES
    with open(p.config, "w") as f:
        f.write(text)
    return p


def record_parts(m):
    rid = ((m.get("metadata") or {}).get("event_payload") or {}).get("record_id") or ""
    unq = lambda s: s.replace("%2F", "/").replace("%25", "%")
    parts = [unq(x) for x in rid.split("/")]
    return rid, parts


class Truth:
    """The simulator's served versions, by entity, and which came first."""

    def __init__(self, p):
        self.versions = {}
        self.first = {}
        for ent, name in (("po", "purchase_order"), ("pinv", "supplier_invoice"), ("gl", "gl_entry")):
            vs = p.x3.get("/sim/truth?entity=" + ent)["versions"]
            self.versions[name] = vs
            firsts = {}
            for v in vs:
                if v["key"] not in firsts or v["stamp"] < firsts[v["key"]]["stamp"]:
                    firsts[v["key"]] = v
            self.first[name] = list(firsts.values())

    def find(self, entity, key, stamp):
        """The version a message's record id names (GL keys may carry the
        entry type in front of the number)."""
        for v in self.versions.get(entity, []):
            if v["stamp"] == stamp and (v["key"] == key or key.endswith("-" + v["key"])):
                return v
        return None


def by_channel(p):
    out = {}
    for m in p.messages():
        out.setdefault(m["channel_name"], []).append(m)
    return out


def delivered(p, t):
    """Record ids expected in each channel, from the truth (first-seen
    versions only: later events depend on which fields changed)."""
    want = {"procure": set(), "finance": set(), "gl": set(), "gl-misc": set()}
    for v in t.first["purchase_order"]:
        if v["fields"]["APPFLG"] in (3, 5):
            want["procure"].add(("purchase_order", v["key"], v["stamp"]))
    for v in t.first["supplier_invoice"]:
        want["procure"].add(("supplier_invoice", v["key"], v["stamp"]))
        if dec(v["fields"]["AMTNOT"]) >= dec(THRESHOLD):
            want["finance"].add(("supplier_invoice", v["key"], v["stamp"]))
    for v in t.first["gl_entry"]:
        want["gl"].add(("gl_entry", v["key"], v["stamp"]))
        if v["fields"]["JOU"] == "MISC":
            want["gl-misc"].add(("gl_entry", v["key"], v["stamp"]))
    return want


def got_ids(msgs, t):
    out = set()
    for m in msgs:
        _, parts = record_parts(m)
        v = t.find(parts[0], parts[1], parts[2]) if len(parts) == 3 else None
        if v is not None:
            out.add((parts[0], v["key"], v["stamp"]))
    return out


def converged(p):
    t = Truth(p)
    if not all(t.first.values()):
        return None
    chans = by_channel(p)
    want = delivered(p, t)
    for ch, ids in want.items():
        if not ids <= got_ids(chans.get(ch, []), t):
            return None
    return t


def test_each_record_reaches_the_channels_its_rules_name_once_each(a):
    p = make_pipeline(a)
    try:
        p.start_all()
        wait_for(lambda: converged(p), 60, "first-seen records in their channels")
        p.x3.post("/sim/generate?n=20")
        wait_for(lambda: converged(p), 60, "generated changes in their channels")
        # A few more poll cycles: nothing else may arrive.
        cycles = lambda: sum(1 for e in p.audit() if e["kind"] == "poll")
        n = cycles()
        wait_for(lambda: cycles() >= n + 6, 30, "more poll cycles")
        t = Truth(p)
        chans = by_channel(p)
        want = delivered(p, t)
        assert set(chans) <= {"procure", "finance", "gl", "gl-misc"}, list(chans)
        # Each record at most once per channel (two routes name #gl).
        for ch, msgs in chans.items():
            ids = [record_parts(m)[0] for m in msgs]
            assert len(ids) == len(set(ids)), "%s: %d posts for %d records" % (ch, len(ids), len(set(ids)))
        # The test means something: both sides of every rule occur.
        big = [v for v in t.first["supplier_invoice"] if dec(v["fields"]["AMTNOT"]) >= dec(THRESHOLD)]
        small = [v for v in t.first["supplier_invoice"] if dec(v["fields"]["AMTNOT"]) < dec(THRESHOLD)]
        assert big and small, (len(big), len(small))
        misc = [v for v in t.first["gl_entry"] if v["fields"]["JOU"] == "MISC"]
        assert misc and len(misc) < len(t.first["gl_entry"])
        appr = [v for v in t.first["purchase_order"] if v["fields"]["APPFLG"] in (3, 5)]
        assert appr and len(appr) < len(t.first["purchase_order"])
        expense = [v for v in t.first["gl_entry"]
                   if any(l["ACC"].startswith("6") for l in v["fields"]["GACCENTRYD"])]
        assert expense, "no GL entry with a 6* account: the duplicate-channel check is empty"
        for ch, ids in want.items():
            missing = ids - got_ids(chans.get(ch, []), t)
            assert not missing, (ch, sorted(missing)[:3])
        # Nothing reaches a channel its rules do not name.
        for m in chans.get("procure", []):
            _, (ent, key, stamp) = record_parts(m)
            v = t.find(ent, key, stamp)
            assert v is not None, m["text"]
            assert ent in ("purchase_order", "supplier_invoice"), ent
            if ent == "purchase_order":
                assert v["fields"]["APPFLG"] in (3, 5), (v["fields"]["APPFLG"], m["text"])
                assert " approved" in m["blocks"][0]["text"]["text"], m["blocks"][0]
            else:
                assert " received" in m["blocks"][0]["text"]["text"], m["blocks"][0]
        for m in chans.get("finance", []):
            _, (ent, key, stamp) = record_parts(m)
            v = t.find(ent, key, stamp)
            assert ent == "supplier_invoice" and v is not None
            f = v["fields"]
            assert dec(f["AMTNOT"]) >= dec(THRESHOLD), f["AMTNOT"]
            # The route's template, with escaped X3 values.
            head = "*Supplier invoice %s* from %s: %s %s (" % (
                f["NUM"], slack_escape(f["BPR_REF"]["$description"]), money(f["AMTNOT"]), f["CUR"])
            assert m["text"].startswith(head), (m["text"], head)
            assert m["text"].endswith("(received)") or m["text"].endswith("(status changed)"), m["text"]
            assert m["blocks"][1]["text"]["text"] == m["text"]
        for ch in ("gl", "gl-misc"):
            for m in chans.get(ch, []):
                _, (ent, key, stamp) = record_parts(m)
                v = t.find(ent, key, stamp)
                assert ent == "gl_entry" and v is not None, m["text"]
                if ch == "gl-misc":
                    assert v["fields"]["JOU"] == "MISC"
        # The GL message: journal, source, lines with account, side, amount.
        m = next(m for m in chans["gl"] if t.find(*record_parts(m)[1]) in t.first["gl_entry"])
        v = t.find(*record_parts(m)[1])
        f = v["fields"]
        fields = " ".join(x["text"] for x in m["blocks"][1]["fields"])
        assert "*Journal*\n" + slack_escape(f["JOU"]) in fields, fields
        assert "*Source*\n" + slack_escape(f["TYP"]) in fields, fields
        lines = m["blocks"][2]["text"]["text"]
        for l in f["GACCENTRYD"][:5]:
            side = "debit" if l["SNS"] == 1 else "credit"
            assert "%s \u00b7 %s %s %s" % (l["ACC"], side, money(l["AMTCUR"]), l["CUR"]) in lines, (lines, l)
        # Invoice fields: supplier document, GL account, amounts.
        m = next(m for m in chans["procure"] if record_parts(m)[1][0] == "supplier_invoice")
        f = t.find(*record_parts(m)[1])["fields"]
        fields = " ".join(x["text"] for x in m["blocks"][1]["fields"])
        assert "*Supplier document*\n" + slack_escape(f["BPRVCR"]) in fields, fields
        assert "*Amount (excl. tax)*\n%s %s" % (money(f["AMTNOT"]), f["CUR"]) in fields, fields
        assert "*Amount (incl. tax)*\n%s %s" % (money(f["AMTATI"]), f["CUR"]) in fields, fields
        assert "*GL account*\n" + slack_escape(f["ACC"]) in fields, fields
        # Untrusted X3 text never reaches Slack unescaped.
        for msgs in chans.values():
            for m in msgs:
                blob = m["text"] + json.dumps(m["blocks"])
                assert "<!channel>" not in blob and "<Ltd>" not in blob and "<GL" not in blob, blob
        events = p.audit()
        assert not [e for e in events if e["kind"] in ("error", "alert")], \
            [e for e in events if e["kind"] in ("error", "alert")][:3]
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


def test_bad_route_stops_the_formatter_at_start_naming_the_route(a):
    import subprocess
    p = make_pipeline(a)
    try:
        with open(p.config) as f:
            text = f.read()
        text = text.replace('amount_gte: "%s"' % THRESHOLD, 'amount_gte: "ten thousand"')
        with open(p.config, "w") as f:
            f.write(text)
        r = subprocess.run([p.exe("formatter"), "-c", p.config], capture_output=True, text=True,
                           timeout=30, env=p.env)
        assert r.returncode != 0
        assert "route 'large-invoices'" in r.stderr and "must be a decimal" in r.stderr, r.stderr
        assert "routes[2].amount_gte" in r.stderr, r.stderr
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([
        test_each_record_reaches_the_channels_its_rules_name_once_each,
        test_bad_route_stops_the_formatter_at_start_naming_the_route,
    ])
