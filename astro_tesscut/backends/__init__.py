"""The ways of getting pixels, behind one interface (`~astro_tesscut.backends.base.Backend`).

`.base` is the interface and imports no implementation; `.open` is the one
place that picks an implementation from what a caller gave; each other
module is one implementation or one wrapper.
"""
