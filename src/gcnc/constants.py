"""Numbers shared by the computing modules and the torch-free reporting code (figures, claims),
so that a figure or claims job never imports torch (about 3 s per job) to read a constant."""

JVP_COST = 2.0  # cost of one forward-mode JVP relative to one reverse-mode VJP (measured)
RITZ_DEGREE = 3  # Rayleigh-Ritz Poincare estimate: polynomials of this degree ...
RITZ_DIMS = 4  # ... in this many top principal components (gcnc.poincare.ritz_estimate)
RESULT_NEUTRAL = ("checkpoint_every", "keep_checkpoints")  # training keys that change no result
