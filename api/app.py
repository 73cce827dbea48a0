"""The FastAPI application: /healthz, /readyz and /v1/logs.

Elasticsearch's own error texts never reach clients: a refused query becomes a 400 problem naming the parameter
class, anything else a 502/503 problem without internals.
"""

# No `from __future__ import annotations`: FastAPI must see the endpoint annotations, which use local values.

import logging
from typing import Annotated, Any, Literal

from elasticsearch import ApiError, TransportError
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from api.health import check_elasticsearch, check_kafka
from api.query import build_search, encode_cursor
from logjet import __version__
from logjet.config import LogjetSettings
from shippers.elasticsearch import make_client

__all__ = ["create_app"]

log = logging.getLogger("logjet.api")
PROBLEM = "application/problem+json"


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type=PROBLEM)


class _ProblemError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def create_app(settings: LogjetSettings) -> FastAPI:
    app = FastAPI(title="logjet", version=__version__,
                  description="Query the logs logjet indexed, and probe the pipeline's health.")
    es = make_client(settings.elasticsearch)
    api = settings.api

    @app.exception_handler(_ProblemError)
    async def _problem_handler(_: Request, exc: _ProblemError) -> JSONResponse:
        return _problem(exc.status, exc.title, exc.detail)

    @app.get("/healthz", summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Kafka and Elasticsearch are reachable",
             responses={503: {"description": "a dependency is down; `checks` names it"}})
    def readyz() -> JSONResponse:
        checks = {"kafka": check_kafka(settings.kafka), "elasticsearch": check_elasticsearch(es)}
        ready = all(c["ok"] for c in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/v1/logs", summary="Search logs")
    def logs(
        time_from: Annotated[str, Query(alias="from", description="ISO 8601 or relative, e.g. now-15m")] = "now-15m",
        time_to: Annotated[str, Query(alias="to", description="ISO 8601 or relative, e.g. now")] = "now",
        q: Annotated[str | None, Query(max_length=1000, description="Free text (simple_query_string)")] = None,
        level: Annotated[str | None, Query(max_length=64)] = None,
        host: Annotated[str | None, Query(max_length=256)] = None,
        path: Annotated[str | None, Query(max_length=1024)] = None,
        size: Annotated[int, Query(ge=1, le=api.max_page_size)] = 100,
        sort: Literal["asc", "desc"] = "desc",
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> dict[str, Any]:
        try:
            body = build_search(time_from=time_from, time_to=time_to, q=q,
                                filters={"level": level, "host": host, "path": path},
                                size=size, order=sort, cursor=cursor)
        except ValueError as exc:
            raise _ProblemError(400, "invalid cursor", str(exc)) from exc
        try:
            resp = es.options(request_timeout=api.query_timeout_s).search(
                index=settings.elasticsearch.index_pattern, ignore_unavailable=True, allow_no_indices=True,
                timeout=f"{int(api.query_timeout_s * 1000)}ms", **body)
        except ApiError as exc:
            if exc.status_code == 400:
                raise _ProblemError(400, "invalid query", "the time range or query could not be parsed") from exc
            log.warning("search failed: %s", exc)
            raise _ProblemError(502, "search failed", "Elasticsearch could not answer the query") from exc
        except TransportError as exc:
            log.warning("search failed: %s", exc)
            raise _ProblemError(503, "search unavailable", "Elasticsearch is unreachable") from exc
        hits = resp["hits"]["hits"]
        total = resp["hits"]["total"]
        return {
            "total": {"value": total["value"], "relation": total["relation"]},
            "documents": [h["_source"] for h in hits],
            "next_cursor": encode_cursor(hits[-1]["sort"]) if len(hits) == size else None,
        }

    return app
