# The two entry points the README gives: `make demo` and `make test`. Each builds its own
# virtual environment from the exact pins in constraints.txt, so a fresh machine needs only
# Python 3.11 and Java 11+ (for PMML). torch==2.13.0 must resolve to a CPU wheel: when pip
# would take the CUDA build instead, install the CPU one into $(VENV) first (README, Set-up).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

# tensorflow-serving-api (TF Serving's gRPC protos) is installed in a step of its own with
# --no-deps: it declares the full `tensorflow`, which pip would install beside tensorflow-cpu
# (a second TensorFlow); what it really imports (grpcio, protobuf, TensorFlow's own protos)
# the first step installs.
.PHONY: install demo convert-demo serve test lint typecheck clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned dependencies into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e ".[all,dev]"
	$(BIN)/python -m pip install --no-deps -c constraints.txt tensorflow-serving-api
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

convert-demo: install
	$(BIN)/python -m demo.build_models --repo models --url http://$(HOST):$(PORT)

serve: install
	$(BIN)/modelport serve --repo models --host $(HOST) --port $(PORT)

demo: convert-demo serve

lint: install
	$(BIN)/ruff check model_repo converters gateway tests demo bench
	$(BIN)/ruff format --check model_repo converters gateway tests demo bench

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup tests

clean:
	rm -rf $(VENV) models .pytest_cache .mypy_cache .ruff_cache
