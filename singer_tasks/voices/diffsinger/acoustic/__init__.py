"""openvpi DiffSinger's acoustic model in torch: config, encoder, backbones, diffusion, loading."""
