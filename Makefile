# Two commands for a fresh machine: `make run` and `make test`. Everything else is set up from them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTO_SRC := proto/runhive/protocol/v1/service.proto

.PHONY: install run test lint proto proto-check bench clean typecheck browser postgres

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# Put client/ and service/ on sys.path as plain path entries: setuptools' editable finder runs after the
	# path finder, so a ./runhive/ run directory in the cwd would otherwise shadow the package.
	printf '%s\n%s\n' "$(CURDIR)/client" "$(CURDIR)/service" \
		> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/runhive-paths.pth"
	# RUNHIVE_AS_WANDB=1 answers `import wandb` with runhive (runhive.integration); a wheel installs this itself.
	cp client/runhive-wandb.pth "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) examples/demo.py

proto: install
	$(PY) -m grpc_tools.protoc -I proto --python_out=client --grpc_python_out=client --pyi_out=client $(PROTO_SRC)
	$(PY) tools/descriptor_module.py client/runhive/protocol/v1/service_pb2.py client/runhive/protocol/v1/service_desc.py

# Fails when the checked-in generated code differs from what `make proto` would write.
proto-check: install
	rm -rf $(VENV)/proto-check && mkdir -p $(VENV)/proto-check
	$(PY) -m grpc_tools.protoc -I proto --python_out=$(VENV)/proto-check --grpc_python_out=$(VENV)/proto-check \
		--pyi_out=$(VENV)/proto-check $(PROTO_SRC)
	$(PY) tools/descriptor_module.py $(VENV)/proto-check/runhive/protocol/v1/service_pb2.py \
		$(VENV)/proto-check/runhive/protocol/v1/service_desc.py
	diff -r -x __pycache__ -x __init__.py $(VENV)/proto-check/runhive/protocol/v1 client/runhive/protocol/v1 \
		|| (echo "generated protos drifted from proto/: run 'make proto' and commit" && exit 1)

lint: install proto-check
	$(PY) -m ruff check client service tests bench examples
	$(PY) -m ruff format --check client service tests bench examples
	$(PY) -m mypy

# The dashboard's tests drive Debian's headless Chromium with Playwright (no browser download).
browser:
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# The team server's tests start a throwaway PostgreSQL 15 cluster from Debian's binaries (tests/_pg.py).
postgres:
	test -x /usr/lib/postgresql/15/bin/initdb || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }

test: install lint browser postgres
	$(PY) -m pytest -q

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info client/*.egg-info
