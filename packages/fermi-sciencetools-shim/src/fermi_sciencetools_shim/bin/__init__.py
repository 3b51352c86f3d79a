"""gtbin: bin FT1 events into counts maps, cubes, light curves and spectra (evtbin rules)."""
