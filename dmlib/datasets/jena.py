"""Jena Climate 2009-2016 (Max Planck Institute for Biogeochemistry), optional: an alternative
to Beijing PM2.5 in notebook 03, selected by a parameter; no default depends on it.

Every read is bounded: a CSV larger than ``JENA_MAX_BYTES`` is refused before it is read, a zip
larger than the official one (plus a margin) is not opened, and the CSV in a zip is refused from its
header when it declares more than ``JENA_MAX_BYTES``, then inflated as a stream that stops there.
Because the dataset is optional, ``status`` / ``datasets verify`` / ``doctor`` only look at sizes and
the header line (``present``); the content is checked when it is loaded.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import pandas as pd

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    DatasetUnavailableError,
    _locate,
    _search,
    _unavailable,
    check_size,
    download_cap,
    not_official,
    read_capped,
    read_zip_member,
    register,
)

JENA_FILE = "jena_climate_2009_2016.csv"
JENA_ZIP = JENA_FILE + ".zip"
JENA_URL = "https://s3.amazonaws.com/keras-datasets/" + JENA_ZIP
JENA_HEADER = [
    "Date Time", "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
]
JENA_ROWS = 420_451  # data rows of the Max Planck Institute's 2009-2016 file (tests shrink this)
JENA_FIRST, JENA_LAST = "2009-01-01 00:10:00", "2017-01-01 00:00:00"
JENA_ZIP_BYTES = 13_568_290  # the official zip (Keras' download); a zip may have download_cap() of it
JENA_MAX_BYTES = 64_000_000  # the CSV: the official one has about 43 MB


def _member(zf: zipfile.ZipFile) -> str:
    members = [m for m in zf.namelist() if PurePosixPath(m).name == JENA_FILE]
    if not members:
        raise CorruptFileError(f"the zip holds no {JENA_FILE}")
    return members[0]


def _read_jena(path: Path) -> bytes:
    """The CSV's bytes, from the CSV or the zip holding it, bounded by ``JENA_MAX_BYTES``."""
    if zipfile.is_zipfile(path):
        check_size(path, download_cap(JENA_ZIP_BYTES))
        with zipfile.ZipFile(path) as zf:
            return read_zip_member(zf, _member(zf), JENA_MAX_BYTES)
    check_size(path, JENA_MAX_BYTES)
    with open(path, "rb") as f:
        return read_capped(f, JENA_MAX_BYTES, path.name)


def _verify_jena(path: Path) -> pd.DataFrame:
    """Parse and check a Jena Climate CSV (or the zip holding it) by content."""
    try:
        df = pd.read_csv(io.BytesIO(_read_jena(path)), nrows=JENA_ROWS + 1)
    except (ValueError, OSError, UnicodeDecodeError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise CorruptFileError(f"cannot parse as CSV ({err.__class__.__name__}: {err})") from None
    if list(df.columns) != JENA_HEADER:
        raise CorruptFileError(f"header is {list(df.columns)}, expected {JENA_HEADER}")
    if len(df) != JENA_ROWS:
        more = "more than " if len(df) > JENA_ROWS else ""
        raise CorruptFileError(f"{more}{len(df) - bool(more):,} data rows, expected {JENA_ROWS:,} (truncated or extended?)")
    try:
        when = pd.to_datetime(df["Date Time"], format="%d.%m.%Y %H:%M:%S")
    except (ValueError, TypeError) as err:
        raise CorruptFileError(f"bad dates ({err})") from None
    if when.iloc[0] != pd.Timestamp(JENA_FIRST) or when.iloc[-1] != pd.Timestamp(JENA_LAST):
        raise CorruptFileError(f"covers {when.iloc[0]} to {when.iloc[-1]}, expected {JENA_FIRST} to {JENA_LAST}")
    values = df.drop(columns=["Date Time"])
    if not all(pd.api.types.is_numeric_dtype(t) for t in values.dtypes):
        raise CorruptFileError("non-numeric measurements")
    if values.isna().any().any():
        raise CorruptFileError(f"missing values: {int(values.isna().sum().sum())}")
    return values.set_index(pd.DatetimeIndex(when, name="time"))


def load_jena_climate() -> pd.DataFrame:
    """Load the Jena Climate 2009-2016 weather record (Max Planck Institute for Biogeochemistry).

    The data set of Deep Learning with Python's forecasting chapter: 14 quantities every
    10 minutes. Accepts the CSV or the zip holding it (``jena_climate_2009_2016.csv.zip``, as
    Keras' examples download it), found in the usual places; verified by content (header,
    420,451 rows, first and last timestamps, complete numeric values). Optional: no notebook
    needs it by default.

    Returns:
        DataFrame indexed by timestamp (``DatetimeIndex`` named ``time``, 10-minute steps with
        the few gaps and repeats of the original) with the 14 numeric columns of the file, e.g.
        ``T (degC)``, ``p (mbar)``, ``rh (%)``; ``wv (m/s)`` keeps the original's -9999 error codes.

    Raises:
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> df = load_jena_climate()  # doctest: +SKIP
        >>> df.shape
        (420451, 14)
    """
    try:
        return _locate("jena-climate", "", JENA_FILE, _verify_jena, None, max_bytes=JENA_MAX_BYTES)[1]
    except DatasetUnavailableError as first:
        try:
            return _locate("jena-climate", "", JENA_ZIP, _verify_jena, JENA_URL, max_bytes=download_cap(JENA_ZIP_BYTES))[1]
        except DatasetUnavailableError as second:
            raise _unavailable("jena-climate", [f"{JENA_FILE} (or {JENA_ZIP})"],
                               first.searched + second.searched) from None


def _plausible_jena(path: Path) -> None:
    """For status: sizes within bounds and the right header line, without parsing (the dataset is
    optional: its content is checked when it is loaded)."""
    try:
        if zipfile.is_zipfile(path):
            check_size(path, download_cap(JENA_ZIP_BYTES))
            with zipfile.ZipFile(path) as zf:
                info = zf.getinfo(_member(zf))
                if info.file_size > JENA_MAX_BYTES:
                    raise not_official(f"{info.filename} (by its header: {info.file_size:,} bytes)", JENA_MAX_BYTES,
                                       read=False)
                with zf.open(info) as f:
                    head = f.read(4096)
        else:
            check_size(path, JENA_MAX_BYTES)
            with open(path, "rb") as f:
                head = f.read(4096)
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise CorruptFileError(f"cannot read ({err.__class__.__name__}: {err})") from None
    first = head.decode("utf-8", errors="replace").splitlines()[:1]
    if next(csv.reader(first), None) != JENA_HEADER:
        raise CorruptFileError(f"the first line is not the header {JENA_HEADER}")


def _find_jena() -> str:
    searched: list[str] = []
    for filename in (JENA_FILE, JENA_ZIP):
        found = _search("", filename, _plausible_jena, searched)
        if found is not None:
            return str(found[0])
    raise _unavailable("jena-climate", [f"{JENA_FILE} (or {JENA_ZIP})"], searched)


register(DatasetInfo(
    "jena-climate", "Jena Climate 2009-2016, 14 weather quantities every 10 min (optional)",
    "Max Planck Institute for Biogeochemistry, free use with attribution", load_jena_climate, _find_jena,
    optional=True, checked_when_loaded=True,
))
