"""The teacher's grading module: the hidden tests of every exercise notebook, one module per notebook.

It is not part of the installed package (``pyproject.toml`` packages ``vae_helpers`` only) and never reaches a
student. nbgrader restores the hidden-test regions of the source notebooks when it autogrades; they load this module
through :func:`vae_helpers.exercises.teacher_grading`, which finds it on ``sys.path`` or in a ``grading/`` folder
beside ``nbgrader_config.py`` (the course folder that ``python -m vae_helpers.tools.release --course-dir DIR`` lays
out), or at the root of the repository.
"""
