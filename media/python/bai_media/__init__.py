"""Rich output (images, HTML, animated drawings) for Backend.AI kernels.

Inside the runner's Python REPL, media goes to the console through the
``__bai__`` channel; in plain Python a placeholder line is printed instead.
See README.md next to this package for the API and the drawing format.
"""

from .display import (
    MIME_DRAWING,
    MIME_GIF,
    MIME_HTML,
    MIME_JPEG,
    MIME_PNG,
    MIME_SVG,
    display,
    display_html,
    display_image,
    display_png,
    display_svg,
)
from .drawing import Canvas, Shape, color
from .turtle import Turtle

__all__ = [
    "display",
    "display_svg",
    "display_png",
    "display_html",
    "display_image",
    "Canvas",
    "Shape",
    "Turtle",
    "color",
    "MIME_SVG",
    "MIME_PNG",
    "MIME_JPEG",
    "MIME_GIF",
    "MIME_HTML",
    "MIME_DRAWING",
]
