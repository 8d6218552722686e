"""Verified, offline-capable dataset loaders returning plain numpy arrays and pandas frames.

The generic part (search order, verification, downloads, archives, the prepared cache, the
errors and the registry) is in :mod:`dmlib.datasets.store`; each dataset has its own module.
Everything public is re-exported here, so ``dmlib.datasets.load_fashion_mnist`` etc. work as
before. Introduced in ``00_start_here.ipynb``.

Adding a dataset: one new module that defines the loader and calls
:func:`~dmlib.datasets.store.register`, plus its name in ``DATASET_MODULES`` below.

Example:
    >>> from dmlib import datasets
    >>> (x_train, y_train), _ = datasets.load_fashion_mnist()  # doctest: +SKIP
    >>> datasets.status()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
import types

from dmlib.datasets import store
from dmlib.datasets.store import (  # noqa: F401  (the generic API; the loop below adds every name)
    DATASETS,
    SYSTEM_DIRS,
    CacheNotWritableError,
    CorruptFileError,
    DatasetError,
    DatasetInfo,
    DatasetUnavailableError,
    UnsafeArchiveError,
    _load_prepared,
    _prepared_path,
    _save_prepared,
    cache_dir,
    forget_mirrors,
    mirrors,
    offline,
    recorded_mirrors,
    register,
    safe_extract,
    status,
    unavailable_message,
    use_mirror,
)

# One name per dataset module (the order is the order of `status()` and `datasets list`).
DATASET_MODULES = ["fashion_mnist", "imdb", "beijing", "mnist1d", "digits", "jena", "adbench", "movielens"]

_MODULES: list[types.ModuleType] = [store] + [importlib.import_module(f"{__name__}.{m}") for m in DATASET_MODULES]

for _module in _MODULES:  # re-export every name the single module used to have
    for _name, _value in vars(_module).items():
        if not _name.startswith("__") and not isinstance(_value, types.ModuleType) and _name not in globals():
            globals()[_name] = _value
del _module, _name, _value


class _Package(types.ModuleType):
    """Setting ``dmlib.datasets.NAME`` also sets ``NAME`` in every submodule that defines it.

    Until issue 14 this package was one module, and tests (and users) adjust its constants with
    ``monkeypatch.setattr(dmlib.datasets, "JENA_ROWS", 30)``; this keeps that working.
    """

    def __setattr__(self, name: str, value: object) -> None:
        for module in globals().get("_MODULES", ()):
            if name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
