"""Reading slides: OpenSlide, tiled TIFFs, plain images, thumbnails."""
