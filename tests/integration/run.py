#!/usr/bin/env python3
"""Runs Meridian's integration tests against a real region-node binary.

  python3 tests/integration/run.py [-k PATTERN]... [-v] [-x]

Discovers tests/integration/test_*.py (unittest).  -k keeps tests whose id
(module.Class.test_name) contains PATTERN, or matches it as a shell glob;
several -k are OR-ed.  The last line printed is "N passed, N failed"
(", N skipped" is added only when tests were skipped).  Exit status is 0 only
when nothing failed or errored and at least one test ran.
"""

import argparse
import fnmatch
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def selected(test_id, patterns):
    if not patterns:
        return True
    for p in patterns:
        if p in test_id or fnmatch.fnmatchcase(test_id, p) or \
                fnmatch.fnmatchcase(test_id, "*" + p + "*"):
            return True
    return False


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.showAll:
            self.stream.writeln("    (%.2f s)" % (time.monotonic() -
                                                  self._t0))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-k", action="append", default=[], metavar="PATTERN",
                    help="select tests whose id contains PATTERN")
    ap.add_argument("-v", action="store_true", help="verbose")
    ap.add_argument("-x", "--failfast", action="store_true",
                    help="stop at the first failure")
    args = ap.parse_args()

    # Temporary directories are removed by atexit handlers; turn SIGTERM and
    # SIGHUP into a normal exit so those run.
    def on_signal(signum, frame):
        harness.cleanup_all()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    if not os.path.exists(harness.NODE_BIN):
        print("region-node binary not found: %s (set MERIDIAN_NODE)"
              % harness.NODE_BIN, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    loader = unittest.TestLoader()
    discovered = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    # Import errors show up as _FailedTest cases; always keep them.
    tests = [t for t in iter_tests(discovered)
             if selected(t.id(), args.k) or
             t.__class__.__name__ == "_FailedTest"]
    suite = unittest.TestSuite(tests)

    runner = unittest.TextTestRunner(verbosity=2 if args.v else 1,
                                     failfast=args.failfast,
                                     resultclass=Result, stream=sys.stderr)
    t0 = time.monotonic()
    try:
        result = runner.run(suite)
    finally:
        harness.cleanup_all()
    elapsed = time.monotonic() - t0

    # A test that failed and also errored in clean-up counts once; errors in
    # class or module set-up (no test ran) count as one failure each.
    bad = [t for t, _ in result.failures + result.errors]
    bad += result.unexpectedSuccesses
    # Failed subtests count as a failure of their test.
    real = {getattr(t, "test_case", t).id() for t in bad
            if not isinstance(t, unittest.suite._ErrorHolder)}
    holders = [t for t in bad if isinstance(t, unittest.suite._ErrorHolder)]
    skipped = len(result.skipped)
    passed = result.testsRun - len(real) - skipped - \
        len(result.expectedFailures)
    failed = len(real) + len(holders)
    sys.stderr.flush()
    print("integration: %d tests in %.1f s" % (result.testsRun, elapsed))
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    if failed or result.testsRun == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
