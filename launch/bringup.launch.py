"""Bring up the paindiffusion bench: elbow → stimulus → generator → face (+ rviz, recording).

    ros2 launch paindiffusion bringup.launch.py hardware:=dynamixel port:=/dev/ttyUSB0
    ros2 launch paindiffusion bringup.launch.py rviz:=true record:=true

Every node reads ``params_file`` (default: the installed config/paindiffusion.yaml); the
arguments below override single parameters on top of it. Nodes respawn after a crash
(2 s delay). That includes the elbow driver: it never exits for a hardware fault (an
unopenable port or a lost link is retried and reported on /diagnostics), so a crash is a
software fault, and a respawned driver reopens the motor in the configured mode
(compliant = torque off by default), which is the safe state; close() turned the torque
off if the crash let it run. robot_state_publisher publishes the rig's TF for rviz.
Recording names its topics with ``--topics`` (Jazzy and Kilted; Kilted deprecates the
positional list and later releases drop it).
"""

from datetime import datetime
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = "paindiffusion"
RESPAWN_DELAY_S = 2.0
RECORDED_TOPICS = [
    "/joint_states",
    "/diagnostics",
    "/pain/stimulus",
    "/pain/pspi",
    "/face/expression",
    "/face/expression_names",
    "/face/jaw_pose",
    "/face/image",
    "/face/mesh",
]
"""Every topic the paindiffusion nodes publish (docs/topics.md)."""


def project_node(executable, parameters):
    """One of the package's nodes, named as its executable so the YAML keys match."""
    return Node(
        package=PACKAGE,
        executable=executable,
        name=executable,
        output="screen",
        emulate_tty=True,
        parameters=parameters,
        respawn=True,
        respawn_delay=RESPAWN_DELAY_S,
    )


def generate_launch_description():
    share = Path(get_package_share_directory(PACKAGE))
    params_file = LaunchConfiguration("params_file")
    robot_description = (share / "urdf" / "elbow_rig.urdf").read_text()
    session = datetime.now().strftime("paindiffusion_%Y%m%d_%H%M%S")

    arguments = [
        DeclareLaunchArgument("hardware", default_value="sim", choices=["sim", "dynamixel", "arduino"], description="elbow backend"),
        DeclareLaunchArgument("port", default_value="/dev/ttyUSB0", description="serial port of the U2D2 adapter or the Arduino bridge"),
        DeclareLaunchArgument("model", default_value="", description="checkpoint directory ('' = the shipped models/paindiffusion-default)"),
        DeclareLaunchArgument("params_file", default_value=str(share / "config" / "paindiffusion.yaml"), description="node parameters YAML"),
        DeclareLaunchArgument("display", default_value="false", choices=["true", "false"], description="show the face in a fullscreen window"),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"], description="start rviz2 with config/paindiffusion.rviz"),
        DeclareLaunchArgument("record", default_value="false", choices=["true", "false"], description="record every project topic with rosbag2 (MCAP)"),
        DeclareLaunchArgument("record_dir", default_value=".", description="folder in which the timestamped session bag is created"),
    ]

    nodes = [
        project_node(
            "elbow_driver",
            [params_file, {"backend": LaunchConfiguration("hardware"), "port": ParameterValue(LaunchConfiguration("port"), value_type=str)}],
        ),
        project_node("stimulus_mapper", [params_file]),
        project_node("pain_generator", [params_file, {"model": ParameterValue(LaunchConfiguration("model"), value_type=str)}]),
        project_node("face_renderer", [params_file, {"display": ParameterValue(LaunchConfiguration("display"), value_type=bool)}]),
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            name="robot_state_publisher",
            output="screen",
            parameters=[{"robot_description": robot_description}],
            respawn=True,
            respawn_delay=RESPAWN_DELAY_S,
        ),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", str(share / "config" / "paindiffusion.rviz")],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
        ExecuteProcess(
            cmd=["ros2", "bag", "record", "-s", "mcap", "-o", PathJoinSubstitution([LaunchConfiguration("record_dir"), session]), "--topics", *RECORDED_TOPICS],
            output="screen",
            condition=IfCondition(LaunchConfiguration("record")),
        ),
    ]
    return LaunchDescription(arguments + nodes)
