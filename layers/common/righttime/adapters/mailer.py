"""SES v2: sends a fully built MIME message with the configuration set and message tags.

Every failure is sorted by what it proves about the message, because retrying a send that may have gone out
is how customers get copies:

* `SendRejected`: SES refused this message for good (a bad address, an unverified sender). Never sent.
* `SendUnavailable`: SES refused it for now (throttled, a quota, sending paused) or the request never left
  (no connection could be made). Never sent, so it is safe to try again later.
* `SendOutcomeUnknown`: the request may have reached SES (a read timeout, a dropped connection, a 5xx). SES's
  own events say whether it went out; the caller must not simply send again.

The client behind this adapter makes exactly one attempt (`Clients` configures SES so): botocore's retries
would resend after a timeout whose first attempt may have been accepted.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import TYPE_CHECKING

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

from righttime.stages.ports import SendOutcomeUnknown, SendRejected, SendUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

#: errors that say this message will never be accepted as it is
_PERMANENT = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException", "NotFoundException"}
)
#: errors that prove SES did not take the message, and that it may take it later
_REFUSED_FOR_NOW = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
        "SendingPausedException",
        "AccountSuspendedException",
    }
)


class SesMailer:
    """The `Mailer` port on SES v2."""

    def __init__(self, client: SESV2Client, configuration_set: str | None = None) -> None:
        self.client = client
        self.configuration_set = configuration_set

    def send(self, mime: EmailMessage, tags: dict[str, str]) -> str:
        """Send `mime` and return the SES MessageId, or raise one of the three failures above."""
        request = {
            "FromEmailAddress": str(mime["From"]),
            "Destination": {"ToAddresses": [str(mime["To"])]},
            "Content": {"Raw": {"Data": mime.as_bytes()}},
            "EmailTags": [{"Name": k, "Value": v} for k, v in tags.items()],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)  # type: ignore[arg-type]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Error"))
            message = f"{code}: {error.get('Message', 'no message')}"
            if code in _PERMANENT:
                raise SendRejected(message) from exc
            if code in _REFUSED_FOR_NOW:
                raise SendUnavailable(message) from exc
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if 400 <= status < 500:  # any other refusal of the request itself: SES took nothing
                raise SendUnavailable(message) from exc
            raise SendOutcomeUnknown(message) from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise SendUnavailable(type(exc).__name__) from exc  # no connection: the request never left
        except BotoCoreError as exc:  # a read timeout, a closed connection: it may have been accepted
            raise SendOutcomeUnknown(type(exc).__name__) from exc
        return response["MessageId"]
