"""Live tail: documents as they are indexed, as Server-Sent Events, resumable with ``Last-Event-ID``.

Each poll asks Elasticsearch for documents ingested since the last one sent, a few seconds back: a batch that
started earlier but finished indexing later is not missed, and the ids already sent are skipped. Only one page is
held at a time; a client that reads too slowly to keep up (more than ``max_backlog`` documents behind) gets a
``dropped`` event and the stream ends, instead of the server buffering for it.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import orjson

__all__ = ["TailState", "decode_event_id", "encode_event_id", "sse"]

OVERLAP = "5s"  # how far back each poll looks behind the last document sent


def encode_event_id(ingested: str, doc_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([ingested, doc_id])).decode().rstrip("=")


def decode_event_id(value: str) -> tuple[str, str]:
    try:
        ingested, doc_id = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ValueError("Last-Event-ID is not one this API issued") from exc
    if not isinstance(ingested, str) or not isinstance(doc_id, str):
        raise ValueError("Last-Event-ID is not one this API issued")
    return ingested, doc_id


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + orjson.dumps(data).decode())
    return ("\n".join(lines) + "\n\n").encode()


class TailState:
    """Where a tail stands: the last ingestion time sent, and the ids sent near it."""

    def __init__(self, since: str, last_id: str | None = None, remember: int = 50_000) -> None:
        self.since = since
        self.sent: OrderedDict[str, None] = OrderedDict()
        self.remember = remember
        if last_id:
            self.sent[last_id] = None

    def query(self, base_filters: list[dict[str, Any]], size: int) -> dict[str, Any]:
        since = f"now-{OVERLAP}" if self.since == "now" else f"{self.since}||-{OVERLAP}"
        flt = [*base_filters, {"range": {"event.ingested": {"gte": since}}}]
        return {"query": {"bool": {"filter": flt}}, "size": size,
                "sort": [{"event.ingested": {"order": "asc", "format": "strict_date_optional_time_nanos"}},
                         {"event.id": {"order": "asc"}}],
                "track_total_hits": True}

    def take(self, hits: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
        for hit in hits:
            doc = hit["_source"]
            doc_id = doc.get("event", {}).get("id", hit.get("_id"))
            if doc_id in self.sent:
                continue
            self.sent[doc_id] = None
            if len(self.sent) > self.remember:
                self.sent.popitem(last=False)
            self.since = hit["sort"][0]
            yield encode_event_id(self.since, doc_id), doc
