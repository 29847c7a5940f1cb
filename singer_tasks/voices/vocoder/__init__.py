"""Vocoders: openvpi's NSF-HiFiGAN (classic and mini_nsf) and the built-in voice's resynthesis."""
