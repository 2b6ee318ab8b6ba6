"""Bring up the paindiffusion bench: elbow → stimulus → generator → face (+ rviz, recording).

    ros2 launch paindiffusion bringup.launch.py hardware:=dynamixel port:=/dev/ttyUSB0
    ros2 launch paindiffusion bringup.launch.py rviz:=true record:=true
    ros2 launch paindiffusion bringup.launch.py console:=true   # operator console, http://127.0.0.1:8080

Every node reads ``params_file`` (default: the installed config/paindiffusion.yaml; a
path that does not exist stops the launch with that error); the ``hardware``, ``port``,
``model`` and ``display`` arguments, when given, override single parameters on top of
it (left unset, the file's values hold). Nodes respawn after a crash (0.2 s delay, so a
stream is back within the 3 s the bench allows). That includes the elbow driver: it
never exits for a hardware fault (an unopenable port or a lost link is retried and
reported on /diagnostics), so a crash is a software fault, and a respawned driver
reopens the motor in the configured mode (compliant = torque off by default), which is
the safe state; close() turned the torque off if the crash let it run.

robot_state_publisher publishes the rig's TF for rviz: ``robot_state_publisher:=auto``
(default) starts it when it is installed and otherwise says so and goes on; ``true``
requires it, ``false`` leaves it out. ``rviz:=true`` likewise stops with a clear message
when rviz2 is missing. The nodes get the Fast DDS profile ``config/fastdds.xml`` (a
shared-memory segment that carries the 0.8 MB face images whole) unless you set
FASTDDS_DEFAULT_PROFILES_FILE yourself or use another RMW. Recording names its topics
with ``--topics`` (Jazzy and Kilted; Kilted deprecates the positional list and later
releases drop it).
"""

import os
from datetime import datetime
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_prefix, get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

PACKAGE = "paindiffusion"
RESPAWN_DELAY_S = 0.2
DDS_PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
"""Fast DDS 3 (Kilted on) reads the first, Fast DDS 2 (Humble, Jazzy) the second; set only one:
Fast DDS 3 reads both and loads a file named twice twice (duplicate transport ids)."""
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")
RECORDED_TOPICS = [
    "/joint_states",
    "/diagnostics",
    "/pain/stimulus",
    "/pain/pspi",
    "/face/expression",
    "/face/expression_names",
    "/face/jaw_pose",
    "/face/image/compressed",
    "/face/mesh",
    "/trainee/rating",
]
"""Every topic the paindiffusion nodes publish (docs/topics.md) but the raw ``/face/image``:
``/face/image/compressed`` holds the same frames at ~1/50 of the size."""


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
    if not Path(params_file).is_file():
        raise RuntimeError(f"params_file {params_file} does not exist (give a node parameters YAML such as config/paindiffusion.yaml)")
    display = {parameter: value == "true" for parameter, value in given(context, display="display").items()}
    patient = given(context, patient_profile="patient_profile")
    nodes = [
        project_node("elbow_driver", params_file, given(context, backend="hardware", port="port")),
        project_node("stimulus_mapper", params_file, patient),
        project_node("pain_generator", params_file, given(context, model="model")),
        project_node("face_renderer", params_file, {**display, **patient}),
    ]
    if LaunchConfiguration("console").perform(context) == "true":
        nodes.append(project_node("operator_console", params_file, {}))
    return nodes


def installed(package):
    """Whether ``package`` is in the ament index (a ROS install, not the plain pip set-up)."""
    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def robot_state_publisher(context, robot_description):
    """robot_state_publisher for the rig's TF, as the ``robot_state_publisher`` argument asks."""
    wanted = LaunchConfiguration("robot_state_publisher").perform(context)
    if wanted == "false":
        return []
    if not installed("robot_state_publisher"):
        message = ("robot_state_publisher is not installed (sudo apt install ros-$ROS_DISTRO-robot-state-publisher): "
                   "no TF of the elbow rig for rviz; the face and the rest of the bench run without it")
        if wanted == "true":
            raise RuntimeError(message.replace("is not installed", "is not installed but robot_state_publisher:=true"))
        return [LogInfo(msg=f"[paindiffusion] {message} (robot_state_publisher:=false hides this note)")]
    return [Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        name="robot_state_publisher",
        output="screen",
        parameters=[{"robot_description": robot_description}],
        respawn=True,
        respawn_delay=RESPAWN_DELAY_S,
    )]


def rviz(context, share):
    """rviz2 with config/paindiffusion.rviz when ``rviz:=true``; a clear error when rviz2 is missing."""
    if LaunchConfiguration("rviz").perform(context) != "true":
        return []
    if not installed("rviz2"):
        raise RuntimeError("rviz:=true but rviz2 is not installed (sudo apt install ros-$ROS_DISTRO-rviz2)")
    return [Node(package="rviz2", executable="rviz2", name="rviz2", arguments=["-d", str(share / "config" / "paindiffusion.rviz")])]


def dds_profile(share):
    """Point Fast DDS at config/fastdds.xml unless the user chose a profile or another RMW."""
    rmw = os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if rmw != "rmw_fastrtps_cpp" or any(os.environ.get(name) for name in DDS_PROFILE_VARIABLES):
        return []
    variable = DDS_PROFILE_VARIABLES[1] if os.environ.get("ROS_DISTRO") in FAST_DDS_2_DISTROS else DDS_PROFILE_VARIABLES[0]
    return [SetEnvironmentVariable(variable, str(share / "config" / "fastdds.xml"))]


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
            "patient_profile", default_value="",
            description="patient profile (config/patients: its pain thresholds for stimulus_mapper, its look for face_renderer; '' = params_file's)",
        ),
        DeclareLaunchArgument(
            "display", default_value="", choices=["", "true", "false"], description="show the face in a fullscreen window ('' = params_file's, false by default)"
        ),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"], description="start rviz2 with config/paindiffusion.rviz"),
        DeclareLaunchArgument(
            "robot_state_publisher", default_value="auto", choices=["auto", "true", "false"],
            description="TF of the elbow rig for rviz: auto = when installed (a note otherwise), true = required, false = off",
        ),
        DeclareLaunchArgument("record", default_value="false", choices=["true", "false"], description="record every project topic with rosbag2 (MCAP)"),
        DeclareLaunchArgument("record_dir", default_value=".", description="folder in which the timestamped session bag is created"),
        DeclareLaunchArgument(
            "console", default_value="false", choices=["true", "false"], description="start the operator console (web page; host, port, token in params_file)"
        ),
    ]

    nodes = [
        *dds_profile(share),
        OpaqueFunction(function=project_nodes),
        OpaqueFunction(function=robot_state_publisher, args=[robot_description]),
        OpaqueFunction(function=rviz, args=[share]),
        ExecuteProcess(
            cmd=["ros2", "bag", "record", "-s", "mcap", "-o", PathJoinSubstitution([LaunchConfiguration("record_dir"), session]), "--topics", *RECORDED_TOPICS],
            output="screen",
            condition=IfCondition(LaunchConfiguration("record")),
        ),
    ]
    return LaunchDescription(arguments + nodes)
