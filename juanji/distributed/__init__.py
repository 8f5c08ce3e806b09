"""Past one machine, on Ray: sweeps of ``juanji train`` options (:mod:`.sweep`) and
data-parallel training (:class:`RayDataParallel`). Ray is imported only when they run."""

from juanji.distributed.data_parallel import RayDataParallel, WorkerFailedError

__all__ = ["RayDataParallel", "WorkerFailedError"]
