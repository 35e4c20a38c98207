"""The scrub's judging helper's side (see :mod:`inventory.scrubjudge`): judge the chunks of
strings read from stdin, write the verdict.

Apart from :mod:`inventory.scrubjudge` so that the helper's interpreter imports only this and
:mod:`inventory.secrets`: no pydantic, no model, no subprocess or threading (half of its start
before, on the cold scan's one spare core while the scan's workers parse command lines there).

The stream: chunks, each a length (:data:`LENGTH`) and a ``marshal`` of a list of strings;
a length of 0 ends it. The answer, one byte: :data:`MASKS` as soon as a chunk holds something
:func:`inventory.secrets.redact_text` would mask, else :data:`CLEAN` after the end. A stream
that stops early, or that holds anything else, gets no answer (the caller then judges).
"""

from __future__ import annotations

import marshal
import struct
import sys

LENGTH = struct.Struct("<Q")
CLEAN, MASKS = b"0", b"1"


def serve() -> None:
    """Judge the chunks of strings read from stdin, write the verdict to stdout."""
    from inventory import secrets

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(LENGTH.size)
        if len(head) != LENGTH.size:
            return
        (size,) = LENGTH.unpack(head)
        if size == 0:
            break
        data = stdin.read(size)
        if len(data) != size:
            return
        try:
            chunk = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return  # not what the writer sends: no answer (the caller judges)
        if not isinstance(chunk, list) or secrets._free_text_masks_any(chunk):
            stdout.write(MASKS)
            stdout.flush()
            return
    stdout.write(CLEAN)
    stdout.flush()
