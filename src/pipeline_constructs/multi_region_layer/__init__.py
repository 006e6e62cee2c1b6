"""MultiRegionLayerPipeline: build a Lambda layer once, publish it to many regions in parallel."""

from pipeline_constructs.multi_region_layer.build import default_build_commands
from pipeline_constructs.multi_region_layer.pipeline import MAX_REGIONS, MultiRegionLayerPipeline
from pipeline_constructs.multi_region_layer.sharing import LayerSharing

__all__ = [
    "MAX_REGIONS",
    "LayerSharing",
    "MultiRegionLayerPipeline",
    "default_build_commands",
]
