"""End to end: every injectable X3 fault ends with nothing lost and the
right audit record (GraphQL, purchase orders and invoices):

  5xx and licence throttling   retried inside the cycle: poll audited ok
                               with retries and the reason
  latency beyond x3.timeout    retried, then the cycle is audited failed;
                               the watermark stays
  malformed JSON, partial data a failed cycle whose error names the entity
  (data + errors)              and the page; read again next cycle
  expired tokens (OAuth2)      see test_x3_oauth2.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from test_x3_records import X3Pipeline, assert_exactly_once, delivered_exactly  # noqa: E402

ENTS = ("purchase_order", "supplier_invoice")


def polls(p):
    return [e for e in p.audit() if e["kind"] == "poll"]


def fault(p, q):
    p.x3.post("/sim/fault?" + q)


def test_every_x3_fault_ends_with_nothing_lost_and_the_right_audit_record(a):
    p = X3Pipeline(a.bin, entities=ENTS, api="graphql", keep=a.keep, timeout="1s", max_attempts=3,
                   x3_args=["--rate", "0", "--initial", "12", "--seed", "8"])
    try:
        p.start_all()
        delivered_exactly(p, ENTS)

        def after_fault(q, cond, what):
            n = len(polls(p))
            fault(p, q)
            p.x3.post("/sim/generate?n=6")
            ev = wait_for(lambda: [e for e in polls(p)[n:] if cond(e)], 30, what)
            fault(p, "kind=clear")
            delivered_exactly(p, ENTS)
            return ev[0]

        ev = after_fault("kind=5xx&rate=60", lambda e: e["retries"] > 0 and e["outcome"] == "ok",
                         "a cycle that retried 5xx and succeeded")
        assert "503" in ev["retry_reason"], ev
        ev = after_fault("kind=throttle&n=2", lambda e: e["retries"] > 0,
                         "a cycle that retried licence throttling")
        assert "503" in ev["retry_reason"], ev
        ev = after_fault("kind=malformed&n=1", lambda e: e["outcome"] == "failed",
                         "a failed cycle for the malformed page")
        assert "page 1 of" in ev["error"] and ev["entity"] in ev["error"], ev
        assert "JSON" in ev["error"], ev
        assert ev["wm_before"] == ev["wm_after"], ev
        ev = after_fault("kind=partial&n=1", lambda e: e["outcome"] == "failed",
                         "a failed cycle for partial data")
        assert "partial data refused" in ev["error"] and "page 1 of" in ev["error"], ev
        ev = after_fault("kind=latency&ms=1500", lambda e: e["outcome"] == "failed",
                         "a failed cycle after timeouts")
        assert "after 3 attempts" in ev["error"], ev
        assert ev["retries"] >= 2 and ev["wm_before"] == ev["wm_after"], ev
        # After all that, nothing lost and nothing doubled.
        n = len(polls(p))
        wait_for(lambda: len(polls(p)) >= n + 4, 30, "quiet cycles")
        exp, got = delivered_exactly(p, ENTS)
        assert_exactly_once(exp, got)
        assert all(e["outcome"] == "ok" for e in polls(p)[n:])
        assert p.alive("poller")
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_every_x3_fault_ends_with_nothing_lost_and_the_right_audit_record])
