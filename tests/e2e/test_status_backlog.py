"""`mlc status` shows the backlog per channel (from the dispatcher's stats
events) while Slack is slow, and 0 once the queue has drained."""
import json

import harness
from harness import Pipeline, wait_for


def status(p):
    """Channels of `mlc status --json`; {} while the auditor is starting."""
    r = p.mlc("status", "--json")
    if r.returncode != 0:
        return {}
    return {c["channel"]: c for c in json.loads(r.stdout)["channels"]}


def test_status_shows_backlog_per_channel_then_zero_after_draining(a):
    # 12 orders x 2 channels; every post is answered 400 ms late, so each
    # channel has a queue for a few seconds.
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "12", "--entities", "po"],
                 slack_args=["--rate-interval-ms", "0", "--delay-ms", "400"], keep=a.keep,
                 channels=("#procure", "#finance"))
    try:
        p.start_all()

        def queued():
            st = status(p)
            ok = all(st.get(c, {}).get("backlog", 0) > 0 for c in ("#procure", "#finance"))
            return st if ok else None

        st = wait_for(queued, 30, "a backlog on both channels in mlc status")
        assert st["#procure"]["backlog"] <= 12 and st["#finance"]["backlog"] <= 12, st
        wait_for(lambda: len(p.messages()) >= 24, 60, "all 24 posts")

        def drained():
            st = status(p)
            return st if st and all(st[c].get("backlog") == 0 for c in ("#procure", "#finance")) else None

        st = wait_for(drained, 30, "backlog 0 on both channels after draining")
        assert st["#procure"].get("last_post"), st
        human = p.mlc("status").stdout
        assert "#procure" in human and "#finance" in human, human
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_status_shows_backlog_per_channel_then_zero_after_draining])
