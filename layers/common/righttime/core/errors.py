"""Domain errors. Handlers map them to responses in one place each."""

from __future__ import annotations

from dataclasses import dataclass, field


class RighttimeError(Exception):
    """Base class of every error righttime raises on purpose."""


class ConfigurationError(RighttimeError):
    """The deployment is mis-configured (a missing environment variable, an unreadable campaign file)."""


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class InvalidRequestError(RighttimeError):
    """The request cannot be accepted; `errors` names each bad field. Nothing from it was stored or queued."""

    message: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400

    def __str__(self) -> str:
        return self.message


class UnauthorizedError(RighttimeError):
    """Missing or wrong write key."""


class QueueUnavailableError(RighttimeError):
    """Events could not be queued; the caller should retry (messageId de-duplication makes that safe)."""
