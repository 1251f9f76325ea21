# zeikan: `make run` (the main job on the embedded broker) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test bench bench-closed-loop install clean

$(STAMP): pyproject.toml
	@# a half-created venv (interrupted creation, python moved or removed) has no working pip: start it again
	$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	@# setuptools always notes that an editable install's meta path finder is in use: nothing to fix, not shown
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -e '.[dev,train-image,bench]'
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/zeikan run

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m zeikan.bench

bench-closed-loop: $(STAMP)
	$(BIN)/python -m zeikan.bench.closed_loop

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
