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


def zeros_gzip(n: int) -> bytes:
    """A gzip file that inflates to ``n`` zero bytes (about n / 1000 bytes): a small decompression bomb."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block, parts, left = bytes(1 << 20), [], n
    while left:
        parts.append(c.compress(block[: min(left, len(block))]))
        left -= min(left, len(block))
    return b"".join(parts) + c.flush()


def lying_zip(path: Path, members: dict[str, bytes], liar: str, claimed: bytes, inflated: int) -> Path:
    """A zip holding ``members`` and ``liar``, whose headers give the size and CRC of ``claimed`` but whose
    deflated data inflates to ``inflated`` zero bytes (the zip of a bomb that trusts its header)."""
    import struct
    import zlib

    local, central = b"", b""
    entries = [(n, zlib.compress(d, 9)[2:-4], zlib.crc32(d), len(d)) for n, d in members.items()]
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block, parts, left = bytes(1 << 20), [], inflated
    while left:
        parts.append(c.compress(block[: min(left, len(block))]))
        left -= min(left, len(block))
    entries.append((liar, b"".join(parts) + c.flush(), zlib.crc32(claimed), len(claimed)))
    for name, data, crc, size in entries:
        raw = name.encode()
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size,
                               len(raw), 0, 0, 0, 0, 0, len(local)) + raw
        local += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(raw), 0)
        local += raw + data
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(local), 0)
    path.write_bytes(local + central + end)
    return path
