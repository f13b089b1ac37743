"""The hub's services. The pure core runs from its mypyc build when one matches the sources
(:mod:`services.compiled`); :data:`BUILD` says which: ``"compiled"`` or ``"pure (<why>)"``."""

from services.compiled import activate

BUILD = activate()
