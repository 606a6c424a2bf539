# strata: `make demo` runs the bundled tiny model, `make test` runs every check.
GO      ?= go
MODEL   ?= testdata/tiny-mistral/tiny-mistral-q4km.gguf
PROMPT  ?= Once upon a time, there was a little robot who
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build test check vet fmt nocgo shaders bench bench-kernels fuzz demo clean

all: build

build:
	$(GO) build -o bin/strata ./cmd/strata

# check: formatting, vet, a build without cgo, then the whole test suite.
check: fmt vet nocgo
	$(GO) test ./...

test: check

vet:
	$(GO) vet ./...

# nocgo: strata builds without cgo, CPU only.
nocgo:
	CGO_ENABLED=0 $(GO) build ./...

# shaders: compile shaders/*.comp to SPIR-V with glslc (Debian: glslc) and
# record their source hashes in shaders/spv.sum.
shaders:
	$(GO) run ./tools/shaders

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# bench: matrix-vector products of every CPU format at Mistral-7B's shapes.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 10x ./cpu

# bench-kernels: every shader at Mistral-7B and Magistral-Small shapes.
bench-kernels: build
	./bin/strata bench kernels

# fuzz: the GGUF reader, five minutes.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 5m ./gguf

# demo: split the tiny model, serve it from three peers on loopback,
# generate through them, and compare with one process.
demo: build
	MODEL="$(MODEL)" PROMPT="$(PROMPT)" tools/demo.sh

clean:
	rm -rf bin
