"""Package data: bundled MNIST and Fashion-MNIST subsets (licence and provenance: NOTICE.md)."""
