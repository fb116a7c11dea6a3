"""Loading a submission into a worker, the grader's side: the load request (the source as
attachments, so no source is too large for a message header) and the events that answer it,
one per unit (a notebook cell or a top-level statement), with the unit that hung or killed the
worker marked to be skipped by the next worker. Load messages are bounded per submission.

A mixin of grader.session.Session, which owns the worker's lifecycle and the channel.
"""

from __future__ import annotations

import json
import time

from grader import wire
from grader.messages import LoadEvent

GRACE_SECONDS = 1.0
LOAD_TEXT_LIMIT = 32 * 1024  # characters of load messages per submission: well under the report output's own cap (safetext.TEXT_LIMIT), so the note that says so survives


class WorkerLost(Exception):
    """The worker died, hung or broke the protocol; the message says which, for the student.

    ``kind`` is "timeout", "crash", "bad-result", or "memory" / "cpu" when the worker was killed
    by a resource limit."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class LoadProtocol:
    """What Session does to load the submission into a (new) worker."""

    def _send_load(self) -> None:
        """The load request. Each module's record (its units' source) is an attachment of
        JSON, not part of the header, so a 5 MiB data literal loads; a submission over even
        the attachments' limits is said to be so, once, and not retried."""
        sources = [json.dumps(record).encode()
                   for record in self.submission.worker_records(self.unit_seconds)]
        try:
            frame = wire.pack({"op": "load", "skip": sorted(self.skip),
                               "functions": self.functions_wanted}, attachments=sources)
        except wire.WireError as exc:
            self.unloadable = f"the submission's source is too large to load ({exc})"
            self.load_notes.append(self.unloadable)
            raise WorkerLost("crash", self.unloadable) from None
        self._write(frame)

    def _read_load(self) -> None:
        stack: list[str] = []
        while True:
            try:
                event = self._receive(time.monotonic() + self.unit_seconds + GRACE_SECONDS, "loading")
            except WorkerLost as lost:
                if not stack:
                    self.load_notes.append(f"loading the submission failed: {lost}")
                    raise
                culprit = stack[-1]
                self.skip.add(culprit)
                what = ("did not finish within its time limit of "
                        f"{self.unit_seconds:g} s" if lost.kind == "timeout" else str(lost))
                self.unit_outcomes[culprit] = LoadEvent(
                    culprit, {"type": "Timeout" if lost.kind == "timeout" else "Crashed",
                              "message": f"{what}; it was skipped", "traceback": ""}, "")
                raise
            kind = event.get("event")
            if kind == "unit-start":
                stack.append(str(event.get("unit")))
            elif kind == "unit-done":
                unit = str(event.get("unit"))
                if stack and stack[-1] == unit:
                    stack.pop()
                if not self.loaded_once or unit not in self.unit_outcomes:
                    error = event.get("error")
                    if error and self._load_text >= LOAD_TEXT_LIMIT:
                        self._unshown += 1  # counted, not listed: the report stays bounded
                        error = None
                    elif error:
                        error = {**error, **{key: self._budgeted(error[key])
                                             for key in ("type", "message", "traceback")}}
                    self.unit_outcomes[unit] = LoadEvent(unit, error,
                                                         self._budgeted(event.get("stdout", "")))
            elif kind == "note":
                if not self.loaded_once:
                    self.load_notes.append(self._budgeted(event.get("text", "")))
            elif kind == "loaded":
                found = event.get("functions")
                if isinstance(found, dict):
                    self.functions = {name: found[name] if isinstance(found.get(name), dict) else None
                                      for name in self.functions_wanted}
                if self._unshown and not self.loaded_once:
                    self.load_notes.append(f"{self._unshown} more cells or statements failed to "
                                           "load; their messages are not shown")
                self.loaded_once = True
                return
            else:
                raise WorkerLost("bad-result", f"unexpected message while loading: {kind!r}")

    def _budgeted(self, text: str) -> str:
        """Load messages (one per unit and note, each capped already) stop at LOAD_TEXT_LIMIT
        for the whole submission: ten thousand failing statements cannot fill the report."""
        left = LOAD_TEXT_LIMIT - self._load_text
        if len(text) <= left:
            self._load_text += len(text)
            return text
        self._load_text = LOAD_TEXT_LIMIT
        return text[:max(left, 0)] + (f"... [not shown: the submission's load messages are over "
                                      f"{LOAD_TEXT_LIMIT // 1024} KiB]")
