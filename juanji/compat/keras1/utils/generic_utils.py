"""``keras.utils.generic_utils``: Keras 1's text ``Progbar`` with running averages."""

import numbers
import sys
import time


class Progbar:
    """A progress bar printed to stdout the way Keras 1 draws it.

    ``update(current, values)`` moves the bar to ``current`` of ``target`` and folds each
    ``(name, value)`` into that name's running average, weighted by the number of steps
    since the previous update; ``add(n, values)`` moves it ``n`` steps further.

    Args:
        target: the total number of steps (e.g. samples in an epoch).
        width: the bar's width in characters.
        verbose: 1 draws the bar, redrawn in place (at most every ``interval`` seconds);
            2 prints one line with the averages when ``target`` is reached; 0 prints nothing.
        interval: the least number of seconds between two redraws.

    Example:
        >>> bar = Progbar(4, verbose=2)
        >>> bar.add(1, values=[("loss", 1.0)])
        >>> bar.add(3, values=[("loss", 0.5)])
        0s - loss: 0.6250
    """

    def __init__(self, target, width=30, verbose=1, interval=0.01):
        if not isinstance(target, numbers.Integral) or target <= 0:
            raise ValueError(f"Expected a positive integer target. Received: target={target!r}")
        self.target = int(target)
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.sums = {}  # name -> [sum of value * steps, steps]
        self.seen_so_far = 0
        self.start = time.time()
        self.last_update = 0.0
        self._drawn_width = 0

    def update(self, current, values=None, force=False):
        """Move to step ``current``, averaging in ``values``, a list of ``(name, value)``."""
        steps = current - self.seen_so_far
        for name, value in values or ():
            total = self.sums.setdefault(name, [0.0, 0])
            total[0] += float(value) * steps
            total[1] += steps
        self.seen_so_far = current
        now = time.time()
        done = current >= self.target
        if self.verbose == 1 and (force or done or now - self.last_update >= self.interval):
            self._draw(current, now)
        elif self.verbose == 2 and done:
            print(f"{int(now - self.start)}s{self._averages()}")
        self.last_update = now

    def add(self, n, values=None):
        """Move ``n`` steps further, averaging in ``values``."""
        self.update(self.seen_so_far + n, values)

    def _averages(self):
        parts = []
        for name, (total, steps) in self.sums.items():
            mean = total / max(1, steps)
            parts.append(f" - {name}: {mean:.4f}" if abs(mean) > 1e-3 else f" - {name}: {mean:.4e}")
        return "".join(parts)

    def _draw(self, current, now):
        filled = int(self.width * min(current / self.target, 1.0))
        head = (">" if current < self.target else "=") if filled else ""
        bar = "=" * max(filled - 1, 0) + head + "." * (self.width - filled)
        elapsed = now - self.start
        if current < self.target:
            eta = elapsed / current * (self.target - current) if current else 0.0
            timing = f" - ETA: {int(eta)}s"
        else:
            timing = f" - {int(elapsed)}s"
        digits = len(str(self.target))
        line = f"{current:{digits}d}/{self.target} [{bar}]{timing}{self._averages()}"
        sys.stdout.write("\r" + line.ljust(self._drawn_width))
        self._drawn_width = len(line)
        if current >= self.target:
            sys.stdout.write("\n")
        sys.stdout.flush()


__all__ = ["Progbar"]
