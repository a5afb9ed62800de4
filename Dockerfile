# The flyte-sql executor image: `flyte-sql` and the `pyflyte-execute` drop-in on a slim Debian.
#
#   docker build -t <registry>/flyte-sql:0.1.0 .
#
# No container engine runs in our CI: `cargo xtask image-check` proves the final stage instead (the
# same release build, a bookworm root file system with exactly docker/runtime-packages.txt, the
# same paths and user, ldd and a propeller-style SQLite run). Keep the two in step; its tests
# check that this file says what it assumes.

# Build stage: the Rust toolchain of the workspace's rust-version. Every backend is pure Rust or
# bundled (SQLite), so no client library's headers are needed.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p flyte-sql --features all-backends

# Final stage: only the runtime libraries (docker/runtime-packages.txt), a non-root user, the binary.
FROM debian:bookworm-slim
COPY docker/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
    && sed 's/#.*//' /tmp/runtime-packages.txt | xargs apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
RUN useradd --uid 1000 --user-group --create-home flytesql
COPY --from=build /src/target/release/flyte-sql /usr/local/bin/flyte-sql
# Flyte starts Python-defined SQLAlchemyTasks with `pyflyte-execute ...`: the binary invoked under
# that name takes those args unchanged.
RUN ln -s flyte-sql /usr/local/bin/pyflyte-execute
USER flytesql
WORKDIR /home/flytesql
