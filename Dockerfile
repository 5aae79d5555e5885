# aerobench in a container, e.g. for the Kubernetes Job in deploy/k8s/.
#   docker build -t aerobench:latest .
# The embedded Python needs a CPython 3.11 with a shared libpython at build and run time (the
# Python client columns install their pinned packages with pip on first use, into
# AEROBENCH_CACHE_DIR; mount a volume there to keep them between runs).
FROM rust:1-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PYO3_PYTHON=/usr/bin/python3.11
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/aerobench /usr/local/bin/aerobench

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpython3.11 python3.11 python3-pip python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/aerobench /usr/local/bin/aerobench
ENV AEROBENCH_CACHE_DIR=/var/cache/aerobench
RUN useradd --create-home aerobench && mkdir -p /var/cache/aerobench && chown aerobench /var/cache/aerobench
USER aerobench
ENTRYPOINT []
CMD ["aerobench", "--help"]
