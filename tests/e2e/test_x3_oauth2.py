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
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from test_x3_auth import OAUTH2, OAUTH_SIM, SECRET_ENV, kinds, login, pipeline  # noqa: E402
from test_x3_records import assert_exactly_once, delivered_exactly  # noqa: E402


def assert_no_plain_tokens(p):
    """No file under the run's directory except the simulator logs holds an
    X3 access token (a JWT: "eyJ") or the plain token record the poller
    used to write (keys refresh_token / granted_at)."""
    scanned = 0
    for path, blob in harness.run_files(p):
        scanned += 1
        for needle in (b"eyJ", b"refresh_token", b"granted_at"):
            assert needle not in blob, "%r in %s" % (needle, path)
    assert not os.path.exists(os.path.join(p.tmp, "state", "poller", "x3-tokens"))
    assert scanned >= 8, scanned


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
        # The rotated tokens are in the encrypted store only (entry x3.tokens):
        # no file the run produced holds an access JWT or a token record.
        assert "x3.tokens" in p.mlc("secrets", "list").stdout
        assert_no_plain_tokens(p)
        # A restart picks the rotated refresh token up from the store (the
        # configured nothing / a stale one would stop polling).
        n = len(kinds(p, "poll"))
        p.kill("poller", sig=15)
        p.start("poller")
        wait_for(lambda: len(kinds(p, "poll")) >= n + 3, 30, "cycles after a restart")
        assert all(e["outcome"] == "ok" for e in kinds(p, "poll")), "a cycle failed after a restart"
        assert not kinds(p, "alert", "refresh_rejected")
        p.stop_all()
        assert_no_plain_tokens(p)
        # Without the master key, or with another one, the poller stops at
        # start (exit 2) instead of running without its tokens.
        exe = os.path.join(p.bindir, "poller", "mlc-poller")
        env = {k: v for k, v in p.env.items() if k not in ("MLC_MASTER_KEY", "MLC_MASTER_KEY_FILE")}
        r = subprocess.run([exe, "-c", p.config], capture_output=True, text=True, env=env, timeout=30)
        assert r.returncode == 2 and "master key" in r.stderr, (r.returncode, r.stderr)
        env["MLC_MASTER_KEY"] = "ab" * 32
        r = subprocess.run([exe, "-c", p.config], capture_output=True, text=True, env=env, timeout=30)
        assert r.returncode == 2 and "master key does not open" in r.stderr, (r.returncode, r.stderr)
    finally:
        p.close()



if __name__ == "__main__":
    harness.run([test_oauth2_short_tokens_never_fail_a_cycle_and_warn_before_expiry])
