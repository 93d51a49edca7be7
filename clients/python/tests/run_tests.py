#!/usr/bin/env python3
"""Runs the Python SDK's tests: RUNWATCH_BINARY=/path/to/runwatch /usr/bin/python3 run_tests.py [-v] [pattern]

Without RUNWATCH_BINARY the build tree's build/ci/app/runwatch is used when it exists."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True
    verbosity = 2 if "-v" in sys.argv else 1
    patterns = [a for a in sys.argv[1:] if not a.startswith("-")]
    from server import binary
    print("runwatch binary:", binary(), flush=True)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    if patterns:
        for p in patterns:
            suite.addTests(loader.loadTestsFromName(p))
    else:
        suite.addTests(loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE))
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
