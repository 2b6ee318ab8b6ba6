"""Static checks of the ROS package: launch file, entry points, YAML parameters, topics, URDF, rviz.

launch/launch_ros are not installed here, so the launch file is read with ``ast``.
"""

import ast
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.context import Context

from paindiffusion_ros.nodes.elbow_driver import JOINT_NAME, ElbowDriverNode
from paindiffusion_ros.nodes.face_renderer import FaceRendererNode
from paindiffusion_ros.nodes.operator_console import OperatorConsoleNode
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode
from paindiffusion_ros.nodes.stimulus_mapper import StimulusMapperNode
from paindiffusion_ros.session.demo import PROJECT_TOPICS, RECORDED_TOPICS, UNRECORDED_TOPICS

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = ROOT / "launch" / "bringup.launch.py"
PARAMS = ROOT / "config" / "paindiffusion.yaml"
NODE_CLASSES = {
    "elbow_driver": ElbowDriverNode,
    "stimulus_mapper": StimulusMapperNode,
    "pain_generator": PainGeneratorNode,
    "face_renderer": FaceRendererNode,
    "operator_console": OperatorConsoleNode,
}
INFRASTRUCTURE_TOPICS = {"/rosout", "/parameter_events"}


def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text())


def string_constant(node: ast.AST) -> str:
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), ast.dump(node)
    return node.value


def launched_executables() -> dict[str, str]:
    """executable → package for every node the launch file starts."""
    found = {}
    for call in ast.walk(launch_tree()):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            continue
        if call.func.id == "project_node":
            found[string_constant(call.args[0])] = "paindiffusion"
        elif call.func.id == "Node":
            keywords = {k.arg: k.value for k in call.keywords}
            if isinstance(keywords["package"], ast.Constant):
                found[string_constant(keywords["executable"])] = string_constant(keywords["package"])
    return found


def recorded_topics() -> list[str]:
    for statement in launch_tree().body:
        if isinstance(statement, ast.Assign) and statement.targets[0].id == "RECORDED_TOPICS":
            return ast.literal_eval(statement.value)
    raise AssertionError("RECORDED_TOPICS not found in the launch file")


def record_command() -> list:
    """The ``cmd`` of the launch file's ExecuteProcess: constants, ``*NAME`` for an
    unpacked list, ``None`` for a substitution."""

    def item(node: ast.AST):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Starred) and isinstance(node.value, ast.Name):
            return f"*{node.value.id}"
        return None

    for call in ast.walk(launch_tree()):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "ExecuteProcess":
            cmd = next(k.value for k in call.keywords if k.arg == "cmd")
            return [item(node) for node in cmd.elts]
    raise AssertionError("no ExecuteProcess in the launch file")


def console_scripts() -> set[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and statement.targets[0].id == "NODES":
            return set(ast.literal_eval(statement.value))
    raise AssertionError("NODES not found in setup.py")


@pytest.fixture(scope="module")
def nodes_from_yaml():
    """Every project node instantiated with config/paindiffusion.yaml (the model path points
    nowhere, so the generator thread only reports an error; nothing spins, so the console
    serves nothing)."""
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(PARAMS), "-p", "pain_generator:model:=/nonexistent"])
    made = {}
    try:
        for name, cls in NODE_CLASSES.items():
            made[name] = cls(context=context)
        yield made
    finally:
        for node in made.values():
            node.destroy_node()
        rclpy.shutdown(context=context)


def test_every_launched_project_executable_is_a_console_script():
    launched = launched_executables()
    project = {name for name, package in launched.items() if package == "paindiffusion"}
    assert project == set(NODE_CLASSES)
    assert project <= console_scripts()
    assert {"robot_state_publisher", "rviz2"} <= set(launched)


def declared_arguments() -> dict[str, str]:
    """name → default value of every DeclareLaunchArgument with a constant default."""
    declared = {}
    for call in ast.walk(launch_tree()):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "DeclareLaunchArgument":
            default = next((k.value for k in call.keywords if k.arg == "default_value"), None)
            declared[string_constant(call.args[0])] = default.value if isinstance(default, ast.Constant) else None
    return declared


def test_launch_declares_the_documented_arguments():
    assert {"hardware", "port", "model", "params_file", "display", "rviz", "record", "robot_state_publisher", "console"} <= set(declared_arguments())
    assert declared_arguments()["robot_state_publisher"] == "auto", "a plain pip set-up has no robot_state_publisher"


def launch_function(name: str) -> ast.FunctionDef:
    return next(f for f in launch_tree().body if isinstance(f, ast.FunctionDef) and f.name == name)


def test_launch_checks_the_params_file_and_optional_packages_with_clear_messages():
    """launch is not installed here: the checks are read from the source."""
    source = ast.unparse(launch_function("project_nodes"))
    assert "is_file()" in source and "does not exist" in source
    source = ast.unparse(launch_function("robot_state_publisher"))
    assert "installed('robot_state_publisher')" in source and "LogInfo" in source and "RuntimeError" in source
    assert "installed('rviz2')" in ast.unparse(launch_function("rviz"))


def test_launch_respawns_as_fast_as_the_process_runner_and_ships_the_dds_profile():
    from paindiffusion_ros.session.processes import RESPAWN_DELAY_S, dds_profile_env

    constants = {s.targets[0].id: s.value for s in launch_tree().body if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)}
    assert ast.literal_eval(constants["RESPAWN_DELAY_S"]) == RESPAWN_DELAY_S
    assert (ROOT / "config" / "fastdds.xml").is_file()
    assert "fastdds.xml" in ast.unparse(launch_function("dds_profile"))
    env = dds_profile_env({})
    assert list(env) == ["FASTDDS_DEFAULT_PROFILES_FILE"], "one variable: Fast DDS 3 would load a file named by both twice"
    assert Path(env["FASTDDS_DEFAULT_PROFILES_FILE"]) == ROOT / "config" / "fastdds.xml"
    assert list(dds_profile_env({"ROS_DISTRO": "jazzy"})) == ["FASTRTPS_DEFAULT_PROFILES_FILE"]
    assert dds_profile_env({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"}) == {}
    assert dds_profile_env({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}) == {}


def test_node_arguments_left_unset_keep_the_params_file_values():
    """An empty default means "not given": the node keeps its value from params_file."""
    defaults = declared_arguments()
    for name in ("hardware", "port", "model", "display", "patient_profile"):
        assert defaults[name] == "", name


def test_one_patient_profile_argument_sets_the_mapper_and_the_face():
    """A profile holds both the patient's pain thresholds and look: launch gives it to both nodes."""
    source = ast.unparse(launch_function("project_nodes"))
    assert "given(context, patient_profile='patient_profile')" in source
    assert "project_node('stimulus_mapper', params_file, patient)" in source
    assert "project_node('face_renderer', params_file, {**display, **patient})" in source


def test_recording_is_an_mcap_bag_of_the_recorded_topics_named_with_the_topics_option():
    cmd = record_command()
    assert cmd[:3] == ["ros2", "bag", "record"] and cmd[cmd.index("-s") + 1] == "mcap"
    assert cmd[-2:] == ["--topics", "*RECORDED_TOPICS"]  # rosbag2 after Kilted has no positional topic list


def test_every_yaml_parameter_is_declared_by_its_node(nodes_from_yaml):
    for name, node in nodes_from_yaml.items():
        overrides = set(node._parameter_overrides)
        assert overrides, f"config/paindiffusion.yaml has no parameters for {name}"
        undeclared = sorted(p for p in overrides if not node.has_parameter(p))
        assert not undeclared, f"{name} does not declare {undeclared} from {PARAMS.name}"


def test_yaml_keys_name_only_project_nodes():
    keys = yaml.safe_load(PARAMS.read_text())
    assert {key.split("/")[-1] for key in keys} == set(NODE_CLASSES)


def test_recorded_topics_are_exactly_what_the_nodes_publish_but_the_raw_image(nodes_from_yaml):
    published = {
        publisher.topic_name for node in nodes_from_yaml.values() for publisher in node.publishers
    } - INFRASTRUCTURE_TOPICS
    assert set(PROJECT_TOPICS) == published
    assert set(recorded_topics()) == published - UNRECORDED_TOPICS == set(RECORDED_TOPICS)
    assert UNRECORDED_TOPICS == {"/face/image"}, "bags record /face/image/compressed instead of the raw frames"


def test_urdf_joint_matches_the_driver_and_has_the_marker_frame():
    robot = ElementTree.parse(ROOT / "urdf" / "elbow_rig.urdf").getroot()
    joints = {joint.get("name"): joint for joint in robot.iter("joint")}
    assert joints[JOINT_NAME].get("type") == "revolute"
    assert "head" in {link.get("name") for link in robot.iter("link")}


def urdf_elements(urdf: str) -> list:
    """Tag and attributes of every element, in document order."""
    return [(element.tag, sorted(element.attrib.items())) for element in ElementTree.fromstring(urdf).iter()]


def test_urdf_passes_as_a_command_line_parameter_for_replay():
    """README: ``-p robot_description:="$(cat urdf/elbow_rig.urdf)"`` beside ``ros2 bag play``
    (rcl reads the value as YAML: a ': ' in a comment would make it a mapping and fail)."""
    text = (ROOT / "urdf" / "elbow_rig.urdf").read_text()
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "-p", f"robot_description:={text}"])
    try:
        node = rclpy.create_node("urdf_override", context=context, automatically_declare_parameters_from_overrides=True)
        value = node.get_parameter("robot_description").value
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert urdf_elements(value) == urdf_elements(text)


def test_rviz_config_shows_published_topics_and_the_urdf_frame(nodes_from_yaml):
    config = yaml.safe_load((ROOT / "config" / "paindiffusion.rviz").read_text())
    displays = config["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if "Topic" in d}
    published = {publisher.topic_name for node in nodes_from_yaml.values() for publisher in node.publishers}
    assert topics and topics <= published
    image = next(d for d in displays if d["Class"].endswith("/Image"))
    assert image["Topic"]["Reliability Policy"] == "Best Effort"
    assert config["Visualization Manager"]["Global Options"]["Fixed Frame"] == "base_link"
