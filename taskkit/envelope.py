"""Decoding the wrapped Pub/Sub push body (see docs/push-contract.md)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from taskkit.errors import DecodeError


@dataclass(frozen=True)
class PushEnvelope:
    """One push delivery: the message and its delivery metadata.

    `data` is None for an empty message; `delivery_attempt` is None when the subscription has no
    dead-letter policy (and always with Google's emulator).
    """

    data: bytes | None
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    publish_time: str = ""
    subscription: str = ""
    delivery_attempt: int | None = None
    ordering_key: str | None = None


def _first(mapping: dict[str, Any], *names: str) -> Any:
    for name in names:
        if mapping.get(name) not in (None, ""):
            return mapping[name]
    return None


def decode_envelope(body: bytes) -> PushEnvelope:
    """Parse a push request body; DecodeError (with the raw body) on anything malformed."""
    try:
        outer = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DecodeError(f"push body is not UTF-8 JSON: {e}", body) from e
    if not isinstance(outer, dict) or not isinstance(outer.get("message"), dict):
        raise DecodeError("push body has no 'message' object", body)
    message = outer["message"]
    raw_data = message.get("data")
    data: bytes | None = None
    if raw_data not in (None, ""):
        if not isinstance(raw_data, str):
            raise DecodeError("message 'data' is not a base64 string", body)
        try:
            data = base64.b64decode(raw_data, validate=True)
        except (binascii.Error, ValueError) as e:
            raise DecodeError(f"message 'data' is not valid base64: {e}", body) from e
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise DecodeError("message 'attributes' is not a string map", body)
    attempt = outer.get("deliveryAttempt", outer.get("delivery_attempt"))
    if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1):
        raise DecodeError(f"'deliveryAttempt' is not a positive integer: {attempt!r}", body)
    return PushEnvelope(
        data=data,
        attributes=dict(attributes),
        message_id=str(_first(message, "messageId", "message_id") or ""),
        publish_time=str(_first(message, "publishTime", "publish_time") or ""),
        subscription=str(outer.get("subscription") or ""),
        delivery_attempt=attempt,
        ordering_key=_first(message, "orderingKey", "ordering_key"),
    )


def encode_envelope(
    data: bytes,
    attributes: dict[str, str],
    *,
    message_id: str,
    subscription: str,
    publish_time: float,
    delivery_attempt: int | None,
) -> bytes:
    """Build the exact wrapped push body Pub/Sub sends (used by the local dispatcher and tests)."""
    stamp = datetime.fromtimestamp(publish_time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message: dict[str, Any] = {
        "attributes": attributes,
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": stamp,
        "publish_time": stamp,
    }
    if data:
        message["data"] = base64.b64encode(data).decode("ascii")
    body: dict[str, Any] = {"message": message, "subscription": subscription}
    if delivery_attempt is not None:
        body["deliveryAttempt"] = delivery_attempt
    return json.dumps(body).encode()
