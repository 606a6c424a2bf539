# strata: `make demo` runs the bundled tiny model, `make test` runs every check.
GO      ?= go
MODEL   ?= testdata/tiny-mistral/tiny-mistral-q4km.gguf
PROMPT  ?= Once upon a time, there was a little robot who
export PATH := $(PATH):/usr/local/go/bin

# Vulkan needs cgo and the C header vulkan/vulkan.h (Debian: libvulkan-dev).
# Where $(CC) finds no header, or there is no C compiler, strata builds and
# tests CPU-only (CGO_ENABLED=0), as it says once; the race detector, which
# needs cgo, then runs on the packages whose tests do not build the Vulkan
# backend, and only with a C compiler.
hash := \#
HAVE_CC := $(shell command -v $(firstword $(CC)) >/dev/null 2>&1 && echo yes)
HAVE_VULKAN_H := $(shell echo '$(hash)include <vulkan/vulkan.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
ifneq ($(HAVE_VULKAN_H),yes)
export CGO_ENABLED := 0
RACE_CGO := $(if $(HAVE_CC),1,)
RACE_PKGS := ./cpu ./engine ./swarm
ifeq ($(MAKELEVEL),0)
ifeq ($(HAVE_CC),yes)
$(info strata: $(CC) finds no vulkan/vulkan.h (Debian: apt install libvulkan-dev): building CPU-only, without Vulkan; the race detector runs on $(RACE_PKGS))
else
$(info strata: no C compiler ($(CC)): building CPU-only, without Vulkan, and without the race detector (it needs cgo))
endif
endif
else
RACE_CGO := 1
RACE_PKGS := ./cpu ./engine ./transport ./swarm
endif

# The commit, for strata version where the go command stamps none (a git
# worktree, GOFLAGS=-buildvcs=false).
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: all build test check vet fmt nocgo noasm race shaders bench bench-kernels fuzz fuzz-corpus demo clean

all: build

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o bin/strata ./cmd/strata

# check: formatting, vet (amd64 and arm64), a build without cgo, the whole
# test suite, the CPU kernels' pure-Go twins (noasm) and the race detector
# on the packages that run the worker pool and the peers (without Vulkan
# headers, see above).
check: fmt vet nocgo
	$(GO) test ./...
	$(MAKE) noasm race

# noasm: the pure-Go twins of the assembly kernels, alone.
noasm:
	$(GO) test -tags noasm ./cpu ./engine

race:
ifeq ($(RACE_CGO),1)
	CGO_ENABLED=1 $(GO) test -race $(RACE_PKGS)
else
	@echo "race: skipped, no C compiler for cgo"
endif

test: check

vet:
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...

# nocgo: strata builds without cgo, CPU only.
nocgo:
	CGO_ENABLED=0 $(GO) build ./...

# shaders: compile shaders/*.comp to SPIR-V with glslc (Debian: glslc) and
# record their source hashes in shaders/spv.sum.
shaders:
	$(GO) run ./tools/shaders

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# bench: matrix-vector products of every CPU format at Mistral-7B's shapes,
# streamed from DRAM, and the tiny model's decode and prompt (set
# STRATA_BENCH_MODEL=FILE for another model, STRATA_CPU for a variant).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./cpu
	$(GO) test -run '^$$' -bench 'Decode|Prompt' -benchtime 100x ./engine

# bench-kernels: every shader at Mistral-7B and Magistral-Small shapes.
bench-kernels: build
	./bin/strata bench kernels

# fuzz: the GGUF reader, the tokenizers, the frame decoder and the
# forward-request and result decoders, FUZZTIME each (default 10m). What
# they find grows the corpus in Go's cache; `make fuzz-corpus` copies it
# into each package's testdata/fuzz, where `go test` replays it.
FUZZTIME ?= 10m
FUZZ_TARGETS = ./gguf:FuzzParse ./engine:FuzzRoundTrip ./engine:FuzzPretokenizers \
	./transport:FuzzDecodeFrame ./transport:FuzzDecodeForward ./transport:FuzzDecodeResult
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

fuzz-corpus:
	@cache=$$($(GO) env GOCACHE)/fuzz/strata; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
	  src=$$cache/$${pkg#./}/$$name; [ -d $$src ] || continue; \
	  mkdir -p $$pkg/testdata/fuzz/$$name && cp -n $$src/* $$pkg/testdata/fuzz/$$name/; done

# demo: split the tiny model, serve it from three peers on loopback,
# generate through them, and compare with one process.
demo: build
	MODEL="$(MODEL)" PROMPT="$(PROMPT)" tools/demo.sh

clean:
	rm -rf bin
