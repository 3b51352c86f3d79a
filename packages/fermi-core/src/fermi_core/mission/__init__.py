"""Mission facts used by several stages, each defined once.

* :mod:`fermi_core.mission.packets` -- the APID table and the CCSDS packet constants of the raw
  telemetry (format version 1).
* :mod:`fermi_core.mission.saa` -- the LAT South Atlantic Anomaly polygon (versioned data) and
  the point-in-polygon test.
* :mod:`fermi_core.mission.orbit` -- Fermi's two-line element sets and their sgp4 propagation,
  in SI units (GCRS states in m and m/s, geodetic ground track).
* :mod:`fermi_core.mission.pointing` -- interpolation of attitude quaternions and spacecraft
  positions between samples.

The simulator (fermi-latsim), the stages (fermi-ingest, fermi-halfpipe, fermi-l1) and the
operations tools (fermi-isoc) read these modules; none of them keeps its own copy.
"""
