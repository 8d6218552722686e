"""Image augmentation that compiles: random whole-pixel shifts and horizontal flips in ``keras.ops``.

Why not Keras' own ``RandomTranslation``/``RandomCrop``/``RandomZoom``: in Keras 3.15 they declare
``supports_jit = False``, so a model that contains one is compiled with ``jit_compile=False``; on the
JAX backend that means no ``jax.jit`` at all and every training step runs op by op (measured on this
workbook's better CNN: 385 ms per step instead of 195 ms on CPU, and far worse on a GPU, where 02's
full profile stalled for it). :class:`RandomShiftFlip` does the augmentation the notebooks need
(shifts by up to a few whole pixels, filled with zeros, and left-right flips) with one-hot shift
matrices and ``einsum``, which every backend compiles. It is active only in training, like Keras'
random layers. :func:`jit_compiled` tells whether a compiled model will train under jit.

Used by 02 and 05 for augmentation; see ``python -m dmlib bench`` for a timing row.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dmlib")
class RandomShiftFlip(keras.layers.Layer):
    """Shift each image by a random whole number of pixels (zero fill) and flip it left-right at random.

    Args:
        max_shift: the largest shift in pixels, in each direction (0 turns shifting off).
        flip: flip half of the images left-right (at random) when True.
        seed: seed of the layer's random generator.

    Input and output: ``(batch, height, width, channels)`` images; unchanged outside training.

    Example:
        >>> layer = RandomShiftFlip(max_shift=2, flip=True, seed=0)
        >>> x = np.zeros((4, 28, 28, 1), "float32"); x[:, 14, 14] = 1
        >>> y = keras.ops.convert_to_numpy(layer(x, training=True))
        >>> y.shape, float(y.sum())
        ((4, 28, 28, 1), 4.0)
    """

    def __init__(self, max_shift: int = 2, flip: bool = True, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        whole = isinstance(max_shift, numbers.Real) and not isinstance(max_shift, bool) \
            and math.isfinite(max_shift) and int(max_shift) == max_shift
        if not whole or max_shift < 0:
            raise ValueError(f"max_shift must be a whole number of pixels >= 0, got {max_shift!r}")
        self.max_shift = int(max_shift)
        self.flip = bool(flip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _shift_matrices(self, batch: Any, size: int) -> Any:
        """(batch, size, size) matrices S with S[b, i, j] = 1 where j = i - shift_b (zero outside the image)."""
        shift = keras.random.randint((batch,), -self.max_shift, self.max_shift + 1, seed=self.seed_generator)
        src = ops.expand_dims(ops.arange(size), 0) - ops.expand_dims(shift, 1)
        inside = ops.cast(ops.logical_and(src >= 0, src < size), self.compute_dtype)
        return ops.one_hot(ops.clip(src, 0, size - 1), size, dtype=self.compute_dtype) * ops.expand_dims(inside, -1)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        x = inputs
        batch, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
        if self.max_shift:
            x = ops.einsum("bij,bjwc->biwc", self._shift_matrices(batch, height), x)
            x = ops.einsum("bkw,bhwc->bhkc", self._shift_matrices(batch, width), x)
        if self.flip:
            coin = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < 0.5
            x = ops.where(coin, ops.flip(x, axis=2), x)
        return x

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_shift": self.max_shift, "flip": self.flip, "seed": self.seed}


def jit_compiled(model: keras.Model) -> bool:
    """Whether a compiled model trains under jit: ``model.jit_compile`` after Keras resolved ``"auto"``.

    On JAX, ``False`` means every step runs op by op (a layer with ``supports_jit = False`` inside).

    Example:
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]); m.compile("sgd", "mse")
        >>> jit_compiled(m) == (keras.backend.backend() == "jax")  # Keras' "auto": no XLA for TF on a CPU, none for torch
        True
    """
    return bool(model.jit_compile)
