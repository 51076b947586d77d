"""Mapper: placement, tiling, WS/OS dataflow, programs and their execution."""
