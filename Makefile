PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-cluster lint bench clean

# torch is installed first at the CPU build that this machine keeps on disk, so the
# project's torch range is already satisfied and pip never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	@bash scripts/bwrap_up.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n 2

# The real-Slurm tests (tests/cluster) on a throwaway one-node Slurm: as root, installs
# slurm-wlm and munge if missing, starts munged, slurmctld and slurmd with a config in a temp
# dir, and always stops them by PID. SKILLMIX_TEST_CLUSTER=1 makes a missing cluster a failure.
test-cluster: $(STAMP)
	@dir=$$(mktemp -d /tmp/skillmix-slurm.XXXXXX); \
	trap 'bash scripts/slurm_down.sh "$$dir"' EXIT; \
	bash scripts/slurm_up.sh "$$dir" && \
	SLURM_CONF="$$dir/slurm.conf" SKILLMIX_TEST_CLUSTER=1 $(BIN)/pytest -q -p no:xdist tests/cluster

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	@for b in benchmarks/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-out
