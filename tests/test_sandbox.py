"""What the bubblewrap sandbox lets a process see and do, probed from inside the real sandbox
(the same bwrap options the worker gets), and the fallback's warning."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, run_cli
from grader import sandbox

PROBE = r'''
import ctypes, json, os, socket, sys
port = int(sys.argv[1])
seen = {"uid": os.getuid(), "env": sorted(os.environ)}
seen["capeff"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
seen["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["exists"] = {p: os.path.exists(p) for p in sys.argv[2:]}
try:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    seen["network"] = "connected"
except OSError as exc:
    seen["network"] = type(exc).__name__
def writable(path):
    try:
        with open(os.path.join(path, "probe-write"), "w"):
            pass
        return True
    except OSError:
        return False
# the interpreter's own files (its prefix's root is only a mount point: under /tmp, a checkout
# there, it is a folder of the private tmpfs)
seen["writable"] = {p: writable(p) for p in ("/tmp", "/usr", os.path.join(sys.prefix, "lib"),
                                              os.path.join(sys.base_prefix, "lib"), "/")}
seen["tmp"] = os.listdir("/tmp")
seen["sizes"] = {p: os.statvfs(p).f_blocks * os.statvfs(p).f_frsize for p in ("/tmp", "/dev/shm")}
seen["var_tmp"] = os.path.realpath("/var/tmp")
libc = ctypes.CDLL(None, use_errno=True)
seen["new_userns"] = libc.unshare(0x10000000) == 0
print(json.dumps(seen))
'''

pytestmark = pytest.mark.skipif(sandbox.bubblewrap_problem() is not None,
                                reason=str(sandbox.bubblewrap_problem()))


def probe(tmp_path, hidden=()) -> dict:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    secrets = [str(ROOT / "assignments"), str(ROOT / "reference_solutions"), str(ROOT / "grader"),
               str(ROOT / "tests"), str(ROOT / "README.md"), str(tmp_path), "/root/.ssh",
               "/etc/passwd", "/home", "/var/log", str(ROOT / ".git")]
    argv = [shutil.which("bwrap"), *sandbox._bwrap_base_args(hidden),
            "--ro-bind", str(script), "/probe.py", "--remount-ro", "/", "--clearenv", "--setenv", "PATH", "/usr/bin",
            "--", sys.executable, "-I", "/probe.py", str(port), *secrets]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_sandbox_sees_nothing_of_the_host(tmp_path):
    seen = probe(tmp_path)
    assert seen["uid"] == 65534 and int(seen["capeff"], 16) == 0
    assert len(seen["pids"]) <= 3, seen["pids"]           # its own PID namespace
    assert seen["network"] in ("ConnectionRefusedError", "OSError"), seen["network"]
    assert not any(seen["exists"].values()), seen["exists"]
    assert set(seen["env"]) <= {"PATH", "PWD", "LC_CTYPE"}   # PWD: bwrap, LC_CTYPE: Python
    assert seen["writable"] == {"/tmp": True, "/usr": False, os.path.join(sys.prefix, "lib"): False,
                                os.path.join(sys.base_prefix, "lib"): False, "/": False}
    # A private /tmp: empty but for our probe and, when the interpreter itself lives under /tmp
    # (a checkout there), the mount point of its read-only bind.
    interpreter_dirs = {p.split("/")[2] for p in (sys.prefix, sys.base_prefix) if p.startswith("/tmp/")}
    assert set(seen["tmp"]) - interpreter_dirs == {"probe-write"}, seen["tmp"]
    assert seen["new_userns"] is False                     # no nested user namespaces
    # tmpfs is memory: bounded, so that one student cannot fill the host's (/var/tmp is /tmp)
    disk = sandbox.Limits().disk_mb * 1024 * 1024
    if sandbox.disk_bounded():
        assert seen["sizes"] == {"/tmp": disk, "/dev/shm": disk}
    assert seen["var_tmp"] == "/tmp"


def test_hidden_paths_inside_bound_directories_are_covered(tmp_path):
    import numpy as np

    inside = str(__import__("pathlib").Path(np.__file__).parent / "linalg")
    script = tmp_path / "ls.py"
    script.write_text(f"import os; print(os.listdir({inside!r}))")
    argv = [shutil.which("bwrap"), *sandbox._bwrap_base_args([inside]),
            "--ro-bind", str(script), "/ls.py", "--", sys.executable, "-I", "/ls.py"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_fallback_warning_names_what_is_lost_and_how_to_install(tmp_path):
    out = tmp_path / "r.json"
    no_bwrap = {"PATH": "/nonexistent"}
    done = run_cli("run", str(FIXTURES / "modules_correct"), "--json", str(out), env=no_bwrap)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1, done.stderr
    for words in ("--sandbox process", "read and write every file", "network",
                  "apt-get install bubblewrap"):
        assert words in warning[0]
    assert json.loads(out.read_text())["grader"]["sandbox"] == "process"
    refused = run_cli("run", str(FIXTURES / "modules_correct"), "--sandbox", "bubblewrap", env=no_bwrap)
    assert refused.returncode == 2 and "bubblewrap" in refused.stderr


def test_a_bwrap_that_cannot_start_falls_back_with_the_warning(tmp_path):
    """No probe sandbox runs before grading: a bwrap that refuses to build its sandbox (here a
    stand-in printing what Ubuntu 24.04's AppArmor makes the real one print) is noticed when
    the worker should start, and grading goes on in process mode, warned, with full marks."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    broken = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    out = tmp_path / "r.json"
    done = run_cli("run", str(FIXTURES / "modules_correct"), "--json", str(out), env=broken)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "bwrap does not work here: setting up uid map" in warning[0], done.stderr
    report = json.loads(out.read_text())
    assert report["grader"]["sandbox"] == "process" and report["score"] == report["max_score"]
    refused = run_cli("run", str(FIXTURES / "modules_correct"), "--sandbox", "bubblewrap", env=broken)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines()[-1].endswith(
        "--sandbox bubblewrap: bwrap does not work here: setting up uid map: Permission denied "
        "(user namespaces may be disabled)"), refused.stderr


def test_a_bwrap_without_size_still_sandboxes(tmp_path):
    """bubblewrap before 0.8 (Ubuntu 22.04 has 0.6) cannot size a tmpfs: grading stays in the
    sandbox, unbounded there, rather than falling back to process mode."""
    real = shutil.which("bwrap")
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(f'''#!/bin/sh
if [ "$1" = "--help" ]; then {real} --help | grep -v -e "--size"; exit 0; fi
for arg in "$@"; do
    if [ "$arg" = "--size" ]; then echo "bwrap: Unknown option --size" >&2; exit 1; fi
done
exec {real} "$@"
''')
    fake.chmod(0o755)
    out = tmp_path / "r.json"
    done = run_cli("run", str(FIXTURES / "modules_correct"), "--json", str(out),
                   env={"PATH": f"{fake.parent}:/usr/bin:/bin"})
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    report = json.loads(out.read_text())
    assert report["grader"]["sandbox"] == "bubblewrap" and report["score"] == report["max_score"]
