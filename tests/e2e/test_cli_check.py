"""End to end: `mlc check` against the simulators passes every item with the
right credentials and names the fix when the Slack token, a channel or the
X3 password is wrong. No stage runs: check talks to X3 and Slack itself."""
import json
import os
import subprocess
import urllib.request

import harness
from harness import Pipeline


def check(p, config=None, **env):
    e = dict(p.env)
    e.update(env)
    return subprocess.run([os.path.join(p.bindir, "cli", "mlc"), "check", "-c", config or p.config],
                          capture_output=True, text=True, timeout=60, env=e)


def make_channels(p, *names):
    """Channels exist in the simulator once something was posted there."""
    for n in names:
        req = urllib.request.Request(p.slack.url + "/api/chat.postMessage", method="POST",
                                     data=json.dumps({"channel": n, "text": "hello"}).encode(),
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "Authorization": "Bearer " + Pipeline.SLACK_TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["ok"], n


def test_check_passes_everything_with_the_right_credentials(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "2"], keep=a.keep,
                 channels=("#procure", "#finance"))
    try:
        make_channels(p, "#procure", "#finance")
        r = check(p)
        print(r.stdout)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "FAIL" not in r.stdout
        for item in ("x3 entity purchase_order", "slack token", "slack scope chat:write",
                     "slack channel #procure", "slack channel #finance"):
            assert "PASS  " + item in r.stdout, (item, r.stdout)
        assert "all pass" in r.stdout
        # Never posts: only the two messages made above are in Slack.
        assert len(p.messages()) == 2
    finally:
        p.close()


def test_check_names_the_fix_for_a_wrong_token_channel_or_password(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep,
                 channels=("#procure", "#finance"))
    try:
        make_channels(p, "#procure")   # #finance does not exist
        r = check(p)
        assert r.returncode == 1, r.stdout
        assert "FAIL  slack channel #finance: conversations.list: channel_not_found" in r.stdout, r.stdout
        assert "fix: no channel #finance is visible to the bot" in r.stdout
        assert "routes[1].channel" in r.stdout
        assert "PASS  slack channel #procure" in r.stdout

        r = check(p, SLACK_BOT_TOKEN="xoxb-not-the-right-one")
        assert r.returncode == 1
        assert "FAIL  slack token: auth.test: invalid_auth" in r.stdout, r.stdout
        assert "Bot User OAuth Token" in r.stdout and "slack.token_env" in r.stdout
        assert "xoxb-not-the-right-one" not in r.stdout + r.stderr

        r = check(p, X3_PASSWORD="wrong-password")
        assert r.returncode == 1
        assert "FAIL  x3 entity purchase_order" in r.stdout, r.stdout
        assert "check x3.user and the password" in r.stdout, r.stdout
        assert "wrong-password" not in r.stdout + r.stderr
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_check_passes_everything_with_the_right_credentials,
                 test_check_names_the_fix_for_a_wrong_token_channel_or_password])
