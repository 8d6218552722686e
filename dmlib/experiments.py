"""A small experiment runner: a grid of configurations x seeds -> a tidy pandas DataFrame.

Each finished run is cached on disk as one small JSON file, keyed by a hash of the experiment's
name and version, the configuration, the seed, the run profile and the Keras backend. Re-running a
notebook therefore re-reads finished runs instead of training again, and changing a configuration
(or bumping ``version`` after changing the experiment's code) runs it afresh. A damaged cache file
is ignored and recomputed. :func:`summarise` and :func:`compare` turn the runs into mean +- std
tables and honest "did A beat B by more than the noise?" statements.

Introduced in ``05_generalization``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

CACHE_SUBDIR = "dmlib-experiments"


def default_cache_dir() -> Path:
    """The folder of cached runs: ``dmlib-experiments/`` inside the dmlib cache (``DMLIB_CACHE``).

    Example:
        >>> os.environ["DMLIB_CACHE"] = "/tmp/dmcache"; default_cache_dir()
        PosixPath('/tmp/dmcache/dmlib-experiments')
    """
    from dmlib.datasets import cache_dir

    return cache_dir() / CACHE_SUBDIR


def _backend() -> str:
    """The active Keras backend's name (Keras is imported only here)."""
    import keras

    return keras.backend.backend()


def _jsonable(value: Any) -> Any:
    """Configuration values as JSON: tuples become lists, numpy scalars become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def run_key(name: str, version: str, config: Mapping[str, Any], seed: int, profile: str, backend: str) -> str:
    """The cache key of one run: sha256 of everything its result depends on (first 24 hex digits).

    Example:
        >>> run_key("toolbox", "1", {"l2": 1e-4}, 0, "standard", "tensorflow")  # doctest: +ELLIPSIS
        '...'
    """
    blob = json.dumps(
        {"name": name, "version": str(version), "config": _jsonable(dict(config)), "seed": int(seed),
         "profile": profile, "backend": backend},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


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


def _read_cached(path: Path) -> dict[str, Any] | None:
    """A cached run's record, or None if the file is missing, unreadable or malformed."""
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(item, dict) or not isinstance(item.get("metrics"), dict):
        return None
    if not isinstance(item.get("seconds"), (int, float)):
        return None
    return item


def _write_cached(path: Path, item: dict[str, Any]) -> None:
    """Write one run's record atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(item, f, indent=1)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def run_grid(
    fn: Callable[..., Mapping[str, Any]],
    grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]],
    seeds: Sequence[int] | int,
    *,
    name: str,
    cache_dir: str | Path | None = None,
    version: str = "1",
    profile: str | None = None,
    backend: str | None = None,
    verbose: bool = True,
) -> pd.DataFrame:
    """Run ``fn(**config, seed=seed)`` for every configuration x seed; one tidy row per run.

    A finished run is stored as ``<cache_dir>/<name>/<key>.json``; the key hashes ``name``,
    ``version``, the configuration, the seed, the profile and the Keras backend, so a changed
    configuration runs afresh and an unchanged one is read back. Bump ``version`` when you change
    what ``fn`` computes. A damaged cache file is ignored and the run recomputed.

    Args:
        fn: trains and evaluates one configuration; returns a dict of metrics (JSON numbers,
            strings or small lists).
        grid: a dict of lists (their Cartesian product) or a list of configuration dicts.
        seeds: the seeds to run each configuration with (or a number n: seeds 0..n-1).
        name: the experiment's name (also its cache folder).
        cache_dir: where runs are cached (default :func:`default_cache_dir`); ``False`` disables caching.
        version: bump it to invalidate the cache after changing ``fn``.
        profile: the run profile in the key (default: the active one, ``dmlib.profile()``).
        backend: the Keras backend in the key (default: the active one).
        verbose: print one line per computed run and a summary line.

    Returns:
        DataFrame with the configuration columns, ``seed``, every metric, ``seconds`` (of the
        original run) and ``cached`` (True when read from disk).

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
    if profile is None:
        from dmlib.config import profile as active_profile

        profile = active_profile()
    if backend is None:
        backend = _backend()
    folder = None
    if cache_dir is not False:
        folder = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / name

    rows: list[dict[str, Any]] = []
    computed, computed_seconds = 0, 0.0
    for config in configs:
        if "seed" in config:
            raise ValueError("a configuration may not contain 'seed'; pass seeds separately")
        for seed in seed_list:
            path = None if folder is None else folder / f"{run_key(name, version, config, seed, profile, backend)}.json"
            item = _read_cached(path) if path is not None and path.exists() else None
            cached = item is not None
            if item is None:
                start = time.perf_counter()
                metrics = dict(fn(**config, seed=seed))
                seconds = time.perf_counter() - start
                clash = set(metrics) & (set(config) | {"seed", "seconds", "cached"})
                if clash:
                    raise ValueError(f"metric names {sorted(clash)} clash with configuration columns")
                item = {"name": name, "version": str(version), "config": _jsonable(config), "seed": seed,
                        "profile": profile, "backend": backend, "metrics": _jsonable(metrics),
                        "seconds": round(seconds, 3)}
                if path is not None:
                    _write_cached(path, item)
                computed += 1
                computed_seconds += seconds
                if verbose:
                    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in metrics.items() if not isinstance(v, (list, dict)))
                    print(f"  {name} {config} seed {seed}: {shown}  ({seconds:.1f} s)")
            rows.append({**config, "seed": seed, **item["metrics"], "seconds": item["seconds"], "cached": cached})
    if verbose:
        print(f"{name}: {len(rows)} runs, {len(rows) - computed} from cache, {computed} computed in {computed_seconds:.1f} s")
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


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`: does group ``a`` beat group ``b`` by more than the pooled std?"""

    a: Any
    b: Any
    metric: str
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    n_a: int
    n_b: int
    pooled_std: float
    higher_is_better: bool = True

    @property
    def margin(self) -> float:
        """How much better ``a`` is than ``b`` (positive: ``a`` better, in the metric's direction)."""
        d = self.mean_a - self.mean_b
        return d if self.higher_is_better else -d

    @property
    def clearly_better(self) -> bool:
        """True when ``a`` beats ``b`` by more than the pooled std (False when the std is unknown)."""
        return bool(math.isfinite(self.pooled_std) and self.margin > self.pooled_std)

    def __bool__(self) -> bool:
        return self.clearly_better

    def __str__(self) -> str:
        head = (f"{self.a} vs {self.b} on {self.metric}: {self.mean_a:.4f} vs {self.mean_b:.4f} "
                f"(n={self.n_a}, {self.n_b}; margin {self.margin:+.4f}")
        if not math.isfinite(self.pooled_std):
            return head + "): one run per group, the noise is unknown, so no claim either way."
        head += f", pooled std {self.pooled_std:.4f})"
        if self.clearly_better:
            return head + f": {self.a} beats {self.b} by more than the pooled std."
        if -self.margin > self.pooled_std:
            return head + f": {self.a} is worse than {self.b} by more than the pooled std."
        return head + ": the difference is within the seed-to-seed noise; no clear winner."


def compare(df: pd.DataFrame, by: str | Sequence[str], metric: str, a: Any, b: Any, *,
            higher_is_better: bool = True) -> Comparison:
    """Compare two groups of runs: means, stds, and whether ``a`` beats ``b`` by more than the pooled std.

    The pooled standard deviation is ``sqrt(((n_a-1) s_a^2 + (n_b-1) s_b^2) / (n_a + n_b - 2))``,
    a rough yardstick of seed-to-seed noise (not a significance test).

    Args:
        df: the runs (e.g. from :func:`run_grid`).
        by: the column(s) naming the groups.
        metric: the metric column.
        a, b: the two group keys (a tuple when ``by`` has several columns).
        higher_is_better: False for errors and losses.

    Example:
        >>> df = pd.DataFrame({"reg": ["none"] * 3 + ["dropout"] * 3, "acc": [0.80, 0.81, 0.82, 0.85, 0.86, 0.87]})
        >>> c = compare(df, "reg", "acc", "dropout", "none")
        >>> c.clearly_better, round(c.pooled_std, 4)
        (True, 0.01)
        >>> print(c)
        dropout vs none on acc: 0.8600 vs 0.8100 (n=3, 3; margin +0.0500, pooled std 0.0100): dropout beats none by more than the pooled std.
    """
    table = summarise(df, by, metric)
    for key in (a, b):
        if key not in table.index:
            raise KeyError(f"no runs with {by}={key!r}; groups are {list(table.index)}")
    ra, rb = table.loc[a], table.loc[b]
    n_a, n_b = int(ra["n"]), int(rb["n"])
    dof = n_a + n_b - 2
    s_a = float(ra["std"]) if n_a > 1 else 0.0
    s_b = float(rb["std"]) if n_b > 1 else 0.0
    pooled = math.sqrt(((n_a - 1) * s_a**2 + (n_b - 1) * s_b**2) / dof) if dof > 0 and (n_a > 1 or n_b > 1) else float("nan")
    return Comparison(a=a, b=b, metric=metric, mean_a=float(ra["mean"]), mean_b=float(rb["mean"]),
                      std_a=float(ra["std"]), std_b=float(rb["std"]), n_a=n_a, n_b=n_b,
                      pooled_std=pooled, higher_is_better=higher_is_better)
