"""dmlib.plots: a grid's figure title sits above its first row, never over it."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from dmlib.plots import image_grid  # noqa: E402


def test_the_figure_title_sits_above_every_panel_title():
    fig = image_grid(np.zeros((20, 28, 28)), [f"Ankle boot\n(T-shirt/top) {i}" for i in range(20)], ncols=10,
                     title="predicted (true)")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title_box = fig._suptitle.get_window_extent(renderer)
    panel_tops = [ax.title.get_window_extent(renderer).y1 for ax in fig.axes]
    assert title_box.y0 >= max(panel_tops)
    assert fig._suptitle.get_text() == "predicted (true)"
