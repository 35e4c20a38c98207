"""The scrub's free-text judgement, run in a helper process beside the scan's last steps.

The last line of defence (:func:`inventory.secrets.scrub_inventory`) judges every distinct
string of the built inventory: about 9 million characters at 2,000 services, most of a
second on one core, while the scan's other core is idle. When the scan stores the inventory
for the next rescan, it hands those strings to a helper process and encodes the stored form
meanwhile; it writes nothing until the helper says nothing would be masked (else the
inventory is scrubbed and encoded again). The encoding is quicker than the judging: once it
is done, the strings not yet given to the helper are judged in the scan's process (see
:meth:`FreeTextJudge.masks_any`). See ``scan._scrubbed_and_stored``.

The helper is a new interpreter that imports only :mod:`inventory.judgeserve` and
:mod:`inventory.secrets` (no pydantic, ~15 MB), not a fork of the scan's process (which would
count its ~400 MB once more). It judges with the
built-in detectors, so it is only used while the registry is untouched
(:func:`inventory.secrets.detectors_are_built_in`). Anything that goes wrong with it (it
cannot start, dies, answers nonsense or too late) means the strings are judged here, as
without it: a verdict is never assumed.
"""

from __future__ import annotations

import marshal
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from inventory import forked, secrets
# The helper's side, and its stream's framing and answers (see there).
from inventory.judgeserve import CLEAN as _CLEAN
from inventory.judgeserve import LENGTH as _LENGTH
from inventory.judgeserve import MASKS as _MASKS
from inventory.model import Evidence, Inventory

if TYPE_CHECKING:
    from inventory.store import Sight

try:  # the C writer of a chunk (see _cbuild.write_strings), where the install built it
    from inventory._cbuild import write_strings as _write_strings
except ImportError:
    _write_strings = None

# Strings sent per chunk: what secrets._free_text_masks_any judges per prefilter search.
CHUNK = secrets._FREE_TEXT_CHUNK
# How long a verdict may take (seconds) once the strings are sent: far more than judging
# them takes (about 1 s per 10 million characters), so only a helper that hangs reaches it.
VERDICT_TIMEOUT = 120.0


class FreeTextJudge:
    """A helper process that answers one question: would :func:`secrets.redact_text` mask
    anything in any of these strings (exactly :func:`secrets._free_text_masks_any`)?

    :meth:`start` it early (it imports while the caller works), :meth:`send` the strings as
    they come and say :meth:`end` (or :meth:`submit` them all at once), and ask
    :meth:`masks_any`; :meth:`close` it in any case.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._values: list[str] = []  # kept until answered: judged here if the helper fails
        # Chunks sent and not yet written to the helper (the writer takes the first, a caller
        # waiting for the verdict judges the last), and whether the writer is to stop.
        self._chunks: deque[list[str]] = deque()
        self._more = threading.Condition()
        self._stopped = False
        self._writer: threading.Thread | None = None
        self._ahead: set[str] = set()  # sent by send_ahead
        self.ended = False  # every string sent

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
                [sys.executable, "-c", "from inventory.judgeserve import serve; serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError:
            return None
        if proc.stdin is not None:  # the strings go to it from a thread that waits for the GIL
            forked.widen_pipe(proc.stdin.fileno())
        return cls(proc)

    def submit(self, values: list[str]) -> None:
        """Send all the strings to judge: :meth:`send` them, then :meth:`end`."""
        self.send(values)
        self.end()

    def send_ahead(self, values: list[str]) -> None:
        """Send strings to judge before they are met: judged while the caller still builds what
        holds them, and left out when :meth:`send` meets them.

        For strings sure to be among those sent later, or clean: one that is neither only
        costs a verdict that something would be masked where nothing is.
        """
        # Not deduplicated here (a string given twice is judged twice, by the helper): a pass
        # over them cost the caller as much as the helper's second look costs it.
        self._ahead.update(values)
        self.send(values, ahead=True)

    def send(self, values: list[str], *, ahead: bool = False) -> None:
        """Send more strings to judge. A thread writes them: the caller goes on meanwhile.

        They go a chunk at a time, each judged as it arrives, so the helper never holds them
        all (it runs beside the scan's memory peak). Those sent ahead are left out.
        """
        if self.ended:
            raise RuntimeError("already submitted")
        if self._ahead and not ahead:
            known = self._ahead
            values = [v for v in values if v not in known]
        self._values += values
        if self._writer is None:
            self._writer = threading.Thread(target=self._send, name="scrub-judge-writer", daemon=True)
            self._writer.start()
        with self._more:
            self._chunks.extend(values[start : start + CHUNK] for start in range(0, len(values), CHUNK))
            self._more.notify()

    def end(self) -> None:
        """Say that every string was sent: the helper's verdict covers them all, but for what
        :meth:`masks_any` judges here."""
        if self.ended:
            raise RuntimeError("already submitted")
        if self._writer is None:
            self.send([])
        with self._more:
            self.ended = True
            self._more.notify()

    def _next(self) -> list[str] | None:
        """The next chunk for the helper, waited for; None once there is none to come."""
        with self._more:
            while not self._chunks and not self.ended and not self._stopped:
                self._more.wait()
            return self._chunks.popleft() if self._chunks and not self._stopped else None

    def _send(self) -> None:
        pipe = self._proc.stdin
        if pipe is None:
            return
        try:
            while (chunk := self._next()) is not None:
                # marshal, not pickle: a list of strings in a fifth of the time (pickle memoises
                # each one). Its version 2, without refs: the strings are distinct, and looking
                # each one up in version 4's table of objects written was half the time (the
                # helper's read too). Made and written without the GIL where the extension is
                # built (the scan's last steps run under it meanwhile); the same bytes.
                if _write_strings is not None:
                    _write_strings(pipe.fileno(), chunk)
                    continue
                data = marshal.dumps(chunk, 2)
                pipe.write(_LENGTH.pack(len(data)))
                pipe.write(data)
            pipe.write(_LENGTH.pack(0))  # the end
        except (OSError, ValueError, TypeError):
            pass  # it stopped reading (it answered early, died or was stopped), or a value is not a string
        finally:
            # Closed in any case: a helper cut off before the end gives no answer, which the
            # caller then judges here (see masks_any), rather than waiting for more.
            try:
                pipe.close()
            except OSError:
                pass

    def _judged_here(self) -> bool:
        """Judge here the chunks the helper was not yet given, from the last back, while it
        judges the others: whether any would be masked. Once the caller only waits for the
        verdict, this splits what is left between the two processes instead of leaving one idle."""
        while True:
            with self._more:
                if not self._chunks:
                    return False
                chunk = self._chunks.pop()
            if secrets._free_text_masks_any(chunk):
                return True

    def masks_any(self, timeout: float = VERDICT_TIMEOUT) -> bool:
        """The verdict on the submitted strings: from the helper and, for what it was not yet
        given, from here (see :meth:`_judged_here`); all judged here when it fails."""
        if not self.ended:
            raise RuntimeError("nothing was submitted")
        values, self._values = self._values, []
        if self._judged_here():
            self.close()
            return True
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
            with self._more:
                self._stopped = True
                self._more.notify()
            self._writer.join()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


def _is_pair(cls: type[BaseModel]) -> bool:
    """Whether the scrub judges ``cls``'s value under its name (a ``{name, value}`` pair, as its walkers do)."""
    return "name" in cls.model_fields and "value" in cls.model_fields


@lru_cache(maxsize=None)
def _sight() -> Sight:
    """What the scrub needs shown of an inventory as it is encoded (see :class:`store.Sight`):
    every value under a secret-looking field name, a ``{name, value}`` model's value under its name."""
    from inventory.store import Sight

    return Sight(keyed=secrets._secretish_name, pairs=_is_pair)


@lru_cache(maxsize=None)
def _field_names() -> tuple[str, ...]:
    """The field names of every model an inventory holds: free text in its dump, never in its stored form."""
    classes = (Evidence, *secrets._walked_classes(Inventory))
    return tuple(dict.fromkeys(name for cls in classes for name in cls.model_fields))


class PendingScrub:
    """:func:`secrets.scrub_inventory` of ``inv``, its free text judged by ``judge`` meanwhile.

    Made when the inventory is built. Without a helper its strings are judged at once. With
    one, the strings go to the helper as :meth:`stored_form` encodes the inventory: the
    stored form's string table holds every string of its dump, and the few values the scrub
    judges by a secret-looking key are shown to it beside (see :class:`store.Sight`). The
    helper so judges a few strings more as free text than the scrub does (a value under a
    secret-looking key also): harmless, as a verdict that something would be masked only
    means the inventory is scrubbed, which gives it back as it is when nothing is.
    (Without :meth:`stored_form`, :meth:`result` collects the strings by a walk.)
    :meth:`result` is then what ``scrub_inventory(inv)`` returns. Until then ``inventory``
    may hold a secret a scanner left: it may be encoded, but nothing made from it may be
    written or shown.
    """

    def __init__(self, inv: Inventory, judge: FreeTextJudge | None) -> None:
        self.inventory = inv
        self._masks: bool | None = None
        self._judge = judge
        if judge is None:
            self._masks = secrets._masks_any_model(inv)

    def stored_form(self) -> tuple[bytes, bytes] | None:
        """``store.dump_parts(inventory)``, or ``None`` for an inventory with a value the stored
        form cannot hold; the helper, if any, is sent the strings to judge as they are met."""
        from inventory import store

        judge = self._judge
        if judge is None or self._masks is not None:
            try:
                return store.dump_parts(self.inventory)
            except TypeError:
                return None
        free, keyed, see = secrets._judging_beside_table()
        judge.send(list(_field_names()))
        try:
            parts = store.dump_parts(self.inventory, (_sight(), see, judge.send))
        except TypeError:
            free, keyed = secrets._judged_strings(self.inventory)
            parts = None
        self._judged(free, keyed)
        return parts

    def _judged(self, free: set[str], keyed: set[tuple[str, str]]) -> None:
        """Judge ``keyed`` here, and send the helper ``free`` (the end of what it judges)."""
        assert self._judge is not None
        if any(secrets.redact_value(key, value)[1] for key, value in keyed):
            self._masks = True
            self._judge.close()
            self._judge = None
        else:
            self._judge.send(list(free))
            self._judge.end()

    def result(self) -> Inventory:
        """The scrubbed inventory: ``inventory`` itself when nothing would be masked."""
        if self._masks is None:
            assert self._judge is not None
            if not self._judge.ended:
                self._judged(*secrets._judged_strings(self.inventory))
            if self._judge is not None:
                self._masks = self._judge.masks_any()
                self._judge = None
        return secrets._scrubbed(self.inventory) if self._masks else self.inventory

    def close(self) -> None:
        """Stop the helper if it is still judging (the result is no longer wanted)."""
        if self._judge is not None:
            self._judge.close()
            self._judge = None
