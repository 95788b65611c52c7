# Entry points: `make demo` and `make test` work on a fresh Debian machine:
# scripts/ensure-deps.sh installs what is missing and scripts/with-postgres.sh
# finds (or starts) a PostgreSQL and exports DATABASE_URL to the command.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

GO_TEST_FLAGS ?=

# ---- RSpec hook -----------------------------------------------------------
# Command run by `make test` after the Go tests, under the same PostgreSQL
# (same DATABASE_URL): the Ruby gem's RSpec suite, against build/libtasker_core.so.
RSPEC_TEST ?= cd ruby && rspec
export RSPEC_TEST
# ---------------------------------------------------------------------------

.PHONY: all deps ruby-deps demo-go test test-go demo lib vet bench bench-doc clean

all: test

deps:
	scripts/ensure-deps.sh go

ruby-deps:
	scripts/ensure-deps.sh ruby

# Go tests, then $(RSPEC_TEST) if set; both run even if the first fails, and
# the target fails if either did.
test: deps ruby-deps lib
	scripts/with-postgres.sh bash -c 'rc=0; go test -race -count=1 $(GO_TEST_FLAGS) ./... || rc=$$?; \
	  if [[ -n $$RSPEC_TEST ]]; then echo "== rspec: $$RSPEC_TEST"; eval "$$RSPEC_TEST" || rc=$$?; fi; exit $$rc'

test-go: deps
	scripts/with-postgres.sh go test -race -count=1 $(GO_TEST_FLAGS) ./...

# The order workflow with Ruby step handlers (ruby/examples/order_demo.rb).
demo: deps ruby-deps lib
	scripts/with-postgres.sh ruby ruby/examples/order_demo.rb

# The same workflow walked by hand through the Go store (no Ruby).
demo-go: deps
	TASKER_DEMO=1 scripts/with-postgres.sh go test -count=1 -run '^TestDemo$$' -v ./core/demo/

lib: deps
	mkdir -p build
	go build -buildmode=c-shared -trimpath -ldflags "-s -w" -o build/libtasker_core.so ./capi

vet: deps
	go vet ./...
	@files=$$(find . \( -path ./tmp -o -path ./build -o -path ./.git -o -path ./vendor \) -prune \
	    -o -name '*.go' -type f -print); \
	unformatted=$$([[ -z $$files ]] || gofmt -l $$files); \
	if [[ -n $$unformatted ]]; then echo "gofmt: these files need formatting (run gofmt -w):"; \
	  echo "$$unformatted"; exit 1; fi

# Benchmarks (bench/, docs/benchmarks.md): quick by default, `make bench FULL=1`
# for the full sizes. They report; they are not tests.
bench: deps lib
	scripts/ensure-deps.sh bench
	scripts/with-postgres.sh bench/run.sh $(if $(FULL),--full,)

# One full run that rewrites docs/benchmarks.md (tables, goal verdicts, commit and
# machine) from its own figures. Run it on a quiet machine.
bench-doc: deps lib
	scripts/ensure-deps.sh bench
	scripts/with-postgres.sh bench/run.sh --full --doc

clean:
	scripts/with-postgres.sh --stop 2>/dev/null || true
	rm -rf build tmp
