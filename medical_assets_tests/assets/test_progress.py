"""Progress of long steps: done / total with the rate and the time left, at a steady pace."""

from __future__ import annotations

from medical_assets.assets.progress import Progress


class Lines(list):
    def info(self, message: str) -> None:
        self.append(message)


def test_progress_reports_done_of_total_with_rate_and_time_left_and_always_at_the_end():
    log = Lines()
    progress = Progress(log, "prompts embedded", 30, every_s=3600)
    progress.advance(10)
    progress.advance(10)
    assert log == []  # not per chunk
    progress.advance(10)
    assert len(log) == 1 and log[0].startswith("prompts embedded: 30 / 30 (") and "about 0 s left" in log[0]


def test_with_no_wait_every_advance_is_reported():
    log = Lines()
    progress = Progress(log, "items", 4, every_s=0)
    progress.advance(1)
    assert log[0].startswith("items: 1 / 4 (") and "/s, about" in log[0]


def test_work_that_counts_its_own_total_reports_through_update():
    log = Lines()
    progress = Progress(log, "prompts checked", 0, every_s=3600)
    progress.update(2, 5)
    assert log == []
    progress.update(5, 5)
    assert log[0].startswith("prompts checked: 5 / 5 (")
