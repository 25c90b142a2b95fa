"""lite-tf weights {import MODEL CHECKPOINT [--out FILE] | list}

import: convert a reference checkpoint into a zoo model's weights file, by default into the cache
that create_model(MODEL, weights='imagenet') reads. CHECKPOINT is a keras.applications .h5
(MobileNetV1/V2) or a PyTorch file (torchvision MobileNetV2, ShuffleNetV2, SqueezeNet; the
official MobileNeXt code; megvii ShuffleNetV1; PyTorch files need pip install 'lite_tf[torch]').
list: every model with ImageNet weights, where they come from and whether they are cached.
python -m lite_tf.weights is the same command. Bad input is one line on stderr and exit code 2,
and writes nothing.
"""

from __future__ import annotations

import os

from lite_tf import cli

HELP = "convert a reference checkpoint into a zoo model's weights, or list ImageNet weights"
ORDER = 7


def _import(args) -> list[tuple[str, object]]:
    from lite_tf.models import get_entry, registry  # TensorFlow: after --help and the log level
    from lite_tf.weights import pretrained  # (the same)

    entry = get_entry(args.model)
    out, net, meta = pretrained.import_checkpoint(entry, args.checkpoint,
                                                  registry.fresh_builder(entry.name), args.out)
    params = sum(int(w.shape.num_elements()) for w in net.trainable_weights)
    return [("model", args.model), ("source", f"{meta['source']} ({meta['checkpoint']}, sha256 "
                                              f"{meta['sha256'][:12]})"),
            ("parameters", f"{params:,}"),
            ("preprocessing", meta["preprocessing"]),
            ("settings", ", ".join(f"{k}={v}" for k, v in meta["overrides"].items()) or "the zoo's"),
            ("weights", out)]


def _list() -> str:
    from lite_tf.models import get_entry  # TensorFlow: after --help and the log level
    from lite_tf.weights import pretrained  # (the same)

    rows = [("model", "source", "preprocessing", "download", "cached")]
    for model, url in pretrained.IMAGENET.items():
        source = pretrained.imagenet_source(get_entry(model))
        rows.append((model, source.name.split(" (")[0], source.preprocessing,
                     url or f"none published: {source.page}",
                     "yes" if os.path.isfile(pretrained.cached_file(model)) else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def add_arguments(parser) -> None:
    commands = parser.add_subparsers(dest="action", required=True, metavar="{import,list}",
                                     parser_class=cli.ArgumentParser)
    importer = commands.add_parser("import", help="convert a checkpoint into a zoo model's weights")
    importer.add_argument("model", help="zoo model name, e.g. mobilenext_100")
    importer.add_argument("checkpoint", help="the reference checkpoint (.h5, .pth, .pth.tar)")
    importer.add_argument("--out", metavar="FILE",
                          help="where to write the converted .npz (default: the cache, "
                               "$LITE_TF_CACHE or ~/.cache/lite_tf, weights/MODEL.npz)")
    commands.add_parser("list", help="models with ImageNet weights and their sources")


def run(args, parser) -> int:
    if args.action == "list":
        print(_list())
        return 0
    if args.out and not args.out.endswith(".npz"):
        parser.error(f"--out {args.out}: the converted file is an .npz")
    print(cli.summary(_import(args)))
    return 0
