"""LatestWorker: the newest job and the newest result win, results are taken once, errors come back,
close ends it."""

import threading

from kiosk.booth.worker import LatestWorker


def test_the_newest_job_and_result_replace_older_ones_and_results_are_taken_once():
    started, release = threading.Event(), threading.Event()
    done = []

    def work(job):
        if job == "first":
            started.set()
            release.wait(10)
        done.append(job)
        return job.upper()

    worker = LatestWorker("test", work)
    try:
        worker.submit("first")
        assert started.wait(10) and worker.busy
        worker.submit("second")
        worker.submit("third")  # replaces "second", which never runs
        release.set()
        while worker.busy or not done[-1:] == ["third"]:
            assert worker.wait_result(10)
        assert done == ["first", "third"]
        assert worker.take() == ("THIRD", None)  # the newest result; the older one was replaced
        assert worker.take() is None and not worker.busy
    finally:
        worker.close()


def test_an_error_is_handed_back_and_the_worker_goes_on():
    def work(job):
        if job == "bad":
            raise ValueError("broken frame")
        return job

    worker = LatestWorker("test", work)
    try:
        for job in ("bad", "good"):
            worker.submit(job)
            assert worker.wait_result(10)
            result, error = worker.take()
            assert (result, str(error)) == ((None, "broken frame") if job == "bad" else ("good", "None"))
    finally:
        worker.close()
    worker.submit("after close")
    assert not worker.wait_result(0.2)  # closed: nothing runs any more
