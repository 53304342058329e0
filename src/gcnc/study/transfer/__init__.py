"""Transfer to unseen classes: few-shot episodes on frozen embeddings (Sec. 5, Fig. 4,
:mod:`.fewshot`) and Li et al.'s fine-tuning modes (:mod:`.finetune`)."""
