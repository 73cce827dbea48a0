"""The FastAPI application: /healthz, /readyz, /metrics, /v1/logs (search, tail, a line's context), /v1/facets,
/v1/patterns, /v1/stats and the explorer page.

Every endpoint but /healthz needs an API key (``Authorization: Bearer <token>``) unless the operator runs in open
demo mode; the key's scope is added to every query. Elasticsearch's own error texts never reach clients: a refused
query becomes a 400 problem naming the parameter class, anything else a 502/503 problem without internals.

Endpoints that wait on Elasticsearch or Kafka are plain functions and run on the server's worker threads; /healthz,
/metrics and the explorer's files are coroutines answered on the event loop, and /readyz runs its checks on a thread
of its own, so they answer while every worker thread waits on a slow Elasticsearch.
"""

# No `from __future__ import annotations`: FastAPI must see the endpoint annotations, which use local values.

import asyncio
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from elasticsearch import ApiError, NotFoundError, TransportError
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from api.auth import Caller, authenticate
from api.cursors import CursorSigner
from api.explore import LEVEL_SPLIT, context_queries, facets_query, read_facets, target_query
from api.health import ReadinessProbe
from api.middleware import KEY_NAME, AccessLog, DemoGuard, QueryLimit, SecurityHeaders
from api.models import Context, Facets, LogsPage, Patterns, Stats
from api.patterns import patterns_query, read_patterns
from api.query import PitRegistry, build_search, check_cursor, cut_page, parse_excludes
from api.stats import StatsRangeError, check_buckets, kafka_stats, stats_query
from api.tail import Follower, ShardWatcher, TailSlots, check_position, sse
from logjet import __version__
from logjet.config import LogjetSettings
from shippers.elasticsearch import make_client

__all__ = ["create_app"]

log = logging.getLogger("logjet.api")
PROBLEM = "application/problem+json"
_STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {"explorer.js": "text/javascript; charset=utf-8", "explorer.css": "text/css; charset=utf-8"}
_TAIL_RETRY_AFTER_S = 10
_TAIL_KEEP_ALIVE_S = 15
_CONTEXT_PATH = re.compile(r"^/v1/logs/[^/]+/context$")
_EXCLUDE = Query(max_length=1024, description="<filter>:<value>, a filter's name (level, service, ...) and a value "
                                              "to leave out; repeatable",
                 examples=[["level:debug"]])


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type=PROBLEM)


class _ProblemError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _es_problem(exc: ApiError | TransportError, what: str, bad_request: str) -> _ProblemError:
    """Elasticsearch's failure as the client sees it: a refused query is the client's 400, the rest is ours,
    without Elasticsearch's own words."""
    if isinstance(exc, ApiError) and exc.status_code == 400:
        return _ProblemError(400, "invalid query", bad_request)
    log.warning("%s failed: %s", what, exc)
    if isinstance(exc, ApiError):
        return _ProblemError(502, f"{what} failed", "Elasticsearch could not answer the query")
    return _ProblemError(503, f"{what} unavailable", "Elasticsearch is unreachable")


def _keep_alive_s(value: str) -> float:
    return float(value[:-1]) * (60 if value.endswith("m") else 1)


class _TailResponse(StreamingResponse):
    """A tail's stream that gives its slot back however it ends (end of stream, disconnect, error)."""

    def __init__(self, body: Any, release: Any, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self.body_iterator.aclose()
            finally:
                self._release()


def create_app(settings: LogjetSettings) -> FastAPI:
    # No Swagger UI or ReDoc: FastAPI's pages load their scripts from a CDN and run an inline one, which the
    # Content-Security-Policy refuses. The schema stays at /openapi.json for any OpenAPI viewer.
    app = FastAPI(title="logjet", version=__version__, docs_url=None, redoc_url=None,
                  description="Query the logs logjet indexed, and probe the pipeline's health.")
    es = make_client(settings.elasticsearch)
    api = settings.api
    app.state.settings = settings
    readiness = ReadinessProbe(settings)
    if api.cursor_secret is None:
        log.warning("api.cursor_secret is not set: cursors are signed with a random key and do not survive a restart "
                    "or reach another replica")
    signer = CursorSigner(api.cursor_secret.get_secret_value().encode() if api.cursor_secret
                          else secrets.token_bytes(32))
    pits = PitRegistry(api.pit_max_per_key, api.pit_max_total, _keep_alive_s(api.pit_keep_alive))
    tails = TailSlots(api.tail_max_per_key, api.tail_max_total)
    watcher = ShardWatcher(es.options(request_timeout=api.query_timeout_s), settings.elasticsearch.index_pattern)
    app.state.pits, app.state.tails = pits, tails
    registry = CollectorRegistry()
    requests = Counter("logjet_api_requests", "Requests answered, by endpoint and status.", ["endpoint", "status"],
                       registry=registry)
    latency = Histogram("logjet_api_request_seconds", "Time to answer, by endpoint.", ["endpoint"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    # Innermost first: CORS, the query limit, the demo guard, the request log, and the headers on every answer.
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_methods=["GET"],
                           allow_headers=["Authorization", "Last-Event-ID"])
    app.add_middleware(QueryLimit, paths=frozenset({"/v1/logs", "/v1/stats", "/v1/facets", "/v1/patterns"}),
                       pattern=_CONTEXT_PATH,
                       concurrent=api.max_concurrent_queries, queued=api.max_queued_queries)
    if api.open_demo:
        app.add_middleware(DemoGuard)
    app.add_middleware(AccessLog, requests=requests, latency=latency)
    app.add_middleware(SecurityHeaders)
    Gauge("logjet_api_live_tails", "Live tails open.", registry=registry).set_function(tails.open)
    Gauge("logjet_api_points_in_time", "Points in time this process holds open.",
          registry=registry).set_function(lambda: len(pits))

    @app.exception_handler(_ProblemError)
    async def _problem_handler(_: Request, exc: _ProblemError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = _problem(exc.status, exc.title, exc.detail)
        if headers:
            response.headers.update(headers)
        return response

    async def caller(request: Request,
                     authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None) -> Caller:
        found = authenticate(api, authorization)
        if found is None:
            raise _ProblemError(401, "unauthorized", "a valid API key is needed: Authorization: Bearer <key>")
        setattr(request.state, KEY_NAME, found.name)  # for the request log: the key's name, never the token
        return found

    Authorized = Annotated[Caller, Depends(caller)]

    @app.get("/metrics", summary="Prometheus metrics of the API", response_class=Response)
    async def metrics(_: Authorized) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # Read once: served from memory on the event loop, never from a worker thread.
    page = (_STATIC / "index.html").read_bytes()
    assets = {name: (_STATIC / name).read_bytes() for name in _STATIC_TYPES}

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def explorer() -> HTMLResponse:
        # The page holds no data: it asks the API, with the key the user types in, like any other client.
        return HTMLResponse(page)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in assets:
            return _problem(404, "not found", "no such file")
        return Response(assets[name], media_type=_STATIC_TYPES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        # A coroutine, on the event loop: it must not wait for a worker thread that waits on Elasticsearch.
        return {"status": "ok"}

    @app.get("/readyz", summary="Kafka and Elasticsearch are reachable",
             responses={503: {"description": "a dependency is down; `checks` names it"}})
    async def readyz(_: Authorized) -> JSONResponse:
        checks = await readiness.check()
        ready = all(c["ok"] for c in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/v1/logs", summary="Search logs", response_model=LogsPage,
             responses={400: {"description": "a parameter or the cursor is invalid"},
                        401: {"description": "no valid API key"},
                        403: {"description": "a filter outside the key's scope"},
                        410: {"description": "the cursor's point in time expired: search again"}})
    def logs(
        who: Authorized,
        time_from: Annotated[str, Query(alias="from", max_length=64, description="ISO 8601 or relative",
                                        examples=["now-15m", "2026-11-25T10:00:00Z"])] = "now-15m",
        time_to: Annotated[str, Query(alias="to", max_length=64, description="ISO 8601 or relative",
                                      examples=["now"])] = "now",
        q: Annotated[str | None, Query(max_length=1000, description="Free text (simple_query_string) over message",
                                       examples=["timeout AND checkout"])] = None,
        level: Annotated[str | None, Query(max_length=64, examples=["error"])] = None,
        host: Annotated[str | None, Query(max_length=256)] = None,
        path: Annotated[str | None, Query(max_length=1024)] = None,
        service: Annotated[str | None, Query(max_length=256)] = None,
        container: Annotated[str | None, Query(max_length=256)] = None,
        pod: Annotated[str | None, Query(max_length=256)] = None,
        namespace: Annotated[str | None, Query(max_length=256)] = None,
        stream: Annotated[Literal["stdout", "stderr"] | None, Query()] = None,
        pattern: Annotated[str | None, Query(max_length=64, description="a log pattern's id (/v1/patterns)")] = None,
        field: Annotated[list[str] | None, Query(max_length=1024,
                                                description="name:value, names from api.filter_fields",
                                                examples=[["http.response.status_code:500"]])] = None,
        exclude: Annotated[list[str] | None, _EXCLUDE] = None,
        size: Annotated[int, Query(ge=1, le=api.max_page_size)] = 100,
        sort: Literal["asc", "desc"] = "desc",
        cursor: Annotated[str | None, Query(max_length=8192)] = None,
    ) -> dict[str, Any]:
        if not who.may_ask_for(namespace, service):
            raise _ProblemError(403, "forbidden", "the filter asks for logs outside this key's scope")
        fields, excluded = _field_filters(field), _exclusions(exclude)
        try:
            pit_id, after, order = check_cursor(signer.verify("cursor", who, cursor)) if cursor \
                else (None, None, sort)
        except ValueError as exc:
            raise _ProblemError(400, "invalid cursor", str(exc)) from exc
        body = build_search(time_from=time_from, time_to=time_to, q=q,
                            filters={"level": level, "host": host, "path": path, "service": service,
                                     "container": container, "pod": pod, "namespace": namespace, "stream": stream,
                                     "pattern": pattern},
                            fields=fields, size=size + 1, order=order, search_after=after, scope=who.scope_filter(),
                            exclude=excluded)
        client = es.options(request_timeout=api.query_timeout_s)
        timeout = f"{int(api.query_timeout_s * 1000)}ms"
        try:
            if pit_id is None:
                resp = client.search(index=settings.elasticsearch.index_pattern, ignore_unavailable=True,
                                     allow_no_indices=True, timeout=timeout, **body)
            else:
                resp = client.search(pit={"id": pit_id, "keep_alive": api.pit_keep_alive}, timeout=timeout, **body)
        except NotFoundError as exc:
            if pit_id is not None:
                pits.closed(pit_id)
                raise _ProblemError(410, "cursor expired", "the cursor's point in time expired: search again") from exc
            return {"total": {"value": 0, "relation": "eq"}, "documents": [], "next_cursor": None}
        except (ApiError, TransportError) as exc:
            raise _es_problem(exc, "search", "the time range or query could not be parsed") from exc
        hits, more = cut_page(resp["hits"]["hits"], size, api.max_page_bytes)
        total = resp["hits"]["total"]
        next_pit = resp.get("pit_id", pit_id)
        if pit_id is not None and not more:
            _close_pit(client, next_pit)
            next_pit = None
        elif pit_id is not None:
            pits.used(pit_id, next_pit, who.name)
        elif more and pits.reserve(who.name):
            # The first page came from a plain search; the walk goes on in a point in time opened now, which
            # holds every document the first page could have seen (and perhaps a few that came since).
            try:
                next_pit = client.open_point_in_time(index=settings.elasticsearch.index_pattern,
                                                     keep_alive=api.pit_keep_alive, ignore_unavailable=True)["id"]
            except (ApiError, TransportError) as exc:
                log.warning("opening a point in time failed (the walk goes on without one): %s", exc)
            pits.opened(next_pit, who.name)
        return {
            "total": {"value": total["value"], "relation": total["relation"]},
            "documents": [h["_source"] for h in hits],
            "next_cursor": signer.sign("cursor", who, {"p": next_pit, "a": hits[-1]["sort"], "o": order})
            if more else None,
        }

    def _field_filters(field: list[str] | None) -> dict[str, str]:
        fields: dict[str, str] = {}
        for item in field or []:
            name, sep, value = item.partition(":")
            if not sep or name not in api.filter_fields:
                raise _ProblemError(400, "invalid filter", f"field filters are name:value with name in "
                                                           f"{sorted(api.filter_fields)}")
            fields[name] = value
        return fields

    def _exclusions(exclude: list[str] | None) -> list[tuple[str, str]]:
        try:
            return parse_excludes(exclude)
        except ValueError as exc:
            raise _ProblemError(400, "invalid exclusion", str(exc)) from exc

    def _aggregate(who: Caller, what: str, time_from: str, time_to: str, q: str | None,
                   filters: dict[str, str | None], field: list[str] | None, exclude: list[str] | None,
                   histogram: tuple[str, int, str] | None,
                   body: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """An aggregation over a search, as /v1/facets and /v1/patterns answer: the scope and filter checks of a
        search, the bound on the histogram (interval, counts per bucket, what splits them), the aggregation search
        that ``body`` makes of the search, Elasticsearch's refusals translated."""
        if not who.may_ask_for(filters["namespace"], filters["service"]):
            raise _ProblemError(403, "forbidden", "the filter asks for logs outside this key's scope")
        fields, excluded = _field_filters(field), _exclusions(exclude)
        if histogram is not None:
            try:
                check_buckets(time_from, time_to, *histogram, max_buckets=api.stats_max_buckets)
            except StatsRangeError as exc:
                raise _ProblemError(400, "invalid range", str(exc)) from exc
        search = build_search(time_from=time_from, time_to=time_to, q=q, filters=filters, fields=fields, size=0,
                              order="desc", search_after=None, scope=who.scope_filter(), exclude=excluded)
        try:
            return dict(es.options(request_timeout=api.query_timeout_s).search(
                index=settings.elasticsearch.index_pattern, ignore_unavailable=True, allow_no_indices=True,
                timeout=f"{int(api.query_timeout_s * 1000)}ms", **body(search)))
        except (ApiError, TransportError) as exc:
            raise _es_problem(exc, what, "the time range or query could not be parsed") from exc

    @app.get("/v1/facets", summary="Facet values and counts, and counts over time by level, of a search",
             response_model=Facets,
             responses={400: {"description": "a parameter is invalid, or the histogram would be too large"},
                        401: {"description": "no valid API key"},
                        403: {"description": "a filter outside the key's scope"}})
    def facets(
        who: Authorized,
        time_from: Annotated[str, Query(alias="from", max_length=64, examples=["now-15m"])] = "now-15m",
        time_to: Annotated[str, Query(alias="to", max_length=64, examples=["now"])] = "now",
        q: Annotated[str | None, Query(max_length=1000)] = None,
        level: Annotated[str | None, Query(max_length=64)] = None,
        host: Annotated[str | None, Query(max_length=256)] = None,
        path: Annotated[str | None, Query(max_length=1024)] = None,
        service: Annotated[str | None, Query(max_length=256)] = None,
        container: Annotated[str | None, Query(max_length=256)] = None,
        pod: Annotated[str | None, Query(max_length=256)] = None,
        namespace: Annotated[str | None, Query(max_length=256)] = None,
        stream: Annotated[Literal["stdout", "stderr"] | None, Query()] = None,
        pattern: Annotated[str | None, Query(max_length=64, description="a log pattern's id (/v1/patterns)")] = None,
        field: Annotated[list[str] | None, Query(max_length=1024)] = None,
        exclude: Annotated[list[str] | None, _EXCLUDE] = None,
        size: Annotated[int, Query(ge=1, le=50, description="values per facet")] = 10,
        interval: Annotated[str | None, Query(pattern=r"^\d+[smhd]$", examples=["15s"],
                                              description="with it, the counts over time split by level")] = None,
    ) -> dict[str, Any]:
        return read_facets(_aggregate(
            who, "facets", time_from, time_to, q,
            {"level": level, "host": host, "path": path, "service": service, "container": container, "pod": pod,
             "namespace": namespace, "stream": stream, "pattern": pattern}, field, exclude,
            # each bucket holds its count and one per level
            (interval, LEVEL_SPLIT, "level") if interval is not None else None,
            lambda search: facets_query(search, size, interval, time_from, time_to)))

    @app.get("/v1/patterns", summary="The log patterns of a search: most frequent first, with counts over time",
             response_model=Patterns,
             responses={400: {"description": "a parameter is invalid, or the counts over time would be too many"},
                        401: {"description": "no valid API key"},
                        403: {"description": "a filter outside the key's scope"}})
    def patterns(
        who: Authorized,
        time_from: Annotated[str, Query(alias="from", max_length=64, examples=["now-15m"])] = "now-15m",
        time_to: Annotated[str, Query(alias="to", max_length=64, examples=["now"])] = "now",
        q: Annotated[str | None, Query(max_length=1000)] = None,
        level: Annotated[str | None, Query(max_length=64)] = None,
        host: Annotated[str | None, Query(max_length=256)] = None,
        path: Annotated[str | None, Query(max_length=1024)] = None,
        service: Annotated[str | None, Query(max_length=256)] = None,
        container: Annotated[str | None, Query(max_length=256)] = None,
        pod: Annotated[str | None, Query(max_length=256)] = None,
        namespace: Annotated[str | None, Query(max_length=256)] = None,
        stream: Annotated[Literal["stdout", "stderr"] | None, Query()] = None,
        pattern: Annotated[str | None, Query(max_length=64, description="a log pattern's id (/v1/patterns)")] = None,
        field: Annotated[list[str] | None, Query(max_length=1024)] = None,
        exclude: Annotated[list[str] | None, _EXCLUDE] = None,
        top: Annotated[int, Query(ge=1, le=100, description="patterns listed")] = 20,
        interval: Annotated[str, Query(pattern=r"^\d+[smhd]$", examples=["1m"])] = "1m",
    ) -> dict[str, Any]:
        return read_patterns(_aggregate(
            who, "patterns", time_from, time_to, q,
            {"level": level, "host": host, "path": path, "service": service, "container": container, "pod": pod,
             "namespace": namespace, "stream": stream, "pattern": pattern}, field, exclude,
            (interval, top, "pattern"),  # each bucket of the histogram holds one count per listed pattern
            lambda search: patterns_query(search, top, interval, time_from, time_to)))

    @app.get("/v1/logs/{event_id}/context", summary="The lines before and after one, from the same source",
             response_model=Context,
             responses={401: {"description": "no valid API key"},
                        404: {"description": "no document with this id that the key may read"}})
    def context(
        who: Authorized,
        event_id: Annotated[str, PathParam(max_length=256, description="the document's `event.id`")],
        before: Annotated[int, Query(ge=0, le=500)] = 50,
        after: Annotated[int, Query(ge=0, le=500)] = 50,
    ) -> dict[str, Any]:
        scope = who.scope_filter()
        client = es.options(request_timeout=api.query_timeout_s)
        index = settings.elasticsearch.index_pattern
        try:
            found = client.search(index=index, ignore_unavailable=True, allow_no_indices=True,
                                  **target_query(event_id, scope))["hits"]["hits"]
            if not found:  # absent or outside the scope: the same answer, so a key learns nothing of other teams
                raise _ProblemError(404, "not found", "no document with this id that this key may read")
            doc = found[0]["_source"]
            origin = doc.get("logjet") if isinstance(doc.get("logjet"), dict) else {}
            source = origin.get("source", {}).get("id") if isinstance(origin.get("source"), dict) else None
            seq = origin.get("seq")
            if not isinstance(source, str) or not isinstance(seq, int):  # not written by the processor
                return {"document": doc, "before": [], "after": []}
            earlier, later = context_queries(source, seq, before, after, scope)
            lines_before = [h["_source"] for h in client.search(
                index=index, ignore_unavailable=True, allow_no_indices=True, **earlier)["hits"]["hits"]]
            lines_after = [h["_source"] for h in client.search(
                index=index, ignore_unavailable=True, allow_no_indices=True, **later)["hits"]["hits"]]
        except (ApiError, TransportError) as exc:
            raise _es_problem(exc, "context", "the document id could not be used") from exc
        return {"document": doc, "before": lines_before[::-1], "after": lines_after}

    def _close_pit(client: Any, pit_id: str) -> None:
        pits.closed(pit_id)
        try:
            client.close_point_in_time(id=pit_id)
        except (ApiError, TransportError) as exc:  # it expires at its keep-alive anyway
            log.warning("closing a point in time failed: %s", exc)

    @app.get("/v1/stats", summary="Counts over time, top services and containers, error ratio; pipeline state",
             response_model=Stats, response_model_exclude_none=True,
             responses={400: {"description": "a bad time range, or a histogram above api.stats_max_buckets counts"},
                        401: {"description": "no valid API key"},
                        503: {"description": "Elasticsearch is away, or more searches at once than admitted"}})
    def stats(
        who: Authorized,
        time_from: Annotated[str, Query(alias="from", max_length=64, examples=["now-1h"])] = "now-1h",
        time_to: Annotated[str, Query(alias="to", max_length=64, examples=["now"])] = "now",
        interval: Annotated[str, Query(pattern=r"^\d+[smhd]$", examples=["1m"])] = "1m",
        top: Annotated[int, Query(ge=1, le=100)] = 10,
        by: Annotated[Literal["service", "dataset"] | None, Query(description="split the histogram")] = None,
    ) -> dict[str, Any]:
        try:
            body = stats_query(time_from, time_to, interval, who.scope_filter(), top, by,
                               max_buckets=api.stats_max_buckets)
        except StatsRangeError as exc:
            raise _ProblemError(400, "invalid range", str(exc)) from exc
        try:
            resp = es.options(request_timeout=api.query_timeout_s).search(
                index=settings.elasticsearch.index_pattern, ignore_unavailable=True, allow_no_indices=True, **body)
        except (ApiError, TransportError) as exc:
            raise _es_problem(exc, "stats", "the time range or interval could not be used") from exc
        aggs = resp.get("aggregations", {})
        total = resp["hits"]["total"]["value"]
        errors = aggs.get("errors", {}).get("doc_count", 0)
        out: dict[str, Any] = {
            "total": total,
            "over_time": [{"time": b["key_as_string"], "count": b["doc_count"],
                           **({"by": {k["key"]: k["doc_count"] for k in b["by"]["buckets"]}} if by else {})}
                          for b in aggs.get("over_time", {}).get("buckets", [])],
            "services": [{"name": b["key"], "count": b["doc_count"]}
                         for b in aggs.get("services", {}).get("buckets", [])],
            "containers": [{"name": b["key"], "count": b["doc_count"]}
                           for b in aggs.get("containers", {}).get("buckets", [])],
            "datasets": [{"name": b["key"], "count": b["doc_count"]}
                         for b in aggs.get("datasets", {}).get("buckets", [])],
            "error_ratio": round(errors / total, 6) if total else 0.0,
        }
        if who.all_logs:  # the pipeline's own state is for operators, not for one team's key
            out["pipeline"] = kafka_stats(settings)
        return out

    @app.get("/v1/logs/tail", summary="Live tail (Server-Sent Events)", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "events `hello` (id: the starting point), `log` (id: resume point), "
                                             "`error` (Elasticsearch failed; retrying)"},
                        400: {"description": "a parameter or the Last-Event-ID is invalid"},
                        429: {"description": "too many live tails open (for this key or in all); see Retry-After"}})
    async def tail(
        who: Authorized,
        q: Annotated[str | None, Query(max_length=1000)] = None,
        level: Annotated[str | None, Query(max_length=64)] = None,
        host: Annotated[str | None, Query(max_length=256)] = None,
        service: Annotated[str | None, Query(max_length=256)] = None,
        container: Annotated[str | None, Query(max_length=256)] = None,
        pod: Annotated[str | None, Query(max_length=256)] = None,
        namespace: Annotated[str | None, Query(max_length=256)] = None,
        stream: Annotated[Literal["stdout", "stderr"] | None, Query()] = None,
        pattern: Annotated[str | None, Query(max_length=64, description="a log pattern's id (/v1/patterns)")] = None,
        exclude: Annotated[list[str] | None, _EXCLUDE] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=8192)] = None,
        poll_s: Annotated[float, Query(ge=0.2, le=10)] = 1.0,
    ) -> StreamingResponse:
        if not who.may_ask_for(namespace, service):
            raise _ProblemError(403, "forbidden", "the filter asks for logs outside this key's scope")
        try:
            position = check_position(signer.verify("Last-Event-ID", who, last_event_id)) if last_event_id else None
        except ValueError as exc:
            raise _ProblemError(400, "invalid Last-Event-ID", str(exc)) from exc
        body = build_search(time_from="now-1d", time_to="now+1d", q=q,
                            filters={"level": level, "host": host, "path": None, "service": service,
                                     "container": container, "pod": pod, "namespace": namespace, "stream": stream,
                                     "pattern": pattern},
                            fields={}, size=1, order="asc", search_after=None, scope=who.scope_filter(),
                            exclude=_exclusions(exclude))
        filters = [*body["query"]["bool"]["filter"][1:], *body["query"]["bool"]["must"]]  # not the time range
        if not tails.acquire(who.name):
            response = _problem(429, "too many live tails", f"at most {api.tail_max_per_key} live tails per key and "
                                f"{api.tail_max_total} in all are served at once")
            response.headers["Retry-After"] = str(_TAIL_RETRY_AFTER_S)
            return response
        follower = Follower(es.options(request_timeout=api.query_timeout_s), filters, api.tail_page_size, position,
                            uuid.uuid4().hex)

        event_id = signer.signing("Last-Event-ID", who)
        async def events():  # noqa: ANN202
            started, quiet_since = False, time.monotonic()
            while True:
                delivered = 0
                try:
                    view = await watcher.view()
                    if not started:  # the starting point, before any document: a reconnect resumes from it
                        follower.track(view)
                        yield sse("hello", {"detail": "following"}, event_id(follower.position))
                        started = True
                    async for page in follower.run(view, event_id):
                        delivered += len(page)
                        # One write per page: a write per event costs more than the event.
                        yield b"".join(sse("log", doc, eid) for eid, doc in page)
                except (ApiError, TransportError) as exc:
                    log.warning("tail query failed: %s", exc)
                    yield sse("error", {"detail": "Elasticsearch could not answer; retrying"})
                    await asyncio.sleep(min(poll_s * 5, 10))
                    continue
                if delivered:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= _TAIL_KEEP_ALIVE_S:
                    # A comment line: proxies keep the stream open, and a client that vanished is noticed (the
                    # write fails) and its slot freed.
                    yield b": keep-alive\n\n"
                    quiet_since = time.monotonic()
                if not delivered:  # caught up: only then wait
                    await asyncio.sleep(poll_s)

        return _TailResponse(events(), lambda: tails.release(who.name), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app
