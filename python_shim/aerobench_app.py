"""The ASGI app aerobench serves under HTTP load: one client per worker, used the way services
use it."""
