"""SGD pretraining of one run: the SGD pieces (:mod:`.sgd`), the run itself, resumable from
its checkpoints (:mod:`.pretrain`, :mod:`.checkpoints`), its logged metrics (:mod:`.evaluation`),
the learning-rate schedules (:mod:`.schedule`) and the end-of-training diagnostics
(:mod:`.terminal`)."""
