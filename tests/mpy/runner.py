"""Runs the test_* functions of a MicroPython test script, each in a fresh scratch folder
(under the current folder); prints "ok NAME" or "FAIL NAME: reason" per test and exits 1 on
any failure. tests/test_firmware.py checks that every declared test reported ok."""

import os
import sys


def run(scope):
    names = sorted(n for n in scope if n.startswith("test_"))
    base = os.getcwd()
    failed = 0
    for name in names:
        scratch = base + "/" + name
        os.mkdir(scratch)
        os.chdir(scratch)
        try:
            scope[name]()
            print("ok", name)
        except Exception as e:
            failed += 1
            print("FAIL %s: %r" % (name, e))
        os.chdir(base)
    sys.exit(1 if failed else 0)
