"""The only place a network client is made: one module per backend.

Each adapter applies the connect and read bounds of the ``timeouts`` config section it is given
(the validated config the task's ``Step`` carries; an adapter never reads the config file), so a
target that accepts TCP and never answers costs a task at most its bound (docs/reliability.md).
``tests/dags/test_time_bounds.py`` fails when a hook, client or client socket is made anywhere else.
"""
