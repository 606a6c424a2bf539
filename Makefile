# strata: `make demo` runs the bundled tiny model, `make test` runs every check.
GO      ?= go
MODEL   ?= testdata/tiny-mistral/tiny-mistral-q4km.gguf
PROMPT  ?= Once upon a time, there was a little robot who
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build test check vet fmt bench fuzz demo clean

all: build

build:
	$(GO) build -o bin/strata ./cmd/strata

# check: formatting and vet, then the whole test suite.
check: fmt vet
	$(GO) test ./...

test: check

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# bench: matrix-vector products of every CPU format at Mistral-7B's shapes.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 10x ./cpu

# fuzz: the GGUF reader, five minutes.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 5m ./gguf

demo: build
	./bin/strata run $(MODEL) -p "$(PROMPT)" -n 48 --temp 0 --ignore-eos

clean:
	rm -rf bin
