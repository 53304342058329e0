"""The study's shared numbers, importable without torch (figure and claims jobs read them)."""

RITZ_DEGREE = 3  # Rayleigh-Ritz Poincare estimate: polynomials of this degree ...
RITZ_DIMS = 4  # ... in this many top principal components (gcnc.study.theory.poincare)
RESULT_NEUTRAL = ("checkpoint_every", "keep_checkpoints")  # training keys that change no result
