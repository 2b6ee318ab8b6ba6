"""``NodeThreads``: nodes spun in one process, with the collector's older objects frozen meanwhile."""

import gc

import rclpy

from paindiffusion_ros.nodes.graph import NodeThreads


def test_objects_made_before_the_nodes_spin_are_frozen_until_the_last_graph_stops(context):
    gc.collect()
    made_before = [[] for _ in range(1000)]  # containers the collector tracks
    first = NodeThreads([rclpy.create_node("first", context=context)], context).start()
    second = NodeThreads([rclpy.create_node("second", context=context)], context).start()
    try:
        assert gc.get_freeze_count() >= len(made_before)
        first.stop()
        assert gc.get_freeze_count() >= len(made_before), "thawed while a graph still spins"
    finally:
        second.stop()
    assert gc.get_freeze_count() == 0
    second.halt()
    assert gc.get_freeze_count() == 0
