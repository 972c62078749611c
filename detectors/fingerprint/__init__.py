"""Content fingerprints for the temp-AI asset register: PDQ (images, video frames), ORB local
features (partial/composited use), audio landmarks; the SQLite register; the matcher."""
