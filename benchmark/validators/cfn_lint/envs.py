"""Environments of other cfn-lint releases: one virtual environment per version, built once.

`ensure_env("1.4.2", "runs/.cache/cfn-lint")` returns the Python of `<envs_dir>/1.4.2/`,
holding cfn-lint 1.4.2 and time-machine and nothing of this project. It is built on first use
with the ordinary tools (`uv` if it is on PATH, else `python -m venv` and pip), under a file
lock so parallel jobs build it once, in a temporary folder renamed into place when it is
complete: a killed build never leaves a half environment behind. A version that cannot be
built is a `ConfigError` naming it and the installer's reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmark.config import ConfigError

TIME_MACHINE = "time-machine>=2.10,<4"  # the clock; the same range as pyproject.toml
READY = "cfn-lint-env.json"  # written last, inside the folder, before it is renamed into place
BUILD_TIMEOUT_S = 1800
_BUILDING = "-building-"


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def is_ready(env: Path) -> bool:
    return (env / READY).is_file() and env_python(env).exists()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _reason(output: str) -> str:
    """The installer's own one-line reason from its output (pip's last `ERROR:` line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR:", "error:"))]
    chosen = (errors or lines or ["no output"])[-1]
    return chosen.split(":", 1)[1].strip() if chosen.lower().startswith("error:") else chosen


def _run(command: list[str]) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise RuntimeError(_reason(done.stderr + "\n" + done.stdout))


def _build(folder: Path, version: str) -> str:
    """Install cfn-lint `version` and time-machine into a new environment at `folder`."""
    python = env_python(folder)
    packages = [f"cfn-lint=={version}", TIME_MACHINE]
    uv = shutil.which("uv")
    if uv:
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(folder)])
        _run([uv, "pip", "install", "--quiet", "--python", str(python), *packages])
        return "uv"
    _run([sys.executable, "-m", "venv", str(folder)])
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    _run([*pip, *packages])
    return "pip"


def _installed_version(python: Path) -> str:
    probe = "import cfnlint.version, time_machine; print(cfnlint.version.__version__)"
    done = subprocess.run(
        [str(python), "-s", "-c", probe], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(_reason(done.stderr))
    return done.stdout.strip()


def ensure_env(version: str, envs_dir: str | Path) -> Path:
    """The Python of cfn-lint `version`'s environment under `envs_dir`, built if need be."""
    root = Path(envs_dir).resolve()
    env = root / version
    if is_ready(env):
        return env_python(env)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{version}.lock"):
        if is_ready(env):  # another job built it while this one waited
            return env_python(env)
        for leftover in root.glob(f".{version}{_BUILDING}*"):  # builds that were killed
            shutil.rmtree(leftover, ignore_errors=True)
        if env.exists():
            shutil.rmtree(env)  # not ready: not one of ours
        print(f"cfn-lint {version}: building its environment in {env} (first use)", file=sys.stderr)
        folder = Path(tempfile.mkdtemp(prefix=f".{version}{_BUILDING}", dir=root))
        try:
            tool = _build(folder, version)
            found = _installed_version(env_python(folder))
            if found != version:
                raise RuntimeError(f"the installer gave cfn-lint {found}")
            folder.chmod(0o755)  # mkdtemp made it private
            (folder / READY).write_text(
                json.dumps({"cfn_lint_version": version, "built_with": tool}) + "\n"
            )
            folder.rename(env)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ConfigError(
                f"config error at 'lint.cfn_lint_version': cannot build cfn-lint {version} "
                f"in {env}: {exc}"
            ) from None
    return env_python(env)
