#!/usr/bin/env python3
"""End-to-end tests of mlc-x3sim's authentication: HTTP Basic, the cloud
OAuth2 gateway (pairing code, authorization_code and refresh_token grants,
rotation, exact error bodies, access-token expiry, forced expiry, revocation,
absolute refresh lifetime), connected-app JWTs, --auth any, and HTTPS with a
custom CA.

    python3 test_x3sim_auth.py --bin <cmake build dir>

The Sim class and the request helpers here are imported by
test_x3sim_graphql.py and test_x3sim_faults.py.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

DEADLINE_S = 10
PASSWORD = "pw-e2e-x3sim"
CLIENT_SECRET = "client-secret-e2e"
APP_SECRET = "app-secret-e2e"


class Sim:
    """mlc-x3sim on an ephemeral loopback port, stopped with SIGTERM."""

    def __init__(self, binary, workdir, extra, name="x3sim", scheme="http", ssl_ctx=None):
        os.makedirs(workdir, exist_ok=True)
        self.port_file = os.path.join(workdir, name + ".port")
        self.log_path = os.path.join(workdir, name + ".log")
        env = dict(os.environ, X3SIM_TEST_PW=PASSWORD, X3_CLIENT_SECRET=CLIENT_SECRET,
                   X3_APP_SECRET=APP_SECRET)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", self.port_file, "--password-env",
             "X3SIM_TEST_PW", "--folder", "SEED"] + extra,
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        deadline = time.monotonic() + DEADLINE_S
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("mlc-x3sim exited early with %s" % self.proc.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("mlc-x3sim wrote no port file in %ss" % DEADLINE_S)
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.banner = self.proc.stdout.readline().strip()
        self.base = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.ssl_ctx = ssl_ctx

    def url(self, path):
        return self.base + path

    def sim(self, path, method="GET"):
        """A /sim/ control call; returns the decoded JSON."""
        st, _, body = request(self.url(path), method=method, ctx=self.ssl_ctx)
        assert st == 200, (path, st, body)
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


def request(url, method="GET", body=None, headers=None, basic=None, bearer=None, ctx=None,
            timeout=DEADLINE_S):
    """Returns (status, headers, body text); never raises on an HTTP status."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif method == "POST":
        data = b""
    if basic is not None:
        hdrs["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % basic).encode()).decode()
    if bearer is not None:
        hdrs["Authorization"] = "Bearer " + bearer
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    handlers = [NoRedirect()]
    if ctx is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")


def api1_url(sim, cls="PORDER", count=None, where=None, order_by=None):
    params = [("representation", cls + ".$query")]
    if count is not None:
        params.append(("count", str(count)))
    if where is not None:
        params.append(("where", where))
    if order_by is not None:
        params.append(("orderBy", order_by))
    return sim.url("/api1/x3/erp/SEED/%s?%s" % (cls, urllib.parse.urlencode(
        params, quote_via=urllib.parse.quote)))


PO_QUERY = ("query Q($first: Int, $after: String, $filter: String, $orderBy: String) {"
            " xtremX3Purchasing { purchaseOrder { query(first: $first, after: $after,"
            " filter: $filter, orderBy: $orderBy) { edges { cursor node { id"
            " taxIncludedTotalAmount _updateStamp } } pageInfo { endCursor hasNextPage }"
            " totalCount } } } }")


def graphql(sim, query, variables=None, folder="SEED", **kw):
    """POST /xtrem/api; returns (status, headers, body text)."""
    headers = {"x-xtrem-endpoint": folder} if folder is not None else {}
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return request(sim.url("/xtrem/api"), method="POST", body=body, headers=headers, **kw)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_jwt(claims, secret, alg="HS256"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64url(sig)


def jwt_claims(tok):
    part = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


# ---- OAuth2 helpers -----------------------------------------------------------

def token_call(sim, body):
    st, hdrs, text = request(sim.url("/v1/token"), method="POST", body=body)
    return st, json.loads(text) if text else None


def pair(sim, client_id="mlc-client", secret=CLIENT_SECRET):
    code = sim.sim("/sim/token/code", method="POST")["code"]
    st, doc = token_call(sim, {"grant_type": "authorization_code", "code": code,
                               "client_id": client_id, "client_secret": secret,
                               "redirect_uri": "http://localhost/cb"})
    assert st == 200, (st, doc)
    return doc


def refresh(sim, rt, secret=CLIENT_SECRET):
    return token_call(sim, {"grant_type": "refresh_token", "refresh_token": rt,
                            "client_id": "mlc-client", "client_secret": secret})


# ---- checks -------------------------------------------------------------------

def t_basic_mode_accepts_basic_only(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--initial", "2", "--quiet"])
    try:
        st, _, _ = request(api1_url(sim), basic=("admin", PASSWORD))
        assert st == 200
        st, _, body = graphql(sim, PO_QUERY, {"first": 1}, basic=("admin", PASSWORD))
        assert st == 200 and json.loads(body)["data"], body
        st, _, body = graphql(sim, PO_QUERY, {"first": 1}, basic=("admin", "wrong"))
        assert st == 401 and json.loads(body) == {"message": "Unauthorised"}, (st, body)
        st, hdrs, body = request(api1_url(sim), bearer="abc.def.ghi")
        assert st == 401 and hdrs["WWW-Authenticate"] == 'Basic realm="Syracuse"', (st, body)
        assert json.loads(body)["$diagnoses"][0]["$severity"] == "error"
    finally:
        assert sim.stop() == 0


def t_oauth2_lifecycle(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--initial", "2", "--auth", "oauth2",
                             "--access-ttl", "2", "--refresh-ttl", "30"])
    try:
        # Basic is not a cloud mode.
        st, _, body = request(api1_url(sim), basic=("admin", PASSWORD))
        assert st == 401 and "$diagnoses" in json.loads(body), (st, body)

        tok = pair(sim)
        assert set(tok) == {"access_token", "token_type", "expires_in", "refresh_token"}, tok
        assert tok["token_type"] == "bearer" and tok["expires_in"] == 2, tok
        head = json.loads(base64.urlsafe_b64decode(tok["access_token"].split(".")[0] + "=="))
        assert head["alg"] == "HS256", head
        c = jwt_claims(tok["access_token"])
        assert c["exp"] - c["iat"] == 2 and c["sub"] == "admin", c

        st, _, body = request(api1_url(sim), bearer=tok["access_token"])
        assert st == 200, body
        st, _, body = graphql(sim, PO_QUERY, {"first": 5}, bearer=tok["access_token"])
        assert st == 200 and len(json.loads(body)["data"]["xtremX3Purchasing"]["purchaseOrder"]
                                 ["query"]["edges"]) == 2, body

        # Rotation: the new pair works, the used refresh token is dead.
        st, tok2 = refresh(sim, tok["refresh_token"])
        assert st == 200 and tok2["refresh_token"] != tok["refresh_token"], tok2
        assert tok2["access_token"] != tok["access_token"]
        st, doc = refresh(sim, tok["refresh_token"])
        assert st == 401 and doc == {"message": "Unauthorised"}, (st, doc)
        st, tok3 = refresh(sim, tok2["refresh_token"])
        assert st == 200, tok3

        # Expiry: the 2-second access token ends; api1 and GraphQL say 401.
        wait_for(lambda: request(api1_url(sim), bearer=tok3["access_token"])[0] == 401, 6,
                 "access token expiry")
        st, _, body = request(api1_url(sim), bearer=tok3["access_token"])
        assert st == 401 and "expired" in json.loads(body)["$diagnoses"][0]["$message"], body
        st, _, body = graphql(sim, PO_QUERY, {"first": 1}, bearer=tok3["access_token"])
        assert st == 401 and json.loads(body) == {"message": "Unauthorised"}, (st, body)
        stats = sim.sim("/sim/token/stats")
        assert stats["expired_access_rejections"] >= 2, stats

        # A forged token (right shape, wrong key) is refused.
        forged = make_jwt(jwt_claims(tok3["access_token"]), "guess")
        st, _, body = request(api1_url(sim), bearer=forged)
        assert st == 401 and "Invalid access token" in body, body

        # expire_tokens: every current access token dies; new ones work.
        st, tok4 = refresh(sim, tok3["refresh_token"])
        assert st == 200
        assert request(api1_url(sim), bearer=tok4["access_token"])[0] == 200
        sim.sim("/sim/fault?kind=expire_tokens", method="POST")
        st, _, _ = request(api1_url(sim), bearer=tok4["access_token"])
        assert st == 401, st
        st, tok5 = refresh(sim, tok4["refresh_token"])
        assert st == 200 and request(api1_url(sim), bearer=tok5["access_token"])[0] == 200

        # Revocation: the refresh token no longer works.
        assert sim.sim("/sim/token/revoke", method="POST")["revoked"] >= 1
        st, doc = refresh(sim, tok5["refresh_token"])
        assert st == 401 and doc == {"message": "Unauthorised"}, (st, doc)

        stats = sim.sim("/sim/token/stats")
        assert stats["issued"] == 1 and stats["refreshed"] == 4, stats
        assert stats["rejected"] == 2 and stats["valid_requests"] >= 5, stats
        with open(sim.log_path) as f:
            log = f.read()
        assert CLIENT_SECRET not in log and tok["refresh_token"] not in log
    finally:
        assert sim.stop() == 0


def t_token_endpoint_error_bodies_are_exact(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--auth", "oauth2", "--quiet"])
    try:
        code = sim.sim("/sim/token/code", method="POST")["code"]
        full = {"grant_type": "authorization_code", "code": code, "client_id": "mlc-client",
                "client_secret": CLIENT_SECRET, "redirect_uri": "http://localhost/cb"}
        cases = [
            (dict(full, grant_type="client_credentials"), 400, "Invalid grant type"),
            (dict(full, grant_type="password"), 400, "Invalid grant type"),
            ({k: v for k, v in full.items() if k != "grant_type"}, 400,
             "Missing required request parameters"),
            ({k: v for k, v in full.items() if k != "client_secret"}, 400,
             "Missing required request parameters"),
            ({k: v for k, v in full.items() if k != "code"}, 400,
             "Missing required request parameters"),
            ({"grant_type": "refresh_token", "client_id": "mlc-client",
              "client_secret": CLIENT_SECRET}, 400, "Missing required request parameters"),
            (dict(full, client_secret="nope"), 401, "Unauthorised"),
            (dict(full, client_id="other"), 401, "Unauthorised"),
            (dict(full, code="0" * 32), 401, "Unauthorised"),
            (dict(full, grant_type="refresh_token", refresh_token="f" * 64), 401,
             "Unauthorised"),
        ]
        for body, status, msg in cases:
            st, doc = token_call(sim, body)
            assert st == status and doc == {"message": msg}, (body, st, doc)
        st, _, text = request(sim.url("/v1/token"), method="POST", body=b"not json")
        assert st == 400 and json.loads(text) == {"message": "Missing required request parameters"}
        # The code was not burnt by the failed attempts above (bad client
        # checked first), and it is single use.
        st, doc = token_call(sim, full)
        assert st == 200, doc
        st, doc = token_call(sim, full)
        assert st == 401 and doc == {"message": "Unauthorised"}, doc
    finally:
        assert sim.stop() == 0


def t_authorise_redirects_with_code_and_state(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--auth", "oauth2", "--quiet"])
    try:
        q = urllib.parse.urlencode({"client_id": "mlc-client", "scope": "api.x3",
                                    "customer": "ACME", "redirect_uri": "https://app.test/cb",
                                    "state": "xyz 1"})
        st, hdrs, _ = request(sim.url("/v1/token/authorise?" + q))
        assert st == 302, st
        loc = urllib.parse.urlsplit(hdrs["Location"])
        assert loc.scheme == "https" and loc.netloc == "app.test" and loc.path == "/cb", loc
        qs = urllib.parse.parse_qs(loc.query)
        assert qs["state"] == ["xyz 1"] and len(qs["code"][0]) == 32, qs
        bad = dict(grant_type="authorization_code", code=qs["code"][0], client_id="mlc-client",
                   client_secret=CLIENT_SECRET, redirect_uri="https://evil.test/cb")
        st, doc = token_call(sim, bad)
        assert st == 401 and doc == {"message": "Unauthorised"}, doc
        st, doc = token_call(sim, dict(bad, redirect_uri="https://app.test/cb"))
        assert st == 200 and doc["access_token"], doc
        st, _, body = request(sim.url("/v1/token/authorise?client_id=mlc-client"))
        assert st == 400 and json.loads(body) == {"message": "Missing required request parameters"}
        st, _, body = request(sim.url("/v1/token/authorise?client_id=x&redirect_uri=http://a/"))
        assert st == 401 and json.loads(body) == {"message": "Unauthorised"}
    finally:
        assert sim.stop() == 0


def t_refresh_sliding_vs_absolute(binary, work):
    """With --refresh-ttl 2, a chain of refreshes every 0.4 s lives on when
    sliding (the default) and dies at the pairing's end when absolute."""
    results = {}
    for mode in ("sliding", "absolute"):
        sim = Sim(binary, os.path.join(work, mode), ["--rate", "0", "--auth", "oauth2",
                  "--refresh-ttl", "2", "--refresh-expiry", mode, "--quiet"])
        try:
            rt = pair(sim)["refresh_token"]
            ok = 0
            end = time.monotonic() + 3.5
            while time.monotonic() < end:
                st, doc = refresh(sim, rt)
                if st != 200:
                    assert doc == {"message": "Unauthorised"}, doc
                    break
                ok += 1
                rt = doc["refresh_token"]
                time.sleep(0.4)
            results[mode] = (st, ok)
        finally:
            assert sim.stop() == 0
    assert results["sliding"][0] == 200, results
    assert results["absolute"][0] == 401 and results["absolute"][1] < results["sliding"][1], results


def app_claims(**over):
    now = int(time.time())
    c = {"iss": "app-e2e", "sub": "admin", "aud": "x3", "iat": now - 5, "exp": now + 30}
    c.update(over)
    return c


def t_connected_app_jwt_rules(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--initial", "1", "--auth", "connected-app",
                             "--client-id", "app-e2e", "--app-max-validity", "60", "--quiet"])
    try:
        good = make_jwt(app_claims(), APP_SECRET)
        assert request(api1_url(sim), bearer=good)[0] == 200
        st, _, body = graphql(sim, PO_QUERY, {"first": 1}, bearer=good)
        assert st == 200 and "data" in json.loads(body), body
        now = int(time.time())
        bad = {
            "bad signature": make_jwt(app_claims(), "not-the-secret"),
            "iat in the future": make_jwt(app_claims(iat=now + 30, exp=now + 60), APP_SECRET),
            "over max validity": make_jwt(app_claims(iat=now - 5, exp=now + 60), APP_SECRET),
            "expired": make_jwt(app_claims(iat=now - 50, exp=now - 1), APP_SECRET),
            "wrong aud": make_jwt(app_claims(aud="other"), APP_SECRET),
            "wrong iss": make_jwt(app_claims(iss="someone"), APP_SECRET),
            "wrong sub": make_jwt(app_claims(sub="root"), APP_SECRET),
            "alg none": make_jwt(app_claims(), APP_SECRET, alg="none"),
            "garbage": "not-a-jwt",
        }
        for what, tok in bad.items():
            for st, hdrs, body in (request(api1_url(sim), bearer=tok),
                                   graphql(sim, PO_QUERY, {"first": 1}, bearer=tok)):
                assert st == 401 and body == "Error 401: Invalid token", (what, st, body)
                assert hdrs["Content-Type"].startswith("text/plain"), (what, hdrs)
        st, _, body = request(api1_url(sim), basic=("admin", PASSWORD))
        assert st == 401 and body == "Error 401: Invalid token", body
        # The audience may also come as an array holding it.
        assert request(api1_url(sim), bearer=make_jwt(app_claims(aud=["a", "x3"]), APP_SECRET))[0] == 200
    finally:
        assert sim.stop() == 0


def t_any_mode_accepts_all_three(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--auth", "any", "--client-id", "mlc-client",
                             "--quiet"])
    try:
        assert request(api1_url(sim), basic=("admin", PASSWORD))[0] == 200
        tok = pair(sim)
        assert request(api1_url(sim), bearer=tok["access_token"])[0] == 200
        app = make_jwt(app_claims(iss="mlc-client"), APP_SECRET)
        assert request(api1_url(sim), bearer=app)[0] == 200
        st, _, body = request(api1_url(sim), bearer=make_jwt(app_claims(iss="mlc-client"), "x"))
        assert st == 401 and body == "Error 401: Invalid token", body
        assert request(api1_url(sim), basic=("admin", "no"))[0] == 401
    finally:
        assert sim.stop() == 0


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d):
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    os.makedirs(d, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=mlc e2e test CA", cwd=d)
    openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")


def t_https_with_custom_ca(binary, work):
    ca, cert, key = make_certs(os.path.join(work, "pki"))
    ctx = ssl.create_default_context(cafile=ca)
    sim = Sim(binary, work, ["--rate", "0", "--initial", "1", "--tls-cert", cert,
                             "--tls-key", key, "--quiet"], scheme="https", ssl_ctx=ctx)
    try:
        assert sim.banner == "mlc-x3sim listening on https://127.0.0.1:%d" % sim.port, sim.banner
        st, _, body = request(api1_url(sim), basic=("admin", PASSWORD), ctx=ctx)
        assert st == 200, body
        doc = json.loads(body)
        assert doc["$resources"][0]["$url"].startswith("https://127.0.0.1:"), doc
        st, _, body = graphql(sim, PO_QUERY, {"first": 1}, basic=("admin", PASSWORD), ctx=ctx)
        assert st == 200, body
        # Without the CA the certificate is not trusted.
        try:
            request(api1_url(sim), basic=("admin", PASSWORD), ctx=ssl.create_default_context())
            raise AssertionError("TLS without the CA was accepted")
        except urllib.error.URLError as e:
            assert isinstance(e.reason, ssl.SSLCertVerificationError), e
        # The same with curl, as an operator would check it.
        ok = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca,
                             "-u", "admin:" + PASSWORD, api1_url(sim)],
                            capture_output=True, text=True, timeout=DEADLINE_S)
        assert ok.returncode == 0 and ok.stdout == "200", (ok.returncode, ok.stdout, ok.stderr)
        ko = subprocess.run(["curl", "-sS", "-o", "/dev/null", api1_url(sim)],
                            capture_output=True, text=True, timeout=DEADLINE_S)
        assert ko.returncode == 60, (ko.returncode, ko.stderr)  # peer certificate not trusted
        # Plain HTTP to the TLS port gets no answer.
        try:
            st, _, _ = request("http://127.0.0.1:%d/sim/stats" % sim.port, timeout=3)
            assert st != 200, st
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
    finally:
        assert sim.stop() == 0


def t_tls_flags_must_come_together(binary, work):
    r = subprocess.run([binary, "--tls-cert", "/nonexistent"], capture_output=True, text=True,
                       timeout=DEADLINE_S)
    assert r.returncode == 2 and "--tls-key" in r.stderr, (r.returncode, r.stderr)
    r = subprocess.run([binary, "--tls-cert", "/nonexistent", "--tls-key", "/nonexistent",
                        "--port", "0"], capture_output=True, text=True, timeout=DEADLINE_S)
    assert r.returncode == 1 and "/nonexistent" in r.stderr, (r.returncode, r.stderr)
    r = subprocess.run([binary, "--auth", "kerberos"], capture_output=True, text=True,
                       timeout=DEADLINE_S)
    assert r.returncode == 2 and "--auth" in r.stderr, r.stderr


def run_checks(checks, binary, prefix):
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        for i, check in enumerate(checks):
            try:
                check(binary, os.path.join(workdir, "c%d" % i))
                passed += 1
                print("ok   %s" % check.__name__)
            except Exception:
                failed += 1
                print("FAIL %s" % check.__name__)
                traceback.print_exc(file=sys.stdout)
                for root, _, files in os.walk(os.path.join(workdir, "c%d" % i)):
                    for fn in files:
                        if fn.endswith(".log"):
                            with open(os.path.join(root, fn)) as f:
                                sys.stdout.write(f.read()[-2000:])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def binary_from_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="cmake build directory")
    return os.path.join(ap.parse_args().bin, "sim", "mlc-x3sim")


def main():
    return run_checks([t_basic_mode_accepts_basic_only,
                       t_oauth2_lifecycle,
                       t_token_endpoint_error_bodies_are_exact,
                       t_authorise_redirects_with_code_and_state,
                       t_refresh_sliding_vs_absolute,
                       t_connected_app_jwt_rules,
                       t_any_mode_accepts_all_three,
                       t_https_with_custom_ca,
                       t_tls_flags_must_come_together],
                      binary_from_args(), "x3sim-auth-")


if __name__ == "__main__":
    sys.exit(main())
