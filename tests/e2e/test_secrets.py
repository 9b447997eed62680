"""End to end: the stages read the X3 password and the Slack token from the
encrypted secret store (`mlc secrets set`, `*_secret` config keys); no
secret value appears in anything a full run produced (logs, journal, LMDB
files, argv and environment of each stage); a wrong or missing master key
stops a stage at start with a clear message and leaves the store unchanged.
"""
import hashlib
import os
import re
import subprocess

import harness
from harness import Pipeline, wait_for

STORE_CONFIG = {
    "password_env: X3_PASSWORD": "password_secret: x3.password",
    "token_env: SLACK_BOT_TOKEN": "token_secret: slack.token",
}


def secret_pipeline(a, x3_args):
    """A pipeline whose stages get their credentials only from the store."""
    p = Pipeline(a.bin, x3_args=x3_args, keep=a.keep)
    mlc = os.path.join(a.bin, "cli", "mlc")
    key = os.path.join(p.tmp, "master.key")
    r = subprocess.run([mlc, "keys", "generate", "--master", key], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # The simulators (the outside services) keep the env; the stages don't.
    p.env = {k: v for k, v in p.env.items()
             if k not in ("X3_PASSWORD", "SLACK_BOT_TOKEN", "MLC_MASTER_KEY")}
    p.env["MLC_MASTER_KEY_FILE"] = key
    with open(p.config) as f:
        text = f.read()
    for old, new in STORE_CONFIG.items():
        assert old in text, old
        text = text.replace(old, new)
    with open(p.config, "w") as f:
        f.write(text)
    os.makedirs(os.path.join(p.tmp, "state"), exist_ok=True)
    for name, value in (("x3.password", p.X3_PASSWORD), ("slack.token", p.SLACK_TOKEN)):
        r = subprocess.run([mlc, "secrets", "set", name, "-c", p.config], input=value + "\n",
                           capture_output=True, text=True, env=p.env)
        assert r.returncode == 0, r.stderr
        assert value not in r.stdout + r.stderr
    return p


def store_path(p):
    return os.path.join(p.tmp, "state", "secrets.db")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_full_run_from_the_store_leaks_no_secret(a):
    p = secret_pipeline(a, ["--rate", "0", "--initial", "12", "--seed", "5"])
    secrets = [p.X3_PASSWORD.encode(), p.SLACK_TOKEN.encode()]
    try:
        with open(store_path(p), "rb") as f:
            data = f.read()
        for s in secrets:
            assert s not in data, "plaintext secret in the store file"
        assert os.stat(store_path(p)).st_mode & 0o777 == 0o600
        p.start_all()

        # Posts reach Slack only with the token, rows come from X3 only with
        # the password: both were read from the store.
        wait_for(lambda: len(p.messages()) >= 2, 60, "posts in Slack (credentials from the store)")
        wait_for(lambda: sum(1 for e in p.audit() if e["kind"] == "poll") >= 3, 30,
                 "three poll cycles")
        # argv and environment of every stage, while running.
        for name in p.names():
            pid = p.procs[name].pid
            for what in ("cmdline", "environ"):
                # Readable by root even though the stages are non-dumpable.
                with open("/proc/%d/%s" % (pid, what), "rb") as f:
                    blob = f.read()
                assert blob, "/proc/%d/%s is empty" % (pid, what)
                for s in secrets:
                    assert s not in blob, "secret in /proc/%d/%s of %s" % (pid, what, name)
        journal = p.mlc("audit", "--json")
        assert journal.returncode == 0, journal.stderr
        assert len(journal.stdout.splitlines()) > 10
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
        # Every file the run produced except the simulators' own logs:
        # stage logs, LMDB environments, the config.
        scanned = 0
        for path, blob in harness.run_files(p):
            scanned += 1
            for s in secrets:
                assert s not in blob, "secret found in %s" % path
        assert scanned >= 8, scanned
        for s in secrets:
            assert s.decode() not in journal.stdout, "secret in the audit journal"
        # The stages really used the store: the poller logged no auth error
        # (an X3 refusal reads "HTTP 401 from X3..."; a bare "401" may be a
        # duration or a number in the log).
        log = p.log_text("poller")
        assert "HTTP 401" not in log and "check x3.user and the password" not in log, log[-2000:]
    finally:
        p.close()


def run_stage_briefly(p, stage, env):
    exe = os.path.join(p.bindir, stage, "mlc-" + stage)
    return subprocess.run([exe, "-c", p.config], capture_output=True, text=True, env=env, timeout=30)


def test_wrong_or_missing_master_key_stops_at_start_store_unchanged(a):
    p = secret_pipeline(a, ["--rate", "0", "--initial", "3", "--seed", "7"])
    try:
        before = sha(store_path(p))
        wrong = os.path.join(p.tmp, "wrong.key")
        with open(wrong, "w") as f:
            f.write("ab" * 32 + "\n")
        env = dict(p.env, MLC_MASTER_KEY_FILE=wrong)
        for stage in ("poller", "dispatcher"):
            r = run_stage_briefly(p, stage, env)
            assert r.returncode == 2, (stage, r.returncode, r.stderr)
            assert "master key does not open secret store" in r.stderr, r.stderr
            assert sha(store_path(p)) == before
        env = {k: v for k, v in p.env.items() if k != "MLC_MASTER_KEY_FILE"}
        r = run_stage_briefly(p, "poller", env)
        assert r.returncode == 2 and "no master key" in r.stderr, r.stderr
        # One changed byte: the right key still refuses the store.
        with open(store_path(p), "r+b") as f:
            f.seek(40)
            b = f.read(1)
            f.seek(40)
            f.write(bytes([b[0] ^ 0x20]))
        r = run_stage_briefly(p, "poller", p.env)
        assert r.returncode == 2, r.stderr
        assert re.search(r"integrity|damaged|does not open", r.stderr), r.stderr
        # mlc secrets list shows names and dates, never values.
        with open(store_path(p), "r+b") as f:
            f.seek(40)
            f.write(b)
        r = p.mlc("secrets", "list")
        assert r.returncode == 0, r.stderr
        assert "x3.password" in r.stdout and "slack.token" in r.stdout
        assert p.X3_PASSWORD not in r.stdout and p.SLACK_TOKEN not in r.stdout
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_full_run_from_the_store_leaks_no_secret,
                 test_wrong_or_missing_master_key_stops_at_start_store_unchanged])
