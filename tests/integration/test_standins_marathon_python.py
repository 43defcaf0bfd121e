"""A client nobody here wrote agrees with the Marathon stand-in: marathon-python (PyPI
`marathon`) creates, lists, scales and deletes an app and reads its tasks."""

from __future__ import annotations

import pytest
from marathon import MarathonApp, MarathonClient
from marathon.exceptions import ConflictError, NotFoundError

from conftest import Standins
from testbed import wait_until

pytestmark = pytest.mark.docker


def test_marathon_python_drives_the_app_lifecycle(standins: Standins) -> None:
    stack = standins.up()
    client = MarathonClient(stack.marathon_url, timeout=10)

    created = client.create_app("hello", MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16,
                                                     instances=1))
    assert created.id == "/hello"
    with pytest.raises(ConflictError):
        client.create_app("hello", MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16))

    def running(count: int) -> bool:
        app = client.get_app("hello", embed_tasks=True)
        return app.tasks_running == count and not app.deployments

    wait_until(lambda: running(1), timeout=30, what="one task running")
    assert [a.id for a in client.list_apps()] == ["/hello"]
    tasks = client.list_tasks("hello")
    assert len(tasks) == 1 and tasks[0].app_id == "/hello"
    assert tasks[0].host == "127.0.0.1" and tasks[0].slave_id

    client.scale_app("hello", instances=3)
    wait_until(lambda: running(3), timeout=30, what="three tasks running")
    assert len({t.id for t in client.list_tasks("hello")}) == 3
    assert tasks[0].id in {t.id for t in client.list_tasks("hello")}  # scaling kept it

    client.delete_app("hello")
    wait_until(lambda: not client.list_apps() and not client.list_tasks(), timeout=30,
               what="the app and its tasks gone")
    with pytest.raises(NotFoundError):
        client.get_app("hello")
