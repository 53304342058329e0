"""The paper's theory evaluated on trained networks: Poincare constants (Sec. 4.1,
:mod:`.poincare`), the bounds of Props. 4.1, 4.3, 5.1 (:mod:`.bounds`), GC under sampling
(Prop. 4.2, Fig. 2, :mod:`.gc_sampling`) and the compute model of the paper preset
(:mod:`.compute`)."""
