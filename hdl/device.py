"""DEVICE: the register block of the external devices, one per external line."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import RegisterSignature, pack_fields, prefix_member_names
from .probe import private, public

__all__ = ["ExternalDevices"]


class ExternalDevices(wiring.Component):
    """The devices behind the external lines, behind the shared-bus arbiter.

    The testbench plays the devices: a one-cycle strobe on ``post`` bit k posts
    a request on line k with ``post_data`` as its data word. Per line:

    * a post while no request is pending (or in the same cycle as an ACK of the
      pending one) sets REQUEST and captures the data word;
    * a post while a request stays pending sets OVERRUN and keeps the old data;
    * every post counts in POSTED; an ACK that finds REQUEST set counts in
      SERVICED (also when a post in the same cycle sets it again).

    Attributes
    ----------
    bus : In(RegisterSignature)
    post : In(ext_lines)      one-cycle strobe per line: a device posts a request
    post_data : In(32)        data word of every request posted in that cycle
    irq : Out(ext_lines)      REQUEST of each line (the device's interrupt line)
    mutant : str              a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (
        public("irq", "the REQUEST bits the testbench's device model watches (sim/tb/scenarios/base.py)"),
        public("posted{k}", "the device model's per-line counts (sim/tb/scenarios/base.py); formal: POSTED"),
        public("serviced{k}", "as posted{k}: SERVICED"),
        private("overrun{k}", "formal: OVERRUN"),
        private("data{k}", "formal: DATA"),
    )

    def __init__(self, ext_lines: int, addr_width: int, *, mutant: str = ""):
        self.ext_lines, self.mutant = ext_lines, mutant
        width = max(ext_lines, 1)
        super().__init__(
            {
                "bus": In(RegisterSignature(addr_width)),
                "post": In(width),
                "post_data": In(32),
                "irq": Out(width),
            }
        )
        # irq keeps its plain name: the testbench reads the REQUEST bits there (device.irq).
        prefix_member_names(self, "device", keep=("irq",))

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        w = mm.DEVICE.word
        status_reg = mm.DEVICE.register("STATUS")
        ack_reg = mm.DEVICE.register("ACK")
        ack_request_bit = ack_reg.field("REQUEST").lsb
        ack_overrun_bit = ack_reg.field("OVERRUN").lsb
        m.d.comb += bus.gnt.eq(bus.req)
        write = bus.req & bus.we

        readable = {}
        for k in range(self.ext_lines):
            # REQUEST is irq itself, a register: one vector the testbench reads (device.irq).
            request = self.irq[k]
            overrun = Signal(name=f"overrun{k}")
            data = Signal(32, name=f"data{k}")
            posted = Signal(32, name=f"posted{k}")
            serviced = Signal(32, name=f"serviced{k}")
            ack_write = Signal(name=f"ack_write{k}")
            ack = Signal(name=f"ack{k}")
            post = Signal(name=f"post{k}")

            m.d.comb += [
                ack_write.eq(write & (bus.addr == w("ACK") + k)),
                ack.eq(ack_write & bus.wdata[ack_request_bit]),
                post.eq(self.post[k]),
            ]
            with m.If(post):
                m.d.sync += posted.eq(posted + 1)
                with m.If(~request | ack):
                    # Nothing pending once the ACK takes effect: this request becomes the pending one.
                    m.d.sync += [request.eq(1), data.eq(self.post_data)]
                with m.Else():
                    m.d.sync += overrun.eq(1)
            with m.Elif(ack):
                # Bug "device-ack-ignored": the ACK is counted but REQUEST stays set.
                if self.mutant != "device-ack-ignored":
                    m.d.sync += request.eq(0)
            with m.If(ack & request):
                m.d.sync += serviced.eq(serviced + 1)
            with m.If(ack_write & bus.wdata[ack_overrun_bit] & ~(post & request & ~ack)):
                m.d.sync += overrun.eq(0)

            readable[w("STATUS") + k] = pack_fields(status_reg, {"REQUEST": request, "OVERRUN": overrun})
            readable[w("DATA") + k] = data
            readable[w("POSTED") + k] = posted
            readable[w("SERVICED") + k] = serviced

        with m.Switch(bus.addr):
            for word, value in readable.items():
                with m.Case(word):
                    m.d.comb += bus.rdata.eq(value)
        return m
