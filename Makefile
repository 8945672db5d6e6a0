# SPDX-License-Identifier: MIT
# TCPChat: `make`, `make test`, `make install PREFIX=... DESTDIR=...`, `make clean`.
# Sanitizer builds live beside the plain one: `make test SANITIZE=address,undefined`,
# `make test SANITIZE=thread`. `make help` lists every target.

CC       ?= cc
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SANITIZE ?=
comma    := ,

PKGS      := libczmq libzmq icu-uc icu-i18n libtelnet libsystemd libwebsockets hiredis
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iinclude -D_GNU_SOURCE
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SAN_FLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lczmq -lzmq -licui18n -licuuc -licudata -ltelnet -lsystemd -lwebsockets -lhiredis) -lpthread
TEST_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

ifeq ($(SANITIZE),)
  VARIANT   := plain
  SAN_FLAGS :=
else
  VARIANT   := $(subst $(comma),-,$(SANITIZE))
  SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
B := build/$(VARIANT)

LIB_SRC   := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard actors/*.c)
# The chat page (web/), embedded in the binary: a generated C file.
WEB_FILES := $(wildcard web/*.html) $(wildcard web/*.js) $(wildcard web/*.css)
LIB_OBJ   := $(patsubst %.c,$(B)/%.o,$(LIB_SRC)) $(B)/gen/web_assets.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
E2E_LIB   := $(filter-out tests/e2e/test_%.c,$(wildcard tests/e2e/*.c))
E2E_SRC   := $(wildcard tests/e2e/test_*.c)
E2E_BIN   := $(patsubst tests/e2e/%.c,$(B)/tests/e2e/%,$(E2E_SRC))
# The web gateway's end-to-end tests: Python (Debian's python3-websockets)
# against the real binary; each prints cmocka's summary for tests/run.sh.
WEB_TESTS := $(wildcard tests/web/test_*.py)
HEADERS   := $(wildcard include/*.h)
E2E_HDR   := $(wildcard tests/e2e/*.h)
# Cluster mode end to end (issue 10): 3 nodes on a real redis-server.
CL_LIB    := $(filter-out tests/cluster/test_%.c,$(wildcard tests/cluster/*.c))
CL_SRC    := $(wildcard tests/cluster/test_*.c)
CL_BIN    := $(patsubst tests/cluster/%.c,$(B)/tests/cluster/%,$(CL_SRC))
CL_HDR    := $(wildcard tests/cluster/*.h)
TEST_HDR  := $(wildcard tests/*.h tests/unit/*.h)
TEST_LIB  := tests/client_check.c tests/redis_server.c

# The version --version prints: `git describe` in a clone, else the VERSION
# file (a release tarball has no .git). Only config.o sees it, so a new
# commit recompiles one file.
VERSION := $(shell sh scripts/version.sh)

.PHONY: all check check-spdx check-tsan-race format check-format test test-build test-unit test-e2e test-web test-browser test-cluster test-valgrind fuzz fuzz-check-cc deps install uninstall \
        clean docker-test help check-man check-units check-docs dist FORCE
all: TCPChat ## the default: ./TCPChat

# `make help`: every target with its line (the `##` comments below).
help: ## this list
	@echo "TCPChat $(VERSION): make [TARGET] [CC=...] [CFLAGS=...] [SANITIZE=...] [PREFIX=...]"
	@sed -n 's/^\([a-zA-Z0-9_.-]*\):.*## \(.*\)/  \1|\2/p' $(MAKEFILE_LIST) | awk -F'|' '{ printf "%-24s %s\n", $$1, $$2 }'

# Objects depend on the exact compile and link command: `make CC=clang` or
# `make CFLAGS=-O0` rebuilds instead of saying "up to date". Rewritten only
# when it changes.
FLAGS_TEXT = $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) $(LIBS)
$(B)/flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(subst ','\'',$(FLAGS_TEXT))' | cmp -s - $@ || echo '$(subst ','\'',$(FLAGS_TEXT))' > $@
$(B)/version: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(B)/src/config.o: $(B)/version
$(B)/src/config.o: CPPFLAGS += -DTCPCHAT_VERSION='"$(VERSION)"'

TCPChat: $(B)/TCPChat ## the server, ./TCPChat
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/TCPChat: $(B)/src/main.o $(B)/libtcpchat.a $(B)/flags
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(B)/src/main.o $(B)/libtcpchat.a $(LIBS)

# Built aside and renamed, so a concurrent or interrupted build never
# leaves a half-written archive behind.
$(B)/libtcpchat.a: $(LIB_OBJ)
	rm -f $@.tmp && $(AR) rcs $@.tmp $^ && mv -f $@.tmp $@

$(B)/gen/web_assets.c build/fuzz/gen/web_assets.c: $(WEB_FILES) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-web.sh $@ $(WEB_FILES)

$(B)/gen/web_assets.o: $(B)/gen/web_assets.c $(HEADERS) $(B)/flags
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(B)/%.o: %.c $(HEADERS) $(B)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/unit/%: tests/unit/%.c $(TEST_LIB) $(B)/libtcpchat.a $(HEADERS) $(TEST_HDR) $(B)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_LIB) $(B)/libtcpchat.a $(LIBS) $(TEST_LIBS)

# test_protocol reads docs/PROTOCOL.md and include/protocol.h from the tree
# (TCPCHAT_TREE in the environment wins): the doc may never drift from the
# texts.
$(B)/tests/unit/test_protocol: CPPFLAGS += -DTCPCHAT_TREE='"$(CURDIR)"'
$(B)/tests/unit/test_protocol: docs/PROTOCOL.md

$(B)/tests/e2e/%: tests/e2e/%.c $(E2E_LIB) $(TEST_LIB) $(B)/libtcpchat.a $(HEADERS) $(E2E_HDR) $(TEST_HDR) $(B)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/e2e $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(E2E_LIB) $(TEST_LIB) $(B)/libtcpchat.a $(LIBS) $(TEST_LIBS)

$(B)/tests/cluster/%: tests/cluster/%.c $(CL_LIB) $(E2E_LIB) $(TEST_LIB) $(B)/libtcpchat.a $(HEADERS) $(E2E_HDR) $(CL_HDR) $(TEST_HDR) $(B)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/e2e -Itests/cluster $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(CL_LIB) $(E2E_LIB) $(TEST_LIB) $(B)/libtcpchat.a $(LIBS) $(TEST_LIBS)

# Installs missing build dependencies on Debian/Ubuntu (and says so).
deps: ## install missing build dependencies (Debian/Ubuntu)
	@sh scripts/ensure-deps.sh

# The e2e suite checks that --version prints what this build was given.
export TCPCHAT_EXPECT_VERSION := $(VERSION)

test: deps ## build and run every unit and end-to-end test
	@$(MAKE) --no-print-directory test-build
	@sh tests/run.sh $(B) $(UNIT_BIN) $(E2E_BIN) $(CL_BIN) $(WEB_TESTS)

check: test ## the same as make test

test-build: $(B)/TCPChat $(UNIT_BIN) $(E2E_BIN) $(CL_BIN) ## build the server and every test, run none

test-unit: $(UNIT_BIN) ## the unit tests only
	@sh tests/run.sh $(B) $(UNIT_BIN)

test-e2e: $(B)/TCPChat $(E2E_BIN) ## the end-to-end tests only
	@sh tests/run.sh $(B) $(E2E_BIN)

test-web: $(B)/TCPChat ## the web gateway's end-to-end tests (tests/web/*.py) only
	@sh tests/run.sh $(B) $(WEB_TESTS)

# The chat page in headless Chromium (Selenium), against the real server and
# an nc user; screenshots in build/browser/. Debian's chromium,
# chromium-driver and python3-selenium; nothing is downloaded.
test-browser: $(B)/TCPChat ## the chat page in headless Chromium (needs chromium, chromium-driver, python3-selenium)
	@TCPCHAT_SHOTS=$(CURDIR)/build/browser /usr/bin/python3 tests/browser/test_browser.py $(B)/TCPChat

test-cluster: $(B)/TCPChat $(CL_BIN) ## the cluster end-to-end tests only (3 nodes, a real redis-server)
	@sh tests/run.sh $(B) $(CL_BIN)

# valgrind memcheck: every unit test binary, and the end-to-end suite with
# the server under valgrind. Plain build only (sanitizers and valgrind clash).
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
test-valgrind: deps ## memcheck: unit tests, and the server under the e2e suite
ifneq ($(SANITIZE),)
	$(error test-valgrind runs the plain build: leave SANITIZE unset)
endif
	@command -v valgrind >/dev/null || { echo "test-valgrind: valgrind is not installed (apt-get install valgrind)"; exit 1; }
	@$(MAKE) --no-print-directory test-build
	@TEST_WRAPPER="$(VALGRIND)" sh tests/run.sh $(B) $(UNIT_BIN)
	@TCPCHAT_VALGRIND_TARGET=$(CURDIR)/$(B)/TCPChat TCPCHAT_BIN=$(CURDIR)/tests/valgrind/server.sh \
	    sh tests/run.sh $(B) $(E2E_BIN) $(CL_BIN)

# ThreadSanitizer must still see a race between two actors: one that
# straddles an unrelated message is reported, a variable handed over with
# its message is not (tests/tsan/race_check.c). So the per-message
# hand-off annotation in src/messages.c cannot grow back into one that
# hides races. Always the TSan build, whatever SANITIZE says.
check-tsan-race: deps ## TSan reports a race across an unrelated message, not a hand-off
	@$(MAKE) --no-print-directory SANITIZE=thread build/thread/tests/tsan/race_check
	@sh tests/tsan/race_check.sh build/thread/tests/tsan/race_check

$(B)/tests/tsan/%: tests/tsan/%.c $(B)/libtcpchat.a $(HEADERS) $(B)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libtcpchat.a $(LIBS)

# libFuzzer, FUZZ_SECONDS each (CI: 60, so two minutes in all):
#  - fuzz_input: the input path (telnet filter, framing, cleaning, command
#    parsing, name rules), pure modules;
#  - fuzz_gateway: the real gateway (actors/gateway.c) stepped pass by pass
#    on the fuzzer's clock, its connection state machine driven by a script
#    of client, hub and room operations (tests/fuzz/fuzz_gateway.c).
# New inputs each finds stay in build/fuzz/corpus-NAME; a crash leaves its
# input in build/fuzz/ and fails the target. fuzz_gateway runs without
# libFuzzer's leak check: libzmq frees closed sockets on its reaper thread
# after the input, so the check would scan the heap after every input
# (5x slower); the ASan and valgrind suites look for leaks instead.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRC     := tests/fuzz/fuzz_input.c src/framer.c src/buf.c src/clean.c src/command.c src/names.c \
                src/telnet.c src/text.c src/mem.c
FUZZ_GW_SRC  := tests/fuzz/fuzz_gateway.c $(LIB_SRC) build/fuzz/gen/web_assets.c
FUZZ_RUN      = -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build/fuzz/
fuzz: build/fuzz/fuzz_input build/fuzz/fuzz_gateway ## libFuzzer: the input path, then the gateway (FUZZ_SECONDS each)
	@mkdir -p build/fuzz/corpus-input build/fuzz/corpus-gateway
	build/fuzz/fuzz_input $(FUZZ_RUN) -max_len=20000 build/fuzz/corpus-input tests/fuzz/corpus
	build/fuzz/fuzz_gateway $(FUZZ_RUN) -max_len=4096 -detect_leaks=0 \
	    build/fuzz/corpus-gateway tests/fuzz/corpus-gateway

fuzz-check-cc:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) is not installed (apt-get install clang libclang-rt-14-dev)"; exit 1; }

build/fuzz/fuzz_input: $(FUZZ_SRC) $(HEADERS) | fuzz-check-cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRC) $(shell pkg-config --libs icu-uc icu-i18n) \
	    $(shell pkg-config --libs libtelnet 2>/dev/null || echo -ltelnet)

build/fuzz/fuzz_gateway: $(FUZZ_GW_SRC) $(HEADERS) | fuzz-check-cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	    -o $@ $(FUZZ_GW_SRC) $(LIBS)

# The image (docker/Dockerfile) and compose.yaml end to end, on 127.0.0.1:
# build, banner, two clients, actor logs, docker stop -> exit 0 within 3 s.
# Needs Docker with Compose (here: ../shared/tools/docker-base-image.sh as root).
docker-test: ## the image, compose.yaml and compose.cluster.yaml end to end (needs Docker)
	@bash tests/docker/run.sh
	@bash tests/docker/cluster.sh

# Benchmarks (bench/, docs/PERFORMANCE.md): `make bench` runs five scenarios
# against ./TCPChat, ngircd and InspIRCd (installed from Debian if missing),
# 3 reps interleaved, and prints medians and TCPChat/peer ratios (< 15 min);
# `make bench-quick` runs TCPChat alone on small scenarios (< 2 min).
# `make bench-cluster` (also the end of `make bench`) runs 3 nodes + Redis
# against 1 node (< 3 min). They fail only when the tool or TCPChat's setup
# fails, never on figures.
.PHONY: bench bench-quick bench-transport bench-cluster
BENCH_CFLAGS := -std=c11 -O2 -g $(WARN) -D_GNU_SOURCE
bench: TCPChat build/bench/loadgen build/bench/report ## TCPChat beside ngircd and InspIRCd, then the cluster (< 18 min)
	@bash bench/run.sh; rc=$$?; bash bench/cluster.sh && exit $$rc

bench-quick: TCPChat build/bench/loadgen build/bench/report ## TCPChat alone, small scenarios (< 2 min)
	@bash bench/run.sh --quick

bench-transport: $(B)/TCPChat ## what a WebSocket client costs against an nc client (python3-websockets)
	@/usr/bin/python3 bench/transport_cost.py $(B)/TCPChat --clients 200 --rate 0.5 --lines 6

# 3 nodes + Redis against 1 node, the same clients (bench/cluster.sh; needs redis-server)
bench-cluster: TCPChat build/bench/loadgen ## cluster mode: 3 nodes + Redis vs 1 node (< 3 min)
	@bash bench/cluster.sh

build/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

build/bench/report: bench/report.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# The man page, and the systemd units with ExecStart pointing at BINDIR.
install: TCPChat ## install the binary, the man page and the systemd units (PREFIX, DESTDIR)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR)
	install -m 755 TCPChat $(DESTDIR)$(BINDIR)/TCPChat
	install -m 644 docs/TCPChat.1 $(DESTDIR)$(MANDIR)/man1/TCPChat.1
	sed 's|/usr/local/bin/TCPChat|$(BINDIR)/TCPChat|' contrib/tcpchat.service > $(DESTDIR)$(UNITDIR)/tcpchat.service
	install -m 644 contrib/tcpchat.socket $(DESTDIR)$(UNITDIR)/tcpchat.socket
	chmod 644 $(DESTDIR)$(UNITDIR)/tcpchat.service

uninstall: ## remove what install installed
	rm -f $(DESTDIR)$(BINDIR)/TCPChat $(DESTDIR)$(MANDIR)/man1/TCPChat.1 \
	      $(DESTDIR)$(UNITDIR)/tcpchat.service $(DESTDIR)$(UNITDIR)/tcpchat.socket

# A release tarball: `git archive` of HEAD, with VERSION holding this
# build's version (a tarball has no .git to describe).
dist: ## build/tcpchat-VERSION.tar.gz from HEAD, VERSION file included
	@command -v git >/dev/null && [ -e .git ] || { echo "dist: needs a git clone"; exit 1; }
	rm -rf build/dist && mkdir -p build/dist/tcpchat-$(VERSION)
	echo '$(VERSION)' > build/dist/tcpchat-$(VERSION)/VERSION
	git archive --format=tar --prefix=tcpchat-$(VERSION)/ HEAD > build/dist/tcpchat-$(VERSION).tar
	tar --delete -f build/dist/tcpchat-$(VERSION).tar tcpchat-$(VERSION)/VERSION
	tar -rf build/dist/tcpchat-$(VERSION).tar -C build/dist tcpchat-$(VERSION)/VERSION
	gzip -9f build/dist/tcpchat-$(VERSION).tar
	mv -f build/dist/tcpchat-$(VERSION).tar.gz build/
	rm -rf build/dist
	@echo "dist: build/tcpchat-$(VERSION).tar.gz"

# The man page renders without a warning (what `man -l docs/TCPChat.1` shows).
check-man: ## groff -ww -z over docs/TCPChat.1: no warnings
	@out=$$(groff -ww -z -man docs/TCPChat.1 2>&1); \
	    if [ -n "$$out" ]; then echo "$$out"; echo "check-man: docs/TCPChat.1 has warnings"; exit 1; fi; \
	    echo "check-man: docs/TCPChat.1 renders without warnings"

# Every source, script and build file says its license (SPDX), so a file
# copied out of the tree still does.
check-spdx: ## every source, script and build file has an SPDX license line
	@missing=$$(git ls-files '*.c' '*.h' '*.sh' '*.py' '*.js' '*.css' '*.html' Makefile .ci/run 'docker/*Dockerfile' docker/haproxy.cfg 'compose*.yaml' \
	    | while read -r f; do grep -q 'SPDX-License-Identifier: MIT' "$$f" || echo "$$f"; done); \
	    if [ -n "$$missing" ]; then echo "check-spdx: no SPDX line in:"; echo "$$missing"; exit 1; fi; \
	    echo "check-spdx: every file has its SPDX line"

# One house style, CZMQ's, written down in .clang-format: `make format`
# applies it, `make check-format` (in CI) fails on any file that drifts.
CLANG_FORMAT ?= clang-format
FORMAT_FILES = $(shell git ls-files 'src/*.[ch]' 'actors/*.[ch]' 'include/*.h' 'tests/*.[ch]' 2>/dev/null)
format: ## apply .clang-format to src/, actors/, include/ and tests/
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format: $(CLANG_FORMAT) is not installed (apt-get install clang-format)"; exit 1; }
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

check-format: ## every C file formatted as .clang-format says
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "check-format: $(CLANG_FORMAT) is not installed (apt-get install clang-format)"; exit 1; }
	@$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_FILES) && echo "check-format: every file follows .clang-format"

# Every option and variable of --help in the man page, PROTOCOL.md and the
# README; every variable in compose.yaml and the e2e harness.
check-docs: TCPChat ## every --help option documented, every variable passed through
	@sh scripts/check-docs.sh ./TCPChat

# systemd-analyze verify over the unit pair, ExecStart on the built binary.
check-units: TCPChat ## systemd-analyze verify contrib/tcpchat.service and .socket
	@sh scripts/check-units.sh $(CURDIR)/TCPChat

# For clangd and other tools: every compile command of the plain build,
# recorded by bear from a fresh build in a scratch tree.
compile_commands.json: $(LIB_SRC) src/main.c $(UNIT_SRC) $(E2E_SRC) $(E2E_LIB) $(TEST_LIB) $(HEADERS) Makefile ## for clangd (uses bear)
	@command -v bear >/dev/null || { echo "compile_commands.json: bear is not installed (apt-get install bear)"; exit 1; }
	rm -rf build/compdb
	bear --output $(CURDIR)/$@.tmp -- $(MAKE) --no-print-directory B=build/compdb \
	    build/compdb/TCPChat $(patsubst $(B)/%,build/compdb/%,$(UNIT_BIN) $(E2E_BIN)) >/dev/null
	rm -rf build/compdb
	mv -f $@.tmp $@

clean: ## remove every build, ./TCPChat and compile_commands.json
	rm -rf build TCPChat compile_commands.json
