"""How `make run` drives Snakemake: one line per job (:mod:`.console`), stale locks removed
(:mod:`.locks`), every import the jobs need checked before the first job (:mod:`.preflight`)."""
