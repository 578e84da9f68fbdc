"""Pull the CloudFormation template (or, for output format python, the CDK app's module) out of
a model's reply, and say which rule found it.

Rules are tried in order; the first that yields text wins. Decoding is not done here: the
validators parse the text (a template that does not parse becomes an E0000 finding; a module
that does not, an S1001 finding when it is synthesized).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from benchmark.records.tables import MAX_REPLY_CHARS  # replies beyond it are cut before any regex

_TAGGED = re.compile(r"<(template|cloudformation|cfn)>\s*(.*?)\s*</\1>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE
)
_OPEN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n", re.MULTILINE)
_TOP_LEVEL_KEY = re.compile(
    r"^(?:AWSTemplateFormatVersion|Description|Metadata|Parameters|Mappings|Conditions|"
    r"Transform|Resources|Outputs|Rules)[ \t]*:",
    re.MULTILINE,
)
_YAML_TAGS = {"yaml", "yml"}
_JSON_TAGS = {"json", "json5", "jsonc"}
_PYTHON_TAGS = {"python", "py", "python3", ""}  # "": an untagged fence
_CLASS = re.compile(r"^class[ \t]+\w+", re.MULTILINE)


@dataclass(frozen=True)
class Extraction:
    template: str
    rule: str  # tagged | fenced-yaml | fenced-json | fenced-other | unclosed-fence |
    #            bare-json | bare-yaml | whole-reply | empty; python: fenced-python |
    #            unclosed-fence | whole-reply | empty


def _looks_like_template(text: str) -> bool:
    return "Resources" in text or "AWSTemplateFormatVersion" in text


def _pick(blocks: list[tuple[str, str]]) -> tuple[str, str]:
    """Among several blocks, prefer the longest one that looks like a template."""
    candidates = [b for b in blocks if _looks_like_template(b[1])] or blocks
    return max(candidates, key=lambda b: len(b[1]))


def _fence_rule(language: str) -> str:
    language = language.lower()
    if language in _YAML_TAGS:
        return "fenced-yaml"
    if language in _JSON_TAGS:
        return "fenced-json"
    return "fenced-other"


def reply_truncated(reply: str) -> bool:
    """Whether `reply` is cut before extraction: longer than MAX_REPLY_CHARS."""
    return len(reply) > MAX_REPLY_CHARS


def extract_template(reply: str, output_format: str = "yaml") -> Extraction:
    """Return the template text in `reply` (the module, for output format python) and the
    rule that found it."""
    text = reply[:MAX_REPLY_CHARS]
    if not text.strip():
        return Extraction("", "empty")
    if output_format == "python":
        return extract_module(text)

    tagged = [(m.group(1), m.group(2)) for m in _TAGGED.finditer(text)]
    if tagged:
        return Extraction(_pick(tagged)[1].strip("\n") + "\n", "tagged")

    fenced = [(m.group(2), m.group(3)) for m in _FENCE.finditer(text)]
    if fenced:
        language, body = _pick(fenced)
        return Extraction(body, _fence_rule(language))

    opened = _OPEN_FENCE.search(text)
    if opened:  # a fence that never closes: typically a reply cut at max tokens
        return Extraction(text[opened.end() :], "unclosed-fence")

    first_brace, last_brace = text.find("{"), text.rfind("}")
    if 0 <= first_brace < last_brace and _looks_like_template(text[first_brace:last_brace]):
        prefix = text[:first_brace]
        if not _TOP_LEVEL_KEY.search(prefix):
            return Extraction(text[first_brace : last_brace + 1] + "\n", "bare-json")

    key = _TOP_LEVEL_KEY.search(text)
    if key:
        return Extraction(text[key.start() :].rstrip() + "\n", "bare-yaml")

    return Extraction(text, "whole-reply")


def extract_module(text: str) -> Extraction:
    """A CDK app's module: the longest ```python (```py, untagged) block that defines a class,
    else the longest such block; a fence that never closes; else the whole reply."""
    fenced = [m.group(3) for m in _FENCE.finditer(text) if m.group(2).lower() in _PYTHON_TAGS]
    if fenced:
        classy = [body for body in fenced if _CLASS.search(body)] or fenced
        return Extraction(max(classy, key=len), "fenced-python")
    opened = _OPEN_FENCE.search(text)
    if opened:  # a fence that never closes: typically a reply cut at max tokens
        return Extraction(text[opened.end() :], "unclosed-fence")
    return Extraction(text, "whole-reply")


def as_json_dumps(extraction: Extraction) -> Extraction:
    """The template as Python's `json.dumps(json.loads(text))`: one line, default separators;
    the text `null` when it is not JSON. The paper's script kept its templates this way (it
    wrote `json.dump` of the parsed reply, `None` when the reply did not parse)."""
    try:
        value = json.loads(extraction.template)
    except (ValueError, RecursionError):
        value = None
    return Extraction(json.dumps(value), extraction.rule)


def keep_template(extraction: Extraction, template_as: str) -> Extraction:
    """The template in the form a prompt set keeps it (`prompts.template_as`)."""
    if template_as == "json_dumps":
        return as_json_dumps(extraction)
    return extraction
