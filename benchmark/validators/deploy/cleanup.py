"""The deploy janitor: find and delete the stacks (and change sets) the harness left behind.

    python -m benchmark.validators.deploy cleanup --region us-east-1 [--sweep ID] [--job N] \
        [--dry-run]

Everything the deploy validator creates is tagged `iac-feedback-bench:sweep` (the sweep folder's
name), `:job` and `:attempt`; a stack without the sweep tag is never touched. Credentials come
from boto3's standard chain (environment, `--profile`, instance role); the region is always
given. Exit code 0 when nothing is left, 1 when a stack could not be deleted, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys

from benchmark.help_examples import examples
from benchmark.validators.deploy.cloudformation import (
    API_ERRORS,
    NoCredentials,
    delete_tagged,
    describe_error,
    make_client,
)
from benchmark.validators.deploy.tags import ATTEMPT_TAG, JOB_TAG, SWEEP_TAG, tagged_stacks


def cleanup(args: argparse.Namespace) -> int:
    try:
        client = make_client(args.region, args.endpoint_url, args.profile)
        stacks = tagged_stacks(client, args.sweep, args.job)
    except (NoCredentials, *API_ERRORS) as exc:
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 2
    scope = f"sweep {args.sweep}" if args.sweep else "any sweep"
    scope += f", job {args.job}" if args.job is not None else ""
    print(f"{len(stacks)} stacks tagged {SWEEP_TAG} ({scope}) in {args.region}")
    for stack in stacks:
        tags = stack["TagMap"]
        print(
            f"  {stack['StackName']}  {stack['StackStatus']}  created {stack['CreationTime']}  "
            f"sweep={tags.get(SWEEP_TAG)} job={tags.get(JOB_TAG)} "
            f"attempt={tags.get(ATTEMPT_TAG)}"
        )
    if args.dry_run or not stacks:
        return 0
    left = delete_tagged(client, stacks, args.timeout_s, args.poll_s)
    print(f"deleted {len(stacks) - len(left)} of {len(stacks)} stacks")
    for reason in left.values():
        print(f"  left: {reason}", file=sys.stderr)
    return 1 if left else 0


def main(argv: list[str] | None = None, prog: str = "python -m benchmark.validators.deploy") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    clean = commands.add_parser(
        "cleanup",
        help="list and delete leftover stacks by tag",
        description="List and delete the stacks a deploying sweep left behind, by their tags.",
        **examples(
            "iacbench cleanup --region us-east-1 --dry-run",
            "iacbench cleanup --region us-east-1 --sweep 2025-01-31_12-00-00 --job 3",
        ),
    )
    clean.add_argument("--region", required=True, help="the region the sweep deployed to")
    clean.add_argument("--sweep", help="only this sweep's stacks (its run folder's name)")
    clean.add_argument("--job", type=int, help="only this job's stacks (with --sweep)")
    clean.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    clean.add_argument("--profile", help="a named AWS profile (default: the standard chain)")
    clean.add_argument("--endpoint-url", help="a local emulator instead of AWS")
    clean.add_argument("--timeout-s", type=float, default=900.0, help="wait for deletions")
    clean.add_argument("--poll-s", type=float, default=5.0, help="between status polls")
    args = parser.parse_args(argv)
    if args.job is not None and args.sweep is None:
        parser.error("--job needs --sweep")
    return cleanup(args)
