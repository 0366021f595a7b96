"""Names a request may carry, known to clients and services alike: the command line offers
them without importing a service."""

PRECISIONS = ("float32", "float16", "bfloat16")
TISSUE_MODELS = ("sam2", "otsu", "grandqc")
