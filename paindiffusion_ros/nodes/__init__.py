"""Thin rclpy adapters, one file per ROS node; algorithms live in the sibling packages."""
