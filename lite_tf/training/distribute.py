"""Distribution: the tf.distribute strategy by name, and which worker this process is."""

from __future__ import annotations

from lite_tf.backend import tf
from lite_tf.errors import InputError

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")


def make_strategy(name: str):
    """tf.distribute strategy by name: one device, several GPUs, several hosts (TF_CONFIG), TPU."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise InputError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def worker_index(strategy) -> int:
    """0 for the process that writes the run's files (worker 0, the chief or the only process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief"):
        return 0
    return resolver.task_id + (1 if "chief" in resolver.cluster_spec().as_dict() else 0)


def num_workers(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if getattr(resolver, "task_type", None) is None:
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return sum(len(jobs.get(job, [])) for job in ("chief", "worker"))
