# imcast — the two commands a new user needs:
#   make run    installs what is missing, builds, starts imcastd on 127.0.0.1:8080 (data in ./data)
#   make test   installs what is missing, builds, runs the whole suite (again under ASan+UBSan, a
#               short fuzzing pass, make lint, and the unit tests under valgrind)

JOBS ?= $(shell nproc)
DATA ?= ./data

.PHONY: all deps configure build build-asan run test test-release test-asan clean

all: build

deps:
	@./scripts/install-deps

# compile_commands.json (in build/) is what `make tidy` checks.
configure: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null

build: configure
	@cmake --build build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIMCAST_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

run: build
	@./scripts/first-run-hint build/imcastd $(DATA)
	exec build/imcastd --data $(DATA)

test-release: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# The whole suite: unit + end-to-end tests, again under ASan+UBSan, every fuzz target for
# 30 s from its seeds (regressions of the fuzzers' finds are unit tests too), cppcheck and
# clang-tidy, and the unit tests under valgrind.
test: test-release test-asan fuzz-smoke lint test-valgrind

clean:
	rm -rf build build-asan

# Fuzzing (clang + libFuzzer, ASan + UBSan; fuzz/README.md). Needs clang and libclang-rt-dev.
#   make fuzz         each fuzz/fuzz_*.c target for FUZZ_SECONDS (default 300)
#   make fuzz-smoke   each target for FUZZ_SMOKE_SECONDS (default 30) from its seeds: ~3.5 min
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 30
.PHONY: fuzz-build fuzz fuzz-smoke
fuzz-build: deps
	@cmake -S fuzz -B build-fuzz -DCMAKE_C_COMPILER=clang -DIMCAST_ROOT=$(CURDIR) >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

fuzz: fuzz-build
	./fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	./fuzz/run.sh --fresh $(FUZZ_SMOKE_SECONDS)

# Checks of the project's own code (the hardening issue):
#   make lint            cppcheck and clang-tidy, both over src/ sdk/ bench/src/ (any finding
#                        fails; true false positives are suppressed inline with the reason)
#   make cppcheck        cppcheck alone
#   make tidy            clang-tidy alone (checks in .clang-tidy; the files are those of
#                        build/compile_commands.json under src/ sdk/ bench/src/)
#   make test-valgrind   every unit test once under valgrind memcheck (errors or leaks fail;
#                        logs in build/valgrind-test_*.log)
.PHONY: lint cppcheck tidy test-valgrind
CPPCHECK_FLAGS = --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
  -j $(JOBS) -D_GNU_SOURCE -D__linux__ -I src -I sdk/libimcast/include -I sdk/libimcast/src \
  -I sdk/receiver -I sdk/cli -I bench/src
lint: cppcheck tidy

cppcheck: deps
	cppcheck $(CPPCHECK_FLAGS) src sdk bench/src

# Needs only the configured build (compile_commands.json), not the compiled one.
# TIDY_EXCLUDE (paths, space-separated) leaves files out; every project file is checked now.
TIDY_EXCLUDE ?=
tidy: configure
	TIDY_EXCLUDE="$(TIDY_EXCLUDE)" ./scripts/tidy build $(JOBS)

test-valgrind: build
	./scripts/valgrind-unit build
