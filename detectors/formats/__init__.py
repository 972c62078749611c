"""Bounded readers of container structure (PNG chunks, ISO BMFF boxes, RIFF chunks, ID3, XMP)
and the ExifTool driver. They read metadata structures, never essence."""
