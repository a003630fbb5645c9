"""Imported by the fork server of bounded CV reads, after the parser modules: it builds what every read
needs and no import builds, so that each forked child finds it ready instead of building it again.

The city table (a CV's places are looked up in 390,000 city names) takes 1.5-2 s of CPU to build and 0.15 s
to load once kept (domain/places.py); in the children, every CV would pay it again.
"""

import gc

from jobland.domain.places import load_place_tables
from jobland.tools.cv_import import warm_docling_converter

load_place_tables()
warm_docling_converter()

# Out of the collector's sight: a collection in a child would otherwise write to every object it tracks
# and so copy some 45 MB of the fork server's pages into each read.
gc.freeze()
