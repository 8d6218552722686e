"""Beijing PM2.5 (Liang et al. 2015, UCI id 381, CC BY 4.0): hourly PM2.5 and weather, 2010-2014.

Verified by content (header, rows, consecutive hours, complete weather columns, every value
finite and physically possible), so copies with other line endings pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dmlib.datasets.store import CorruptFileError, DatasetInfo, _describe, _locate, _where, register

BEIJING_FILE = "PRSA_data_2010.1.1-2014.12.31.csv"
BEIJING_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/00381/" + BEIJING_FILE
BEIJING_HEADER = ["No", "year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]
BEIJING_ROWS = 43_824
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


def _verify_beijing(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, na_values=["NA"], keep_default_na=False)
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

    Verified by content (header, 43,824 rows, consecutive hours 2010-01-01 00:00 to
    2014-12-31 23:00, complete weather columns, every value within ``BEIJING_RANGES``, e.g.
    TEMP in [-40, 50] °C: no inf, no 1e300), so copies with other line endings pass.

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
    _, df = _locate("beijing-pm25", "", BEIJING_FILE, _verify_beijing, BEIJING_URL)
    return df



def _find_beijing() -> str:
    rules = _describe(BEIJING_HEADER, BEIJING_ROWS, BEIJING_RANGES, sorted(BEIJING_WIND))
    return str(_where("beijing-pm25", "", BEIJING_FILE, _verify_beijing, rules))


register(DatasetInfo("beijing-pm25", "Beijing PM2.5 and weather, hourly 2010-2014", "CC BY 4.0",
                     load_beijing_pm25, _find_beijing))
