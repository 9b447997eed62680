"""End to end: OAuth2 with 3-second access tokens and 30-second (sliding)
refresh tokens. `mlc x3 login --code -` pairs the connector, then no poll
cycle fails for an expired token (the simulator counts zero requests with an
expired token), refreshes and rotations are audited, and the two
refresh-token expiry warnings appear in the audit journal; tokens expired
by the server are replaced after one 401 without failing a cycle.

The run lasts MLC_X3_AUTH_RUN_S seconds (default 20, for CI); the issue's
2-minute run is:
  MLC_X3_AUTH_RUN_S=120 python3 tests/e2e/test_x3_oauth2.py --bin BUILD
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from test_x3_auth import OAUTH2, OAUTH_SIM, SECRET_ENV, kinds, login, pipeline  # noqa: E402
from test_x3_records import assert_exactly_once, delivered_exactly  # noqa: E402


def test_oauth2_short_tokens_never_fail_a_cycle_and_warn_before_expiry(a):
    run_s = float(os.environ.get("MLC_X3_AUTH_RUN_S", "20"))
    p = pipeline(a, OAUTH2, OAUTH_SIM + ["--rate", "2", "--initial", "10", "--seed", "3"])
    try:
        p.start_all()
        # Not paired yet: one alert, the poller waits.
        wait_for(lambda: kinds(p, "alert", "polling_stopped"), 20, "the not-paired alert")
        assert p.alive("poller")
        login(p)
        wait_for(lambda: [e for e in kinds(p, "poll") if e["outcome"] == "ok"], 20, "a first cycle")
        t0 = time.monotonic()
        while time.monotonic() - t0 < run_s:
            assert p.alive("poller")
            time.sleep(1)
        polls = kinds(p, "poll")
        bad = [e for e in polls if e["outcome"] != "ok"]
        assert not bad, "failed cycles: %r" % bad[:3]
        assert len(polls) >= run_s / 2, "only %d cycles in %ss" % (len(polls), run_s)
        stats = p.x3.get("/sim/token/stats")
        assert stats["expired_access_rejections"] == 0, stats
        assert stats["refreshed"] >= run_s / 3, stats
        assert len(kinds(p, "token", "refresh")) >= run_s / 3
        assert kinds(p, "token", "rotation"), "rotated refresh tokens not audited"
        warnings = kinds(p, "token", "expiry_warning")
        assert len(warnings) == 2, warnings
        assert "first warning" in warnings[0]["detail"] and "last warning" in warnings[1]["detail"]
        assert not kinds(p, "alert", "refresh_rejected")
        # Tokens expired server-side (clock trouble, key rollover): the 401
        # is answered by one refresh and one retry, and no cycle fails.
        n = len(polls)
        p.x3.post("/sim/fault?kind=expire_tokens")
        wait_for(lambda: len(kinds(p, "poll")) >= n + 3, 20, "cycles after expire_tokens")
        assert all(e["outcome"] == "ok" for e in kinds(p, "poll")), "a cycle failed on a 401"
        exp, got = delivered_exactly(p, ("purchase_order",))
        assert_exactly_once(exp, got)
        # no secret in any log
        for n in p.names():
            text = p.log_text(n)
            assert SECRET_ENV["X3_CLIENT_SECRET"] not in text
    finally:
        p.close()



if __name__ == "__main__":
    harness.run([test_oauth2_short_tokens_never_fail_a_cycle_and_warn_before_expiry])
