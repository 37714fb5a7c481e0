"""SES v2: sends a fully built MIME message with the configuration set and message tags."""

from __future__ import annotations

from email.message import EmailMessage

from righttime import settings
from righttime.adapters import aws


class SendRejected(Exception):
    """SES refused the message for good (bad address, not verified, ...): retrying will not help."""


class Mailer:
    def __init__(self) -> None:
        self.config = settings.mail()
        self.client = aws.sesv2()

    def send(self, mime: EmailMessage, tags: dict[str, str]) -> str:
        """Send `mime` and return the SES MessageId. Raises SendRejected for permanent refusals; throttling
        and service errors propagate so the schedule's retry policy tries again."""
        request = {
            "FromEmailAddress": str(mime["From"]),
            "Destination": {"ToAddresses": [str(mime["To"])]},
            "Content": {"Raw": {"Data": mime.as_bytes()}},
            "EmailTags": [{"Name": k, "Value": v} for k, v in tags.items()],
        }
        if self.config.configuration_set:
            request["ConfigurationSetName"] = self.config.configuration_set
        try:
            response = self.client.send_email(**request)  # type: ignore[arg-type]
        except (
            self.client.exceptions.MessageRejected,
            self.client.exceptions.MailFromDomainNotVerifiedException,
            self.client.exceptions.AccountSuspendedException,
            self.client.exceptions.SendingPausedException,
        ) as exc:
            raise SendRejected(exc.response["Error"].get("Message", "rejected")) from exc
        return response["MessageId"]
