"""The broker on Pub/Sub (google-cloud-pubsub): a publisher with bounded, surfaced retries.

Each publish waits for the server's message id (`future.result(timeout)`). A retryable failure is
retried with exponential backoff and jitter (tenacity); when the attempts run out it is raised as
`TransientBackendError`, never swallowed. A retried publish may reach Pub/Sub twice with different
message ids, which is why consumers deduplicate on the task id attribute (docs/push-contract.md).
"""

from __future__ import annotations

import re
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from taskkit.backends.base import Broker
from taskkit.backends.gcp.translate import is_transient, translate
from taskkit.errors import BackendError, ConfigError

# Pub/Sub topic ids: 3..255 characters, a letter first, no "goog" prefix.
_TOPIC_ID = re.compile(r"^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
# Keyword names of PublisherClient.publish(); an attribute with one of these names would be taken for it.
_RESERVED_ATTRIBUTES = frozenset({"topic", "data", "ordering_key", "retry", "timeout"})


def topic_path(project: str, topic: str) -> str:
    """The full resource name of a short topic name (`render-jobs` -> `projects/P/topics/render-jobs`)."""
    if not _TOPIC_ID.match(topic):
        raise ConfigError(
            f"invalid Pub/Sub topic name {topic!r}: use 3-255 letters, digits or -_.~+%, starting with a letter"
        )
    return f"projects/{project}/topics/{topic}"


class PubSubBroker(Broker):
    """Publishes to Pub/Sub topics of one project."""

    def __init__(
        self,
        publisher: Any,
        project: str,
        *,
        publish_timeout_s: float = 10.0,
        attempts: int = 4,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 8.0,
    ) -> None:
        self._publisher = publisher
        self._project = project
        self._timeout_s = publish_timeout_s
        self._attempts = max(1, attempts)
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s

    def _publish(self, topic: str, data: bytes, attributes: dict[str, str]) -> str:
        path = topic_path(self._project, topic)
        clash = _RESERVED_ATTRIBUTES & attributes.keys()
        if clash:
            raise BackendError(f"message attribute names {sorted(clash)} are reserved by the Pub/Sub client")
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(initial=self._backoff_initial_s, max=self._backoff_max_s),
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    future = self._publisher.publish(path, data, timeout=self._timeout_s, **attributes)
                    return str(future.result(timeout=self._timeout_s))
        except Exception as e:
            raise translate(e, f"publish to {path} ({self._attempts} attempts)") from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    def close(self) -> None:
        """Send what is batched and stop the publisher."""
        self._publisher.stop()
