"""Wheel build hook: compile the owner's batch tag verifier (host/veil/owner/native.c).

It is a plain shared library loaded with ctypes, so a C compiler is all it needs. Where none is
present, or the build fails, the wheel is built without it and veil checks tags with a Python
loop instead (veil/owner/native.py says which one runs). An editable install builds it in
place, next to the source.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "host/veil/owner/native.c"
TARGET = "veil/owner/_native.so"


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        src = Path(self.root) / SOURCE
        if version == "editable":
            out = src.with_name(Path(TARGET).name)
        else:
            out = Path(tempfile.mkdtemp(prefix="veil-build-")) / Path(TARGET).name
        cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
        flags = ["-O2", "-shared", "-fPIC", "-std=c99", "-Wall"]
        if sys.platform == "darwin":  # libcrypto's symbols resolve when it is loaded
            flags += ["-undefined", "dynamic_lookup"]
        try:
            subprocess.run(
                [*cc, *flags, "-o", str(out), str(src)],
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as e:
            detail = getattr(e, "stderr", None) or str(e)
            self.app.display_warning(
                f"veil: building the C tag verifier failed, decode will use Python: {detail}"
            )
            return
        if version != "editable":
            build_data["force_include"][str(out)] = TARGET
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
