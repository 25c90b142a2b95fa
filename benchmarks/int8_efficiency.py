"""How much work per millisecond each family's int8 model gets done on this CPU, before and after
the export's rewrite passes, against MobileNetV2-1.0's.

    python benchmarks/int8_efficiency.py [--models NAME ...] [--threads 1] [--runs 50] [--rounds 3]
        [--out docs/benchmarks.md] [--results benchmarks/results/int8_efficiency.json]

Each family's representative model (``MODELS``; random weights, PReLUs with random per-channel
slopes as trained ones have, 1000 classes, at its default input: 224x224, MobileFaceNet 112x112)
is converted to full-integer int8 twice by ``lite_tf.deploy.convert``, without the passes and with
them (once when no pass changes it), calibrated on the same random images, and timed by the host
benchmark (ai_edge_litert + XNNPACK, a fresh process per measurement) in rounds that alternate over
every file; a file's latency is the median of its rounds' p50. GMAC/s = MACs (``lite-tf profile``)
/ 1-thread p50. Prints the table, writes every row to ``--results`` and the table into ``--out``
(its ``int8_efficiency`` section).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile

import numpy as np

from lite_tf import files
from lite_tf.deploy import litert, passes
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.benchmark.results import device
from lite_tf.deploy.convert import convert
from lite_tf.models import create_model, get_entry
from lite_tf.models.profile import profile_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = "mobilenet_v2_100"
MODELS = ["mobilenet_v1_100", BASELINE, "mobilenet_v3_large_100", "mobilenet_v4_conv_small",
          "mobilenext_100", "shufflenet_v1_g3_100", "shufflenet_v1_g8_100", "shufflenet_v2_100",
          "squeezenet_11", "snet_146", "mobilefacenet", "efficientnet_lite0", "ghostnet_100",
          "mnasnet_100"]
BAR = 0.8  # the issue's bar: >= 0.8x MobileNetV2-1.0's GMAC/s


def _write(model, path: str, calibration, skip) -> list[str]:
    content = convert(model, "int8", lambda: iter(calibration), skip_passes=skip)
    with open(path, "wb") as f:
        f.write(content)
    return sorted(set(litert.ops_and_outside_xnnpack(content)[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS, metavar="NAME",
                        help=f"registered models (default: one per family; {BASELINE} is always timed)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50, help="timed invocations per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per file")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "int8_efficiency.json"))
    args = parser.parse_args(argv)
    names = list(dict.fromkeys([BASELINE, *args.models]))
    for name in names:
        get_entry(name)  # an unknown name fails before any work
    for path in (args.out, args.results):
        files.writable_dir(os.path.dirname(os.path.abspath(path)), "the output folder")
    rows, paths = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            model = passes.spread_prelu_slopes(create_model(name))
            shape = model.input_shape[1:]
            calibration = np.random.default_rng(0).uniform(-1, 1, (16, 1, *shape)).astype("float32")
            _, applied = passes.apply(model, "int8")
            row = rows[name] = {"model": name, "input": shape[0], "macs": profile_model(model)["macs"],
                                "passes": applied}
            for when, skip in (("before", list(passes.PASSES)), ("after", [])):
                if when == "after" and not applied:
                    row["outside_xnnpack_after"] = row["outside_xnnpack_before"]
                    continue
                paths[(name, when)] = os.path.join(tmp, f"{i}_{when}.tflite")
                row[f"outside_xnnpack_{when}"] = _write(model, paths[(name, when)], calibration, skip)
            print(f"[{i + 1}/{len(names)}] {name}: converted ({', '.join(applied) or 'no pass applies'})",
                  file=sys.stderr, flush=True)
        print(f"timing {len(paths)} files, {args.rounds} alternating rounds", file=sys.stderr, flush=True)
        timed = host.median_p50({f"{n}:{w}": p for (n, w), p in paths.items()}, args.threads,
                                args.runs, args.rounds)
    for name, row in rows.items():
        row["ms_before"] = timed[f"{name}:before"]
        row["ms_after"] = timed.get(f"{name}:after", row["ms_before"])
        for when in ("before", "after"):
            row[f"gmac_s_{when}"] = row["macs"] / row[f"ms_{when}"] / 1e6
    for row in rows.values():
        for when in ("before", "after"):
            row[f"ratio_{when}"] = row[f"gmac_s_{when}"] / rows[BASELINE][f"gmac_s_{when}"]
    here = device()
    document = {"device": here, "threads": args.threads, "runs": args.runs, "rounds": args.rounds,
                "measured": datetime.date.today().isoformat(), "rows": list(rows.values())}
    files.write_json(args.results, document)
    text = table(document)
    files.write_section(args.out, "int8_efficiency", text)
    print(text)
    return 0


def table(document: dict) -> str:
    d = document
    lines = [
        "## int8 efficiency: work per millisecond against MobileNetV2",
        "",
        f"Generated by `python benchmarks/int8_efficiency.py`, measured {d['measured']}: "
        f"{d['device']['cpu']}, {d['threads']} thread(s), ai_edge_litert "
        f"{d['device']['runtime']['version']} with XNNPACK; the median p50 of {d['rounds']} "
        f"alternating rounds of {d['runs']} invocations per file. Random weights (PReLU slopes random "
        f"per channel, as trained). GMAC/s = MACs / p50; the ratio is to {BASELINE}'s GMAC/s "
        f"(the bar: >= {BAR}). Before / after: without and with the export's rewrite passes "
        f"([export.md](export.md)).",
        "",
        "| model | input | MACs | p50 ms before | p50 ms after | GMAC/s before | GMAC/s after | "
        "ratio before | ratio after | passes | outside XNNPACK (after) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in d["rows"]:
        lines.append(
            f"| `{r['model']}` | {r['input']} | {r['macs'] / 1e6:.1f}M | {r['ms_before']:.2f} | "
            f"{r['ms_after']:.2f} | {r['gmac_s_before']:.0f} | {r['gmac_s_after']:.0f} | "
            f"{r['ratio_before']:.2f} | {r['ratio_after']:.2f} | {', '.join(r['passes']) or '-'} | "
            f"{', '.join(r['outside_xnnpack_after']) or '-'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
