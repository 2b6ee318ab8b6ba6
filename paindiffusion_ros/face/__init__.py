"""Faces with the 50+3 parameter interface (FLAME, built-in FACS face), rasteriser, display; no rclpy."""
