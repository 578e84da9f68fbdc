"""The tags on everything the deploy validator creates (sweep, job, attempt), and the tagged
stacks a janitor finds by them."""

from __future__ import annotations

import re
from typing import Any

TAG_PREFIX = "iac-feedback-bench"


SWEEP_TAG = f"{TAG_PREFIX}:sweep"


JOB_TAG = f"{TAG_PREFIX}:job"


ATTEMPT_TAG = f"{TAG_PREFIX}:attempt"


_TAG_VALUE = re.compile(r"[^\w .:/=+\-@]")


def tag_value(text: str) -> str:
    """`text` as a valid tag value (letters, digits, spaces and `_.:/=+-@`; 256 characters)."""
    return _TAG_VALUE.sub("_", text)[:256]


def attempt_tags(sweep_id: str, job_id: int, attempt_id: str) -> list[dict[str, str]]:
    return [
        {"Key": SWEEP_TAG, "Value": tag_value(sweep_id)},
        {"Key": JOB_TAG, "Value": str(job_id)},
        {"Key": ATTEMPT_TAG, "Value": attempt_id},
    ]


def tagged_stacks(client: Any, sweep: str | None = None, job: int | None = None) -> list[dict]:
    """Live stacks carrying the harness's sweep tag; only `sweep`'s (and `job`'s) if given."""
    found = []
    for page in client.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            tags = {t["Key"]: t["Value"] for t in stack.get("Tags") or []}
            if SWEEP_TAG not in tags or stack["StackStatus"] == "DELETE_COMPLETE":
                continue
            if sweep is not None and tags[SWEEP_TAG] != tag_value(sweep):
                continue
            if job is not None and tags.get(JOB_TAG) != str(job):
                continue
            found.append({**stack, "TagMap": tags})
    return found
