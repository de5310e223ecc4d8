# centinela image: docker build -t centinela:0.1.0 .
#
# Build stage: the same command CI runs (scripts/build-release.sh).
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/build-release.sh

# Runtime: Debian slim with CA certificates (TLS to Slack, PagerDuty and PostgreSQL) and
# a shell for `kubectl exec`; no compiler, no curl (the health check is centinela's own).
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 centinela \
 && useradd --system --uid 10001 --gid centinela --home-dir /var/lib/centinela \
      --shell /usr/sbin/nologin centinela \
 && install -d -o centinela -g centinela -m 0750 /var/lib/centinela \
 && install -d -m 0755 /etc/centinela
COPY --from=build /src/target/release/centinela /usr/local/bin/centinela
COPY --from=build /src/examples/centinela.toml /usr/share/doc/centinela/centinela.toml.example
USER 10001:10001
# Alert state and the notification queue (alerting.state_dir).
VOLUME ["/var/lib/centinela"]
EXPOSE 9432
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["centinela", "healthcheck"]
ENTRYPOINT ["centinela"]
CMD ["run"]
