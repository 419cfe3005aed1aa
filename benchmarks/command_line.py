"""The command line of a benchmark that takes only plain ``--name value`` options and flags.

Imported as a sibling module (``from command_line import ...``): the benchmarks run as scripts, with
this folder first on ``sys.path``.
"""

from __future__ import annotations

import argparse


def parse_options(doc: str, argv: list[str] | None = None, **defaults: object) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``) against one option per keyword of ``defaults``, in order.

    A keyword ``ref_sample=2000`` is the option ``--ref-sample`` (attribute ``ref_sample``) with that
    default; the default's type is the option's type (an int default takes ints, a str default takes the
    text as given), and ``False`` makes a flag (``store_true``).  The help's description is the first
    line of ``doc``.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in defaults.items():
        flag = "--" + name.replace("_", "-")
        if default is False:
            parser.add_argument(flag, action="store_true")
        elif isinstance(default, str):
            parser.add_argument(flag, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    return parser.parse_args(argv)
