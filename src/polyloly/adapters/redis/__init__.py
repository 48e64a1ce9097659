"""The Redis adapter: the risk budget, kill switch and instance directory that several
instances on one account share (:mod:`polyloly.execution.budget`)."""
