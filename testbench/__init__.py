"""cocotb harness, drivers and monitors; the one place that imports both golden and hdl."""
