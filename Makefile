# imcast — the two commands a new user needs:
#   make run    installs what is missing, builds, starts imcastd on 127.0.0.1:8080 (data in ./data)
#   make test   installs what is missing, builds, runs the whole suite (and again under ASan+UBSan)

JOBS ?= $(shell nproc)
DATA ?= ./data

.PHONY: all deps build build-asan run test test-release test-asan clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
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

test: test-release test-asan

clean:
	rm -rf build build-asan
