# Two commands a fresh machine needs (see README): `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PROMPT ?= three red balls bounce to the right

.PHONY: setup demo test lint
setup: $(VENV)/.installed

# torch is pinned and installed first so that nothing else pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/minisora generate "$(PROMPT)" --out clip.mp4

# pytest exits 5 when a marker deselects everything: that is not a failure.
test: setup
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check .
