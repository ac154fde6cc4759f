"""``python -m crm_tools.generator LANDING TRUTH --scale S --seed 1 --start 2025-01-01 --days 365``"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from . import SCALES, generate


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m crm_tools.generator", description=__doc__)
    parser.add_argument("landing", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("--scale", choices=list(SCALES), default="XS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cadence", choices=["monthly", "daily"], default="monthly")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = generate(
        args.landing, args.truth, scale=args.scale, seed=args.seed,
        start_date=args.start, days=args.days, cadence=args.cadence,
    )  # fmt: skip
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


if __name__ == "__main__":
    main()
