"""``liqwatch`` command line: the composition root.

This is the only module that names concrete sources and adapters; everything else talks
to ports (:class:`bot.market.port.MarketSource`) and neutral replies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _check_config(args: argparse.Namespace) -> int:
    from bot.config import check_config

    path = Path(args.path)
    problems = check_config(path)
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(f"{path}: OK")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(out_dir=Path(args.out), scenario=args.scenario, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqwatch",
        description="Estimated liquidation heatmaps, clusters, imbalance and squeeze cascades "
        "for crypto perpetuals, served in Telegram and Discord.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline offline on the synthetic market and write charts and text",
    )
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument("--scenario", default="seed", help="synthetic scenario (default: seed)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    demo.set_defaults(func=_demo)

    check = sub.add_parser("check-config", help="validate a config file and list every problem")
    check.add_argument("path", help="path to a liqwatch TOML config")
    check.set_defaults(func=_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
