"""The driver of the external devices (the DEVICE register block), for interrupt-thread handlers.

Every access is a bus cycle of the core the calling thread runs on (and an
interrupt boundary), like any other register access of the kernel.
"""

from __future__ import annotations

from hdl import memory_map as mm

__all__ = ["device_take"]

_STATUS_REQUEST = mm.DEVICE.register("STATUS").field("REQUEST").mask
_STATUS_OVERRUN = mm.DEVICE.register("STATUS").field("OVERRUN").mask
_ACK_REQUEST = mm.DEVICE.register("ACK").field("REQUEST").mask
_ACK_OVERRUN = mm.DEVICE.register("ACK").field("OVERRUN").mask


async def device_take(k, line: int) -> int | None:
    """Take the pending request of device ``line``: its data word, acknowledged (the line drops).

    None when no request is pending (a spurious interrupt). An OVERRUN seen in
    STATUS is cleared with the same ACK write (the lost requests' data is gone).
    ``k`` is the kernel of the CPU the caller runs on.
    """
    status = await k.cpu.read(mm.DEVICE.addr("STATUS", index=line))
    if not status & _STATUS_REQUEST:
        return None
    data = await k.cpu.read(mm.DEVICE.addr("DATA", index=line))
    ack = _ACK_REQUEST | (_ACK_OVERRUN if status & _STATUS_OVERRUN else 0)
    await k.cpu.write(mm.DEVICE.addr("ACK", index=line), ack)
    return data
