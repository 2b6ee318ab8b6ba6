"""Elbow hardware backends (Dynamixel MX-64, Arduino bridge, simulation) and their emulators; no rclpy."""
