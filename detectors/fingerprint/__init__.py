"""Content fingerprints for the temp-AI asset register: PDQ (images, video frames), ORB local
features (partial/composited use), audio landmarks; the SQLite register; the matcher."""

# Registered sound (all entries and tracks, seconds) up to which the speed-1 waveform search
# correlates every entry with the whole deliverable by default (``matcher``, where it is
# explained). Here, not in ``matcher``, because the register detector declares it as its
# option's default when its module loads, and that must not import NumPy and OpenCV: every
# process that lists the detectors loads that module (``detectors.lazy``).
WAVEFORM_FULL_S = 3600.0
