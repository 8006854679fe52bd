"""``python -m vae_helpers.data [names...]``: report where each dataset is found, going on after a failure.

The exit status is 1 when a required dataset is missing, corrupt or fails to load; under ``CI=true`` all are required."""

from __future__ import annotations

import argparse
import warnings

from ..config import in_ci
from ..errors import CorruptDataError, DataNotFoundError, IncompleteCelebAWarning
from .containers import DATASET_NAMES
from .sources import load_dataset


def main(argv: list[str] | None = None) -> int:
    """``python -m vae_helpers.data [names...]``: report where each dataset is found (exit 1 if one is missing)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("names", nargs="*", default=list(DATASET_NAMES))
    parser.add_argument("--optional", nargs="*", default=["celeba"], help="datasets whose absence is only reported")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names:
        optional = name in args.optional and not in_ci()
        try:
            kwargs = {"max_per_split": 1} if name == "celeba" else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", IncompleteCelebAWarning)
                data = load_dataset(name, **kwargs)
            print(f"[ok] {name}: {data.source}" + (f"\n     {data.note}" if data.note else ""), flush=True)
            continue
        except DataNotFoundError as err:
            print(f"[{'missing, optional' if optional else 'MISSING'}] {err}", flush=True)
        except CorruptDataError as err:
            print(f"[{'corrupt, optional' if optional else 'CORRUPT'}] {name}: {err}", flush=True)
        except Exception as err:  # anything else (a permission error, a bug): report it and go on with the rest
            optional = False
            print(f"[ERROR] {name}: {type(err).__name__}: {err}", flush=True)
        status = status if optional else 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
