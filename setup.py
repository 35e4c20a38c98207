"""Build the optional C extension; everything else is declared in pyproject.toml.

``inventory.scanners._cyaml`` composes YAML documents with libyaml (see its source). It is
optional: without a compiler or libyaml's headers the build skips it and the scanners use
the pure-Python loader, which gives the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "inventory.scanners._cyaml",
            sources=["inventory/scanners/_cyaml.c"],
            libraries=["yaml"],
            optional=True,
        )
    ]
)
