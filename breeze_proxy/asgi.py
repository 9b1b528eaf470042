"""The ASGI application: the live stream (Socket.IO at ``/socket.io/``) and the whole REST API
behind one base URL, as the seed frontend expects.

    uvicorn breeze_proxy.asgi:application --host 0.0.0.0 --port $PORT

Socket.IO requests are answered by python-socketio; everything else goes to Django's ASGI
handler. The stream's loops (its clients, its report to the fleet, the leader's lock and, while
this process leads, the upstream feed) start with the server's lifespan and stop with it.
REST in production stays on gunicorn (``breeze_proxy.wsgi``), which serves it faster (see the
README's stream benchmark); this process serves it too so that one URL works everywhere.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breeze_proxy.settings")
os.environ.setdefault("BREEZE_SERVER", "asgi")  # read by the settings (database connections)

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

import socketio  # noqa: E402 - after Django is set up

from stream.server import build_server  # noqa: E402

sio, stream = build_server()

application = socketio.ASGIApp(
    sio,
    other_asgi_app=django_application,
    socketio_path="socket.io",
    on_startup=stream.start,
    on_shutdown=stream.stop,
)
