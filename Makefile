# The workbook's commands. Each creates .venv on first use (and refreshes it when the pins change).
#   make lab [ARGS="--no-browser --port 8890"]   open JupyterLab on notebooks/ (works as root too)
#   make run [PROFILE=standard] [NB="01 02"]   execute notebooks headless, record results/<profile>.json
#   make test                     unit tests + every notebook under nbval (smoke profile)
#   make student [NB=02]          the student edition (solutions removed) into student/
#   make extras                   add the JAX and PyTorch backends to .venv
#   make book                     static site of the notebooks (committed outputs, math, plots) into book/, offline
#   make kit [ARGS="--with-torch"]   offline install kit (wheels, verified datasets, the site, INSTALL.md) into kit/
#   make doctor                   versions, devices, folders and datasets
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= standard
NB      ?=
BACKEND ?=
# Extra options for `make lab` (e.g. ARGS="--no-browser --ip 0.0.0.0 --port 8890" on a headless machine)
# and for `make kit` (e.g. ARGS="--with-jax --with-torch --data /media/usb/datasets --out /media/usb/kit").
ARGS    ?=
# Jupyter refuses to start as root (containers, classroom VMs) unless told that it is meant.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

.PHONY: lab run test test-notebooks extras doctor report bench student book kit clean-venv

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) $(ARGS) notebooks/

run: $(STAMP)
	$(PY) -m dmlib run --profile $(PROFILE) $(NB)

test: $(STAMP)
	$(PY) -m pytest

# The notebooks alone, e.g. `make test-notebooks BACKEND=jax` (after `make extras`).
test-notebooks: $(STAMP)
	KERAS_BACKEND=$(or $(BACKEND),$(KERAS_BACKEND),tensorflow) $(PY) -m pytest notebooks

extras: $(VENV)/.extras
$(VENV)/.extras: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[jax,torch]"
	@touch $@

doctor: $(STAMP)
	$(PY) -m dmlib doctor

report: $(STAMP)
	$(PY) -m dmlib report

bench: $(STAMP)
	$(PY) -m dmlib bench --readme

# The notebooks without their solution cells, for students (the teacher edition is notebooks/).
student: $(STAMP)
	$(PY) -m dmlib student $(NB)

# The notebooks as a static site, read in any browser without internet (open book/index.html): their
# committed outputs, nothing re-run; MathJax comes from requirements-book.txt, installed into .venv here.
book: $(VENV)/.book
	$(PY) -m dmlib book
$(VENV)/.book: $(STAMP) requirements-book.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-book.txt
	@touch $@

# For a classroom without internet: the wheels of the pinned environment, the verified datasets and
# the commands that install them with no package index (kit/INSTALL.md), and the site (make book).
kit: $(STAMP) book
	$(PY) -m dmlib kit $(ARGS)

clean-venv:
	rm -rf $(VENV)
