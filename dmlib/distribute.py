"""Data-parallel training across several accelerators, opt-in with one setting (``DMLIB_DATA_PARALLEL=1``).

When a machine shows more than one accelerator (several GPUs, or a TPU), the full profile can split
every batch across them with Keras' distribution API (``keras.distribution.DataParallel``: each
device holds a copy of the weights and a slice of the batch; gradients are averaged). Keras
implements it for the JAX backend only, so that is the only backend where this turns it on. It is
off by default: one device is the common case, and the setup cell prints the state either way.
Batch sizes must be multiples of the number of devices.

CI checks it on two simulated CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2``):
the weights after training match a single-device run.
"""

from __future__ import annotations

import os

import keras

ENV = "DMLIB_DATA_PARALLEL"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def requested() -> bool:
    """Whether ``DMLIB_DATA_PARALLEL`` asks for data-parallel training.

    Raises:
        ValueError: for a value that is neither on (1/true/yes/on) nor off (0/false/no/off/empty).

    Example:
        >>> os.environ[ENV] = "1"; requested()
        True
    """
    value = os.environ.get(ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{ENV}={os.environ[ENV]!r} is not understood; set it to 1 (on) or 0 (off)")


def use_data_parallel(enable: bool | None = None) -> str:
    """Turn on ``keras.distribution.DataParallel`` over all visible devices when asked and possible.

    Args:
        enable: True/False to decide here; None reads ``DMLIB_DATA_PARALLEL``.

    Returns:
        One line for the setup cell saying whether it is on, and why not when it is off.

    Example:
        >>> use_data_parallel(False)
        'data parallel: off (set DMLIB_DATA_PARALLEL=1 to split batches across several accelerators)'
    """
    if enable is None:
        enable = requested()
    if not enable:
        keras.distribution.set_distribution(None)
        return f"data parallel: off (set {ENV}=1 to split batches across several accelerators)"
    if keras.backend.backend() != "jax":
        return f"data parallel: off: Keras implements it for the JAX backend only (this is {keras.backend.backend()})"
    devices = keras.distribution.list_devices()
    if len(devices) < 2:
        return f"data parallel: off: only one device ({devices[0] if devices else 'none'})"
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return f"data parallel: on, across {len(devices)} devices (batch sizes must be multiples of {len(devices)})"
