"""Formal harness for hdl/device.py: the external devices' registers and their irq lines.

The devices sit behind SharedBus (one granted access per cycle). ``post`` and ``post_data``
are free every cycle: in the SoC they are the testbench's dev_post/dev_data pins, so any
pattern of posts, on any lines, back to back or together with an ACK, is possible.

Each line's state (REQUEST, OVERRUN, DATA, POSTED, SERVICED) is readable, so every property
is an exact one-cycle next-state rule of one line and k-induction closes without extra
invariants. REQUEST is the block's ``irq`` output itself; the properties are stated on
``irq[k]`` and "reads" shows STATUS.REQUEST is that same bit.
"""

from amaranth.hdl import Fragment, Mux

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.device import ExternalDevices

from .harness import Harness, internal

__all__ = ["DeviceHarness"]


class DeviceHarness(Harness):
    NAME = "device"
    TITLE = "the external devices (hdl/device.py): post, STATUS/DATA/ACK/POSTED/SERVICED, irq lines"
    PROPERTIES = {
        "reads": "STATUS[k] (REQUEST = irq line k, OVERRUN), DATA[k], POSTED[k] and SERVICED[k] read the "
        "state of device k; every access completes in its cycle",
        "reset": "out of reset every device is idle: no REQUEST (irq low), no OVERRUN, DATA and counters 0",
        "request": "REQUEST[k] (irq line k) is set by a post on line k and cleared by an ACK[k] write with bit 0 "
        "set, a post winning over an ACK in the same cycle; nothing else changes it",
        "data": "DATA[k] takes the posted word when a post finds no request pending or comes with an ACK[k] "
        "(bit 0); otherwise, overrunning posts included, it is kept",
        "overrun": "OVERRUN[k] is set by a post that finds a request pending and no ACK[k] (bit 0); an ACK[k] "
        "write with bit 1 clears it unless such a post comes in the same cycle; nothing else changes it",
        "posted": "POSTED[k] counts every post on line k (32-bit, wrapping)",
        "serviced": "SERVICED[k] counts the ACK[k] writes with bit 0 set that found REQUEST set (32-bit, wrapping)",
    }
    SIZES = ({"ext_lines": 1}, {"ext_lines": 2}, {"ext_lines": 4})
    QUICK = ({"ext_lines": 4},)
    DEPTH = 4  # covers: post, overrunning post, ACK write clearing OVERRUN, its effect
    MUTANTS = ("device-ack-ignored",)

    def build(self, m, platform):
        e = self.params["ext_lines"]
        self.win = next(w for w in mm.windows(SocConfig(ext_lines=e), 0) if w.block is mm.DEVICE)
        dut = ExternalDevices(e, self.win.span_log2, mutant=self.mutant)
        bus = dut.bus
        req, we, addr, wdata = self.drive_bus(m, bus)
        post, post_data = self.input(e, "post"), self.input(32, "post_data")
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        m.d.comb += [dut.post.eq(post), dut.post_data.eq(post_data)]

        # SharedBus passes only what the port decoders let through: legal accesses.
        self.assume_legal(m, self.win, req, we, addr)

        w = mm.DEVICE.word
        status = mm.DEVICE.register("STATUS")
        ack_reg = mm.DEVICE.register("ACK")
        ack_req_bit, ack_ovr_bit = ack_reg.field("REQUEST").lsb, ack_reg.field("OVERRUN").lsb
        past = self.past_valid
        p_req, p_we = self.past(m, req, "req"), self.past(m, we, "we")
        p_addr, p_wdata = self.past(m, addr, "addr"), self.past(m, wdata, "wdata")
        p_post, p_post_data = self.past(m, post, "post"), self.past(m, post_data, "post_data")
        self.check(m, "reads", bus.gnt == bus.req)

        for k in range(e):
            irq = dut.irq[k]
            overrun, data = internal(frag, f"overrun{k}"), internal(frag, f"data{k}")
            posted, serviced = internal(frag, f"posted{k}"), internal(frag, f"serviced{k}")
            p_irq, p_overrun = self.past(m, irq, f"irq{k}"), self.past(m, overrun, f"overrun{k}")
            p_data = self.past(m, data, f"data{k}")
            p_posted, p_serviced = self.past(m, posted, f"posted{k}"), self.past(m, serviced, f"serviced{k}")
            ack_write = p_req & p_we & (p_addr == w("ACK") + k)
            ack = ack_write & p_wdata[ack_req_bit]
            clear = ack_write & p_wdata[ack_ovr_bit]
            posted_k = p_post[k]
            captured = posted_k & (~p_irq | ack)  # this post becomes the pending request
            overran = posted_k & p_irq & ~ack  # this post finds one pending and is dropped

            with m.If(~past):
                self.check(m, "reset", ~irq & ~overrun & (data == 0) & (posted == 0) & (serviced == 0))
            with m.If(past):
                self.check(m, "request", irq == (posted_k | (p_irq & ~ack)))
                self.check(m, "data", data == Mux(captured, p_post_data, p_data))
                with m.If(overran):
                    self.check(m, "overrun", overrun)
                with m.Elif(clear):
                    self.check(m, "overrun", ~overrun)
                with m.Else():
                    self.check(m, "overrun", overrun == p_overrun)
                self.check(m, "posted", posted == (p_posted + posted_k)[:32])
                self.check(m, "serviced", serviced == (p_serviced + (ack & p_irq))[:32])

            with m.If(req & ~we):
                st = (irq.as_unsigned() << status.field("REQUEST").lsb) | (
                    overrun.as_unsigned() << status.field("OVERRUN").lsb
                )
                for word, value in (
                    (w("STATUS") + k, st),
                    (w("DATA") + k, data),
                    (w("POSTED") + k, posted),
                    (w("SERVICED") + k, serviced),
                ):
                    with m.If(addr == word):
                        self.check(m, "reads", bus.rdata == value)

        # Non-vacuity, on the last line (the others are the same logic).
        k = e - 1
        irq, overrun = dut.irq[k], internal(frag, f"overrun{k}")
        p_irq = self.past(m, irq, "cov_irq")
        p_overrun = self.past(m, overrun, "cov_overrun")
        ack_write = p_req & p_we & (p_addr == w("ACK") + k)
        ack = ack_write & p_wdata[ack_req_bit]
        self.cover(m, past & p_post[k] & ~p_irq & irq, f"a post raises irq {k}")
        self.cover(m, past & ack & ~p_post[k] & p_irq & ~irq, f"an ACK lowers irq {k}")
        self.cover(m, past & ack & p_post[k] & p_irq & irq, f"a post in the cycle of an ACK keeps irq {k} high")
        self.cover(m, past & p_post[k] & p_irq & ~ack & overrun & ~p_overrun, f"an overrun on line {k}")
        self.cover(m, past & ack_write & p_wdata[ack_ovr_bit] & p_overrun & ~overrun, f"OVERRUN {k} cleared")
        self.cover(m, req & ~we & (addr == w("DATA") + k) & (bus.rdata != 0), f"DATA[{k}] read non-zero")
        self.cover(m, req & ~we & (addr == w("SERVICED") + k) & (bus.rdata == 1), f"SERVICED[{k}] counts an ACK")
