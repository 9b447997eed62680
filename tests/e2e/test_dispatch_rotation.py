"""Token rotation: a bot token that expires (token_expired) is refreshed
with oauth.v2.access (grant_type=refresh_token), the post retried once, and
the new pair kept so that a restart uses it (Slack revoked the configured
refresh token when it answered the refresh)."""
import os
import subprocess
import time

import harness
from harness import Pipeline, wait_for
from test_dispatch_errors import NO_RATE, feed, msg_ids, start


def test_token_expired_is_refreshed_and_the_post_retried(a):
    p = Pipeline(a.bin, slack_args=NO_RATE + ["--rotate-tokens", "--token-ttl", "3"], keep=a.keep,
                 min_interval="20ms")
    try:
        with open(p.config) as f:
            cfg = f.read()
        cfg = cfg.replace("  max_attempts: 8\n", "  max_attempts: 8\n"
                          "  refresh_token_env: E2E_REFRESH\n  client_id: \"123.456\"\n"
                          "  client_secret_env: E2E_CLIENT_SECRET\n")
        with open(p.config, "w") as f:
            f.write(cfg)
        p.env["E2E_REFRESH"] = "xoxe-1-test-refresh"
        p.env["E2E_CLIENT_SECRET"] = "e2e-client-secret"
        t0 = time.monotonic()
        start(p)
        feed(p, 2, 1, "rot")
        wait_for(lambda: len(p.messages()) == 2, 20, "2 posts")
        time.sleep(max(0.0, 3.3 - (time.monotonic() - t0)))  # the token's lifetime (3 s)
        feed(p, 2, 1, "rot", run="r2")
        wait_for(lambda: len(p.messages()) == 4, 20, "2 more posts after the refresh")
        calls = p.slack.get("/sim/calls")["calls"]
        expired = [c for c in calls if c["error"] == "token_expired"]
        refreshes = [c for c in calls if c["method"] == "oauth.v2.access"]
        assert expired and len(refreshes) == 1 and refreshes[0]["ok"], (expired, refreshes)
        assert not [e for e in p.audit() if e["kind"] == "alert"]
        assert [e for e in p.audit() if e["kind"] == "token" and e["event"] == "refreshed"]
        # A restart uses the pair kept by the refresh: Slack revoked the
        # configured refresh token, so using it would fail.
        p.kill("dispatcher-0", sig=15)
        time.sleep(3.2)  # let the refreshed token expire too
        p.start("dispatcher-0")
        feed(p, 2, 1, "rot", run="r3")
        wait_for(lambda: len(p.messages()) == 6, 20, "posts after a restart")
        refreshes = [c for c in p.slack.get("/sim/calls")["calls"] if c["method"] == "oauth.v2.access"]
        assert len(refreshes) == 2 and all(c["ok"] for c in refreshes), refreshes
        assert not [e for e in p.audit() if e["kind"] == "alert"]
        ids = msg_ids(p)
        assert len(ids) == len(set(ids)) == 6
        logs = p.log_text("dispatcher-0")
        assert "xoxe" not in logs and "e2e-client-secret" not in logs, "a secret was logged"
        # The rotated pairs (slacksim's tokens all begin "xoxe") are in the
        # encrypted store only: no file of the run (LMDB, logs, config)
        # holds one in plaintext, and the store has the dispatcher's entry.
        assert "slack.tokens.dispatcher-0" in p.mlc("secrets", "list").stdout
        p.stop_all()
        scanned = 0
        for path, blob in harness.run_files(p):
            assert b"xoxe" not in blob, "a Slack token in plaintext in " + path
            scanned += 1
        assert scanned >= 6, scanned
        # A wrong master key stops the dispatcher at start.
        exe = os.path.join(p.bindir, "dispatcher", "mlc-dispatcher")
        env = dict(p.env, MLC_MASTER_KEY="ab" * 32)
        r = subprocess.run([exe, "-c", p.config, "--index", "0"], capture_output=True, text=True,
                           env=env, timeout=30)
        assert r.returncode == 2 and "master key does not open" in r.stderr, (r.returncode, r.stderr)
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_token_expired_is_refreshed_and_the_post_retried])
