"""The JSON schema `model.response_format=json_schema` sends: a CloudFormation template.

One schema for every provider that takes one (OpenAI's `response_format.json_schema`,
Anthropic's `output_config.format`), so structured output means the same on each. It is loose
enough for every valid template: resource names and properties are free (a strict schema would
have to list every property of every resource type).
"""

from __future__ import annotations

from typing import Any

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
