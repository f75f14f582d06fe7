"""Read-only web dashboard of recorded workflow runs, kept live by a watch on the records.

`create_server(cluster, address=..., port=...)` returns a `DashboardServer`; run its
`serve_forever()` and call `close()` to stop. `deployer dashboard` is the command.
"""

from deployer.dashboard.events import Change, RunFeed, format_event
from deployer.dashboard.server import DashboardServer, create_server

__all__ = ["Change", "DashboardServer", "RunFeed", "create_server", "format_event"]
