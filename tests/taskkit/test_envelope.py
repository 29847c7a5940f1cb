"""Decoding the wrapped push body and the task message, real format and malformed."""

from __future__ import annotations

import base64
import json

import pytest

from taskkit.envelope import decode_envelope, encode_envelope
from taskkit.errors import DecodeError
from taskkit.message import TaskMessage


def real_body(data: bytes | None, **outer: object) -> bytes:
    message: dict[str, object] = {
        "attributes": {"task": "render", "id": "job-1"},
        "messageId": "2070443601311540",
        "message_id": "2070443601311540",
        "publishTime": "2026-11-29T02:00:00.123Z",
        "publish_time": "2026-11-29T02:00:00.123Z",
    }
    if data is not None:
        message["data"] = base64.b64encode(data).decode()
    return json.dumps({"message": message, "subscription": "projects/p/subscriptions/render", **outer}).encode()


def test_real_envelope_with_delivery_attempt() -> None:
    data = TaskMessage("render", "job-1", {"job_id": "job-1"}).encode()
    env = decode_envelope(real_body(data, deliveryAttempt=3))
    assert env.data == data
    assert env.attributes == {"task": "render", "id": "job-1"}
    assert env.message_id == "2070443601311540"
    assert env.publish_time == "2026-11-29T02:00:00.123Z"
    assert env.subscription == "projects/p/subscriptions/render"
    assert env.delivery_attempt == 3
    assert TaskMessage.decode(env.data) == TaskMessage("render", "job-1", {"job_id": "job-1"})


def test_emulator_envelope_without_delivery_attempt_and_snake_case_only() -> None:
    body = json.dumps(
        {
            "message": {"data": base64.b64encode(b'{"task":"t","id":"x"}').decode(), "message_id": "9"},
            "subscription": "s",
        }
    ).encode()
    env = decode_envelope(body)
    assert env.delivery_attempt is None
    assert env.message_id == "9"
    assert TaskMessage.decode(env.data or b"").kwargs == {}


def test_absent_data_is_none() -> None:
    assert decode_envelope(real_body(None)).data is None


def test_round_trip_of_the_local_encoder() -> None:
    body = encode_envelope(b"abc", {"k": "v"}, message_id="m", subscription="s", publish_time=0, delivery_attempt=2)
    env = decode_envelope(body)
    assert (env.data, env.attributes, env.delivery_attempt) == (b"abc", {"k": "v"}, 2)
    assert env.publish_time == "1970-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[]", "no 'message'"),
        (json.dumps({"message": {"data": "%%%notbase64"}}).encode(), "not valid base64"),
        (json.dumps({"message": {"data": 5}}).encode(), "not a base64 string"),
        (json.dumps({"message": {"attributes": {"a": 1}}}).encode(), "string map"),
        (json.dumps({"message": {}, "deliveryAttempt": "two"}).encode(), "deliveryAttempt"),
    ],
)
def test_malformed_envelopes(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as info:
        decode_envelope(body)
    assert info.value.raw == body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{bad json", "not UTF-8 JSON"),
        (b'"a string"', "not a JSON object"),
        (b'{"id": "x"}', "no 'task' name"),
        (b'{"task": "t"}', "no valid 'id'"),
        (b'{"task": "t", "id": "a/b"}', "no valid 'id'"),
        (b'{"task": "t", "id": "x", "kwargs": [1]}', "'kwargs' is not an object"),
    ],
)
def test_malformed_messages(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        TaskMessage.decode(data)
