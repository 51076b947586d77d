"""Amaranth RTL of flexspim. Never imports `flexspim.golden`."""
