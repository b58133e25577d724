"""``python -m transhades`` and the ``transhades`` script: the command line, with a stop asked for while it loads
remembered (see :mod:`transhades.app.early`)."""

import sys

from transhades.app import early


def main() -> int:
    early.guard(sys.argv)  # before the command line's modules load
    from transhades.app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
