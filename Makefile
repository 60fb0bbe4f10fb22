# tvl: threads vs event loop, the seven ways of asyncio rebuilt in C.
#
# Layout (one job per directory, picked up by wildcard so adding a file needs
# no edit here):
#   src/core/       libtvl: error table, Chase-Lev deque, pool, futures (installed)
#   src/server/     the loopback HTTPS delay server (library part)
#   src/rt/         runtime-neutral layer: combinators (gather, wait, ...), HTTP checks
#   src/patterns/   the seven ways x two workloads (task bodies included)
#   src/bench/      the benchmark harness: CLI, timing, report, JSON, trace
#   src/rt_threads/ runtime backend: pthread pool, blocking curl_easy
#   src/fiber/      fibers: mmap'd stacks with guard pages, hand-written context switch
#   src/rt_loop/    runtime backend: one thread, epoll, fibers, curl multi_socket
#   src/programs/   one file per executable (its main)
#   tests/<group>/  CUnit suites, one runner per group
#
# Like Redis picks ae_epoll.c or ae_kqueue.c, the runtime is chosen here at
# link time: the objects of src/rt and src/patterns are compiled once and
# linked twice, into bench-threads and bench-loop, so they cannot contain a
# conditional on the runtime.

CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
SANITIZE ?=
WERROR   ?= -Werror
PREFIX   ?= /usr/local
DESTDIR  ?=
PYTHON   ?= /usr/bin/python3
PKG_CONFIG ?= pkg-config
V        ?= 0
QUICK    ?= 0

# Each build variant gets its own tree so that switching never mixes objects.
comma := ,
ifeq ($(SANITIZE),)
  B := build
  SAN_FLAGS :=
  HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
else
  B := build/san-$(subst $(comma),-,$(SANITIZE))
  SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
  HARDEN :=
endif
# The ucontext fallback of the fiber switch is a variant of its own too.
ifneq ($(FIBER_SWITCH),)
  B := $(B)-$(FIBER_SWITCH)
endif

ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @printf '  %-7s %s\n'
endif

# Library flags are evaluated lazily (=, not :=) so that `make test` can run the
# dependency check before pkg-config is asked about anything.
CURL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl)
CURL_LIBS   = $(shell $(PKG_CONFIG) --libs libcurl)
SSL_CFLAGS  = $(shell $(PKG_CONFIG) --cflags openssl)
SSL_LIBS    = $(shell $(PKG_CONFIG) --libs openssl)
CUNIT_CFLAGS = $(shell $(PKG_CONFIG) --cflags cunit)
CUNIT_LIBS   = $(shell $(PKG_CONFIG) --libs cunit)

ARCH := $(shell uname -m)
VERSION := $(shell cat VERSION)

BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -Wshadow \
  -Wno-missing-field-initializers -fPIE -pthread -MMD -MP \
  -Iinclude -Isrc -DTVL_VERSION_STRING='"$(VERSION)"' $(HARDEN) $(SAN_FLAGS) $(CURL_CFLAGS) $(SSL_CFLAGS)
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pie -pthread -Wl,-z,relro,-z,now $(SAN_FLAGS) $(LDFLAGS)
NET_LIBS = $(CURL_LIBS) $(SSL_LIBS)

O := $(B)/obj

# --- sources ---------------------------------------------------------------
CORE_SRC    := $(wildcard src/core/*.c)
SERVER_SRC  := $(wildcard src/server/*.c)
RT_SRC      := $(strip $(wildcard src/rt/*.c) $(wildcard src/patterns/*.c) $(wildcard src/bench/*.c))
THREADS_SRC := $(wildcard src/rt_threads/*.c)
LOOP_SRC    := $(wildcard src/rt_loop/*.c)
# The context switch is assembly where we wrote it for this CPU, ucontext
# otherwise (switch_ucontext.c is compiled only then, or with
# FIBER_SWITCH=ucontext, which builds into a tree of its own).
FIBER_ASM   := $(if $(filter ucontext,$(FIBER_SWITCH)),,$(wildcard src/fiber/switch_$(ARCH).S))
FIBER_SRC   := $(strip $(filter-out src/fiber/switch_ucontext.c,$(wildcard src/fiber/*.c)) \
                 $(if $(FIBER_ASM),$(FIBER_ASM),$(wildcard src/fiber/switch_ucontext.c)))

objs = $(patsubst %,$(O)/%.o,$(basename $(1)))

CORE_OBJ    := $(call objs,$(CORE_SRC))
SERVER_OBJ  := $(call objs,$(SERVER_SRC))
RT_OBJ      := $(call objs,$(RT_SRC))
THREADS_OBJ := $(call objs,$(THREADS_SRC))
LOOP_OBJ    := $(call objs,$(LOOP_SRC))
FIBER_OBJ   := $(call objs,$(FIBER_SRC))

LIBTVL := $(B)/libtvl.a

# --- programs --------------------------------------------------------------
# One executable per file of src/programs (underscores become dashes);
# bench.c is linked twice, once against each runtime.
PROGRAMS := $(addprefix $(B)/,$(subst _,-,$(notdir $(basename \
              $(filter-out src/programs/bench.c,$(wildcard src/programs/*.c)))))) \
            $(B)/bench-threads $(B)/bench-loop

# --- tests: tests/<group>/test_*.c -> $(B)/test-<group>[-runtime] ----------
TEST_GROUPS := $(notdir $(patsubst %/,%,$(dir $(wildcard tests/*/test_*.c))))
TEST_GROUPS := $(sort $(TEST_GROUPS))
test_src = $(wildcard tests/$(1)/*.c)
TEST_BINS := $(foreach g,$(filter-out rt,$(TEST_GROUPS)),$(B)/test-$(g))
ifneq ($(filter rt,$(TEST_GROUPS)),)
ifneq ($(THREADS_SRC),)
TEST_BINS += $(B)/test-rt-threads
endif
ifneq ($(LOOP_SRC),)
TEST_BINS += $(B)/test-rt-loop
endif
endif

# Generated suite tables are intermediates; keep them.
.SECONDARY: $(foreach g,$(TEST_GROUPS),$(B)/gen/suites-$(g).c)

.PHONY: all test test-run test-scripts check-deps clean install uninstall bench plot targets compare lab help \
        fuzz fuzz-run lint test-valgrind
.DEFAULT_GOAL := all

all: $(LIBTVL) $(PROGRAMS) $(B)/tvl.pc

# `make` on a machine without the -dev packages stops with the line to run
# instead of a compiler error (make test and make bench install them).
ifneq ($(filter all,$(or $(MAKECMDGOALS),all)),)
  DEPS_MISSING := $(shell scripts/check-deps.sh --check build 2>&1 >/dev/null)
  ifneq ($(DEPS_MISSING),)
    $(error $(DEPS_MISSING))
  endif
endif

help:
	@echo "make [all]            build libtvl, the delay server and both benchmark binaries into $(B)/"
	@echo "make test             check dependencies, build and run every CUnit runner"
	@echo "make bench [QUICK=1] [RESULTS=DIR] run the benchmark sweep into results/ and draw the plots"
	@echo "make plot             redraw results/figures/ from results/ without running anything"
	@echo "make targets [ROUNDS=5] measure the issues' performance targets, print a table"
	@echo "make compare OTHER=DIR [ALL=1] results/ beside another make bench's results, figure by figure"
	@echo "make lab [QUICK=1]    six experiments for a class, both builds and asyncio, each lesson checked (docs/lab.md)"
	@echo "make test-scripts     test the Python side (sweep plan, asyncio reference, plots, validator)"
	@echo "make test-valgrind    every CUnit runner under valgrind memcheck"
	@echo "make fuzz             libFuzzer on the CLI, URL-file and HTTP request parsers (FUZZ_SECONDS=30)"
	@echo "make lint             cppcheck and clang-tidy (checks in .clang-tidy)"
	@echo "make install          install libtvl's headers, libtvl.a and tvl.pc under DESTDIR/PREFIX"
	@echo "variables: CC CFLAGS LDFLAGS SANITIZE=thread|address,undefined PREFIX DESTDIR V=1 PYTHON"
	@echo "           FIBER_SWITCH=ucontext QUICK=1 FUZZ_SECONDS=N ROUNDS=N TARGETS_JSON=FILE"
	@echo "           RESULTS=DIR (bench, plot, compare; default results) OTHER=DIR ALL=1 (compare)"

# The flags a variant was built with; objects depend on it so that a change
# of CC or CFLAGS rebuilds what it must.
$(B)/.flags: FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
FORCE:

$(O)/%.o: %.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/%.o: %.S $(B)/.flags
	@mkdir -p $(dir $@)
	$(say) AS $<
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBTVL): $(CORE_OBJ)
	$(say) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/delay-server: $(O)/src/programs/delay_server.o $(SERVER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(SSL_LIBS) -o $@

$(B)/bench-threads: $(O)/src/programs/bench.o $(RT_OBJ) $(THREADS_OBJ) $(SERVER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(NET_LIBS) -lm -o $@

$(B)/bench-loop: $(O)/src/programs/bench.o $(RT_OBJ) $(LOOP_OBJ) $(FIBER_OBJ) $(SERVER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(NET_LIBS) -lm -o $@

# The baseline: bare pthreads with blocking curl_easy_perform, no runtime.
$(B)/bare-threads: $(O)/src/programs/bare_threads.o
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CURL_LIBS) -o $@

# The other baseline: one multi handle on epoll, no fibers or runtime.
$(B)/bare-multi: $(O)/src/programs/bare_multi.o
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CURL_LIBS) -o $@

# What an OS thread costs here (creation, memory, a context switch).
$(B)/thread-cost: $(O)/src/programs/thread_cost.o
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ -o $@

$(B)/fiber-bench: $(O)/src/programs/fiber_bench.o $(FIBER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ -o $@

$(B)/server-bench: $(O)/src/programs/server_bench.o $(SERVER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(NET_LIBS) -lm -o $@

# The OpenMP comparison lives in the project's own bench source; -fopenmp is
# given to that one object only.
$(O)/src/programs/pool_bench.o: ALL_CFLAGS += -fopenmp
$(B)/pool-bench: $(O)/src/programs/pool_bench.o $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -fopenmp $^ -lm -o $@

# Each test group gets a generated table of its suites: tests/g/test_x.c must
# define `void test_x_register(void)`.
$(B)/gen/suites-%.c: $(B)/.flags $(wildcard tests/*/test_*.c)
	@mkdir -p $(dir $@)
	$(Q)scripts/gen-suites.sh $(sort $(notdir $(basename $(wildcard tests/$*/test_*.c)))) > $@

$(O)/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(CUNIT_CFLAGS) -c $< -o $@

$(O)/tests/%.o: tests/%.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(CUNIT_CFLAGS) -Itests -c $< -o $@

TEST_MAIN := $(O)/tests/runner.o

$(B)/test-core: $(TEST_MAIN) $(O)/gen/suites-core.o $(call objs,$(call test_src,core)) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CUNIT_LIBS) -lm -o $@

$(B)/test-server: $(TEST_MAIN) $(O)/gen/suites-server.o $(call objs,$(call test_src,server)) $(SERVER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CUNIT_LIBS) $(NET_LIBS) -lm -o $@

RT_TEST_OBJ = $(TEST_MAIN) $(O)/gen/suites-rt.o $(call objs,$(call test_src,rt)) $(RT_OBJ) $(SERVER_OBJ)

$(B)/test-rt-threads: $(RT_TEST_OBJ) $(THREADS_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CUNIT_LIBS) $(NET_LIBS) -lm -o $@

# Out-of-memory tests: our own allocations go through a hook that fails the
# Nth one (tests/oom/alloc_fail.c); libraries' allocations are untouched.
OOM_WRAP = -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
$(B)/test-oom: $(TEST_MAIN) $(O)/gen/suites-oom.o $(call objs,$(call test_src,oom)) $(RT_OBJ) $(THREADS_OBJ) $(SERVER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $(OOM_WRAP) $^ $(CUNIT_LIBS) $(NET_LIBS) -lm -o $@

$(B)/test-fiber: $(TEST_MAIN) $(O)/gen/suites-fiber.o $(call objs,$(call test_src,fiber)) $(FIBER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CUNIT_LIBS) -o $@

$(B)/test-rt-loop: $(RT_TEST_OBJ) $(LOOP_OBJ) $(FIBER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CUNIT_LIBS) $(NET_LIBS) -lm -o $@

# The event-loop runtime's own tests: the loop backend, fibers and the
# runtime-neutral layer (src/rt only: these tests need no patterns, no
# harness and no server).
RT_CORE_OBJ := $(call objs,$(wildcard src/rt/*.c))
$(B)/test-loop: $(TEST_MAIN) $(O)/gen/suites-loop.o $(call objs,$(call test_src,loop)) $(RT_CORE_OBJ) $(LOOP_OBJ) $(FIBER_OBJ) $(LIBTVL)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(CUNIT_LIBS) $(NET_LIBS) -lm -o $@

# --- test, bench --------------------------------------------------------------
check-deps:
	$(Q)scripts/check-deps.sh build bench

# The dependency check runs first, in its own make, so that a fresh machine
# gets its packages before pkg-config is consulted.
test: check-deps
	$(Q)$(MAKE) --no-print-directory test-run

# The scripts' tests draw plots: they need matplotlib, which check-deps
# installs (group bench); without it they are skipped, not failed.
# Under ThreadSanitizer, reports inside uninstrumented OpenSSL are
# suppressed (tests/tsan.supp says why); children inherit the setting.
TSAN_ENV = $(if $(filter thread,$(subst $(comma), ,$(SANITIZE))),TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp $$TSAN_OPTIONS")

test-run: all $(TEST_BINS)
	$(Q)$(TSAN_ENV) B=$(B) scripts/run-tests.sh $(TEST_BINS)
	$(Q)if $(PYTHON) -c 'import matplotlib' >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory test-scripts; \
	else \
	  echo "test-scripts: skipped: $(PYTHON) cannot import matplotlib (scripts/check-deps.sh bench)"; \
	fi

# Every CUnit runner under valgrind's memcheck: no errors, no leaks.
VALGRIND ?= valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99
test-valgrind: check-deps
	$(Q)scripts/check-deps.sh valgrind
	$(Q)$(MAKE) --no-print-directory all $(TEST_BINS)
	$(Q)TVL_TEST_SLOW=1 RUNNER_PREFIX="$(VALGRIND)" scripts/run-tests.sh $(TEST_BINS)

test-scripts:
	$(Q)B=$(B) $(TSAN_ENV) $(PYTHON) tests/scripts/test_scripts.py

# The sweep runs the binaries of the default build; missing aiohttp only
# skips the asyncio reference (bench.py says so). Plots are drawn before the
# results are validated, so that a schema problem does not hide them.
# RESULTS=DIR writes (or draws) another directory than results/, e.g. to
# keep the committed run and compare a new one with it.
RESULTS ?= results
bench: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) scripts/bench.py --build $(B) --python $(PYTHON) --results $(RESULTS) $(if $(filter 1,$(QUICK)),--quick)
	$(Q)$(PYTHON) scripts/plot.py --results $(RESULTS)
	$(Q)$(PYTHON) scripts/validate_results.py $(RESULTS)

plot:
	$(Q)$(PYTHON) scripts/plot.py --results $(RESULTS)

# Another make bench's results beside results/ (or RESULTS): the headline
# figures of both and their ratio, as a Markdown table.
compare:
	$(if $(OTHER),,$(error make compare needs OTHER=DIR, the results directory of another make bench))
	$(Q)$(PYTHON) scripts/compare_runs.py $(RESULTS) $(OTHER) $(if $(filter 1,$(ALL)),--all)

# The issues' performance targets, each measured ROUNDS times (default 5),
# with the bare clients beside them; a table, and TARGETS_JSON if given.
# Takes about a minute and a half at the default.
ROUNDS ?= 5
targets: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) scripts/targets.py --build $(B) --rounds $(ROUNDS) $(if $(TARGETS_JSON),--json $(TARGETS_JSON))

# Five short experiments for a class on threads vs an event loop
# (scripts/lab.py, docs/lab.md), each on both builds and on the asyncio
# reference (when PYTHON has aiohttp), each saying whether its lesson
# showed on this machine. About 20 s; QUICK=1 about 15.
# As root, a missing python3-aiohttp is installed; otherwise check-deps.sh
# prints the apt-get line and the lab runs without the asyncio column.
lab:
	$(Q)scripts/check-deps.sh build
	$(Q)PYTHON=$(PYTHON) scripts/check-deps.sh asyncio || echo "lab: the asyncio column is left out"
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) scripts/lab.py --build $(B) --python $(PYTHON) $(if $(filter 1,$(QUICK)),--quick)

# --- static analysis -----------------------------------------------------------
# cppcheck on everything, then clang-tidy with the checks in .clang-tidy.
# Two cross-function cppcheck findings are false positives, suppressed by
# file: future.c's wait set is never NULL when armed (PARK_IDLE never arms
# it), and each waiter.c takes the address of a waiter to initialise it.
CPPCHECK_FLAGS = --quiet --enable=warning,portability,performance --std=c11 \
  --error-exitcode=1 --inline-suppr -D__GNUC__ -D_GNU_SOURCE -Iinclude -Isrc \
  --suppress=missingIncludeSystem --suppress=ctunullpointer:src/core/future.c \
  --suppress=ctuuninitvar:src/rt_threads/waiter.c --suppress=ctuuninitvar:src/rt_loop/waiter.c
LINT_SRC = $(filter %.c,$(CORE_SRC) $(SERVER_SRC) $(RT_SRC) $(THREADS_SRC) $(LOOP_SRC) $(FIBER_SRC)) \
  $(wildcard src/programs/*.c)

lint:
	$(Q)scripts/check-deps.sh build lint
	$(say) CPPCHECK "src tests"
	$(Q)cppcheck $(CPPCHECK_FLAGS) src tests
	$(say) TIDY "$(words $(LINT_SRC)) files"
	$(Q)for f in $(LINT_SRC); do \
	    clang-tidy --quiet $$f -- -std=c11 $(filter -I% -D%,$(BASE_CFLAGS)) \
	        2>/dev/null || exit 1; \
	done

# --- fuzzing (libFuzzer; clang) ---------------------------------------------
# `make fuzz` rebuilds everything with clang in its own variant tree, with
# -fsanitize=fuzzer-no-link on the objects, and runs each target for
# FUZZ_SECONDS on a copy of its committed seed corpus.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS := $(addprefix $(B)/,$(FUZZ_TARGETS))
FUZZ_LINK_OBJ = $(RT_OBJ) $(THREADS_OBJ) $(SERVER_OBJ) $(LIBTVL)
.SECONDARY: $(patsubst %,$(O)/tests/fuzz/%.o,$(FUZZ_TARGETS))

$(B)/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(FUZZ_LINK_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer $^ $(NET_LIBS) -lm -o $@

fuzz:
	$(Q)scripts/check-deps.sh build fuzz
	$(Q)$(MAKE) --no-print-directory CC=clang SANITIZE=fuzzer-no-link,address,undefined fuzz-run

fuzz-run: $(FUZZ_BINS)
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	    name=$$(echo $$t | sed 's/^fuzz_//'); \
	    work=$(B)/fuzz-corpus/$$name; mkdir -p $$work; \
	    echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
	    $(B)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	        -max_len=4096 $$work tests/fuzz/corpus/$$name 2>&1 | tail -n 3; \
	done

# --- install -----------------------------------------------------------------
$(B)/tvl.pc: tvl.pc.in $(B)/.flags
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# libtvl's own headers; rt.h and delay_server.h belong to the programs.
LIBTVL_HEADERS = include/tvl/error.h include/tvl/future.h include/tvl/pool.h

install: $(LIBTVL) $(B)/tvl.pc
	install -d $(DESTDIR)$(PREFIX)/include/tvl $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIBTVL_HEADERS) $(DESTDIR)$(PREFIX)/include/tvl/
	install -m 644 $(LIBTVL) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(B)/tvl.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/tvl
	rm -f $(DESTDIR)$(PREFIX)/lib/libtvl.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/tvl.pc

clean:
	rm -rf build

# Header dependencies from -MMD; they are never a target themselves.
%.d: ;
-include $(shell find $(O) -name '*.d' 2>/dev/null)
