"""Fusion methods, one module per family.

Every public module in this package is imported here, which runs its
``@register_method`` decorators; adding a family is adding a module.
"""
from __future__ import annotations

import importlib
import pkgutil

for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
