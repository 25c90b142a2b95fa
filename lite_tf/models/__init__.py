"""The model zoo: ``create_model(name, ...)``, ``list_models()``."""

from lite_tf.models import (efficientnet_lite, ghostnet, mnasnet, mobilefacenet,  # noqa: F401
                            mobilenet_v1, mobilenet_v2, mobilenet_v3, mobilenet_v4, mobilenext,
                            searched, shufflenet_v1, shufflenet_v2, squeezenet)
from lite_tf.models.registry import create_model, get_entry, list_families, list_models

__all__ = ["create_model", "get_entry", "list_families", "list_models"]
