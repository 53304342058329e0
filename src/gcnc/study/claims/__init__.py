"""The claims report: each claim of the paper tested within each comparison group, as an exact
small-sample test with a Holm-adjusted p-value, an effect size with its interval over seeds and a
verdict (:mod:`gcnc.study.claims.stats` states the rule). What each claim is and where the paper
makes it: :mod:`.catalogue`; the tests: :mod:`.exact`; the rows: :mod:`.table`, :mod:`.paper`,
:mod:`.finetune`; claims.md and the console summary: :mod:`.report`."""
