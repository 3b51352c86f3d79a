"""Subcommands of ``fermi-isoc``: each module has ``add_parser(subparsers)`` and ``run(args) -> int``."""
