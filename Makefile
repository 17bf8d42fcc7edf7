# SPDX-License-Identifier: BSD-2-Clause
# The two commands of the README:
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test
# Both are quick the second time: packages are checked, not reinstalled.

BUILD     ?= build
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKEFLAGS ?=

# Debian 12 packages: build, run, and test dependencies (DESIGN §1).
PACKAGES = build-essential cmake pkg-config git openssl \
           libssl-dev libjansson-dev libpcsclite-dev libreadline-dev libcmocka-dev \
           pcscd vsmartcard-vpcd opensc opensc-pkcs11 yubico-piv-tool pcsc-tools \
           clang libclang-rt-14-dev systemd procps iproute2 psmisc jq python3 \
           chromium man-db dpkg-dev softhsm2 libp11-kit-dev

.PHONY: all deps build demo test clean

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKEFLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash tests/demo.sh $(BUILD)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
