"""The competing work of `--cpu-competitor`: a pure-Python busy thread standing in for work that
shares the process with the client (inference, request handling). It only counts iterations, in
chunks, checking a stop flag between chunks; the Rust side reads its clock around start() and
stop() and turns the count into a speed."""

import threading

CHUNK = 10_000


class Competitor:
    def __init__(self):
        self._thread = None
        self._stop = False
        self._done = 0

    def _spin(self):
        done = 0
        while not self._stop:
            n = 0
            for _ in range(CHUNK):
                n += 1
            done += n
            self._done = done

    def start(self):
        self._stop, self._done = False, 0
        self._thread = threading.Thread(target=self._spin, name="aerobench-competitor", daemon=True)
        self._thread.start()

    def stop(self):
        """Iterations of the chunks finished by now; then the thread is stopped."""
        done = self._done
        self._stop = True
        self._thread.join()
        self._thread = None
        return done
