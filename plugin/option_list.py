"""Every quantload option, with its help, environment variable and default.

``locust -f locustfile.py --help`` cannot list them: Locust 2.47 prints its help
before it imports the locustfile (``locust.argument_parser.parse_locustfile_option``
calls ``get_parser().parse_args`` as soon as it sees ``-h``), so the locustfile's
``init_command_line_parser`` listeners never run. This command registers the
suite's options (``plugin.options.add_options``, the very function the locustfile
uses) on a parser of Locust's own kind and lists what was added::

    python -m plugin.option_list            # a table
    python -m plugin.option_list --markdown # the same as a Markdown table

Imports Locust (to make its parser): run it as a program, never import it from a
module that must stay free of Locust.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from locust.argument_parser import get_empty_argument_parser

from plugin.options import add_options


@dataclass(frozen=True)
class OptionDoc:
    """One option as a user needs it: flag(s), environment variable, default, help."""

    flags: str
    env_var: str
    default: str
    help: str


def option_docs() -> list[OptionDoc]:
    """The options ``add_options`` registers, in registration order."""
    parser = get_empty_argument_parser(add_help=False)
    before = set(map(id, parser._actions))
    add_options(parser)
    docs = []
    for action in parser._actions:
        if id(action) in before:
            continue
        default = action.default
        if getattr(action, "is_secret", False) and default:
            default = "(secret)"
        docs.append(
            OptionDoc(
                ", ".join(action.option_strings),
                getattr(action, "env_var", None) or "",
                "" if default in (None, "", argparse.SUPPRESS) else str(default),
                " ".join(str(action.help or "").split()),
            )
        )
    return docs


def render(docs: Sequence[OptionDoc], markdown: bool = False) -> str:
    """A plain table (or a Markdown one) of ``docs``."""
    if markdown:
        lines = ["| option | env | default | meaning |", "|---|---|---|---|"]
        lines += [
            f"| `{d.flags}` | {f'`{d.env_var}`' if d.env_var else ''} | {d.default} | {d.help} |"
            for d in docs
        ]
        return "\n".join(lines)
    lines = []
    for d in docs:
        extra = ", ".join(
            part
            for part in (d.env_var and f"env {d.env_var}", d.default and f"default {d.default}")
            if part
        )
        lines.append(f"{d.flags}" + (f"  ({extra})" if extra else ""))
        lines.append(f"    {d.help}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    cli = argparse.ArgumentParser(
        prog="python -m plugin.option_list", description="List every quantload option."
    )
    cli.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = cli.parse_args(argv)
    print(f"quantload options (beside Locust's own, `locust --help`); {len(option_docs())} in all")
    print(render(option_docs(), markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
