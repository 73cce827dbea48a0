# One image for every role: `logjet collect|process|serve` (the role is the command).
# The compiled core (native/) is built here: Rust from the official image, at the crate's rust-version or newer.
FROM rust:1.82-slim-bookworm AS rust

FROM python:3.11-slim-bookworm AS build
COPY --from=rust /usr/local/rustup /usr/local/rustup
COPY --from=rust /usr/local/cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
# The linker Rust needs; this stage is thrown away, so its unpinned packages never reach the image.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY native ./native
COPY logjet ./logjet
COPY collectors ./collectors
COPY processor ./processor
COPY shippers ./shippers
COPY api ./api
COPY cli ./cli
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
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
