"""End to end: max_frame_bytes bounds what a stage sends, not only what it
receives. With max_frame_bytes: 4096 and a route whose template makes every
message larger than that, the formatter does not queue a frame the
dispatcher would drop (and resend it forever): it posts a short notice
naming the record instead, audits why (one error per record), and the
other route's messages flow as usual.
"""
import harness
from harness import Pipeline, wait_for

# 165 placeholders of "Purchase order" (~2.3 KB), used as the text and again
# as a section, on top of the usual fields: ~6 KB encoded, whatever the record.
TEMPLATE = "{kind}" * 165


def test_message_over_max_frame_bytes_becomes_a_notice(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "5", "--seed", "3"], keep=a.keep,
                 channels=("#procure", "#big"), extra="max_frame_bytes: 4096\n")
    try:
        with open(p.config) as f:
            text = f.read()
        route = '    channel: "#big"\n'
        assert route in text
        text = text.replace(route, route + '    template: "%s"\n' % TEMPLATE)
        with open(p.config, "w") as f:
            f.write(text)
        p.start_all()
        wait_for(lambda: [e for e in p.audit() if e["kind"] == "poll" and e["outcome"] == "ok"], 30,
                 "a poll cycle")
        n = len(p.truth())
        assert n >= 3, n

        def settled():
            errs = [e for e in p.audit() if e["kind"] == "error" and e.get("where") == "format"]
            msgs = p.messages()
            return (msgs, errs) if len(msgs) >= 2 * n and len(errs) >= n else None
        msgs, errs = wait_for(settled, 60, "%d messages and %d format errors" % (2 * n, n))
        notices = [m for m in msgs if "too large to pass on" in (m.get("text") or "")]
        normal = [m for m in msgs if m not in notices]
        assert len(notices) == n and len(normal) == n, (len(notices), len(normal))
        for m in notices:
            assert "see `mlc audit`" in m["text"] and not m.get("blocks"), m
        for e in errs:
            assert "max_frame_bytes (4096)" in e["error"] and e["record_id"], e
        assert len({e["record_id"] for e in errs}) == n, errs
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_message_over_max_frame_bytes_becomes_a_notice])
