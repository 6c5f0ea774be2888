"""The fastnst web app as a script: ``python demo/app.py [flags]`` is ``fastnst demo [flags]``.

The app itself is :mod:`fastnst.webapp`; this file only hands the command line to it.
"""

import sys

from fastnst.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
