"""The competing work of `--cpu-competitor`: a pure-Python busy thread standing in for work that
shares the process with the client (inference, request handling). It only counts iterations, in
chunks, checking a stop flag between chunks, and reads its own thread's CPU clock so that the
Rust side can leave the competitor's CPU out of the client's; the Rust side reads the wall clock
around start() and stop() and turns the count into a speed."""

import threading
import time

CHUNK = 10_000


class Competitor:
    def __init__(self):
        self._thread = None
        self._stop = False
        self._done = 0
        self._cpu = 0.0

    def _spin(self):
        done, cpu_at_start, thread_time = 0, time.thread_time(), time.thread_time
        while not self._stop:
            n = 0
            for _ in range(CHUNK):
                n += 1
            done += n
            self._done = done
        self._cpu = thread_time() - cpu_at_start

    def start(self):
        self._stop, self._done, self._cpu = False, 0, 0.0
        self._thread = threading.Thread(target=self._spin, name="aerobench-competitor", daemon=True)
        self._thread.start()

    def stop(self):
        """(iterations of the chunks finished by now, CPU seconds the thread used in all); then
        the thread is stopped."""
        done = self._done
        self._stop = True
        self._thread.join()
        self._thread = None
        return done, self._cpu
