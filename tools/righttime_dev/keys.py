"""Create the stack's three key parameters in SSM Parameter Store, each only when it is missing (`make keys`).

    python -m righttime_dev.keys [--region REGION]

CloudFormation cannot create SecureString parameters, and the functions read their keys from them
(docs/operations.md, "Keys and their rotation"), so they are made here, before the first deploy: random
values, the default `aws/ssm` key (the template grants no `kms:Decrypt`), the names the template's
parameters default to. A parameter that exists is never overwritten, so running this again is harmless and
rotation stays a deliberate `aws ssm put-parameter --overwrite`. The new write and admin keys are printed
once, for the SDKs and the read API; the unsubscribe secret never is.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class KeyParameter:
    """One key parameter: its SSM name, the stack parameter that names it, and how a new value looks."""

    what: str
    name: str
    stack_parameter: str
    new_value: Callable[[], str]
    shown: bool  # printed when created: a key a client sends, not a signing secret


def _api_key() -> str:
    return secrets.token_hex(24)


def _unsubscribe_key() -> str:
    # `id:secret`, the format righttime.core.unsubscribe.parse_keys reads; k1 so a rotation can add k2 first.
    return f"k1:{secrets.token_hex(32)}"


#: the names template.yaml's *KeysParameterName parameters default to
DEFAULT_NAMES = {
    "write": "/righttime/write-keys",
    "admin": "/righttime/admin-keys",
    "unsubscribe": "/righttime/unsubscribe-keys",
}


def key_parameters(write: str, admin: str, unsubscribe: str) -> tuple[KeyParameter, ...]:
    return (
        KeyParameter("write", write, "WriteKeysParameterName", _api_key, shown=True),
        KeyParameter("admin", admin, "AdminKeysParameterName", _api_key, shown=True),
        KeyParameter(
            "unsubscribe", unsubscribe, "UnsubscribeKeysParameterName", _unsubscribe_key, shown=False
        ),
    )


@dataclass(frozen=True)
class Outcome:
    parameter: KeyParameter
    value: str | None  # the new value, or None when the parameter already existed and was kept


def create_missing(client: SSMClient, parameters: Sequence[KeyParameter]) -> list[Outcome]:
    """Create each parameter that does not exist; keep the others as they are.

    One conditional write each (Overwrite=False), not a read then a write: two runs at once cannot replace a
    key the other has just printed."""
    outcomes = []
    for parameter in parameters:
        value = parameter.new_value()
        try:
            client.put_parameter(
                Name=parameter.name,
                Description=f"righttime {parameter.what} keys (make keys)",
                Value=value,
                Type="SecureString",
                Overwrite=False,
                Tags=[{"Key": "application", "Value": "righttime"}],
            )
        except client.exceptions.ParameterAlreadyExists:
            outcomes.append(Outcome(parameter, None))
        else:
            outcomes.append(Outcome(parameter, value))
    return outcomes


def report(outcomes: Sequence[Outcome], region: str, out: TextIO) -> None:
    """One line per parameter, then the deploy command (naming the parameters not at their default)."""
    for outcome in outcomes:
        p = outcome.parameter
        if outcome.value is None:
            print(f"kept     {p.name}: it exists ({p.what} keys); read it with", file=out)
            print(
                f"         aws ssm get-parameter --region {region} --name {p.name} --with-decryption "
                "--query Parameter.Value --output text",
                file=out,
            )
        elif p.shown:
            print(f"created  {p.name}: {p.what} key {outcome.value}", file=out)
        else:
            print(f"created  {p.name}: {p.what} signing key (secret not shown)", file=out)
    renamed = " ".join(
        f"{o.parameter.stack_parameter}={o.parameter.name}"
        for o in outcomes
        if o.parameter.name != DEFAULT_NAMES[o.parameter.what]
    )
    params = f" PARAMS='{renamed}'" if renamed else ""
    print(f"region   {region}. Next: make deploy SENDER=<your verified SES address>{params}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m righttime_dev.keys",
        description="Create righttime's write, admin and unsubscribe key parameters (SSM SecureStrings) "
        "when they are missing; existing ones are kept.",
    )
    parser.add_argument(
        "--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or your profile's)"
    )
    for what, name in DEFAULT_NAMES.items():
        parser.add_argument(f"--{what}-parameter", default=name, help=f"the {what} keys' name (%(default)s)")
    args = parser.parse_args(argv)
    parameters = key_parameters(args.write_parameter, args.admin_parameter, args.unsubscribe_parameter)

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        # botocore reads AWS_DEFAULT_REGION and the profile, but not AWS_REGION, which Lambda and CI set
        region = args.region or os.environ.get("AWS_REGION") or None
        ssm = boto3.session.Session(region_name=region).client("ssm")
        outcomes = create_missing(ssm, parameters)
    except NoRegionError:
        print(
            "make keys: no AWS region: run `aws configure`, set AWS_REGION, or pass REGION=...",
            file=sys.stderr,
        )
        return 2
    except NoCredentialsError:
        print("make keys: no AWS credentials: run `aws configure` or `aws sso login`", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"make keys: {exc}", file=sys.stderr)
        return 1
    report(outcomes, ssm.meta.region_name, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
