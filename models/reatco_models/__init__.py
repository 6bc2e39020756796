"""ReAtCo model toolkit: PyTorch reference models, ONNX export with the RAD gradient graph, and the oracle pipeline."""
