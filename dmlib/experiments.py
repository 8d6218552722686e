"""A small experiment runner: a grid of configurations x seeds -> a tidy pandas DataFrame.

Each finished run is cached on disk as one small JSON file. The cache must never serve a number
computed from other inputs, so the key is a sha256 over everything that determines the result:

* the configuration and the seed, hashed exactly (:func:`fingerprint`: numbers by value and type,
  numpy arrays by dtype, shape and bytes, DataFrames by content, columns and dtypes, functions by
  their source code);
* the experiment function's source code, and every global it reads (found from its byte code):
  settings such as ``CFG`` and data arrays by content, the notebook's helper functions by their
  source (recursively), library functions by source and package version, modules by version;
  its default arguments and closure variables likewise;
* extra ``inputs`` the caller names explicitly, the experiment's name and ``version``, the run
  profile, the Keras backend, the dmlib version;
* the source of every dmlib module (:func:`dmlib.results.package_source_digest`), so that editing a
  helper that the experiment calls, directly or through another helper, recomputes its runs.

A value that cannot be hashed exactly (an open file, a generator, an arbitrary object), and a
function that reads what its byte code does not name (``globals()[...]``, ``eval``, ``os.environ``),
is refused with a :class:`TypeError` that names it, instead of being keyed by a ``repr`` that may
hide a change. A user's own module is hashed by its whole source, a user class by its source and
what its methods read, a ``functools.partial`` by its function and arguments. A cached entry is
used only when its bytes match the sha256 stored beside it (outside the entry) and its stored key,
configuration hash, seed, profile, backend and metric types agree with the run asked for; anything
else is recomputed. A cache that cannot be written is warned about once; the runs go on. :func:`summarise` and :func:`verdict` turn the runs into
mean +- std tables and :mod:`dmlib.verdicts` sentences (paired by seed where the runs share seeds).

``DMLIB_EXPERIMENTS_CACHE`` overrides the cache folder (``off`` disables caching).

Introduced in ``05_generalization``.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import itertools
import json
import os
import struct
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CACHE_SUBDIR = "dmlib-experiments"
CACHE_ENV = "DMLIB_EXPERIMENTS_CACHE"
CACHE_FORMAT = 3  # bump when the layout of a cache file or the key changes
_METRIC_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", type(None): "null", dict: "dict"}


def default_cache_dir() -> Path | None:
    """The folder of cached runs: ``DMLIB_EXPERIMENTS_CACHE`` if set (``off``: None, no caching),
    else ``dmlib-experiments/`` inside the dmlib cache (``DMLIB_CACHE``).

    Example:
        >>> os.environ["DMLIB_CACHE"] = "/tmp/dmcache"; default_cache_dir()
        PosixPath('/tmp/dmcache/dmlib-experiments')
    """
    override = os.environ.get(CACHE_ENV, "").strip()
    if override.lower() in ("off", "0", "false", "no"):
        return None
    if override:
        return Path(override).expanduser()
    from dmlib.datasets import cache_dir

    return cache_dir() / CACHE_SUBDIR


def _backend() -> str:
    """The active Keras backend's name (Keras is imported only here)."""
    import keras

    return keras.backend.backend()


# --------------------------------------------------------------------------------------------
# Exact fingerprints
# --------------------------------------------------------------------------------------------

_NOT_HASHABLE_HINT = (
    "The experiment cache hashes every input exactly; give it numbers, strings, lists, dicts, "
    "numpy arrays, pandas DataFrames/Series, functions or Keras models, or turn this value into one "
    "of those (or run with cache_dir=False)."
)


def _package_version(module_name: str) -> str:
    """``<top-level package>==<its __version__>`` (or the Python version for the standard library)."""
    top = (module_name or "").split(".")[0]
    mod = sys.modules.get(top)
    version = getattr(mod, "__version__", None) if mod is not None else None
    if version is None:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return f"{top}=={version}"


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths().get("stdlib", "")}
    try:
        roots |= set(site.getsitepackages())
    except AttributeError:  # some virtualenv versions lack it
        pass
    return tuple(os.path.realpath(r) for r in roots if r)


def _is_user_code(obj: Any) -> bool:
    """True for functions and classes of the user's own code (a notebook, a script, a test module).

    Their source, defaults, closures and the globals they read are all hashed. Library code
    (installed packages, the standard library, dmlib itself) is hashed by its source and the
    package's version instead.
    """
    module = getattr(obj, "__module__", None) or "__main__"
    if module.startswith("__main__"):
        return True
    if module.split(".")[0] == "dmlib":
        return False
    file = getattr(sys.modules.get(module), "__file__", None)
    if not file:
        return False
    file = os.path.realpath(file)
    return not any(file.startswith(root + os.sep) for root in _library_roots())


def _code_names(code: types.CodeType) -> set[str]:
    """The global names a code object (and the functions and comprehensions nested in it) may read."""
    names: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
            names.add(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


_DYNAMIC_GLOBALS = {"globals", "vars", "eval", "exec", "__import__"}
_DYNAMIC_ATTRIBUTES = {"environ", "getenv", "environb"}


def _dynamic_reads(code: types.CodeType) -> list[str]:
    """Reads whose target the byte code does not name: ``globals()[...]``, ``eval``, ``os.environ``, ``os.getenv``.

    Example:
        >>> _dynamic_reads((lambda: globals()["W"]).__code__), _dynamic_reads((lambda x: x + 1).__code__)
        (['globals()'], [])
    """
    names: set[str] = set(code.co_names)
    stack = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    while stack:
        inner = stack.pop()
        names |= set(inner.co_names)
        stack += [c for c in inner.co_consts if isinstance(c, types.CodeType)]
    found = [f"{n}()" for n in sorted(names & _DYNAMIC_GLOBALS)]
    found += [f"os.{n}" for n in sorted(names & _DYNAMIC_ATTRIBUTES)]
    return found


def _code_bytes(code: types.CodeType) -> bytes:
    """A stable serialisation of a code object without its file name and line numbers."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        parts.append(_code_bytes(const) if isinstance(const, types.CodeType) else repr(const).encode())
    return b"\x00".join(parts)


def _function_source(fn: Any) -> bytes:
    """The source code of a function or class, or (when no source is available) its byte code."""
    try:
        return inspect.getsource(fn).encode("utf-8")
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        if code is None:
            raise TypeError(f"cannot read the source code of {fn!r}") from None
        return b"<bytecode>" + _code_bytes(code)


class _Hasher:
    """Feeds values into one sha256, exactly, with type tags; remembers what it visited."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self._active: set[int] = set()  # objects being hashed right now (cycles)
        self.visited: list[str] = []  # the globals read by the experiment code, for messages

    def _tag(self, tag: str, payload: bytes = b"") -> None:
        self.h.update(tag.encode() + struct.pack("<Q", len(payload)) + payload)

    def feed(self, value: Any, where: str) -> None:  # noqa: C901 (a type switch)
        if value is None:
            self._tag("none")
        elif isinstance(value, (bool, np.bool_)):
            self._tag("bool", b"1" if value else b"0")
        elif isinstance(value, int):
            self._tag("int", str(value).encode())
        elif isinstance(value, float):
            self._tag("float", float(value).hex().encode())
        elif isinstance(value, complex):
            self._tag("complex", f"{value.real.hex()},{value.imag.hex()}".encode())
        elif isinstance(value, str):
            self._tag("str", value.encode("utf-8"))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._tag("bytes", bytes(value))
        elif isinstance(value, (np.ndarray, np.generic)):
            self._array(np.asarray(value), where)
        elif isinstance(value, pd.DataFrame):
            self._frame(value, where)
        elif isinstance(value, pd.Series):
            self._tag("series", str(value.dtype).encode())
            self.feed(value.name, f"{where}.name")
            self._frame(value.to_frame(name="__series__"), where)
        elif isinstance(value, pd.Index):
            self._tag("index")
            self._frame(pd.DataFrame(index=value), where)
        elif isinstance(value, types.ModuleType):
            self._module(value, where)
        elif isinstance(value, functools.partial):  # its function and bound arguments, not just its type
            self._tag("partial")
            self.feed(value.func, f"{where}.func")
            self.feed(value.args, f"{where}.args")
            self.feed(value.keywords, f"{where}.keywords")
        elif isinstance(value, (types.FunctionType, type)) or inspect.isclass(value):
            self._callable(value, where)
        elif isinstance(value, (types.BuiltinFunctionType, np.ufunc)):
            name = f"{getattr(value, '__module__', None)}.{getattr(value, '__qualname__', getattr(value, '__name__', ''))}"
            self._tag("builtin", f"{name}@{_package_version(getattr(value, '__module__', '') or '')}".encode())
        elif isinstance(value, types.MethodType):
            self._tag("method")
            self.feed(value.__func__, f"{where}.__func__")
            self.feed(value.__self__, f"{where}.__self__")
        elif isinstance(value, np.random.Generator):
            self._tag("rng")
            self.feed(value.bit_generator.state, f"{where}.state")
        else:
            self._container_or_object(value, where)

    def _container_or_object(self, value: Any, where: str) -> None:
        if id(value) in self._active:
            raise TypeError(f"{where} contains itself; the experiment cache cannot hash cycles. {_NOT_HASHABLE_HINT}")
        self._active.add(id(value))
        try:
            if isinstance(value, Mapping):
                self._tag("mapping", f"{type(value).__module__}.{type(value).__qualname__}".encode())
                profile = getattr(value, "profile", None)  # dmlib Settings know their profile
                if isinstance(profile, str):
                    self._tag("profile", profile.encode())
                items = []
                for k, v in value.items():
                    sub = _Hasher()
                    sub.feed(k, f"{where} key {k!r}")
                    items.append((sub.h.hexdigest(), k, v))
                self._tag("len", str(len(items)).encode())
                for digest, k, v in sorted(items, key=lambda t: t[0]):
                    self._tag("key", digest.encode())
                    self.feed(v, f"{where}[{k!r}]")
            elif isinstance(value, (list, tuple)):
                self._tag(type(value).__name__ if type(value) in (list, tuple) else "sequence", str(len(value)).encode())
                for i, v in enumerate(value):
                    self.feed(v, f"{where}[{i}]")
            elif isinstance(value, (set, frozenset)):
                digests = []
                for v in value:
                    sub = _Hasher()
                    sub.feed(v, f"{where} item {v!r}")
                    digests.append(sub.h.hexdigest())
                self._tag("set", "".join(sorted(digests)).encode())
            elif hasattr(value, "get_weights") and hasattr(value, "get_config"):  # a Keras model or layer
                self._keras(value, where)
            elif callable(value) and isinstance(getattr(value, "__dict__", None), dict):  # a callable object
                self._tag("callable object")
                self.feed(type(value), f"{where} (its class)")
                self.feed(dict(vars(value)), f"{where} (its attributes)")
            else:
                raise TypeError(f"{where} (a {type(value).__module__}.{type(value).__qualname__}) cannot be hashed "
                                f"exactly. {_NOT_HASHABLE_HINT}")
        finally:
            self._active.discard(id(value))

    def _array(self, arr: np.ndarray, where: str) -> None:
        if arr.dtype.hasobject:
            raise TypeError(f"{where} is a numpy array of Python objects (dtype object), which cannot be hashed "
                            f"exactly; convert it to a numeric or string dtype. {_NOT_HASHABLE_HINT}")
        self._tag("ndarray", f"{arr.dtype.str}|{arr.shape}".encode())
        self.h.update(np.ascontiguousarray(arr).view(np.uint8).reshape(-1).data if arr.size else b"")

    def _frame(self, df: pd.DataFrame, where: str) -> None:
        self._tag("frame", f"{df.shape}".encode())
        self.feed([str(c) for c in df.columns], f"{where}.columns")
        self.feed([type(c).__name__ for c in df.columns], f"{where}.columns types")
        self.feed([str(t) for t in df.dtypes], f"{where}.dtypes")
        try:
            index_hash = pd.util.hash_pandas_object(df.index, index=False).to_numpy()
            values_hash = pd.util.hash_pandas_object(df, index=False).to_numpy() if df.shape[1] else np.zeros(0)
            col_hashes = [pd.util.hash_pandas_object(df.iloc[:, i], index=False).to_numpy() for i in range(df.shape[1])]
        except TypeError as err:
            raise TypeError(f"{where} holds values pandas cannot hash ({err}); store numbers or strings in it. "
                            f"{_NOT_HASHABLE_HINT}") from None
        self._array(index_hash, where)
        self._array(values_hash, where)
        for h in col_hashes:  # the row hash combines columns; hashing each column too keeps swaps apart
            self._array(h, where)
        for i, dtype in enumerate(df.dtypes):
            if dtype.kind == "f":  # hash_pandas_object sees -0.0 == 0.0; keep exact bytes for floats
                self._array(df.iloc[:, i].to_numpy(), where)

    def _callable(self, fn: Any, where: str) -> None:
        name = f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"
        if id(fn) in self._active:  # recursion: the function is already being hashed
            self._tag("recursive", name.encode())
            return
        self._active.add(id(fn))
        try:
            user = _is_user_code(fn)
            self._tag("callable", name.encode())
            if not user:
                self._tag("package", _package_version(getattr(fn, "__module__", "") or "").encode())
            if user and isinstance(fn, type):  # a user class: its methods (source, and what they read) and values
                self._user_class(fn, name, where)
                return
            try:
                self._tag("source", _function_source(fn))
            except TypeError:
                if user:
                    raise TypeError(f"{where}: cannot read the source code of {name}. {_NOT_HASHABLE_HINT}") from None
            if not user or not isinstance(fn, types.FunctionType):
                return
            dynamic = _dynamic_reads(fn.__code__)
            if dynamic:
                raise TypeError(
                    f"{where}: {fn.__name__} reads {', '.join(dynamic)}, which the experiment cache cannot key (the "
                    "value it reads is decided at run time). Pass that value as a configuration value or in "
                    "inputs=..., or run with cache_dir=False.")
            # A notebook function: its defaults, closure and the globals it reads are part of it.
            self.feed(fn.__defaults__, f"{where} (default arguments of {fn.__name__})")
            self.feed(fn.__kwdefaults__, f"{where} (keyword defaults of {fn.__name__})")
            if fn.__closure__:
                for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                    try:
                        content = cell.cell_contents
                    except ValueError:  # an empty cell (defined later)
                        content = None
                    self.feed(content, f"{where} (closure variable {var!r} of {fn.__name__})")
            for g in sorted(_code_names(fn.__code__)):
                if g in fn.__globals__:
                    self._tag("global", g.encode())
                    self.visited.append(g)
                    self.feed(fn.__globals__[g], f"global {g!r} read by {fn.__name__}")
        finally:
            self._active.discard(id(fn))

    def _user_class(self, cls: type, name: str, where: str) -> None:
        """A class of the user's code: its bases, every method as a function (source, defaults and the
        globals it reads) and every other class attribute by value. (A class defined in a notebook has
        no source file for ``inspect``, so its methods stand for its source.)"""
        self._tag("class", str(len(cls.__bases__)).encode())
        for base in cls.__bases__:
            if base is not object:
                self.feed(base, f"{where} (base class of {name})")
        for attr, member in sorted(vars(cls).items()):
            inner = getattr(member, "__func__", getattr(member, "fget", member))
            if isinstance(inner, types.FunctionType):
                self._tag("method", attr.encode())
                self.feed(inner, f"{where} (method {attr} of {name})")
            elif not (attr.startswith("__") and attr.endswith("__")):
                self._tag("attribute", attr.encode())
                self.feed(member, f"{where} (attribute {attr} of {name})")

    def _module(self, module: types.ModuleType, where: str) -> None:
        """A library module by name and version; a user's own module (a ``helpers.py`` beside the
        notebook) by the bytes of its source file, so that editing any function in it misses the cache."""
        file = getattr(module, "__file__", None)
        top = module.__name__.split(".")[0]
        user = bool(file) and top != "dmlib" and not any(
            os.path.realpath(file).startswith(root + os.sep) for root in _library_roots())
        if user and os.path.isfile(file):
            with open(file, "rb") as f:
                self._tag("user module", module.__name__.encode() + b"\x00" + f.read())
            return
        self._tag("module", f"{module.__name__}@{_package_version(module.__name__)}".encode())

    def _keras(self, obj: Any, where: str) -> None:
        self._tag("keras", f"{type(obj).__module__}.{type(obj).__qualname__}".encode())
        try:
            config = json.dumps(obj.get_config(), sort_keys=True, default=lambda o: f"<{type(o).__name__}>")
        except Exception as err:  # noqa: BLE001 (any failure means: not exactly hashable)
            raise TypeError(f"{where}: cannot read the configuration of {obj!r} ({err}). {_NOT_HASHABLE_HINT}") from None
        self._tag("config", config.encode())
        for i, w in enumerate(obj.get_weights()):
            self._array(np.asarray(w), f"{where} weight {i}")


def fingerprint(value: Any, *, where: str = "value") -> str:
    """The sha256 (hex) of a value, hashed exactly; raises TypeError for what cannot be.

    Numbers are hashed by type and exact value (``1`` and ``1.0`` differ), numpy arrays by dtype,
    shape and bytes, DataFrames by content, columns, index and dtypes, functions by their source code
    (a notebook function also by the globals it reads), Keras models by configuration and weights.

    Args:
        value: what to hash.
        where: how error messages name the value (e.g. ``"config['width']"``).

    Raises:
        TypeError: for a value that cannot be hashed exactly, naming ``where`` and what to do.

    Example:
        >>> fingerprint({"width": 8}) == fingerprint({"width": 8}), fingerprint(1) == fingerprint(1.0)
        (True, False)
        >>> fingerprint(np.zeros(3)) == fingerprint(np.zeros(3, dtype="float32"))
        False
    """
    hasher = _Hasher()
    hasher.feed(value, where)
    return hasher.h.hexdigest()


def code_fingerprint(fn: Callable[..., Any]) -> tuple[str, list[str]]:
    """The fingerprint of an experiment function: its source, defaults, closure and every global it reads.

    Returns:
        (sha256 hex, the names of the globals it reads, sorted)

    Example:
        >>> def fit(width, seed):
        ...     return {"accuracy": width / 100}
        >>> digest, names = code_fingerprint(fit); names
        []
    """
    if not callable(fn):
        raise TypeError(f"the experiment must be a function, got {fn!r}")
    hasher = _Hasher()
    hasher.feed(fn, f"experiment function {getattr(fn, '__name__', fn)!r}")
    return hasher.h.hexdigest(), sorted(set(hasher.visited))


def run_key(name: str, version: str, config: Mapping[str, Any], seed: int, profile: str, backend: str,
            code: str = "", inputs: str = "", sources: str | None = None) -> str:
    """The cache key of one run: sha256 of everything its result depends on.

    Args:
        name, version: the experiment's name and version.
        config: the configuration (hashed exactly with :func:`fingerprint`).
        seed, profile, backend: the seed, the run profile and the Keras backend.
        code: :func:`code_fingerprint` of the experiment function.
        inputs: :func:`fingerprint` of the extra inputs the caller passed.
        sources: :func:`dmlib.results.package_source_digest` (default: computed now): every dmlib
            source file, so that editing a helper the experiment calls, even indirectly, misses the cache.

    Example:
        >>> run_key("toolbox", "1", {"l2": 1e-4}, 0, "standard", "tensorflow") == run_key(
        ...     "toolbox", "1", {"l2": 1e-4}, 1, "standard", "tensorflow")
        False
    """
    from dmlib import __version__
    from dmlib.results import package_source_digest

    parts = {"format": CACHE_FORMAT, "name": name, "version": str(version), "seed": int(seed),
             "profile": profile, "backend": backend, "dmlib": __version__, "code": code, "inputs": inputs,
             "config": fingerprint(dict(config), where="config"),
             "dmlib_sources": package_source_digest() if sources is None else sources}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# Grids and the cache
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """A readable JSON form of a configuration value (for the cache file; the key uses :func:`fingerprint`)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.ndarray, pd.DataFrame, pd.Series)):
        return f"<{type(value).__name__} {getattr(value, 'shape', '')} sha256 {fingerprint(value)[:16]}>"
    if callable(value):
        return f"<function {getattr(value, '__qualname__', value)}>"
    return f"<{type(value).__name__}>"


def _metric_types(metrics: Mapping[str, Any]) -> dict[str, str]:
    return {k: _METRIC_TYPES.get(type(v), type(v).__name__) for k, v in metrics.items()}


def _plain_metrics(metrics: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Metrics as JSON values: numpy scalars become Python numbers; anything else is refused."""
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if not isinstance(k, str):
            raise TypeError(f"{where}: metric names must be strings, got {k!r}")
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, (list, tuple, np.ndarray)):
            v = [x.item() if isinstance(x, np.generic) else x for x in np.asarray(v).tolist()] \
                if isinstance(v, np.ndarray) else [x.item() if isinstance(x, np.generic) else x for x in v]
        if not (v is None or isinstance(v, (bool, int, float, str, list, dict))):
            raise TypeError(f"{where}: metric {k!r} is a {type(v).__name__}; return numbers, strings or lists of them")
        out[k] = v
    return out


def expand_grid(grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The configurations of a grid: the Cartesian product of a dict of lists, or a list of dicts as is.

    Example:
        >>> expand_grid({"width": [8, 16], "dropout": [0.0, 0.5]})
        [{'width': 8, 'dropout': 0.0}, {'width': 8, 'dropout': 0.5}, {'width': 16, 'dropout': 0.0}, {'width': 16, 'dropout': 0.5}]
        >>> expand_grid([{"reg": "none"}, {"reg": "l2", "l2": 1e-4}])
        [{'reg': 'none'}, {'reg': 'l2', 'l2': 0.0001}]
    """
    if isinstance(grid, Mapping):
        keys = list(grid)
        for k in keys:
            if isinstance(grid[k], (str, bytes)) or not isinstance(grid[k], Iterable):
                raise TypeError(f"grid[{k!r}] must be a list of values, got {grid[k]!r}")
        return [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]
    configs = [dict(c) for c in grid]
    if not all(isinstance(c, dict) for c in configs):
        raise TypeError("grid must be a dict of lists or a list of dicts")
    return configs


def _integrity_path(path: Path) -> Path:
    """Where the sha256 of a cache entry's bytes is kept: beside the entry, outside it."""
    return path.with_suffix(".sha256")


def _read_cached(path: Path, expect: Mapping[str, Any]) -> dict[str, Any] | None:
    """A cached run's record if it is intact (its bytes match the sha256 stored beside it) and was
    computed from exactly ``expect``; else None."""
    try:
        raw = path.read_bytes()
        stored = _integrity_path(path).read_text(encoding="ascii").strip()
        if hashlib.sha256(raw).hexdigest() != stored:
            return None  # edited or damaged since it was written
        item = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(item, dict) or not isinstance(item.get("metrics"), dict):
        return None
    if not isinstance(item.get("seconds"), (int, float)) or isinstance(item.get("seconds"), bool):
        return None
    if any(item.get(k) != v for k, v in expect.items()):
        return None  # written for other inputs (a collision, an edited file, an older format)
    if item.get("metric_types") != _metric_types(item["metrics"]):
        return None  # the stored metrics do not have the types the run produced
    return item


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _write_cached(path: Path, item: dict[str, Any]) -> bool:
    """Write one run's record and, beside it, the sha256 of its bytes (each atomically).

    Returns False, writing nothing, when the cache cannot be written (read-only folder, full disk):
    the run's result is still returned to the caller, only not kept.
    """
    data = json.dumps(item, indent=1, allow_nan=True).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _integrity_path(path).unlink(missing_ok=True)  # an entry is never trusted without its own hash
        _write_atomic(path, data)
        _write_atomic(_integrity_path(path), hashlib.sha256(data).hexdigest().encode("ascii"))
    except OSError:
        return False
    return True


def run_grid(
    fn: Callable[..., Mapping[str, Any]],
    grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]],
    seeds: Sequence[int] | int,
    *,
    name: str,
    inputs: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None | bool = None,
    version: str = "1",
    profile: str | None = None,
    backend: str | None = None,
    verbose: bool = True,
) -> pd.DataFrame:
    """Run ``fn(**config, seed=seed)`` for every configuration x seed; one tidy row per run.

    A finished run is stored as ``<cache_dir>/<name>/<key>.json``. The key hashes exactly
    everything the result depends on (see the module docstring): the configuration, the seed, the
    profile, the backend, ``fn``'s source code and every global it reads (settings, data arrays,
    helper functions), ``inputs``, ``name`` and ``version``. So editing a setting, the data or the
    code runs afresh, and only an unchanged run is read back. Values that cannot be hashed exactly
    raise a TypeError naming them.

    Args:
        fn: trains and evaluates one configuration; returns a dict of metrics (numbers, strings or
            small lists).
        grid: a dict of lists (their Cartesian product) or a list of configuration dicts.
        seeds: the seeds to run each configuration with (or a number n: seeds 0..n-1).
        name: the experiment's name (also its cache folder).
        inputs: further values the result depends on that ``fn`` does not read as globals (e.g.
            ``dict(CFG=CFG, x_train=x_train)``); hashed exactly and stored with the runs.
        cache_dir: where runs are cached (default :func:`default_cache_dir`); ``False`` disables caching.
        version: a label for the experiment's semantics (code changes are detected without it).
        profile: the run profile in the key (default: the active one, ``dmlib.profile()``).
        backend: the Keras backend in the key (default: the active one).
        verbose: print one line per computed run and a summary line.

    Returns:
        DataFrame with the configuration columns, ``seed``, every metric, ``seconds`` (of the
        original run) and ``cached`` (True when read from disk).

    Raises:
        TypeError: for an input or configuration value that cannot be hashed exactly.
        ValueError: for a bad name, no seeds, or metric names that clash with configuration columns.

    Example:
        >>> def fit(width, seed):
        ...     return {"accuracy": 0.5 + width / 1000}
        >>> df = run_grid(fit, {"width": [8, 64]}, seeds=[0, 1], name="demo", verbose=False)
        >>> df[["width", "seed", "accuracy"]].round(3).to_dict("records")[:2]
        [{'width': 8, 'seed': 0, 'accuracy': 0.508}, {'width': 8, 'seed': 1, 'accuracy': 0.508}]
    """
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"experiment name {name!r} must be a plain folder name, e.g. 'regularisation'")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("give at least one seed")
    configs = expand_grid(grid)
    for config in configs:
        if "seed" in config:
            raise ValueError("a configuration may not contain 'seed'; pass seeds separately")
    if profile is None:
        from dmlib.config import profile as active_profile

        profile = active_profile()
    if backend is None:
        backend = _backend()
    folder = None
    if cache_dir is not False:
        base = Path(cache_dir) if cache_dir not in (None, True) else default_cache_dir()
        folder = None if base is None else base / name

    from dmlib.results import package_source_digest

    if folder is None:  # nothing is cached, so nothing needs a key (and nothing is refused for lack of one)
        code, read_globals, sources, inputs_hash, config_hashes = "", [], "", "", [""] * len(configs)
    else:
        code, read_globals = code_fingerprint(fn)
        sources = package_source_digest()  # every dmlib helper, called directly or not
        inputs_hash = fingerprint(dict(inputs or {}), where="inputs")
        config_hashes = [fingerprint(dict(c), where=f"configuration {_jsonable(c)}") for c in configs]

    rows: list[dict[str, Any]] = []
    computed, computed_seconds = 0, 0.0
    cache_failed = False
    for config, config_hash in zip(configs, config_hashes):
        for seed in seed_list:
            key = "" if folder is None else run_key(name, version, config, seed, profile, backend, code,
                                                       inputs_hash, sources)
            expect = {"format": CACHE_FORMAT, "key": key, "config_sha256": config_hash, "seed": seed,
                      "profile": profile, "backend": backend, "code_sha256": code, "inputs_sha256": inputs_hash}
            path = None if folder is None else folder / f"{key[:32]}.json"
            item = _read_cached(path, expect) if path is not None and path.exists() else None
            cached = item is not None
            if item is None:
                start = time.perf_counter()
                metrics = _plain_metrics(dict(fn(**config, seed=seed)), f"{name} {_jsonable(config)} seed {seed}")
                seconds = time.perf_counter() - start
                clash = set(metrics) & (set(config) | {"seed", "seconds", "cached"})
                if clash:
                    raise ValueError(f"metric names {sorted(clash)} clash with configuration columns")
                item = {**expect, "name": name, "version": str(version), "config": _jsonable(config),
                        "globals": read_globals, "metrics": metrics, "metric_types": _metric_types(metrics),
                        "seconds": round(seconds, 3)}
                if path is not None and not _write_cached(path, item) and not cache_failed:
                    cache_failed = True
                    warnings.warn(f"the experiment cache {folder} cannot be written (read-only or full); the runs go "
                                  f"on without being kept. Set {CACHE_ENV} to a writable folder, or 'off'.",
                                  RuntimeWarning, stacklevel=2)
                computed += 1
                computed_seconds += seconds
                if verbose:
                    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in metrics.items() if not isinstance(v, (list, dict)))
                    print(f"  {name} {_jsonable(config)} seed {seed}: {shown}  ({seconds:.1f} s)", flush=True)
            rows.append({**config, "seed": seed, **item["metrics"], "seconds": item["seconds"], "cached": cached})
    if verbose:
        print(f"{name}: {len(rows)} runs, {len(rows) - computed} from cache, {computed} computed in "
              f"{computed_seconds:.1f} s", flush=True)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, by: str | Sequence[str], metric: str) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1; NaN for a single run) and count of ``metric`` per group.

    Example:
        >>> df = pd.DataFrame({"reg": ["none", "none", "l2", "l2"], "acc": [0.80, 0.82, 0.85, 0.87]})
        >>> summarise(df, "reg", "acc").round(4).to_dict("index")
        {'l2': {'mean': 0.86, 'std': 0.0141, 'n': 2}, 'none': {'mean': 0.81, 'std': 0.0141, 'n': 2}}
    """
    if metric not in df.columns:
        raise KeyError(f"no metric {metric!r}; the runs have {', '.join(map(str, df.columns))}")
    keys = [by] if isinstance(by, str) else list(by)
    out = df.groupby(keys, sort=True)[metric].agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    out["n"] = out["n"].astype(int)
    return out


def verdict(df: pd.DataFrame, by: str | Sequence[str], metric: str, a: Any, b: Any, *,
            paired: bool | None = None, higher_is_better: bool = True, metric_label: str | None = None,
            digits: int = 3, min_effect: float | None = None, improving: str | None = None) -> Any:
    """Compare two groups of runs with :func:`dmlib.verdicts.compare_runs` (95% interval, >= 3 runs).

    Args:
        df: the runs (e.g. from :func:`run_grid`).
        by: the column(s) naming the groups.
        metric: the metric column.
        a, b: the two group keys (a tuple when ``by`` has several columns).
        paired: the groups' runs share seeds (or splits): pair them by the ``seed`` column, which
            must hold the same seeds in both groups. Say it explicitly (see ``compare_runs``).
        higher_is_better: False for errors and losses.
        metric_label: how the sentence names the metric (default: ``metric`` with spaces).
        digits: decimals in the sentence.
        min_effect: the smallest gain that matters (see ``compare_runs``).
        improving: a boolean column (e.g. ``"still_improving"``); a group with any True is budget-limited.

    Returns:
        A :class:`dmlib.verdicts.Verdict` (``.better``, ``.worse``, ``.tie``; ``str()`` is the sentence).

    Example:
        >>> df = pd.DataFrame({"reg": ["none"] * 3 + ["dropout"] * 3, "seed": [0, 1, 2] * 2,
        ...                    "acc": [0.80, 0.81, 0.82, 0.85, 0.86, 0.87]})
        >>> v = verdict(df, "reg", "acc", "dropout", "none", paired=True)
        >>> v.better, round(v.diff, 3)
        (True, 0.05)
    """
    from dmlib.verdicts import compare_runs

    for column in (metric, improving):
        if column is not None and column not in df.columns:
            raise KeyError(f"no column {column!r}; the runs have {', '.join(map(str, df.columns))}")
    keys = [by] if isinstance(by, str) else list(by)
    groups = {k if len(keys) > 1 else k[0]: g for k, g in df.groupby(keys, sort=True)}
    for key in (a, b):
        if key not in groups:
            raise KeyError(f"no runs with {by}={key!r}; groups are {list(groups)}")
    ga, gb = groups[a], groups[b]
    if paired:
        if "seed" not in df.columns:
            raise KeyError("paired=True pairs runs by their 'seed' column, which these runs lack")
        ga, gb = ga.sort_values("seed"), gb.sort_values("seed")
        if ga["seed"].tolist() != gb["seed"].tolist() or ga["seed"].duplicated().any():
            raise ValueError(f"paired runs need the same seeds once each in both groups, got {ga['seed'].tolist()} "
                             f"for {a!r} and {gb['seed'].tolist()} for {b!r}")
    label = metric_label or metric.replace("_", " ")
    return compare_runs(ga[metric].to_numpy(dtype=float), gb[metric].to_numpy(dtype=float), name_a=str(a),
                        name_b=str(b), metric=label, paired=paired, higher_is_better=higher_is_better,
                        digits=digits, min_effect=min_effect,
                        improving_a=bool(improving and ga[improving].any()),
                        improving_b=bool(improving and gb[improving].any()))
