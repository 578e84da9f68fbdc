"""The JSON schema of a CloudFormation template, sent with `model.response_format=json_schema`
by every provider that takes a schema (OpenAI Chat Completions and Responses, Anthropic)."""

from __future__ import annotations

from typing import Any

# Loose enough for every valid template (strict mode would demand every property be listed
# and required).
TEMPLATE_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "AWSTemplateFormatVersion": {"type": "string"},
        "Description": {"type": "string"},
        "Metadata": {"type": "object"},
        "Parameters": {"type": "object"},
        "Mappings": {"type": "object"},
        "Conditions": {"type": "object"},
        "Transform": {"type": ["string", "array"]},
        "Rules": {"type": "object"},
        "Resources": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"Type": {"type": "string"}, "Properties": {"type": "object"}},
                "required": ["Type"],
            },
        },
        "Outputs": {"type": "object"},
    },
    "required": ["Resources"],
}
SCHEMA_NAME = "cloudformation_template"
SCHEMA_DESCRIPTION = "An AWS CloudFormation template"
