"""``jeugdhub simulate``: a seeded, realistic national feed of canonical-JSON messages.

Generation (``calibration``, ``world``, ``plan``, ``render``, ``invalid``, ``feed``) is pure: it
yields lines and does no I/O. ``output`` writes them to a file, ``post`` sends them to the ingest
API, ``commands`` is the CLI. See docs/simulator.md for the model and its calibration.

Those generator modules run from their mypyc build when one matches the sources (``build``);
:data:`BUILD` says which: ``"compiled"`` or ``"pure (<why>)"``.
"""

from hubdev.simulate.build import activate

BUILD = activate(__path__)
