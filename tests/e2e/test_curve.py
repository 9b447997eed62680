"""End to end: the whole pipeline with zmq.curve on (`mlc keys generate
--curve`). Records flow X3 -> Slack; `mlc audit`, `mlc status` and `mlc tail`
reach the auditor's control and PUB sockets with the keys. A peer with an
unknown client key, with the wrong server key, or without CURVE gets nothing
through: the dispatcher posts nothing it pushed, `mlc status` gets no
answer, and the receivers log the refused handshakes they can see (an
unknown client key reaches the ZAP handler; the other two fail inside
libzmq). The pipeline keeps working afterwards.
"""
import os
import select
import subprocess
import time

import harness
from harness import Pipeline, wait_for

REFUSED = "refused a CURVE handshake"


def curve_yaml(p, keydir):
    mlc = os.path.join(p.bindir, "cli", "mlc")
    r = subprocess.run([mlc, "keys", "generate", "--curve", keydir], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = r.stdout.split("Configuration (every process):", 1)[1].strip("\n") + "\n"
    assert "enabled: true" in text, text
    return text


def mix(base, other, keys):
    """base's zmq section with the lines of keys taken from other."""
    theirs = {l.split(":", 1)[0].strip(): l for l in other.splitlines(True)}
    return "".join(theirs[l.split(":", 1)[0].strip()] if l.split(":", 1)[0].strip() in keys else l
                   for l in base.splitlines(True))


def variant(p, name, curve, ack_name):
    """A copy of the config with another zmq section (or none) and its own
    formatter_ack endpoint, so a feeder using it does not take the real
    formatter's."""
    with open(p.config) as f:
        text = f.read()
    base = text.split("zmq:\n", 1)[0]
    base = base.replace("formatter_ack: ipc://%s/formatter-ack" % p.tmp,
                        "formatter_ack: ipc://%s/%s" % (p.tmp, ack_name))
    # Its own state_dir too: frames a refused feeder keeps in its outbox
    # (custody) must not be sent later by the good one.
    base = base.replace("state_dir: %s/state\n" % p.tmp, "state_dir: %s/state-%s\n" % (p.tmp, name))
    path = os.path.join(p.tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(base + (curve or ""))
    return path


def feed(p, config, run, timeout_s):
    exe = os.path.join(p.bindir, "dispatcher", "mlc-pace-feed")
    return subprocess.run([exe, "-c", config, "--channels", "1", "--messages", "2", "--prefix", "curve",
                           "--run", run, "--timeout-s", str(timeout_s)],
                          capture_output=True, text=True, timeout=timeout_s + 30, env=p.env)


def mlc_with(p, config, *argv, timeout=30):
    return subprocess.run([os.path.join(p.bindir, "cli", "mlc")] + list(argv) + ["-c", config],
                          capture_output=True, text=True, timeout=timeout, env=p.env)


def tail_one_event(p):
    """`mlc tail --json --since 1h`: the first event it prints."""
    proc = subprocess.Popen([os.path.join(p.bindir, "cli", "mlc"), "tail", "--json", "--since", "1h",
                             "-c", p.config], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=p.env)
    try:
        r, _, _ = select.select([proc.stdout], [], [], 20)
        assert r, "mlc tail printed nothing in 20 s"
        return proc.stdout.readline().decode()
    finally:
        proc.terminate()
        proc.wait(10)


def test_pipeline_with_curve_and_refused_peers(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "4", "--seed", "11"], keep=a.keep)
    try:
        good = curve_yaml(p, os.path.join(p.tmp, "curve"))
        with open(p.config, "a") as f:
            f.write(good)
        p.start_all()
        wait_for(lambda: len(p.messages()) >= 1, 60, "posts in Slack with CURVE on")
        wait_for(lambda: [e for e in p.audit() if e["kind"] == "post"], 30, "post events in the journal")
        r = p.mlc("status")
        assert r.returncode == 0, r.stdout + r.stderr
        assert '"kind"' in tail_one_event(p)

        # An unknown client key: the other key pair of a second deployment.
        other = curve_yaml(p, os.path.join(p.tmp, "curve-other"))
        bad_client = mix(good, other, ("client_secret_key_file", "client_public_key"))
        # The right client keys but another deployment's server key.
        bad_server = mix(good, other, ("server_public_key",))
        assert bad_client != good and bad_server != good
        before = len(p.messages())
        for name, curve in (("bad-client", bad_client), ("bad-server", bad_server), ("no-curve", None)):
            cfg = variant(p, name, curve, name + "-ack")
            r = feed(p, cfg, name, 3)
            assert r.returncode == 1, (name, r.returncode, r.stdout + r.stderr)
            r = mlc_with(p, cfg, "status")
            assert r.returncode != 0, (name, r.stdout)
        # The dispatcher and the auditor saw the unknown client key (ZAP).
        wait_for(lambda: REFUSED in p.log_text("dispatcher-0"), 10, "the dispatcher's refusal log")
        wait_for(lambda: REFUSED in p.log_text("auditor"), 10, "the auditor's refusal log")
        assert "unknown client key" in p.log_text("dispatcher-0")
        # Nothing a refused peer pushed was posted.
        time.sleep(1.0)  # a post would take well under this; there must be none
        msgs = p.messages()
        assert len(msgs) == before, [m.get("text") for m in msgs[before:]]
        assert not [m for m in msgs if "curve" in (m.get("text") or "")]

        # The same feeder with the right keys gets its frames posted (the
        # dispatcher acks to the real formatter's endpoint, so the feeder
        # itself still times out): the refusals above were the keys.
        cfg = variant(p, "good-feed", good, "good-feed-ack")
        feed(p, cfg, "ok", 3)
        wait_for(lambda: len(p.messages()) >= before + 2, 30, "the right-key feeder's 2 posts")
        assert all("curve" in (m.get("text") or "") for m in p.messages()[before:])
        # And the pipeline itself still flows.
        n = len(p.messages())
        p.x3.post("/sim/generate?n=2")
        wait_for(lambda: len(p.messages()) > n, 30, "posts of new X3 changes")
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_pipeline_with_curve_and_refused_peers])
