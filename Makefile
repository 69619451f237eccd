# camgate: `make demo` brings up a local testbed gateway and deploys to it; `make test` proves it.
# Runs as root on Debian 12 (the testbed uses systemd-nspawn and network namespaces).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What this machine needs to run the testbed and check streams (the gateway installs its own);
# ruby: the tool tests check the Vagrantfile (ruby -c) and parse the CI example's YAML.
# chromium: the real player (hls.js) the tests play streams in; node and npm come with the machine
# (Debian's nodejs is too old for playwright-core). njs: the tool tests run the gateway's njs module
# (the engine of the gateway's libnginx-mod-http-js) without a gateway.
# gstreamer1.0-nice, gir1.2-gst-plugins-bad-1.0: the tool tests run camgate-webrtc (GStreamer's webrtcbin,
# camgate/gateway/webrtc.py) on this machine as a gateway would.
# prometheus: a real Prometheus scrapes the testbed gateway; promtool checks the rules and metrics.
# qemu-system-x86, qemu-utils, vagrant, vagrant-libvirt, libvirt-daemon-system, libvirt-clients,
# dnsmasq-base: the VM phase (tests/vm) brings up the Vagrantfile's VM through libvirt from a box
# built from Debian's packages (tests/testbed/vagrant_box.py; vagrant ships the insecure key the box
# lets in; dnsmasq serves the DHCP of libvirt's networks).
HOST_PACKAGES := mmdebstrap systemd-container iproute2 nftables openssh-client openssl zstd ffmpeg curl pebble ruby chromium njs prometheus mtail \
	qemu-system-x86 qemu-utils vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients dnsmasq-base \
	python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0

PLAYERS := tests/players

.PHONY: setup host-packages demo demo-down test test-vm unit vagrant-box

setup: host-packages $(BIN)/camgate $(PLAYERS)/node_modules/.installed

host-packages:
	@missing=$$(for p in $(HOST_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "apt: installing" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/camgate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# hls.js and playwright-core for the browser player (tests/players); reruns when the lockfile changes.
$(PLAYERS)/node_modules/.installed: $(PLAYERS)/package-lock.json $(PLAYERS)/package.json
	npm ci --prefix $(PLAYERS) --no-audit --no-fund
	touch $@

demo: setup
	$(BIN)/camgate testbed up
	$(BIN)/pyinfra -y inventory/testbed.py deploy.py
	$(BIN)/camgate urls inventory/testbed.py

# A Debian 12 Vagrant box for the libvirt provider, from Debian's packages (cached by its inputs).
vagrant-box: setup
	$(BIN)/python -m tests.testbed.vagrant_box

demo-down:
	$(BIN)/camgate testbed down

unit: setup
	$(BIN)/pytest -q tests/unit

# Everything on Debian 12 but the VM; then the every_release subset on Debian 13 and, beside it, the
# VM phase (tests/vm: a Vagrant VM under software emulation, deployed to and rebooted), whose output
# is printed when both are done. All run even when one fails; the target fails if any did. The VM
# phase runs at a lower priority: QEMU's emulation takes what the subset leaves. (Run side by side
# with Debian 12's tools tests, the subset's load made a wall-clock recording tool test lose a file:
# kept apart.)
VM_LOG := build/vm-phase.log
test: setup
	status=0; \
	$(BIN)/pytest -ra --durations=20 --ignore=tests/vm tests || status=$$?; \
	mkdir -p $(dir $(VM_LOG)); \
	nice -n 10 $(BIN)/pytest -ra --durations=10 tests/vm > $(VM_LOG) 2>&1 & vm=$$!; \
	CAMGATE_TEST_SUITE=trixie $(BIN)/pytest -ra --durations=10 -m every_release tests/integration || status=$$?; \
	wait $$vm || status=$$?; \
	echo "===== VM phase (tests/vm, $(VM_LOG)) ====="; cat $(VM_LOG); \
	exit $$status

# The VM phase alone (a Vagrant VM through vagrant-libvirt; docs/testbed.md, "The VM phase").
test-vm: setup
	$(BIN)/pytest -ra tests/vm
