"""Run profiles, per-profile settings and the setup line printed at the top of every notebook.

The whole workbook has one switch, the environment variable ``DMLIB_PROFILE``:

* ``smoke``: the test suite; tiny subsets and 1-2 epochs, about a minute per notebook;
* ``standard`` (default): students and the committed outputs, at most 10 minutes per notebook;
* ``full``: reproducing the published numbers (a GPU is recommended).

Introduced in ``00_start_here.ipynb``.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

PROFILES: tuple[str, ...] = ("smoke", "standard", "full")
DEFAULT_PROFILE = "standard"


class ProfileError(ValueError):
    """An unknown profile name, or settings that do not define the same keys for every profile."""


def normalize_profile(name: Any, *, source: str = "profile") -> str:
    """The canonical name of a profile, the one normalisation used everywhere (settings, runner, CLI).

    Case and surrounding spaces do not matter (``"Smoke"``, ``" standard "``); anything else that is
    not one of :data:`PROFILES` is refused with one message that lists them.

    Args:
        name: the name given.
        source: where it came from, for the message (``"DMLIB_PROFILE"``, ``"--profile"``).

    Raises:
        ProfileError: for an unknown name or a value that is not a string.

    Example:
        >>> normalize_profile(" Smoke ")
        'smoke'
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in PROFILES:
        raise ProfileError(f"{source}={name!r} is not a profile; use one of {', '.join(PROFILES)} "
                           "(case does not matter)")
    return key


def profile() -> str:
    """Return the active run profile, read from ``DMLIB_PROFILE`` (default ``"standard"``).

    Raises:
        ProfileError: if ``DMLIB_PROFILE`` names no profile.

    Example:
        >>> os.environ["DMLIB_PROFILE"] = "Smoke"; profile()
        'smoke'
    """
    raw = os.environ.get("DMLIB_PROFILE", "")
    if not raw.strip():
        return DEFAULT_PROFILE
    try:
        return normalize_profile(raw, source="DMLIB_PROFILE")
    except ProfileError as err:
        raise ProfileError(f"{err}; e.g. `export DMLIB_PROFILE=smoke`, or unset it for {DEFAULT_PROFILE}") from None


KERAS_BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")


def backend_problem(name: str | None = None) -> str | None:
    """A message if ``name`` (default: ``KERAS_BACKEND``) is not a backend the workbook runs on, or its
    library is not installed; else None.

    Checked without importing Keras or the backend, so that ``doctor`` and ``run`` can say it before
    anything starts (a kernel started on a missing backend ends in a long traceback instead).

    Example:
        >>> backend_problem("jax") is None
        True
        >>> backend_problem("nonsense")
        "KERAS_BACKEND='nonsense' is not a backend the workbook runs on; use one of tensorflow, jax, torch (lower case), or unset it for tensorflow"
    """
    import importlib.util

    raw = os.environ.get("KERAS_BACKEND") if name is None else name
    if raw is not None and raw not in KERAS_BACKENDS:
        return (f"KERAS_BACKEND={raw!r} is not a backend the workbook runs on; use one of {', '.join(KERAS_BACKENDS)} "
                "(lower case), or unset it for tensorflow")
    backend = raw or "tensorflow"
    if importlib.util.find_spec(backend) is None:
        hint = "`make extras` installs JAX and PyTorch into .venv" if backend != "tensorflow" else \
            "`make test` or `make lab` sets up .venv with it"
        return (f"KERAS_BACKEND={backend!r}, but {backend} is not installed in this Python ({sys.executable}); "
                f"{hint}, or choose an installed backend")
    return None


class Settings(Mapping[str, Any]):
    """The active profile's values, read-only, with attribute access (``CFG.epochs``)."""

    def __init__(self, profile_name: str, values: Mapping[str, Any]):
        self._profile = profile_name
        self._values = dict(values)

    @property
    def profile(self) -> str:
        """The profile these values belong to."""
        return self._profile

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(
                f"no setting {key!r}; the settings cell defines {', '.join(self._values)}"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Settings[{self._profile}]({body})"


def settings(*, smoke: Mapping[str, Any], standard: Mapping[str, Any], full: Mapping[str, Any]) -> Settings:
    """Return the active profile's values from one visible table of all three profiles.

    Every profile must define the same keys, so that switching profiles can never leave a
    name undefined.

    Args:
        smoke: values for the test suite (tiny and fast).
        standard: values for the default, laptop-sized run.
        full: values for reproducing the reference numbers.

    Returns:
        A read-only :class:`Settings` with attribute access.

    Raises:
        ProfileError: if the profiles do not define the same keys, or ``DMLIB_PROFILE`` is unknown.

    Example:
        >>> CFG = settings(smoke=dict(epochs=1), standard=dict(epochs=10), full=dict(epochs=30))
        >>> CFG.epochs  # 10 unless DMLIB_PROFILE says otherwise
        10
    """
    table = {"smoke": dict(smoke), "standard": dict(standard), "full": dict(full)}
    keys = set().union(*(v.keys() for v in table.values()))
    problems = [
        f"{name} lacks {', '.join(sorted(keys - v.keys()))}" for name, v in table.items() if keys - v.keys()
    ]
    if problems:
        raise ProfileError("every profile must define the same settings: " + "; ".join(problems))
    active = profile()
    return Settings(active, table[active])


def _gpu_name() -> str | None:
    """Name of the first NVIDIA GPU from nvidia-smi, or None."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out else None


def device() -> str:
    """Describe the accelerator the active Keras backend computes on: a GPU's name, or ``"CPU"``.

    The one place that asks each backend for its devices (one branch per backend).

    Example:
        >>> device()
        'CPU'
    """
    import keras

    backend = keras.backend.backend()
    gpus: list[str] = []
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    elif backend in ("tensorflow", "jax"):
        # Lists GPUs when there are any, else CPUs.
        gpus = [d for d in keras.distribution.list_devices() if str(d).lower().startswith("gpu")]
    if not gpus:
        return "CPU"
    name = gpus[0] if backend == "torch" else (_gpu_name() or gpus[0])
    return f"{len(gpus)} x GPU {name}" if len(gpus) > 1 else f"GPU {name}"


def versions() -> dict[str, str]:
    """Versions of Python and of the workbook's libraries that are installed (none is imported)."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for dist in ("dmlib", "keras", "tensorflow", "jax", "torch", "numpy", "pandas", "scikit-learn", "matplotlib"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


# TensorFlow 2.21 writes these start-up lines straight to file descriptor 2, before any log
# setting (TF_CPP_MIN_LOG_LEVEL) applies, so Jupyter would show them in every notebook.
_STARTUP_NOISE = re.compile(
    r"^(I0000 |WARNING: All log messages before absl::InitializeLog|To enable the following instructions"
    r"|E0000 .*failed call to cuInit"
    r"|E0000 .*oneDNN supports DT_BOOL only on platforms with AVX-512)"
)


# Written by TensorFlow 2.21's C++ side whenever Keras feeds a large array to `fit` with op determinism on
# (tf.data swaps a parallel map for a sequential one and logs, harmlessly, the attribute the sequential
# op lacks: "Unknown attributes will be ignored"). It goes to file descriptor 2, which ipykernel copies
# into the notebook, at any time during a run, not only at start-up.
_RUNTIME_NOISE = re.compile(rb"^E0000 [^\n]*node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool ")
_fd2_filter_started = False


def _filter_fd2(pattern: re.Pattern[bytes] = _RUNTIME_NOISE) -> bool:
    """Inside a Jupyter kernel, drop the lines of file descriptor 2 that match ``pattern``; pass the rest on.

    File descriptor 2 becomes a pipe read by a daemon thread, which writes every other line, unchanged
    and at once, to where fd 2 went before (ipykernel's own capture, so they still reach the notebook).
    Only in a kernel: there Python's tracebacks travel over Jupyter's messages, not fd 2, so nothing is
    lost if the process ends while a line is in the pipe. Returns True when the filter was installed.
    """
    global _fd2_filter_started
    if _fd2_filter_started or "ipykernel" not in sys.modules:
        return False
    import threading

    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return False
    read_end, write_end = os.pipe()
    target = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    sync, drained = b"\x00dmlib-fd2-sync\x00", threading.Event()

    def pump() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line == sync:
                    drained.set()
                elif not pattern.match(line):
                    os.write(target, line + b"\n")
            if pending and not pending.startswith((b"E0000", b"\x00")):  # a partial line that cannot be noise
                os.write(target, pending)
                pending = b""

    def wait_until_drained(*_: Any) -> None:
        """After each cell: what the cell wrote to fd 2 has passed the filter before the cell ends."""
        drained.clear()
        os.write(2, sync + b"\n")
        drained.wait(2.0)

    threading.Thread(target=pump, name="dmlib-fd2-filter", daemon=True).start()
    shell.events.register("post_execute", wait_until_drained)
    _fd2_filter_started = True
    return True


class _RetracingFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning, and nothing else.

    Keras compiles one predict/train function per model; a notebook that trains and scores many
    small models (a grid, several seeds) makes TensorFlow warn about "expensive retracing" that is
    expected there and says nothing about the lesson.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_tensorflow_python_logs() -> None:
    logger = logging.getLogger("tensorflow")  # the logger TensorFlow's Python side writes to
    if not any(isinstance(f, _RetracingFilter) for f in logger.filters):
        logger.addFilter(_RetracingFilter())


SMOKE_XLA_FLAGS = "--xla_backend_optimization_level=0"
"""XLA flag the smoke profile adds on JAX (CPU): compile without LLVM's optimisation passes."""


def fast_compile_for_smoke(environ: dict[str, str] | None = None) -> bool:
    """In the smoke profile on the JAX backend, make XLA compile without optimisation passes.

    Why: a smoke run trains dozens of tiny models for a few steps each, so on JAX most of its time
    is XLA compiling them (measured on the 2-core CPU: a small CNN and a GRU, 2 epochs each, 13.5 s
    with default flags and 8.1 s with ``--xla_backend_optimization_level=0``). The profile's
    results are checks, not numbers anyone quotes, so slower compiled code costs nothing there.
    The flag is appended to ``XLA_FLAGS`` (other flags are kept); nothing changes if the flags
    already set an optimisation level, in the standard and full profiles, on other backends, or
    when a CUDA plugin for JAX is installed (a GPU's kernels should stay optimised). It must run
    before JAX starts its backend: :func:`start_backend` calls it first.

    Args:
        environ: the environment to read and change (default ``os.environ``).

    Returns:
        True if the flag was added.

    Example:
        >>> env = {"DMLIB_PROFILE": "smoke", "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_foo=1"}
        >>> fast_compile_for_smoke(env), env["XLA_FLAGS"]  # doctest: +SKIP
        (True, '--xla_foo=1 --xla_backend_optimization_level=0')
    """
    import importlib.util

    env = os.environ if environ is None else environ
    flags = env.get("XLA_FLAGS", "")
    try:
        active = normalize_profile(env.get("DMLIB_PROFILE") or DEFAULT_PROFILE, source="DMLIB_PROFILE")
    except ProfileError:
        return False  # profile() reports it, with its message, when the notebook asks
    if active != "smoke" or env.get("KERAS_BACKEND") != "jax" or "xla_backend_optimization_level" in flags:
        return False
    if any(importlib.util.find_spec(f"jax_cuda{v}_plugin") for v in (12, 13)):
        return False
    env["XLA_FLAGS"] = f"{flags} {SMOKE_XLA_FLAGS}".strip()
    return True


def start_backend() -> None:
    """Import Keras and start its backend with TensorFlow's C++ start-up chatter filtered out.

    Any other line written to stderr meanwhile is passed on unchanged. On TensorFlow it also

    * transposes a boolean tensor once, so that TensorFlow's once-per-process error line "oneDNN
      supports DT_BOOL only on platforms with AVX-512" (printed on every CPU, AVX-512 or not, the
      first time a masked layer runs; harmless: it falls back to the default kernel) is written
      here, where it is filtered, instead of in the middle of a notebook's training output;
    * drops TensorFlow's "tf.function retracing" warnings (see :class:`_RetracingFilter`);
    * in a Jupyter kernel, drops the one C++ line TensorFlow logs at run time when op determinism
      meets a large ``fit`` (see :func:`_filter_fd2`).

    First of all it applies :func:`fast_compile_for_smoke` (smoke profile, JAX backend only).
    """
    fast_compile_for_smoke()
    prepare_determinism()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            import keras

            if keras.backend.backend() in ("tensorflow", "jax"):  # torch has no list_devices
                keras.distribution.list_devices()  # initialises the devices (TensorFlow prints here)
            if keras.backend.backend() == "tensorflow":
                keras.ops.transpose(keras.ops.ones((1, 2), dtype="bool"))  # the DT_BOOL line, once
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        kept = [ln for ln in tmp.read().decode(errors="replace").splitlines() if not _STARTUP_NOISE.match(ln)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    _quiet_tensorflow_python_logs()
    if keras.backend.backend() == "tensorflow":
        _filter_fd2()


DETERMINISM_ENV = "DMLIB_DETERMINISTIC"
"""Set to ``0`` to leave the backend's deterministic mode off (e.g. to time what it costs)."""


def deterministic_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True unless ``DMLIB_DETERMINISTIC`` is ``0``, ``false``, ``no`` or ``off`` (the default is on).

    Example:
        >>> deterministic_requested({}), deterministic_requested({"DMLIB_DETERMINISTIC": "0"})
        (True, False)
    """
    env = os.environ if environ is None else environ
    return env.get(DETERMINISM_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def prepare_determinism(environ: dict[str, str] | None = None) -> None:
    """Set the environment variables a backend reads only when it starts (before Keras is imported).

    * PyTorch on a GPU: ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, which cuBLAS needs before
      ``torch.use_deterministic_algorithms`` can make matrix products reproducible;
    * JAX on a GPU: ``--xla_gpu_deterministic_ops=true`` (on the CPU, XLA is deterministic already).

    Values the user set are kept. Nothing is set when ``DMLIB_DETERMINISTIC=0``.
    """
    env = os.environ if environ is None else environ
    if not deterministic_requested(env):
        return
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if env.get("KERAS_BACKEND") == "jax" and "xla_gpu_deterministic_ops" not in env.get("XLA_FLAGS", ""):
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_gpu_deterministic_ops=true".strip()


def make_deterministic(enable: bool = True) -> str:
    """Put the active backend in its deterministic mode, so that a re-run gives the same numbers.

    The one place that asks each backend for it (one branch per backend, like :func:`device`):

    * TensorFlow: ``tf.config.experimental.enable_op_determinism()`` (every op picks its
      deterministic kernel, ``tf.data`` keeps its order; an op without one raises instead of
      silently varying);
    * PyTorch: ``torch.use_deterministic_algorithms(True)`` (and :func:`prepare_determinism`'s
      cuBLAS setting on a GPU);
    * JAX: nothing to switch on the CPU, where XLA's programs are deterministic; on a GPU
      :func:`prepare_determinism` adds ``--xla_gpu_deterministic_ops=true`` before JAX starts.

    With ``enable=False`` the TensorFlow and PyTorch switches are turned off again.

    Returns:
        What was done, in words (printed by :func:`setup` only when determinism is off).

    Example:
        >>> make_deterministic()  # doctest: +SKIP
        'tensorflow op determinism'
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # TensorFlow's public API can only switch determinism on; its framework module also switches it
        # off and tells its state (used for DMLIB_DETERMINISTIC=0 and by the tests).
        from tensorflow.python.framework import config as tf_framework_config

        if enable:
            tf.config.experimental.enable_op_determinism()
        elif tf_framework_config.is_op_determinism_enabled():
            tf_framework_config.disable_op_determinism()
        return "tensorflow op determinism" if enable else "tensorflow op determinism off"
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(enable)
        return "torch deterministic algorithms" if enable else "torch deterministic algorithms off"
    if backend == "jax":
        return "jax (deterministic on CPU; GPU via XLA_FLAGS)" if enable else "jax (unchanged)"
    return f"{backend}: no deterministic mode known"


def setup(seed: int = 42, *, verbose: bool = True) -> dict[str, Any]:
    """Seed every random number generator, make the backend deterministic, print the run's facts.

    Seeds Python's ``random``, NumPy and the backend through ``keras.utils.set_random_seed``, and
    switches on the backend's deterministic mode (:func:`make_deterministic`; ``DMLIB_DETERMINISTIC=0``
    leaves it off), so that re-running a notebook on the same backend and machine gives the same
    numbers. Call it before importing Keras yourself, so that the backend starts quietly (see
    :func:`start_backend`).

    Args:
        seed: the seed of this run.
        verbose: print the one-line summary.

    Returns:
        ``dict`` with dmlib, keras, backend, backend_version, device, profile, seed and fast_compile
        (True when :func:`fast_compile_for_smoke` took effect).

    Example:
        >>> facts = setup(seed=0)   # doctest: +SKIP
        dmlib 0.1.0 | Keras 3.15.1 | backend tensorflow 2.21.0 | device CPU (no GPU found) | profile standard | seed 0
    """
    start_backend()
    import keras

    from dmlib import __version__
    from dmlib.results import _write_record_line

    keras.utils.set_random_seed(seed)
    deterministic = deterministic_requested()
    make_deterministic(deterministic)
    backend = keras.backend.backend()
    vers = versions()
    facts = {
        "dmlib": __version__,
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": vers.get({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, ""), "?"),
        "device": device(),
        "profile": profile(),
        "seed": seed,
        "fast_compile": backend == "jax" and SMOKE_XLA_FLAGS in os.environ.get("XLA_FLAGS", ""),
        "deterministic": deterministic,
    }
    if verbose:
        dev = facts["device"] + (" (no GPU found)" if facts["device"] == "CPU" else "")
        print(
            f"dmlib {facts['dmlib']} | Keras {facts['keras']} | backend {backend} {facts['backend_version']}"
            f" | device {dev} | profile {facts['profile']} | seed {seed}"
            + (" | XLA unoptimised (fast compile)" if facts["fast_compile"] else "")
            + ("" if deterministic else " | NOT deterministic (DMLIB_DETERMINISTIC=0)")
        )
    from dmlib import distribute

    if distribute.requested():  # opt-in (DMLIB_DATA_PARALLEL=1): say whether it took effect, and why not
        facts["data_parallel"] = distribute.use_data_parallel(True)
        if verbose:
            print(facts["data_parallel"])
    _write_record_line({"kind": "setup", **facts, "versions": vers})
    return facts
