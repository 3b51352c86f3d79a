"""Mission planning: SAA polygon and passages, orbit from a TLE, mission weeks, leap seconds, commands."""
