"""Builders of small files in the real dataset formats, for the tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from dmlib import datasets as ds


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``folder`` with its size and mtime, to prove nothing was written there."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
            for p in sorted(folder.rglob("*"))}


def idx_bytes(array: np.ndarray) -> bytes:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


IMDB_SMALL = {"train/pos": 3, "train/neg": 3, "test/pos": 2, "test/neg": 2, "train/unsup": 4}


def make_imdb_tree(root: Path) -> Path:
    """A small aclImdb/ tree with real file names and ratings."""
    tree = root / "aclImdb"
    rating = {"pos": 8, "neg": 2, "unsup": 0}
    for folder, count in IMDB_SMALL.items():
        d = tree / folder
        d.mkdir(parents=True)
        label = folder.split("/")[1]
        for i in range(count):
            (d / f"{i}_{rating[label]}.txt").write_text(f"{folder} review {i}<br />ok", encoding="utf-8")
    (tree / "imdb.vocab").write_text("the\n", encoding="utf-8")
    return tree


def make_tar(tree_parent: Path, dest: Path, extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(tree_parent / "aclImdb", arcname="aclImdb")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


def make_prsa_csv(path: Path, *, rows: int = ds.BEIJING_ROWS, line_ending: str = "\r\n",
                  drop_weather: bool = False) -> Path:
    """A PRSA-shaped CSV: the real header, consecutive hours from 2010-01-01, NA in pm2.5."""
    when = pd.date_range("2010-01-01", periods=rows, freq="h")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "No": np.arange(1, rows + 1), "year": when.year, "month": when.month, "day": when.day, "hour": when.hour,
        "pm2.5": rng.integers(5, 300, rows).astype(float), "DEWP": rng.integers(-30, 25, rows),
        "TEMP": rng.normal(12, 10, rows).round(0), "PRES": rng.integers(990, 1040, rows),
        "cbwd": rng.choice(["NW", "SE", "cv", "NE"], rows), "Iws": rng.random(rows).round(2) * 50,
        "Is": 0, "Ir": 0,
    })
    df.loc[:23, "pm2.5"] = np.nan
    if drop_weather:
        df.loc[100, "TEMP"] = np.nan
    path.write_bytes(df.to_csv(index=False, na_rep="NA", lineterminator=line_ending).encode())
    return path
