"""``python -m fastdl.textbook SCRIPT [ARG ...]``: run a script written for the textbook's
``common/`` package on fastdl.textbook, without editing it.

Calls :func:`fastdl.textbook.install` (``common.layers``, ``.util``, ``.optimizer``,
``.functions``, ``.gradient`` become fastdl's), then runs SCRIPT as ``__main__`` with ``sys.argv``
and ``sys.path[0]`` set as ``python SCRIPT [ARG ...]`` would set them.
"""

import os
import runpy
import sys

from ._install import install


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv else 2
    script = argv[0]
    if not os.path.isfile(script):
        print(f"python -m fastdl.textbook: no such script: {script}", file=sys.stderr)
        return 2
    install()
    sys.argv = argv
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
