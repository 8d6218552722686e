"""Beijing PM2.5 (Liang et al. 2015, UCI id 381, CC BY 4.0): hourly PM2.5 and weather, 2010-2014.

The official file is fixed, so it is verified by its sha256 (``BEIJING_SHA256``); a copy with
other line endings passes the same hash once its line endings are CRLF again. A copy that has the
official size but another hash is an edited official file and is refused. Any other copy must pass
the content checks (header, rows, consecutive hours, complete weather columns, every value finite
and physically possible), which cannot rule out edits within physical ranges: it is accepted with
a warning, and ``status`` / ``datasets verify`` say which check a file passed.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    _describe,
    _locate,
    _sha256,
    _where,
    check_size,
    download_cap,
    read_capped,
    register,
)

BEIJING_FILE = "PRSA_data_2010.1.1-2014.12.31.csv"
BEIJING_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/00381/" + BEIJING_FILE
BEIJING_HEADER = ["No", "year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]
BEIJING_ROWS = 43_824
# The official file (UCI's, CRLF line endings; the mirror's README gives the same sha256).
BEIJING_BYTES = 2_010_494
BEIJING_SHA256 = "4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c"
BEIJING_MAX_BYTES = 4_000_000  # any copy (e.g. other line endings, other number formats): twice the official size
# Which check a copy passed (shown by status() and `datasets verify`).
CHECK_OFFICIAL = "sha256 of the official file"
CHECK_LINE_ENDINGS = "sha256 of the official file, with other line endings"
CHECK_RANGES = "NOT the official file: passed the content and range checks only"
BEIJING_WEATHER = ["DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]
# Physically possible values in Beijing, with a margin (the file's own range in brackets):
# PM2.5 µg/m³ [0, 994]; dew point and temperature °C [-40, 28] and [-19, 42] (the city's records
# are about -27 and 42 °C); pressure hPa [991, 1046]; cumulated wind speed m/s [0.45, 585.6];
# cumulated hours of snow and rain [0, 27] and [0, 36].
BEIJING_RANGES: dict[str, tuple[float, float]] = {
    "pm2.5": (0, 2000), "DEWP": (-50, 35), "TEMP": (-40, 50), "PRES": (950, 1070),
    "Iws": (0, 1000), "Is": (0, 100), "Ir": (0, 100),
}
BEIJING_WIND = {"NE", "NW", "SE", "cv"}  # combined wind directions; cv = calm and variable


def _read_beijing(path: Path) -> tuple[bytes, str]:
    """The bytes of a copy (refused beyond ``BEIJING_MAX_BYTES``, before reading) and which check they
    pass: the official sha256, the same once the line endings are CRLF, or neither (``CHECK_RANGES``:
    the content checks decide).

    Raises:
        CorruptFileError: for a copy too large, or one of the official size with another sha256.
    """
    check_size(path, BEIJING_MAX_BYTES)
    with open(path, "rb") as f:
        data = read_capped(f, BEIJING_MAX_BYTES, path.name)
    if _sha256(data) == BEIJING_SHA256:
        return data, CHECK_OFFICIAL
    if len(data) == BEIJING_BYTES:
        raise CorruptFileError(f"it has the official file's size ({BEIJING_BYTES:,} bytes) but not its sha256 "
                               f"({BEIJING_SHA256[:16]}...), so it is not the official file but an edited copy; "
                               "replace it with the official file")
    crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if crlf != data and _sha256(crlf) == BEIJING_SHA256:
        return data, CHECK_LINE_ENDINGS
    return data, CHECK_RANGES


def beijing_check(path: Path) -> str:
    """Which check a copy of the Beijing CSV passes by its hash (``CHECK_OFFICIAL``,
    ``CHECK_LINE_ENDINGS`` or ``CHECK_RANGES``); quick: the file is hashed, not parsed.

    Example:
        >>> beijing_check(Path("/path/to/shared/datasets/PRSA_data_2010.1.1-2014.12.31.csv"))  # doctest: +SKIP
        'sha256 of the official file'
    """
    return _read_beijing(path)[1]


def _verify_beijing(path: Path) -> pd.DataFrame:
    data, check = _read_beijing(path)
    df = _parse_beijing(data)
    if check == CHECK_RANGES:
        warnings.warn(f"{path} is not the official Beijing file (its sha256 differs): it passed the content and "
                      "range checks only, which cannot rule out edits within physical ranges; use the official "
                      f"file (sha256 {BEIJING_SHA256[:16]}...)", stacklevel=4)
    return df


def _parse_beijing(data: bytes) -> pd.DataFrame:
    """Parse the CSV and check its content (header, rows, hours, weather columns, ranges)."""
    try:
        df = pd.read_csv(io.BytesIO(data), na_values=["NA"], keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise CorruptFileError(f"cannot parse as CSV ({err})") from None
    if list(df.columns) != BEIJING_HEADER:
        raise CorruptFileError(f"header is {list(df.columns)}, expected {BEIJING_HEADER}")
    if len(df) != BEIJING_ROWS:
        raise CorruptFileError(f"{len(df):,} data rows, expected {BEIJING_ROWS:,} (truncated?)")
    try:
        when = pd.to_datetime(df[["year", "month", "day", "hour"]])
    except (ValueError, TypeError) as err:
        raise CorruptFileError(f"bad dates ({err})") from None
    if when.iloc[0] != pd.Timestamp("2010-01-01 00:00") or when.iloc[-1] != pd.Timestamp("2014-12-31 23:00"):
        raise CorruptFileError(f"covers {when.iloc[0]} to {when.iloc[-1]}, expected 2010-01-01 to 2014-12-31 23:00")
    if not when.diff().iloc[1:].eq(pd.Timedelta(hours=1)).all():
        raise CorruptFileError("rows are not consecutive hours")
    missing = df[BEIJING_WEATHER].isna().sum()
    if missing.any():
        raise CorruptFileError(f"missing weather values: {missing[missing > 0].to_dict()}")
    for column, (low, high) in BEIJING_RANGES.items():
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.notna() & ~values.between(low, high) | values.isna() & df[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CorruptFileError(f"{column} = {df[column].iloc[row]!r} in data row {row + 1:,} is not a number "
                                   f"in [{low}, {high}] (physically impossible)")
    if not df["cbwd"].isin(BEIJING_WIND).all():
        raise CorruptFileError(f"cbwd holds values other than {sorted(BEIJING_WIND)}")
    out = df.drop(columns=["No", "year", "month", "day", "hour"]).set_index(pd.DatetimeIndex(when, name="time"))
    out["cbwd"] = out["cbwd"].astype("category")
    return out


def load_beijing_pm25() -> pd.DataFrame:
    """Load the Beijing PM2.5 hourly data (Liang et al. 2015, UCI id 381, CC BY 4.0).

    The official file is verified by its sha256 (also with other line endings); then, as any
    other copy, by content (header, 43,824 rows, consecutive hours 2010-01-01 00:00 to
    2014-12-31 23:00, complete weather columns, every value within ``BEIJING_RANGES``, e.g.
    TEMP in [-40, 50] °C: no inf, no 1e300). A copy that is not the official file is used with a
    warning; one with the official size and another sha256 (an edited official file) is refused.

    Returns:
        DataFrame indexed by hour (``DatetimeIndex`` named ``time``) with columns ``pm2.5``
        (µg/m³, 2,067 missing values kept as NaN), ``DEWP`` (dew point °C), ``TEMP`` (°C),
        ``PRES`` (hPa), ``cbwd`` (combined wind direction, categorical), ``Iws`` (cumulated
        wind speed m/s), ``Is`` and ``Ir`` (cumulated hours of snow and rain).

    Example:
        >>> df = load_beijing_pm25()
        >>> df.shape, int(df["pm2.5"].isna().sum())
        ((43824, 8), 2067)
    """
    _, df = _locate("beijing-pm25", "", BEIJING_FILE, _verify_beijing, BEIJING_URL,
                    max_bytes=download_cap(BEIJING_BYTES))
    return df


def _find_beijing() -> str:
    rules = _describe(BEIJING_HEADER, BEIJING_ROWS, BEIJING_RANGES, sorted(BEIJING_WIND), BEIJING_SHA256,
                      BEIJING_BYTES)
    path = _where("beijing-pm25", "", BEIJING_FILE, _verify_beijing, rules)
    return f"{path} ({beijing_check(path)})"


register(DatasetInfo("beijing-pm25", "Beijing PM2.5 and weather, hourly 2010-2014", "CC BY 4.0",
                     load_beijing_pm25, _find_beijing))
