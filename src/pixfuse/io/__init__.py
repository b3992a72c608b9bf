"""File I/O: nothing outside this package opens image files."""
from .images import ImageMeta, get_max_pixels, list_images, pair_by_stem, read_image, set_max_pixels, write_image

__all__ = ["ImageMeta", "read_image", "write_image", "set_max_pixels", "get_max_pixels", "list_images", "pair_by_stem"]
