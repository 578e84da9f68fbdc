"""cfn-lint's warm linter, for any 1.x release: in process, or as a script under another Python.

This module imports only the standard library, `cfnlint` and (for a frozen clock)
`time_machine`, so an environment holding just one release of cfn-lint can run it:

    <env>/bin/python -s -P engine.py      # JSON lines on stdin/stdout

The first line in is the settings (`{"regions": [...], "ignore_checks": [...],
"include_checks": [...], "mandatory_checks": null, "as_of": "2024-08-01"}`); the engine
answers `{"ready": <describe()>}` once its rules are built, or `{"error": "..."}` and exits.
Then each `{"id": n, "text": "..."}` gets `{"id": n, "findings": [...], "as_of": "YYYY-MM-DD"}`
or `{"id": n, "error": "..."}`. End of input ends the worker.

What it guarantees, whatever the release: the rules are built once; no `.cfnlintrc` is read;
regions are explicit; a template's own `Metadata: cfn-lint: config` cannot silence a counted
rule (mandatory checks are derived from the settings); with `as_of` set, cfn-lint's clock reads
that day at 12:00 UTC, standing still, while rules are built and while templates are linted
(releases up to about 1.5 read the date when a rule is built, later ones when it runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import IO, Any

_LEVELS = {"error": "E", "warning": "W", "informational": "I"}
PARSE_ERROR_RULE = "E0000"


@contextlib.contextmanager
def clock(as_of: date | None) -> Iterator[date]:
    """cfn-lint's clock for one step: frozen to `as_of` at 12:00 UTC, else the real one.
    Yields the date the clock reads."""
    if as_of is None:
        yield date.today()
        return
    # deferred: only a linter frozen to a date (lint.as_of) needs time-machine
    import time_machine

    with time_machine.travel(
        datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC), tick=False
    ):
        yield as_of


def _config(settings: dict[str, Any], mandatory: Sequence[str]) -> Any:
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.config import ConfigMixIn

    # --config-file pointing at nothing stops cfn-lint looking for ~/.cfnlintrc and ./.cfnlintrc
    return ConfigMixIn(
        ["--config-file", os.devnull],
        regions=list(settings["regions"]),
        ignore_checks=list(settings["ignore_checks"]),
        include_checks=list(settings["include_checks"]),
        mandatory_checks=list(mandatory),
    )


def _runner_class() -> Any:
    try:  # 1.12 and later
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.runner.cli import Runner
    except ImportError:  # 1.0 to 1.11: one runner module
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.runner import Runner
    return Runner


def _run_template(template: Any, config: Any, rules: Any) -> Iterator[Any]:
    try:
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.runner.template import run_template_by_data
    except ImportError:
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.runner import TemplateRunner

        return TemplateRunner(None, template, config, rules).run()
    return run_template_by_data(template, config, rules)


def match_to_dict(match: Any) -> dict[str, Any]:
    """A cfn-lint match as plain data (its nodes are str/int subclasses that do not travel)."""
    return {
        "rule_id": str(match.rule.id),
        "level": _LEVELS.get(match.rule.severity, "E"),
        "message": str(match.message),
        "path": [
            int(p) if isinstance(p, int) else str(p) for p in getattr(match, "path", None) or ()
        ],
        "line": int(match.linenumber),
        "column": int(match.columnnumber),
        "end_line": int(match.linenumberend),
        "end_column": int(match.columnnumberend),
    }


def cfn_lint_version() -> str:
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.version import __version__

    return str(__version__)


class Engine:
    """One release's rules, built once, applied to many templates. One per process, one thread.

    `settings`: regions, ignore_checks, include_checks (lists), mandatory_checks (None: every
    rule at a counted level the settings do not ignore) and as_of (a date or None).
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = {
            "regions": list(settings.get("regions") or ["us-east-1"]),
            "ignore_checks": list(settings.get("ignore_checks") or []),
            "include_checks": list(settings.get("include_checks") or []),
            "mandatory_checks": settings.get("mandatory_checks"),
        }
        as_of = settings.get("as_of")
        self.as_of: date | None = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        self._build()

    def _build(self) -> None:
        with clock(self.as_of) as today:
            self.built_on = today
            self.rules = _runner_class()(_config(self.settings, [])).rules
        if self.settings["mandatory_checks"] is None:
            probe = _config(self.settings, [])
            self.mandatory = sorted(
                rule_id
                for rule_id, rule in self.rules.items()
                if self.rules.is_rule_enabled(rule, probe)
            )
        else:
            self.mandatory = list(self.settings["mandatory_checks"])

    def lint(self, text: str) -> tuple[list[dict[str, Any]], date]:
        """The findings for one template's text, and the date cfn-lint's clock read."""
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.decode.decode import decode_str

        if self.as_of is None and date.today() != self.built_on:
            self._build()  # releases that read the date when a rule is built: a new day
        with clock(self.as_of) as today:
            template, errors = decode_str(text)
            if errors:
                ignored = any(
                    PARSE_ERROR_RULE.startswith(x) for x in self.settings["ignore_checks"]
                )
                matches = [m for m in errors if not (ignored and m.rule.id == PARSE_ERROR_RULE)]
            else:
                config = _config(self.settings, self.mandatory)
                matches = list(_run_template(template, config, self.rules))
            return [match_to_dict(m) for m in matches], today

    def describe(self) -> dict[str, Any]:
        """What this release knows: its version, its regions and every rule id."""
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.helpers import REGIONS

        return {
            "cfn_lint_version": cfn_lint_version(),
            "regions": list(REGIONS),
            "rule_ids": sorted(str(rule_id) for rule_id, _ in self.rules.items()),
            "mandatory_checks": list(self.mandatory),
        }


# ---- the worker script ---------------------------------------------------------------------


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def serve(requests: IO[str], replies: IO[str]) -> int:
    """Answer JSON-line requests (the module docstring has the protocol) until end of input."""

    def send(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    first = requests.readline()
    if not first:
        return 0
    try:
        engine = Engine(json.loads(first))
    except Exception as exc:
        send({"error": _error(exc)})
        return 1
    send({"ready": engine.describe()})
    for line in requests:
        request = json.loads(line)
        try:
            findings, today = engine.lint(request["text"])
        except Exception as exc:
            send({"id": request["id"], "error": _error(exc)})
        else:
            send({"id": request["id"], "findings": findings, "as_of": today.isoformat()})
    return 0


def main() -> int:
    # the protocol owns stdout; anything cfn-lint or a library prints goes to stderr
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdin.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    return serve(sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(main())
