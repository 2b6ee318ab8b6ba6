"""PainDiffusion model core: network, EDM, guidance, sampler, diffusion-forcing stream, checkpoints; no rclpy."""
