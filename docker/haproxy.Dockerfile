# SPDX-License-Identifier: MIT
# HAProxy in front of the TCPChat cluster (compose.cluster.yaml): Debian's
# haproxy on the same local debian:bookworm-slim base as docker/Dockerfile.
# Its configuration is docker/haproxy.cfg. Plain Dockerfile syntax.
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="TCPChat cluster HAProxy" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY docker/haproxy.cfg /etc/haproxy/haproxy.cfg
# A broken configuration fails the build, not the first `up`. The node
# names do not resolve here: -c only warns about them.
RUN haproxy -c -f /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8989 8080
# -db: in the foreground, logging to stdout (docker logs); -W: master-worker,
# so SIGUSR2 reloads the configuration. SIGTERM stops it at once.
ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
