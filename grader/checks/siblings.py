"""Helpers shared by an assignment's check files.

Checks are imported in pytest's importlib mode, where one check file cannot import another by
name; ``sibling(__file__, "_support.py")`` loads a helper file that lives beside them, once per
grading process, under a name no student module or other assignment can collide with.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import types


def sibling(check_file: str, filename: str) -> types.ModuleType:
    path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(check_file)), filename))
    name = "_grader_check_helper_" + hashlib.sha256(path.encode()).hexdigest()[:16]
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"no check helper at {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module
