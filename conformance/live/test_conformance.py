"""The live conformance suite's collection point.

``pytest --pyargs gonka_conformance.live`` collects this file; the gonka-conformance pytest
plugin turns it into one item per catalogue live case and model. It holds no tests itself.
"""
