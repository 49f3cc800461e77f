"""The ``edgeslim`` command line: a thin layer over the Python API (``parser`` → ``commands`` → ``render``).

User mistakes print one line, never a traceback.
"""

from __future__ import annotations

import sys

from edgeslim.errors import EdgeslimError

HOST_MODULES = {"torch", "executorch", "litert_torch", "coremltools", "sklearn", "matplotlib", "mlxtend", "torchao"}


def main(argv: list[str] | None = None) -> int:
    from edgeslim.cli.commands import COMMANDS
    from edgeslim.cli.parser import build_parser

    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # a bare `edgeslim`: what can it do?
        parser.print_help(sys.stderr)
        return 2
    args, extra = parser.parse_known_args(argv)
    if extra:  # let the subcommand's parser, which knows its options, suggest the closest one
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return COMMANDS[args.command](args)
    except EdgeslimError as exc:
        print(f"edgeslim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in HOST_MODULES:  # a host command on the torch-free device install
            print(f"edgeslim {args.command}: error: needs {exc.name.split('.')[0]}, which the device install "
                  f"lacks; run it on the host (pip install \"edgeslim[host]\")", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"edgeslim {args.command}: interrupted", file=sys.stderr)
        return 130


__all__ = ["main"]
