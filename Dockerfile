# ml-connector: one image with every process, the `mlc` command and the
# simulators. compose.yaml runs one container per process from it; the
# command names the process (deploy/docker/mlc-entrypoint).
#
#   docker build -t ml-connector .
#   docker run --rm ml-connector mlc --help
#
# Build stage: Debian 12 with the build dependencies of scripts/bootstrap.
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libcurl4-openssl-dev libzmq3-dev libmsgpack-dev libssl-dev liblmdb-dev \
      libjansson-dev libmicrohttpd-dev libcmocka-dev libfyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# RelWithDebInfo (-O2) is what the demo and the benchmarks run; symbols are
# stripped at install so the image stays small. Warnings do not fail the
# image build (MLC_WERROR=OFF): scripts/test enforces them on every change,
# and an optimizer-only warning must not stop a deployment.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLC_WERROR=OFF \
 && cmake --build /build -j"$(nproc)" --target \
      mlc mlc-poller mlc-formatter mlc-dispatcher mlc-auditor mlc-x3sim mlc-slacksim \
 && mkdir -p /out/usr/local/bin \
 && install -s -m 0755 \
      /build/cli/mlc /build/poller/mlc-poller /build/formatter/mlc-formatter \
      /build/dispatcher/mlc-dispatcher /build/auditor/mlc-auditor \
      /build/sim/mlc-x3sim /build/sim/mlc-slacksim \
      /out/usr/local/bin/ \
 && install -m 0755 deploy/docker/mlc-entrypoint /out/usr/local/bin/mlc-entrypoint

# Runtime stage: Debian 12 slim with only the shared libraries the binaries
# link (tests/e2e/test_deploy.py checks this list against the binaries).
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libzmq5 libmsgpackc2 libssl3 liblmdb0 libjansson4 \
      libmicrohttpd12 libfyaml0 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid so secret files and volumes can be given to it on the host.
RUN groupadd --system --gid 10001 mlc \
 && useradd --system --uid 10001 --gid mlc --home-dir /var/lib/mlc --no-create-home \
      --shell /usr/sbin/nologin mlc \
 && mkdir -p /var/lib/mlc /run/mlc /etc/mlc \
 && chown mlc:mlc /var/lib/mlc /run/mlc
COPY --from=build /out/ /
COPY config/mlc.example.yaml /etc/mlc/mlc.example.yaml
USER 10001:10001
WORKDIR /var/lib/mlc
ENV MLC_CONFIG_SOURCE=/etc/mlc/mlc.yaml \
    MLC_CONFIG=/run/mlc/mlc.yaml
# poller 7100, formatter 7200-7201, dispatchers 7300-7363, auditor 7400-7401
# (+ auditor_ctl/ack 8400-8401), simulators 8124/8125.
EXPOSE 7100 7200 7201 7300-7363 7400 7401 8400 8401
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["mlc-entrypoint", "health"]
ENTRYPOINT ["mlc-entrypoint"]
CMD ["help"]
