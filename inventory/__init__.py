"""stackpolicy inventory: scanners and the inventory model (the first pipeline stage)."""

__version__ = "0.1.0"
