"""Build the optional C extensions; everything else is declared in pyproject.toml.

``inventory.scanners._cyaml`` composes YAML documents with libyaml, and ``inventory._cbuild``
builds stored models back and encodes them (see their sources). Both are optional: without a
compiler (or libyaml's headers) the build skips them and the same results come from Python
(the pure-Python loader, the generated decoders and encoders of ``inventory.store``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "inventory.scanners._cyaml",
            sources=["inventory/scanners/_cyaml.c"],
            libraries=["yaml"],
            optional=True,
        ),
        Extension("inventory._cbuild", sources=["inventory/_cbuild.c"], optional=True),
    ]
)
