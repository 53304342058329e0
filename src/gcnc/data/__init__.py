"""Dataset preparation: every dataset becomes ``data/prepared/<name>/{arrays.npz, meta.json}``.

See :func:`gcnc.data.prepare.prepare_dataset` (writer) and :func:`gcnc.data.prepared.load_prepared`
(reader, with the task views used for pretraining and transfer).
"""

from gcnc.data.errors import DataCorruptError, DataNotFoundError
from gcnc.data.prepare import prepare_dataset
from gcnc.data.prepared import Prepared, load_prepared

__all__ = ["DataCorruptError", "DataNotFoundError", "Prepared", "load_prepared", "prepare_dataset"]
