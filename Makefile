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

.PHONY: all deps ruby-deps web-deps rails-deps demo-go test test-go demo lib vet bench bench-doc fuzz clean

all: test

deps:
	scripts/ensure-deps.sh go

ruby-deps:
	scripts/ensure-deps.sh ruby servers

# TaskerCore::Web's gems, puma and the browser of its specs.
web-deps:
	scripts/ensure-deps.sh web

# Rails 6.1, puma and unicorn from Debian for the gem's Rails specs (ruby/spec/rails/).
rails-deps:
	scripts/ensure-deps.sh ruby rails

# Go tests, then $(RSPEC_TEST) if set; both run even if the first fails, and
# the target fails if either did.
test: deps ruby-deps web-deps rails-deps lib
	scripts/ensure-deps.sh observability
	scripts/with-postgres.sh bash -c 'rc=0; go test -race -count=1 $(GO_TEST_FLAGS) ./... || rc=$$?; \
	  if [[ -n $$RSPEC_TEST ]]; then echo "== rspec: $$RSPEC_TEST"; eval "$$RSPEC_TEST" || rc=$$?; fi; exit $$rc'

test-go: deps
	scripts/with-postgres.sh go test -race -count=1 $(GO_TEST_FLAGS) ./...

# The order workflow with Ruby step handlers (ruby/examples/order_demo.rb); it
# ends with the task's dashboard URL, served for a while with `make demo WEB=1`.
demo: deps ruby-deps $(if $(WEB),web-deps,) lib
	$(if $(WEB),TASKER_DEMO_WEB=1 ,)scripts/with-postgres.sh ruby ruby/examples/order_demo.rb

# The same workflow walked by hand through the Go store (no Ruby).
demo-go: deps
	TASKER_DEMO=1 scripts/with-postgres.sh go test -count=1 -run '^TestDemo$$' -v ./core/demo/

# The Ruby gem's API reference: HTML in ruby/doc/ (git-ignored), YARD with ruby/.yardopts.
.PHONY: doc-ruby
doc-ruby:
	scripts/ensure-deps.sh ruby
	cd ruby && yard doc --no-save --no-cache

lib: deps
	mkdir -p build
	go build -buildmode=c-shared -trimpath -ldflags "-s -w" -o build/libtasker_core.so ./capi

vet: deps
	go vet ./...
	@files=$$(find . \( -path ./tmp -o -path ./build -o -path ./.git -o -path ./vendor -o -path ./ruby/ext/tasker_core/go \) -prune \
	    -o -name '*.go' -type f -print); \
	unformatted=$$([[ -z $$files ]] || gofmt -l $$files); \
	if [[ -n $$unformatted ]]; then echo "gofmt: these files need formatting (run gofmt -w):"; \
	  echo "$$unformatted"; exit 1; fi

# Benchmarks (bench/, docs/benchmarks.md): quick by default, `make bench FULL=1`
# for the full sizes. They report; they are not tests.
bench: deps lib
	scripts/ensure-deps.sh bench
	scripts/with-postgres.sh bench/run.sh $(if $(FULL),--full,)

# Go native fuzzing: every Fuzz* target of every package, $(FUZZTIME) each
# (`go test` alone runs only their seed corpora). A failure leaves its input in
# the package's testdata/fuzz/, where `go test` replays it from then on. No
# database is needed: core/api's targets use a client whose pool points at a
# closed port.
FUZZTIME ?= 30s
fuzz: deps
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //'); do \
	    echo "== $$dir $$target ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done

# One full run that rewrites docs/benchmarks.md (tables, goal verdicts, commit and
# machine) from its own figures. Run it on a quiet machine.
bench-doc: deps lib
	scripts/ensure-deps.sh bench
	scripts/with-postgres.sh bench/run.sh --full --doc

clean:
	scripts/with-postgres.sh --stop 2>/dev/null || true
	rm -rf build tmp
