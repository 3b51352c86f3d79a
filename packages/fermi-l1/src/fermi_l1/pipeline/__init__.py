"""The L1 chain on the task engine of fermi-core (:mod:`fermi_core.engine`).

* :mod:`.flow` -- the chain of stages: inbox -> ingest -> merge -> recon crumbs -> run input -> L1.
* :mod:`.tasks` -- fermi-l1's tasks (``recon``, ``runinput``, ``l1run``) and their re-run chain.
* :mod:`.inbox` -- the deliveries waiting in the inbox.
* :mod:`.halfpipe_runs` -- the retired halfpipe runs L1 takes, one chunk per merged file.
* :mod:`.crumbs` -- how a chunk is cut into recon crumbs.
* :mod:`.runinput` -- recon of a crumb, assembly of a run input folder.
* :mod:`.inputs` -- the per-run input folder.
* :mod:`.l1run` -- FT2, FT1, catalog and outbox of one LAT run.
"""
