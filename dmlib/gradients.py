"""Input gradients of a Keras model, on any backend: saliency maps and adversarial examples.

Keras 3 has no backend-neutral "gradient with respect to the input", so this is the one place in
the workbook that asks each backend's own autodiff (TensorFlow's ``GradientTape``, ``jax.grad``,
``torch.autograd``); the backend is imported inside its branch only. Introduced in
``02_cnn_images`` (gradient saliency); reused in ``05_generalization`` (FGSM).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def input_gradients(model: Any, x: Any, y: Any = None, *, from_logits: bool = False) -> np.ndarray:
    """Gradient of each example's loss (or top-class score) with respect to its input, as numpy.

    With labels ``y`` the objective is the sparse categorical cross-entropy of ``(y, model(x))``;
    without, it is the largest output of each example (the top-class score). The objective is
    summed over the batch, so row ``i`` of the result is the gradient of example ``i``'s own value.
    The model runs in inference mode (dropout off, batch norm with its moving statistics).

    Args:
        model: a Keras model (or layer) mapping ``x`` to class scores of shape ``(n, classes)``.
        x: a batch of inputs, e.g. images ``(n, 28, 28, 1)``.
        y: integer class labels ``(n,)``, or None for the top-class score.
        from_logits: whether the model outputs logits (True) or probabilities (False, softmax).

    Returns:
        ``float32`` array with the shape of ``x``.

    Example:
        >>> saliency = np.abs(input_gradients(model, x_test[:8]))          # doctest: +SKIP
        >>> x_adv = x + 0.1 * np.sign(input_gradients(model, x, y))          # FGSM, doctest: +SKIP
    """
    import keras
    from keras import ops

    x = np.asarray(x, dtype=keras.config.floatx())

    def objective(inputs: Any) -> Any:
        out = model(inputs, training=False)
        if y is None:
            return ops.sum(ops.max(out, axis=-1))
        labels = ops.convert_to_tensor(np.asarray(y).astype("int32"))
        return ops.sum(keras.losses.sparse_categorical_crossentropy(labels, out, from_logits=from_logits))

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            value = objective(xt)
        grad = tape.gradient(value, xt)
    elif backend == "jax":
        import jax

        grad = jax.jit(jax.grad(objective))(ops.convert_to_tensor(x))
    elif backend == "torch":
        import torch

        xt = ops.convert_to_tensor(x).detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(objective(xt), xt)
    else:
        raise NotImplementedError(f"input_gradients supports tensorflow, jax and torch, not the {backend!r} backend")
    return np.asarray(ops.convert_to_numpy(grad), dtype="float32")
