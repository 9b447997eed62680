"""End to end: the three X3 authentication modes against the simulator.

- OAuth2 lifetimes: test_x3_oauth2.py.
- A revoked refresh token gives one clear audited alert, the poller stays up
  and idle (no crash loop), and a new login resumes polling.
- Connected app (HS256 JWT per request); `mlc poll now` starts a cycle.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from test_x3_records import X3Pipeline, assert_exactly_once, delivered_exactly  # noqa: E402

SECRET_ENV = {"X3_CLIENT_SECRET": "e2e-client-secret", "X3_APP_SECRET": "e2e-app-secret-0123456789"}

OAUTH2 = """\
  auth: oauth2
  oauth2:
    client_id: mlc-e2e
    client_secret_env: X3_CLIENT_SECRET
    refresh_margin: 60s
    refresh_ttl: 30s
    warn_first: 20s
    warn_last: 15s"""

APP = """\
  auth: connected_app
  user: admin
  connected_app:
    client_id: mlc-app
    secret_env: X3_APP_SECRET
    audience: x3-e2e
    validity: 60s
    skew: 30s"""

OAUTH_SIM = ["--auth", "oauth2", "--client-id", "mlc-e2e", "--client-secret-env", "X3_CLIENT_SECRET",
             "--access-ttl", "3", "--refresh-ttl", "30", "--refresh-expiry", "sliding"]


def pipeline(a, auth, sim_args, **kw):
    os.environ.update(SECRET_ENV)  # the simulator reads its secrets from the environment
    return X3Pipeline(a.bin, auth=auth, x3_args=sim_args, keep=a.keep, env=SECRET_ENV, **kw)


def login(p):
    code = p.x3.post("/sim/token/code")["code"]
    r = subprocess.run([os.path.join(p.bindir, "cli", "mlc"), "x3", "login", "--code", "-", "-c", p.config],
                       input=code + "\n", capture_output=True, text=True, timeout=30, env=p.env)
    assert r.returncode == 0, "mlc x3 login failed: %s %s" % (r.stdout, r.stderr)
    assert code not in r.stdout + r.stderr
    return code


def kinds(p, kind, event=None):
    return [e for e in p.audit() if e["kind"] == kind and (event is None or e.get("event") == event)]


def test_revoked_refresh_token_gives_one_alert_and_no_crash_loop(a):
    p = pipeline(a, OAUTH2, OAUTH_SIM + ["--rate", "1", "--initial", "5"])
    try:
        p.start_all()
        login(p)
        wait_for(lambda: len([e for e in kinds(p, "poll") if e["outcome"] == "ok"]) >= 2, 20, "cycles")
        p.x3.post("/sim/token/revoke")
        alert = wait_for(lambda: kinds(p, "alert", "refresh_rejected"), 20, "the refused-refresh alert")
        assert "mlc x3 login" in alert[0]["detail"], alert
        n_polls = len(kinds(p, "poll"))
        time.sleep(6)  # several poll intervals and token lifetimes
        assert p.alive("poller"), "the poller exited"
        assert len(kinds(p, "alert", "refresh_rejected")) == 1
        assert len(kinds(p, "poll")) <= n_polls + 1, "still polling after the refusal"
        assert len(kinds(p, "start")) == len(p.names()), "a stage restarted"
        # Pairing again resumes polling.
        login(p)
        wait_for(lambda: len(kinds(p, "poll")) >= n_polls + 3, 20, "polling after a new login")
        assert all(e["outcome"] == "ok" for e in kinds(p, "poll"))
    finally:
        p.close()


def test_connected_app_jwt_and_poll_now(a):
    p = pipeline(a, APP, ["--auth", "connected-app", "--client-id", "mlc-app", "--app-secret-env",
                          "X3_APP_SECRET", "--app-audience", "x3-e2e", "--app-max-validity", "60",
                          "--rate", "0", "--initial", "8"], poll_interval="1h")
    try:
        p.start_all()
        exp, got = delivered_exactly(p, ("purchase_order",))
        assert_exactly_once(exp, got)
        # The cycle's audit record travels apart from its records: it may
        # reach the journal just after the messages reach Slack.
        wait_for(lambda: len(kinds(p, "poll")) >= 1, 20, "the first cycle's poll record")
        n = len(kinds(p, "poll"))
        assert n == 1, n
        p.x3.post("/sim/generate?n=5")
        r = p.mlc("poll", "now")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: len(kinds(p, "poll")) >= 2, 20, "the cycle asked for by mlc poll now")
        exp, got = delivered_exactly(p, ("purchase_order",))
        assert_exactly_once(exp, got)
        assert all(e["outcome"] == "ok" for e in kinds(p, "poll"))
        assert p.x3.get("/sim/token/stats")["auth_rejections"] == 0
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_revoked_refresh_token_gives_one_alert_and_no_crash_loop,
                 test_connected_app_jwt_and_poll_now])
