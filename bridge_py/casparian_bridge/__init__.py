"""The guest side of the bridge, imported by ``bridge_shim.py`` (the entry point).

Layout, one concern per module; the import graph is acyclic and points down
this list (a module imports only modules listed above it):

- ``frames``  — the wire: frame kinds, the header, size caps, encode/read,
  and the ``Channel`` every frame goes out through.
- ``limits``  — the job spec's resource limits (setrlimit) and the naming of
  a breach.
- ``errors``  — an exception → the ERROR frame's payload.
- ``outputs`` — what ``parse`` returns → named Arrow IPC streams on a channel.
- ``runner``  — one job: load the plugin, run ``parse``, send outputs and the
  verdict.

Rules that keep the guest's start-up and the plugin's namespace predictable:

- Standard library and pyarrow only; pandas and polars are touched only when
  the plugin has already imported them.
- Modules import each other relatively (``from .frames import …``) and never
  import ``bridge_shim``, which runs as ``__main__``. Nothing here depends on
  the working directory: the worker runs the guest in a private temp dir, and
  finds this package (and the ``casparian`` SDK) through the directory of
  ``bridge_shim.py``, which the shim puts first on ``sys.path``.
- The package name is chosen not to clash with plugin names or with what a
  plugin imports: a plugin named ``frames`` or ``runner`` is registered under
  that bare name (see ``runner.load_plugin``) and cannot replace these modules.
- This ``__init__`` imports nothing, so loading one module costs one module.
"""
