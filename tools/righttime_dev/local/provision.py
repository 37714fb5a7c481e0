"""Creates the template's tables, queues, schedule group and SES configuration on any endpoint (moto),
and computes each function's environment the way CloudFormation would."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from righttime_dev.local.cfn import Tagged, load_template, resolve

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "righttime-local"


@dataclass
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    #: (METHOD, /path/{param}) of every API Gateway event the function answers
    routes: list[tuple[str, str]] = field(default_factory=list)
    #: the event patterns of its EventBridge rules (local mode delivers SES's events to the matching ones)
    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stack:
    """What was created, by logical id, so handlers and tests can find it."""

    template_path: Path
    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)

    def ref(self, name: str, attribute: str | None) -> str:
        if attribute is None:
            if name == "AWS::StackName":
                return STACK
            if name == "AWS::Region":
                return REGION
            if name == "AWS::AccountId":
                return ACCOUNT
            if name == "AWS::Partition":
                return "aws"
            if name == "AWS::URLSuffix":
                return "amazonaws.com"
            if name in self.parameters:
                return self.parameters[name]
            if name in self.physical:
                return self.physical[name]
            return name
        if (name, attribute) in self.attributes:
            return self.attributes[(name, attribute)]
        if attribute == "Arn" and name in self.functions:
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        if attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        return f"{name}.{attribute}"

    def environment(self) -> dict[str, str]:
        """The union of every function's environment (they share one process in local mode)."""
        merged: dict[str, str] = {}
        for function in self.functions.values():
            merged.update(function.environment)
        return merged


def template_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def describe(template_path: Path, parameters: dict[str, str]) -> Stack:
    """The stack as the template declares it, before anything exists: parameters and functions, with
    physical names standing in as logical ids (enough for an engine that keeps everything in memory)."""
    template = load_template(template_path)
    stack = Stack(template_path=template_path, parameters={**template_defaults(template), **parameters})
    _describe_functions(template, stack)
    return stack


def provision(
    template_path: Path,
    parameters: dict[str, str],
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
) -> Stack:
    """Create every resource local mode needs from `template_path` and return where they are."""
    template = load_template(template_path)
    session = session or boto3.session.Session()
    stack = Stack(template_path=template_path, parameters={**template_defaults(template), **parameters})
    resources: dict[str, Any] = template["Resources"]
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource["Type"], []).append((logical_id, resource.get("Properties", {})))

    def client(service: str) -> Any:
        return session.client(service, region_name=REGION, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    dynamodb = client("dynamodb")
    for logical_id, props in by_type.get("AWS::DynamoDB::Table", []):
        _create_table(dynamodb, stack, logical_id, props)

    sqs = client("sqs")
    queues = by_type.get("AWS::SQS::Queue", [])
    # Dead-letter queues first: the others' redrive policies point at them.
    for logical_id, props in sorted(queues, key=lambda q: "RedrivePolicy" in q[1]):
        _create_queue(sqs, stack, logical_id, props)

    scheduler = client("scheduler")
    for logical_id, props in by_type.get("AWS::Scheduler::ScheduleGroup", []):
        name = str(resolve(props.get("Name", logical_id), stack.ref))
        existing = {g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]}
        if name not in existing:  # moto wipes a group's schedules if it is created again
            scheduler.create_schedule_group(Name=name)
        stack.physical[logical_id] = name

    ses = client("sesv2")
    for logical_id, props in by_type.get("AWS::SES::ConfigurationSet", []):
        name = str(props.get("Name", f"{STACK}-{logical_id}".lower()))
        ses.create_configuration_set(ConfigurationSetName=name)
        stack.physical[logical_id] = name
    sender = stack.parameters.get("SenderAddress")
    if sender:
        ses.create_email_identity(EmailIdentity=sender)

    for logical_id, _props in by_type.get("AWS::IAM::Role", []):
        stack.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
    _describe_functions(template, stack)
    return stack


def _describe_functions(template: dict[str, Any], stack: Stack) -> None:
    functions = [
        (logical_id, resource.get("Properties", {}))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    for logical_id, _ in functions:  # names first: functions refer to each other's ARNs
        stack.functions[logical_id] = Function(logical_id, Path(), "", {})
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for logical_id, props in functions:
        variables = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        environment = {k: str(resolve(v, stack.ref)) for k, v in variables.items()}
        stack.functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=stack.template_path.parent / str(props["CodeUri"]),
            handler=str(props["Handler"]),
            environment=environment,
            routes=[
                (str(e["Properties"]["Method"]).upper(), str(e["Properties"]["Path"]))
                for e in props.get("Events", {}).values()
                if e.get("Type") == "HttpApi"
            ],
            rules=[
                resolve(e["Properties"]["Pattern"], stack.ref)
                for e in props.get("Events", {}).values()
                if e.get("Type") == "EventBridgeRule"
            ],
        )


def _create_table(client: Any, stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": logical_id,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if indexes in props:
            request[indexes] = props[indexes]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    table = client.create_table(**request)["TableDescription"]
    stack.physical[logical_id] = logical_id
    stack.attributes[(logical_id, "Arn")] = table["TableArn"]
    if table.get("LatestStreamArn"):
        stack.attributes[(logical_id, "StreamArn")] = table["LatestStreamArn"]
        stack.stream_arns[logical_id] = table["LatestStreamArn"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=logical_id, TimeToLiveSpecification=ttl)


def _create_queue(client: Any, stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    fifo = bool(props.get("FifoQueue"))
    name = logical_id + (".fifo" if fifo else "")
    attributes: dict[str, str] = {}
    for key in (
        "FifoQueue",
        "ContentBasedDeduplication",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DeduplicationScope",
        "FifoThroughputLimit",
    ):
        if key in props:
            value = props[key]
            attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if "RedrivePolicy" in props:
        policy = resolve(props["RedrivePolicy"], stack.ref)
        import json

        attributes["RedrivePolicy"] = json.dumps(policy)
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    stack.physical[logical_id] = url
    stack.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    stack.attributes[(logical_id, "QueueName")] = name
    stack.attributes[(logical_id, "QueueUrl")] = url


__all__ = ["Function", "Stack", "Tagged", "describe", "provision"]
