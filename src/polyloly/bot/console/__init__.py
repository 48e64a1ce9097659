"""The web console: a live page of a running bot, served by its control server.

:mod:`.state` builds what the page shows from the node; :mod:`.web` serves the page, its
assets (``static/``: hand-written HTML, JavaScript and CSS, no build step, nothing fetched
at run time) and the server-sent event stream.
"""
