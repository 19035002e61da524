"""The decompression therapy core: protocol, segment model, profile, guarding, controller,
safety supervisor. Pure functions and small state objects: no I/O, no clock reads."""
