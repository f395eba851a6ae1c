# syntax=docker/dockerfile:1
#
# kubelab's container image: one static-ish binary (labs, templates and static files are embedded)
# on a slim Debian, running as a non-root user. Build it from the repository root:
#
#   docker build -t kubelab:0.1.0 .
#
# See deploy/README.md for running it in a cluster.

# ---- build ------------------------------------------------------------------------------------
# Rust 1.95 (the crate's rust-version) on Debian bookworm, so the binary links against the same
# glibc as the runtime stage below.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole context (see .dockerignore): Cargo.toml names benches and tests by path, and the
# binary embeds labs/, static/, templates/ and migrations/ at compile time.
COPY . .
# The cache mounts keep the crate registry and target/ between builds (BuildKit); the binary is
# copied out of the cached target/ because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin kubelab \
    && install -D -m 0755 target/release/kubelab /out/kubelab

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: PostgreSQL over TLS and API servers whose CA is a public one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 kubelab \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/kubelab \
       --no-create-home --shell /usr/sbin/nologin kubelab \
    && install -d -m 0750 -o 10001 -g 10001 /var/lib/kubelab
COPY --from=build /out/kubelab /usr/local/bin/kubelab
# The progress database (SQLite) lives here; mount a volume (a PVC in deploy/) to keep it.
VOLUME ["/var/lib/kubelab"]
WORKDIR /var/lib/kubelab
# Numeric so Kubernetes can check runAsNonRoot without resolving the name.
USER 10001:10001
EXPOSE 8080
# Without a kubeconfig (none is in the image), kubelab uses the Pod's in-cluster config.
ENTRYPOINT ["kubelab"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--database-url", "sqlite:///var/lib/kubelab/kubelab.db"]
