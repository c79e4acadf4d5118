"""Summarise a py-spy profile (collapsed stacks, `py-spy record --format raw`) as the functions with the most
inclusive and self time:  python -m bench.profile FILE [--only SUBSTRING] [--top N]

--only keeps the stacks that pass through a frame containing SUBSTRING (e.g. a function name), so that the
percentages are of that code path's time.
"""

import argparse
from collections import Counter

SITE_PACKAGES = "site-packages/"


def frame_name(frame: str) -> str:
    """Return "function (module path)" for a py-spy frame "function (path:line)"."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    if SITE_PACKAGES in path:
        path = path.split(SITE_PACKAGES, 1)[1]
    return f"{function} ({path.rsplit('/bench/', 1)[-1] if '/bench/' in path else path})"


def summarise(path: str, only: str | None = None) -> tuple[int, Counter, Counter]:
    """Return (total samples, inclusive samples per function, self samples per function)."""
    inclusive, own = Counter(), Counter()
    total = 0
    with open(path) as stacks:
        for line in stacks:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or (only and only not in stack):
                continue
            samples = int(count)
            total += samples
            names = [frame_name(frame) for frame in stack.split(";")]
            for name in set(names):
                inclusive[name] += samples
            own[names[-1]] += samples
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.profile")
    parser.add_argument("file")
    parser.add_argument("--only")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    total, inclusive, own = summarise(args.file, args.only)
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"--- {title}")
        for name, samples in counter.most_common(args.top):
            print(f"{100 * samples / max(total, 1):5.1f}%  {name}")


if __name__ == "__main__":
    main()
