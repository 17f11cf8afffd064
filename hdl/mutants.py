"""Hardware mutants: one small planted bug each, for mutation testing of the verification suite.

``SocConfig(mutant=name)`` elaborates the SoC with the bug named here; the
default ``""`` is the correct design. Each mutant breaks one rule of the
register contract (hdl/memory_map.py, docs/registers.md) and lives in the
block it names, guarded by ``if mutant == "name":`` at elaboration.

Pure Python, like hdl/config.py.
"""

from __future__ import annotations

__all__ = ["HW_MUTANTS", "MUTANT_ENV"]

#: Environment variable that makes tests/hdl build every SoC with the mutant it names.
MUTANT_ENV = "LWKT_HW_MUTANT"

#: name -> the bug it plants, in one line.
HW_MUTANTS: dict[str, str] = {
    "mplock-two-winners": "MPLOCK TRY ignores owner bit 0: CPUs 2k and 2k+1 both win a held lock",
    "mplock-release-any": "MPLOCK RELEASE from a non-owner frees the lock (no ERR.NONOWNER)",
    "mplock-err-clear-any": "MPLOCK ERR is cleared by any write, not only by writing 1 to the bit",
    "fifo-drop-last": "an IPI FIFO silently drops a push when it holds depth-1 entries",
    "fifo-roe-not-sticky": "IPI RX_STATUS.ROE clears itself on the next cycle",
    "fifo-wof-never": "IPI TX_STATUS.WOF never sets on a push to a full FIFO",
    "ipi-pending-transposed": "RX_PENDING of CPU d shows FIFO[d][s] (what d sent) instead of FIFO[s][d]",
    "ipi-send-data-shared": "IPI send rows written in the same cycle by several CPUs all take the lowest "
    "writer's {windex, func}",
    "ipi-valid-kept-on-reset": "the IPI rows' valid bits are not reset: after a reset the FIFOs show their old indices",
    "fifo-roe-mirrored": "an RX_POP of an empty FIFO[s][c] also sets ROE of FIFO[c][s], CPU s's flag",
    "claim-no-inservice": "INTC CLAIM does not mark the claimed source in service",
    "intc-prio-inverted": "INTC CLAIM picks the lowest non-zero priority instead of the highest",
    "intc-complete-low-bits": "INTC COMPLETE matches only the low 5 bits of the written source id",
    "decoder-accepts-unmapped": "an address outside every block window is acked (reads 0) instead of err",
    "arbiter-starve": "the round-robin arbiter always grants the lowest requesting CPU",
    "timer-no-rearm": "a periodic timer does not advance COMPARE by PERIOD when it fires",
    "timer-ack-beats-fire": "an ACK written in the cycle the timer fires loses that firing",
    "ram-write-top-bit": "a RAM write ignores the top address bit (upper half aliases the lower)",
    "device-ack-ignored": "DEVICE ACK does not clear REQUEST (the line stays high)",
    "route-wrong-cpu": "ROUTE delivers line k to CPU (ROUTE[k] + 1) % NCPU",
    "sys-cycle-hi-live": "SYS CYCLE_HI reads the live counter instead of the word latched by CYCLE_LO",
    "soc-period-crosstalk": "when CPUs i and i+1 write TIMER PERIOD in the same cycle, CPU i+1's timer takes "
    "CPU i's word",
}
