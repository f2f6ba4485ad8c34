"""Where TESS looked: its pointing and focal-plane model, the FFIs' footprints on the sky,
and the FFIs' TAN-SIP WCS evaluated with numpy."""
