"""The clinic web app (``spinecare serve``): pages for the clinic's day, the live monitor in
front of the patient, and the REST API under ``/api/v1``.

A face like the CLI: every clinical, billing and session rule lives in ``services/``; this
package maps HTTP to service calls, keeps browser sessions, and relays a running session's
telemetry from its process to the browser (Server-Sent Events) without ever running the
50 Hz loop in the server's event loop.
"""
