# voxgate: two commands do everything on a fresh Debian machine with Go.
#   make run    installs what the service needs, builds it and serves on 127.0.0.1:8080
#   make test   installs what the tests need, then gofmt, go mod tidy and vet checks, the whole suite
#               (beside a throwaway PostgreSQL cluster), and the race detector

GO      ?= go
BIN     := bin/voxgate
ADDR    ?= 127.0.0.1:8080
DATA    ?= ./data
MODELS  ?= ./models
# DEGRADED=1 serves even without the VAD and deepfake models (verdicts then
# say which checks did not run); ENROLL_SPEECH sets the seconds of net
# speech an enrollment needs (default 10).
DEGRADED ?=
ENROLL_SPEECH ?= 10

.PHONY: run test test-suite test-browser build deps test-deps vet fmt-check mod-check bench fuzz clean

# The models are fetched (SHA-256 checked) when the folder lacks them,
# copied from ../shared/models where that has them (no network needed).
run: deps build
	@$(BIN) models pull --dir $(MODELS) --from ../shared/models || [ -n "$(DEGRADED)" ]
	$(BIN) serve --addr $(ADDR) --data $(DATA) --models $(MODELS) --enroll-speech $(ENROLL_SPEECH) $(if $(DEGRADED),--degraded)

build:
	$(GO) build -o $(BIN) ./cmd/voxgate

deps:
	@scripts/deps.sh run

test-deps:
	@scripts/deps.sh test

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# go.mod and go.sum must be what `go mod tidy` makes of them: every
# requirement used, direct ones listed as such, no missing sums. -diff
# changes nothing; it prints what tidy would change and fails if anything.
mod-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }

# The whole suite once normally (real data, real servers), then again under
# the race detector with -short, which skips only the slowest numeric parity
# runs (they have no goroutines of their own to race). The real-browser
# tests run on their own, after the other packages: their takes are
# sample-exact under any load, but one of them records through Chromium's
# capture device, which drops audio when it competes for the CPU
# (docs/PERFORMANCE.md), and real-time recording is slower still beside
# the CPU-heavy packages.
#
# The suite runs beside a throwaway PostgreSQL cluster (scripts/with-postgres.sh,
# which exports VOXGATE_TEST_POSTGRES), so that the PostgreSQL store passes the
# same conformance suite as SQLite and three real nodes share one database.
test: test-deps fmt-check mod-check vet
	scripts/with-postgres.sh $(MAKE) --no-print-directory test-suite

test-suite:
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/browsertest$$')
	$(GO) test -count=1 -timeout 20m ./browsertest
	$(GO) test -count=1 -race -short -timeout 20m ./...

# The real-browser tests alone (headless Chromium with a WAV as the
# microphone; they run in `make test` too), keeping the console's
# screenshots in bin/screenshots.
test-browser: test-deps
	VOXGATE_SCREENSHOTS=$(CURDIR)/bin/screenshots $(GO) test -count=1 -v ./browsertest

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin
