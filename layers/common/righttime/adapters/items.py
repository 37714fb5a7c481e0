"""Conversion between pydantic models and DynamoDB attribute values."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(model: BaseModel, **extra: Any) -> dict[str, Any]:
    """A model as a DynamoDB item (attribute-value form), with `extra` attributes such as keys."""
    plain = json.loads(model.model_dump_json(), parse_float=Decimal)
    plain.update(extra)
    return {key: _serializer.serialize(value) for key, value in plain.items()}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values in attribute-value form."""
    return {key: _serializer.serialize(_jsonable(value)) for key, value in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python (numbers as int or float), ready for `Model.model_validate`."""
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


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
