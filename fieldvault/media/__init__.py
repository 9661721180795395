"""Audio as an engine: PyAV probing (``probe``) and decoding (``decode``) of decrypted streams.

It knows nothing of studies or consent; the domain probes uploads with it, the workers decode.
"""
