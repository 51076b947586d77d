"""The CIM macro: the storage array, the accumulate unit, the fire unit and the host row port.

One operation runs at a time. In ``IDLE`` the row port works and a command is taken from the
accumulate port or, if none is offered, from the fire port (valid/ready handshakes). The
cycle that accepts a command is its *issue* cycle (`flexspim.golden.cycles`); its unit then
runs alone until its last cycle, after which ``done`` pulses for one cycle and the macro is
back in ``IDLE`` (ready for the next command in that same cycle).

A command whose fields break a rule of `flexspim.config` (what `AccumulateOp.check_fits` or
`FireOp.check_fits` rejects) is not executed: the unit checks the registered fields in the
cycle after the issue cycle, and ``done`` and ``error`` pulse in the cycle after that; the
array is untouched. Nothing is dropped silently.

The storage is the module ``<prefix>_cim_array`` (`flexspim.hdl.array`, contract in
``docs/array.md``), instantiated by name so that a flow can replace it; every array input is
driven from a register or through at most an OR of the units' registered outputs.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

from .accumulate import AccumulateFields, AccumulateUnit, check_config
from .accumulate_shaped import ShapedAccumulateUnit
from .array import ARRAY_MODULE, ArraySignature
from .lif import FireFields, FireUnit
from .lif_shaped import ShapedFireUnit

__all__ = ["RowPortSignature", "AccumulateSignature", "FireSignature", "CimMacro"]


class RowPortSignature(wiring.Signature):
    """Host row port, seen from the macro (``AW`` = ``row_addr_width``).

    * ``addr``: in, AW. Row to read or write.
    * ``re``: in, 1. Read row ``addr`` at the clock edge if ``re`` and ``ready`` (like a
      synchronous SRAM; while ``ready`` is low the read waits).
    * ``rdata``: out, cols; ``rvalid``: out, 1. In the cycle after a read was taken,
      ``rvalid`` is 1 and ``rdata`` holds the row (read latency 1, one read per cycle).
    * ``wdata``: in, cols; ``wmask``: in, cols (columns to write); ``we``: in, 1. The write
      happens at the clock edge if ``we`` and ``ready``; while ``ready`` is low the host must
      hold the write (nothing is dropped: the write simply waits). A read and a write of the
      same row at one edge is not allowed (the array's contract leaves it undefined).
    * ``ready``: out, 1. No operation is running.
    """

    def __init__(self, config: MacroConfig):
        c = check_config(config)
        super().__init__({
            "addr": In(c.row_addr_width),
            "re": In(1),
            "rdata": Out(c.cols),
            "rvalid": Out(1),
            "wdata": In(c.cols),
            "wmask": In(c.cols),
            "we": In(1),
            "ready": Out(1),
        })


class AccumulateSignature(wiring.Signature):
    """Accumulate command port, seen from the macro (``BW`` = ``bits_width``).

    * ``valid``: in, 1; ``ready``: out, 1. The command is taken at the edge where both are 1.
    * ``v_row``: in, AW. Lowest row of the potential; ``bv``: in, BW. Its resolution.
    * ``w_rows``: in, ``P * AW``. Slot ``i``'s weight base row at ``i*AW``; ``w_en``: in, P.
      Slots taking part (their rows must be distinct); ``bw``: in, BW.
    * ``col_en``: in, cols. Columns to update; ``saturate``: in, 1 (0 = wrap).
    * ``done``: out, 1. One-cycle pulse when the command has finished (or was rejected).
    * ``error``: out, 1. With ``done``: the command was invalid and nothing was written.
    * ``overflow``: out, cols. Columns the last accumulate clamped (at a shape ``N_C > 1``:
      each clamped group's lowest column).
    * ``operand_cols``: in, ``max_operand_cols.bit_length()``, only when
      ``max_operand_cols > 1``: the shape ``N_C`` of V and the weights (1, 2, 4, ..).
    """

    def __init__(self, config: MacroConfig):
        c = check_config(config)
        super().__init__({
            "valid": In(1), "ready": Out(1), **AccumulateFields(c),
            "done": Out(1), "error": Out(1), "overflow": Out(c.cols),
        })


class FireSignature(wiring.Signature):
    """Fire command port, seen from the macro (``MB`` = ``max_bits``).

    * ``valid``: in, 1; ``ready``: out, 1. Handshake, as for ``acc`` (which has priority).
    * ``v_row``: in, AW; ``bv``: in, BW. The potential of the neuron slot.
    * ``leak_mode``: in, 2 (0 none, 1 sub, 2 shift; 3 is invalid); ``leak``: in, MB.
    * ``threshold``: in, MB, two's complement (must fit ``bv`` bits); ``theta_src``: in, 1
      (1: per-neuron thresholds from rows ``theta_row..``); ``theta_row``: in, AW.
    * ``soft_reset``: in, 1 (0 = hard reset); ``col_en``: in, cols.
    * ``done``, ``error``: out, 1, as for ``acc``; ``spikes``: out, cols. The columns that fired
      in the last fire pass, held until the next one starts (at a shape ``N_C > 1``: each
      spiking group's lowest column).
    * ``operand_cols``: in, as for ``acc`` (only when ``max_operand_cols > 1``).
    """

    def __init__(self, config: MacroConfig):
        c = check_config(config)
        super().__init__({
            "valid": In(1), "ready": Out(1), **FireFields(c),
            "done": Out(1), "error": Out(1), "spikes": Out(c.cols),
        })


class CimMacro(wiring.Component):
    """One CIM macro for geometry ``config``.

    Ports: ``row`` (`RowPortSignature`), ``acc`` (`AccumulateSignature`), ``fire``
    (`FireSignature`), ``busy`` (out, 1: an operation is running), plus ``clk``/``rst`` of
    the sync domain (``rst`` resets the sequencers, not the storage). In Verilog the members
    are flattened as ``row__addr``, ``acc__valid``, ``fire__spikes``, ...
    """

    def __init__(self, config: MacroConfig):
        self.config = check_config(config)
        super().__init__({
            "row": Out(RowPortSignature(config)),
            "acc": Out(AccumulateSignature(config)),
            "fire": Out(FireSignature(config)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw = cfg.cols, cfg.batch_max, cfg.row_addr_width
        arr = ArraySignature(cfg).flip().create(path=("array",))
        m.submodules.array = Instance(
            ARRAY_MODULE, i_clk=ClockSignal("sync"),
            **{("i_" if member.flow == In else "o_") + name: getattr(arr, name)
               for name, member in ArraySignature(cfg).members.items()})
        m.submodules.acc_unit = acc_u = (AccumulateUnit(cfg) if cfg.max_operand_cols == 1
                                         else ShapedAccumulateUnit(cfg))
        m.submodules.fire_unit = fire_u = (FireUnit(cfg) if cfg.max_operand_cols == 1
                                           else ShapedFireUnit(cfg))

        for name in AccumulateFields(cfg):
            m.d.comb += getattr(acc_u, name).eq(getattr(self.acc, name))
        for name in FireFields(cfg):
            m.d.comb += getattr(fire_u, name).eq(getattr(self.fire, name))
        m.d.comb += [self.acc.overflow.eq(acc_u.overflow), self.fire.spikes.eq(fire_u.spikes)]
        # named per slot: a core drives each slot's rows from its own register, and a port
        # the macro has no signal for is named `port$n$0` in Verilog
        m.d.comb += [Signal(aw, name=f"w_row{i}").eq(self.acc.w_rows[i * aw:(i + 1) * aw])
                     for i in range(P)]

        # the units drive the array only while they run: combine them with an OR, and give
        # the row port the write port and the V read port when idle
        idle = Signal()
        row_rd, row_wr = Signal(), Signal()
        m.d.comb += [row_rd.eq(self.row.re & idle), row_wr.eq(self.row.we & idle)]
        v_addr = slice(P * aw, (P + 1) * aw)
        units = (acc_u.array, fire_u.array)
        for name in ("rd_en", "rd_addr", "wr_en", "wr_addr", "wr_data", "wr_mask"):
            m.d.comb += getattr(arr, name).eq(getattr(units[0], name) | getattr(units[1], name))
        m.d.comb += [
            arr.rd_en[P].eq(acc_u.array.rd_en[P] | fire_u.array.rd_en[P] | row_rd),
            arr.rd_addr[v_addr].eq(acc_u.array.rd_addr[v_addr] | fire_u.array.rd_addr[v_addr] |
                                   (self.row.addr & row_rd.replicate(aw))),
            arr.wr_en.eq(acc_u.array.wr_en | fire_u.array.wr_en | row_wr),
            arr.wr_addr.eq(acc_u.array.wr_addr | fire_u.array.wr_addr |
                           (self.row.addr & row_wr.replicate(aw))),
            arr.wr_data.eq(acc_u.array.wr_data | fire_u.array.wr_data |
                           (self.row.wdata & row_wr.replicate(cols))),
            arr.wr_mask.eq(acc_u.array.wr_mask | fire_u.array.wr_mask |
                           (self.row.wmask & row_wr.replicate(cols))),
            acc_u.array.rd_data.eq(arr.rd_data),
            fire_u.array.rd_data.eq(arr.rd_data),
            self.row.rdata.eq(arr.rd_data[P * cols:]),
        ]
        m.d.sync += self.row.rvalid.eq(row_rd)

        m.d.sync += [self.acc.done.eq(0), self.acc.error.eq(0),
                     self.fire.done.eq(0), self.fire.error.eq(0)]
        with m.FSM(name="seq"):
            with m.State("IDLE"):
                m.d.comb += [idle.eq(1), self.row.ready.eq(1), self.acc.ready.eq(1),
                             self.fire.ready.eq(~self.acc.valid)]
                with m.If(self.acc.valid):
                    m.d.comb += acc_u.start.eq(1)
                    m.next = "ACC"
                with m.Elif(self.fire.valid):
                    m.d.comb += fire_u.start.eq(1)
                    m.next = "FIRE"
            with m.State("ACC"):
                m.d.comb += self.busy.eq(1)
                with m.If(acc_u.done):
                    m.d.sync += [self.acc.done.eq(1), self.acc.error.eq(acc_u.error)]
                    m.next = "IDLE"
            with m.State("FIRE"):
                m.d.comb += self.busy.eq(1)
                with m.If(fire_u.done):
                    m.d.sync += [self.fire.done.eq(1), self.fire.error.eq(fire_u.error)]
                    m.next = "IDLE"
        return m
