"""Fashion-MNIST (Xiao et al. 2017, MIT licence): 70,000 28x28 grey-scale clothing images.

Each IDX file is verified by the sha256 of its *decompressed* content: Debian's copies are
recompressed, so the ``.gz`` bytes differ between copies while the content is identical. The
content is inflated as a stream that stops just past its official size, so a decompression bomb
costs no more memory than the real file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    Prepared,
    _load_prepared,
    _locate,
    _or_prepared,
    _save_prepared,
    _sha256,
    _where,
    download_cap,
    gunzip_capped,
    register,
)

FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# sha256 and size of the *decompressed* IDX files (Debian recompressed the .gz files, so the
# .gz bytes differ between copies while the content is identical to upstream).
FASHION_MNIST_FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte.gz": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
    "train-labels-idx1-ubyte.gz": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
    "t10k-images-idx3-ubyte.gz": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
    "t10k-labels-idx1-ubyte.gz": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
}
# bytes of the upstream .gz files (what a download gives; Debian's copies are 23-24 bytes smaller):
# a download stops at download_cap() of these.
FASHION_MNIST_GZ_BYTES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 26_421_880,
    "train-labels-idx1-ubyte.gz": 29_515,
    "t10k-images-idx3-ubyte.gz": 4_422_102,
    "t10k-labels-idx1-ubyte.gz": 5_148,
}
_NAMES = ["x_train", "y_train", "x_test", "y_test"]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def read_idx(data: bytes) -> np.ndarray:
    """Parse the bytes of an IDX file (the MNIST format) into a uint8 array.

    Raises:
        CorruptFileError: if the header or the length is wrong.

    Example:
        >>> read_idx(b"\\x00\\x00\\x08\\x01" + (2).to_bytes(4, "big") + b"\\x07\\x09").tolist()
        [7, 9]
    """
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise CorruptFileError("not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise CorruptFileError(f"IDX length {len(data)} does not match its shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _gunzip(path: Path, size: int) -> bytes:
    """The decompressed content, read as a stream that stops past ``size`` bytes (the official size)."""
    return gunzip_capped(path, size)


def _verify_fashion(filename: str) -> Callable[[Path], np.ndarray]:
    digest, size = FASHION_MNIST_FILES[filename]

    def verify(path: Path) -> np.ndarray:
        data = _gunzip(path, size)
        if len(data) != size:
            raise CorruptFileError(f"decompressed to {len(data):,} bytes, expected {size:,}")
        if _sha256(data) != digest:
            raise CorruptFileError("sha256 of the decompressed content does not match")
        return read_idx(data)

    return verify


def load_fashion_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST (Xiao et al. 2017, MIT licence): 60,000 train and 10,000 test images.

    Each IDX file is verified by the sha256 of its decompressed content before use. The first
    load keeps the arrays in the prepared cache (bound to those hashes and to a hash of the
    arrays), so later loads take a fraction of a second.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape (n, 28, 28) and uint8
        labels 0-9 (names in ``FASHION_MNIST_CLASSES``).

    Raises:
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        >>> x_train.shape, y_test.shape
        ((60000, 28, 28), (10000,))
    """
    prepared = _load_prepared("fashion-mnist", _sources(), _NAMES)
    if prepared is not None:
        return (prepared["x_train"], prepared["y_train"]), (prepared["x_test"], prepared["y_test"])
    out = _build(download=True)
    _save_prepared("fashion-mnist", out, _sources())
    return (out["x_train"], out["y_train"]), (out["x_test"], out["y_test"])


def _sources(key: str = "fashion-mnist") -> dict[str, str]:
    """What the prepared file is bound to: the hashes of the decompressed IDX files."""
    return {f: digest for f, (digest, _) in FASHION_MNIST_FILES.items()}


def _build(download: bool = False) -> dict[str, np.ndarray]:
    """The four arrays, parsed from the verified IDX files (downloaded only if ``download``)."""
    arrays = {}
    for filename in FASHION_MNIST_FILES:
        _, arrays[filename] = _locate(
            "fashion-mnist", "fashion-mnist", filename, _verify_fashion(filename),
            FASHION_MNIST_URL + filename if download else None,
            max_bytes=download_cap(FASHION_MNIST_GZ_BYTES[filename]),
        )
    return {
        "x_train": arrays["train-images-idx3-ubyte.gz"],
        "y_train": arrays["train-labels-idx1-ubyte.gz"],
        "x_test": arrays["t10k-images-idx3-ubyte.gz"],
        "y_test": arrays["t10k-labels-idx1-ubyte.gz"],
    }


def _find_fashion() -> str:
    def sources_where() -> str:
        return ", ".join(sorted({
            str(_where("fashion-mnist", "fashion-mnist", f, _verify_fashion(f), FASHION_MNIST_FILES[f][0]).parent)
            for f in FASHION_MNIST_FILES
        }))

    return _or_prepared(sources_where, "fashion-mnist", list(FASHION_MNIST_FILES),
                        {"fashion-mnist": (_sources(), _NAMES)})


register(DatasetInfo("fashion-mnist", "Fashion-MNIST, 70,000 28x28 clothing images", "MIT",
                     load_fashion_mnist, _find_fashion,
                     prepared=Prepared(("fashion-mnist",), _sources, lambda keys: {"fashion-mnist": _build()})))
