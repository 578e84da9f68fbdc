"""A DPIaC-Eval download in its published layout and format, written by the tests (no data shipped).

As published (IaCGen, `Data/`): `iac_with_user_intent.csv` with its twelve columns; relative
paths written with Windows backslashes, the second and later policy paths of a row without the
leading `Data\\` and sometimes with a trailing space; Checkov custom policies as YAML with
`metadata` (id, name, category) and a `definition`; the last four columns empty for rows
without user intent; mojibake in some prompts. Quirks of the real data reproduced here: a row
whose four policy files include two with the same metadata id (row 4 here, row 110 in the real
CSV) and ground truths that do not parse: duplicate keys (row 2) and a bad line (row 5).
"""

from __future__ import annotations

import csv
from pathlib import Path

QUEUE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
"""

VM = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Ami:
    Type: AWS::EC2::Image::Id
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
      EnableDnsSupport: true
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24}
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.2.0/24}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: ssh, VpcId: !Ref Vpc}
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref Ami
      InstanceType: t3.micro
      SubnetId: !Ref SubnetA
      SecurityGroupIds: [!Ref Group]
"""

FANOUT = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: An SNS topic delivering to an SQS queue
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: orders
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 345600
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Queue.Arn
"""

# Does not parse: `BillingMode` twice in one mapping.
DUPLICATE_KEYS = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: A DynamoDB table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      BillingMode: PROVISIONED
"""

# Does not parse: one line indented one space short.
BAD_LINE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: alerts
     DisplayName: Alerts
"""


def policy(policy_id: str, name: str, definition: str) -> str:
    """A Checkov custom policy file as DPIaC-Eval writes them."""
    return (
        f'metadata:\n  id: "{policy_id}"\n  name: "{name}"\n  category: "USER_INTENT"\n\n'
        f"definition:\n{definition}"
    )


POLICIES = {
    "row_0.yaml": policy(
        "UIV_CUSTOM_ROW_0",
        "queue timeout",
        """\
  cond_type: "attribute"
  resource_types:
    - "AWS::SQS::Queue"
  attribute: "VisibilityTimeout"
  operator: "equals"
  value: "5"
""",
    ),
    "row_1A.yaml": policy(
        "UIV_CUSTOM_ROW_1A",
        "vm network",
        """\
  and:
    # the VPC resolves names
    - cond_type: "attribute"
      resource_types: ["AWS::EC2::VPC"]
      attribute: "Properties.EnableDnsSupport"
      operator: "equals"
      value: "true"
    - cond_type: "attribute"
      resource_types: ["AWS::EC2::Instance"]
      attribute: "Properties.KeyName"
      operator: "not_exists"
    - cond_type: "attribute"
      resource_types: ["AWS::EC2::Instance"]
      attribute: "Properties.InstanceType"
      operator: "regex_match"
      value: "t3\\\\..*"
    - cond_type: "filter"
      attribute: "resource_type"
      operator: "within"
      value: ["AWS::EC2::Instance"]
    - cond_type: "attribute"
      resource_types: ["*"]
      attribute: "Properties.Tags.*.Key"
      operator: "contains"
      value: "Name"
""",
    ),
    "row_1B.yaml": policy(
        "UIV_CUSTOM_ROW_1B",
        "vm wiring",
        """\
  and:
    - or:
        - cond_type: "attribute"
          resource_types: ["AWS::EC2::Instance"]
          attribute: "Properties.SubnetId"
          operator: "exists"
        - cond_type: "attribute"
          resource_types: ["AWS::EC2::Instance"]
          attribute: "Properties.NetworkInterfaces"
          operator: "exists"
    - cond_type: "connection"
      resource_types: ["AWS::EC2::Instance"]
      connected_resource_types: ["AWS::EC2::SecurityGroup"]
      operator: "connected"
""",
    ),
    "row_2.yaml": policy(
        "UIV_CUSTOM_ROW_2",
        "on-demand table",
        """\
  and:
    - cond_type: "attribute"
      resource_types: ["AWS::DynamoDB::Table"]
      attribute: "Properties.BillingMode"
      operator: "equals"
      value: "PAY_PER_REQUEST"
    - cond_type: "attribute"
      resource_types: ["AWS::DynamoDB::Table"]
      attribute: "Properties.KeySchema"
      operator: "exists"
""",
    ),
    "row_4A.yaml": policy(
        "UIV_CUSTOM_ROW_4A",
        "named topic",
        """\
  cond_type: "attribute"
  resource_types: ["AWS::SNS::Topic"]
  attribute: "Properties.TopicName"
  operator: "exists"
""",
    ),
    "row_4B.yaml": policy(
        "UIV_CUSTOM_ROW_4B",
        "sqs protocol",
        """\
  cond_type: "attribute"
  resource_types: ["AWS::SNS::Subscription"]
  attribute: "Properties.Protocol"
  operator: "equals"
  value: "sqs"
""",
    ),
    # as published in row 110 of the real CSV: a file whose metadata id repeats its neighbour's
    "row_4C.yaml": policy(
        "UIV_CUSTOM_ROW_4B",
        "subscribed to the topic",
        """\
  cond_type: "connection"
  resource_types: ["AWS::SNS::Subscription"]
  connected_resource_types: ["AWS::SNS::Topic"]
  operator: "connected"
""",
    ),
    "row_4D.yaml": policy(
        "UIV_CUSTOM_ROW_4D",
        "four-day retention",
        """\
  cond_type: "attribute"
  resource_types: ["AWS::SQS::Queue"]
  attribute: "Properties.MessageRetentionPeriod"
  operator: "equals"
  value: "345600"
""",
    ),
}

TEMPLATES = {
    "sqs_easy.yaml": QUEUE,
    "virtualmachine.yaml": VM,
    "dynamodb_on_demand.yaml": DUPLICATE_KEYS,
    "sns_sqs_fanout.yaml": FANOUT,
    "sns_alerts.yaml": BAD_LINE,
}

USER_INTENT_HEADER = [
    "row_number",
    "ground_truth_path",
    "prompt",
    "difficulty_level",
    "resources",
    "resource_count",
    "loc",
    "parameter_count",
    "user_intent",
    "user_intent_file_path",
    "user_intent_id",
    "needed_resources",
]

GT = "Data\\groud_truth\\template\\"
ROWS = [
    [0, GT + "sqs_easy.yaml", "We need a CloudFormation template that creates an SQS queue.", 1,
     "AWS::SQS::Queue", 1, 7, 0, 1, "Data\\user_intent\\row_0.yaml", "UIV_CUSTOM_ROW_0",
     "AWS::SQS::Queue"],
    # the stated difficulty is wrong on purpose (the computed one is stored); as published, the
    # second policy path lacks "Data\" and the cell ends with a space
    [1, GT + "virtualmachine.yaml", "We need a VM in a VPC.", 4,
     "AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::Subnet, AWS::EC2::SecurityGroup, "
     "AWS::EC2::Instance", 5, 25, 1, 3,
     "Data\\user_intent\\row_1A.yaml, user_intent\\row_1B.yaml ",
     "UIV_CUSTOM_ROW_1A, UIV_CUSTOM_ROW_1B",
     "AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::Subnet, AWS::EC2::Instance"],
    [2, GT + "dynamodb_on_demand.yaml", "We need an on-demand DynamoDB table keyed on id.", 1,
     "AWS::DynamoDB::Table", 1, 14, 0, 1, "Data\\user_intent\\row_2.yaml", "UIV_CUSTOM_ROW_2",
     "AWS::DynamoDB::Table"],
    [3, GT + "sqs_easy.yaml", "", 1, "AWS::SQS::Queue", 1, 7, 0, "", "", "", ""],
    [4, GT + "sns_sqs_fanout.yaml", "We need an SNS topic that delivers to an SQS queue.", 2,
     "AWS::SNS::Topic, AWS::SQS::Queue, AWS::SNS::Subscription", 3, 18, 0, 2,
     "Data\\user_intent\\row_4A.yaml, user_intent\\row_4B.yaml, user_intent\\row_4C.yaml, "
     "user_intent\\row_4D.yaml",
     "UIV_CUSTOM_ROW_4A, UIV_CUSTOM_ROW_4B, UIV_CUSTOM_ROW_4C, UIV_CUSTOM_ROW_4D",
     "AWS::SNS::Topic, AWS::SQS::Queue, AWS::SNS::Subscription"],
    [5, GT + "sns_alerts.yaml",
     "We need an SNS topic for the team\u00c2\u00a1\u00c2\u00afs alerts. ", 1,
     "AWS::SNS::Topic", 1, 7, 0, "", "", "", ""],
]  # fmt: skip

# ids of the problems the fixture imports to
IDS = {
    0: "dpiaceval-000-sqs-easy",
    1: "dpiaceval-001-virtualmachine",
    2: "dpiaceval-002-dynamodb-on-demand",
    4: "dpiaceval-004-sns-sqs-fanout",
    5: "dpiaceval-005-sns-alerts",
}
PROMPT_ONLY = (IDS[2], IDS[5])


def dpiaceval_layout(root: Path) -> Path:
    """Write the download under `root` (`root/Data/...`); returns the CSV's path."""
    data = root / "Data"
    templates = data / "groud_truth" / "template"
    templates.mkdir(parents=True)
    (data / "user_intent").mkdir()
    for name, text in TEMPLATES.items():
        (templates / name).write_text(text, encoding="utf-8")
    for name, text in POLICIES.items():
        (data / "user_intent" / name).write_text(text, encoding="utf-8")
    path = data / "iac_with_user_intent.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(USER_INTENT_HEADER)
        writer.writerows(ROWS)
    return path
