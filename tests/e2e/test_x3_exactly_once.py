"""End to end: 1,000 supplier invoices sharing 10 stamps, plus 50 late
commits stamped a minute in the past, plus records changing while the
poller pages through them: every version that matters reaches Slack
exactly once (docs/records.md events replayed over /sim/truth)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from test_x3_records import X3Pipeline, assert_exactly_once, delivered_exactly  # noqa: E402


def test_shared_stamps_late_commits_and_paging_changes_deliver_each_version_once(a):
    ents = ("supplier_invoice",)
    p = X3Pipeline(a.bin, entities=ents, x3_args=["--rate", "0", "--initial", "0", "--seed", "21"],
                   keep=a.keep, page_size=50)
    try:
        p.start_all()
        p.x3.post("/sim/fault?kind=paging_changes&n=2")
        for _ in range(10):
            p.x3.post("/sim/fault?kind=equal_stamps&n=100")
            p.x3.post("/sim/generate?n=100&entity=pinv&mode=create")
        p.x3.post("/sim/fault?kind=late&n=50&age=60")
        p.x3.post("/sim/generate?n=50&entity=pinv&mode=create")
        stamps = {v["stamp"] for v in p.truth("supplier_invoice")}
        # Records keep changing under the poller's pages for a few cycles.
        polls = lambda: [e for e in p.audit() if e["kind"] == "poll" and e["pages"] > 1]
        wait_for(lambda: len(polls()) >= 3, 60, "3 multi-page cycles with changes during paging")
        p.x3.post("/sim/fault?kind=paging_changes&n=0")
        p.x3.post("/sim/fault?kind=clear")
        exp, got = delivered_exactly(p, ents, timeout=120)
        assert len(exp) >= 1050, len(exp)
        n = len([e for e in p.audit() if e["kind"] == "poll"])
        wait_for(lambda: len([e for e in p.audit() if e["kind"] == "poll"]) >= n + 3, 30, "3 more cycles")
        exp, got = delivered_exactly(p, ents)
        assert_exactly_once(exp, got)
        polls = [e for e in p.audit() if e["kind"] == "poll"]
        assert all(e["outcome"] == "ok" for e in polls)
        assert len(stamps) < 200, "stamps were not shared (%d distinct)" % len(stamps)
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_shared_stamps_late_commits_and_paging_changes_deliver_each_version_once])
