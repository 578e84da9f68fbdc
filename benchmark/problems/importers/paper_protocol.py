"""The paper's protocol from the authors' own script, replayable with any model.

    python -m benchmark.problems import paper-protocol <their repository root> \\
        --out datasets/local/paper-original

Palavalli & Santolucito's `cfFilesBatching2.py` holds their 33 prompts and the two chat
requests of their loop. It is read with `ast` and never executed (its top level calls the
OpenAI API, runs cfn-lint and writes files). What is taken from it:

- the prompts: the string literal argument of every `prompts_list.append(...)` call, in source
  order; prompt P (0-based) is paper topic P + 1, i.e. a paper33 problem (see
  `benchmark.replication.paper_repo.paper33_by_topic`). Anything else that fills `prompts_list`
  is an error, not a guess;
- the two `*.chat.completions.create(...)` calls: each one's system message (a literal) and
  user message (an f-string). The call whose f-string has one variable is the generation
  request, that variable becomes `{prompt}`; the other has two: the one assigned from
  `json.dumps(...)` in the call's scope is the template (`{template}`), the other the lint text
  (`{feedback}`);
- the `response_format` literal of the calls (`{"type": "json_object"}`: OpenAI's JSON mode).

Written: one problem file per prompt (paper33's id, title, services, difficulty, reference
template, intent checks and near misses, with the authors' prompt text), a Hydra dataset config
and a prompt set (feedback `raw`, templates kept as `json.dumps` text as their script kept them,
their repair system prompt), both named `paper-original`, under `datasets/local/conf/`
(`hydra.searchpath` in conf/config.yaml), so a sweep can name them. None of it is committed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from benchmark.config import ConfigError, PromptSetConfig
from benchmark.loop.prompts import check_prompt_set
from benchmark.problems.dataset import DatasetError, Problem, parse_problem
from benchmark.problems.importers.output import DatasetImportError, read_text, write_problems
from benchmark.replication.paper_repo import PROMPTS, SCRIPT, paper33_by_topic

NAME = "paper-original"  # the dataset's and the prompt set's name
PAPER_MODEL = "openai/gpt-4o"  # the model of the paper's run
_LIST = "prompts_list"
_MUTATORS = {"extend", "insert", "pop", "remove", "clear", "sort", "reverse", "__setitem__"}
RESPONSE_FORMATS = ("json_object",)  # what the harness can send as the script did (no schema)


@dataclass(frozen=True)
class Request:
    """One chat request of the script: its system text and user f-string, where they are."""

    line: int
    system: str
    user: ast.JoinedStr
    variables: list[str]
    response_format: str | None


@dataclass(frozen=True)
class Protocol:
    """What the script says: the prompts and the two requests in the harness's placeholders."""

    script: Path
    prompts: list[str]
    system: str
    generation: str  # with {prompt}
    repair_system: str
    repair: str  # with {template} and {feedback}
    response_format: str | None

    def prompt_set(self) -> dict[str, Any]:
        """The prompt set's fields (a valid `PromptSetConfig`)."""
        return {
            "name": NAME,
            "output_format": "json",
            "feedback": "raw",
            "feed_back_checks": [],
            "template_as": "json_dumps",
            "system": self.system,
            "repair_system": self.repair_system,
            "generation": self.generation,
            "repair": self.repair,
            # the conversation protocol (not the paper's) sends the same repair words
            "repair_followup": self.repair,
        }


@dataclass
class ProtocolReport:
    script: Path
    prompts: int = 0
    out_dir: Path | None = None
    dataset_config: Path | None = None
    prompt_config: Path | None = None
    response_format: str | None = None
    notes: list[str] = field(default_factory=list)

    def sweep_command(self) -> str:
        args = f" ARGS='model.response_format={self.response_format}'"
        return f"make sweep DATASET={NAME} PROMPTS={NAME} MODELS={PAPER_MODEL}" + (
            args if self.response_format else ""
        )

    def lines(self) -> list[str]:
        return [
            f"read (with ast, never run): {self.script}",
            f"prompts: {self.prompts}, mapped to paper33's topics 1..{self.prompts}",
            f"problems written: {self.prompts} -> {self.out_dir}",
            f"dataset config: {self.dataset_config} (dataset={NAME})",
            f"prompt set: {self.prompt_config} (prompts={NAME})",
            f"response_format of their requests: {self.response_format or 'none'}",
            *(f"note: {note}" for note in self.notes),
            f"next: {self.sweep_command()}",
        ]


# ---- reading the script ----------------------------------------------------------------------


class _Script:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tree = ast.parse(read_text(path), filename=str(path))
        except SyntaxError as exc:
            raise DatasetImportError(f"{path}: line {exc.lineno}: not Python: {exc.msg}") from None
        self.parents: dict[ast.AST, ast.AST] = {
            child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)
        }

    def error(self, node: ast.AST, message: str) -> DatasetImportError:
        return DatasetImportError(f"{self.path}:{getattr(node, 'lineno', '?')}: {message}")

    def calls(self) -> list[ast.Call]:
        found = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call)]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset))

    def scope(self, node: ast.AST) -> ast.AST:
        """The innermost function around `node`, else the module."""
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return self.tree


def _is_list(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == _LIST


def _prompts(script: _Script) -> list[str]:
    """The literal argument of each `prompts_list.append(...)`; any other filling is an error."""
    for node in ast.walk(script.tree):
        if isinstance(node, ast.AugAssign) and _is_list(node.target):
            raise script.error(node, f'{_LIST} is extended with +=; expected append("...") calls')
        if isinstance(node, ast.Assign) and any(_is_list(t) for t in node.targets):
            empty = isinstance(node.value, ast.List) and not node.value.elts
            if not empty:
                raise script.error(node, f"{_LIST} is assigned a value; expected an empty list")
    prompts = []
    for call in script.calls():
        func = call.func
        if not (isinstance(func, ast.Attribute) and _is_list(func.value)):
            continue
        if func.attr in _MUTATORS:
            raise script.error(call, f'{_LIST}.{func.attr}(...): expected append("...") calls')
        if func.attr != "append":
            continue
        arg = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            shown = ast.unparse(call)[:80]
            raise script.error(call, f"{shown}: expected one string literal argument")
        if not arg.value.strip():
            raise script.error(call, f"{_LIST}.append(...) of an empty string")
        prompts.append(arg.value)
    if len(prompts) != PROMPTS:
        raise DatasetImportError(
            f"{script.path}: {len(prompts)} {_LIST}.append(...) calls, expected {PROMPTS} "
            "(one per paper topic)"
        )
    return prompts


def _is_create(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "create"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "completions"
    )


def _request(script: _Script, call: ast.Call) -> Request:
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    messages = keywords.get("messages")
    if not isinstance(messages, ast.List):
        raise script.error(call, "chat.completions.create without a literal messages=[...] list")
    by_role: dict[str, ast.expr] = {}
    for item in messages.elts:
        entry = (
            {k.value: v for k, v in zip(item.keys, item.values, strict=True) if _const(k)}
            if isinstance(item, ast.Dict)
            else {}
        )
        role = entry.get("role")
        if not (_const(role) and "content" in entry):
            raise script.error(
                item, "a message that is not a literal {'role': ..., 'content': ...}"
            )
        assert isinstance(role, ast.Constant)
        if role.value in by_role:
            raise script.error(item, f"two {role.value!r} messages in one request")
        by_role[str(role.value)] = entry["content"]
    if set(by_role) != {"system", "user"}:
        raise script.error(call, f"messages with roles {sorted(by_role)}; expected system, user")
    system, user = by_role["system"], by_role["user"]
    if not _const(system):
        raise script.error(system, "the system message is not a string literal")
    if not isinstance(user, ast.JoinedStr):
        raise script.error(user, "the user message is not an f-string")
    variables = []
    for part in user.values:
        if isinstance(part, ast.FormattedValue):
            if not isinstance(part.value, ast.Name) or part.conversion != -1 or part.format_spec:
                raise script.error(part, f"f-string field {ast.unparse(part)!r}: expected {{name}}")
            variables.append(part.value.id)
    fmt = None
    if "response_format" in keywords:
        try:
            value = ast.literal_eval(keywords["response_format"])
        except ValueError:
            raise script.error(call, "response_format is not a literal") from None
        fmt = value.get("type") if isinstance(value, dict) else None
        if fmt not in RESPONSE_FORMATS:
            raise script.error(
                call, f"response_format {value!r}: expected {{'type': 'json_object'}}"
            )
    assert isinstance(system, ast.Constant)
    return Request(call.lineno, str(system.value), user, variables, fmt)


def _const(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_json_dumps(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "dumps" and isinstance(func.value, ast.Name) and func.value.id == "json"
    return isinstance(func, ast.Name) and func.id == "dumps"


def _assigned_from_json_dumps(script: _Script, scope: ast.AST, name: str) -> bool:
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and _is_json_dumps(value):
            return True
    return False


# Their lint text was `subprocess.getstatusoutput("cfn-lint " + path)[1]`: cfn-lint prints a
# blank line after every finding and getstatusoutput strips one newline, so a non-empty text
# ended with "\n". The harness's raw feedback has none, and it is never empty (a chain stops at
# its first clean template): the placeholder is followed by that newline instead.
AFTER_FEEDBACK = "\n"


def _text(user: ast.JoinedStr, names: dict[str, str]) -> str:
    """The f-string with each variable replaced by its placeholder, literal braces escaped."""
    out = []
    for part in user.values:
        if isinstance(part, ast.Constant):
            out.append(str(part.value).replace("{", "{{").replace("}", "}}"))
        else:
            assert isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name)
            name = names[part.value.id]
            out.append("{" + name + "}" + (AFTER_FEEDBACK if name == "feedback" else ""))
    return "".join(out)


def read_protocol(script_path: str | Path) -> Protocol:
    """The prompts and requests of the authors' script; DatasetImportError names the line."""
    path = Path(script_path)
    if not path.is_file():
        raise DatasetImportError(f"{path}: script not found (expected the authors' {SCRIPT})")
    script = _Script(path)
    prompts = _prompts(script)
    creates = [call for call in script.calls() if _is_create(call)]
    if len(creates) != 2:
        raise DatasetImportError(
            f"{path}: {len(creates)} chat.completions.create calls, expected 2 "
            "(generation and repair)"
        )
    requests = {len(r.variables): r for r in (_request(script, c) for c in creates)}
    if sorted(requests) != [1, 2]:
        raise DatasetImportError(
            f"{path}: expected one request whose user f-string has one variable (generation) "
            f"and one with two (repair); found lines {[c.lineno for c in creates]}"
        )
    generation, repair = requests[1], requests[2]
    if generation.response_format != repair.response_format:
        raise DatasetImportError(
            f"{path}: the requests use different response formats "
            f"({generation.response_format}, {repair.response_format})"
        )
    call = next(c for c in creates if c.lineno == repair.line)
    scope = script.scope(call)
    dumped = [v for v in repair.variables if _assigned_from_json_dumps(script, scope, v)]
    if len(dumped) != 1 or len(set(repair.variables)) != 2:
        raise script.error(
            call,
            f"cannot tell the template from the lint text in {repair.variables}: expected "
            "exactly one of them assigned from json.dumps(...)",
        )
    template = dumped[0]
    names = {v: "template" if v == template else "feedback" for v in repair.variables}
    return Protocol(
        script=path,
        prompts=prompts,
        system=generation.system,
        generation=_text(generation.user, {generation.variables[0]: "prompt"}),
        repair_system=repair.system,
        repair=_text(repair.user, names),
        response_format=generation.response_format,
    )


# ---- writing the dataset and the configs -----------------------------------------------------


def problems_of(protocol: Protocol, paper33: list[Problem]) -> list[Problem]:
    """paper33's problem of each topic, asked in the authors' words."""
    out = []
    for number, (text, problem) in enumerate(zip(protocol.prompts, paper33, strict=True), 1):
        data = problem.model_dump(mode="json", exclude_none=True)
        data["prompt"] = text
        data["source"] = (
            f"{protocol.script.name} prompt {number} (paper topic {number}); intent checks and "
            f"reference from paper33 {problem.id}"
        )
        try:
            out.append(parse_problem(data, f"{protocol.script}: prompt {number}"))
        except DatasetError as exc:
            raise DatasetImportError(str(exc)) from exc
    return out


def _config_text(header: str, data: dict[str, Any]) -> str:
    """YAML that OmegaConf reads back as exactly `data` (interpolation markers escaped)."""

    def escape(value: Any) -> Any:
        return value.replace("${", "\\${") if isinstance(value, str) else value

    body = yaml.safe_dump(
        {k: escape(v) for k, v in data.items()}, sort_keys=False, allow_unicode=True, width=100
    )
    text = "".join(f"# {line}\n" for line in header.splitlines()) + body
    if OmegaConf.to_container(OmegaConf.create(text), resolve=True) != data:
        raise DatasetImportError(f"cannot write {data.get('name')} as a config that reads back")
    return text


def _config_path(path: Path) -> str:
    """A dataset path as the shipped configs write it: relative to the project root when under
    it (sweeps run from there), else absolute."""
    root = Path(__file__).resolve().parents[3]
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)


def import_paper_protocol(
    source: str | Path, out_dir: str | Path, conf_dir: str | Path, overwrite: bool = False
) -> ProtocolReport:
    """Read the script under `source` (the repository root, or the script itself) and write
    the dataset to `out_dir` and its two Hydra configs under `conf_dir`."""
    source, out, conf = Path(source), Path(out_dir), Path(conf_dir)
    script = source / SCRIPT if source.is_dir() else source
    protocol = read_protocol(script)
    try:
        paper33 = paper33_by_topic()
    except (ValueError, DatasetError) as exc:
        raise DatasetImportError(str(exc)) from exc
    problems = problems_of(protocol, paper33)
    padded = [n for n, text in enumerate(protocol.prompts, 1) if text != text.strip()]
    prompt_data = protocol.prompt_set()
    try:
        check_prompt_set(PromptSetConfig(**prompt_data))
    except (ConfigError, ValueError) as exc:
        raise DatasetImportError(f"{script}: the requests make no valid prompt set: {exc}") from exc
    dataset_yaml = conf / "dataset" / f"{NAME}.yaml"
    prompts_yaml = conf / "prompts" / f"{NAME}.yaml"
    for path in (dataset_yaml, prompts_yaml):
        if path.exists() and not overwrite:
            raise DatasetImportError(f"{path}: exists; pass --overwrite to replace")
    header = (
        f"Written by `python -m benchmark.problems import paper-protocol` from {script}\n"
        "(read with ast, never run). The authors' words: keep this out of git."
    )
    dataset_text = _config_text(
        f"{header}\nTheir {PROMPTS} prompts on paper33's problems (intent checks, references).",
        {"name": NAME, "path": _config_path(out), "only": None, "limit": None},
    )
    fmt = protocol.response_format
    prompts_text = _config_text(
        f"{header}\nTheir requests"
        + (
            f" used response_format {fmt}: sweep with model.response_format={fmt}."
            if fmt
            else " sent no response_format."
        ),
        prompt_data,
    )
    write_problems(problems, out, overwrite)
    for path, text in ((dataset_yaml, dataset_text), (prompts_yaml, prompts_text)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return ProtocolReport(
        script=script,
        prompts=len(problems),
        out_dir=out,
        dataset_config=dataset_yaml,
        prompt_config=prompts_yaml,
        response_format=fmt,
        notes=[
            *(
                [f"prompts {padded} have surrounding whitespace, which the harness strips"]
                if padded
                else []
            ),
            "raw feedback names the file template.json where their cfn-lint printed a path "
            "on their machine",
            "a chain stops at its first clean template; their loop kept every template to "
            "iteration 10 (copying clean ones at iteration 2, re-asking with empty feedback later)",
        ],
    )
