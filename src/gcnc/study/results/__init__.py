"""The workflow's results: written atomically (:mod:`.files`), recorded and checked when read
(:mod:`.records`), collected into tables (:mod:`.collect`), and each figure's provenance
(:mod:`.provenance`) re-checked by the audit (:mod:`.audit`)."""
