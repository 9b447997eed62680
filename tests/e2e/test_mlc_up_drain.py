"""`mlc up` stops its stages with SIGTERM and allows each one
shutdown.drain_timeout (plus a margin) to drain before SIGKILL: a post
whose answer takes longer than the old fixed 10 s is still answered,
recorded and never looked up or resent after the restart
(docs/operations.md, "Stopping and reloading"). SIGHUP to `mlc up` is
passed on to every stage."""
import os
import signal
import subprocess
import time

import harness
from harness import Pipeline, wait_for


def test_mlc_up_waits_for_the_drain_timeout_before_sigkill(a):
    # The answer takes 10.5 s: longer than mlc up's old fixed 10 s, shorter
    # than shutdown.drain_timeout (13 s) which mlc up must now allow.
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep,
                 slack_timeout="20s", extra="shutdown:\n  drain_timeout: 13s\n")
    up = None
    try:
        up = subprocess.Popen([os.path.join(a.bin, "cli", "mlc"), "up", "-c", p.config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=p.env,
                              start_new_session=True)
        p.slack.post("/sim/fault", {"channel": "*", "slow_ms": 10500})
        p.x3.post("/sim/generate?n=1&mode=create")
        wait_for(lambda: len(p.messages()) == 1, 30, "a post stored, its answer 10.5 s away")
        # SIGHUP to mlc up reaches every stage (the post in flight is not
        # disturbed: checked below).
        up.send_signal(signal.SIGHUP)

        def reloaded():
            ev = p.audit()
            got = {e.get("process") for e in ev if e["kind"] == "reload" and e.get("outcome") == "ok"}
            return got >= set(p.names()) or None

        wait_for(reloaded, 15, "a reload event from every stage")
        t0 = time.monotonic()
        up.send_signal(signal.SIGTERM)
        assert up.wait(30) == 0
        took = time.monotonic() - t0
        err = up.stderr.read().decode()
        assert "killing" not in err, err
        assert 10 <= took < 18, "mlc up stopped after %.1fs" % took
        left = subprocess.run(["pgrep", "-s", str(up.pid)], capture_output=True,
                              text=True).stdout.split()
        assert left == [], "processes left behind: %s" % left
        # The answer was recorded before the exit: after a restart the post
        # is journaled as posted, not looked up in history, not resent.
        p.slack.post("/sim/fault/clear")
        p.start_all()

        def journaled():
            ev = [e for e in p.audit() if e["kind"] == "post" and e["outcome"] == "posted"]
            return ev or None

        posted = wait_for(journaled, 30, "the drained post in the journal")
        assert len(posted) == 1 and not posted[0].get("resolved_by") \
            and not posted[0].get("in_doubt") and not posted[0].get("checked_history"), posted
        assert len(p.messages()) == 1, p.messages()
    finally:
        if up is not None and up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        p.close()


if __name__ == "__main__":
    harness.run([test_mlc_up_waits_for_the_drain_timeout_before_sigkill])
