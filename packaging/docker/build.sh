#!/bin/bash
# make docker: the base image when missing (base.sh), a build context with
# the sources and the vendored crates (`cargo vendor`, so the build inside
# the image needs no crate registry), then `docker build`.
# Usage: build.sh IMAGE BASE_IMAGE
set -euo pipefail
image=${1:?usage: build.sh IMAGE BASE_IMAGE}
base=${2:?}
repo=$(cd "$(dirname "$0")/../.." && pwd)
context="$repo/target/docker/context"
say() { echo "docker: $*"; }
start=$(date +%s)

"$repo/packaging/docker/base.sh" "$base"
rm -rf "$context"
mkdir -p "$context/.cargo"
(cd "$repo" && cp -a Cargo.toml Cargo.lock build.rs wrapper.h Makefile Dockerfile LICENSE README.md \
    src doc conf packaging "$context/")
say "cargo vendor into the build context"
(cd "$repo" && cargo vendor --locked --quiet "$context/vendor" >/dev/null)
# Relative to the directory that holds .cargo/, i.e. /src in the image.
printf '[source.crates-io]\nreplace-with = "vendored-sources"\n\n[source.vendored-sources]\ndirectory = "vendor"\n' \
    > "$context/.cargo/config.toml"
say "docker build -t $image (context $(du -sh "$context" | cut -f1))"
docker build --network host --build-arg "BASE=$base" -t "$image" "$context"
rm -rf "$context"
say "image $image built in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
