# Asterisk 22 from Debian sid with res_sticky, built from this checkout.
# Build it with `make docker`, not `docker build .`: make prepares the build
# context (the sources and `cargo vendor`'s crates, so the Rust build below
# runs offline) and the base image (debootstrap of sid, `docker import`).
# Run it (README.md, "Docker"):
#   docker run -d --name asterisk --network host \
#     -v res-sticky-etc:/etc/asterisk -v res-sticky-lib:/var/lib/asterisk \
#     -v res-sticky-spool:/var/spool/asterisk res-sticky
ARG BASE=res-sticky-base:sid

# Stage 1: the module and its Debian package, built against the asterisk-dev
# of the same Debian as the image below (asterisk itself for its ABI name).
FROM ${BASE} AS build
COPY packaging/host-packages /tmp/host-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y \
      $(awk '!/^#/ && $2 == "build" { print $1 }' /tmp/host-packages) \
      rustc cargo asterisk asterisk-dev dpkg-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# What the Rust build reads, first: a change elsewhere (docs, packaging)
# reuses the compiled module from the build cache.
COPY .cargo /src/.cargo
COPY vendor /src/vendor
COPY Cargo.toml Cargo.lock build.rs wrapper.h Makefile /src/
COPY packaging/host-setup.sh packaging/host-packages /src/packaging/
COPY src /src/src
RUN make ASTERISK_INCLUDE_DIR=/usr/include CARGO="cargo --offline" res_sticky.so
COPY . /src
RUN packaging/deb/build.sh res_sticky.so /usr/include / /out

# Stage 2: what runs. Asterisk and the module come as packages; no compiler.
FROM ${BASE}
COPY --from=build /out/ /tmp/res-sticky/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y \
      /tmp/res-sticky/res-sticky_*.deb asterisk-core-sounds-en-gsm tzdata \
 && rm -rf /var/lib/apt/lists/* /tmp/res-sticky \
 && mkdir -p /run/asterisk && chown asterisk:asterisk /run/asterisk
# Configuration, history (sticky.sqlite3, sticky-journal/, astdb) and the
# spool (scheduled notices) outlive the container.
VOLUME ["/etc/asterisk", "/var/lib/asterisk", "/var/spool/asterisk"]
CMD ["asterisk", "-f", "-U", "asterisk", "-G", "asterisk"]
