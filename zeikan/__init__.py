"""zeikan: streaming risk targeting for customs cargo.

The top-level folders of the repository are the subpackages of ``zeikan``
(``schemas``, ``features``, ``models``, ``images``, ``streams``, ``sim``, ``ui``,
``cli``, ``bench``, ``ops``), mapped in ``pyproject.toml``; this folder holds what
they all share (errors, the settings reader, child processes).
"""

from zeikan.errors import ZeikanError

__all__ = ["ZeikanError", "__version__"]
__version__ = "0.1.0"
