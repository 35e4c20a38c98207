"""The scrub's free-text judgement, run in a helper process beside the scan's last steps.

The last line of defence (:func:`inventory.secrets.scrub_inventory`) judges every distinct
string of the built inventory: about 9 million characters at 2,000 services, most of a
second on one core, while the scan's other core is idle. When the scan stores the inventory
for the next rescan, it hands those strings to a helper process and encodes the stored form
meanwhile; it writes nothing until the helper says nothing would be masked (else the
inventory is scrubbed and encoded again). See ``scan._scrubbed_and_stored``.

The helper is a new interpreter that imports only :mod:`inventory.secrets` (~26 MB), not a
fork of the scan's process (which would count its ~400 MB once more). It judges with the
built-in detectors, so it is only used while the registry is untouched
(:func:`inventory.secrets.detectors_are_built_in`). Anything that goes wrong with it (it
cannot start, dies, answers nonsense or too late) means the strings are judged here, as
without it: a verdict is never assumed.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from inventory import secrets
from inventory.model import Inventory

_LENGTH = struct.Struct("<Q")
_CLEAN, _MASKS = b"0", b"1"
# Strings sent per chunk: what secrets._free_text_masks_any judges per prefilter search.
CHUNK = secrets._FREE_TEXT_CHUNK
# How long a verdict may take (seconds) once the strings are sent: far more than judging
# them takes (about 1 s per 10 million characters), so only a helper that hangs reaches it.
VERDICT_TIMEOUT = 120.0


class FreeTextJudge:
    """A helper process that answers one question: would :func:`secrets.redact_text` mask
    anything in any of these strings (exactly :func:`secrets._free_text_masks_any`)?

    :meth:`start` it early (it imports while the caller works), :meth:`submit` the strings
    once, and ask :meth:`masks_any`; :meth:`close` it in any case.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._values: list[str] | None = None  # kept until answered: judged here if the helper fails
        self._writer: threading.Thread | None = None

    @classmethod
    def start(cls) -> FreeTextJudge | None:
        """A started helper, or ``None`` when there cannot be one (then judge in process)."""
        if not secrets.detectors_are_built_in() or not sys.executable:
            return None
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from inventory.scrubjudge import serve; serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError:
            return None
        return cls(proc)

    def submit(self, values: list[str]) -> None:
        """Send the strings to judge (once), from a thread: the caller goes on meanwhile.

        They go a chunk at a time, each judged as it arrives, so the helper never holds them
        all (it runs beside the scan's memory peak).
        """
        if self._values is not None:
            raise RuntimeError("already submitted")
        self._values = values
        self._writer = threading.Thread(target=self._send, args=(values,), name="scrub-judge-writer", daemon=True)
        self._writer.start()

    def _send(self, values: list[str]) -> None:
        pipe = self._proc.stdin
        if pipe is None:
            return
        try:
            for start in range(0, len(values), CHUNK):
                data = pickle.dumps(values[start : start + CHUNK], protocol=pickle.HIGHEST_PROTOCOL)
                pipe.write(_LENGTH.pack(len(data)))
                pipe.write(data)
            pipe.write(_LENGTH.pack(0))  # the end
            pipe.close()
        except (OSError, ValueError):
            pass  # it stopped reading: it answered early, died or was stopped; its answer (or none) decides

    def masks_any(self, timeout: float = VERDICT_TIMEOUT) -> bool:
        """The verdict on the submitted strings: from the helper, or judged here when it fails."""
        values, self._values = self._values, None
        if values is None:
            raise RuntimeError("nothing was submitted")
        answer = self._answer(timeout)
        self.close()
        if answer == _CLEAN:
            return False
        if answer == _MASKS:
            return True
        return secrets._free_text_masks_any(values)

    def _answer(self, timeout: float) -> bytes | None:
        out = self._proc.stdout
        if out is None or out.closed:
            return None
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                ready, _, _ = select.select([out], [], [], left)
                if ready:
                    return out.read(1) or None
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Stop the helper (whatever it is doing) and wait for it and the writer."""
        proc = self._proc
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if self._writer is not None:  # its write fails now that the helper is gone
            self._writer.join()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


def serve() -> None:
    """The helper's side: judge the chunks of strings read from stdin, write the verdict.

    The answer is written as soon as a chunk would be masked; "clean" only after the end
    marker. A stream that stops early gets no answer at all (the caller then judges).
    """
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) != _LENGTH.size:
            return
        (size,) = _LENGTH.unpack(head)
        if size == 0:
            break
        data = stdin.read(size)
        if len(data) != size:
            return
        if secrets._free_text_masks_any(pickle.loads(data)):
            stdout.write(_MASKS)
            stdout.flush()
            return
    stdout.write(_CLEAN)
    stdout.flush()


class PendingScrub:
    """:func:`secrets.scrub_inventory` of ``inv``, its free text judged by ``judge`` meanwhile.

    Made when the inventory is built: its strings are collected and the few under
    secret-looking keys judged at once; the free text goes to the helper. :meth:`result` is
    then what ``scrub_inventory(inv)`` returns. Until then ``inventory`` may hold a secret a
    scanner left: it may be encoded, but nothing made from it may be written or shown.
    """

    def __init__(self, inv: Inventory, judge: FreeTextJudge | None) -> None:
        self.inventory = inv
        free, keyed = secrets._judged_strings(inv)
        self._masks: bool | None = None
        self._judge: FreeTextJudge | None = None
        if any(secrets.redact_value(key, value)[1] for key, value in keyed):
            self._masks = True
        elif judge is not None:
            judge.submit(list(free))
            self._judge, judge = judge, None
        else:
            self._masks = secrets._free_text_masks_any(free)
        if judge is not None:
            judge.close()

    def result(self) -> Inventory:
        """The scrubbed inventory: ``inventory`` itself when nothing would be masked."""
        if self._masks is None:
            assert self._judge is not None
            self._masks = self._judge.masks_any()
            self._judge = None
        return secrets._scrubbed(self.inventory) if self._masks else self.inventory

    def close(self) -> None:
        """Stop the helper if it is still judging (the result is no longer wanted)."""
        if self._judge is not None:
            self._judge.close()
            self._judge = None
