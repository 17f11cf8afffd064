"""An interactive SMT-LIB 2 shell over the bitwuzla wheel, for yosys-smtbmc ``-s bitwuzla``.

The PyPI package ``bitwuzla`` ships the solver as Python bindings, not as the command
yosys-smtbmc starts. This reads commands from standard input one balanced s-expression
at a time and hands each to bitwuzla's own SMT-LIB parser, which answers on standard
output, so yosys-smtbmc can drive it incrementally. ``--help`` mentions ``--lang``, which
tells yosys-smtbmc to call it the way it calls bitwuzla 0.3 and later.
"""

from __future__ import annotations

import sys

__all__ = ["commands", "main"]


def commands(stream):
    """Yield each complete top-level s-expression of ``stream`` (strings, |symbols| and
    ; comments respected)."""
    buf, depth, state = [], 0, None  # state: None, '"' in a string, '|' in a quoted symbol
    for line in stream:
        i = 0
        while i < len(line):
            c = line[i]
            if state:
                buf.append(c)
                if c == state:
                    state = None
            elif c == ";":  # a comment to the end of the line: keep the line break
                if depth:
                    buf.append("\n")
                break
            elif c in '"|':
                state = c
                buf.append(c)
            elif c == "(":
                depth += 1
                buf.append(c)
            elif c == ")":
                depth -= 1
                buf.append(c)
                if depth == 0:
                    yield "".join(buf).strip()
                    buf = []
            elif depth or not c.isspace():
                buf.append(c)
            i += 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--help" in argv:
        print("usage: bitwuzla --lang smt2   (an SMT-LIB 2 shell over the bitwuzla Python wheel)")
        return 0
    import bitwuzla

    options = bitwuzla.Options()
    options.set(bitwuzla.Option.PRODUCE_MODELS, True)
    parser = bitwuzla.Parser(bitwuzla.TermManager(), options, "smt2", 2)
    for command in commands(sys.stdin):
        if command.replace(" ", "") == "(exit)":
            break
        try:
            parser.parse(command, False, False)
        except bitwuzla.BitwuzlaException as exc:
            print(f'(error "{str(exc).strip()}")', flush=True)
            return 1
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
