"""The plugin API: the contract between the hub's core and its plugins, and nothing else.

- ``hookspecs``: the hooks a plugin implements (``@hookimpl``) and the markers
- ``records``: what plugins register and what the core hands them (``Adapter``, ``Transform``, ``Rendered``, ...)
- ``problems``: the errors and ``Problem`` records hooks raise and return
- ``events``: the lifecycle events observers receive
- ``partner``: the read-only view of a partner that hooks receive (no credentials)
- ``callers``: who is calling the HTTP API, as FastAPI dependencies for plugins' routes
- ``data``: the read-only view of the hub's data that plugin commands and gauges receive
- ``config_checks``: the checks a plugin registers for its own configuration (``hub config check``)

The modules here import nothing else of the hub (``make lint`` checks it with
import-linter), so the rest of the hub can change without a plugin noticing.
Plugins themselves import the public face, ``from hub import ...``, which
re-exports what they need from here.
"""
