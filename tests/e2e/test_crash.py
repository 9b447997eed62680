"""A crash of any stage loses nothing: each stage is killed with SIGKILL
mid-run, restarted, and still every purchase order reaches Slack, none twice
-- except a post that was in flight when the dispatcher died, which may
arrive twice and is then marked in_doubt in the audit journal."""
import json
import random
import time

import harness
from harness import Pipeline, record_id, wait_for


def test_sigkill_of_each_stage_mid_run_loses_nothing(a):
    rnd = random.Random(20261129)
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0", "--seed", "3"], keep=a.keep,
                 page_size=5, resend_after="500ms", channels=("#procure", "#finance"))
    try:
        p.start_all()
        stages = p.names()
        kills = 0
        for rnd_no in range(12):
            victim = stages[rnd_no % len(stages)]
            # New orders only: a modification made while the poller is down
            # would replace a version it had read but not yet committed, and
            # that older version would rightly never be posted.
            p.x3.post("/sim/generate?n=25&mode=create")
            time.sleep(rnd.uniform(0.02, 0.4))  # chaos timing, not a wait for a condition
            p.kill(victim)
            kills += 1
            time.sleep(rnd.uniform(0.0, 0.3))
            p.start(victim)
        want = set()

        def served():
            want.clear()
            want.update(record_id(v["key"], v["stamp"]) for v in p.truth())
            return len(want) == 300

        wait_for(served, 60, "the poller to read all 300 orders")

        def delivered():
            got = {}
            for m in p.messages():
                rid = m["metadata"]["event_payload"]["record_id"]
                got[rid] = got.get(rid, 0) + 1
            # Two channels: each record is posted to both.
            ok = len(want) == 300 and all(got.get(r, 0) >= 2 for r in want)
            return got if ok else None

        got = wait_for(delivered, 120, "every version in both channels")
        # Drained: the journal catches up with the posts.
        def journal_done():
            ev = p.audit()
            posted = {e["msg_id"] for e in ev if e["kind"] == "post" and e["outcome"] == "posted"}
            return ev if len(posted) >= 2 * len(want) else None
        events = wait_for(journal_done, 60, "journal to hold every post")

        msgs = p.messages()
        per_msg = {}
        for m in msgs:
            mid = m["metadata"]["event_payload"]["msg_id"]
            per_msg[mid] = per_msg.get(mid, 0) + 1
        assert set(got) == want, "messages for versions X3 never served: %s" % (set(got) - want)
        in_doubt = {e["msg_id"] for e in events if e["kind"] == "post" and e.get("in_doubt") == 1}
        doubled = {mid for mid, n in per_msg.items() if n > 1}
        assert doubled <= in_doubt, "posted twice without in_doubt: %s" % (doubled - in_doubt)
        assert all(n <= 2 for n in per_msg.values()), per_msg
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an audit event was journaled twice"
        for n in stages:
            assert p.alive(n), "%s died" % n
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
        print("  %d kills, %d versions, %d messages, %d doubled (all in_doubt)"
              % (kills, len(want), len(msgs), len(doubled)))
    finally:
        p.close()


def test_dispatcher_killed_with_posts_in_flight_marks_resends_in_doubt(a):
    # Slack stores each post, then answers 400 ms later: killing the
    # dispatcher right after a post is stored leaves its outcome unknown.
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "0"], keep=a.keep,
                 slack_args=["--rate-interval-ms", "0", "--delay-ms", "400",
                             # No channels:history: the dispatcher cannot look
                             # an in-doubt post up, so it resends it in doubt.
                             "--scopes", "chat:write,channels:read"],
                 channels=("#procure", "#finance", "#ops"))
    try:
        p.start_all()
        p.x3.post("/sim/generate?n=6&mode=create")
        wait_for(lambda: len(p.messages()) >= 1, 30, "a first stored post")
        p.kill("dispatcher-0")   # its answer (and those of the other channels) never arrive
        p.start("dispatcher-0")
        want = 18  # 6 orders x 3 channels

        def distinct():
            ids = {m["metadata"]["event_payload"]["msg_id"] for m in p.messages()}
            return len(ids) == want or None

        wait_for(distinct, 60, "all 18 messages")

        def journal_done():
            ev = p.audit()
            posted = {e["msg_id"] for e in ev if e["kind"] == "post" and e["outcome"] == "posted"}
            return ev if len(posted) == want else None

        events = wait_for(journal_done, 60, "every post journaled")
        per_msg = {}
        for m in p.messages():
            mid = m["metadata"]["event_payload"]["msg_id"]
            per_msg[mid] = per_msg.get(mid, 0) + 1
        doubled = {mid for mid, n in per_msg.items() if n > 1}
        in_doubt = {e["msg_id"] for e in events if e["kind"] == "post" and e.get("in_doubt") == 1}
        assert doubled, "the kill should have caught a stored post without its answer"
        assert doubled <= in_doubt, doubled - in_doubt
        assert max(per_msg.values()) == 2, per_msg
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_sigkill_of_each_stage_mid_run_loses_nothing,
                 test_dispatcher_killed_with_posts_in_flight_marks_resends_in_doubt])
