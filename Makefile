# res_sticky — build, install and test.
#
#   make            build res_sticky.so (against asterisk-headers/ or ASTERISK_INCLUDE_DIR)
#   make install    install the module, sample config and XML docs
#   make demo       run the scripted demo in the test root
#   make test       lint, unit tests and integration tests against a real Asterisk
#   make deb        a Debian package for the test root's Asterisk (make deb-test tests it)
#   make docker     an image with Debian sid's Asterisk 22 and the module (make docker-test)
#
# Each target first checks the host packages it needs (packaging/host-packages)
# and installs the missing ones when run as root, else prints the command.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# The Debian sid root the tests run Asterisk 22 in (cached outside git).
STICKY_ROOT ?= /var/cache/res-sticky/root
export STICKY_ROOT

# Headers of the Asterisk the module will load into.
ifeq ($(origin ASTERISK_INCLUDE_DIR), undefined)
HEADERS := asterisk-headers/asterisk.h
HEADERS_DIR := asterisk-headers
# The Debian system whose asterisk package `make deb` builds for.
DEB_TARGET ?= $(STICKY_ROOT)
else
HEADERS :=
HEADERS_DIR := $(ASTERISK_INCLUDE_DIR)
DEB_TARGET ?= /
export ASTERISK_INCLUDE_DIR
endif

CARGO ?= cargo
MODULE := res_sticky.so
SOURCES := $(shell find src -type f) Cargo.toml build.rs wrapper.h $(wildcard Cargo.lock)

# Install locations (Debian's layout by default; DESTDIR for staging).
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)
MODULES_DIR ?= $(shell for d in /usr/lib/$(MULTIARCH)/asterisk/modules /usr/lib/asterisk/modules /usr/lib64/asterisk/modules; do [ -d "$(DESTDIR)$$d" ] && { echo $$d; break; }; done; true)
ASTETCDIR ?= /etc/asterisk
ASTDATADIR ?= $(shell [ -d "$(DESTDIR)/usr/share/asterisk/documentation" ] && echo /usr/share/asterisk || echo /var/lib/asterisk)

.PHONY: all headers root install lint msrv unit integration test demo bench bench-smoke soak fleet clean setup-build setup-test setup-deb deb deb-test docker-engine docker docker-test

all: $(MODULE)

# Host packages (and rustup components) from packaging/host-packages.
setup-build:
	@packaging/host-setup.sh build
setup-test:
	@packaging/host-setup.sh test
setup-deb:
	@packaging/host-setup.sh deb

$(MODULE): $(SOURCES) $(HEADERS) | setup-build
	$(CARGO) build --release --locked
	cp target/release/libres_sticky.so $@

# Fill asterisk-headers/ from the test root's asterisk-dev: the same package
# build as the Asterisk the tests load the module into.
headers: asterisk-headers/asterisk.h

asterisk-headers/asterisk.h: tests/root/packages.txt
	$(MAKE) root
	rm -rf asterisk-headers
	mkdir -p asterisk-headers
	cp -a $(STICKY_ROOT)/usr/include/asterisk.h $(STICKY_ROOT)/usr/include/asterisk asterisk-headers/
	touch $@

root: | setup-test
	tests/root/provision.sh $(STICKY_ROOT)

install: $(MODULE)
	@[ -n "$(MODULES_DIR)" ] || { echo "no Asterisk modules directory found: set MODULES_DIR" >&2; exit 1; }
	install -D -m 0644 $(MODULE) $(DESTDIR)$(MODULES_DIR)/$(MODULE)
	install -D -m 0644 doc/res_sticky-en_US.xml $(DESTDIR)$(ASTDATADIR)/documentation/thirdparty/res_sticky-en_US.xml
	@if [ -e $(DESTDIR)$(ASTETCDIR)/sticky.conf ]; then \
		echo "keeping the existing $(DESTDIR)$(ASTETCDIR)/sticky.conf"; \
	else \
		install -D -m 0640 conf/sticky.conf.sample $(DESTDIR)$(ASTETCDIR)/sticky.conf; \
	fi
	@echo "installed $(MODULE) into $(DESTDIR)$(MODULES_DIR); load it with: asterisk -rx 'module load $(MODULE)'"

lint: $(HEADERS) | setup-test
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# The oldest Rust Cargo.toml promises (rust-version) still builds the module.
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
msrv: $(HEADERS) | setup-test
	rustup toolchain list | grep -q '^$(MSRV)' || rustup toolchain install $(MSRV) --profile minimal
	$(CARGO) +$(MSRV) check --locked --lib --target-dir target/msrv

unit: | setup-build
	$(CARGO) test --locked --lib --no-default-features

integration: $(MODULE) root | setup-test
	RES_STICKY_SO=$(CURDIR)/$(MODULE) tests/run-integration.sh

test: lint msrv unit integration bench-smoke

demo: $(MODULE) root | setup-test
	RES_STICKY_SO=$(CURDIR)/$(MODULE) tests/demo.sh

# res_sticky against func_odbc at call-centre scale (BENCHMARKS.md): a
# generated FreePBX cdr of each size in BENCH_SIZES in each store of
# BENCH_STORES, imported, every lookup timed; concurrency, memory and the
# writer; the table in target/bench-report.md, the plot in doc/bench-growth.png.
# BENCH_SIZES (default 10k,100k,1M; 10M fits too), BENCH_STORES (default all
# three), BENCH_QUICK=1: every sample count shrunk, sizes default 2k.
BENCH_SIZES ?=
BENCH_STORES ?=
BENCH_QUICK ?=
bench: $(MODULE) root
	RES_STICKY_SO=$(CURDIR)/$(MODULE) BENCH_SIZES=$(BENCH_SIZES) BENCH_STORES=$(BENCH_STORES) BENCH_QUICK=$(BENCH_QUICK) \
		$(CARGO) run --quiet --locked --release --example bench

# The bench in seconds, so that it cannot rot (make test runs it): 2,000
# rows in SQLite, tiny sample counts, the plot into target/.
bench-smoke: $(MODULE) root
	RES_STICKY_SO=$(CURDIR)/$(MODULE) BENCH_SIZES=2k BENCH_STORES=sqlite BENCH_QUICK=1 \
		$(CARGO) run --quiet --locked --release --example bench

# Many servers on one PostgreSQL (BENCHMARKS.md): four real Asterisk servers
# taking calls, alone and beside FLEET_SYNTHETIC (default 0,50,200) synthetic
# servers (pgbench with their statements), FLEET_SECONDS (default 60) a phase.
FLEET_SYNTHETIC ?= 0,50,200
FLEET_SECONDS ?= 60
fleet: $(MODULE) root
	RES_STICKY_SO=$(CURDIR)/$(MODULE) FLEET_SYNTHETIC=$(FLEET_SYNTHETIC) FLEET_SECONDS=$(FLEET_SECONDS) \
		$(CARGO) run --quiet --locked --release --example fleet

# Calls, reloads and database faults for SOAK_MINUTES (default 10); prints
# calls, decisions, waits, contacts learned against rows stored, and the
# process's memory, threads and descriptors. RELIABILITY.md has a long run.
SOAK_MINUTES ?= 10
soak: $(MODULE) root
	RES_STICKY_SO=$(CURDIR)/$(MODULE) SOAK_MINUTES=$(SOAK_MINUTES) $(CARGO) run --quiet --locked --release --example soak

# res-sticky_<version>_<arch>.deb for DEB_TARGET's Asterisk (default: the
# test root's; with ASTERISK_INCLUDE_DIR: this machine's), into DEB_DIR.
DEB_DIR ?= .
deb: $(MODULE) | setup-deb
	packaging/deb/build.sh $(MODULE) $(HEADERS_DIR) $(DEB_TARGET) $(DEB_DIR)

# Installs, upgrades, removes and purges the package in a copy of the test
# root, with a call routed in between; then lintian.
deb-test: deb root | setup-deb
	packaging/deb/test.sh $(DEB_DIR) $(STICKY_ROOT)

# An image with Debian sid's Asterisk 22 and the module (Dockerfile); the
# base image is made by debootstrap + docker import when missing, the Rust
# build inside runs offline from crates vendored into the build context.
DOCKER_IMAGE ?= res-sticky
DOCKER_BASE ?= res-sticky-base:sid
docker-engine: | setup-test
	@packaging/docker/engine.sh

docker: docker-engine
	packaging/docker/build.sh $(DOCKER_IMAGE) $(DOCKER_BASE)

# That image, started as a user would: the module loaded, a call routed
# through STICKY_ROUTE, a SCHEDULE_NOTICE delivered, sticky show status.
docker-test: docker
	packaging/docker/test.sh $(DOCKER_IMAGE)

clean:
	$(CARGO) clean
	rm -f $(MODULE)

# Every fuzz target (fuzz/, cargo-fuzz on the nightly toolchain) for
# FUZZ_SECONDS each, one at a time; prints executions per target.
FUZZ_SECONDS ?= 30
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# Integration scenarios with Asterisk under valgrind memcheck in the test
# root (one at a time, every wait STICKY_SLOWDOWN times longer); prints the
# errors attributable to res_sticky apart from Asterisk's own.
.PHONY: memcheck
memcheck: $(MODULE) root
	RES_STICKY_SO=$(CURDIR)/$(MODULE) tests/memcheck.sh
