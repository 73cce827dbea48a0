"""Response models: what the OpenAPI schema promises for each endpoint."""

# No `from __future__ import annotations`: pydantic and FastAPI read these annotations at runtime.

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["Bucket", "Context", "FacetValue", "Facets", "LevelBucket", "LogsPage", "Named", "Pattern", "Patterns",
           "Stats", "Total"]


class Total(BaseModel):
    value: int = Field(examples=[1234])
    relation: Literal["eq", "gte"] = Field(description="gte: at least `value` (counted up to 10,000)")


class LogsPage(BaseModel):
    total: Total
    documents: list[dict[str, Any]] = Field(description="ECS documents, newest first unless sort=asc",
                                            examples=[[{"@timestamp": "2026-11-25T10:00:00.123000000Z",
                                                        "message": "payment declined", "log": {"level": "error"},
                                                        "service": {"name": "checkout"}}]])
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class Bucket(BaseModel):
    time: str = Field(examples=["2026-11-25T10:00:00.000Z"])
    count: int
    by: dict[str, int] | None = Field(None, description="counts per service or dataset, when `by` is set")


class Named(BaseModel):
    name: str
    count: int


class Stats(BaseModel):
    total: int
    over_time: list[Bucket]
    services: list[Named]
    containers: list[Named]
    datasets: list[Named]
    error_ratio: float = Field(description="share of entries at level error or worse")
    pipeline: dict[str, Any] | None = Field(
        None, description="for all_logs keys: consumer_lag per partition and dead_letters")


class FacetValue(BaseModel):
    value: str | int | float | bool
    count: int


class LevelBucket(BaseModel):
    time: str = Field(examples=["2026-11-25T10:00:00.000Z"])
    count: int
    by: dict[str, int] = Field(description="counts per log.level (documents without one are in count only)")


class Facets(BaseModel):
    total: Total
    facets: dict[str, list[FacetValue]] = Field(
        description="level, service, namespace, container and host: the top values among the matching documents",
        examples=[{"level": [{"value": "info", "count": 120}, {"value": "error", "count": 4}]}])
    over_time: list[LevelBucket] | None = Field(None, description="with `interval`: counts over time by level")


class Context(BaseModel):
    document: dict[str, Any]
    before: list[dict[str, Any]] = Field(description="the source's entries just before it, oldest first")
    after: list[dict[str, Any]] = Field(description="the source's entries just after it, oldest first")


class Pattern(BaseModel):
    id: str = Field(description="logjet.pattern.id: pass as `pattern` to /v1/logs for its lines",
                    examples=["d74faaa452c3f618"])
    template: str = Field(examples=["Invalid user <*> from <*>"])
    count: int
    first_seen: str | None
    last_seen: str | None
    sample: str = Field(description="the pattern's latest line's message")
    over_time: list[Bucket]


class Patterns(BaseModel):
    total: Total
    others: int = Field(description="matching documents whose pattern is not among those listed")
    patterns: list[Pattern] = Field(description="the most frequent patterns first")
