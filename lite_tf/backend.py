"""The one place lite_tf takes TensorFlow and Keras from: Keras 2 through tf_keras.

``lite_tf/__init__.py`` has set ``TF_USE_LEGACY_KERAS=1`` before this import of TensorFlow. Everything
in lite_tf takes ``keras`` from here; never ``import keras``, which is Keras 3. TensorFlow's
start-up lines (oneDNN, CUDA drivers), written from C++ before its logging is set up, are dropped
unless verbose (``lite_tf.console``). Grouped convolutions run on TensorFlow's own kernel where it
trains them, not through the XLA compilation tf_keras gives them (``_grouped_convolution``).
"""

from lite_tf import console

with console.silenced():
    import tensorflow as tf
    import tf_keras as keras
    from tf_keras.src.layers.convolutional.base_conv import Conv

layers = keras.layers

__all__ = ["tf", "keras", "layers", "native_grouped_convolution"]


def native_grouped_convolution() -> bool:
    """Whether TensorFlow's own kernels run a grouped convolution and its gradients here (with
    oneDNN on x86 CPUs, with cuDNN on GPUs; not on CPUs without oneDNN). Probed once, eagerly."""
    global _NATIVE
    if _NATIVE is None:
        with tf.init_scope():
            x, w = tf.ones((1, 2, 2, 4)), tf.ones((1, 1, 2, 4))  # two groups
            args = dict(strides=[1, 1, 1, 1], padding="VALID")
            try:  # the forward op and both its gradients (no tape: init_scope pauses tapes)
                dy = tf.raw_ops.Conv2D(input=x, filter=w, **args)
                tf.raw_ops.Conv2DBackpropInput(input_sizes=x.shape, filter=w, out_backprop=dy, **args)
                tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=w.shape, out_backprop=dy, **args)
                _NATIVE = True
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
                _NATIVE = False
    return _NATIVE


_NATIVE = None
_xla_grouped_convolution = Conv._jit_compiled_convolution_op


def _grouped_convolution(self, inputs, kernel):
    """tf_keras compiles every grouped convolution with XLA (its base_conv.py: TensorFlow's CPU
    kernels once lacked them), and XLA's CPU convolution trains ShuffleNetV1 3-6x slower than
    TensorFlow's oneDNN kernel (``benchmarks/train_throughput.py --grouped``). The same op,
    uncompiled, where that kernel runs; the TFLite model computes the same (its tensors now
    named after their layers)."""
    if native_grouped_convolution():
        return self.convolution_op(inputs, kernel)
    return _xla_grouped_convolution(self, inputs, kernel)


Conv._jit_compiled_convolution_op = _grouped_convolution
