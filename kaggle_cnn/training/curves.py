"""Learning curves as TensorBoard event files, written as each epoch ends
(`kcnn train --tensorboard`), so `tensorboard --logdir models` follows a long job live.

Keras' own TensorBoard callback needs the tensorboard package to write a scalar;
TensorFlow's summary writer does not, so the toolkit writes the curves without it and
TensorBoard is needed only to view them. The layout is the one Keras writes
(`train/` and `validation/`, tags `epoch_loss`, `epoch_accuracy`, `epoch_learning_rate`),
so the curves look as TensorBoard users expect.
"""

from __future__ import annotations

from pathlib import Path

from kaggle_cnn.backend import load_keras

keras = load_keras()

SCALARS_PLUGIN = "scalars"  # the TensorBoard dashboard that draws a scalar per step


class TensorBoardCurves(keras.callbacks.Callback):
    """Each epoch's logs as scalars: `loss` under train/, `val_loss` under validation/."""

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        self._writers: dict[str, object] = {}

    def _writer(self, part: str):
        import tensorflow as tf

        if part not in self._writers:
            self._writers[part] = tf.summary.create_file_writer(str(self.folder / part))
        return self._writers[part]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=SCALARS_PLUGIN))
        logs = dict(logs or {})
        # the rate the schedule reached, beside the curves it shapes
        logs.setdefault("learning_rate", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        for name, value in logs.items():
            part, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            with self._writer(part).as_default():
                tf.summary.write(f"epoch_{tag}", tf.constant(float(value), tf.float32), step=epoch,
                                 metadata=metadata)
        for writer in self._writers.values():
            writer.flush()  # visible to TensorBoard now, not when the attempt ends

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
