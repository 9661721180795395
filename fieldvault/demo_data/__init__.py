"""Files of ``fieldvault demo``: the demo study template, synthetic clips, a demo consent scan."""
