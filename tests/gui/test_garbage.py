"""While a window is open, Python's garbage collector runs on the GUI thread only."""

import gc
import threading
import weakref


class _Cycle:
    def __init__(self):
        self.me = self


def test_garbage_is_collected_on_the_gui_thread_while_a_window_is_open(make_window, qtbot):
    window = make_window()
    assert not gc.isenabled()  # a worker's allocations never start a collection

    freed_on = []
    cycle = _Cycle()
    weakref.finalize(cycle, lambda: freed_on.append(threading.current_thread()))
    del cycle
    for _ in range(gc.get_threshold()[0] + 1):  # past the first generation's threshold
        _Cycle()
    qtbot.waitUntil(lambda: bool(freed_on), timeout=5_000)
    assert freed_on == [threading.main_thread()]

    window.close()
    assert gc.isenabled()  # the last window gave collection back to Python
