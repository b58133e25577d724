"""``python supervisor.py [--config PATH] [--role all|front|worker] [-v]``: the Procfile's entry point. It reads
``config.yaml`` and runs the supervision tree (``transhades/app/tree.py``: every actor as a child spec, started
under the one_for_one supervisor of ``actors/supervisor.py`` with the restart policy from the config) until SIGTERM,
exactly as ``transhades run`` does.

This file is a script, not an installed module: the installed package imports nothing named ``supervisor``, so
supervisord (PyPI's ``supervisor``) can live in the same environment.
"""

import sys

from transhades.app import early

if __name__ == "__main__":
    early.guard(sys.argv, service=True)  # a SIGTERM while the tree's modules load is a clean stop, exit 0
    from transhades.app.tree import main

    sys.exit(early.leave(main()))
