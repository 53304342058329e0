"""What each claim row tests: its wording, where the paper makes it, and the paper's words.

Three origins, kept apart in claims.md and in the counts:
- ``paper``: a claim of Munn, Dherin & Gonzalvo (NeurIPS 2024), with the figure or section it
  comes from and the sentence it tests. Verbatim quotes are the abstract and the Fig. 4 caption;
  where the paper's wording is not to hand the text is our paraphrase of the figure and says so.
  On a dataset the paper does not use (our synthetic studies) the same test is an extension.
- ``extension``: ours (Li et al.'s fine-tuning claims, links the paper does not state).
- ``sanity``: true by construction (a theorem with a valid constant, an unbiased estimator);
  reported as pass/fail, never counted as a reproduction.
"""

from __future__ import annotations

from dataclasses import dataclass

ABSTRACT_GC_NC = (
    "We show through experiments and theory that mechanisms which affect the geometric "
    "complexity of the pre-trained network also influence the neural collapse."
)
ABSTRACT_TRANSFER = (
    "Furthermore, we show how this effect of the geometric complexity generalizes to the neural "
    "collapse of new classes as well, thus encouraging better performance on downstream tasks, "
    "particularly in the few-shot setting."
)
FIG4_CAPTION = (
    "Lower Source GC produces more neural collapse on target classes (i.e. lower target NC), and "
    "higher 5-shot transfer accuracy for Top row: increased learning rates, Middle row: "
    "decreased batch sizes, and Bottom row: increased L2 regularization."
)


@dataclass(frozen=True)
class Claim:
    text: str
    source: str  # the figure or section of the paper (or of Li et al.)
    quote: str = ""  # the paper's sentence, verbatim when ``verbatim``
    verbatim: bool = False
    origin: str = "paper"  # paper | extension | sanity

    def quoted(self) -> str:
        """The paper's words as claims.md shows them: in quotes, or marked as a paraphrase."""
        if not self.quote:
            return ""
        return f'"{self.quote}"' if self.verbatim else f"(paraphrase) {self.quote}"


KNOB_TEXT = {
    "lr": "higher learning rate",
    "batch_size": "smaller batch size",
    "weight_decay": "larger L2",
    "gc_reg": "explicit GC regularisation",
}
KNOB_ROW = {"lr": "top", "batch_size": "middle", "weight_decay": "bottom"}
FIG1_METRIC = {
    "gc": ("embedding GC", "left"),
    "geometric_collapse": ("geometric collapse", "middle"),
    "nc": ("NC", "right"),
}
FIG1_PARAPHRASE = (
    "Fig. 1 (VGG-13 on CIFAR-10; App. A.5 repeats it on MNIST, Fashion-MNIST and CIFAR-100): "
    "increasing the learning rate, decreasing the batch size and increasing L2 lower the "
    "embedding GC, the geometric collapse and the NC."
)
GC_REG_PARAPHRASE = (
    "App. A.5.6 (explicit GC regularisation, to rule out learning-rate and batch-size "
    "confounds): train GC, geometric collapse and NC all decrease as the penalty weight grows."
)


def knob_claim(knob: str, metric: str) -> Claim:
    """'higher learning rate lowers NC' with the Fig. 1 panel (or App. A.5.6) it reads."""
    name, column = FIG1_METRIC[metric]
    if knob == "gc_reg":
        return Claim(f"{KNOB_TEXT[knob]} lowers {name}", "App. A.5.6", GC_REG_PARAPHRASE)
    source = f"Fig. 1, {KNOB_ROW[knob]} row, {column} column"
    quote = ABSTRACT_GC_NC if metric == "nc" else FIG1_PARAPHRASE
    return Claim(f"{KNOB_TEXT[knob]} lowers {name}", source, quote, metric == "nc")


def reading_claim(knob: str, reading: str) -> Claim:
    """'higher learning rate lowers NC' read at another training state or measurement:
    ``matched`` (the first logged step at training accuracy >= 0.99) or ``bn_recalibrated``
    (BatchNorm statistics recomputed on the training set)."""
    base = knob_claim(knob, "nc")
    how = {
        "matched": "at matched training accuracy (first logged step at >= 0.99)",
        "bn_recalibrated": "with BatchNorm statistics recalibrated on the training set",
    }[reading]
    return Claim(f"{base.text} {how}", base.source, base.quote, base.verbatim)


def curve_order_claim(knob: str) -> Claim:
    source = "App. A.5.6" if knob == "gc_reg" else f"Fig. 1, {KNOB_ROW[knob]} row, left column"
    return Claim(
        f"{KNOB_TEXT[knob]} lowers GC at every logged step (the curves keep their order)",
        source,
        "Fig. 1 draws GC along training, one curve per knob value, ordered by the knob "
        "throughout.",
    )


def transfer_knob_claim(knob: str, what: str, shot: int) -> Claim:
    text = {"target_nc": "lowers target NC", "accuracy": f"raises {shot}-shot accuracy"}[what]
    if knob == "gc_reg":  # the paper's Fig. 4 has no GC-penalty row
        source = "ours: Sec. 5 applied to App. A.5.6's penalty (not in Fig. 4)"
        return Claim(f"{KNOB_TEXT[knob]} {text}", source, origin="extension")
    column = {"target_nc": "middle", "accuracy": "right"}[what]
    return Claim(
        f"{KNOB_TEXT[knob]} {text}",
        f"Fig. 4, {KNOB_ROW[knob]} row, {column} column",
        FIG4_CAPTION,
        True,
    )


GC_GCOL = Claim(
    "lower GC goes with lower geometric collapse (partly by construction: Eq. 7 is GC times a "
    "class-separation factor)",
    "Fig. 1 (left and middle columns), Eq. 7",
    FIG1_PARAPHRASE,
)
GCOL_NC = Claim(
    "lower geometric collapse goes with lower NC across runs (Fig. 1 reading; Prop. 4.1 only "
    "bounds NC above)",
    "Fig. 1 (middle and right columns)",
    ABSTRACT_GC_NC,
    True,
)
GC_NC = Claim(
    "lower GC goes with lower NC across runs", "Fig. 1 (left and right columns)",
    ABSTRACT_GC_NC, True,
)  # fmt: skip
NC_FALLS = Claim(
    "NC falls along training (after initialisation)",
    "Fig. 1, right column",
    "Fig. 1 draws NC falling along training at every knob value.",
)
SOURCE_GC_TARGET_NC = Claim(
    "lower pretraining GC goes with lower target NC", "Fig. 4, Sec. 5 (Prop. 5.1)",
    FIG4_CAPTION, True,
)  # fmt: skip


def target_nc_accuracy(shot: int) -> Claim:
    return Claim(
        f"lower target NC goes with higher {shot}-shot accuracy", "Fig. 4, Sec. 5",
        ABSTRACT_TRANSFER, True,
    )  # fmt: skip


def source_gc_accuracy(shot: int) -> Claim:
    return Claim(
        f"lower pretraining GC goes with higher {shot}-shot accuracy", "Fig. 4, Sec. 5",
        FIG4_CAPTION, True,
    )  # fmt: skip


PROP43_VACUOUS = Claim(
    "Prop. 4.3's bound is non-vacuous at the end of training (the paper's c)",
    "Fig. 3, Prop. 4.3",
    "Fig. 3 (VGG-13 on CIFAR-10, 5 seeds): the GC bound on the nearest-class-mean test error "
    "is non-vacuous.",
)
PROP43_TRACKS = Claim(
    "Prop. 4.3's bound tracks the nearest-class-mean test error along training",
    "Fig. 3, Prop. 4.3",
    "Fig. 3: the bound and the test error, drawn along training, move together.",
)
PAPER_C = Claim(
    "the paper's c (max NC / geometric collapse over checkpoints) is about 1000",
    "Sec. 4.1 (Fig. 1 runs, VGG-13 on CIFAR-10)",
    "c was estimated as a lower bound by comparing the two sides of Eq. 6 on the Fig. 1 runs, "
    "giving c of about 1000.",
)


def sampling_claim(axis: str) -> Claim:
    return Claim(
        f"GC estimated from {axis} (sampled) is accurate at half the exact cost or less",
        "Fig. 2, Prop. 4.2",
        "Fig. 2 (ResNet-18 on CIFAR-100, 20 trials): GC stays accurate when examples are "
        "subsampled, part of the Jacobian is masked, or output dimensions are sampled.",
    )


KNOBS_EVERY_DATASET = Claim(
    "the knobs lower GC in every dataset the paper names (summary of the per-study rows)",
    "Fig. 1, App. A.5",
    FIG1_PARAPHRASE,
)
GC_TEST_ACCURACY = Claim(
    "lower GC goes with higher test accuracy", "ours (Prop. 4.3 bounds the NCM error only)",
    origin="extension",
)  # fmt: skip
PROP41_RITZ = Claim(
    "Prop. 4.1 holds with the Ritz estimate of c (a theorem; the Ritz c is far above NC/GCol)",
    "Prop. 4.1",
    origin="sanity",
)
UNBIASED = Claim(
    "sampled GC estimators are unbiased (relative bias of the trial mean within 5%)",
    "Prop. 4.2 (unbiased by construction)",
    origin="sanity",
)

# The central claims (Sec. 4 and 5), as README's table and `make run`'s summary show them:
# (claim as claims.csv names it, short name)
CENTRAL = (
    ("higher learning rate lowers embedding GC", "higher LR lowers GC"),
    ("higher learning rate lowers geometric collapse", "higher LR lowers geometric collapse"),
    ("higher learning rate lowers NC", "higher LR lowers NC"),
    ("smaller batch size lowers embedding GC", "smaller batch lowers GC"),
    ("smaller batch size lowers geometric collapse", "smaller batch lowers geometric collapse"),
    ("smaller batch size lowers NC", "smaller batch lowers NC"),
    ("larger L2 lowers embedding GC", "larger L2 lowers GC"),
    ("larger L2 lowers geometric collapse", "larger L2 lowers geometric collapse"),
    ("larger L2 lowers NC", "larger L2 lowers NC"),
    ("explicit GC regularisation lowers embedding GC", "GC penalty lowers GC"),
    ("explicit GC regularisation lowers geometric collapse", "GC penalty lowers geom. collapse"),
    ("explicit GC regularisation lowers NC", "GC penalty lowers NC"),
    (GCOL_NC.text, "lower geometric collapse, lower NC"),
    (GC_NC.text, "lower GC, lower NC"),
    (SOURCE_GC_TARGET_NC.text, "lower source GC, lower target NC"),
    (target_nc_accuracy(5).text, "lower target NC, higher 5-shot acc."),
    (source_gc_accuracy(5).text, "lower source GC, higher 5-shot acc."),
)
