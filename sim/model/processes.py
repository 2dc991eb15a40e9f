"""The model's processes: SimPy's, less the two events nobody waits for.

Every process of the model (a dispute's journey, a petition, the sampler, a court delegation) is
started and left to run: no other process waits for it to end. SimPy still spends an event on
each process's start (Initialize, urgent) and on its end (the process as an event, scheduled so
that waiters are told). Here:

- :class:`_Process` ends without an event when nothing waits for it: with no callbacks it is
  marked processed at once, so a later ``yield`` of it goes on at once, as for any event that
  has been processed. Removing an event nobody handles changes no order: SimPy orders events by
  (time, priority, number), and dropping one number leaves the others' order as it was. A
  process that fails is still scheduled, so its exception stops the run as in SimPy.
- :class:`_ArrivalProcess` (a dispute's journey, or a court referral's) is started by the
  timeout its source waits on instead of its own Initialize event.

Starting on the arrival took the reduced model from 5.0 to 4.0 events per dispute; ending
without an event, from 4.0 to 3.0. Both rely on SimPy 4.1's ``Process`` internals
(``_resume`` and the attributes ``__init__`` sets); tests/test_engine.py checks them against the
SimPy installed, so an upgrade that changes them fails there first.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy
from simpy.events import Event, _describe_frame

__all__: list[str] = []  # the model's own machinery; nothing public


class _Process(simpy.Process):
    """``simpy.Process`` whose end is an event only when something waits for it."""

    def _resume(self, event: Event) -> None:
        """``simpy.Process._resume`` (SimPy 4.1.2), but an end nobody waits for is not scheduled.

        Copied rather than wrapped: this is the loop every event of a process goes through, and
        a wrapper would cost a call on each. The only change is the ``StopIteration`` branch.
        """
        self.env._active_proc = self
        while True:
            try:
                if event._ok:
                    event = self._generator.send(event._value)
                else:
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = self._generator.throw(exc)
            except StopIteration as e:
                event = None  # type: ignore[assignment]
                self._ok = True
                self._value = e.args[0] if len(e.args) else None
                if self.callbacks:
                    self.env.schedule(self)
                else:
                    # Nobody waits: processed now (a later waiter goes on at once).
                    self.callbacks = None  # type: ignore[assignment]
                break
            except BaseException as e:
                # A failure is always scheduled: processed with no waiter, it stops the run.
                event = None  # type: ignore[assignment]
                self._ok = False
                e.__traceback__ = e.__traceback__.tb_next  # type: ignore[union-attr]
                self._value = e
                self.env.schedule(self)
                break
            try:
                if event.callbacks is not None:
                    event.callbacks.append(self._resume)
                    break
            except AttributeError:
                if hasattr(event, "callbacks"):
                    raise
                msg = f'Invalid yield value "{event}"'
                descr = _describe_frame(self._generator.gi_frame)  # type: ignore[attr-defined]
                raise RuntimeError(f"\n{descr}{msg}") from None
        self._target = event
        self.env._active_proc = None


class _ArrivalProcess(_Process):
    """A process started by the timeout of its arrival instead of its own Initialize event.

    ``simpy.Process`` schedules an urgent Initialize event to start each process: one event in
    five of this model. A dispute's process can as well be resumed first by the arrival timeout
    its source is about to wait on; it then starts at the same instant, before the source draws
    the next arrival (which touches nothing the dispute uses). Sets the attributes
    ``simpy.Process.__init__`` sets (SimPy 4.1), with the arrival as the target.
    """

    def __init__(self, env: simpy.Environment, generator: Generator, arrival: Event):
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._target = arrival
        arrival.callbacks.append(self._resume)
