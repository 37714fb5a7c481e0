"""SES v2: sends a fully built MIME message with the configuration set and message tags."""

from __future__ import annotations

from email.message import EmailMessage
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from righttime.stages.ports import SendRejected, SendUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

#: errors that say this message will never be accepted as it is; anything else may pass later
_PERMANENT = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException", "NotFoundException"}
)


class SesMailer:
    """The `Mailer` port on SES v2."""

    def __init__(self, client: SESV2Client, configuration_set: str | None = None) -> None:
        self.client = client
        self.configuration_set = configuration_set

    def send(self, mime: EmailMessage, tags: dict[str, str]) -> str:
        """Send `mime` and return the SES MessageId; SendRejected or SendUnavailable when SES does not."""
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
            message = f"{error.get('Code', 'Error')}: {error.get('Message', 'no message')}"
            if error.get("Code") in _PERMANENT:
                raise SendRejected(message) from exc
            raise SendUnavailable(message) from exc
        except BotoCoreError as exc:  # connection failures and the like, after botocore's own retries
            raise SendUnavailable(type(exc).__name__) from exc
        return response["MessageId"]
