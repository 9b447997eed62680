"""Deployment files that cannot be run here as they would be in production
(no Docker engine, no systemd as init), checked for what they promise:
- the Dockerfile: build stage with bootstrap's build dependencies, a slim
  runtime stage whose packages provide every library the binaries link,
  every binary installed, a non-root user, a HEALTHCHECK;
- the container entrypoint: a dispatcher replica finds its index from its
  compose container name (Docker's DNS faked with a stub `getent`), a
  config with its own endpoints is refused, a stray replica fails clearly;
- the systemd units: `systemd-analyze verify` accepts them, and their
  ExecStart lines with the example config run the pipeline end to end.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile

import harness
from harness import Sim, http_json, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENTRYPOINT = os.path.join(ROOT, "deploy", "docker", "mlc-entrypoint")
SYSTEMD = os.path.join(ROOT, "deploy", "systemd")
BINARIES = {"mlc": "cli/mlc", "mlc-poller": "poller/mlc-poller", "mlc-formatter": "formatter/mlc-formatter",
            "mlc-dispatcher": "dispatcher/mlc-dispatcher", "mlc-auditor": "auditor/mlc-auditor",
            "mlc-x3sim": "sim/mlc-x3sim", "mlc-slacksim": "sim/mlc-slacksim"}


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def dockerfile_stages():
    """[(FROM line, joined RUN/COPY/... text)] per stage."""
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    stages = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append([line, ""])
        elif stages and line and not line.startswith("#"):
            stages[-1][1] += line + "\n"
    return stages


def apt_packages(stage_text):
    pkgs = set()
    for m in re.finditer(r"apt-get install ([^&\n]*)", stage_text):
        pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def test_dockerfile_is_multi_stage_debian12_slim_non_root_with_healthcheck(a):
    st = dockerfile_stages()
    assert len(st) == 2, [s[0] for s in st]
    assert re.match(r"FROM debian:12 AS build$", st[0][0]), st[0][0]
    assert st[1][0] == "FROM debian:12-slim", st[1][0]
    rt = st[1][1]
    user = re.findall(r"^USER (\S+)$", rt, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert re.search(r'^HEALTHCHECK .*CMD \["mlc-entrypoint", "health"\]$', rt, re.M), rt
    assert re.search(r'^ENTRYPOINT \["mlc-entrypoint"\]$', rt, re.M), rt
    # Nothing to build with in the runtime image.
    assert not {p for p in apt_packages(rt) if p.endswith("-dev") or p in ("build-essential", "cmake")}


def test_dockerfile_build_stage_has_the_build_dependencies_of_bootstrap(a):
    boot = read("scripts/bootstrap")
    m = re.search(r"PKGS=\((.*?)\)", boot, re.S)
    assert m, "no PKGS=( ... ) in scripts/bootstrap"
    build_deps = {p for p in m.group(1).split() if p.endswith("-dev") or p in ("build-essential", "cmake", "pkg-config")}
    have = apt_packages(dockerfile_stages()[0][1])
    missing = build_deps - have
    assert not missing, "Dockerfile build stage lacks %s (listed in scripts/bootstrap)" % sorted(missing)


def test_dockerfile_installs_every_program_the_project_builds(a):
    text = read("Dockerfile")
    built = set()
    for d in ("poller", "formatter", "dispatcher", "auditor", "cli", "sim"):
        built |= set(re.findall(r"add_executable\(\s*([\w-]+)", read(os.path.join(d, "CMakeLists.txt"))))
    # Every program the containers run (bench-only tools need not be in the image).
    assert set(BINARIES) <= built, sorted(built)
    for b in BINARIES:
        assert re.search(r"/build/\w+/%s\b" % re.escape(b), text), "Dockerfile does not install " + b
        assert re.search(r"--target [^\n]*\b%s\b" % re.escape(b), re.sub(r"\\\n", " ", text)), "not built: " + b
    assert "deploy/docker/mlc-entrypoint /out/usr/local/bin/mlc-entrypoint" in text


def owner_packages(lib_paths):
    """{path: Debian package} with one dpkg -S call (each call reads every file list)."""
    cands = {}
    for p in lib_paths:
        real = os.path.realpath(p)
        for c in (real, "/usr" + real if real.startswith("/lib/") else None, p):
            if c:
                cands[c] = p
    r = subprocess.run(["dpkg", "-S"] + sorted(cands), capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        if path in cands:
            out[cands[path]] = pkg.split(":")[0].strip()
    missing = [p for p in lib_paths if p not in out]
    assert not missing, "no Debian package owns %s" % missing
    return out


def test_runtime_packages_provide_every_library_the_binaries_link(a):
    runtime = apt_packages(dockerfile_stages()[1][1])
    # In every Debian image already (essential), and the sanitizers of a test build.
    base = {"libc6", "libgcc-s1"}
    users = {}
    for name, rel in BINARIES.items():
        exe = os.path.join(a.bin, rel)
        direct = set(re.findall(r"\(NEEDED\).*\[(.+)\]",
                                subprocess.run(["readelf", "-d", exe], capture_output=True, text=True).stdout))
        out = subprocess.run(["ldd", exe], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if m and m.group(1) in direct and not re.match(r"lib(asan|ubsan|lsan|tsan)\.", m.group(1)):
                users.setdefault(m.group(2), set()).add(name)
    owner = owner_packages(list(users))
    needed = {}
    for path, names in users.items():
        needed.setdefault(owner[path], set()).update(names)
    missing = {p: sorted(b) for p, b in needed.items() if p not in runtime | base}
    assert not missing, "the runtime stage lacks packages the binaries link: %s" % missing
    assert "libzmq5" in needed and "libfyaml0" in needed, needed


# --- the entrypoint ---------------------------------------------------------

def fake_dns(tmp, table, hostname):
    """A `getent` answering `ahostsv4 NAME` from table, and our hostname."""
    d = os.path.join(tmp, "fakebin")
    os.makedirs(d, exist_ok=True)
    lines = "\n".join('  %s) echo "%s     STREAM %s" ;;' % (n, ip, n) for n, ip in table.items())
    with open(os.path.join(d, "getent"), "w") as f:
        f.write('#!/bin/sh\n[ "$1" = ahostsv4 ] || exit 2\ncase "$2" in\n%s\n  *) exit 2 ;;\nesac\n' % lines)
    os.chmod(os.path.join(d, "getent"), 0o755)
    table.setdefault(hostname, None)
    return d


def entrypoint(tmp, args, env_extra, path_prefix=None):
    env = {"PATH": (path_prefix + os.pathsep if path_prefix else "") + os.environ.get("PATH", "/usr/bin:/bin"),
           "MLC_CONFIG_SOURCE": os.path.join(ROOT, "deploy", "compose", "mlc.yaml"),
           "MLC_CONFIG": os.path.join(tmp, "run", "mlc.yaml")}
    env.update(env_extra)
    return subprocess.run([ENTRYPOINT] + args, capture_output=True, text=True, env=env, timeout=60)


def own_hostname():
    with open("/proc/sys/kernel/hostname") as f:
        return f.read().strip()


def test_dispatcher_replica_finds_its_index_from_its_container_name(a):
    tmp = tempfile.mkdtemp(prefix="mlc-deploy-")
    try:
        me = own_hostname()
        table = {me: "172.18.0.7", "mlc-dispatcher-1": "172.18.0.5", "mlc-dispatcher-2": "172.18.0.9",
                 "mlc-dispatcher-3": "172.18.0.7"}
        fb = fake_dns(tmp, dict(table), me)
        r = entrypoint(tmp, ["index"], {"MLC_DISPATCHERS": "3"}, fb)
        assert r.returncode == 0 and r.stdout.strip() == "2", (r.stdout, r.stderr)
        # Another compose project name: the names carry it.
        table2 = {me: "172.18.0.7", "shop-dispatcher-1": "172.18.0.7"}
        fb = fake_dns(os.path.join(tmp, "b"), table2, me)
        r = entrypoint(tmp, ["index"], {"MLC_DISPATCHERS": "2", "MLC_PROJECT": "shop"}, fb)
        assert r.returncode == 0 and r.stdout.strip() == "0", (r.stdout, r.stderr)
        # A container outside 1..MLC_DISPATCHERS (docker compose --scale) fails, saying why.
        r = entrypoint(tmp, ["index"], {"MLC_DISPATCHERS": "2", "MLC_INDEX_WAIT": "1"},
                       fake_dns(os.path.join(tmp, "c"), dict(table), me))
        assert r.returncode == 2 and "none of mlc-dispatcher-1..2" in r.stderr, (r.stdout, r.stderr)
        # An explicit index wins, and is range-checked.
        r = entrypoint(tmp, ["index"], {"MLC_DISPATCHERS": "3", "MLC_DISPATCHER_INDEX": "1"})
        assert r.stdout.strip() == "1", r.stderr
        r = entrypoint(tmp, ["index"], {"MLC_DISPATCHERS": "3", "MLC_DISPATCHER_INDEX": "3"})
        assert r.returncode == 2 and "MLC_DISPATCHERS=3" in r.stderr, r.stderr
    finally:
        shutil.rmtree(tmp)


def test_entrypoint_generates_endpoints_from_the_number_of_dispatchers(a):
    tmp = tempfile.mkdtemp(prefix="mlc-deploy-")
    try:
        r = entrypoint(tmp, ["config"], {"MLC_DISPATCHERS": "3"})
        assert r.returncode == 0, r.stderr
        cfg = r.stdout
        for i in range(3):
            assert "- in: tcp://mlc-dispatcher-%d:%d" % (i + 1, 7300 + 2 * i) in cfg, cfg
            assert "ack: tcp://mlc-dispatcher-%d:%d" % (i + 1, 7301 + 2 * i) in cfg, cfg
        assert "mlc-dispatcher-4" not in cfg
        assert "formatter_in: tcp://formatter:7200" in cfg and 'bind_host: "0.0.0.0"' in cfg
        with open(os.path.join(tmp, "run", "mlc.yaml")) as f:
            assert f.read() == cfg
        r = entrypoint(tmp, ["config"], {"MLC_DISPATCHERS": "33"})
        assert r.returncode == 2 and "1 to 32" in r.stderr, r.stderr
        # A config that brings its own endpoints is refused (one source of truth).
        src = os.path.join(tmp, "own.yaml")
        shutil.copy(os.path.join(SYSTEMD, "mlc.yaml"), src)
        r = entrypoint(tmp, ["poller"], {"MLC_CONFIG_SOURCE": src})
        assert r.returncode == 2 and "has an 'endpoints' section" in r.stderr, r.stderr
    finally:
        shutil.rmtree(tmp)


# --- systemd ----------------------------------------------------------------

UNITS = ["mlc-poller.service", "mlc-formatter.service", "mlc-auditor.service", "mlc-dispatcher@.service"]


def localized_units(tmp, bindir):
    """The units with /usr/local/bin pointing at the build directory."""
    for u in UNITS + ["mlc.target"]:
        with open(os.path.join(SYSTEMD, u)) as f:
            text = f.read()
        for name, rel in BINARIES.items():
            text = text.replace("/usr/local/bin/%s " % name, os.path.join(bindir, rel) + " ")
        with open(os.path.join(tmp, u), "w") as f:
            f.write(text)


def test_systemd_units_verify(a):
    if shutil.which("systemd-analyze") is None:
        raise AssertionError("systemd-analyze missing (Debian package systemd)")
    tmp = tempfile.mkdtemp(prefix="mlc-units-")
    try:
        localized_units(tmp, a.bin)
        shutil.copy(os.path.join(tmp, "mlc-dispatcher@.service"), os.path.join(tmp, "mlc-dispatcher@0.service"))
        r = subprocess.run(["systemd-analyze", "verify"] + [u.replace("@.", "@0.") for u in UNITS] + ["mlc.target"],
                           cwd=tmp, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stdout + r.stderr
        for u in UNITS:
            text = read(os.path.join("deploy", "systemd", u))
            assert "WantedBy=mlc.target" in text and "PartOf=mlc.target" in text, u
            assert "User=mlc" in text and "Restart=always" in text and "StateDirectory=mlc" in text, u
        assert "--index %i" in read("deploy/systemd/mlc-dispatcher@.service")
    finally:
        shutil.rmtree(tmp)


def exec_start(unit, instance=None):
    text = read(os.path.join("deploy", "systemd", unit))
    env = dict(re.findall(r"^Environment=(\w+)=(.*)$", text, re.M))
    line = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
    if instance is not None:
        line = line.replace("%i", instance)
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    return shlex.split(line), env


def test_systemd_units_run_the_pipeline_with_the_example_config(a):
    from test_compose import FixedPortsLock
    with FixedPortsLock():
        run_units(a)


def run_units(a):
    tmp = tempfile.mkdtemp(prefix="mlc-units-")
    x3 = slack = None
    procs = []
    try:
        env = dict(os.environ, X3_PASSWORD="unit-x3-pw", SLACK_BOT_TOKEN="xoxb-unit-token")
        x3 = Sim(os.path.join(a.bin, "sim", "mlc-x3sim"), ["--initial", "6", "--rate", "0"], tmp, "x3sim", env)
        slack = Sim(os.path.join(a.bin, "sim", "mlc-slacksim"), ["--rate-interval-ms", "0"], tmp, "slacksim", env)
        secrets = os.path.join(tmp, "secrets")
        os.makedirs(secrets)
        for n, v in (("x3_password", "unit-x3-pw"), ("slack_token", "xoxb-unit-token")):
            with open(os.path.join(secrets, n), "w") as f:
                f.write(v + "\n")
        cfg = read("deploy/systemd/mlc.yaml")
        cfg = cfg.replace("/var/lib/mlc", os.path.join(tmp, "state")).replace("/etc/mlc/secrets", secrets)
        cfg = cfg.replace("https://x3.example.com:8124", x3.url).replace("user: SLACKBOT", "user: admin")
        cfg = cfg.replace("slack:\n", "slack:\n  api_url: %s/api\n" % slack.url)
        # Ports of the example config are moved by +50 so this test never meets
        # test_compose.py's processes (same ports otherwise).
        cfg = re.sub(r"127\.0\.0\.1:(7\d\d\d)", lambda m: "127.0.0.1:%d" % (int(m.group(1)) + 50), cfg)
        cfg += "auditor:\n  http_listen: 127.0.0.1:9514\n"
        path = os.path.join(tmp, "mlc.yaml")
        with open(path, "w") as f:
            f.write(cfg)
        for unit, inst in (("mlc-auditor.service", None), ("mlc-dispatcher@.service", "0"),
                           ("mlc-formatter.service", None), ("mlc-poller.service", None)):
            argv, uenv = exec_start(unit, inst)
            assert argv[:2] != ["-c", path]
            argv[0] = os.path.join(a.bin, BINARIES[os.path.basename(argv[0])])
            argv[argv.index("-c") + 1] = path
            penv = dict(env, **{k: v for k, v in uenv.items() if k != "MLC_CONFIG"})
            log = open(os.path.join(tmp, unit + ".log"), "wb")
            procs.append((unit, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=penv), log))
        # Not every version is an event worth a message (docs/records.md):
        # new orders and approvals are, so a few must arrive.
        wait_for(lambda: len(http_json(slack.url + "/sim/messages")["messages"]) >= 1, 40,
                 "purchase orders in Slack", interval=0.2)
    except Exception:
        for unit, _, _ in procs:
            with open(os.path.join(tmp, unit + ".log"), "rb") as f:
                print("--- %s ---\n%s" % (unit, f.read().decode(errors="replace")[-1500:]))
        raise
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for unit, p, log in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
        for s in (x3, slack):
            if s:
                s.stop()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.run([
        test_dockerfile_is_multi_stage_debian12_slim_non_root_with_healthcheck,
        test_dockerfile_build_stage_has_the_build_dependencies_of_bootstrap,
        test_dockerfile_installs_every_program_the_project_builds,
        test_runtime_packages_provide_every_library_the_binaries_link,
        test_dispatcher_replica_finds_its_index_from_its_container_name,
        test_entrypoint_generates_endpoints_from_the_number_of_dispatchers,
        test_systemd_units_verify,
        test_systemd_units_run_the_pipeline_with_the_example_config,
    ])
