"""paindiffusion: a ROS 2 pain-expression face for a robotic patient simulator."""
