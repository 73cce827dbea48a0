# One image for every role: `logjet collect|process|serve` (the role is the command).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY logjet ./logjet
COPY collectors ./collectors
COPY processor ./processor
COPY shippers ./shippers
COPY api ./api
COPY cli ./cli
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 logjet \
 && useradd --system --uid 10001 --gid logjet --home-dir /var/lib/logjet --create-home logjet
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /var/lib/logjet
# Each role serves /healthz on its own port: the API on 8080, the collector and processor where their
# metrics_port says. Point LOGJET_HEALTHCHECK_URL at the role's.
ENV LOGJET_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz PYTHONUNBUFFERED=1
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['LOGJET_HEALTHCHECK_URL'], timeout=2)"]
ENTRYPOINT ["logjet"]
CMD ["serve", "--host", "0.0.0.0"]
