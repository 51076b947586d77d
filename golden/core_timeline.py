"""When the neuron core's pipeline does what: end-to-end cycles of a stream at full speed.

`golden.core` says *what* the core computes and how many cycles its engine (the macro) works;
this module says *when*, for the case a throughput figure needs: input events offered every
cycle (``ev_in.valid`` always high) and the output always accepted (``ev_out.ready`` always
high), starting from an idle core. The RTL (`flexspim.hdl.core`) meets it cycle for cycle
(``tests/hdl/test_rtl_core.py`` measures it). Cycle 0 is the first input handshake.

The three stages and their rules (a cycle-level reading of the RTL):

* **Input** (`flexspim.hdl.fifo.EventFIFO`): element ``k`` of the stream (event or tick)
  enters the FIFO one cycle after element ``k - 1`` (element 0 in cycle 0), but not before
  the FIFO has room, and is at its head from cycle ``max(entered + latency, cycle element
  k - 1 left + 1)``. Depths 1 and 2 are registers: latency 1, room from the cycle after
  element ``k - depth`` left. Depth 3 and more is Amaranth's ``SyncFIFOBuffered`` (a memory
  of ``depth - 1`` entries behind the output register): latency 2, room once element
  ``k - depth + 1`` has reached the head.
* **Collector** (one action per cycle, on the head, while the batch buffer C is not closed):
  pop an event into C (C closes, visibly in the next cycle, when it reaches ``P``); pop and
  drop a source ``>= n_in``; pop a source that repeats one of C's and close C (visible in the
  next cycle; the source is kept as the first of the next batch); *close* C without popping
  when the head is a tick. A tick at the head with C empty waits for the runner. After a
  hand-over in cycle ``h`` the collector acts again from ``h + 1``.
* **Runner**: takes a closed C in cycle ``h``: when idle, or in the very cycle it issues the
  last slot of the batch before; it is idle from the cycle after a batch's last issue, and
  from the cycle after a tick's last fire issue (a closed C waits until then). Then
  `ROW_SETUP_CYCLES` cycles compute the rows (offsets ``source * bw``, then the base
  added, then the registered check that every row lies in the array), and from ``h + 4`` it
  offers one accumulate per slot; the macro takes a command in any cycle it is idle, i.e.
  right after the previous one's last cycle. An idle runner with a tick at the head and C
  empty pops it in cycle ``u`` and offers the fire passes from ``u + 2`` (after the range
  check of slot 0).
* **Fire passes and encoder**: a fire pass starts only once the previous pass's spikes have
  been taken by the encoder; a pass's spikes are taken in the cycle its ``done`` pulses (the
  macro's first idle cycle after it) or, if the encoder is still busy, the cycle it becomes
  free. The encoder sends one spike per cycle from the cycle after the take, then, after a
  tick's last slot, the tick; it is free again the cycle after its last send.
"""

from __future__ import annotations

__all__ = ["ROW_SETUP_CYCLES", "CoreTimeline", "batch_period"]

#: Cycles between a hand-over and the first accumulate the runner can offer.
ROW_SETUP_CYCLES = 4


def batch_period(accumulate_cycles: int, batch_max: int) -> int:
    """Steady-state cycles per full batch of ``batch_max`` distinct sources on one neuron
    slot, events at full speed: the macro runs one accumulate per batch back to back unless
    collecting the next batch (``P`` pops and the hand-over cycle) or setting up its rows
    takes longer (the rules above; a test checks it against `CoreTimeline`)."""
    return max(accumulate_cycles, batch_max + 1, ROW_SETUP_CYCLES)


class CoreTimeline:
    """Cycle bookkeeping of one stream, fed in order by `golden.core.CoreModel.run`."""

    def __init__(self, fifo_depth: int):
        self.depth = fifo_depth
        self.t = 0                 # first cycle the collector may act on the next element
        self.entered: list[int] = []   # cycle each element entered the FIFO
        self.at_head: list[int] = []   # cycle it reached the head
        self.left: list[int] = []      # cycle it left
        self.take_from = 0         # first cycle the runner can take a closed C
        self.idle_from = 0         # first cycle the runner is idle
        self.macro_free = 0        # first cycle the macro can take a command
        self.taken = 0             # cycle the last fire pass's spikes were taken
        self.enc_free = 0          # first cycle the encoder is free
        self.last = -1             # last cycle anything happened

    def _head(self) -> int:
        """The cycle from which the current element is at the head and may be acted on."""
        k, d = len(self.left), self.depth
        if len(self.at_head) == k:             # element k: when it entered, reached the head
            e = self.entered[-1] + 1 if k else 0
            if d <= 2 and k >= d:
                e = max(e, self.left[k - d] + 1)
            elif d > 2 and k >= d - 1:
                e = max(e, self.at_head[k - d + 1])
            self.entered.append(e)
            self.at_head.append(max(e + (1 if d <= 2 else 2), self.left[-1] + 1 if k else 0))
        self.t = max(self.t, self.at_head[k])
        return self.t

    def _pop(self, cycle: int) -> None:
        self.left.append(cycle)

    def drop(self) -> None:
        self._pop(self._head())
        self.t += 1

    def close(self) -> None:
        """C is closed (without popping) by the element at the head."""
        self._head()
        self.t += 1                # visible from the next cycle

    def push(self) -> None:
        """The head is popped into C, or closes it (a closed C is then run with
        `run_batch`)."""
        self._pop(self._head())
        self.t += 1                # a full C is visible as closed from the next cycle

    def run_batch(self, slot_cycles: list[int]) -> None:
        """C (closed, visibly, from cycle ``self.t``) is run: one command per slot."""
        h = max(self.t, self.take_from)
        issue = h + ROW_SETUP_CYCLES
        for n in slot_cycles:
            issue = max(issue, self.macro_free)
            self.macro_free = issue + n
            last_issue = issue
            issue += 1
        self.take_from, self.idle_from = last_issue, last_issue + 1
        self.last = max(self.last, self.macro_free - 1)
        self.t = h + 1

    def fire(self, slots: list[tuple[int, int]]) -> None:
        """The tick at the head (C empty) fires ``slots``: (cycles, spikes) per slot."""
        u = max(self._head(), self.idle_from)
        self._pop(u)
        issue = u + 2
        for s, (n, spikes) in enumerate(slots):
            issue = max(issue, self.macro_free, self.taken)
            self.macro_free = issue + n
            self.taken = max(self.macro_free, self.enc_free)
            sends = spikes + (s == len(slots) - 1)          # the tick after the last slot
            self.enc_free = self.taken + sends + 1
            self.last = max(self.last, self.taken + sends)
            last_issue = issue
            issue += 1
        self.take_from = self.idle_from = last_issue + 1
        self.t = u + 1

    @property
    def elapsed(self) -> int:
        """Cycles from the first input handshake to the last thing done (the last output
        sent, or the macro's last busy cycle), inclusive."""
        return self.last + 1
