"""Write the shell completions and the man page of this checkout from its command line.

    python scripts/generate_cli_docs.py           # (re)write completions/ and man/samplemind.1
    python scripts/generate_cli_docs.py --check   # exit 1 and name the files that are out of date

The text comes from samplemind/clidocs.py, which `samplemind completion SHELL` and `samplemind man`
print too: the committed copies and an installed samplemind's never differ.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(ROOT))

from samplemind.clidocs import REGENERATE, outdated, write_all  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with --check report the stale ones (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = outdated(ROOT)
        for relative in stale:
            print(f"out of date: {relative}", file=sys.stderr)
        if stale:
            print(f"run: {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(ROOT):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
