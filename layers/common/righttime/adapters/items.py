"""Conversion between pydantic models and DynamoDB attribute values."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from pydantic import BaseModel

#: Powertools' port of boto3's TypeDeserializer, without boto3 (numbers as Decimal, sets as sets, B as bytes)
_DESERIALIZER = TypeDeserializer()


def to_item(model: BaseModel, **extra: Any) -> dict[str, Any]:
    """A model as a DynamoDB item (attribute-value form), with `extra` attributes such as keys."""
    plain = json.loads(model.model_dump_json(), parse_float=Decimal)
    plain.update(extra)
    return {key: serialize(value) for key, value in plain.items()}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values in attribute-value form."""
    return {key: serialize(_jsonable(value)) for key, value in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python (numbers as int or float), ready for `Model.model_validate`."""
    return {key: _plain(_DESERIALIZER.deserialize(value)) for key, value in item.items()}


def serialize(value: Any) -> dict[str, Any]:
    """One value in DynamoDB's attribute-value form. Our items come from JSON, so these are all the
    types there are; boto3's TypeSerializer would cost the handlers an import of all of boto3, and
    Powertools ships only the deserializer."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": str(Decimal(str(value)))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return json.loads(value.model_dump_json(), parse_float=Decimal)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def plain(image: dict[str, Any]) -> dict[str, Any]:
    """An already-deserialised image (e.g. from a stream record) with numbers as int or float."""
    return {key: _plain(value) for key, value in image.items()}
