"""The study: everything the Snakemake workflow runs to reproduce Munn, Dherin & Gonzalvo
(NeurIPS 2024). It imports the library (:mod:`gcnc.metrics`, :mod:`gcnc.models`, ...), never
the reverse, and needs the ``study`` extras (``make setup`` installs them in a checkout).

- :mod:`gcnc.study.config`, :mod:`gcnc.study.validation`, :mod:`gcnc.study.plan`: the
  configuration, its grid of runs and their comparison groups
- :mod:`gcnc.study.data`: dataset preparation (real files, fabricated files, synthetic data)
- :mod:`gcnc.study.pretraining`: SGD pretraining, its logged metrics and checkpoints
- :mod:`gcnc.study.theory`: Poincare constants, the bounds of Props. 4.1, 4.3, 5.1, Fig. 2's
  sampling study, the compute model of the paper preset
- :mod:`gcnc.study.transfer`: few-shot transfer (Fig. 4) and Li et al.'s fine-tuning
- :mod:`gcnc.study.figures`, :mod:`gcnc.study.claims`: the figures, tables and verdicts
- :mod:`gcnc.study.results`: results written atomically, recorded, collected and audited
- :mod:`gcnc.study.runner`: how `make run` drives Snakemake (console, locks, start-up checks)
- :mod:`gcnc.study.publish`: README's generated blocks and the HTML report
"""
