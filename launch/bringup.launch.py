"""Bring up the paindiffusion bench: elbow → stimulus → generator → face (+ rviz, recording).

    ros2 launch paindiffusion bringup.launch.py hardware:=dynamixel port:=/dev/ttyUSB0
    ros2 launch paindiffusion bringup.launch.py rviz:=true record:=true
    ros2 launch paindiffusion bringup.launch.py console:=true   # operator console, http://127.0.0.1:8080

Every node reads ``params_file`` (default: the installed config/paindiffusion.yaml); the
``hardware``, ``port``, ``model`` and ``display`` arguments, when given, override single
parameters on top of it (left unset, the file's values hold). Nodes respawn after a crash
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
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

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
    "/trainee/rating",
]
"""Every topic the paindiffusion nodes publish (docs/topics.md)."""


def project_node(executable, params_file, overrides):
    """One of the package's nodes, named as its executable so the YAML keys match:
    ``params_file``, then ``overrides`` on top."""
    return Node(
        package=PACKAGE,
        executable=executable,
        name=executable,
        output="screen",
        emulate_tty=True,
        parameters=[params_file, overrides] if overrides else [params_file],
        respawn=True,
        respawn_delay=RESPAWN_DELAY_S,
    )


def given(context, **arguments):
    """``{parameter: value}`` for each ``parameter=argument`` whose launch argument is set."""
    values = {parameter: LaunchConfiguration(argument).perform(context) for parameter, argument in arguments.items()}
    return {parameter: value for parameter, value in values.items() if value}


def project_nodes(context):
    """The four project nodes, with the node arguments that were given as overrides, and
    the operator console when ``console:=true``."""
    params_file = LaunchConfiguration("params_file").perform(context)
    display = {parameter: value == "true" for parameter, value in given(context, display="display").items()}
    nodes = [
        project_node("elbow_driver", params_file, given(context, backend="hardware", port="port")),
        project_node("stimulus_mapper", params_file, {}),
        project_node("pain_generator", params_file, given(context, model="model")),
        project_node("face_renderer", params_file, display),
    ]
    if LaunchConfiguration("console").perform(context) == "true":
        nodes.append(project_node("operator_console", params_file, {}))
    return nodes


def generate_launch_description():
    share = Path(get_package_share_directory(PACKAGE))
    robot_description = (share / "urdf" / "elbow_rig.urdf").read_text()
    session = datetime.now().strftime("paindiffusion_%Y%m%d_%H%M%S")

    arguments = [
        DeclareLaunchArgument(
            "hardware", default_value="", choices=["", "sim", "dynamixel", "arduino"], description="elbow backend ('' = params_file's, sim by default)"
        ),
        DeclareLaunchArgument("port", default_value="", description="serial port of the U2D2 or the Arduino bridge ('' = params_file's, /dev/ttyUSB0 by default)"),
        DeclareLaunchArgument("model", default_value="", description="checkpoint directory ('' = params_file's, the shipped models/paindiffusion-default by default)"),
        DeclareLaunchArgument("params_file", default_value=str(share / "config" / "paindiffusion.yaml"), description="node parameters YAML"),
        DeclareLaunchArgument(
            "display", default_value="", choices=["", "true", "false"], description="show the face in a fullscreen window ('' = params_file's, false by default)"
        ),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"], description="start rviz2 with config/paindiffusion.rviz"),
        DeclareLaunchArgument("record", default_value="false", choices=["true", "false"], description="record every project topic with rosbag2 (MCAP)"),
        DeclareLaunchArgument("record_dir", default_value=".", description="folder in which the timestamped session bag is created"),
        DeclareLaunchArgument(
            "console", default_value="false", choices=["true", "false"], description="start the operator console (web page; host, port, token in params_file)"
        ),
    ]

    nodes = [
        OpaqueFunction(function=project_nodes),
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
