# bai: a Go re-creation of Backend.AI. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -ceu
.DEFAULT_GOAL := help
export PATH := $(PATH):/usr/local/go/bin

LANGS ?= all
DATA_DIR ?= .data
LISTEN ?= 127.0.0.1:8081
PG_DIR ?= /tmp/bai-pg
GO_TEST_FLAGS ?= -count=1 -timeout 20m
BENCH_FLAGS ?=
FUZZTIME ?= 5s
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help build web run test test-unit test-e2e bench fuzz images docker postgres gen lint clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: web ## build bin/bai (with the web app), the static bin/bai-runner and bin/kernel-lib (bai-jail, hook library, kernel-side Python media package)
	@mkdir -p bin/kernel-lib
	go build -tags webui -ldflags "-X main.version=$(VERSION)" -o bin/bai ./cmd/bai
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/bai-runner ./cmd/bai-runner
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/kernel-lib/bai-jail ./cmd/bai-jail
	agent/hook/build.sh bin/kernel-lib
	rm -rf bin/kernel-lib/python && mkdir -p bin/kernel-lib/python && cp -r media/python/bai_media bin/kernel-lib/python/

web: ## build the browser app into web/dist (installs Node.js and the npm packages when missing)
	scripts/build-web.sh

docker: ## install Debian's docker.io when missing and start dockerd when it is not running
	scripts/ensure-docker.sh

images: docker ## build kernel images (LANGS=python,c selects; unchanged recipes are cache hits)
	agent/images/build.sh $(subst $(comma), ,$(LANGS))

postgres: ## start a throwaway Postgres cluster for tests (prints its DSN)
	scripts/ensure-postgres.sh start $(PG_DIR)

run: build images ## run manager + agent (bai dev) on SQLite in $(DATA_DIR), then print how to connect
	bin/bai dev --data-dir $(DATA_DIR) --listen $(LISTEN)

test: build images ## run every test: unit, API on SQLite and Postgres, e2e on real Docker, clients and integrations with their real tools
	scripts/ensure-test-deps.sh
	dsn=$$(scripts/ensure-postgres.sh start $(PG_DIR)) && \
	BAI_TEST_POSTGRES="$$dsn" go test $(GO_TEST_FLAGS) ./... && \
	scripts/fuzz.sh $(FUZZTIME) && \
	cd e2e && BAI_TEST_POSTGRES="$$dsn" BAI_BIN=$(CURDIR)/bin go test $(GO_TEST_FLAGS) ./...

test-unit: build ## run the root module's tests only (SQLite; Postgres too when BAI_TEST_POSTGRES is set)
	go test $(GO_TEST_FLAGS) ./...

test-e2e: build images ## run the end-to-end suite against the built binaries, real Docker and Postgres
	scripts/ensure-test-deps.sh
	dsn=$$(scripts/ensure-postgres.sh start $(PG_DIR)) && \
	cd e2e && BAI_TEST_POSTGRES="$$dsn" BAI_BIN=$(CURDIR)/bin go test $(GO_TEST_FLAGS) ./...

bench: build images ## measure start-up, execute latency, memory, storage throughput, heartbeat cost and placement rate next to their baselines (BENCH_FLAGS='-only cluster': the simulated-agent part alone)
	dsn=$$(scripts/ensure-postgres.sh start $(PG_DIR)) && \
	cd e2e && BAI_BENCH_POSTGRES="$$dsn" BAI_BIN=$(CURDIR)/bin go run ./bench $(BENCH_FLAGS)

fuzz: ## run every fuzz target for FUZZTIME (default 5s) each; make test does too
	scripts/fuzz.sh $(FUZZTIME)

gen: ## regenerate ent code from ent/schema
	go generate ./ent

lint: ## gofmt, go vet, import direction, stale generated code, and the web app's type check
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^ent/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '^ent/'); echo "run gofmt -w"; exit 1; }
	go vet ./... ./e2e/...
	scripts/check-imports.sh
	scripts/build-web.sh --check
	go generate ./ent && git diff --exit-code -- ent || { echo "ent code is stale: run make gen and commit"; exit 1; }

clean: ## remove build outputs (not the data directory)
	rm -rf bin

comma := ,
