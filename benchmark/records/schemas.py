"""The columns of a run folder's tables (attempts, findings, checks): their Parquet schemas.

A column added later is nullable: part files written before it read back with it null
(`tables.read_table` reads every part against these schemas), so old run folders still load.
"""

from __future__ import annotations

import pyarrow as pa

TABLES = ("attempts", "findings", "checks")
TIMESTAMP = pa.timestamp("us", tz="UTC")

KEY_FIELDS: list[pa.Field] = [
    pa.field("sweep_id", pa.string(), nullable=False),
    pa.field("job_id", pa.int32(), nullable=False),
    pa.field("model", pa.string(), nullable=False),  # "<provider>/<name>"
    pa.field("provider", pa.string(), nullable=False),
    pa.field("prompt_set", pa.string(), nullable=False),
    pa.field("protocol", pa.string(), nullable=False),
    pa.field("max_iterations", pa.int32(), nullable=False),
    pa.field("problem_id", pa.string(), nullable=False),
    pa.field("sample", pa.int32(), nullable=False),
    pa.field("iteration", pa.int32(), nullable=False),  # 1 = generation, 2.. = repairs
]
ATTEMPT_KEY = [f.name for f in KEY_FIELDS]

SCHEMAS: dict[str, pa.Schema] = {
    "attempts": pa.schema(
        [
            pa.field("attempt_id", pa.string(), nullable=False),
            *KEY_FIELDS,
            # outcome
            pa.field("reply", pa.string()),
            pa.field("template", pa.string()),
            pa.field("extraction_rule", pa.string()),
            pa.field("parse_ok", pa.bool_()),
            pa.field("errors", pa.int32()),
            pa.field("warnings", pa.int32()),
            pa.field("infos", pa.int32()),
            pa.field("clean", pa.bool_()),
            pa.field("clean_rule", pa.string()),
            pa.field("stop_reason", pa.string()),  # null while the chain goes on
            pa.field("feedback", pa.string()),  # what the next repair call was told
            pa.field("model_error", pa.string()),
            # secrets (environment values, URL credentials) redacted from this attempt's texts
            # before they were stored (benchmark/secrecy.py); 0 when none, null in older rows
            pa.field("redactions", pa.int32()),
            pa.field("lint_failure", pa.string()),
            pa.field("intent_passed", pa.int32()),
            pa.field("intent_total", pa.int32()),
            pa.field("security_passed", pa.int32()),  # Checkov checks (the security extra)
            pa.field("security_total", pa.int32()),
            # deploy (benchmark/validators/deploy/validator.py): null where not evaluated
            pa.field("deployable", pa.bool_()),
            pa.field("deploy_mode", pa.string()),  # changeset | stack
            pa.field("deploy_endpoint", pa.string()),  # an emulator's URL; null: AWS itself
            pa.field("deploy_validate_s", pa.float64()),  # ValidateTemplate
            pa.field("deploy_create_s", pa.float64()),  # change set / stack: create + wait
            pa.field("deploy_delete_s", pa.float64()),  # delete + wait
            # edit problems (benchmark/validators/collateral.py): null for the others
            pa.field("collateral_changes", pa.int32()),  # changes the request did not ask for
            pa.field("expected_distance", pa.float64()),  # 0..1 to expected_template, if any
            # usage
            pa.field("finish_reason", pa.string()),
            pa.field("input_tokens", pa.int64()),
            pa.field("output_tokens", pa.int64()),
            pa.field("cached_tokens", pa.int64()),  # input read from the prompt cache
            pa.field("cache_write_tokens", pa.int64()),  # input written to it (Anthropic)
            pa.field("cache_write_1h_tokens", pa.int64()),  # of them: with the 1-hour TTL
            pa.field("latency_s", pa.float64()),
            pa.field("cost_usd", pa.float64()),  # null where no price is known
            pa.field("price_basis", pa.string()),  # online | batch: the prices cost_usd used
            pa.field("request_id", pa.string()),
            pa.field("batch_id", pa.string()),  # the provider batch that answered (batch mode)
            pa.field("cache_hit", pa.bool_()),  # answered from the response cache
            pa.field("retries", pa.int32()),  # transient failures retried before the reply
            # figures the reply gave that were dropped as unsound: "output_tokens=not an integer"
            pa.field("usage_flags", pa.string()),
            # the reply was cut: truncation says where (null: it was not)
            pa.field("truncated", pa.bool_()),
            # max_tokens: stopped at the token limit; reply_chars: cut at MAX_REPLY_CHARS
            pa.field("truncation", pa.string()),
            # reasoning (benchmark/records/reasoning.py); null where not set or not reported
            pa.field("effort", pa.string()),  # model.effort as sent
            pa.field("thinking", pa.string()),  # off | adaptive | budget:<n>
            pa.field("thinking_display", pa.string()),  # summarized | omitted
            pa.field("model_api", pa.string()),  # messages | chat | responses | converse | ...
            pa.field("reasoning_tokens", pa.int64()),  # of output_tokens: spent reasoning
            pa.field("service_tier", pa.string()),  # as the provider reported it
            pa.field("speed", pa.string()),  # as the provider reported it
            # JSON list of the reply's carry items (thinking blocks, reasoning items), sent
            # back with it on the next turn; read back on resume
            pa.field("reasoning_carry", pa.string()),
            # agent protocol (benchmark/loop/agent.py); null for the fixed loops
            # validate_template | submit_template | reply: the tool that produced the row
            pa.field("tool", pa.string()),
            pa.field("turn", pa.int32()),  # the chain's turn that produced it (1-based)
            pa.field("schema_lookups", pa.int32()),  # get_resource_schema calls since last row
            pa.field("schema_lookup_types", pa.string()),  # JSON list of their resource types
            pa.field("submitted", pa.bool_()),  # true on the submission row
            # on the submission row: that exact template was validated before by the model
            pa.field("submission_validated", pa.bool_()),
            # on the submission row: findings the model's last validate of it reported
            pa.field("open_findings_at_submit", pa.int32()),
            # JSON list of the turns since the previous row (reply, tool calls, results, carry,
            # the harness's note); read back on resume
            pa.field("agent_turns", pa.string()),
            # CDK apps (benchmark/validators/cdk/): null for CloudFormation rows and older ones
            pa.field("language", pa.string()),  # cloudformation | cdk-python; null: older rows
            pa.field("synth_template", pa.string()),  # the template the app synthesized to
            # the first stage that kept the app from clean: python | cdk | template (gating lint
            # findings on the synthesized template); null: clean, or nothing synthesized
            pa.field("synth_stage", pa.string()),
            pa.field("synth_seconds", pa.float64()),  # wall seconds of the synth
            pa.field("sandbox", pa.string()),  # bwrap | unshare: the walls it ran in
            pa.field("cdk_version", pa.string()),  # aws-cdk-lib's version
            # provenance
            pa.field("simulated", pa.bool_()),
            # run (this harness called the model) | simulated | recorded (someone else's
            # published run, imported: neither simulated nor run here)
            pa.field("origin", pa.string()),
            pa.field("dataset", pa.string()),
            pa.field("problem_sha256", pa.string()),  # Problem.sha256 of the row's problem
            pa.field("output_format", pa.string()),
            pa.field("started_at", TIMESTAMP),
            pa.field("finished_at", TIMESTAMP),
            pa.field("seed", pa.int64()),
            pa.field("temperature", pa.float64()),
            pa.field("max_tokens", pa.int32()),
            pa.field("response_format", pa.string()),  # json_object / json_schema; null: text
            pa.field("git_sha", pa.string()),
            pa.field("git_dirty", pa.bool_()),
            pa.field("cfn_lint_version", pa.string()),  # the cfn-lint that judged this row
            pa.field("lint_as_of", pa.date32()),  # the date cfn-lint's clock read while linting
            # the linter that wrote `feedback` (what the model was shown next): "cfn-lint 1.58.0 @
            # 2026-12-01", or "recorded" (someone else's lint text, imported); it differs from
            # cfn_lint_version @ lint_as_of on a rescored row (studies/feedback_linter.py)
            pa.field("feedback_linter", pa.string()),
            # its findings came from a lint cache (the persistent one, or this process's memory),
            # not a fresh lint: the same findings, cheaper; null where nothing was linted
            pa.field("lint_cached", pa.bool_()),
            pa.field("anthropic_version", pa.string()),
            pa.field("openai_version", pa.string()),
            pa.field("checkov_version", pa.string()),
            pa.field("boto3_version", pa.string()),
            pa.field("botocore_version", pa.string()),
            pa.field("benchmark_version", pa.string()),
            pa.field("config_hash", pa.string()),
            pa.field("recorded_from", pa.string()),  # recorded rows: the file they came from
        ]
    ),
    "findings": pa.schema(
        [
            pa.field("attempt_id", pa.string(), nullable=False),
            *KEY_FIELDS,
            pa.field("finding_index", pa.int32(), nullable=False),
            pa.field("source", pa.string()),
            pa.field("rule_id", pa.string()),
            pa.field("level", pa.string()),  # E / W / I
            pa.field("message", pa.string()),
            pa.field("path", pa.string()),  # "Resources/Bucket/Properties/BucketNam"
            pa.field("line", pa.int32()),
            pa.field("column", pa.int32()),
            pa.field("end_line", pa.int32()),
            pa.field("end_column", pa.int32()),
            # a CDK app's finding: the construct path it maps to (AppStack/Data); null otherwise
            pa.field("construct", pa.string()),
        ]
    ),
    "checks": pa.schema(
        [
            pa.field("attempt_id", pa.string(), nullable=False),
            *KEY_FIELDS,
            pa.field("check_index", pa.int32(), nullable=False),
            pa.field("source", pa.string()),
            pa.field("check_id", pa.string()),
            pa.field("passed", pa.bool_()),
            pa.field("description", pa.string()),
            pa.field("resource", pa.string()),
        ]
    ),
}
