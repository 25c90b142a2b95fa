"""python -m lite_tf.weights {import MODEL CHECKPOINT [--out FILE] | list}

import: convert a reference checkpoint into a zoo model's weights file, by default into the cache
that create_model(MODEL, weights='imagenet') reads. CHECKPOINT is a keras.applications .h5
(MobileNetV1/V2) or a PyTorch file (torchvision MobileNetV2, ShuffleNetV2, SqueezeNet; the
official MobileNeXt code; megvii ShuffleNetV1; PyTorch files need pip install 'lite_tf[torch]').
list: every model with ImageNet weights, where they come from and whether they are cached.
Bad input is one line on stderr and exit code 2, and writes nothing.
"""

from __future__ import annotations

import os
import sys

from lite_tf import cli
from lite_tf.errors import InputError

PROG = "python -m lite_tf.weights"


def _import(args) -> list[tuple[str, object]]:
    from lite_tf.weights import pretrained

    out, net, meta = pretrained.import_checkpoint(args.model, args.checkpoint, args.out)
    params = sum(int(w.shape.num_elements()) for w in net.trainable_weights)
    return [("model", args.model), ("source", f"{meta['source']} ({meta['checkpoint']}, sha256 "
                                              f"{meta['sha256'][:12]})"),
            ("parameters", f"{params:,}"),
            ("preprocessing", meta["preprocessing"]),
            ("settings", ", ".join(f"{k}={v}" for k, v in meta["overrides"].items()) or "the zoo's"),
            ("weights", out)]


def _list() -> str:
    from lite_tf.weights import pretrained

    rows = [("model", "source", "preprocessing", "download", "cached")]
    for model, url in pretrained.IMAGENET.items():
        source = pretrained.imagenet_source(model)
        rows.append((model, source.name.split(" (")[0], source.preprocessing,
                     url or f"none published: {source.page}",
                     "yes" if os.path.isfile(pretrained.cached_file(model)) else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1])
    commands = parser.add_subparsers(dest="command", required=True, metavar="{import,list}")
    importer = commands.add_parser("import", help="convert a checkpoint into a zoo model's weights")
    importer.add_argument("model", help="zoo model name, e.g. mobilenext_100")
    importer.add_argument("checkpoint", help="the reference checkpoint (.h5, .pth, .pth.tar)")
    importer.add_argument("--out", metavar="FILE",
                          help="where to write the converted .npz (default: the cache, "
                               "$LITE_TF_CACHE or ~/.cache/lite_tf, weights/MODEL.npz)")
    commands.add_parser("list", help="models with ImageNet weights and their sources")
    args = parser.parse_args(argv)
    if args.command == "list":
        print(_list())
        return 0
    if args.out and not args.out.endswith(".npz"):
        parser.error(f"--out {args.out}: the converted file is an .npz")
    try:
        rows = _import(args)
    except InputError as e:
        cli.print_error(PROG, e)
        return 2
    print(cli.summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
