"""`simulated/<profile>`: an offline, seeded repair SIMULATOR. It is not an LLM.

It exists for demos, tests and power analysis. A chain starts from the problem's own reference
template with a few deliberate mistakes ("mutations") drawn from a catalogue; each mutation is
tied to one cfn-lint rule. On a repair turn the simulator reads the feedback (the last user
message) and fixes each mutation whose rule id it mentions with some probability, and now and
then introduces a new one. Every reply says it is simulated, and `simulated` is True, so its
rows are never presentable as results about LLMs.

The template is always rendered from the unmodified reference plus the active mutations, so a
fix restores the original value exactly. Randomness comes from `random.Random` seeded by a
SHA-256 of (seed, problem id, sample, iteration): same inputs give byte-identical replies in any
process. State is kept per chain and per iteration, so a retried call gives the same reply.
Only the last user message is read, so the stateless and conversation protocols behave alike.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.problems import Problem

KeyPath = tuple[str | int, ...]
Op = Literal["set", "rename", "delete", "text"]

SCHEMA_REGION = "us-east-1"
HARDCODED_AZ = "us-east-1a"
INTRINSICS = {"Ref", "Condition"}  # plus every "Fn::*" key
# Parameters the unused-parameter mutation may add: name -> definition.
SPARE_PARAMETERS: dict[str, dict[str, Any]] = {
    "EnvironmentName": {"Type": "String", "Default": "dev"},
    "ProjectName": {"Type": "String", "Default": "demo"},
    "KeyPairName": {"Type": "String", "Default": "my-key"},
    "LogRetentionDays": {"Type": "Number", "Default": 14},
}
# A plausible wrong-typed value per JSON-schema type.
WRONG_TYPE_VALUE: dict[str, Callable[[Any], Any]] = {
    "boolean": lambda _: "yes",
    "integer": lambda _: "any",
    "number": lambda _: "any",
    "string": lambda value: [value],
}
# Rules that are hard to fix (which value does a missing property need? which zone?), so the
# error curve plateaus above zero, as in the paper.
DEFAULT_STUBBORN_RULES: dict[str, float] = {"E3003": 0.05, "W3010": 0.05}


@dataclass(frozen=True)
class SimulatorSettings:
    """How the simulator behaves. Defaults give a decay-then-plateau error curve over 10 turns."""

    seed: int = 0  # mixed into every draw
    min_mutations: int = 1  # mutations in a first generation that is not clean
    max_mutations: int = 4
    clean_start_probability: float = 0.4  # chance a first generation has no mutation
    fix_probability: float = 0.9  # chance to fix a mutation whose rule id the feedback mentions
    fix_probability_by_rule: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_STUBBORN_RULES)
    )  # per-rule overrides of fix_probability
    introduce_probability: float = 0.1  # chance per repair turn to add one new mutation
    latency_s: float = 0.0  # asyncio.sleep per call, for demos and load tests

    def __post_init__(self) -> None:
        probabilities = {
            "clean_start_probability": self.clean_start_probability,
            "fix_probability": self.fix_probability,
            "introduce_probability": self.introduce_probability,
            **{f"fix_probability_by_rule.{k}": v for k, v in self.fix_probability_by_rule.items()},
        }
        for name, value in probabilities.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if not 0 <= self.min_mutations <= self.max_mutations:
            raise ValueError("need 0 <= min_mutations <= max_mutations")
        if self.latency_s < 0:
            raise ValueError("latency_s must not be negative")

    def fix_chance(self, rule_id: str) -> float:
        return self.fix_probability_by_rule.get(rule_id, self.fix_probability)


@dataclass(frozen=True)
class Mutation:
    """One deliberate mistake: an operation at `path` of the reference template."""

    kind: str
    rule_id: str
    op: Op
    path: KeyPath  # where it applies; ("#syntax",) for the text-level syntax break
    value: Any = None  # new value (set), new key (rename), anchor key (text)

    def overlaps(self, other: Mutation) -> bool:
        """True if one path contains the other: the two cannot be active together."""
        n = min(len(self.path), len(other.path))
        return self.path[:n] == other.path[:n]


# ---- reading the template and the schemas ---------------------------------------------------


def plain(value: Any) -> Any:
    """cfn-lint's str/dict node subclasses as plain Python values (so PyYAML can dump them)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def parse_template(text: str) -> dict[str, Any]:
    """A CloudFormation YAML/JSON text as a plain dict, short-form tags in long form."""
    from cfnlint.decode.decode import decode_str

    tree, errors = decode_str(text)
    if errors or not isinstance(tree, dict):
        detail = errors[0].message if errors else "not a mapping"
        raise ValueError(f"reference template does not parse: {detail}")
    return plain(tree)


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in INTRINSICS or key.startswith("Fn::")


def resource_schema(type_name: str) -> dict[str, Any] | None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, type_name).schema
    except Exception:  # custom, SAM or unknown types: no schema-based sites
        return None


def resolve(root: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Follow local `$ref`s ("#/definitions/X") until a schema without one."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema, seen = target, seen + 1
    return schema if isinstance(schema, dict) else {}


@dataclass(frozen=True)
class Slot:
    """One property in a resource's Properties, with its own and its parent object's schema."""

    path: KeyPath
    value: Any
    schema: dict[str, Any]
    parent: dict[str, Any]


def property_slots(template: dict[str, Any]) -> Iterator[Slot]:
    """Every schema-known property of every resource, depth first, in document order."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Properties"), dict):
            continue
        root = resource_schema(str(resource.get("Type")))
        if root is not None:
            path: KeyPath = ("Resources", logical_id, "Properties")
            yield from _walk(resource["Properties"], root, root, path)


def _walk(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: KeyPath
) -> Iterator[Slot]:
    if isinstance(value, list):
        items = resolve(root, schema.get("items"))
        for i, item in enumerate(value):
            yield from _walk(item, items, root, (*path, i))
    elif isinstance(value, dict) and not is_intrinsic(value):
        for key, child in value.items():
            if key not in schema.get("properties", {}):
                continue
            child_schema = resolve(root, schema["properties"][key])
            yield Slot((*path, key), child, child_schema, schema)
            yield from _walk(child, child_schema, root, (*path, key))


def intrinsic_calls(value: Any, name: str, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """(path of the call, argument) for every `{name: argument}` in `value`."""
    if isinstance(value, dict):
        if is_intrinsic(value) and name in value:
            yield path, value[name]
        for key, child in value.items():
            yield from intrinsic_calls(child, name, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from intrinsic_calls(child, name, (*path, i))


def typos(word: str) -> list[str]:
    """Misspellings an author might make: a dropped, doubled or swapped letter."""
    out: list[str] = []
    for i in range(1, len(word)):
        out.append(word[:i] + word[i + 1 :])
        out.append(word[:i] + word[i] + word[i:])
        if i + 1 < len(word) and word[i] != word[i + 1]:
            out.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return [t for t in dict.fromkeys(out) if t and t != word]


# ---- the catalogue ---------------------------------------------------------------------------
# Each finder lists every site of one kind on the reference template (the candidates);
# a rng picks among them later. A kind with no site on a template is simply never drawn.


def misspelt_property(template: dict[str, Any]) -> list[Mutation]:
    """E3002: rename an optional property of a closed object to a near-miss."""
    out = []
    for slot in property_slots(template):
        key = slot.path[-1]
        known = slot.parent.get("properties", {})
        if slot.parent.get("additionalProperties") is not False:
            continue
        if key in slot.parent.get("required", []) or not isinstance(key, str):
            continue
        out += [
            Mutation("misspelt_property", "E3002", "rename", slot.path, typo)
            for typo in typos(key)[:3]
            if typo not in known
        ]
    return out


def wrong_type(template: dict[str, Any]) -> list[Mutation]:
    """E3012: give a scalar property a value of another type ("yes" for a boolean...)."""
    out = []
    for slot in property_slots(template):
        kind = slot.schema.get("type")
        scalar = isinstance(slot.value, (str, int, float))
        plain_type = isinstance(kind, str) and kind in WRONG_TYPE_VALUE  # not a union of types
        if plain_type and "enum" not in slot.schema and scalar:
            new = WRONG_TYPE_VALUE[kind](slot.value)
            out.append(Mutation("wrong_type", "E3012", "set", slot.path, new))
    return out


def bad_enum(template: dict[str, Any]) -> list[Mutation]:
    """E3030: change an enumerated value to one outside the enum (lower- or upper-cased)."""
    out = []
    for slot in property_slots(template):
        allowed = slot.schema.get("enum")
        if isinstance(allowed, list) and isinstance(slot.value, str) and slot.value in allowed:
            for new in (slot.value.lower(), slot.value.upper(), slot.value + "_DEFAULT"):
                if new not in allowed:
                    out.append(Mutation("bad_enum", "E3030", "set", slot.path, new))
                    break
    return out


def missing_required(template: dict[str, Any]) -> list[Mutation]:
    """E3003: delete a property its object's schema requires."""
    return [
        Mutation("missing_required", "E3003", "delete", slot.path)
        for slot in property_slots(template)
        if slot.path[-1] in slot.parent.get("required", [])
    ]


def _names(template: dict[str, Any]) -> set[str]:
    return {*(template.get("Resources") or {}), *(template.get("Parameters") or {})}


def _located(path: KeyPath, rule_in_resources: str) -> str | None:
    """The rule a broken reference at `path` triggers: Outputs have their own (E6101)."""
    return {"Resources": rule_in_resources, "Outputs": "E6101"}.get(str(path[0]) if path else "")


def bad_ref(template: dict[str, Any]) -> list[Mutation]:
    """E1020 (E6101 in Outputs): misspell the target of a Ref to a resource or parameter."""
    names = _names(template)
    out = []
    for path, target in intrinsic_calls(template, "Ref"):
        rule = _located(path, "E1020")
        new = next((t for t in typos(target) if t not in names), None) if target in names else None
        if rule and new:
            out.append(Mutation("bad_ref", rule, "set", (*path, "Ref"), new))
    return out


def bad_getatt(template: dict[str, Any]) -> list[Mutation]:
    """E1010 (E6101 in Outputs): misspell the attribute of a Fn::GetAtt."""
    resources = template.get("Resources") or {}
    out = []
    for path, args in intrinsic_calls(template, "Fn::GetAtt"):
        valid = isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)
        if not valid or args[0] not in resources:
            continue
        rule = _located(path, "E1010")
        if rule and isinstance(args[1], str) and typos(args[1]):
            new = typos(args[1])[0]
            out.append(Mutation("bad_getatt", rule, "set", (*path, "Fn::GetAtt", 1), new))
    return out


def unused_parameter(template: dict[str, Any]) -> list[Mutation]:
    """W2001: declare a parameter that nothing references."""
    taken = _names(template) | set(template.get("Outputs") or {})
    return [
        Mutation("unused_parameter", "W2001", "set", ("Parameters", name), definition)
        for name, definition in SPARE_PARAMETERS.items()
        if name not in taken
    ]


def hardcoded_az(template: dict[str, Any]) -> list[Mutation]:
    """W3010: write a literal availability zone where the schema takes one."""
    out = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") if isinstance(resource, dict) else None
        schema = resource_schema(str(resource.get("Type"))) if isinstance(props, dict) else None
        if schema and "AvailabilityZone" in schema.get("properties", {}):
            if isinstance(props.get("AvailabilityZone"), str):
                continue  # already literal: nothing to break
            path = ("Resources", logical_id, "Properties", "AvailabilityZone")
            out.append(Mutation("hardcoded_az", "W3010", "set", path, HARDCODED_AZ))
    return out


def broken_syntax(template: dict[str, Any]) -> list[Mutation]:
    """E0000: drop the colon after a resource's logical id in the serialised text.

    While the text does not parse cfn-lint reports only E0000, hiding every other mutation.
    """
    return [
        Mutation("broken_syntax", "E0000", "text", ("#syntax",), logical_id)
        for logical_id in (template.get("Resources") or {})
    ]


CATALOGUE: dict[str, Callable[[dict[str, Any]], list[Mutation]]] = {
    "misspelt_property": misspelt_property,
    "wrong_type": wrong_type,
    "bad_enum": bad_enum,
    "missing_required": missing_required,
    "bad_ref": bad_ref,
    "bad_getatt": bad_getatt,
    "unused_parameter": unused_parameter,
    "hardcoded_az": hardcoded_az,
    "broken_syntax": broken_syntax,
}


def find_sites(template: dict[str, Any]) -> dict[str, list[Mutation]]:
    """Every applicable mutation on `template`, by kind; kinds without a site are left out."""
    sites = {kind: finder(template) for kind, finder in CATALOGUE.items()}
    return {kind: found for kind, found in sites.items() if found}


# ---- applying mutations and rendering --------------------------------------------------------


def apply(template: dict[str, Any], mutations: tuple[Mutation, ...]) -> dict[str, Any]:
    """A copy of `template` with the tree-level mutations applied (text ones are skipped)."""
    tree = copy.deepcopy(template)
    for m in mutations:
        if m.op == "text":
            continue
        if m.path[0] == "Parameters" and "Parameters" not in tree:
            tree = _insert_before(tree, "Resources", "Parameters", {})
        parent: Any = tree
        for part in m.path[:-1]:
            parent = parent[part]
        last = m.path[-1]
        if m.op == "set":
            parent[last] = copy.deepcopy(m.value)
        elif m.op == "delete":
            del parent[last]
        elif m.op == "rename":
            renamed = {(m.value if k == last else k): v for k, v in parent.items()}
            parent.clear()
            parent.update(renamed)
    return tree


def _insert_before(tree: dict[str, Any], anchor: str, key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if k == anchor:
            out[key] = value
        out[k] = v
    out.setdefault(key, value)
    return out


def serialise(tree: dict[str, Any], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(tree, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(
        tree, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )


def break_syntax(text: str, anchor: str) -> str:
    """Drop the colon after key `anchor` (else after `Resources`): YAML and JSON both break."""
    for key in (anchor, "Resources"):
        pattern = re.compile(rf"""^(\s*["']?{re.escape(key)}["']?):""", re.MULTILINE)
        broken, n = pattern.subn(r"\1", text, count=1)
        if n:
            return broken
    return text[: len(text) // 2]  # cannot happen for a template with Resources


def render(template: dict[str, Any], mutations: tuple[Mutation, ...], output_format: str) -> str:
    text = serialise(apply(template, mutations), output_format)
    for m in mutations:
        if m.op == "text":
            text = break_syntax(text, m.value)
    return text


# ---- the model -------------------------------------------------------------------------------


def stable_rng(*parts: object) -> random.Random:
    """A Random seeded by SHA-256 of `parts`: identical in every process (unlike `hash()`)."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def mentions(feedback: str, rule_id: str) -> bool:
    return re.search(rf"\b{re.escape(rule_id)}\b", feedback) is not None


def word_count(text: str) -> int:
    return len(text.split())


@dataclass
class _Problem:
    template: dict[str, Any]
    sites: dict[str, list[Mutation]]


class SimulatedModel(ModelAPI):
    """A seeded repair simulator (NOT an LLM), named `simulated/<profile>`.

    `name` is only a label for the profile; `settings` holds the behaviour. Token counts are
    whitespace-separated words, not real tokens.
    """

    provider = "simulated"

    def __init__(
        self,
        name: str,
        *,
        problems: Mapping[str, Problem],
        settings: SimulatorSettings | None = None,
    ) -> None:
        super().__init__(name)
        self.settings = settings or SimulatorSettings()
        self._problems = dict(problems)
        self._parsed: dict[str, _Problem] = {}
        # (problem id, sample) -> iteration -> active mutations after that iteration's reply
        self._chains: dict[tuple[str, int], dict[int, tuple[Mutation, ...]]] = {}

    @property
    def simulated(self) -> bool:
        return True

    def skip_reason(self, problem: Problem) -> str | None:
        """A prompt-only problem gives the simulator nothing to mutate."""
        if problem.reference_template is None:
            return "prompt-only, no reference template"
        return None

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        """The next template of the chain. `config` is ignored: the seed is in the settings."""
        started = time.perf_counter()
        if self.settings.latency_s:
            await asyncio.sleep(self.settings.latency_s)
        problem = self._problem(context.problem_id)
        active = self.step(context, _last_user_message(messages))
        template = render(problem.template, active, context.output_format)
        lead = "here is the template." if context.iteration == 1 else "here is the fixed template."
        text = (
            f"Simulated repair model (not an LLM): {lead}\n\n"
            f"```{context.output_format}\n{template}```\n"
        )
        call_id = hashlib.sha256(
            f"{self.settings.seed}\0{self.name}\0{context.problem_id}\0"
            f"{context.sample}\0{context.iteration}".encode()
        ).hexdigest()
        return ModelOutput(
            text=text,
            finish_reason="stop",
            input_tokens=sum(word_count(m.content) for m in messages),
            output_tokens=word_count(text),
            latency_s=time.perf_counter() - started,
            request_id=f"sim-{call_id[:24]}",
            extra={"simulator_rules": ",".join(m.rule_id for m in active)},
        )

    def step(self, context: CallContext, feedback: str) -> tuple[Mutation, ...]:
        """Active mutations after this call; the chain's state is updated.

        A chain whose previous iteration this instance never saw (e.g. after a restart)
        starts over from its first draw.
        """
        key = (context.problem_id, context.sample)
        rng = stable_rng(self.settings.seed, context.problem_id, context.sample, context.iteration)
        history = self._chains.setdefault(key, {})
        previous = history.get(context.iteration - 1)
        if context.iteration <= 1 or previous is None:
            active = self._first_draw(context.problem_id, rng)
        else:
            active = self._repair(context.problem_id, previous, feedback, rng)
        history[context.iteration] = active
        return active

    def _problem(self, problem_id: str) -> _Problem:
        if problem_id not in self._parsed:
            if problem_id not in self._problems:
                raise ModelError(f"simulator has no problem '{problem_id}'", fatal=True)
            reference = self._problems[problem_id].reference_template
            if reference is None:
                raise ModelError(
                    f"{problem_id}: the simulator needs a reference template", fatal=True
                )
            try:
                template = parse_template(reference)
            except ValueError as exc:
                raise ModelError(f"{problem_id}: {exc}", fatal=True) from None
            self._parsed[problem_id] = _Problem(template, find_sites(template))
        return self._parsed[problem_id]

    def _first_draw(self, problem_id: str, rng: random.Random) -> tuple[Mutation, ...]:
        s = self.settings
        if rng.random() < s.clean_start_probability:
            return ()
        active: tuple[Mutation, ...] = ()
        for _ in range(rng.randint(s.min_mutations, s.max_mutations)):
            active = self._add_one(problem_id, active, rng)
        return active

    def _repair(
        self, problem_id: str, previous: tuple[Mutation, ...], feedback: str, rng: random.Random
    ) -> tuple[Mutation, ...]:
        kept = []
        for m in previous:
            roll = rng.random()  # drawn for every mutation, so one fix does not shift the others
            if not (mentions(feedback, m.rule_id) and roll < self.settings.fix_chance(m.rule_id)):
                kept.append(m)
        active = tuple(kept)
        if rng.random() < self.settings.introduce_probability:
            active = self._add_one(problem_id, active, rng)
        return active

    def _add_one(
        self, problem_id: str, active: tuple[Mutation, ...], rng: random.Random
    ) -> tuple[Mutation, ...]:
        """`active` plus one new mutation that overlaps none of them (unchanged if none fits)."""
        free = {
            kind: [s for s in sites if not any(s.overlaps(m) for m in active)]
            for kind, sites in self._problem(problem_id).sites.items()
        }
        kinds = [kind for kind, sites in free.items() if sites]
        if not kinds:
            return active
        return (*active, rng.choice(free[rng.choice(kinds)]))


def _last_user_message(messages: list[ChatMessage]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")
