"""zeikan: streaming risk targeting for customs cargo.

The top-level folders of the repository are the subpackages of ``zeikan``
(``schemas``, ``streams``, ``features``, ``models``, ``images``, ``sim``,
``bench``, ``ops``), mapped in ``pyproject.toml``.
"""

from zeikan.errors import ZeikanError

__all__ = ["ZeikanError", "__version__"]
__version__ = "0.1.0"
