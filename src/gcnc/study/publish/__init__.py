"""What readers see: README's generated blocks (:mod:`.readme`) and the HTML report over every
preset with results (:mod:`.report`, :mod:`.report_html`)."""
