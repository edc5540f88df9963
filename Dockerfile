# syntax=docker/dockerfile:1
# The magasin server image: built with the Rust toolchain, run on Debian slim as an
# unprivileged user. `docker build -t magasin .`; docker-compose.yml, deploy/k8s/ and CI
# use it. See docker-compose.yml for the variables an instance needs.

FROM rust:1-bookworm AS builder
WORKDIR /src
# The whole source tree (.dockerignore leaves out target/, data/ and what the build does
# not read): config/ and web/ are built into the binary.
COPY . .
# Cache mounts keep the registry and target/ between local builds, so that a change in
# src/ rebuilds magasin only, not its dependencies. The binary is copied out of the cache
# in the same step, since the cache is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin magasin \
    && install -m 0755 target/release/magasin /usr/local/bin/magasin

FROM debian:bookworm-slim
# curl answers the health check; ca-certificates for any https call an operator adds.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so that Kubernetes can check runAsNonRoot and a volume can be
# given to it (fsGroup) without knowing the image.
RUN groupadd --system --gid 10001 magasin \
    && useradd --system --uid 10001 --gid magasin --home-dir /var/lib/magasin \
        --no-create-home --shell /usr/sbin/nologin magasin \
    && install -d -o magasin -g magasin -m 0750 /var/lib/magasin
COPY --from=builder /usr/local/bin/magasin /usr/local/bin/magasin

# The same settings as the flags below, so that `docker run magasin compact` or
# `docker run magasin --no-demo-data` find the data where `serve` keeps it.
ENV MAGASIN_BIND=0.0.0.0:8080 \
    MAGASIN_DATA_DIR=/var/lib/magasin \
    MAGASIN_LOG_FORMAT=json
USER 10001:10001
VOLUME /var/lib/magasin
EXPOSE 8080
# Ready means recovered and accepting writes (503 until then, and when the journal
# refuses writes). Recovering a long journal takes a while: the start period allows it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/health/ready || exit 1
# SIGTERM is a graceful stop: snapshots written, journal drained. Give it 30 s
# (`docker stop -t 30`, stop_grace_period, terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["magasin"]
CMD ["serve", "--bind", "0.0.0.0:8080", "--data-dir", "/var/lib/magasin"]
