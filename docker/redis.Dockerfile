# SPDX-License-Identifier: MIT
# Redis for the TCPChat cluster (compose.cluster.yaml): Debian's redis-server
# on the same local debian:bookworm-slim base as docker/Dockerfile, so nothing
# is pulled but that base. Plain Dockerfile syntax, as docker/Dockerfile.
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="TCPChat cluster Redis" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# redis-server brings redis-tools (redis-cli: the healthcheck).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
# Everything on the command line, no config file: what runs is what
# compose.cluster.yaml says. The AOF (appendonly) on /data is the cluster's
# history: fsync always, so a line a client saw survives a power cut too
# (docs/CLUSTER.md, "Redis"). No RDB snapshots: the AOF is the one copy.
# No password and protected mode off: this Redis is reachable on the
# compose network only, never published; see docs/CLUSTER.md before
# exposing it.
ENTRYPOINT ["redis-server"]
CMD ["--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", "--dir", "/data", \
     "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
