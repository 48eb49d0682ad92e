"""A matplotlib backend that sends figures to the Backend.AI console.

Select it with ``MPLBACKEND=module://bai_media.mpl_backend`` (the agent sets
this in kernel containers) or ``matplotlib.use("module://bai_media.mpl_backend")``.
Rendering is done by Agg; ``show()`` emits every open figure as SVG, in
figure-number order, and then closes them.
"""

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from .display import display_svg, figure_svg

__all__ = ["FigureCanvas", "FigureManager", "show", "flush_figures"]

# matplotlib looks these names up on a backend module.
FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args, block=None, **kwargs):
    """Emit every open figure as image/svg+xml, then close them all."""
    flush_figures()


def flush_figures():
    """Emit and close all open figures; returns how many were emitted."""
    managers = sorted(Gcf.get_all_fig_managers(), key=lambda m: m.num)
    n = 0
    try:
        for manager in managers:
            display_svg(figure_svg(manager.canvas.figure))
            n += 1
    finally:
        Gcf.destroy_all()
    return n
