"""gtltcube: livetime cube (livetime per sky pixel and inclination bin) from FT2 and GTIs."""
