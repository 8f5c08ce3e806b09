"""Compatibility layers that run code written against older APIs on juanji.

``juanji.compat.keras1`` runs Keras 1 (Theano-era, channels-first) programs unchanged.
Importing a compatibility package changes nothing in the process until it is installed.
"""
