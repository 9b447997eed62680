"""Shared helpers for the end-to-end tests: start the simulators and the
four stages as real processes on loopback / ipc endpoints in a temp dir,
wait for conditions (never fixed sleeps), and read what arrived.

Each test file is run as `python3 test_x.py --bin <cmake build dir>` and
prints a closing line "N passed, M failed".
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request

STAGES = ("auditor", "dispatcher", "formatter", "poller")


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="cmake build directory")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    return p.parse_args()


def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns a truthy value; raises on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def http_json(url, method="GET", body=None, headers=None, timeout=10):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode() or "null")


class Sim:
    """A simulator process started on an ephemeral port."""

    def __init__(self, exe, extra, tmp, name, env=None):
        self.port_file = os.path.join(tmp, name + ".port")
        self.log = open(os.path.join(tmp, name + ".log"), "wb")
        self.proc = subprocess.Popen([exe, "--port", "0", "--port-file", self.port_file, "--quiet"] + extra,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        port = wait_for(lambda: self._port(), 15, name + " port file")
        self.url = "http://127.0.0.1:%d" % port

    def _port(self):
        if self.proc.poll() is not None:
            raise AssertionError("simulator exited with %s" % self.proc.returncode)
        try:
            with open(self.port_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def get(self, path):
        return http_json(self.url + path)

    def post(self, path, body=None):
        return http_json(self.url + path, method="POST", body=body if body is not None else {})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


CONFIG = """\
state_dir: {tmp}/state
log_level: {log_level}
resend_after: {resend_after}
endpoints:
  poller_ack: ipc://{tmp}/poller-ack
  formatter_in: ipc://{tmp}/formatter-in
  formatter_ack: ipc://{tmp}/formatter-ack
  dispatchers:
{dispatchers}
  auditor_in: ipc://{tmp}/auditor-in
  auditor_pub: ipc://{tmp}/auditor-pub
x3:
  url: {x3url}
  folder: SEED
  auth: basic
  user: admin
  password_env: X3_PASSWORD
  timeout: 5s
  page_size: {page_size}
  poll_interval: {poll_interval}
  initial_window: 24h
  entities:
    - name: purchase_order
      class: PORDER
      key: POHNUM
      notify: [approved, modified, created]
slack:
  api_url: {slackurl}/api
  token_env: SLACK_BOT_TOKEN
  timeout: {slack_timeout}
  min_interval: {min_interval}
  max_attempts: 8
routes:
{routes}
auditor:
  http_listen: 127.0.0.1:0
{extra}"""


class Pipeline:
    """The simulators plus the four stages, each started and killed at will."""

    X3_PASSWORD = "e2e-x3-secret-pw"
    SLACK_TOKEN = "xoxb-e2e-secret-token"
    MASTER_KEY = "6d6c632d6532652d6d61737465722d6b65792d6e6f742d612d7365637265742e"

    def __init__(self, bindir, x3_args=None, slack_args=None, keep=False, n_dispatchers=1,
                 channels=("#procure",), **cfg):
        self.bindir = bindir
        self.tmp = tempfile.mkdtemp(prefix="mlc-e2e-")
        self.keep = keep
        # MLC_MASTER_KEY: rotated tokens (X3 OAuth2, Slack rotation) live
        # only in the encrypted store, so those stages need a master key.
        self.env = dict(os.environ, X3_PASSWORD=self.X3_PASSWORD, SLACK_BOT_TOKEN=self.SLACK_TOKEN,
                        MLC_MASTER_KEY=self.MASTER_KEY,
                        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
                        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        self.x3 = Sim(os.path.join(bindir, "sim", "mlc-x3sim"), x3_args or [], self.tmp, "x3sim", self.env)
        self.slack = Sim(os.path.join(bindir, "sim", "mlc-slacksim"), slack_args or ["--rate-interval-ms", "0"],
                         self.tmp, "slacksim", self.env)
        self.n_dispatchers = n_dispatchers
        disp = "".join("    - in: ipc://%s/dispatcher-%d-in\n      ack: ipc://%s/dispatcher-%d-ack\n"
                       % (self.tmp, i, self.tmp, i) for i in range(n_dispatchers))
        routes = "".join('  - name: po-%d\n    entity: purchase_order\n    channel: "%s"\n' % (i, c)
                         for i, c in enumerate(channels))
        values = dict(tmp=self.tmp, log_level="info", resend_after="1s", page_size=7, poll_interval="1s",
                      slack_timeout="5s", min_interval="20ms", x3url=self.x3.url, slackurl=self.slack.url,
                      dispatchers=disp.rstrip("\n"), routes=routes.rstrip("\n"), extra="")
        values.update(cfg)
        self.config = os.path.join(self.tmp, "mlc.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(**values))
        self.procs = {}
        self.logs = {}

    def names(self):
        return ["auditor"] + ["dispatcher-%d" % i for i in range(self.n_dispatchers)] + ["formatter", "poller"]

    def exe(self, name):
        stage = name.split("-")[0]
        return os.path.join(self.bindir, stage, "mlc-" + stage)

    def start(self, name):
        cmd = [self.exe(name), "-c", self.config]
        if name.startswith("dispatcher-"):
            cmd += ["--index", name.split("-")[1]]
        log = self.logs.get(name)
        if log is None:
            log = self.logs[name] = open(os.path.join(self.tmp, name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)

    def start_all(self):
        for n in self.names():
            self.start(n)

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            p.send_signal(sig)
            p.wait(30)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def stop_all(self):
        """SIGTERM every stage; returns {name: exit code}."""
        codes = {}
        for n in reversed(self.names()):
            p = self.procs.get(n)
            if p is None:
                continue
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                codes[n] = p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[n] = p.wait()
        return codes

    def close(self):
        self.stop_all()
        self.x3.stop()
        self.slack.stop()
        for log in self.logs.values():
            log.close()
        if not self.keep:
            subprocess.call(["rm", "-rf", self.tmp])

    def mlc(self, *argv, timeout=30):
        return subprocess.run([os.path.join(self.bindir, "cli", "mlc")] + list(argv) + ["-c", self.config],
                              capture_output=True, text=True, timeout=timeout, env=self.env)

    def audit(self):
        r = self.mlc("audit", "--json")
        if r.returncode != 0:
            raise AssertionError("mlc audit failed: " + r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def messages(self):
        return self.slack.get("/sim/messages")["messages"]

    def truth(self):
        return self.x3.get("/sim/truth")["versions"]

    def log_text(self, name):
        with open(os.path.join(self.tmp, name + ".log"), "rb") as f:
            return f.read().decode(errors="replace")


def run_files(p, skip=("x3sim.log", "slacksim.log")):
    """(path, bytes) of every file a run produced under its temp dir (stage
    logs, LMDB environments, the config, the secret store), except the
    simulators' own logs, for tests that grep a run for secrets."""
    for root, _, files in os.walk(p.tmp):
        for fn in files:
            path = os.path.join(root, fn)
            if fn in skip or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                yield path, f.read()


def record_id(key, stamp, entity="purchase_order"):
    esc = lambda s: s.replace("%", "%25").replace("/", "%2F")
    return "/".join(esc(p) for p in (entity, key, stamp))


def run(tests):
    """Runs test functions, prints a closing line, exits non-zero on failure."""
    a = args()
    passed = failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t(a)
            passed += 1
            print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
