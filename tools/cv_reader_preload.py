"""Imported by the fork server of bounded CV reads, after the parser modules: it builds what every read
needs and no import builds, so that each forked child finds it ready instead of building it again.

The place tables take some 1.5 s of CPU (a CV's places are looked up in 390,000 city names), seven times
what the rest of a two-page PDF's reading takes.
"""

import gc

from jobland.domain.places import load_place_tables
from jobland.tools.cv_import import warm_docling_converter

load_place_tables()
warm_docling_converter()

# Out of the collector's sight: a collection in a child would otherwise write to every object it tracks
# and so copy some 45 MB of the fork server's pages into each read.
gc.freeze()
