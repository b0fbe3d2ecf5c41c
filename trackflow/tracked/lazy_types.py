"""Types of optional libraries (pandas, numpy ...), only when the user's code loaded them.

Autologging recognises DataFrames, arrays and estimators without importing those libraries:
a value can only be a DataFrame if pandas is imported already.
"""

from __future__ import annotations

import sys

__all__ = ["loaded_types"]


def loaded_types(module: str, *names: str) -> tuple[type, ...]:
    """Types of ``module`` if it is (fully) imported already; never imports it."""
    loaded = sys.modules.get(module)
    found = (getattr(loaded, name, None) for name in names) if loaded is not None else ()
    return tuple(t for t in found if isinstance(t, type))
