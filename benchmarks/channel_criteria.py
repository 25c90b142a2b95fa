"""The channel criteria before fine-tuning: each prunes a finished run to the same MACs target, and
the thin model is evaluated as it comes out of the pruning (L1 and BN-scale slice the weights; APoZ
too; LASSO refits the next layers by least squares).

    python benchmarks/channel_criteria.py RUN [--target-macs 0.5] [--criteria l1 bn apoz lasso]
        [--samples 1024] [--results benchmarks/results/channel_criteria.json]

The statistics of APoZ and LASSO come from ``--samples`` of the run's training images (evaluation
preprocessing); top-1 is on the run's evaluation split. The fine-tuned figures are the
``channel_prune`` stage runs' (``python -m train --config channel_prune --init_from RUN``, with
``channel_prune.ChannelPruning.criterion``), whose ``metrics.json`` records the same measurement
as ``before_training`` (there with statistics from augmented training batches).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from lite_tf import files, rundir
from lite_tf.compression import channel_criteria as criteria
from lite_tf.compression import channel_prune as cp
from lite_tf.compression import stage as stages
from lite_tf.data import pipeline, sources
from lite_tf.errors import InputError
from lite_tf.models.profile import profile_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a finished float training run")
    parser.add_argument("--target-macs", type=float, default=0.5, help="MACs after, as a fraction (default 0.5)")
    parser.add_argument("--criteria", nargs="+", default=list(criteria.CRITERIA), choices=criteria.CRITERIA)
    parser.add_argument("--samples", type=int, default=1024, help="training images for apoz and lasso")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results", "channel_criteria.json"))
    args = parser.parse_args(argv)
    try:
        run = rundir.find_run(args.run)
        files.writable_dir(os.path.dirname(os.path.abspath(args.results)), "the output folder")
        cp.ChannelPruning(target_macs=args.target_macs, samples=args.samples).check()
    except InputError as e:
        parser.error(str(e))
    model = stages.load_model(run)
    builder = sources.get_builder(run["dataset"], run["data_dir"], run["manual_dir"])

    def data(split):
        return pipeline.make_dataset(builder, split, training=False, batch_size=128,
                                     image_size=model.input_shape[1],
                                     crop_fraction=run["eval_crop_fraction"],
                                     preprocessing=run["preprocessing"])

    model.compile(metrics=["categorical_accuracy"], loss="categorical_crossentropy")
    base = model.evaluate(data(run["eval_split"]), verbose=0, return_dict=True)["categorical_accuracy"]
    full = profile_model(model)["macs"]
    rows = {"base": {"top1": base, "macs": full}}
    print(f"base: top-1 {base:.4f}, {full:,} MACs", file=sys.stderr)
    for name in args.criteria:
        start = time.time()
        config = cp.ChannelPruning(criterion=name, target_macs=args.target_macs, samples=args.samples)
        thin = cp.prune(model, config, data(run["train_split"]))
        thin.compile(metrics=["categorical_accuracy"], loss="categorical_crossentropy")
        top1 = thin.evaluate(data(run["eval_split"]), verbose=0, return_dict=True)["categorical_accuracy"]
        rows[name] = {"top1": top1, "macs": profile_model(thin)["macs"],
                      "params": profile_model(thin)["trainable_params"], "seconds": time.time() - start}
        print(f"{name}: top-1 before fine-tuning {top1:.4f}, {rows[name]['macs'] / full:.3f} of the "
              f"MACs [{rows[name]['seconds']:.0f} s]", file=sys.stderr)
        files.write_json(args.results, {"run": run.workdir, "target_macs": args.target_macs,
                                        "samples": args.samples, "rows": rows})


if __name__ == "__main__":
    main()
