"""Open data: a session as CSV and JSON, a course as one archive, a patient as a FHIR R4B
bundle, DXA results from FHIR or CSV. Pure converters; the use cases that read and write the
store are in ``services/export.py`` and ``services/dxa.py``."""
