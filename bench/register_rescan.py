"""Time the register detector again on kept files against a kept register
(``python -m bench.register_rescan REGISTER FILE... [--runs N]``): what
``bench.register_programme --keep DIR`` measured once, repeated on a quiet machine.

Each file is scanned ``--runs`` times by the register detector alone, the register opened
once beforehand (as a worker does), and the best time is reported as x real time of the
file's duration (a still's, in milliseconds, and the median over the stills given). For
example, the 10,000-entry register of other clips that
``bench.register_programme --encodes 3 --pad 10000 --delivery --keep DIR`` leaves in
``DIR/base25000/prog25000.db``, and the encodes in ``DIR/delivery25000``."""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import median

from bench.register_programme import scan
from detectors.fingerprint import video as video_fp

STILLS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("register", type=Path)
    ap.add_argument("files", type=Path, nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    stills: list[float] = []
    for path in args.files:
        times = []
        found: list[dict[str, object]] = []
        for _ in range(args.runs):
            found, took = scan(args.register, path)
            times.append(took)
        if path.suffix.lower() in STILLS:
            stills.append(min(times))
            print(f"{path.name}: {len(found)} findings; "
                  f"{' '.join(f'{t * 1000:.0f}' for t in times)} ms", flush=True)
            continue
        seconds = video_fp.info(str(path)).duration
        print(f"{path.name}: {seconds:.0f} s, {len(found)} findings; "
              f"{' '.join(f'{t:.2f}' for t in times)} s; best {seconds / min(times):.1f}x "
              f"real time", flush=True)
    if stills:
        print(f"{len(stills)} stills: median of the best times {median(stills) * 1000:.0f} ms, "
              f"slowest {max(stills) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
