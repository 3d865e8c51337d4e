# Meridian — one non-recursive Makefile.
#
#   make            build bin/region-node and bin/meridian (installs missing
#                   Debian packages)
#   make test       unit, simulation and integration tests
#   make asan       the same tests under AddressSanitizer + UBSan
#   make bench      benchmarks (ratios measured in one run)
#   make fuzz       libFuzzer targets (FUZZ_SECONDS each)
#   make run        start the local cluster from configs/
#   make clean

CC      ?= cc
O       ?= build
SAN     ?=
OPT     ?= -O2 -g

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion \
           -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wold-style-definition -Wvla -Wnull-dereference -Wundef \
           -Wcast-qual -Wwrite-strings -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
INCS    := -Icommon -Iregion-node -Iconflict -Ireplicator -Itopology
CFLAGS  += $(CSTD) $(OPT) $(WARN) $(INCS) -MMD -MP -pthread
LDLIBS  := -lnng -llmdb -lcjson -lcurl -lssl -lcrypto -lpthread -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Debian packages the build and the tests need (package:probe-file).
DEPS := libnng-dev:/usr/include/nng/nng.h \
        liblmdb-dev:/usr/include/lmdb.h \
        libcjson-dev:/usr/include/cjson/cJSON.h \
        libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h \
        libssl-dev:/usr/include/openssl/hmac.h \
        libcmocka-dev:/usr/include/cmocka.h \
        lmdb-utils:/usr/bin/mdb_copy

LIB_SRCS := $(wildcard common/*.c) \
            $(filter-out region-node/main.c,$(wildcard region-node/*.c)) \
            $(wildcard conflict/*.c) $(wildcard replicator/*.c) \
            $(wildcard topology/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
LIB      := $(O)/libmeridian.a

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
SIM_SRCS   := $(wildcard tests/sim/sim_*.c)
SIM_BINS   := $(SIM_SRCS:tests/sim/%.c=$(O)/tests/%)

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/%.o)

NODE := bin/region-node
CLI := bin/meridian
ifneq ($(O),build)
NODE := $(O)/bin/region-node
CLI := $(O)/bin/meridian
endif

.PHONY: all deps test unit sim integration asan bench fuzz run clean
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory $(NODE) $(CLI)

# Installs only what is missing; a machine that has everything runs no apt.
deps:
	@missing=""; for d in $(DEPS); do f=$${d#*:}; p=$${d%%:*}; \
	  [ -e "$$f" ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(NODE): $(O)/region-node/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(CLI): $(CLI_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(O)/tests/sim_%: $(O)/tests/sim/sim_%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

sim: $(SIM_BINS)
	@set -e; for t in $(SIM_BINS); do echo "== $$t"; $$t; done

integration: $(NODE) $(CLI)
	MERIDIAN_NODE=$(abspath $(NODE)) MERIDIAN_CLI=$(abspath $(CLI)) \
	    python3 tests/integration/run.py

test: deps
	@$(MAKE) --no-print-directory $(NODE) $(CLI) $(UNIT_BINS) $(SIM_BINS)
	@$(MAKE) --no-print-directory unit sim integration

asan: deps
	@$(MAKE) --no-print-directory O=build/asan SAN=1 OPT="-O1 -g" \
	    build/asan/bin/region-node build/asan/bin/meridian unit sim \
	    integration

bench: deps
	@$(MAKE) --no-print-directory $(NODE) $(O)/bench/bare $(O)/bench/loadgen
	bash bench/run.sh

# libFuzzer targets: each tests/fuzz/fuzz_X.c is built with clang against
# the library sources and run for FUZZ_SECONDS with its corpus directory.
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIB_SRCS := $(filter-out region-node/http.c,$(LIB_SRCS))

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 $(INCS) -pthread \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -o $@ $< $(FUZZ_LIB_SRCS) $(LDLIBS)

fuzz: deps $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      build/fuzz/corpus-$$n > build/fuzz/$$n.log 2>&1; then \
	    tail -40 build/fuzz/$$n.log; exit 1; fi; \
	  grep -E 'stat::number_of_executed_units' build/fuzz/$$n.log; \
	done

$(O)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: all
	bash configs/run-local.sh

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
