# Thin wrappers; see README.md.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install system-deps test demo bench lint report doctor clean

install: $(STAMP)

$(STAMP): pyproject.toml tools/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]' -e tools
	touch $(STAMP)

# Debian packages the local servers need (redis-server, prometheus, check_postgres, zstd).
system-deps: install
	$(PY) -m mercenary_dev.servers bootstrap

test: system-deps
	$(PY) -m pytest --durations=30 $(PYTEST_ARGS)

demo: system-deps
	$(PY) -m mercenary_dev.demo $(if $(SERVE),--serve,)

bench: system-deps
	$(PY) -m bench $(BENCH)

lint: install
	$(VENV)/bin/ruff check plugins dags tests bench tools
	$(VENV)/bin/mypy

report: install
	$(PY) -m mercenary_maintenance.report $(ARGS)

# Preflight of a deployment: config, connections, privileges, plan items (read-only; exit 1 = fix).
doctor: install
	$(PY) -m mercenary_maintenance.doctor $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
