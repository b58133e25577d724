"""``python -m transhades`` and the ``transhades`` script: the command line, with a stop asked for while it loads
remembered (see :mod:`transhades.app.early`)."""

import sys

from transhades.app import early


def main() -> int:
    early.guard(sys.argv)  # before the command line's modules load
    from transhades.app.cli import main as cli_main

    return early.leave(cli_main())  # a child still running native threads: leave now, with our own code


if __name__ == "__main__":
    sys.exit(main())
