"""compose.yaml: it validates against the Compose Specification, and the
services it describes work: each service's entrypoint, command and
environment run as one process per service on loopback TCP (no Docker engine
on the build machines), the demo profile's simulators included, and
messages reach the simulated Slack through both dispatcher replicas.

How a container is modelled here (the only differences from Docker):
- every container path compose mounts (the config, the secrets, the named
  volumes) and the image's /run/mlc is replaced by a directory of this
  test, in the environment, the command and the config file;
- service host names resolve to 127.0.0.1: the simulators' URLs in the
  config are rewritten, and the entrypoint is given MLC_ENDPOINT_HOST, which
  it exists for (all processes on one host);
- dispatcher replica n gets MLC_DISPATCHER_INDEX=n-1, which in Docker the
  entrypoint derives from the container name mlc-dispatcher-<n>
  (test_deploy.py tests that derivation);
- the image's binaries are symlinks to the build directory on PATH.
Ports are those of compose.yaml (7100-7401, 8124, 8125) on 127.0.0.1.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import harness
from harness import http_json, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE_DIR = os.path.join(ROOT, "tests", "compose")


def schema_path():
    """The Compose Specification schema: $MLC_COMPOSE_SCHEMA, else shared/
    beside the repository (CI clones the repo next to shared/), else beside
    the repository's parent (a worktree one level down)."""
    cands = [os.environ.get("MLC_COMPOSE_SCHEMA", "")]
    d = ROOT
    for _ in range(3):
        d = os.path.dirname(d)
        cands.append(os.path.join(d, "shared", "schemas", "compose-spec.json"))
    for c in cands:
        if c and os.path.isfile(c):
            return c
    raise AssertionError("compose-spec.json not found: looked at %s; set MLC_COMPOSE_SCHEMA to its path"
                         % ", ".join(c for c in cands if c))


_npm_done = False


def ensure_node_modules():
    """npm ci into tests/compose/node_modules (pinned by package-lock.json)."""
    global _npm_done
    if _npm_done:
        return
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError("%s is not installed: run scripts/bootstrap (Debian packages nodejs, npm)" % tool)
    stamp = os.path.join(COMPOSE_DIR, "node_modules", ".package-lock.json")
    lock = os.path.join(COMPOSE_DIR, "package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=COMPOSE_DIR,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("npm ci in tests/compose failed:\n" + r.stdout + r.stderr)
    _npm_done = True


def validate(compose_file, env=None, out_json=None):
    ensure_node_modules()
    cmd = ["node", os.path.join(COMPOSE_DIR, "validate.mjs"), "--compose", compose_file, "--schema", schema_path()]
    for k, v in (env or {}).items():
        cmd += ["--env", "%s=%s" % (k, v)]
    if out_json:
        cmd += ["--json", out_json]
    # Only the variables given here: the developer's shell must not change the result.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLC_", "COMPOSE_"))}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean)


_loaded = {}


def load_compose(env=None):
    """compose.yaml validated and interpolated with env (cached per env)."""
    key = tuple(sorted((env or {}).items()))
    if key not in _loaded:
        _loaded[key] = _load_compose(env)
    return json.loads(json.dumps(_loaded[key]))


def _load_compose(env=None):
    tmp = tempfile.mkdtemp(prefix="mlc-compose-")
    try:
        out = os.path.join(tmp, "compose.json")
        r = validate(os.path.join(ROOT, "compose.yaml"), env, out)
        assert r.returncode == 0, "compose.yaml does not validate:\n" + r.stdout + r.stderr
        with open(out) as f:
            return json.load(f)
    finally:
        shutil.rmtree(tmp)


# --- static checks ----------------------------------------------------------

def test_compose_yaml_validates_against_the_compose_spec(a):
    c = load_compose()  # fails with ajv's errors when it does not validate
    assert c["name"] == "mlc" and c["services"], c.keys()


def test_validator_rejects_what_the_spec_forbids(a):
    """The check can fail: an unknown service key and a wrong type are errors."""
    with open(os.path.join(ROOT, "compose.yaml")) as f:
        text = f.read()
    tmp = tempfile.mkdtemp(prefix="mlc-compose-")
    try:
        for bad, why in (("    command: [\"poller\"]\n    restart_policy_typo: always\n", "additional"),
                         ("    command: [\"poller\"]\n    stop_grace_period: [30]\n", "must be string")):
            p = os.path.join(tmp, "bad.yaml")
            with open(p, "w") as f:
                f.write(text.replace("    command: [\"poller\"]\n", bad, 1))
            r = validate(p)
            assert r.returncode == 1, "a broken compose file validated:\n" + r.stdout + r.stderr
            assert "/services/poller" in r.stderr and why in r.stderr, r.stderr
    finally:
        shutil.rmtree(tmp)


def test_services_volumes_secrets_and_profiles_are_as_documented(a):
    c = load_compose()
    svcs = c["services"]
    stages = ("poller", "formatter", "dispatcher", "auditor")
    assert set(svcs) == set(stages) | {"x3sim", "slacksim"}, sorted(svcs)
    for name in ("x3sim", "slacksim"):
        assert svcs[name].get("profiles") == ["demo"], (name, svcs[name].get("profiles"))
    vols = set(c.get("volumes", {}))
    for name in stages:
        s = svcs[name]
        assert "profiles" not in s, name
        assert s["command"] == [name], s["command"]
        assert s["restart"] in ("unless-stopped", "always"), s["restart"]
        assert s["healthcheck"]["test"] == ["CMD", "mlc-entrypoint", "health"], s["healthcheck"]
        # One named volume per stateful stage, holding state_dir.
        assert s["volumes"] == ["%s-state:/var/lib/mlc" % name], s["volumes"]
        assert "%s-state" % name in vols
        assert s["environment"]["MLC_MASTER_KEY_FILE"] == "/run/secrets/mlc_master_key"
        assert "mlc_master_key" in s["secrets"], s["secrets"]
    # Every secret / config a service names is declared, and its default file exists.
    for kind in ("secrets", "configs"):
        for name, s in svcs.items():
            for ref in s.get(kind, []):
                src = ref if isinstance(ref, str) else ref["source"]
                assert src in c[kind], (name, kind, src)
        for name, d in c[kind].items():
            assert os.path.isfile(os.path.join(ROOT, d["file"])), (kind, name, d["file"])
    # Secrets are never given as plain environment values.
    for name, s in svcs.items():
        for k, v in s.get("environment", {}).items():
            assert not re.search(r"(PASSWORD|TOKEN|SECRET|KEY)$", k), (name, k, v)


def test_one_variable_sets_the_number_of_dispatchers(a):
    c = load_compose()
    assert str(c["services"]["dispatcher"]["deploy"]["replicas"]) == "2"
    c = load_compose({"MLC_DISPATCHERS": "5"})
    assert c["services"]["dispatcher"]["deploy"]["replicas"] == "5"
    # Every stage learns the same number, so all derive the same topology.
    for name in ("poller", "formatter", "dispatcher", "auditor"):
        assert c["services"][name]["environment"]["MLC_DISPATCHERS"] == "5", name


# --- running the services as compose describes them -------------------------

def dockerfile_entrypoint():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        m = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", f.read(), re.M)
    assert m, "Dockerfile has no exec-form ENTRYPOINT"
    return json.loads(m.group(1))


BINARIES = {"mlc": "cli/mlc", "mlc-poller": "poller/mlc-poller", "mlc-formatter": "formatter/mlc-formatter",
            "mlc-dispatcher": "dispatcher/mlc-dispatcher", "mlc-auditor": "auditor/mlc-auditor",
            "mlc-x3sim": "sim/mlc-x3sim", "mlc-slacksim": "sim/mlc-slacksim"}
PORTS = [7100, 7200, 7201, 7300, 7301, 7302, 7303, 7400, 7401, 8124, 8125, 8400, 8401, 9464]


class FixedPortsLock:
    """Serializes tests that use compose.yaml's fixed ports across every
    process of this machine (several build trees may run the suite at
    once): an flock on a file in /tmp, waited for up to `timeout` s."""

    PATH = "/tmp/mlc-fixed-ports.lock"

    def __init__(self, timeout=240):
        self.timeout = timeout

    def __enter__(self):
        import fcntl
        self.f = open(self.PATH, "a")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("another run held %s for %d s" % (self.PATH, self.timeout))
                time.sleep(0.5)

    def __exit__(self, *exc):
        self.f.close()  # releases the lock


def port_free(p):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Topology:
    """The compose services as processes: see the module docstring."""

    def __init__(self, bindir, compose, keep=False):
        self.c = compose
        self.keep = keep
        self.tmp = tempfile.mkdtemp(prefix="mlc-compose-run-")
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        for name, rel in BINARIES.items():
            os.symlink(os.path.join(bindir, rel), os.path.join(self.bin, name))
        os.symlink(os.path.join(ROOT, "deploy", "docker", "mlc-entrypoint"), os.path.join(self.bin, "mlc-entrypoint"))
        self.entrypoint = dockerfile_entrypoint()
        self.procs = {}
        self.logs = {}
        self.envs = {}

    def mounts(self, svc_name, root):
        """Container path -> host path for one container."""
        s = self.c["services"][svc_name]
        m = {"/run/mlc": os.path.join(root, "run-mlc")}
        for ref in s.get("configs", []):
            src = ref if isinstance(ref, str) else ref["source"]
            target = ref.get("target", "/" + src) if isinstance(ref, dict) else "/" + src
            m[target] = os.path.join(root, "config", os.path.basename(target))
        for ref in s.get("secrets", []):
            src = ref if isinstance(ref, str) else ref["source"]
            m["/run/secrets/" + src] = os.path.join(ROOT, self.c["secrets"][src]["file"])
        for v in s.get("volumes", []):
            vol, target = v.split(":")[:2]
            m[target] = os.path.join(self.tmp, "volumes", vol)
            os.makedirs(m[target], exist_ok=True)
        return m

    @staticmethod
    def rewrite(text, mounts):
        for cpath in sorted(mounts, key=len, reverse=True):
            text = re.sub(re.escape(cpath) + r"(?=/|\b|$)", mounts[cpath], text)
        # Service host names of the simulators, as the config names them.
        return re.sub(r"//(x3sim|slacksim)(?=:)", "//127.0.0.1", text)

    def start(self, svc_name, replica=1):
        s = self.c["services"][svc_name]
        inst = "%s-%d" % (svc_name, replica)
        root = os.path.join(self.tmp, inst)
        os.makedirs(root)
        mounts = self.mounts(svc_name, root)
        for ref in s.get("configs", []):
            src = ref if isinstance(ref, str) else ref["source"]
            target = ref.get("target", "/" + src) if isinstance(ref, dict) else "/" + src
            with open(os.path.join(ROOT, self.c["configs"][src]["file"])) as f:
                text = f.read()
            os.makedirs(os.path.dirname(mounts[target]), exist_ok=True)
            with open(mounts[target], "w") as f:
                f.write(self.rewrite(text, mounts))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLC_", "X3_", "SLACK_"))}
        env.update({k: self.rewrite(str(v), mounts) for k, v in s.get("environment", {}).items()})
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        env["MLC_ENDPOINT_HOST"] = "127.0.0.1"
        if svc_name == "dispatcher":
            env["MLC_DISPATCHER_INDEX"] = str(replica - 1)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=99")
        cmd = self.entrypoint + [self.rewrite(x, mounts) for x in s["command"]]
        log = self.logs[inst] = open(os.path.join(self.tmp, inst + ".log"), "wb")
        self.envs[inst] = env
        self.procs[inst] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
        return inst

    def run(self, inst, *argv, timeout=30):
        """`docker compose exec <service> ARGV`: the entrypoint is not involved,
        the container's environment is."""
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=self.envs[inst])

    def log(self, inst):
        with open(os.path.join(self.tmp, inst + ".log"), "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        bad = {}
        for inst, p in self.procs.items():
            try:
                code = p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                code = p.wait()
            if code not in (0, -signal.SIGTERM, -signal.SIGKILL):
                bad[inst] = code
        for f in self.logs.values():
            f.close()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return bad


def test_compose_services_run_on_loopback_and_post_through_both_dispatchers(a):
    with FixedPortsLock():
        wait_for(lambda: all(port_free(p) for p in PORTS), 30, "ports of compose.yaml free on 127.0.0.1 (%s)" % PORTS)
        run_topology(a)


def run_topology(a):
    c = load_compose()
    n_disp = int(c["services"]["dispatcher"]["deploy"]["replicas"])
    assert n_disp == 2, n_disp
    t = Topology(a.bin, c, keep=a.keep)
    killed = None
    try:
        # The demo profile first, then the stages in any order (custody copes).
        t.start("x3sim")
        t.start("slacksim")
        slack = "http://127.0.0.1:8125"
        wait_for(lambda: port_open(8124) and port_open(8125), 15, "simulators listening")
        for name in ("auditor", "formatter", "poller"):
            t.start(name)
        for r in range(1, n_disp + 1):
            t.start("dispatcher", r)

        def by_channel():
            out = {}
            for m in http_json(slack + "/sim/messages")["messages"]:
                out.setdefault(m["channel_name"], []).append(m)
            return out

        wait_for(lambda: all(len(by_channel().get(ch, [])) >= 1 for ch in ("procure", "po-audit")), 45,
                 "purchase orders in #procure and #po-audit", interval=0.3)
        msgs = by_channel()
        # Both routes got the same record versions, each once per channel.
        for ch, ms in msgs.items():
            ids = [m["metadata"]["event_payload"]["record_id"] for m in ms]
            assert len(ids) == len(set(ids)), (ch, "duplicate posts", ids)

        # `docker compose exec auditor mlc audit --json`: the journal, read in
        # the auditor's container through $MLC_CONFIG (the generated config).
        def posts():
            r = t.run("auditor-1", "mlc", "audit", "--json", "--kind", "post")
            assert r.returncode == 0, r.stderr
            return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
        ps = wait_for(lambda: [p for p in posts() if p.get("outcome") == "posted"] or None, 20, "post audit events")
        owners = {}
        for p in ps:
            owners.setdefault(p["channel"], set()).add(p.get("from") or p.get("process"))
        # Each channel is owned by one replica; with these two channels (FNV-1a
        # of "#procure" is even, of "#po-audit" odd) both replicas post.
        for ch, o in owners.items():
            assert len(o) == 1, (ch, o)
        assert {next(iter(o)) for o in owners.values()} == {"dispatcher-0", "dispatcher-1"}, owners

        # `docker compose exec auditor mlc tail --json` streams live events.
        tail = subprocess.Popen(["mlc", "tail", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=t.envs["auditor-1"], text=True)
        try:
            got = wait_for(lambda: select_line(tail), 30, "a live event from mlc tail", interval=0.2)
            assert json.loads(got)["kind"], got
        finally:
            tail.terminate()
            tail.wait(10)

        # The auditor's /healthz, published on the host's 127.0.0.1:9464.
        host_port = c["services"]["auditor"]["ports"][0].split(":")
        assert host_port[0] == "127.0.0.1" and host_port[2] == "9464", host_port
        wait_for(lambda: http_status("http://127.0.0.1:%s/healthz" % host_port[1]) == 200, 20, "/healthz 200")

        # The HEALTHCHECK of every container passes while it runs ...
        for inst in t.procs:
            r = t.run(inst, "mlc-entrypoint", "health")
            assert r.returncode == 0, (inst, r.stdout, r.stderr, t.log(inst))
        # ... and fails once its process is gone.
        killed = "formatter-1"
        t.procs[killed].kill()
        t.procs[killed].wait(10)
        r = t.run(killed, "mlc-entrypoint", "health")
        assert r.returncode == 1 and "not running" in r.stdout, (r.returncode, r.stdout, r.stderr)
    except Exception:
        for inst in t.procs:
            print("--- %s log (tail) ---\n%s" % (inst, t.log(inst)[-1500:]))
        raise
    finally:
        bad = t.close()
    bad.pop(killed, None)
    assert not bad, "processes exited badly: %s" % bad


def http_status(url):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def port_open(p):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def select_line(proc):
    import select
    if proc.poll() is not None:
        raise AssertionError("mlc tail exited %s: %s" % (proc.returncode, proc.stderr.read()))
    r, _, _ = select.select([proc.stdout], [], [], 0.1)
    if r:
        line = proc.stdout.readline()
        return line.strip() or None
    return None


if __name__ == "__main__":
    harness.run([
        test_compose_yaml_validates_against_the_compose_spec,
        test_validator_rejects_what_the_spec_forbids,
        test_services_volumes_secrets_and_profiles_are_as_documented,
        test_one_variable_sets_the_number_of_dispatchers,
        test_compose_services_run_on_loopback_and_post_through_both_dispatchers,
    ])
