"""``python -m transhades`` and the ``transhades`` script: the command line, with a stop asked for while it loads
remembered (see :mod:`transhades.app.early`)."""

import sys

from transhades.app import early


def main() -> int:
    early.guard(sys.argv)  # before the command line's modules load
    from transhades.app.cli import main as cli_main

    code = cli_main()
    tree = sys.modules.get("transhades.app.tree")
    if tree is not None and tree.ABANDONED:  # a child still runs native threads: leave now, with our own code
        import os

        print(f"stopped without waiting for {', '.join(tree.ABANDONED)}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
