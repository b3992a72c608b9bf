"""Building blocks shared by methods and metrics (pyramids, filters, colour, ...)."""
