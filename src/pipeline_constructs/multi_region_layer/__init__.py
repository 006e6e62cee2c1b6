"""MultiRegionLayerPipeline: build a Lambda layer once, publish it to many regions in parallel."""

from pipeline_constructs.multi_region_layer.pipeline import (
    DEFAULT_CDK_CLI_VERSION,
    MAX_REGIONS,
    LayerSharing,
    MultiRegionLayerPipeline,
    default_build_commands,
)

__all__ = [
    "DEFAULT_CDK_CLI_VERSION",
    "MAX_REGIONS",
    "LayerSharing",
    "MultiRegionLayerPipeline",
    "default_build_commands",
]
