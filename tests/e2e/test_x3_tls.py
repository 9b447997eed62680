"""On-premise X3 with a self-signed certificate: the poller trusts exactly
the CA named by x3.ca_file, and without it refuses the server (an audited,
clear poll failure; verification is never silently turned off)."""
import os

import harness
from harness import Pipeline, wait_for
from test_x3sim_auth import make_certs


def tls_pipeline(a, with_ca):
    work = harness.tempfile.mkdtemp(prefix="mlc-tls-")
    ca, cert, key = make_certs(os.path.join(work, "pki"))
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "3", "--entities", "po",
                                 "--tls-cert", cert, "--tls-key", key], keep=a.keep)
    plain = p.x3.url
    with open(p.config) as f:
        cfg = f.read()
    https = plain.replace("http://", "https://")
    cfg = cfg.replace("  url: %s\n" % plain, "  url: %s\n" % https
                      + ("  ca_file: %s\n" % ca if with_ca else ""), 1)
    assert https in cfg
    with open(p.config, "w") as f:
        f.write(cfg)
    return p, work


def test_self_signed_x3_is_polled_with_its_ca_file(a):
    p, work = tls_pipeline(a, with_ca=True)
    try:
        p.start_all()
        wait_for(lambda: len(p.messages()) >= 3, 60, "3 purchase orders over HTTPS")
        # The cycle's audit record travels apart from its records: it may
        # reach the journal just after the messages reach Slack.
        wait_for(lambda: any(e["kind"] == "poll" for e in p.audit()), 20, "the poll record")
        polls = [e for e in p.audit() if e["kind"] == "poll"]
        assert polls[0]["outcome"] == "ok", polls[:2]
    finally:
        p.close()
        harness.subprocess.call(["rm", "-rf", work])


def test_self_signed_x3_without_the_ca_is_refused_and_audited(a):
    p, work = tls_pipeline(a, with_ca=False)
    try:
        p.start_all()

        def failed_poll():
            return [e for e in p.audit() if e["kind"] == "poll" and e["outcome"] == "failed"]

        ev = wait_for(failed_poll, 60, "an audited failed poll")[0]
        err = ev.get("error", "").lower()
        assert "certificate" in err or "ssl" in err or "tls" in err, ev
        assert p.alive("poller"), "the poller must keep running"
        assert p.messages() == [], "nothing may be read from an unverified server"
        log = p.log_text("poller")
        assert Pipeline.X3_PASSWORD not in log
    finally:
        p.close()
        harness.subprocess.call(["rm", "-rf", work])


if __name__ == "__main__":
    harness.run([test_self_signed_x3_is_polled_with_its_ca_file,
                 test_self_signed_x3_without_the_ca_is_refused_and_audited])
