"""The start-of-job check: refuse, in one line and before any generation call, a setting the
model does not support (effort, thinking, json_schema output, batch mode).

What the model supports comes from the provider's Models API (`ModelAPI.fetch_capabilities`,
asked once per job), else from the documented table (benchmark/models/capabilities.yaml). The
answer is kept in the job folder (`capabilities.json`), so a resume asks nothing. Where no
source knows the model, its settings are allowed with a one-line note.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmark.config import ConfigError, ModelConfig
from benchmark.models.base import ModelAPI, ModelError
from benchmark.models.capabilities import Capabilities, table_capabilities

CAPABILITIES_FILE = "capabilities.json"


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def read_cached(job_dir: Path, model_id: str) -> tuple[bool, Capabilities | None]:
    """(found, capabilities) from the job folder's file, for this model only; a file that does
    not parse, or names another model, counts as not found."""
    path = job_dir / CAPABILITIES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("model") != model_id:
            return False, None
        caps = data.get("capabilities")
        return True, None if caps is None else Capabilities.from_json(caps)
    except (OSError, ValueError, TypeError, AttributeError):
        return False, None


def write_cached(job_dir: Path, model_id: str, caps: Capabilities | None) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    path = job_dir / CAPABILITIES_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    data = {"model": model_id, "capabilities": None if caps is None else caps.to_json()}
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


async def model_capabilities(model: ModelAPI, job_dir: Path) -> Capabilities | None:
    """What `model` supports: the job folder's answer, else the Models API's (asked once),
    else the table's; None where no source knows it. Kept in the job folder unless the API
    could not be asked (a later run asks again) or the model is simulated (nothing to ask)."""
    if model.simulated:
        return await model.fetch_capabilities()
    found, caps = read_cached(job_dir, model.id)
    if found:
        return caps
    try:
        caps = await model.fetch_capabilities()
    except ModelError as exc:
        _note(f"{model.id}: the Models API did not answer ({exc}); using the documented table")
        return table_capabilities(model.provider, model.name)
    caps = caps or table_capabilities(model.provider, model.name)
    write_cached(job_dir, model.id, caps)
    return caps


async def check_capabilities(
    model: ModelAPI, settings: ModelConfig, job_dir: Path
) -> Capabilities | None:
    """The model's capabilities, or a ConfigError naming the first setting it does not
    support (one line). Unknown capabilities allow everything, with a note when a reasoning
    knob is set."""
    caps = await model_capabilities(model, job_dir)
    if caps is None:
        if settings.effort is not None or settings.thinking is not None:
            _note(
                f"no capabilities known for {model.id} (Models API or "
                "benchmark/models/capabilities.yaml): effort and thinking are sent unchecked"
            )
        return None
    why = caps.refusal(settings.effort, settings.thinking, settings.response_format, settings.batch)
    if why is not None:
        where = {"models_api": "its Models API", "table": "benchmark/models/capabilities.yaml"}
        raise ConfigError(
            f"config error at 'model': {model.id}: {why}, per {where.get(caps.source, caps.source)}"
        )
    return caps
