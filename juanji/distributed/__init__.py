"""Past one machine, on Ray: sweeps of ``juanji train`` options (:mod:`.sweep`) and
data-parallel training (:mod:`.data_parallel`). Ray is imported only when they run."""
