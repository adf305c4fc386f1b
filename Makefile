# sendsim - Monte Carlo SEND place sufficiency and estate planning simulator
.SUFFIXES:

BIN      ?= sendsim
BUILD    ?= build
PREFIX   ?= /usr/local
SCENARIO ?= scenarios/hackney/scenario.ini

# Debian 12 packages everything needs; `make deps` installs the missing ones.
DEB_PKGS := libgsl-dev libcsv-dev libplplot-dev plplot-driver-cairo libcriterion-dev \
            libinih-dev pkg-config
FUZZ_PKGS := clang libclang-rt-14-dev

PKGS     := gsl plplot inih
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Iinclude -MMD -MP \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -pthread
LDFLAGS  += -pthread
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm

SRC      := $(wildcard sim/*.c)
OBJ      := $(SRC:sim/%.c=$(BUILD)/%.o)
LIBOBJ   := $(filter-out $(BUILD)/main.o,$(OBJ))
TESTSRC  := $(wildcard tests/test_*.c)
TESTOBJ  := $(TESTSRC:tests/%.c=$(BUILD)/tests/%.o)

all: $(BIN)

$(BIN): $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: sim/%.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/run_tests: $(LIBOBJ) $(TESTOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

# Install what is missing (as root), or say exactly what to run and stop.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing: $$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	  else \
	    echo "sendsim needs these Debian packages. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y" $$missing; \
	    exit 1; \
	  fi; \
	fi

# The sub-make re-reads the Makefile, so pkg-config runs after deps has installed it.
run: deps
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) run $(SCENARIO) $(if $(SEED),--seed $(SEED))

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/run_tests
	SENDSIM_BIN=./$(BIN) ./$(BUILD)/run_tests

# The test suite and the binary under AddressSanitizer and UBSan, in their own build dir.
# LeakSanitizer also flags Criterion's own allocations, so leaks are checked on the binary.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/sendsim \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" build-asan/sendsim build-asan/run_tests
	ASAN_OPTIONS=detect_leaks=0 SENDSIM_BIN=build-asan/sendsim ./build-asan/run_tests

bench: deps
	@$(MAKE) --no-print-directory $(BIN)
	./tests/bench.sh ./$(BIN)

# libFuzzer targets for the table reader and the scenario loader (clang; not part of the
# normal build). Seeds come from tests/data; FUZZ_TIME is seconds per target.
FUZZ_TIME  ?= 60
FUZZ_SRC   := sim/table.c sim/scenario.c sim/codes.c sim/status.c sim/xalloc.c
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(wildcard include/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRC) -lcsv -linih -lm

fuzz:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_PKGS) $(FUZZ_PKGS)"
	@$(MAKE) --no-print-directory build-fuzz/fuzz_table build-fuzz/fuzz_scenario
	tests/fuzz/make_corpus.sh build-fuzz/seeds
	mkdir -p build-fuzz/corpus/table build-fuzz/corpus/scenario
	./build-fuzz/fuzz_table -max_total_time=$(FUZZ_TIME) build-fuzz/corpus/table build-fuzz/seeds/table
	./build-fuzz/fuzz_scenario -max_total_time=$(FUZZ_TIME) build-fuzz/corpus/scenario build-fuzz/seeds/scenario

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/$(BIN)

clean:
	rm -rf $(BUILD) build-asan build-fuzz $(BIN)

.PHONY: all deps run test asan bench fuzz install clean
-include $(OBJ:.o=.d) $(TESTOBJ:.o=.d)
