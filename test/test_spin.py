"""run_node: what every node executable gets once its node is built."""

import subprocess
import sys
import textwrap

NODE = textwrap.dedent('''
    import gc, os, signal, sys
    from rclpy.node import Node
    from paindiffusion_ros.nodes.spin import run_node

    class StartUp(Node):
        def __init__(self):
            super().__init__("start_up")
            self.built = [[i] for i in range(5000)]  # start-up objects the collector need not scan again
            self.create_timer(0.01, self.report)

        def report(self):
            print("frozen", gc.get_freeze_count(), "tracked", len(gc.get_objects()), flush=True)
            os.kill(os.getpid(), signal.SIGINT)

    sys.exit(run_node(StartUp, []))
''')


def test_start_up_objects_are_frozen_out_of_the_collectors_full_collections():
    done = subprocess.run([sys.executable, "-c", NODE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    frozen, tracked = (int(word) for word in done.stdout.split()[1::2][:2])
    assert frozen > 5000, done.stdout
    assert tracked < frozen / 10, "a full collection would still scan the start-up objects"


IDLE_NODE = textwrap.dedent('''
    import os, signal, sys, threading
    from rclpy.node import Node
    from paindiffusion_ros.nodes import spin

    spin.SPIN_SLICE_S = 3600.0  # only the signal can end the executor's wait

    class Idle(Node):
        def __init__(self):
            super().__init__("idle")
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()

    sys.exit(spin.run_node(Idle, []))
''')


def test_a_stop_signal_ends_the_executors_wait_for_a_node_with_nothing_to_do():
    done = subprocess.run([sys.executable, "-c", IDLE_NODE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
