"""An applicant's data on request: export everything credflow holds about them, or erase it.

``export.py`` writes the zip, ``erase.py`` replaces personal data with a tombstone, ``purge.py``
deletes evidence bytes (shared with the retention sweep), ``identity.py`` finds the applicant.
"""
