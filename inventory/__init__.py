"""stackpolicy inventory: scanners and the inventory model (the first pipeline stage)."""

from inventory._guard import guard as _install_guard

__version__ = "0.1.0"

# Before any of its modules is imported: a compiled module whose source changed since it was
# compiled is imported from its source (see inventory.compiled and inventory._guard).
_install_guard()
