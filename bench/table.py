"""Turn a pytest-benchmark JSON file into the Markdown tables of bench/README.md.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_train.py --benchmark-only \\
        --benchmark-json=train.json
    python bench/table.py train.json [--peer torch]

One table row per benchmark group, one column per contender (the last parametrize id of the
test, e.g. ``auto``, ``numpy``, ``torch``, ``fit``), each cell the median in milliseconds; a last
column gives every fastdl contender's median over the peer's (``auto/torch`` ...) when the group
has the peer.
"""

import argparse
import json
import re
import sys


def _contender(bench):
    """The contender of one benchmark: its ``extra_info["contender"]``, its ``contender``/``how``
    parameter, else the last id."""
    named = (bench.get("extra_info") or {}).get("contender")
    if named:
        return str(named)
    params = bench.get("params") or {}
    for key in ("contender", "how"):
        if key in params:
            return str(params[key])
    return re.split(r"[\[\]-]", bench["name"])[-2]


def tables(data, peer="torch"):
    """Markdown lines for the benchmarks of one pytest-benchmark JSON document."""
    groups = {}
    for bench in data["benchmarks"]:
        cells = groups.setdefault(bench["group"] or bench["name"], {})
        cells[_contender(bench)] = bench["stats"]["median"] * 1e3  # ms
    columns = []
    for cells in groups.values():
        columns += [c for c in cells if c not in columns]
    ratio = peer in columns
    head = ["group", *columns] + ([f"x/{peer}"] if ratio else [])
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for group, cells in groups.items():
        row = [group] + [f"{cells[c]:.3g}" if c in cells else "-" for c in columns]
        if ratio:
            base = cells.get(peer)
            shown = [
                f"{c} {cells[c] / base:.2f}"
                for c in columns
                if c != peer and c in cells and base is not None
            ]
            row.append(", ".join(shown) if base is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="file written by --benchmark-json")
    parser.add_argument("--peer", default="torch", help="contender the ratios divide by")
    args = parser.parse_args(argv)
    with open(args.json) as fh:
        data = json.load(fh)
    machine = data.get("machine_info", {})
    print(f"<!-- {machine.get('cpu', {}).get('brand_raw', '?')}, {data.get('datetime', '?')} -->")
    print("\n".join(tables(data, args.peer)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
