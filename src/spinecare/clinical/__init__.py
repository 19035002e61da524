"""Pure clinical rules: screening, bone assessment, treatment course, outcomes, orthosis.

No I/O, no clock: dates are passed in. Services import from the submodules, e.g.
``from spinecare.clinical.contraindications import screen, ScreeningSettings``.
"""
