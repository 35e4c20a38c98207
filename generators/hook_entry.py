"""The exported hooks' entry point: ``python -I -S <this file> claude-code|codex --state PATH [--warm]``.

The hook runs on every agent tool call, so its process does only what it must. Run by absolute
path with the installation's own Python in isolated mode (``-I``: no ``PYTHON*`` variables, no
user site, no current directory on ``sys.path``) and without :mod:`site` (``-S``: no
site-packages scan, no ``.pth`` files), it skips the console-script wrapper (``re``,
``importlib.metadata``) and the interpreter's site set-up, the larger part of a bare start.
It imports :mod:`generators.hook` (standard library only); the rare call that must load the
full classifier itself turns ``site`` on first (:func:`generators.hook.full_python`).
Same arguments and answers as ``stackpolicy hook``.
"""

import os
import sys

# With -I, sys.path[0] is this file's directory (generators/): its modules must never be
# importable as top-level names. The package root (the repo, or site-packages) replaces it.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from generators.hook import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
