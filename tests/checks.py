"""checks.py — the assertion counter the Python test scripts share.

    from checks import check       # after putting tests/ on sys.path
    check(cond, "what was expected")
    ...
    return check.summary()         # prints "N of M checks passed"; 1 when any failed, else 0

A failed check prints "FAIL: what" at once and the script goes on, so one run lists every failure.
"""


class Checks:
    """Counts checks and remembers the failed ones."""

    def __init__(self):
        self.count = 0
        self.fails = []

    def __call__(self, cond, what):
        self.count += 1
        if not cond:
            self.fails.append(what)
            print("FAIL:", what)
        return bool(cond)

    @property
    def failures(self):
        return len(self.fails)

    def summary(self, prefix=""):
        print(f"{prefix}{self.count - len(self.fails)} of {self.count} checks passed")
        return 1 if self.fails else 0


check = Checks()
