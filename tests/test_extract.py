"""Template extraction on the reply shapes models actually produce."""

import pytest

from benchmark.loop.extract import MAX_REPLY_CHARS, extract_template

YAML_T = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  B:\n    Type: AWS::S3::Bucket\n"
JSON_T = '{\n  "Resources": {"B": {"Type": "AWS::S3::Bucket"}}\n}'

CASES = [
    ("fenced yaml", f"Here you go:\n```yaml\n{YAML_T}```\nDone.", "fenced-yaml", YAML_T),
    ("fenced yml", f"```yml\n{YAML_T}```", "fenced-yaml", YAML_T),
    ("fenced json", f"Sure!\n```json\n{JSON_T}\n```", "fenced-json", JSON_T + "\n"),
    ("fence, no language", f"```\n{YAML_T}```", "fenced-other", YAML_T),
    ("fence, other language", f"```cloudformation\n{YAML_T}```", "fenced-other", YAML_T),
    ("tilde fence", f"~~~yaml\n{YAML_T}~~~\n", "fenced-yaml", YAML_T),
    ("tagged", f"<template>\n{YAML_T}</template>", "tagged", YAML_T),
    ("bare yaml", YAML_T, "bare-yaml", YAML_T),
    ("yaml after prose", f"The template is below.\n\n{YAML_T}", "bare-yaml", YAML_T),
    ("bare json", f"Here it is: {JSON_T} hope it helps", "bare-json", JSON_T + "\n"),
    (
        "unclosed fence",
        f"```yaml\n{YAML_T}  C:\n    Type: AWS::S",
        "unclosed-fence",
        f"{YAML_T}  C:\n    Type: AWS::S",
    ),
    ("empty", "   \n", "empty", ""),
    ("prose only", "I cannot help with that.", "whole-reply", "I cannot help with that."),
]


@pytest.mark.parametrize(
    ("reply", "rule", "template"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_extraction_rule_and_text(reply: str, rule: str, template: str) -> None:
    got = extract_template(reply)
    assert got.rule == rule
    assert got.template == template


def test_several_blocks_prefers_the_full_template() -> None:
    snippet = "```yaml\nBucketName: x\n```"
    reply = f"First a snippet:\n{snippet}\nNow the full template:\n```yaml\n{YAML_T}```"
    got = extract_template(reply)
    assert got.rule == "fenced-yaml"
    assert got.template == YAML_T


def test_fence_inside_fence_text_is_not_cut_at_a_shorter_fence() -> None:
    reply = f"````yaml\n{YAML_T}```\nnot the end\n````"
    assert extract_template(reply).template == f"{YAML_T}```\nnot the end\n"


def test_huge_reply_is_bounded() -> None:
    reply = "x" * (MAX_REPLY_CHARS * 3)
    got = extract_template(reply)
    assert len(got.template) <= MAX_REPLY_CHARS
