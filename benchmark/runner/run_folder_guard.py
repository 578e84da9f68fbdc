"""Before Hydra writes into a run folder: is it the right folder, and is it ours alone?

Registered as a Hydra callback (conf/config.yaml), it runs in `on_run_start` /
`on_multirun_start`, before Hydra saves `.hydra/` or `multirun.yaml` and before the sweep's
plan, and refuses in one line (exit code 2), writing nothing, when:
- `resume=` names a folder that does not exist (a new sweep is `hydra.sweep.dir`'s job);
- the folder already holds attempts recorded under other settings than a job of this command
  would use (its config hash; benchmark/runner/run_folder_check.py). The job checks again when it
  opens its folder (benchmark/records/resume.py);
- another process holds the folder's lock (benchmark/runner/folder_lock.py): the line names it.
Otherwise it takes the lock (the sweep folder in a multirun, the run folder in a single run)
and holds it until the run ends or the process exits. A lock whose holder died is taken over
with a note.

Who holds the lock: the process that runs the sweeper. With the basic and joblib launchers the
jobs are its children and end before it does. With submitit (local or Slurm) it is the process
that submitted the jobs and waits for them; if that process is killed, jobs already on the
cluster keep writing without a lock. The lock is `flock`, which NFS (v4, and v3 with lockd)
carries between hosts.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from hydra import compose
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark.config import ConfigError, Settings, load_settings
from benchmark.problems.dataset import DatasetError
from benchmark.runner.folder_lock import FolderLock, FolderLocked
from benchmark.runner.plan.sweep import sweep_dir_named, sweep_job_overrides
from benchmark.runner.run_folder_check import recorded_attempts, resume_refusal


def _refuse(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def job_settings(config_name: str, overrides: Sequence[str]) -> Settings | None:
    """One job's settings, composed as Hydra will compose them; None when they do not load
    (the job then fails with its own one line)."""
    try:
        cfg = compose(config_name=config_name, overrides=list(overrides))
        return load_settings(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    except (ConfigError, DatasetError, HydraException, OmegaConfBaseException):
        return None


class FolderCheck:
    """Each job's folder against the settings it is about to be written with."""

    def __init__(self, config_name: str, jobs: dict[Path, tuple[str, list[str]]]) -> None:
        self.config_name = config_name
        self.jobs = jobs  # job folder -> (its name in a refusal, its overrides)
        self._settings: dict[Path, Settings | None] = {}

    def refusal(self) -> str | None:
        for job_dir, (label, overrides) in self.jobs.items():
            attempts = recorded_attempts(job_dir)  # read once: for the check and the refusal
            if attempts["config_hash"].dropna().empty:
                continue  # nothing recorded there: nothing to mix with (and nothing to compose)
            if job_dir not in self._settings:
                self._settings[job_dir] = job_settings(self.config_name, overrides)
            settings = self._settings[job_dir]
            if settings is None:
                continue
            try:
                refused = resume_refusal(job_dir, label, settings, attempts)
            except ConfigError:
                continue  # its fingerprint cannot be made: the job fails with that line
            if refused:
                return refused
        return None


class RunFolderGuard(Callback):
    """Refuses a missing resume folder, a resume under other settings, and a second writer;
    holds the run folder's lock while the run writes into it."""

    def __init__(self) -> None:
        self.lock: FolderLock | None = None

    def __getstate__(self) -> dict[str, Any]:
        # joblib and submitit send the callbacks to their job processes: the lock stays with
        # this process, which holds it for the whole sweep
        return {"lock": None}

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(config.hydra.run.dir)
        overrides = list(config.hydra.overrides.task)
        self._guard(config, folder, {folder: ("the run", overrides)}, kwargs)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("plan") and not sweep_dir_named(config):
            return  # plan=true into the dated default: nothing is written, no folder to lock
        folder = Path(config.hydra.sweep.dir)
        jobs = sweep_job_overrides(config) or []  # another sweeper: each job checks itself
        named = {folder / str(n): (f"job {n}", list(o)) for n, o in enumerate(jobs)}
        self._guard(config, folder, named, kwargs)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.release()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.release()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def _guard(
        self,
        config: DictConfig,
        folder: Path,
        jobs: dict[Path, tuple[str, list[str]]],
        kwargs: dict[str, Any],
    ) -> None:
        resume = config.get("resume")
        if resume is not None and not Path(str(resume)).is_dir():
            _refuse(
                f"resume={resume}: no such run folder; nothing was written (a new run goes to "
                "hydra.sweep.dir=..., or hydra.run.dir=... for a single run)"
            )
        self.lock = FolderLock(folder)
        check = FolderCheck(str(kwargs.get("config_name") or "config"), jobs)
        try:
            self.lock.ensure_free()  # a folder being written is not read for the check below
            # checked before the lock is taken: a refusal leaves the folder as it was, lock too
            refused = check.refusal()
            if refused:
                _refuse(refused)
            stale = self.lock.acquire()
        except FolderLocked as exc:
            _refuse(str(exc))
        atexit.register(self.release)  # also when a job or a callback ends the process
        if stale is not None:
            print(
                f"note: took over the lock of {folder} from {stale}, which ended without "
                "releasing it",
                file=sys.stderr,
                flush=True,
            )
        refused = check.refusal()  # again under the lock: a writer may have finished meanwhile
        if refused:
            self.release()
            _refuse(refused)
