"""Numbers the library's computations share with the study's torch-free reporting code
(figures, claims), so that a figure or claims job never imports torch to read a constant."""

JVP_COST = 2.0  # cost of one forward-mode JVP relative to one reverse-mode VJP (measured)
