# Airlock - plain, strict Makefile.
#
#   make            build bin/gate (release flags)
#   make run        install what is missing, build, serve the demo cluster (twin mode)
#   make demo-check `gate check` on the demo plan
#   make test       install what is missing, build with ASan+UBSan, run every test
#   make bench      benchmarks (import, per-action latency, memory, audit appends)
#   make fuzz       libFuzzer targets (clang)
#   make soak       10 minutes of mixed load in enforce mode (SOAK_SECONDS, SOAK_AGENTS)
#
# SANITIZE=address,undefined switches sanitizers on for any target.

CC      ?= cc
PKGS    := sqlite3 jansson lua5.4 yaml-0.1 libmicrohttpd gnutls libcurl libgit2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
OPT     ?= -O2 -g
BUILD   ?= build/release
ifdef SANITIZE
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=undefined \
           -DGATE_FAULTS   # fault injection compiled in (gate/base/fault.h): test builds only
  LDSAN := -fsanitize=$(SANITIZE)
  BUILD := build/san
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -MMD -MP -I. -Itwin $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -pthread

TWIN_SRC := $(wildcard twin/*.c)
GATE_SRC := $(filter-out gate/cmd/main.c,$(wildcard gate/*/*.c))
TWIN_OBJ := $(TWIN_SRC:%.c=$(BUILD)/%.o)
GATE_OBJ := $(GATE_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# The fuzz targets linked into one replay binary (tests/fuzz/fuzz.h).
FUZZ_OBJ := $(patsubst %.c,$(BUILD)/%.o,tests/fuzz/replay.c $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all run demo-check test check-headers bench soak fuzz deps deps-test clean
all: bin/gate

deps:
	@sh tests/deps.sh

# and what the browser test of the approvals page needs (tests/ui)
deps-test:
	@sh tests/deps.sh test

V ?= 0
ifeq ($(V),0)
  Q := @
  SAY = @echo "  $(1) $(2)"
else
  Q :=
  SAY = @:
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call SAY,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The approvals page (gate/server/ui/index.html) as C byte values for gate/server/ui.c.
$(BUILD)/gen/ui_page.inc: gate/server/ui/index.html
	@mkdir -p $(dir $@)
	$(call SAY,GEN,$@)
	$(Q)od -An -v -tx1 $< | sed 's/[0-9a-fA-F][0-9a-fA-F]/0x&,/g' > $@.tmp && mv $@.tmp $@
$(BUILD)/gate/server/ui.o: $(BUILD)/gen/ui_page.inc
$(BUILD)/gate/server/ui.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/libtwin.a: $(TWIN_OBJ)
	$(call SAY,AR,$@)
	$(Q)ar rcs $@ $^

$(BUILD)/libgate.a: $(GATE_OBJ)
	$(call SAY,AR,$@)
	$(Q)ar rcs $@ $^

$(BUILD)/bin/gate: $(BUILD)/gate/cmd/main.o $(BUILD)/libgate.a $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(call SAY,LD,$@)
	$(Q)$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

bin/gate: $(BUILD)/bin/gate
	@mkdir -p bin
	$(Q)cp $< $@

$(BUILD)/tests/%: tests/%.c $(BUILD)/libgate.a $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(call SAY,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDSAN) -o $@ $(filter %.c %.a,$^) $(LDLIBS) -lcmocka

# Replays the fuzz targets over their seed corpora (tests/fuzz/corpus/).
$(BUILD)/tests/fuzz_replay: $(FUZZ_OBJ) $(BUILD)/libgate.a $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(call SAY,LD,$@)
	$(Q)$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

# Every header compiles alone (STYLE.md item 3): it includes what it uses.
check-headers:
	@for h in twin/*.h gate/*/*.h; do \
	  echo '#include "'$$h'"' | $(CC) $(CSTD) $(WARN) $(PKG_CFLAGS) -I. -Itwin -x c -fsyntax-only - || { echo "$$h does not compile alone"; exit 1; }; done

# The gate in twin mode on the demo cluster and the demo AWS account with
# the default policies; it prints the kubectl and aws lines to use (Ctrl-C
# stops it).
run: deps
	@$(MAKE) -s bin/gate
	./bin/gate serve --listen 127.0.0.1:8443 --aws-listen 127.0.0.1:8444 --data-dir .airlock --state fixtures/demo \
	  --policies lua-policies

# The same engine as a CI check: the demo plan's verdicts.
demo-check: deps
	@$(MAKE) -s bin/gate
	./bin/gate check --state fixtures/demo --actions fixtures/demo-plan.json; \
	  rc=$$?; echo "gate check exit code: $$rc (0 allow, 1 deny, 2 review)"; test $$rc -le 2

test: deps-test
	$(MAKE) SANITIZE=address,undefined test-run

test-run: check-headers $(TEST_BIN) $(BUILD)/bin/gate $(BUILD)/tests/fuzz_replay
	@sh tests/run.sh $(BUILD)

# 10 minutes of mixed load (32 agents, watches coming and going) in enforce
# mode: throughput, p50/p99, RSS, fds and threads at start and end.
soak: deps
	@$(MAKE) -s bin/gate
	@sh tests/soak.sh bin/gate

bench: deps
	$(MAKE) bin/gate $(BUILD)/tests/bench_twin $(BUILD)/tests/bench_audit
	@sh tests/bench.sh $(BUILD)

$(BUILD)/tests/bench_twin: tests/bench/bench_twin.c $(BUILD)/libgate.a $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(call SAY,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDSAN) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

$(BUILD)/tests/bench_audit: tests/bench/bench_audit.c $(BUILD)/libgate.a $(BUILD)/libtwin.a
	@mkdir -p $(dir $@)
	$(call SAY,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDSAN) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

fuzz: deps
	@sh tests/fuzz/run.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

bin/gen-cluster: $(BUILD)/fixtures/gen_cluster.o $(BUILD)/libtwin.a
	@mkdir -p bin
	$(call SAY,LD,$@)
	$(Q)$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
